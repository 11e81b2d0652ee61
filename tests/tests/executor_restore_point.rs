//! The restore point before the contract phase: taken once every earlier phase has run
//! and before the first contract step, recorded in the ledger, reused by a resumed run,
//! shown by `wesley status`; a role that may not create one gets a warning and the run
//! continues.

use wesley_e2e::exec::{kind, live_hash, step_of, Work};
use wesley_e2e::TestDb;

const OLD: &str =
    "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String!\n  legacy: String\n}\n";
const NEW: &str = "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String!\n  note: String\n}\n";

fn setup(
    work: &Work,
    prefix: &str,
) -> (
    TestDb,
    std::path::PathBuf,
    wesley_planner::planfile::PlanFile,
) {
    let old = work.write("old.graphql", OLD);
    let db = wesley_e2e::exec::database_with(
        prefix,
        work,
        &old,
        "INSERT INTO item (id, name, legacy) VALUES (gen_random_uuid(), 'a', 'x'), (gen_random_uuid(), 'b', NULL);",
    );
    let (path, plan) = work.plan_sdl(OLD, NEW, "plan");
    assert!(
        plan.steps.iter().any(|s| s.phase == "contract"),
        "the plan should drop `legacy` in its contract phase"
    );
    (db, path, plan)
}

fn ledger_restore_point(db: &TestDb) -> String {
    db.psql("SELECT coalesce(restore_point, '-') || ' ' || coalesce(restore_lsn, '-') FROM wesley.runs WHERE plan_hash NOT LIKE 'baseline:%'")
        .trim()
        .to_string()
}

#[test]
fn taken_between_switch_and_contract_and_reused_on_resume() {
    let work = Work::new();
    let (db, path, plan) = setup(&work, "rp_taken");
    let want = format!(
        "wesley_{}",
        &plan.plan_hash.trim_start_matches("sha256:")[..12]
    );
    // A view on the dropped column makes the contract step fail (2BP01) the first time.
    db.psql("CREATE VIEW legacy_names AS SELECT legacy FROM item;");
    let wal_before = db.psql("SELECT pg_current_wal_lsn()").trim().to_string();
    let run = work.apply(&path, &db, &["--json"]);
    run.expect_code(1, "apply while a view depends on the dropped column");
    let events = run.events();
    let at = events
        .iter()
        .position(|e| kind(e) == "restore_point")
        .unwrap_or_else(|| panic!("no restore_point event:\n{}", run.stdout));
    assert_eq!(events[at]["name"], want.as_str());
    assert_eq!(events[at]["earlier"], false);
    let started: Vec<(usize, &str)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| kind(e) == "step_started")
        .map(|(i, e)| (i, step_of(e)))
        .collect();
    for (i, step) in &started {
        let phase = &plan.steps.iter().find(|s| &s.id == step).unwrap().phase;
        assert_eq!(
            *i > at,
            phase == "contract",
            "step {step} ({phase}) started on the wrong side of the restore point"
        );
    }
    let recorded = ledger_restore_point(&db);
    let lsn = events[at]["lsn"].as_str().unwrap().to_string();
    assert_eq!(recorded, format!("{want} {lsn}"));

    // The restore point was written during this run: after the WAL position at its start
    // (the earlier phases' steps wrote WAL too).
    assert_eq!(
        db.psql(&format!("SELECT '{lsn}'::pg_lsn > '{wal_before}'::pg_lsn"))
            .trim(),
        "t",
        "restore point at {lsn}, run started at {wal_before}"
    );

    let status = work.wesley(&[
        "status",
        "--database-url",
        &db.url,
        &path.display().to_string(),
    ]);
    assert!(
        status.stdout.contains(&format!(
            "Restore point before contract: {want} at LSN {lsn}"
        )),
        "{}{}",
        status.stdout,
        status.stderr
    );

    // Resumed: the recorded restore point is used, not a second one.
    db.psql("DROP VIEW legacy_names;");
    let run = work.apply(&path, &db, &["--json"]);
    run.expect_code(0, "resumed apply");
    let events = run.events();
    let rp: Vec<_> = events
        .iter()
        .filter(|e| kind(e) == "restore_point")
        .collect();
    assert_eq!(rp.len(), 1, "{}", run.stdout);
    assert_eq!(rp[0]["earlier"], true);
    assert_eq!(rp[0]["lsn"], lsn.as_str());
    assert_eq!(ledger_restore_point(&db), format!("{want} {lsn}"));
    assert_eq!(live_hash(&db), plan.to.schema_hash);
}

#[test]
fn a_role_that_may_not_gets_a_warning_and_the_run_continues() {
    let work = Work::new();
    let (db, path, plan) = setup(&work, "rp_denied");
    let role = format!("rp_owner_{}", std::process::id());
    db.psql(&format!(
        "DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;\n\
         ALTER DATABASE {db_name} OWNER TO {role};\n\
         ALTER TABLE item OWNER TO {role};",
        db_name = db.name
    ));
    let url = db
        .conninfo
        .replace("user=postgres", &format!("user={role}"));
    assert_ne!(url, db.conninfo);
    let run = work.wesley(&[
        "apply",
        &path.display().to_string(),
        "--database-url",
        &url,
        "--allow",
        "deletes_data,breaks_clients",
        "--checkpoint-dir",
        &work.checkpoint_dir().display().to_string(),
        "--json",
    ]);
    run.expect_code(0, "apply as a role without pg_create_restore_point");
    let events = run.events();
    assert!(
        events.iter().all(|e| kind(e) != "restore_point"),
        "{}",
        run.stdout
    );
    let warned: Vec<_> = events
        .iter()
        .filter(|e| {
            kind(e) == "message"
                && e["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("no restore point")
        })
        .collect();
    assert_eq!(warned.len(), 1, "{}", run.stdout);
    assert!(
        warned[0]["text"].as_str().unwrap().contains("42501"),
        "the warning should carry the SQLSTATE: {}",
        warned[0]
    );
    assert_eq!(ledger_restore_point(&db), "- -");
    assert_eq!(live_hash(&db), plan.to.schema_hash);
    assert_eq!(db.psql("SELECT count(*) FROM item").trim(), "2");
    db.psql(&format!(
        "ALTER DATABASE {db_name} OWNER TO CURRENT_USER; DROP OWNED BY {role}; DROP ROLE {role};",
        db_name = db.name
    ));
}
