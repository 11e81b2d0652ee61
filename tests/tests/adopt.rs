//! Adopting an existing database, against real PostgreSQL: `wesley plan --database-url`
//! plans from what the database has now (introspected the first time, then the target
//! schema the ledger recorded, so `@wes_uid` renames survive), and `wesley apply` records a
//! baseline run on a database it never migrated.

use wesley_e2e::exec::Work;
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
