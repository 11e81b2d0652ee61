//! Lock contention: another session holds a lock that conflicts with the ACCESS EXCLUSIVE
//! lock a step needs. `wesley apply --lock-timeout 200ms` gives up each wait after 200 ms
//! and retries with backoff (`step_retry` events) until the blocker is gone, so a
//! concurrent writer queued behind the step's lock request is never held up for much
//! longer than the lock timeout.

use std::io::Write;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wesley_e2e::exec::{
    assert_ledger_complete, database_with, kind, live_hash, step_of, wait_for, Work,
};
use wesley_e2e::TestDb;

const OLD: &str = "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String!\n}\n";
const NEW: &str = "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String!\n  note: String\n}\n";
const STEP: &str = "add_column:public.item.note";

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A psql session that runs `sql` in an open transaction until `release`.
fn blocker(db: &TestDb, app: &str, sql: &str) -> Child {
    let mut child = db
        .psql_command()
        .args(["-q", "-v", "ON_ERROR_STOP=1"])
        .env("PGAPPNAME", app)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(sql.as_bytes()).unwrap();
    stdin.flush().unwrap();
    assert!(
        wait_for(
            db,
            &format!("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = '{app}' AND l.relation = 'public.item'::regclass AND l.granted"),
            "1",
            Duration::from_secs(10)
        ),
        "the blocker did not get its lock"
    );
    child
}

fn release(mut child: Child) {
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"COMMIT;\n");
    }
    let _ = child.wait();
}

/// A writer inserting a row about every 20 ms, each in its own transaction, until
/// stopped. Returns each insert's (time it finished, latency in ms), measured by the
/// server from the statement's arrival (so including any lock wait) to the row written.
struct Writer {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(f64, f64)>>,
}

impl Writer {
    fn start(db: &TestDb) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let mut cmd = db.psql_command();
        cmd.args(["-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]);
        let thread = std::thread::spawn(move || {
            let mut child = cmd
                .env("PGAPPNAME", "test-writer")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("psql");
            let stdout = wesley_e2e::exec::drain(child.stdout.take().unwrap());
            let mut stdin = child.stdin.take().unwrap();
            let mut n = 0;
            while !flag.load(Ordering::Relaxed) {
                n += 1;
                let sql = format!(
                    "INSERT INTO \"public\".\"item\" (\"id\", \"name\") VALUES (gen_random_uuid(), 'writer {n}') \
                     RETURNING extract(epoch FROM clock_timestamp()), extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000;\n"
                );
                if stdin.write_all(sql.as_bytes()).is_err() || stdin.flush().is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            drop(stdin);
            let _ = child.wait();
            stdout
                .join()
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let (t, ms) = l.split_once('|')?;
                    Some((t.trim().parse().ok()?, ms.trim().parse().ok()?))
                })
                .collect()
        });
        Writer { stop, thread }
    }

    fn stop(self) -> Vec<(f64, f64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("writer thread")
    }
}

