//! Golden tests of `wesley generate --format typescript`: for every valid SDL case
//! `data/sdl/ok/<name>.graphql`, the TypeScript declarations must equal `<name>.ts`;
//! `all_types.graphql` (every column type) also with dates as strings, in
//! `all_types.dates-string.ts`. Run with `UPDATE_EXPECT=1` to rewrite the files.
//! `web/test/typescript.test.mjs` compiles these outputs with `tsc --strict`, and
//! `web/test/typescript-pg.test.mjs` checks `all_types` against PostgreSQL.

use std::path::{Path, PathBuf};
use wesley_planner::sdl;
use wesley_planner::typescript::{self, Dates, Options};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sdl/ok");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    out.sort();
    assert!(out.len() >= 5, "few cases in {}", dir.display());
    out
}

fn generate(path: &Path, dates: Dates) -> String {
    let src = std::fs::read_to_string(path).unwrap();
    let (model, diags) = sdl::parse("schema.graphql", &src);
    let model = model.unwrap_or_else(|| panic!("{} is invalid: {diags:#?}", path.display()));
    typescript::generate(&model, &Options { dates })
}

#[test]
fn typescript_of_every_valid_case() {
    for path in cases() {
        let out = generate(&path, Dates::Date);
        // Deterministic: a second parse of the same text gives the same bytes.
        assert_eq!(out, generate(&path, Dates::Date), "{}", path.display());
        expect_test::expect_file![path.with_extension("ts")].assert_eq(&out);
    }
}

#[test]
fn typescript_with_dates_as_strings() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sdl/ok/all_types.graphql");
    let out = generate(&path, Dates::String);
    expect_test::expect_file![path.with_extension("dates-string.ts")].assert_eq(&out);
    // Only the date types differ from the default output.
    let default = generate(&path, Dates::Date);
    assert_ne!(out, default);
    // The headers differ in length; compare what follows them.
    let body = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| l.starts_with("//"))
            .map(str::to_string)
            .collect()
    };
    let (out_body, default_body) = (body(&out), body(&default));
    assert_eq!(out_body.len(), default_body.len());
    for (a, b) in out_body.iter().zip(&default_body) {
        if a != b {
            assert!(
                a.contains("string") && b.contains("Date"),
                "unexpected difference:\n{a}\n{b}"
            );
        }
    }
}
