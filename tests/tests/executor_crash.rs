//! Crash safety of `wesley apply`: the executor is killed with SIGKILL at chosen points —
//! after the k-th finished step, in the middle of a batched backfill, and while a
//! `CREATE INDEX CONCURRENTLY` is running (held open deterministically by another
//! session's open write or old snapshot, so that the kill lands mid-build) — and run
//! again until it completes. Afterwards the database hashes like the plan's target, every
//! step is in the ledger exactly once, no INVALID index is left, no step session is left,
//! and data in kept columns is unchanged. Every golden case is also killed after each of
//! its steps in turn.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wesley_e2e::exec::{
    assert_ledger_complete, case_refused_as_too_old, case_seed, database_with, has_ledger,
    invalid_indexes, kept_columns, kept_digests, kind, live_hash_as, load_schema, plan_cases,
    plan_cases_dir, shadow_seed, step_of, tail, wait_for, Work,
};
use wesley_e2e::{seed, TestDb};
use wesley_planner::planfile::PlanFile;
use wesley_planner::sql::qualified;

/// Where to kill a run.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// After this run's k-th `step_done`.
    AfterSteps(usize),
    /// After this run's k-th `backfill_progress` (mid-backfill: batches remain).
    MidBackfill(usize),
    /// During the next `create_index:` step.
    InIndexBuild(Hold),
}

/// What keeps a concurrent index build from finishing, so that the kill lands while it
/// runs. The holder is released once the next run has started (after it has ended the
/// orphaned build); that run must then drop the INVALID index and rebuild it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hold {
    /// Nothing: killed as soon as the step has started (the build may not have begun).
    Nothing,
    /// An open transaction that wrote to the table: the build waits for it before it
    /// starts (its index is in the catalog, not yet ready).
    Writer,
    /// An open transaction with an old snapshot: the build waits for it at its very end
    /// (its index is built, not yet valid).
    Snapshot,
}

/// A session with an open transaction in the test database, ended by `release`.
struct Holder {
    child: Mutex<Option<Child>>,
}

