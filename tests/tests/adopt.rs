//! Adopting an existing database, against real PostgreSQL: `wesley plan --database-url`
//! plans from what the database has now (introspected the first time, then the target
//! schema the ledger recorded, so `@wes_uid` renames survive), `wesley apply` records a
//! baseline run on a database it never migrated, and `wesley watch` plans and applies
//! every saved change of a schema file.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;
use wesley_e2e::exec::{drain, wesley_cmd, Work};
use wesley_e2e::{fresh_db, workspace_root, TestDb};
use wesley_planner::planfile;

fn plan_live(
    work: &Work,
    db: &TestDb,
    to: &str,
    out: &str,
) -> (wesley_e2e::exec::Run, planfile::PlanFile) {
    let path = work.path(out);
    let run = work.wesley(&[
        "plan",
        "--database-url",
        &db.url,
        "--to",
        &work.path(to).display().to_string(),
        "--format",
        "json",
        "-o",
        &path.display().to_string(),
    ]);
    assert!(
        matches!(run.code, Some(0 | 3)),
        "wesley plan --database-url exited {:?}:\n{}",
        run.code,
        run.stderr
    );
    let text = std::fs::read_to_string(&path).expect("plan file");
    let file = planfile::parse_file(&text).unwrap_or_else(|e| panic!("invalid plan file: {e:?}"));
    (run, file)
}

fn kinds(p: &planfile::PlanFile) -> Vec<&str> {
    p.steps.iter().map(|s| s.kind.as_str()).collect()
}

#[test]
fn plan_from_a_live_database_then_from_its_ledger() {
    let work = Work::new();
    let db = fresh_db("adopt_plan");
    let fixture = workspace_root().join("tests/fixtures/legacy/composite_keys.sql");
    db.psql(&std::fs::read_to_string(fixture).expect("fixture"));

    // Adopt: introspect, then change the file.
    let intro = work.wesley(&[
        "introspect",
        "--database-url",
        &db.url,
        "-o",
        &work.path("schema.graphql").display().to_string(),
    ]);
    intro.expect_code(0, "wesley introspect");
    let schema = std::fs::read_to_string(work.path("schema.graphql")).expect("schema");
    let anchor = "  slug: String! @wes_type(sql: \"character varying(64)\") @wes_unique\n";
    assert!(schema.contains(anchor), "{schema}");
    let v1 = schema.replace(
        anchor,
        &format!("{anchor}  note: String @wes_uid(value: \"tenant_note\")\n"),
    );
    work.write("v1.graphql", &v1);

    // No history: planned from the introspected schema, which the plan file carries.
    let (run, plan) = plan_live(&work, &db, "v1.graphql", "v1.json");
    run.expect_code(0, "plan v1");
    assert!(
        run.stderr
            .contains("planning from the database's introspected schema: it has no Wesley history"),
        "{}",
        run.stderr
    );
    assert_eq!(kinds(&plan), ["add_column"]);
    assert_eq!(plan.from.sdl.as_deref(), Some(schema.as_str()));
    assert_eq!(plan.to.sdl.as_deref(), Some(v1.as_str()));
    let before = wesley_e2e::exec::live_hash(&db);
    assert_eq!(
        plan.from.schema_hash, before,
        "the introspected schema hashes like the database"
    );

    work.apply(&work.path("v1.json"), &db, &[])
        .expect_code(0, "apply v1");
    // A baseline run (with the introspected SDL), then the plan's (with the target's).
    let runs = db.psql(&format!(
        "SELECT plan_hash, status, steps, to_sdl = {} , to_sdl = {} FROM wesley.runs ORDER BY started_at",
        wesley_planner::sql::literal(&schema),
        wesley_planner::sql::literal(&v1)
    ));
    assert_eq!(
        runs.trim(),
        format!(
            "baseline:{before}|done|0|t|f\n{}|done|1|f|t",
            plan.plan_hash
        ),
        "ledger runs"
    );

    // Now the ledger's schema is the starting point: a @wes_uid rename stays a rename.
    let v2 = v1.replace("  note: String @wes_uid", "  remark: String @wes_uid");
    work.write("v2.graphql", &v2);
    let (run, plan) = plan_live(&work, &db, "v2.graphql", "v2.json");
    assert!(
        run.stderr
            .contains("planning from the target schema of the last plan applied"),
        "{}",
        run.stderr
    );
    assert_eq!(kinds(&plan), ["rename_column"], "{}", run.stderr);
    run.expect_code(3, "a rename needs --allow breaks_clients");

    // Planned from an introspection, the same change is a drop and an add: that is why
    // the ledger keeps the schema.
    db.psql("ALTER TABLE tenant ADD COLUMN added_by_hand integer");
    let (run, plan) = plan_live(&work, &db, "v2.graphql", "v2b.json");
    assert!(
        run.stderr.contains("planning from the database's introspected schema: it has changed since the last plan applied"),
        "{}",
        run.stderr
    );
    let k = kinds(&plan);
    assert!(
        k.contains(&"drop_column") && k.contains(&"add_column") && !k.contains(&"rename_column"),
        "{k:?}"
    );

    // A second applied plan records no second baseline.
    db.psql("ALTER TABLE tenant DROP COLUMN added_by_hand");
    work.apply(&work.path("v2.json"), &db, &[])
        .expect_code(0, "apply v2");
    let n = db.psql(
        "SELECT count(*) FILTER (WHERE plan_hash LIKE 'baseline:%'), count(*) FROM wesley.runs",
    );
    assert_eq!(n.trim(), "1|3");
}

