//! Every SDL file of the earlier prototype either generates DDL that applies on a real
//! PostgreSQL (15, or the version in `WESLEY_PG_BINDIR`) and yields a catalog equal to the
//! model, or fails with located errors of the expected kind.

use std::path::PathBuf;
use wesley::introspect::{parse_canonical, CANONICAL_QUERY};
use wesley_e2e::fresh_db;
use wesley_planner::{canon, ddl, sdl};

fn fixtures() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/wesley-node");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The invalid fixtures and the diagnostic code each must report first.
const INVALID: &[(&str, &str)] = &[
    ("examples__multi-tenant.graphql", "E0002"), // `@@primaryKey(...)`
    ("examples__schema-v2.graphql", "E0003"),    // positional `@uid("...")`
    ("freaky-rls-schema.graphql", "E0050"),      // `--` comments inside policy SQL
    ("packages__wesley-cli__invalid.graphql", "E0001"), // unterminated type
    ("rls-schema.graphql", "E0003"),             // positional `@weight(9)`
];

const PRELUDE: &str = include_str!("../fixtures/supabase-prelude.sql");

#[test]
fn every_fixture_applies_or_fails_with_a_located_error() {
    let all = fixtures();
    assert!(
        all.len() >= 12,
        "expected the prototype's fixtures, found {}",
        all.len()
    );
    for (name, text) in &all {
        let (model, diags) = sdl::parse(name, text);
        if let Some((_, code)) = INVALID.iter().find(|(n, _)| n == name) {
            assert!(model.is_none(), "{name} should be rejected");
            let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
            assert!(!errors.is_empty(), "{name}: no error reported");
            assert!(
                errors.iter().any(|d| d.code == *code),
                "{name}: expected {code}, got {errors:#?}"
            );
            for d in &errors {
                let (_, line, column) = d.location();
                assert!(
                    d.span.is_some() && line >= 1 && column >= 1 && d.help.is_some(),
                    "{name}: unlocated or unhelpful: {d:?}"
                );
                assert!(
                    line <= text.lines().count().max(1) + 1,
                    "{name}: line out of range: {d:?}"
                );
            }
            continue;
        }
        let model = model.unwrap_or_else(|| panic!("{name} should be valid: {diags:#?}"));
        let sql = ddl::generate(&model);
        let db = fresh_db("fixture");
        db.psql(PRELUDE);
        if let Err(e) = db.try_psql(&sql) {
            panic!("{name}: generated DDL was rejected by PostgreSQL:\n{e}\n--- DDL ---\n{sql}");
        }
        let live = parse_canonical(&db.psql(CANONICAL_QUERY)).expect("canonical json");
        let expected = canon::canonical(&model);
        assert_eq!(live, expected, "{name}: catalog differs from the model");
        assert_eq!(live.hash(), canon::schema_hash(&model));
    }
}

#[test]
fn every_golden_ok_case_applies_and_matches_its_model() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../planner/tests/data/sdl/ok");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 5);
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let model = sdl::parse(&name, &text)
            .0
            .unwrap_or_else(|| panic!("{name} should be valid"));
        let sql = ddl::generate(&model);
        let db = fresh_db("golden");
        if db.refuses_as_too_old(&[&model]) {
            continue;
        }
        if let Err(e) = db.try_psql(&sql) {
            panic!("{name}: generated DDL was rejected by PostgreSQL:\n{e}\n--- DDL ---\n{sql}");
        }
        let live = parse_canonical(&db.psql(CANONICAL_QUERY)).expect("canonical json");
        assert_eq!(
            live,
            canon::canonical(&model),
            "{name}: catalog differs from the model"
        );
    }
}
