//! `wesley apply` through PgBouncer (Debian's), started by the test on a free port in
//! front of the shared cluster.
//!
//! - Session mode works, one run at a time: of two runs started together, one applies
//!   and the other waits for the advisory lock, then finds the plan applied.
//! - Transaction and statement modes are refused before anything is locked or changed,
//!   with what to change; two runs started together are both refused, cleanly: with
//!   named prepared statements, their first queries would collide on the pool's shared
//!   server connections (`prepared statement "s0" already exists`), so Wesley uses only
//!   unnamed ones.

use serde_json::Value;
use wesley_e2e::exec::{
    assert_ledger_complete, database_with, finish, has_ledger, kind, live_hash, plan_cases_dir,
    shadow_seed, tail, wesley_cmd, Run, Work, ALL_HAZARDS,
};
use wesley_e2e::pooler::Pgbouncer;
use wesley_e2e::{cluster, TestDb};

fn spawn(work: &Work, plan: &std::path::Path, url: &str, extra: &[&str]) -> std::process::Child {
    wesley_cmd(work.dir.path())
        .args([
            "apply",
            &plan.display().to_string(),
            "--database-url",
            url,
            "--allow",
            ALL_HAZARDS,
            "--checkpoint-dir",
            &work.checkpoint_dir().display().to_string(),
            "--json",
        ])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wesley apply")
}

fn has(events: &[Value], event: &str) -> bool {
    events.iter().any(|e| kind(e) == event)
}

/// The shadow-column type change on 20,000 rows: a few seconds, with a backfill, index
/// builds (CONCURRENTLY) and transactional steps.
fn slow_setup(
    prefix: &str,
    work: &Work,
) -> (
    TestDb,
    std::path::PathBuf,
    wesley_planner::planfile::PlanFile,
) {
    let dir = plan_cases_dir().join("type_change_shadow");
    let old = dir.join("old.graphql");
    let db = database_with(prefix, work, &old, &shadow_seed(20_000));
    let (path, plan) = work.plan(&old, &dir.join("new.graphql"), "plan.json");
    (db, path, plan)
}

const SLOW: [&str; 4] = ["--batch-size", "500", "--batch-delay", "25ms"];

#[test]
fn session_mode_applies_one_run_at_a_time() {
    let bouncer = Pgbouncer::start(cluster(), "bouncer-session", "session", "");
    let work = Work::new();
    let (db, plan_path, plan) = slow_setup("pool_session", &work);
    let url = bouncer.url(&db);
    let mut args = SLOW.to_vec();
    args.extend(["--lock-wait", "120s"]);
    let a = spawn(&work, &plan_path, &url, &args);
    let b = spawn(&work, &plan_path, &url, &args);
    let (a, b) = (finish(a), finish(b));
    let started = |r: &Run| has(&r.events(), "step_started");
    assert!(
        started(&a) != started(&b),
        "exactly one run must apply steps\n--- first\n{}\n{}\n--- second\n{}\n{}",
        tail(&a.stdout),
        a.stderr,
        tail(&b.stdout),
        b.stderr
    );
    let (winner, loser) = if started(&a) { (a, b) } else { (b, a) };
    winner.expect_code(0, "the run that applied the plan through the pooler");
    loser.expect_code(0, "the run that waited");
    assert!(
        has(&loser.events(), "waiting_for_lock"),
        "the second run did not wait for the lock:\n{}",
        loser.stdout
    );
    assert_eq!(live_hash(&db), plan.to.schema_hash);
    assert_ledger_complete(&db, &plan, "through pgbouncer (session)");
    // Another run reuses the pool's server connections.
    let again = spawn(&work, &plan_path, &url, &[]);
    finish(again).expect_code(0, "a third run, already applied");
}

fn refused_in(mode: &str) {
    let bouncer = Pgbouncer::start(cluster(), &format!("bouncer-{mode}"), mode, "");
    let work = Work::new();
    let (db, plan_path, _) = slow_setup(&format!("pool_{mode}"), &work);
    let before = live_hash(&db);
    let url = bouncer.url(&db);
    let runs = [
        spawn(&work, &plan_path, &url, &SLOW),
        spawn(&work, &plan_path, &url, &SLOW),
    ];
    for run in runs.map(finish) {
        run.expect_code(3, &format!("{mode} pooling"));
        let text = format!("{}{}", run.stdout, run.stderr);
        assert!(
            text.contains("not kept on one server session") && text.contains("pool_mode = session"),
            "{mode}: the refusal does not say what to change:\n{text}"
        );
        assert!(!has(&run.events(), "step_started"), "{mode}: a step ran");
    }
    assert!(!has_ledger(&db), "{mode}: the ledger was created");
    assert_eq!(live_hash(&db), before, "{mode}: the schema changed");
    // A dry run says so too.
    let mut dry = spawn(&work, &plan_path, &url, &["--dry-run"]);
    let _ = dry.stdin.take();
    finish(dry).expect_code(3, &format!("{mode}: dry run"));
}

#[test]
fn transaction_mode_is_refused_before_anything_changes() {
    refused_in("transaction");
}

#[test]
fn statement_mode_is_refused_before_anything_changes() {
    refused_in("statement");
}
