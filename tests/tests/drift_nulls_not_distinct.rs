//! `NULLS NOT DISTINCT` (PostgreSQL 15+) on unique constraints and unique indexes is part
//! of the canonical form: a database built from the schema matches it, one changed by hand
//! (a constraint or index rebuilt with NULLs distinct, or the other way round) is drift
//! that `wesley drift` names, and a plan that needs it is refused on PostgreSQL 14 before
//! anything changes, while it applies on 15 and later.

use wesley_e2e::exec::{database_with, Work};
use wesley_e2e::{fresh_db, TestDb};

const SCHEMA: &str = r#"
type Device @wes_table @wes_unique(columns: ["tenantId", "serial"], nullsNotDistinct: true) {
  id: Int! @wes_pk
  tenantId: Int
  serial: String
  tag: String @wes_index(unique: true, nullsNotDistinct: true)
  code: String @wes_unique
}
"#;

const PLAIN: &str = r#"
type Device @wes_table {
  id: Int! @wes_pk
  tenantId: Int
  serial: String
  tag: String
  code: String @wes_unique
}
"#;

/// Whether the shared cluster is older than 15 (no NULLS NOT DISTINCT); if so, checks
/// that it refuses the schema clearly (the test has then nothing more to check).
fn refused_as_too_old() -> bool {
    let model = wesley_planner::sdl::parse("schema.graphql", SCHEMA)
        .0
        .expect("schema");
    fresh_db("dn_version").refuses_as_too_old(&[&model])
}

fn setup(work: &Work, prefix: &str) -> TestDb {
    let schema = work.write("schema.graphql", SCHEMA);
    database_with(prefix, work, &schema, "")
}

#[test]
fn a_database_built_from_the_schema_matches_and_refuses_a_second_null() {
    if refused_as_too_old() {
        return;
    }
    let work = Work::new();
    let db = setup(&work, "dn_match");
    let (code, out) = work.drift(&work.path("schema.graphql"), &db);
    assert_eq!(code, Some(0), "{out}");
    db.psql(
        "INSERT INTO device (id, tenant_id, serial, tag, code) VALUES (1, NULL, NULL, NULL, NULL)",
    );
    for (what, sql) in [
        (
            "constraint",
            "INSERT INTO device (id, tenant_id, serial) VALUES (2, NULL, NULL)",
        ),
        ("index", "INSERT INTO device (id, tag) VALUES (3, NULL)"),
    ] {
        let e = db.try_psql(sql).expect_err(what);
        assert!(e.contains("duplicate key value"), "{what}: {e}");
    }
    // A plain unique still lets NULLs repeat.
    db.psql("INSERT INTO device (id, tenant_id, serial, tag, code) VALUES (4, 1, 'x', 'y', NULL)");
}

#[test]
fn every_hand_made_change_of_nulls_distinctness_is_drift() {
    if refused_as_too_old() {
        return;
    }
    // (what is changed, SQL that changes it, words the report must contain)
    let cases: &[(&str, &str, &str)] = &[
        (
            "constraint rebuilt with NULLs distinct",
            "ALTER TABLE device DROP CONSTRAINT device_tenant_id_serial_key; \
             ALTER TABLE device ADD CONSTRAINT device_tenant_id_serial_key UNIQUE (tenant_id, serial)",
            "unique constraint device_tenant_id_serial_key on public.device is defined differently (tenant_id, serial instead of tenant_id, serial NULLS NOT DISTINCT)",
        ),
        (
            "index rebuilt with NULLs distinct",
            "DROP INDEX device_tag_idx; CREATE UNIQUE INDEX device_tag_idx ON device (tag)",
            "index device_tag_idx on public.device is defined differently (btree (tag) instead of btree (tag) NULLS NOT DISTINCT)",
        ),
        (
            "constraint made NULLS NOT DISTINCT",
            "ALTER TABLE device DROP CONSTRAINT device_code_key; \
             ALTER TABLE device ADD CONSTRAINT device_code_key UNIQUE NULLS NOT DISTINCT (code)",
            "unique constraint device_code_key on public.device is defined differently (code NULLS NOT DISTINCT instead of code)",
        ),
    ];
    for (i, (what, sql, words)) in cases.iter().enumerate() {
        let work = Work::new();
        let db = setup(&work, &format!("dn_{i}"));
        db.psql(sql);
        let (code, out) = work.drift(&work.path("schema.graphql"), &db);
        assert_eq!(code, Some(3), "{what}: wesley drift must report it:\n{out}");
        assert!(
            out.contains(words),
            "{what}: the report must say {words:?}:\n{out}"
        );
    }
}

#[test]
fn a_plan_that_needs_nulls_not_distinct_applies_on_15_and_is_refused_on_14() {
    let work = Work::new();
    let old = work.write("old.graphql", PLAIN);
    let new = work.write("new.graphql", SCHEMA);
    let (plan, file) = work.plan(&old, &new, "plan.json");
    assert_eq!(file.verified_on, vec![15, 16, 17, 18]);
    let db = database_with("dn_plan", &work, &old, "");
    let run = work.apply(&plan, &db, &[]);
    if db.server_major() < 15 {
        run.expect_code(3, "apply of a NULLS NOT DISTINCT plan on PostgreSQL 14");
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(
            said.contains("this plan needs PostgreSQL 15 or later"),
            "the refusal must say why:\n{said}"
        );
        // Nothing changed.
        assert_eq!(
            db.psql("SELECT count(*) FROM pg_indexes WHERE tablename = 'device'")
                .trim(),
            "2"
        );
        return;
    }
    run.expect_code(0, "apply of a NULLS NOT DISTINCT plan");
    let (code, out) = work.drift(&new, &db);
    assert_eq!(code, Some(0), "{out}");
}