#[test]
fn apply_on_an_empty_database_records_no_baseline() {
    let work = Work::new();
    let db = fresh_db("adopt_empty");
    work.write("s.graphql", "type A @wes_table { id: Int! @wes_pk }\n");
    let (run, plan) = plan_live(&work, &db, "s.graphql", "p.json");
    run.expect_code(0, "plan");
    assert_eq!(kinds(&plan), ["create_table"]);
    work.apply(&work.path("p.json"), &db, &[])
        .expect_code(0, "apply");
    let runs = db.psql("SELECT plan_hash FROM wesley.runs");
    assert_eq!(runs.trim(), plan.plan_hash);
}

/// A running `wesley watch`, its stdout read line by line.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Watcher {
    fn start(work: &Work, db: &TestDb, extra: &[&str]) -> Watcher {
        let mut cmd = wesley_cmd(&work.path(""));
        cmd.args([
            "watch",
            "--schema",
            &work.path("schema.graphql").display().to_string(),
            "--database-url",
            &db.url,
            "--apply",
            "--debounce",
            "100ms",
            "--checkpoint-dir",
            &work.checkpoint_dir().display().to_string(),
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn wesley watch");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = drain(child.stderr.take().expect("stderr"));
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watcher {
            child,
            lines: rx,
            stderr: Some(stderr),
        }
    }

    /// The next pass's `watch: ` status line.
    fn next_status(&mut self) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(90)) {
                Ok(l) => {
                    if let Some(s) = l.strip_prefix("watch: ") {
                        return s.to_string();
                    }
                }
                Err(e) => panic!(
                    "no status line from wesley watch: {e}; stderr:\n{}",
                    self.stop()
                ),
            }
        }
    }

    fn assert_running(&mut self) {
        assert!(
            self.child.try_wait().expect("try_wait").is_none(),
            "wesley watch exited"
        );
    }

    /// Stops the watcher (SIGKILL: it runs until stopped) and returns its stderr.
    fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn columns(db: &TestDb) -> String {
    db.psql("SELECT string_agg(column_name::text, ',' ORDER BY column_name) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'note'")
        .trim()
        .to_string()
}

/// Saves the schema file the way an editor does: a new file renamed over the old one.
fn save(work: &Work, text: &str) {
    work.write("schema.graphql.tmp", text);
    std::fs::rename(work.path("schema.graphql.tmp"), work.path("schema.graphql")).expect("rename");
}