#[test]
fn lock_timeouts_are_retried_and_writers_keep_flowing() {
    let work = Work::new();
    let old = work.write("old.graphql", OLD);
    let new = work.write("new.graphql", NEW);
    let db = database_with(
        "locks_retry",
        &work,
        &old,
        "INSERT INTO \"public\".\"item\" SELECT gen_random_uuid(), 'row ' || g FROM generate_series(1, 1000) g;",
    );
    let (plan_path, plan) = work.plan(&old, &new, "plan.json");
    assert!(plan
        .steps
        .iter()
        .any(|s| s.id == STEP && s.locks.iter().any(|l| l.mode == "AccessExclusiveLock")));

    let writer = Writer::start(&db);
    std::thread::sleep(Duration::from_millis(200));
    let holder = blocker(
        &db,
        "test-blocker",
        "BEGIN;\nLOCK TABLE \"public\".\"item\" IN ACCESS SHARE MODE;\n",
    );
    let held_at = Instant::now();
    let started = now();
    let child = work.spawn_apply(
        &plan_path,
        &db,
        &["--lock-timeout", "200ms", "--retries", "10"],
    );
    // The blocker commits after about 1.5 s.
    std::thread::sleep(Duration::from_millis(1500).saturating_sub(held_at.elapsed()));
    release(holder);
    let released = now();
    let run = wesley_e2e::exec::finish(child);
    let finished = now();
    std::thread::sleep(Duration::from_millis(200));
    let inserts = writer.stop();

    run.expect_code(0, "wesley apply with a blocker");
    let events = run.events();
    let retries: Vec<_> = events
        .iter()
        .filter(|e| kind(e) == "step_retry" && step_of(e) == STEP)
        .collect();
    assert!(
        !retries.is_empty(),
        "the step should have been retried:\n{}",
        run.stdout
    );
    assert!(
        retries
            .iter()
            .all(|e| e["error"].as_str().unwrap_or("").contains("lock timeout")),
        "{retries:?}"
    );
    assert!(events
        .iter()
        .any(|e| kind(e) == "step_done" && step_of(e) == STEP));
    let attempt: i64 = db
        .psql(&format!(
            "SELECT attempt FROM wesley.applied_steps WHERE step_id = '{STEP}'"
        ))
        .trim()
        .parse()
        .unwrap();
    assert!(attempt > 1, "recorded at attempt {attempt}");
    assert_eq!(live_hash(&db), plan.to.schema_hash);
    assert_ledger_complete(&db, &plan, "locks");

    // The writer kept going while the step waited and retried.
    let during: Vec<f64> = inserts
        .iter()
        .filter(|(t, _)| *t >= started && *t <= released)
        .map(|(_, ms)| *ms)
        .collect();
    let max = inserts.iter().map(|(_, ms)| *ms).fold(0.0, f64::max);
    eprintln!(
        "writer: {} inserts, {} while blocked ({:.1} s), max latency {max:.0} ms; apply took {:.1} s, {} retries",
        inserts.len(),
        during.len(),
        released - started,
        finished - started,
        retries.len()
    );
    assert!(
        during.len() >= 10,
        "too few inserts while the step was blocked: {}",
        during.len()
    );
    assert!(
        max >= 50.0,
        "no insert ever queued behind the step's lock request (max {max:.0} ms): the test proves nothing"
    );
    assert!(
        max < 1000.0,
        "an insert waited {max:.0} ms behind the step's lock request (lock timeout 200 ms)"
    );
    let rows: i64 = db
        .psql("SELECT count(*) FROM public.item WHERE name LIKE 'writer %'")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(rows as usize, inserts.len(), "every insert committed");
}

/// With too few retries the run fails (exit 1) at a recorded step and says what to look
/// for; once the blocker is gone the same command resumes and completes.
#[test]
fn exhausted_retries_fail_cleanly_and_resume() {
    let work = Work::new();
    let old = work.write("old.graphql", OLD);
    let new = work.write("new.graphql", NEW);
    let db = database_with(
        "locks_give_up",
        &work,
        &old,
        "INSERT INTO \"public\".\"item\" SELECT gen_random_uuid(), 'row ' || g FROM generate_series(1, 100) g;",
    );
    let (plan_path, plan) = work.plan(&old, &new, "plan.json");
    // A transaction that read the table and then sleeps.
    let holder = blocker(
        &db,
        "test-reader",
        "BEGIN;\nSELECT count(*) FROM \"public\".\"item\";\nSELECT pg_sleep(30);\n",
    );
    let run = work.apply(
        &plan_path,
        &db,
        &["--lock-timeout", "200ms", "--retries", "1"],
    );
    // The overall retry budget ends retries too, with the default attempt count.
    let started = std::time::Instant::now();
    let budget = work.apply(
        &plan_path,
        &db,
        &["--lock-timeout", "200ms", "--lock-retry-budget", "2s"],
    );
    let took = started.elapsed();
    // Killing psql would not end the server's pg_sleep (nor free the lock): end the
    // session itself.
    db.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'test-reader' AND datname = current_database()");
    let mut holder = holder;
    let _ = holder.wait();
    run.expect_code(1, "wesley apply that runs out of retries");
    assert!(
        run.stderr.contains("gave up after 2 attempts")
            && run.stderr.contains("55P03")
            && run.stderr.contains("recorded step"),
        "{}",
        run.stderr
    );
    budget.expect_code(1, "wesley apply that runs out of its retry budget");
    assert!(
        budget.stderr.contains("--lock-retry-budget 2s") && budget.stderr.contains("55P03"),
        "{}",
        budget.stderr
    );
    assert!(
        took < std::time::Duration::from_secs(20),
        "the budget bounds the run: {took:?}"
    );
    assert!(
        db.psql("SELECT status FROM wesley.runs WHERE plan_hash NOT LIKE 'baseline:%'")
            .trim()
            == "failed",
        "the run should be recorded as failed"
    );
    let status = work.wesley(&[
        "status",
        &plan_path.display().to_string(),
        "--database-url",
        &db.url,
    ]);
    assert!(
        status.stdout.contains("failed") && status.stdout.contains("Last error"),
        "{}",
        status.stdout
    );
    let again = work.apply(&plan_path, &db, &["--lock-timeout", "200ms"]);
    again.expect_code(0, "the rerun without the blocker");
    assert_eq!(live_hash(&db), plan.to.schema_hash);
    assert_ledger_complete(&db, &plan, "locks");
}
