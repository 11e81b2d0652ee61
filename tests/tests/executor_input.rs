//! Bad input and refusals: tampered plan files, psql meta-commands smuggled into a plan
//! with a recomputed hash, hazards not allowed, drift (before a run and on resume),
//! `wesley drift`, a wrong password (never echoed), and a different plan while one is
//! half-applied.

use std::path::{Path, PathBuf};
use wesley_e2e::cluster;
use wesley_e2e::exec::{
    has_ledger, invalid_indexes, kind, live_hash, wesley_cmd, Run, Work, ALL_HAZARDS,
};
use wesley_e2e::{fresh_db, TestDb};
use wesley_planner::planfile::{self, PlanFile};

const OLD: &str = "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String!\n}\n\ntype Other @wes_table {\n  id: ID! @wes_pk\n}\n";
/// Adds a column and an index to `item`; `other` stays as it is.
const NEW: &str = "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String! @wes_index\n  note: String\n}\n\ntype Other @wes_table {\n  id: ID! @wes_pk\n}\n";
/// Another target: a different column.
const OTHER_NEW: &str = "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String!\n  color: String\n}\n\ntype Other @wes_table {\n  id: ID! @wes_pk\n}\n";

const SEED: &str = "INSERT INTO \"public\".\"item\" SELECT gen_random_uuid(), 'row ' || g FROM generate_series(1, 100) g;\nINSERT INTO \"public\".\"other\" SELECT gen_random_uuid() FROM generate_series(1, 10);\n";

struct Setup {
    work: Work,
    db: TestDb,
    old: PathBuf,
    plan_path: PathBuf,
    plan: PlanFile,
}

fn setup(prefix: &str) -> Setup {
    let work = Work::new();
    let old = work.write("old.graphql", OLD);
    let new = work.write("new.graphql", NEW);
    let db = wesley_e2e::exec::database_with(prefix, &work, &old, SEED);
    let (plan_path, plan) = work.plan(&old, &new, "plan.json");
    Setup {
        work,
        db,
        old,
        plan_path,
        plan,
    }
}

fn column_exists(db: &TestDb, column: &str) -> bool {
    db.psql(&format!(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'item' AND column_name = '{column}'"
    ))
    .trim()
        == "1"
}

#[test]
fn tampered_plan_is_refused_before_anything_runs() {
    let s = setup("input_tampered");
    let text = std::fs::read_to_string(&s.plan_path).unwrap();
    let at = text.find("ADD COLUMN").expect("an ADD COLUMN step");
    // One byte: `ADD COLUMN` → `ADD COLUMn`.
    let mut bytes = text.into_bytes();
    bytes[at + "ADD COLUM".len()] = b'n';
    let tampered = s.work.path("tampered.json");
    std::fs::write(&tampered, bytes).unwrap();

    let run = s.work.apply(&tampered, &s.db, &[]);
    run.expect_code(2, "tampered plan");
    assert!(
        run.stderr.contains("modified after it was written"),
        "the refusal should say the plan was modified:\n{}",
        run.stderr
    );
    assert!(!has_ledger(&s.db), "the ledger schema was created");
    assert!(!column_exists(&s.db, "note"));
}

#[test]
fn malformed_last_step_is_named_and_nothing_runs() {
    // The plan is read as a stream: the steps before the malformed one were already read
    // (and their SQL set aside) when it is found, and still none of them runs.
    let s = setup("input_malformed");
    let text = std::fs::read_to_string(&s.plan_path).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let last = s.plan.steps.len() - 1;
    value["steps"][last]["transactional"] = "yes".into();
    let malformed = s.work.path("malformed.json");
    std::fs::write(&malformed, serde_json::to_string_pretty(&value).unwrap()).unwrap();

    let run = s.work.apply(&malformed, &s.db, &[]);
    run.expect_code(2, "malformed plan");
    let expected = format!(
        "steps[{last}] (step {}, after `{}`): invalid type",
        last + 1,
        s.plan.steps[last - 1].id
    );
    assert!(
        run.stderr.contains(&expected),
        "the error should name the step ({expected}):\n{}",
        run.stderr
    );
    assert!(!has_ledger(&s.db), "the ledger schema was created");
    assert!(!column_exists(&s.db, "note"));
}