impl Holder {
    fn start(db: &TestDb, hold: Hold, table: &str) -> Arc<Holder> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let app = format!("test-holder-{}", N.fetch_add(1, Ordering::Relaxed));
        let sql = match hold {
            Hold::Writer => format!("BEGIN;\nLOCK TABLE {table} IN ROW EXCLUSIVE MODE;\n"),
            _ => "BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT count(*) FROM pg_class;\n"
                .to_string(),
        };
        let mut child = db
            .psql_command()
            .args(["-q", "-v", "ON_ERROR_STOP=1"])
            .env("PGAPPNAME", &app)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start psql");
        let stdin = child.stdin.as_mut().expect("stdin");
        stdin.write_all(sql.as_bytes()).expect("write to psql");
        stdin.flush().expect("flush");
        assert!(
            wait_for(
                db,
                &format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' AND state = 'idle in transaction'"),
                "1",
                Duration::from_secs(10)
            ),
            "the {hold:?} holder did not start"
        );
        let holder = Arc::new(Holder {
            child: Mutex::new(Some(child)),
        });
        // Never hold it for long, whatever happens to the test.
        let h = holder.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(30));
            h.release();
        });
        holder
    }

    fn release(&self) {
        if let Some(mut c) = self.child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The next index the executor will build: the first `create_index:` step neither in the
/// ledger nor already valid (an interrupted run's session may have finished the build, and
/// then the next run only records it). Its step id, index name and table, quoted.
fn next_index_build(db: &TestDb, plan: &PlanFile) -> (String, String, String) {
    let applied = if has_ledger(db) {
        db.psql("SELECT step_id FROM wesley.applied_steps")
    } else {
        String::new()
    };
    let applied: Vec<&str> = applied.lines().collect();
    let s = plan
        .steps
        .iter()
        .find(|s| {
            s.kind == "create_index"
                && !applied.contains(&s.id.as_str())
                && !index_is_valid(db, index_of(&s.id))
        })
        .expect("an index build is left");
    let t = s.table.as_deref().expect("index step has a table");
    let (schema, name) = t.split_once('.').expect("schema.table");
    (
        s.id.clone(),
        index_of(&s.id).to_owned(),
        qualified(schema, name),
    )
}

/// The index of a `create_index:<schema>.<table>.<index>` step.
fn index_of(step: &str) -> &str {
    step.rsplit('.').next().unwrap_or_default()
}

fn index_is_valid(db: &TestDb, name: &str) -> bool {
    db.psql(&format!("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = '{name}' AND i.indisvalid"))
        .trim()
        == "1"
}

/// Runs a plan with a kill at every point of `kills` (one run each), then once more to
/// completion, and checks the result.
fn crash_and_resume(case: &str, seed_sql: &str, kills: &[Kill]) {
    let dir = plan_cases_dir().join(case);
    let work = Work::new();
    let (old_path, new_path) = (dir.join("old.graphql"), dir.join("new.graphql"));
    let (old, new) = (load_schema(&old_path), load_schema(&new_path));
    let db = database_with(&format!("crash_{case}"), &work, &old_path, seed_sql);
    db.psql("ANALYZE");
    let (plan_path, plan) = work.plan(&old_path, &new_path, "plan.json");
    let kept = kept_columns(&old, &new);
    let before = kept_digests(&db, &kept);
    let args = ["--batch-size", "500"];
    let mut log = String::new();
    // A holder to release when the next run has started, and the step it held.
    let mut held: Option<(Arc<Holder>, String)> = None;
    // The index the holder keeps the build of waiting (for the kill to land in).
    let mut held_index = String::new();

    for (n, &kill) in kills.iter().enumerate() {
        let mut done = 0usize;
        let mut progress = 0usize;
        // The holder must be in place before the build starts.
        let mut new_holder: Option<(Arc<Holder>, String)> = match kill {
            Kill::InIndexBuild(hold) if hold != Hold::Nothing => {
                if held.is_none() {
                    // The killed run's step session lives on until its step is done, and
                    // nothing holds it up: when that step is an index build, the index
                    // is valid afterwards and the next run builds the one after it.
                    assert!(
                        wait_for(&db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wesley-step'", "0", Duration::from_secs(30)),
                        "{case}: a step session of the run before run {n} is still running"
                    );
                }
                let (step, index, table) = next_index_build(&db, &plan);
                held_index = index;
                Some((Holder::start(&db, hold, &table), step))
            }
            _ => None,
        };
        let held_now = held.take();
        let (run, killed) = work.apply_killing(&plan_path, &db, &args, |e: &Value, _| {
            if let (Some((h, _)), "run_started") = (&held_now, kind(e)) {
                h.release();
            }
            match (kill, kind(e)) {
                (Kill::AfterSteps(k), "step_done") => {
                    done += 1;
                    done == k
                }
                (Kill::MidBackfill(k), "backfill_progress") => {
                    progress += 1;
                    progress >= k && e["eta_s"].as_f64() != Some(0.0)
                }
                (Kill::InIndexBuild(hold), "step_started")
                    if step_of(e).starts_with("create_index:") =>
                {
                    if let Some((_, step)) = &new_holder {
                        if step != step_of(e) {
                            // Built by an interrupted run's session: only recorded.
                            assert!(
                                index_is_valid(&db, index_of(step_of(e))),
                                "{case}: {} came before the held build of {step}",
                                step_of(e)
                            );
                            return false;
                        }
                        // Wait until the build waits for the holder.
                        let waiting = wait_for(
                            &db,
                            &format!("SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'wesley-step' AND query LIKE 'CREATE%INDEX CONCURRENTLY \"{held_index}\"%' AND wait_event = 'virtualxid'"),
                            "t",
                            Duration::from_secs(10),
                        );
                        assert!(waiting, "{case}: the build of {step} never waited for the {hold:?} holder");
                    }
                    true
                }
                _ => false,
            }
        });
        if let Some((h, step)) = &held_now {
            h.release();
            let recovered = run.events().iter().any(|e| {
                kind(e) == "step_recovered"
                    && step_of(e) == step
                    && e["action"].as_str().unwrap_or("").contains("INVALID")
            });
            assert!(
                recovered,
                "{case}: run {n} did not drop and rebuild the INVALID index of {step}:\n{}",
                tail(&run.stdout)
            );
        }
        log.push_str(&format!(
            "run {n} ({kill:?}): killed {killed}, exit {:?}\n",
            run.code
        ));
        assert!(
            killed,
            "{case}: run {n} should have been killed at {kill:?} but ended with {:?}\n{log}\n--- stdout\n{}\n--- stderr\n{}",
            run.code,
            tail(&run.stdout),
            tail(&run.stderr)
        );
        held = new_holder.take();
    }
    if let Some((h, _)) = held.take() {
        h.release();
    }
    let last = work.apply(&plan_path, &db, &args);
    last.expect_code(
        0,
        &format!("{case}: the final run after {} kills\n{log}", kills.len()),
    );
    assert_eq!(
        live_hash_as(&db, &plan.to),
        plan.to.schema_hash,
        "{case}: target hash"
    );
    assert_ledger_complete(&db, &plan, case);
    assert_eq!(invalid_indexes(&db), 0, "{case}: an INVALID index is left");
    assert!(
        wait_for(
            &db,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wesley-step'",
            "0",
            Duration::from_secs(5)
        ),
        "{case}: step sessions are left"
    );
    assert_eq!(
        kept_digests(&db, &kept),
        before,
        "{case}: data of kept columns changed"
    );
    let status = work.wesley(&[
        "status",
        &plan_path.display().to_string(),
        "--database-url",
        &db.url,
    ]);
    status.expect_code(0, "wesley status");
    let n = plan.steps.len();
    assert!(
        status
            .stdout
            .contains(&format!("done ({n} of {n} steps applied)")),
        "{}",
        status.stdout
    );
    let again = work.apply(&plan_path, &db, &args);
    again.expect_code(0, "re-run after completion");
    assert!(again.stderr.contains("already applied"), "{}", again.stderr);
}

#[test]
fn combined_survives_kills_at_every_kind_of_step() {
    let old = load_schema(&plan_cases_dir().join("combined/old.graphql"));
    crash_and_resume(
        "combined",
        &seed::seed_sql(&old, 30_000),
        &[
            Kill::InIndexBuild(Hold::Snapshot),
            Kill::AfterSteps(5),
            Kill::InIndexBuild(Hold::Nothing),
            Kill::AfterSteps(3),
            Kill::MidBackfill(1),
            Kill::MidBackfill(2),
            Kill::AfterSteps(4),
            Kill::AfterSteps(1),
        ],
    );
}

#[test]
fn shadow_type_change_survives_kills_mid_backfill_and_mid_index_build() {
    crash_and_resume(
        "type_change_shadow",
        &shadow_seed(30_000),
        &[
            Kill::AfterSteps(3),
            Kill::MidBackfill(1),
            Kill::MidBackfill(2),
            Kill::AfterSteps(1),
            Kill::InIndexBuild(Hold::Nothing),
            Kill::InIndexBuild(Hold::Snapshot),
            Kill::AfterSteps(2),
        ],
    );
}

/// A plan whose first step is a concurrent index build, killed during it (nothing is in
/// the ledger yet), then during the next build, then after a step.
#[test]
fn killed_in_the_first_step_an_index_build() {
    let dir = plan_cases_dir().join("indexes");
    crash_and_resume(
        "indexes",
        &wesley_e2e::exec::case_seed(&dir, 2_000),
        &[
            Kill::InIndexBuild(Hold::Writer),
            Kill::InIndexBuild(Hold::Snapshot),
            Kill::AfterSteps(1),
        ],
    );
}

/// Every golden case killed after each step it finishes (one more step per run), then
/// run to completion.
#[test]
fn every_golden_case_killed_after_every_step_completes() {
    let cases: Vec<PathBuf> = plan_cases()
        .into_iter()
        .filter(|d| !d.ends_with("combined"))
        .collect();
    let queue = Mutex::new(cases);
    let failures = Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(dir) = queue.lock().unwrap().pop() else {
                    break;
                };
                let name = dir.file_name().unwrap().to_string_lossy().into_owned();
                if let Err(e) = kill_after_each_step(&dir) {
                    failures.lock().unwrap().push(format!("{name}: {e}"));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn kill_after_each_step(dir: &Path) -> Result<(), String> {
    if case_refused_as_too_old(dir) {
        return Ok(());
    }
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let work = Work::new();
    let old_path = dir.join("old.graphql");
    let db = database_with(
        &format!("each_{name}"),
        &work,
        &old_path,
        &case_seed(dir, 200),
    );
    let (plan_path, plan) = work.plan(&old_path, &dir.join("new.graphql"), "plan.json");
    let mut runs = 0;
    loop {
        runs += 1;
        if runs > plan.steps.len() + 2 {
            return Err("too many runs".into());
        }
        let (run, killed) = work.apply_killing(&plan_path, &db, &[], |e, _| kind(e) == "step_done");
        if !killed {
            if run.code != Some(0) {
                return Err(format!(
                    "run {runs} exited {:?}:\n{}\n{}",
                    run.code,
                    tail(&run.stdout),
                    tail(&run.stderr)
                ));
            }
            break;
        }
    }
    if live_hash_as(&db, &plan.to) != plan.to.schema_hash {
        return Err("the database does not hash like the target".into());
    }
    assert_ledger_complete(&db, &plan, &name);
    if invalid_indexes(&db) != 0 {
        return Err("an INVALID index is left".into());
    }
    Ok(())
}
