//! The SQL rendering passes squawk, the migration linter teams run in CI: every golden
//! plan case's `wesley plan --format sql` script has no finding from squawk's lock,
//! rewrite, timeout and transaction rules. Style rules (text vs varchar, bigint ids,
//! identity columns, `IF NOT EXISTS`) and rules about changes old code notices (drops,
//! renames), which Wesley reports as hazards with a severity of their own, are excluded.
//! Where squawk is wrong, the rendering says why in a `-- squawk-ignore` comment.
//!
//! squawk comes from PyPI (`squawk-cli`, installed by scripts/install-deps into
//! `.cache/squawk`); set `WESLEY_SQUAWK` to use another binary. A missing squawk fails the
//! test: it is never skipped.

use std::path::PathBuf;
use std::process::Command;
use wesley_e2e::exec::{plan_cases, Work, ALL_HAZARDS};
use wesley_e2e::workspace_root;

/// The version scripts/install-deps installs; findings differ between versions.
const SQUAWK_VERSION: &str = "2.70.0";

/// Rules about style or about what old code notices (Wesley's hazards cover the latter).
const EXCLUDED: &[&str] = &[
    "prefer-robust-stmts",
    "prefer-text-field",
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-timestamp-tz",
    "ban-char-field",
    "renaming-column",
    "renaming-table",
    "renaming-object",
    "ban-drop-column",
    "ban-drop-table",
    "ban-drop-not-null",
    "ban-drop-default",
    "ban-drop-constraint",
    "ban-drop-function",
    // Identity and sequence changes break clients that supply ids or call the sequence by
    // name: Wesley's `breaks_clients` hazards on those steps say so, with a severity.
    "ban-alter-identity",
    // A generated column made plain: code that relied on PostgreSQL computing it must write
    // it now, which the `drop_expression` step's `breaks_clients` hazard says.
    "ban-drop-generated-expression",
    "ban-drop-sequence",
];

fn squawk() -> PathBuf {
    if let Some(p) = std::env::var_os("WESLEY_SQUAWK").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let local = workspace_root().join(".cache/squawk/bin/squawk");
    if local.is_file() {
        return local;
    }
    PathBuf::from("squawk")
}

#[test]
fn every_golden_sql_rendering_passes_squawk() {
    let bin = squawk();
    let version = Command::new(&bin)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "squawk is not installed ({}: {e}); run scripts/install-deps, or set WESLEY_SQUAWK",
                bin.display()
            )
        });
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    assert!(
        version.ends_with(SQUAWK_VERSION),
        "squawk {SQUAWK_VERSION} is expected, found `{version}`; run scripts/install-deps"
    );
    let work = Work::new();
    let mut findings = Vec::new();
    let cases = plan_cases();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let out = work.path(&format!("{name}.sql"));
        let run = work.wesley(&[
            "plan",
            "--from",
            &dir.join("old.graphql").display().to_string(),
            "--to",
            &dir.join("new.graphql").display().to_string(),
            "--format",
            "sql",
            "--allow",
            ALL_HAZARDS,
            "-o",
            &out.display().to_string(),
        ]);
        if run.code == Some(2) {
            continue; // a case that cannot be planned has no script
        }
        run.expect_code(0, &format!("{name}: wesley plan --format sql"));
        let lint = Command::new(&bin)
            .args(["--pg-version", "15", "--reporter", "gcc", "--exclude"])
            .arg(EXCLUDED.join(","))
            .arg(&out)
            .output()
            .expect("run squawk");
        let text = String::from_utf8_lossy(&lint.stdout).into_owned()
            + &String::from_utf8_lossy(&lint.stderr);
        if !lint.status.success() {
            findings.push(format!("{name}:\n{text}"));
        }
    }
    assert!(cases.len() >= 10);
    assert!(
        findings.is_empty(),
        "squawk findings in the SQL rendering:\n{}",
        findings.join("\n")
    );
}
