//! Two `wesley apply` processes on one database, started together: exactly one applies
//! the plan. The other waits for the advisory lock and then either reports that the plan
//! is already applied (exit 0) or, with a short `--lock-wait`, gives up (exit 3). The
//! ledger holds every step once.

use serde_json::Value;
use wesley_e2e::exec::{
    assert_ledger_complete, database_with, finish, kind, live_hash, plan_cases_dir, shadow_seed,
    tail, Run, Work,
};
use wesley_e2e::TestDb;
use wesley_planner::planfile::PlanFile;

/// A plan that takes a few seconds: the shadow-column type change on 20,000 rows, in
/// batches of 500 with a pause after each.
fn slow_setup(prefix: &str, work: &Work) -> (TestDb, std::path::PathBuf, PlanFile) {
    let dir = plan_cases_dir().join("type_change_shadow");
    let old = dir.join("old.graphql");
    let db = database_with(prefix, work, &old, &shadow_seed(20_000));
    let (path, plan) = work.plan(&old, &dir.join("new.graphql"), "plan.json");
    (db, path, plan)
}

const SLOW: [&str; 4] = ["--batch-size", "500", "--batch-delay", "25ms"];

fn has(events: &[Value], event: &str) -> bool {
    events.iter().any(|e| kind(e) == event)
}

/// Starts two runs at once with `extra` arguments; returns (winner, loser): the winner is
/// the one that started applying steps.
fn race(work: &Work, db: &TestDb, plan: &std::path::Path, extra: &[&str]) -> (Run, Run) {
    let mut args = SLOW.to_vec();
    args.extend_from_slice(extra);
    let a = work.spawn_apply(plan, db, &args);
    let b = work.spawn_apply(plan, db, &args);
    let (a, b) = (finish(a), finish(b));
    let started = |r: &Run| has(&r.events(), "step_started");
    assert!(
        started(&a) != started(&b),
        "exactly one run must apply steps\n--- first\n{}\n--- second\n{}",
        tail(&a.stdout),
        tail(&b.stdout)
    );
    if started(&a) {
        (a, b)
    } else {
        (b, a)
    }
}

#[test]
fn second_run_waits_then_finds_the_plan_applied() {
    let work = Work::new();
    let (db, plan_path, plan) = slow_setup("conc_wait", &work);
    let (winner, loser) = race(&work, &db, &plan_path, &["--lock-wait", "120s"]);
    winner.expect_code(0, "the run that applied the plan");
    loser.expect_code(0, "the run that waited");
    let ev = loser.events();
    assert!(
        has(&ev, "waiting_for_lock"),
        "the second run should have waited for the lock:\n{}",
        loser.stdout
    );
    assert!(
        ev.iter().any(|e| kind(e) == "message"
            && e["text"].as_str().unwrap_or("").contains("already applied")),
        "the second run should report the plan already applied:\n{}",
        loser.stdout
    );
    assert!(!has(&ev, "run_started"), "{}", loser.stdout);
    assert_eq!(live_hash(&db), plan.to.schema_hash);
    assert_ledger_complete(&db, &plan, "type_change_shadow");
}

#[test]
fn second_run_gives_up_after_lock_wait() {
    let work = Work::new();
    let (db, plan_path, plan) = slow_setup("conc_give_up", &work);
    let (winner, loser) = race(&work, &db, &plan_path, &["--lock-wait", "2s"]);
    winner.expect_code(0, "the run that applied the plan");
    loser.expect_code(3, "the run that gave up waiting");
    let ev = loser.events();
    assert!(has(&ev, "waiting_for_lock"), "{}", loser.stdout);
    let outcome = ev
        .iter()
        .find(|e| kind(e) == "outcome")
        .unwrap_or_else(|| panic!("no outcome event:\n{}", loser.stdout));
    assert_eq!(outcome["reason"], "lock_held", "{outcome}");
    assert_eq!(outcome["exit_code"], 3, "{outcome}");
    let msg = outcome["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("another `wesley apply` is running") && msg.contains("2 s"),
        "unclear refusal: {msg}"
    );
    // The winner finished well after the loser gave up: the plan is slow enough.
    let ms = winner
        .events()
        .iter()
        .find(|e| kind(e) == "run_finished")
        .and_then(|e| e["ms"].as_u64())
        .unwrap_or(0);
    assert!(ms > 2_500, "the plan ran only {ms} ms");
    assert_eq!(live_hash(&db), plan.to.schema_hash);
    assert_ledger_complete(&db, &plan, "type_change_shadow");
    // And a later run finds it applied.
    let again = work.apply(&plan_path, &db, &[]);
    again.expect_code(0, "a later run");
    assert!(again.stderr.contains("already applied"), "{}", again.stderr);
}