#[test]
fn psql_meta_command_is_refused_even_with_a_recomputed_hash() {
    let s = setup("input_meta");
    let marker = std::env::temp_dir().join(format!("wesley-pwned-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let mut plan = s.plan.clone();
    let step = plan
        .steps
        .iter_mut()
        .find(|st| st.transactional)
        .expect("a transactional step");
    step.sql = format!("\\! touch {}\n{}", marker.display(), step.sql);
    plan.plan_hash = planfile::plan_hash(&plan);
    let evil = s.work.write("evil.json", &planfile::to_json(&plan));

    for extra in [&[][..], &["--json"][..], &["--dry-run"][..]] {
        let run = s.work.apply(&evil, &s.db, extra);
        run.expect_code(2, "plan with a meta-command");
        assert!(
            run.stderr.contains("meta-command"),
            "the refusal should name the meta-command:\n{}",
            run.stderr
        );
        assert!(
            !marker.exists(),
            "the shell command ran: {} exists",
            marker.display()
        );
    }
    assert!(!has_ledger(&s.db), "the ledger schema was created");
    assert!(!column_exists(&s.db, "note"));
    // `wesley status` refuses to read it too.
    let status = s.work.wesley(&[
        "status",
        &evil.display().to_string(),
        "--database-url",
        &s.db.url,
    ]);
    status.expect_code(2, "wesley status on the plan");
}

#[test]
fn hazards_not_allowed_are_refused_before_connecting() {
    let s = setup("input_hazards");
    assert!(
        s.plan
            .hazards()
            .all(|(_, h)| h.severity == "review" && h.kind == "long_running"),
        "the plan has only a long_running review hazard"
    );
    // Nothing listens there: a connection attempt fails with exit 1.
    let nowhere = |extra: &[&str]| {
        let mut args = vec![
            "apply".to_string(),
            s.plan_path.display().to_string(),
            "--database-url".into(),
            "postgresql://nobody@%2Fnonexistent-wesley-dir:1/nowhere".into(),
            "--checkpoint-dir".into(),
            s.work.checkpoint_dir().display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        s.work.wesley(&args)
    };
    // A review hazard does not refuse: the run goes on to connect (and fails there).
    nowhere(&[]).expect_code(1, "review hazards only");
    // Denied, it refuses before connecting.
    let run = nowhere(&["--deny", "long_running"]);
    run.expect_code(3, "hazards not allowed");
    assert!(
        run.stderr.contains("--allow") && run.stderr.contains("long_running"),
        "the refusal should list the hazards and the --allow that accepts them:\n{}",
        run.stderr
    );
    let bad = s.work.wesley(&[
        "apply",
        &s.plan_path.display().to_string(),
        "--database-url",
        &s.db.url,
        "--allow",
        "long_running,no_such_hazard",
    ]);
    bad.expect_code(2, "unknown hazard name");
    assert!(!has_ledger(&s.db));
}

#[test]
fn drift_is_refused_with_the_difference_in_words_unless_allowed() {
    let s = setup("input_drift");
    let drift_cmd = |schema: &Path| -> Run {
        s.work.wesley(&[
            "drift",
            "--schema",
            &schema.display().to_string(),
            "--database-url",
            &s.db.url,
        ])
    };
    let ok = drift_cmd(&s.old);
    ok.expect_code(0, "wesley drift on a matching database");
    assert!(ok.stdout.contains("matches"), "{}", ok.stdout);

    s.db.psql("ALTER TABLE public.item ADD COLUMN surprise int;");
    let drifted = drift_cmd(&s.old);
    drifted.expect_code(3, "wesley drift on a drifted database");
    assert!(
        drifted.stdout.contains("surprise"),
        "wesley drift should name the column:\n{}",
        drifted.stdout
    );

    let run = s.work.apply(&s.plan_path, &s.db, &[]);
    run.expect_code(3, "apply on a drifted database");
    assert!(
        run.stderr.contains("surprise") && run.stderr.contains("drift"),
        "the refusal should name the surprise column:\n{}",
        run.stderr
    );
    assert!(
        !column_exists(&s.db, "note"),
        "a step ran despite the drift"
    );
    // Scripts match on the outcome's reason, not its words.
    let json = s.work.apply(&s.plan_path, &s.db, &["--json"]);
    json.expect_code(3, "apply --json on a drifted database");
    let outcome = json.events().pop().expect("an outcome event");
    assert_eq!(
        (outcome["event"].as_str(), outcome["reason"].as_str()),
        (Some("outcome"), Some("drift")),
        "{}",
        json.stdout
    );

    let forced = s
        .work
        .apply(&s.plan_path, &s.db, &["--allow-drift", "--json"]);
    forced.expect_code(0, "apply with --allow-drift");
    let events = forced.events();
    assert_eq!(
        events.last().map(|e| e["reason"].clone()),
        Some("done".into()),
        "{}",
        forced.stdout
    );
    let drift: Vec<_> = events.iter().filter(|e| kind(e) == "drift").collect();
    // Reported before the steps and, still there, after them.
    assert_eq!(drift.len(), 2, "{}", forced.stdout);
    for d in drift {
        assert_eq!(d["allowed"], true);
        assert!(d["differences"].to_string().contains("surprise"), "{d}");
    }
    assert!(
        column_exists(&s.db, "note"),
        "--allow-drift should run the steps"
    );
    assert_eq!(
        s.db.psql("SELECT status FROM wesley.runs").trim(),
        "done",
        "the run should be recorded as done"
    );
    let again = s.work.apply(&s.plan_path, &s.db, &[]);
    again.expect_code(0, "a later run");
    assert!(again.stderr.contains("already applied"), "{}", again.stderr);
}

#[test]
fn drift_on_an_untouched_table_is_refused_on_resume() {
    let s = setup("input_resume_drift");
    let (run, killed) = s
        .work
        .apply_killing(&s.plan_path, &s.db, &[], |e, _| kind(e) == "step_done");
    assert!(killed, "{}", run.stdout);
    // `other` is not part of the plan.
    s.db.psql("ALTER TABLE public.other ADD COLUMN surprise int;");
    let run = s.work.apply(&s.plan_path, &s.db, &[]);
    run.expect_code(3, "resume on a database changed in between");
    assert!(
        run.stderr.contains("public.other"),
        "the refusal should name the changed table:\n{}",
        run.stderr
    );
    s.db.psql("ALTER TABLE public.other DROP COLUMN surprise;");
    s.work
        .apply(&s.plan_path, &s.db, &[])
        .expect_code(0, "resume once the change is undone");
    assert_eq!(live_hash(&s.db), s.plan.to.schema_hash);
}

#[test]
fn another_plan_is_refused_while_one_is_half_applied() {
    let s = setup("input_half");
    // Duplicate names make the plan fail at its unique index, after its first steps.
    let work = &s.work;
    let unique_new = work.write(
        "unique.graphql",
        &NEW.replace("name: String! @wes_index", "name: String! @wes_unique"),
    );
    s.db.psql("UPDATE public.item SET name = 'same' WHERE name IN ('row 1', 'row 2');");
    let (a_path, a) = work.plan(&s.old, &unique_new, "a.json");
    let first = work.apply(&a_path, &s.db, &[]);
    first.expect_code(1, "plan A with duplicate values");
    assert!(
        first.stderr.contains("recorded step") && first.stderr.contains("duplicate"),
        "{}",
        first.stderr
    );
    assert_eq!(
        invalid_indexes(&s.db),
        0,
        "the failed build's index is left"
    );
    let done: i64 =
        s.db.psql("SELECT count(*) FROM wesley.applied_steps")
            .trim()
            .parse()
            .unwrap();
    assert!(
        done >= 1 && (done as usize) < a.steps.len(),
        "{done} steps applied"
    );

    let other_new = work.write("other_new.graphql", OTHER_NEW);
    let (b_path, _) = work.plan(&s.old, &other_new, "b.json");
    let second = work.apply(&b_path, &s.db, &[]);
    second.expect_code(3, "plan B while plan A is half-applied");
    assert!(
        second.stderr.contains("half-applied") && second.stderr.contains(&a.plan_hash),
        "the refusal should name the half-applied plan:\n{}",
        second.stderr
    );
    assert!(!column_exists(&s.db, "color"), "plan B ran");

    // Finishing A (once the data is fixed) makes room for other plans again.
    s.db.psql("UPDATE public.item SET name = 'fixed ' || id WHERE name = 'same';");
    work.apply(&a_path, &s.db, &[])
        .expect_code(0, "plan A resumed after the fix");
    assert_eq!(live_hash(&s.db), a.to.schema_hash);
}

/// A role that must log in with a password (scram-sha-256 for it alone in pg_hba.conf).
fn password_role(role: &str, password: &str) {
    static HBA: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = HBA.lock().unwrap();
    let c = cluster();
    c.psql(
        "postgres",
        &format!("CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}';"),
    )
    .expect("create role");
    let hba = c.data_dir().join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
    std::fs::write(&hba, format!("local all {role} scram-sha-256\n{text}"))
        .expect("write pg_hba.conf");
    c.psql("postgres", "SELECT pg_reload_conf();")
        .expect("reload");
    std::thread::sleep(std::time::Duration::from_millis(300));
}

fn url_for(db: &TestDb, user_info: &str) -> String {
    db.url.replacen("postgres@", &format!("{user_info}@"), 1)
}

fn apply_with(s: &Setup, url: &str, pgpassword: Option<&str>) -> Run {
    let mut cmd = wesley_cmd(s.work.dir.path());
    cmd.args([
        "apply",
        &s.plan_path.display().to_string(),
        "--database-url",
        url,
        "--allow",
        ALL_HAZARDS,
        "--checkpoint-dir",
        &s.work.checkpoint_dir().display().to_string(),
    ]);
    if let Some(p) = pgpassword {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().expect("run wesley");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn wrong_password_fails_without_echoing_it() {
    let s = setup("input_password");
    let role = format!("wesley_pw_{}", std::process::id());
    let right = "right-pw-456";
    password_role(&role, right);
    let wrong = "WRONG-pw-123";

    for (what, url, env) in [
        (
            "password in the URL",
            url_for(&s.db, &format!("{role}:{wrong}")),
            None,
        ),
        ("password in PGPASSWORD", url_for(&s.db, &role), Some(wrong)),
    ] {
        let run = apply_with(&s, &url, env);
        run.expect_code(1, what);
        assert!(
            run.stderr.contains("authentication failed"),
            "{what}: the error should say authentication failed:\n{}",
            run.stderr
        );
        assert!(
            !run.stdout.contains(wrong) && !run.stderr.contains(wrong),
            "{what}: the password was printed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    assert!(!has_ledger(&s.db));

    // The right password works, for the executor's own connection and for psql, and is
    // not printed either.
    let run = apply_with(&s, &url_for(&s.db, &format!("{role}:{right}")), None);
    run.expect_code(0, "the right password");
    assert!(
        !run.stdout.contains(right) && !run.stderr.contains(right),
        "the password was printed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(live_hash(&s.db), s.plan.to.schema_hash);
}

#[test]
fn plan_for_another_database_state_is_refused_on_an_empty_database() {
    // A fresh database without the old schema: everything is drift.
    let s = setup("input_wrong_db");
    let empty = fresh_db("input_empty");
    let run = s.work.apply(&s.plan_path, &empty, &[]);
    run.expect_code(3, "plan applied to an empty database");
    assert!(
        run.stderr.contains("public.item") && run.stderr.contains("missing"),
        "{}",
        run.stderr
    );
}
