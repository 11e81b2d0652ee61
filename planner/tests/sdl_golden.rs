//! Data-driven golden tests of the SDL dialect: every `data/sdl/ok/*.graphql` must parse
//! without errors and its DDL (plus any warnings) must equal `<name>.out`; every
//! `data/sdl/err/*.graphql` must report at least one error, and its rendered diagnostics
//! must equal `<name>.out`. Run with `UPDATE_EXPECT=1` to rewrite the `.out` files.

use std::path::{Path, PathBuf};
use wesley_planner::{canon, ddl, sdl};

fn cases(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sdl")
        .join(kind);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no cases in {}", dir.display());
    out
}

fn check_golden(path: &Path, actual: &str) -> Result<(), String> {
    let golden = path.with_extension("out");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&golden, actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "{} differs from its golden file (rerun with UPDATE_EXPECT=1 to accept)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    ))
}

fn name_of(path: &Path) -> String {
    format!(
        "{}/{}",
        path.parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy(),
        path.file_name().unwrap().to_string_lossy()
    )
}

#[test]
fn ok_cases() {
    let mut failures = Vec::new();
    for path in cases("ok") {
        let src = std::fs::read_to_string(&path).unwrap();
        let name = name_of(&path);
        let (model, diags) = sdl::parse(&name, &src);
        let Some(model) = model else {
            let text: String = diags.iter().map(|d| d.render(Some(&src))).collect();
            failures.push(format!("{name} should be valid:\n{text}"));
            continue;
        };
        let mut out = String::new();
        for d in &diags {
            for line in d.render(Some(&src)).lines() {
                out.push_str("-- ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&format!("-- schema hash: {}\n", canon::schema_hash(&model)));
        out.push_str(&ddl::generate(&model));
        // Generation is deterministic.
        assert_eq!(
            ddl::generate(&model),
            ddl::generate(&sdl::parse(&name, &src).0.unwrap())
        );
        if let Err(e) = check_golden(&path, &out) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn err_cases() {
    let mut failures = Vec::new();
    for path in cases("err") {
        let src = std::fs::read_to_string(&path).unwrap();
        let name = name_of(&path);
        let (model, diags) = sdl::parse(&name, &src);
        if model.is_some() || !diags.iter().any(|d| d.is_error()) {
            failures.push(format!("{name} should be rejected with an error"));
            continue;
        }
        for d in &diags {
            if d.help.is_none() {
                failures.push(format!("{name}: diagnostic without help: {d:?}"));
            }
        }
        let out: String = diags.iter().map(|d| d.render(Some(&src))).collect();
        if let Err(e) = check_golden(&path, &out) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
