//! `wesley rehearse` end to end: its own throwaway cluster, sample rows, the real executor.

use std::path::PathBuf;
use std::process::Command;
use wesley_e2e::wesley_bin;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

#[test]
fn rehearses_a_schema_change_and_a_plan_file() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    let planned = Command::new(wesley_bin())
        .args(["plan", "--format", "json", "-o"])
        .arg(&plan)
        .arg("--from")
        .arg(example("blog-v1.graphql"))
        .arg("--to")
        .arg(example("blog-v2.graphql"))
        .output()
        .unwrap();
    assert!(
        plan.exists(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );

    let by_schemas = Command::new(wesley_bin())
        .args(["rehearse", "--rows", "50", "--from"])
        .arg(example("blog-v1.graphql"))
        .arg("--to")
        .arg(example("blog-v2.graphql"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&by_schemas.stdout);
    assert_eq!(
        by_schemas.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&by_schemas.stderr)
    );
    assert!(out.contains("Rehearsal passed"), "{out}");

    let by_plan = Command::new(wesley_bin())
        .args(["rehearse", "--rows", "50", "--from"])
        .arg(example("blog-v1.graphql"))
        .arg("--plan")
        .arg(&plan)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&by_plan.stdout);
    assert_eq!(
        by_plan.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&by_plan.stderr)
    );
    assert!(out.contains("Rehearsal passed"), "{out}");

    // A plan rehearsed on a schema it does not start from is refused before any cluster.
    let wrong = Command::new(wesley_bin())
        .args(["rehearse", "--from"])
        .arg(example("blog-v2.graphql"))
        .arg("--plan")
        .arg(&plan)
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("starts from schema"));
    assert!(!String::from_utf8_lossy(&wrong.stdout).contains("Starting a throwaway"));
}
