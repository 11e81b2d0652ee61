//! `wesley apply` while the PostgreSQL server restarts (an immediate, crash-like shutdown
//! and recovery): the running executor fails with exit 1, and the next run completes.
//! In a test binary of its own, since the restart ends every connection to the shared
//! cluster.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;
use wesley_e2e::cluster;
use wesley_e2e::exec::{
    assert_ledger_complete, database_with, invalid_indexes, kept_columns, kept_digests, kind,
    live_hash, load_schema, plan_cases_dir, step_of, tail, wait_for, Work,
};
use wesley_e2e::seed;

#[test]
fn server_restarts_during_an_index_build_and_a_backfill() {
    let dir = plan_cases_dir().join("combined");
    let work = Work::new();
    let (old_path, new_path) = (dir.join("old.graphql"), dir.join("new.graphql"));
    let (old, new) = (load_schema(&old_path), load_schema(&new_path));
    let db = database_with("restart", &work, &old_path, &seed::seed_sql(&old, 20_000));
    let (plan_path, plan) = work.plan(&old_path, &new_path, "plan.json");
    let kept = kept_columns(&old, &new);
    let before = kept_digests(&db, &kept);
    let args = ["--batch-size", "500"];

    // 1. During the first index build, held open at its end by another session's
    //    snapshot (which the restart ends too).
    let mut holder = db
        .psql_command()
        .args(["-q"])
        .env("PGAPPNAME", "test-holder")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    holder
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT 1;\n")
        .unwrap();
    holder.stdin.as_mut().unwrap().flush().unwrap();
    assert!(wait_for(
        &db,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'test-holder' AND state = 'idle in transaction'",
        "1",
        Duration::from_secs(10)
    ));
    let mut restarted_in = None;
    let (run, _) = work.apply_killing(&plan_path, &db, &args, |e, _| {
        if restarted_in.is_none()
            && kind(e) == "step_started"
            && step_of(e).starts_with("create_index:")
        {
            assert!(wait_for(
                &db,
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE 'CREATE%INDEX CONCURRENTLY%' AND wait_event = 'virtualxid'",
                "t",
                Duration::from_secs(10)
            ));
            cluster().restart().expect("restart the server");
            restarted_in = Some(step_of(e).to_string());
        }
        false
    });
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(restarted_in.is_some(), "no index build started");
    run.expect_code(1, "run during which the server restarted");
    assert!(
        run.stdout.contains("\"event\":\"outcome\"") && run.stdout.contains("failed"),
        "the failure should be reported:\n{}",
        tail(&run.stdout)
    );

    // 2. During a backfill.
    let mut restarted = false;
    let (run, _) = work.apply_killing(&plan_path, &db, &args, |e, _| {
        if !restarted && kind(e) == "backfill_progress" && e["eta_s"].as_f64() != Some(0.0) {
            cluster().restart().expect("restart the server");
            restarted = true;
        }
        false
    });
    assert!(
        restarted,
        "no backfill in progress was seen:\n{}",
        tail(&run.stdout)
    );
    run.expect_code(1, "run during whose backfill the server restarted");

    // 3. To the end.
    let last = work.apply(&plan_path, &db, &args);
    last.expect_code(0, "run after the restarts");
    assert_eq!(live_hash(&db), plan.to.schema_hash);
    assert_ledger_complete(&db, &plan, "combined");
    assert_eq!(invalid_indexes(&db), 0, "an INVALID index is left");
    assert_eq!(
        kept_digests(&db, &kept),
        before,
        "data of kept columns changed"
    );
}
