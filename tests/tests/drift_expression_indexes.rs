//! Expression indexes (`@wes_index(expr:)`, `keys:`): a database built from the schema
//! matches it; one whose index expressions were changed by hand (another expression, the
//! keys in another order, an expression replaced by its column) is drift that `wesley
//! drift` names and `wesley apply` refuses; and a column renamed by a plan is followed
//! inside the stored expressions, so the database then matches the new schema.

use wesley_e2e::exec::{database_with, Work};
use wesley_e2e::TestDb;

const SCHEMA: &str = r#"
type Account @wes_table
  @wes_index(expr: "lower(email)", unique: true)
  @wes_index(keys: ["orgId", "lower(handle)"], where: "deleted_at IS NULL")
  @wes_index(expr: "to_tsvector('english', coalesce(bio, ''))", using: "gin") {
  id: Int! @wes_pk
  orgId: Int!
  email: String! @wes_uid(value: "account_email")
  handle: String!
  bio: String
  deletedAt: DateTime
}
"#;

/// SCHEMA with `email` renamed (the same `@wes_uid`), and the expressions that use it.
const RENAMED: &str = r#"
type Account @wes_table
  @wes_index(expr: "lower(email_address)", unique: true)
  @wes_index(keys: ["orgId", "lower(handle)"], where: "deleted_at IS NULL")
  @wes_index(expr: "to_tsvector('english', coalesce(bio, ''))", using: "gin") {
  id: Int! @wes_pk
  orgId: Int!
  emailAddress: String! @wes_uid(value: "account_email")
  handle: String!
  bio: String
  deletedAt: DateTime
}
"#;

fn setup(work: &Work, prefix: &str) -> TestDb {
    let schema = work.write("schema.graphql", SCHEMA);
    database_with(
        prefix,
        work,
        &schema,
        "INSERT INTO account (id, org_id, email, handle, bio) VALUES (1, 1, 'Ann@Example.com', 'ann', 'likes tea')",
    )
}

#[test]
fn a_database_built_from_the_schema_matches_and_its_unique_expression_holds() {
    let work = Work::new();
    let db = setup(&work, "dxi_match");
    let (code, out) = work.drift(&work.path("schema.graphql"), &db);
    assert_eq!(code, Some(0), "{out}");
    let e = db
        .try_psql("INSERT INTO account (id, org_id, email, handle) VALUES (2, 1, 'ann@example.COM', 'ann2')")
        .expect_err("the unique expression index refuses the same address in another case");
    assert!(e.contains("duplicate key value"), "{e}");
}

#[test]
fn every_hand_made_change_of_an_index_expression_is_drift() {
    // (what is changed, SQL that changes it, words the report must contain)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "another expression",
            "DROP INDEX account_lower_email_idx; CREATE UNIQUE INDEX account_lower_email_idx ON account (upper(email))",
            &["index keys account_lower_email_idx on public.account", "upper(email)"],
        ),
        (
            "another expression inside a mixed key list",
            "DROP INDEX account_org_id_lower_handle_idx; CREATE INDEX account_org_id_lower_handle_idx ON account (org_id, upper(handle)) WHERE deleted_at IS NULL",
            &["index keys account_org_id_lower_handle_idx on public.account"],
        ),
        (
            "the keys in another order",
            "DROP INDEX account_org_id_lower_handle_idx; CREATE INDEX account_org_id_lower_handle_idx ON account (lower(handle), org_id) WHERE deleted_at IS NULL",
            &["account_org_id_lower_handle_idx"],
        ),
        (
            "the column instead of the expression",
            "DROP INDEX account_lower_email_idx; CREATE UNIQUE INDEX account_lower_email_idx ON account (email)",
            &["account_lower_email_idx"],
        ),
        (
            "another text search configuration",
            "DROP INDEX account_to_tsvector_english_coalesce_bio_idx; CREATE INDEX account_to_tsvector_english_coalesce_bio_idx ON account USING gin (to_tsvector('simple', coalesce(bio, '')))",
            &["index keys account_to_tsvector_english_coalesce_bio_idx on public.account"],
        ),
    ];
    for (i, (what, sql, words)) in cases.iter().enumerate() {
        let work = Work::new();
        let db = setup(&work, &format!("dxi_{i}"));
        db.psql(sql);
        let (code, out) = work.drift(&work.path("schema.graphql"), &db);
        assert_eq!(code, Some(3), "{what}: wesley drift must report it:\n{out}");
        for w in *words {
            assert!(out.contains(w), "{what}: the report must say {w:?}:\n{out}");
        }
        // A plan that starts from the schema refuses to run on this database.
        let (plan, _) = work.plan(
            &work.path("schema.graphql"),
            &work.write(
                "next.graphql",
                &SCHEMA.replace("deletedAt", "note: String\n  deletedAt"),
            ),
            "plan.json",
        );
        let run = work.apply(&plan, &db, &[]);
        run.expect_code(3, &format!("{what}: apply on a drifted database"));
        assert!(
            run.stderr.contains("drift"),
            "{what}: apply must refuse for drift:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        assert_eq!(
            db.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'account' AND column_name = 'note'").trim(),
            "0",
            "{what}: nothing ran"
        );
    }
}

#[test]
fn a_renamed_column_is_followed_inside_the_expression() {
    let work = Work::new();
    let db = setup(&work, "dxi_rename");
    let (plan, file) = work.plan(
        &work.path("schema.graphql"),
        &work.write("renamed.graphql", RENAMED),
        "rename.json",
    );
    // The column is renamed and the derived index name follows; no index is rebuilt.
    let kinds: Vec<&str> = file.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["rename_column", "rename_index"], "{kinds:?}");
    work.apply(&plan, &db, &[])
        .expect_code(0, "apply the rename");
    assert_eq!(
        db.psql("SELECT pg_get_indexdef('account_lower_email_address_idx'::regclass)")
            .trim(),
        "CREATE UNIQUE INDEX account_lower_email_address_idx ON public.account USING btree (lower(email_address))"
    );
    let (code, out) = work.drift(&work.path("renamed.graphql"), &db);
    assert_eq!(code, Some(0), "{out}");
}
