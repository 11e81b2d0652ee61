//! Extensions a schema declares (`@wes_extensions`) are part of the canonical form: a
//! database built from the schema matches it, one where a declared extension was dropped
//! by hand is drift that `wesley drift` names, and an extension installed that the schema
//! does not list is not. A plan that adds an extension the server does not have stops at
//! that step, naming it, with nothing after it run.

use wesley_e2e::exec::{database_with, Work};
use wesley_e2e::TestDb;

const SCHEMA: &str = r#"
schema @wes_extensions(names: ["citext", "pgcrypto"]) {
  query: Query
}

type Account @wes_table {
  id: Int! @wes_pk
  email: String! @wes_type(sql: "citext") @wes_unique
  token: String! @wes_default(expr: "encode(gen_random_bytes(8), 'hex')")
}
"#;

fn setup(work: &Work, prefix: &str) -> TestDb {
    let schema = work.write("schema.graphql", SCHEMA);
    database_with(prefix, work, &schema, "")
}

#[test]
fn a_database_built_from_the_schema_has_its_extensions_and_matches() {
    let work = Work::new();
    let db = setup(&work, "dx_match");
    assert_eq!(
        db.psql("SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension WHERE extname <> 'plpgsql'")
            .trim(),
        "citext,pgcrypto"
    );
    db.psql("INSERT INTO account (id, email) VALUES (1, 'A@Example.com')");
    let e = db
        .try_psql("INSERT INTO account (id, email) VALUES (2, 'a@example.COM')")
        .expect_err("citext compares without case");
    assert!(e.contains("duplicate key value"), "{e}");
    let (code, out) = work.drift(&work.path("schema.graphql"), &db);
    assert_eq!(code, Some(0), "{out}");
    // An extension the schema does not list is not its business.
    db.psql("CREATE EXTENSION pg_trgm");
    let (code, out) = work.drift(&work.path("schema.graphql"), &db);
    assert_eq!(
        code,
        Some(0),
        "an undeclared extension is not drift:\n{out}"
    );
}

#[test]
fn a_declared_extension_dropped_by_hand_is_drift() {
    let work = Work::new();
    let db = setup(&work, "dx_dropped");
    db.psql("ALTER TABLE account ALTER COLUMN token DROP DEFAULT; DROP EXTENSION pgcrypto");
    let (code, out) = work.drift(&work.path("schema.graphql"), &db);
    assert_eq!(code, Some(3), "wesley drift must report it:\n{out}");
    assert!(
        out.contains("extension pgcrypto is not installed"),
        "the report must name the extension:\n{out}"
    );
}

#[test]
fn an_extension_the_server_lacks_stops_the_plan_at_its_step() {
    let work = Work::new();
    let old = work.write(
        "old.graphql",
        "type Account @wes_table {\n  id: Int! @wes_pk\n}\n",
    );
    let new = work.write(
        "new.graphql",
        "schema @wes_extensions(names: [\"no_such_extension\"]) {\n  query: Query\n}\n\ntype Account @wes_table {\n  id: Int! @wes_pk\n  name: String\n}\n",
    );
    let db = database_with("dx_missing", &work, &old, "");
    let (plan, _) = work.plan(&old, &new, "plan.json");
    let run = work.apply(&plan, &db, &[]);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(1), "{said}");
    assert!(
        said.contains("create_extension:no_such_extension")
            && (said.contains("is not available") || said.contains("control file")),
        "the failure must name the step and the missing extension:\n{said}"
    );
    // Nothing after it ran.
    assert_eq!(
        db.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'account' AND column_name = 'name'")
            .trim(),
        "0"
    );
}