#[test]
fn watch_plans_and_applies_every_save() {
    let work = Work::new();
    let db = fresh_db("watch");
    let v0 = "type Note @wes_table {\n  id: Int! @wes_pk\n  body: String\n}\n";
    work.write("schema.graphql", v0);
    let ddl = work.wesley(&[
        "generate",
        &work.path("schema.graphql").display().to_string(),
    ]);
    db.psql(&ddl.stdout);

    let mut w = Watcher::start(&work, &db, &[]);
    assert_eq!(
        w.next_status(),
        format!(
            "up to date: {} matches {}",
            wesley::apply::connect::ConnInfo::parse(&db.url).expect("url"),
            work.path("schema.graphql").display()
        )
    );

    // Add a column: applied.
    let v1 = "type Note @wes_table {\n  id: Int! @wes_pk\n  body: String\n  title: String\n}\n";
    save(&work, v1);
    let s = w.next_status();
    assert!(s.starts_with("applied: sha256:"), "{s}");
    assert_eq!(columns(&db), "body,id,title");

    // Break the file: diagnostics, nothing touched, still watching.
    std::fs::write(
        work.path("schema.graphql"),
        v1.replace("title: String", "title: Strin"),
    )
    .expect("write");
    let s = w.next_status();
    assert!(s.starts_with("invalid: "), "{s}");
    w.assert_running();
    assert_eq!(columns(&db), "body,id,title");

    // Fix it, with one more column: applied.
    let v2 = "type Note @wes_table {\n  id: Int! @wes_pk\n  body: String\n  title: String\n  tags: [String!]\n}\n";
    std::fs::write(work.path("schema.graphql"), v2).expect("write");
    let s = w.next_status();
    assert!(s.starts_with("applied: "), "{s}");
    assert_eq!(columns(&db), "body,id,tags,title");

    // Drop a column: refused without --allow deletes_data.
    let v3 = "type Note @wes_table {\n  id: Int! @wes_pk\n  title: String\n  tags: [String!]\n}\n";
    save(&work, v3);
    let s = w.next_status();
    // Dropping a column loses its data and breaks code that still reads it: both kinds
    // are refusals (docs/hazards.md), as for `wesley plan`.
    assert!(
        s.starts_with("refused: ") && s.ends_with("--allow breaks_clients,deletes_data"),
        "{s}"
    );
    assert_eq!(columns(&db), "body,id,tags,title");
    w.assert_running();
    let stderr = w.stop();
    assert!(
        stderr.contains("error[E0020]"),
        "the broken file's diagnostic:\n{stderr}"
    );

    // --allow deletes_data alone still leaves breaks_clients refused.
    let mut w = Watcher::start(&work, &db, &["--allow", "deletes_data"]);
    let s = w.next_status();
    assert!(
        s.starts_with("refused: ") && s.ends_with("--allow breaks_clients"),
        "{s}"
    );
    assert_eq!(columns(&db), "body,id,tags,title");
    w.stop();

    // With both the same file is applied on the first pass; a later save (a comment
    // changes) finds the database up to date.
    let mut w = Watcher::start(&work, &db, &["--allow", "deletes_data,breaks_clients"]);
    let s = w.next_status();
    assert!(s.starts_with("applied: "), "{s}");
    assert_eq!(columns(&db), "id,tags,title");
    save(&work, &format!("# notes\n{v3}"));
    let s = w.next_status();
    assert!(s.starts_with("up to date: "), "{s}");
    w.stop();

    // Every applied plan is in the ledger, after the baseline of the generated schema.
    let runs = db.psql("SELECT count(*) FILTER (WHERE plan_hash LIKE 'baseline:%'), count(*) FILTER (WHERE status = 'done') FROM wesley.runs");
    assert_eq!(runs.trim(), "1|4");
}

#[test]
fn watch_needs_an_explicit_database() {
    let work = Work::new();
    work.write("schema.graphql", "type A @wes_table { id: Int! @wes_pk }\n");
    let db = fresh_db("watch_explicit");
    // No --database-url: refused by the argument parser, whatever the environment says.
    let run = wesley_cmd(&work.path(""))
        .args(["watch", "--schema", "schema.graphql"])
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run");
    assert_eq!(
        run.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // A URL without a database name is refused rather than completed from PGDATABASE.
    let host = db.cluster.socket_dir().display().to_string();
    let run = wesley_cmd(&work.path(""))
        .args([
            "watch",
            "--schema",
            "schema.graphql",
            "--database-url",
            &format!("host={host}"),
        ])
        .env("PGDATABASE", &db.name)
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("must name the database"));
    assert_eq!(
        db.psql("SELECT to_regclass('public.a') IS NULL").trim(),
        "t",
        "nothing was created"
    );
}
