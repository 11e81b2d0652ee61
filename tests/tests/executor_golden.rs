//! Every golden plan case applied by the real `wesley apply`: the old schema built with
//! `wesley generate` and seeded, the plan written by `wesley plan --format json`, applied
//! with every hazard allowed. Afterwards the database hashes like the plan's target, the
//! ledger holds every step exactly once, `wesley status` (from the database and from the
//! checkpoint file) lists every step applied, data in kept columns is unchanged, and a
//! second `wesley apply` reports "already applied" without changing anything.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use wesley_e2e::exec::{
    assert_ledger_complete, case_refused_as_too_old, case_seed, database_with, each_case,
    has_ledger, invalid_indexes, kept_columns, kept_digests, kind, ledger_snapshot, live_hash_as,
    load_schema, plan_cases, step_of, Work,
};
use wesley_planner::planfile::PlanFile;

fn check_status(work: &Work, plan_path: &Path, plan: &PlanFile, url: Option<&str>, name: &str) {
    let mut args = vec!["status".to_string(), plan_path.display().to_string()];
    match url {
        Some(u) => args.extend(["--database-url".to_string(), u.to_string()]),
        None => args.extend([
            "--checkpoint-dir".to_string(),
            work.checkpoint_dir().display().to_string(),
        ]),
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = work.wesley(&refs);
    run.expect_code(0, &format!("{name}: wesley status"));
    let n = plan.steps.len();
    let header = match url {
        Some(_) => format!("done ({n} of {n} steps applied)"),
        None => format!("done ({n} of {n} steps applied; checkpoint"),
    };
    assert!(
        run.stdout.contains(&header),
        "{name}: status header should say `{header}`:\n{}",
        run.stdout
    );
    for s in &plan.steps {
        let line = run
            .stdout
            .lines()
            .find(|l| l.ends_with(&format!(" {}", s.id)) || l.contains(&format!(" {} — ", s.id)))
            .unwrap_or_else(|| panic!("{name}: status does not list {}:\n{}", s.id, run.stdout));
        assert!(
            line.contains("applied"),
            "{name}: status does not show {} applied: {line}",
            s.id
        );
    }
}

/// Checks the `--json` events of a complete run: every step started after all of its
/// dependencies were done, and finished once. Returns the most steps that ran at once.
fn check_events(events: &[Value], plan: &PlanFile, name: &str) -> usize {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut running: BTreeSet<&str> = BTreeSet::new();
    let mut most = 0;
    for e in events {
        match kind(e) {
            "step_started" => {
                let id = step_of(e);
                let step = plan
                    .steps
                    .iter()
                    .find(|s| s.id == id)
                    .unwrap_or_else(|| panic!("{name}: unknown step {id} started"));
                for d in &step.depends_on {
                    assert!(
                        done.contains(d.as_str()),
                        "{name}: {id} started before its dependency {d} was done"
                    );
                }
                running.insert(id);
                most = most.max(running.len());
            }
            "step_done" => {
                let id = step_of(e);
                assert!(running.remove(id), "{name}: {id} done but not running");
                assert!(done.insert(id), "{name}: {id} done twice");
            }
            _ => {}
        }
    }
    assert_eq!(done.len(), plan.steps.len(), "{name}: not every step ran");
    most
}

/// Applies one case; `extra` goes to `wesley apply` (e.g. `--jobs 3`). Returns the most
/// steps that ran at once.
fn apply_case(dir: &Path, extra: &[&str]) -> usize {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let work = Work::new();
    let (old_path, new_path) = (dir.join("old.graphql"), dir.join("new.graphql"));
    let (old, new) = (load_schema(&old_path), load_schema(&new_path));
    if case_refused_as_too_old(dir) {
        return 0;
    }
    let db = database_with(
        &format!("gold_{name}"),
        &work,
        &old_path,
        &case_seed(dir, 200),
    );
    let (plan_path, plan) = work.plan(&old_path, &new_path, "plan.json");
    let kept = kept_columns(&old, &new);
    let before = kept_digests(&db, &kept);

    let mut args = extra.to_vec();
    args.push("--json");
    let run = work.apply(&plan_path, &db, &args);
    run.expect_code(0, &format!("{name}: wesley apply"));
    let most = check_events(&run.events(), &plan, &name);
    assert_eq!(
        live_hash_as(&db, &plan.to),
        plan.to.schema_hash,
        "{name}: the database does not hash like the plan's target"
    );
    assert_ledger_complete(&db, &plan, &name);
    assert_eq!(invalid_indexes(&db), 0, "{name}: invalid index left");
    assert_eq!(
        kept_digests(&db, &kept),
        before,
        "{name}: data of kept columns changed"
    );
    check_status(&work, &plan_path, &plan, Some(&db.url), &name);
    check_status(&work, &plan_path, &plan, None, &name);

    // Again: nothing to do, nothing changes.
    let snapshot = ledger_snapshot(&db);
    let again = work.apply(&plan_path, &db, extra);
    again.expect_code(0, &format!("{name}: second wesley apply"));
    assert!(
        again.stderr.contains("is already applied"),
        "{name}: the second run should report that the plan is already applied:\n{}",
        again.stderr
    );
    assert_eq!(
        ledger_snapshot(&db),
        snapshot,
        "{name}: the second run changed the ledger"
    );
    assert_eq!(
        live_hash_as(&db, &plan.to),
        plan.to.schema_hash,
        "{name}: second run"
    );
    assert!(has_ledger(&db));
    most
}

#[test]
fn every_golden_case_applies_and_reapplies_as_a_no_op() {
    let cases = plan_cases();
    assert!(cases.len() >= 10, "expected the golden plan cases");
    let failures = each_case(&cases, |dir| {
        let most = apply_case(dir, &[]);
        assert!(most <= 1, "one job must run one step at a time");
    });
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn combined_case_applies_with_three_jobs() {
    let dir = wesley_e2e::exec::plan_cases_dir().join("combined");
    let most = apply_case(&dir, &["--jobs", "3"]);
    assert!(
        most > 1,
        "with --jobs 3 some independent steps should have run at the same time"
    );
}
