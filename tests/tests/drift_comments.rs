//! Comments on tables and columns (GraphQL descriptions) are part of the canonical form:
//! a database built from the schema matches it, and one whose comments were changed by
//! hand (added, changed or removed, on a table or a column) is drift that `wesley drift`
//! reports with the object named and that `wesley apply` refuses to run on.

use wesley_e2e::exec::{database_with, Work};
use wesley_e2e::TestDb;

const SCHEMA: &str = r#"
"""
Notes people write.
It's kept for a year.
"""
type Note @wes_table {
  id: Int! @wes_pk
  "The text, as typed (C:\\path and E'\\n' stay as written)."
  body: String!
  author: String
}
"#;

/// The same schema with one more column: a plan from SCHEMA to it must refuse to start
/// on a drifted database.
const NEXT: &str = r#"
"""
Notes people write.
It's kept for a year.
"""
type Note @wes_table {
  id: Int! @wes_pk
  "The text, as typed (C:\\path and E'\\n' stay as written)."
  body: String!
  author: String
  extra: String
}
"#;

fn setup(work: &Work, prefix: &str) -> TestDb {
    let schema = work.write("schema.graphql", SCHEMA);
    database_with(prefix, work, &schema, "")
}

fn drift(work: &Work, db: &TestDb) -> (Option<i32>, String) {
    work.drift(&work.path("schema.graphql"), db)
}

#[test]
fn a_database_built_from_the_schema_has_its_comments_and_matches() {
    let work = Work::new();
    let db = setup(&work, "dc_match");
    assert_eq!(
        db.psql("SELECT obj_description('public.note'::regclass, 'pg_class')")
            .trim_end(),
        "Notes people write.\nIt's kept for a year.",
    );
    assert_eq!(
        db.psql("SELECT col_description('public.note'::regclass, 2)")
            .trim_end(),
        "The text, as typed (C:\\path and E'\\n' stay as written).",
    );
    let (code, out) = drift(&work, &db);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn every_hand_made_change_of_a_comment_is_drift() {
    // (what is changed, SQL that changes it, words the report must contain)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "table comment changed",
            "COMMENT ON TABLE public.note IS 'Notes.'",
            &["table public.note has the comment \"Notes.\" instead of"],
        ),
        (
            "table comment removed",
            "COMMENT ON TABLE public.note IS NULL",
            &["table public.note has no comment; expected"],
        ),
        (
            "column comment changed",
            "COMMENT ON COLUMN public.note.body IS 'The text, as typed (C:\\path and E''\\n'' stay as written)'",
            &["column public.note.body has the comment", "instead of"],
        ),
        (
            "column comment removed",
            "COMMENT ON COLUMN public.note.body IS ''",
            &["column public.note.body has no comment; expected"],
        ),
        (
            "column comment added",
            "COMMENT ON COLUMN public.note.author IS 'Who wrote it'",
            &["column public.note.author has the comment \"Who wrote it\", which is not expected"],
        ),
    ];
    for (i, (what, sql, words)) in cases.iter().enumerate() {
        let work = Work::new();
        let db = setup(&work, &format!("dc_{i}"));
        db.psql(sql);
        let (code, out) = drift(&work, &db);
        assert_eq!(code, Some(3), "{what}: wesley drift must report it:\n{out}");
        for w in *words {
            assert!(out.contains(w), "{what}: the report must say {w:?}:\n{out}");
        }
        let (plan, _) = work.plan(
            &work.path("schema.graphql"),
            &work.write("next.graphql", NEXT),
            "plan.json",
        );
        let run = work.apply(&plan, &db, &[]);
        run.expect_code(3, &format!("{what}: apply on a drifted database"));
        assert!(
            run.stderr.contains("drift")
                && words
                    .iter()
                    .all(|w| run.stdout.contains(w) || run.stderr.contains(w)),
            "{what}: apply must name the difference:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        assert_eq!(
            db.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'note' AND column_name = 'extra'").trim(),
            "0",
            "{what}: nothing ran"
        );
    }
}

/// `wesley apply` writes string literals the standard way whatever the database's
/// `standard_conforming_strings` says: a description with backslashes and a `\'` comes
/// out exactly as written (with the setting off, `\'` would end the literal early).
#[test]
fn apply_writes_backslashes_exactly_with_standard_conforming_strings_off() {
    let work = Work::new();
    let old = "type Note @wes_table {\n  id: Int! @wes_pk\n  body: String!\n}\n";
    let new = "type Note @wes_table {\n  id: Int! @wes_pk\n  \"Matches \\\\d+ and \\\\'quoted\\\\' text.\"\n  body: String!\n}\n";
    let old_path = work.write("old.graphql", old);
    let db = database_with("dc_scs", &work, &old_path, "");
    db.psql(&format!(
        "ALTER DATABASE {} SET standard_conforming_strings = off;",
        db.name
    ));
    let (plan, _) = work.plan_sdl(old, new, "scs");
    work.apply(&plan, &db, &[])
        .expect_code(0, "apply with standard_conforming_strings off");
    assert_eq!(
        db.psql("SELECT col_description('public.note'::regclass, 2)")
            .trim_end(),
        r"Matches \d+ and \'quoted\' text."
    );
}
