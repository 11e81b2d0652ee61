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

fn rehearse(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(wesley_bin())
        .arg("rehearse")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Policies that name roles: the throwaway cluster creates them (NOLOGIN) before it builds
/// the old schema, and a setup file runs before that too.
#[test]
fn rehearses_schemas_whose_policies_name_roles() {
    let dir = tempfile::tempdir().unwrap();
    let write = |n: &str, t: &str| {
        std::fs::write(dir.path().join(n), t).unwrap();
    };
    write("old.graphql", "type Doc @wes_table @wes_rls(select: \"owner = current_user\", roles: [\"app_reader\"]) {\n  id: Int! @wes_pk\n  owner: String!\n}\n");
    // The new policy calls a function that the setup file provides.
    write("new.graphql", "type Doc @wes_table @wes_rls(select: \"owner = current_user OR is_shared(id)\", roles: [\"app_reader\", \"app_auditor\"]) {\n  id: Int! @wes_pk\n  owner: String!\n}\n");
    write("setup.sql", "CREATE FUNCTION is_shared(doc int) RETURNS boolean LANGUAGE sql STABLE AS 'SELECT doc % 2 = 0';\n");
    let (code, out) = rehearse(
        dir.path(),
        &[
            "--rows",
            "20",
            "--from",
            "old.graphql",
            "--to",
            "new.graphql",
            "--setup",
            "setup.sql",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("app_auditor, app_reader"), "{out}");
    assert!(out.contains("Ran setup.sql"), "{out}");
    assert!(out.contains("Rehearsal passed"), "{out}");
}

/// The reported data-loss bug, as a user meets it: a rehearsal with a value that does not
/// fit the narrower type fails at the check and says which rows, instead of passing.
#[test]
fn a_rehearsal_with_a_value_that_does_not_fit_fails() {
    let dir = tempfile::tempdir().unwrap();
    let write = |n: &str, t: &str| {
        std::fs::write(dir.path().join(n), t).unwrap();
    };
    write("old.graphql", "type Cfg @wes_table {\n  id: Int! @wes_pk\n  hash: String! @wes_type(sql: \"varchar(40)\")\n}\n");
    write("new.graphql", "type Cfg @wes_table {\n  id: Int! @wes_pk\n  hash: String! @wes_type(sql: \"varchar(32)\")\n}\n");
    write(
        "seed.sql",
        &format!(
            "INSERT INTO public.cfg VALUES (1, 'short'), (2, '{}');\n",
            "h".repeat(40)
        ),
    );
    let (code, out) = rehearse(
        dir.path(),
        &[
            "--from",
            "old.graphql",
            "--to",
            "new.graphql",
            "--seed",
            "seed.sql",
        ],
    );
    assert_ne!(code, Some(0), "{out}");
    assert!(!out.contains("Rehearsal passed"), "{out}");
    assert!(
        out.contains("1 rows of public.cfg have values in hash that do not convert exactly"),
        "{out}"
    );
}
