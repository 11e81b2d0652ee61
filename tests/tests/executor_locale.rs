//! Errors are recognised by SQLSTATE whatever language the server speaks: clusters with
//! `lc_messages` set to German and to French (the `de_DE.UTF-8` and `fr_FR.UTF-8` locales
//! must exist: `scripts/install-deps` makes them). A lock held by another session makes
//! the step time out (`FEHLER:  55P03: ...`, `ERREUR:  55P03: ...`) and be retried until
//! the run finishes; a failing step is reported with its SQLSTATE and the server's own
//! message on one line.

use std::io::Write;
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
use wesley::cluster::{Cluster, ClusterOptions};
use wesley_e2e::exec::{
    assert_ledger_complete, database_in, finish, invalid_indexes, kind, live_hash, step_of,
    wait_for, Work,
};
use wesley_e2e::TestDb;

const OLD: &str = "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String!\n}\n";
const NEW: &str = "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String!\n  note: String\n}\n";
const STEP: &str = "add_column:public.item.note";
const UNIQUE: &str = "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String! @wes_unique\n}\n";

fn locale_cluster(locale: &'static str) -> Cluster {
    let have = std::process::Command::new("locale")
        .arg("-a")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_lowercase())
        .unwrap_or_default();
    let short = locale.to_lowercase().replace("utf-8", "utf8");
    assert!(
        have.lines().any(|l| l == short),
        "the {locale} locale is missing: run scripts/install-deps (or `localedef -i {} -f UTF-8 {locale}`)",
        &locale[..5]
    );
    Cluster::start(&ClusterOptions {
        settings: vec![format!("lc_messages = '{locale}'")],
        ..ClusterOptions::default()
    })
    .unwrap_or_else(|e| panic!("cluster with lc_messages={locale}: {e}"))
}

fn german() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| locale_cluster("de_DE.UTF-8"))
}

fn french() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| locale_cluster("fr_FR.UTF-8"))
}

/// A psql session holding `sql` in an open transaction until released.
fn blocker(db: &TestDb, sql: &str) -> Child {
    let mut child = db
        .psql_command()
        .args(["-q", "-v", "ON_ERROR_STOP=1"])
        .env("PGAPPNAME", "test-blocker")
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
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'test-blocker' AND l.relation = 'public.item'::regclass AND l.granted",
            "1",
            Duration::from_secs(10)
        ),
        "the blocker did not get its lock"
    );
    child
}

fn lock_timeouts_are_retried(cluster: &'static Cluster, prefix: &str, word: &str) {
    let work = Work::new();
    let old = work.write("old.graphql", OLD);
    let new = work.write("new.graphql", NEW);
    let db = database_in(cluster, prefix, &work, &old, "");
    let (plan_path, plan) = work.plan(&old, &new, "plan.json");
    let mut holder = blocker(
        &db,
        "BEGIN;\nLOCK TABLE \"public\".\"item\" IN ACCESS SHARE MODE;\n",
    );
    let probe = db
        .try_psql("SET lock_timeout = '50ms';\nLOCK TABLE public.item;\n")
        .unwrap_err();
    // The server really speaks the language (else this test would prove nothing).
    assert!(
        probe.contains(word),
        "the server does not say {word}: {probe}"
    );
    let child = work.spawn_apply(
        &plan_path,
        &db,
        &["--lock-timeout", "200ms", "--retries", "20"],
    );
    std::thread::sleep(Duration::from_millis(1500));
    if let Some(mut stdin) = holder.stdin.take() {
        let _ = stdin.write_all(b"COMMIT;\n");
    }
    let _ = holder.wait();
    let run = finish(child);
    run.expect_code(0, &format!("{prefix}: wesley apply with a blocker"));
    let retries: Vec<_> = run
        .events()
        .into_iter()
        .filter(|e| kind(e) == "step_retry" && step_of(e) == STEP)
        .collect();
    assert!(!retries.is_empty(), "{prefix}: no retry:\n{}", run.stdout);
    for r in &retries {
        let error = r["error"].as_str().unwrap_or("");
        assert!(
            error.contains("(SQLSTATE 55P03)") && !error.contains('\n'),
            "{prefix}: {error}"
        );
    }
    assert_eq!(live_hash(&db), plan.to.schema_hash);
    assert_ledger_complete(&db, &plan, prefix);
}

#[test]
fn lock_timeouts_are_retried_on_a_german_server() {
    lock_timeouts_are_retried(german(), "de_retry", "FEHLER");
}

#[test]
fn lock_timeouts_are_retried_on_a_french_server() {
    lock_timeouts_are_retried(french(), "fr_retry", "ERREUR");
}

#[test]
fn a_failing_step_is_reported_with_its_sqlstate_and_the_servers_message() {
    let work = Work::new();
    let old = work.write("old.graphql", OLD);
    let new = work.write("new.graphql", UNIQUE);
    let db = database_in(
        german(),
        "de_unique",
        &work,
        &old,
        "INSERT INTO public.item VALUES (gen_random_uuid(), 'same'), (gen_random_uuid(), 'same');",
    );
    let (plan_path, _) = work.plan(&old, &new, "plan.json");
    let run = work.apply(&plan_path, &db, &[]);
    run.expect_code(1, "unique index over duplicates");
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("SQLSTATE"))
        .unwrap_or_else(|| panic!("no failure line:\n{}", run.stderr));
    eprintln!("reported: {line}");
    assert!(
        line.contains("(SQLSTATE 23505)")
            && line.contains("konnte Unique Index")
            && line.contains("ist doppelt vorhanden"),
        "not the server's own message with its SQLSTATE: {line}"
    );
    // One line of the server's words: none of psql's raw output.
    for raw in ["psql:", "FEHLER:", "ORT:", "LOCATION:", "DETAIL:"] {
        assert!(
            !run.stderr.contains(raw),
            "raw psql output ({raw}):\n{}",
            run.stderr
        );
    }
    assert_eq!(invalid_indexes(&db), 0, "the failed build was cleaned up");
}
