//! `wesley generate --format typescript`: the command writes exactly the golden
//! declarations of `planner/tests/data/sdl/ok/all_types.graphql` (`all_types.ts`, and with
//! `--ts-dates string` `all_types.dates-string.ts`), to standard output or to `-o FILE`,
//! and refuses an unknown `--ts-dates` value. What the declarations claim about
//! node-postgres is checked by `web/test/typescript-pg.test.mjs`.

use wesley_e2e::exec::Work;
use wesley_e2e::workspace_root;

fn golden(name: &str) -> String {
    let path = workspace_root()
        .join("planner/tests/data/sdl/ok")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn typescript_output_equals_the_golden_files() {
    let work = Work::new();
    let schema = work.write("all_types.graphql", &golden("all_types.graphql"));
    let schema = schema.display().to_string();

    let run = work.wesley(&["generate", &schema, "--format", "typescript"]);
    run.expect_code(0, "generate --format typescript");
    assert_eq!(run.stdout, golden("all_types.ts"));

    let out = work.path("types.ts");
    let run = work.wesley(&[
        "generate",
        &schema,
        "--format",
        "typescript",
        "--ts-dates",
        "string",
        "-o",
        &out.display().to_string(),
    ]);
    run.expect_code(0, "generate --format typescript --ts-dates string -o");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        golden("all_types.dates-string.ts")
    );
}

#[test]
fn an_unknown_ts_dates_value_is_refused() {
    let work = Work::new();
    let schema = work.write("s.graphql", "type T @wes_table { id: Int! @wes_pk }\n");
    let run = work.wesley(&[
        "generate",
        &schema.display().to_string(),
        "--format",
        "typescript",
        "--ts-dates",
        "epoch",
    ]);
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("--ts-dates"), "{}", run.stderr);
    assert!(run.stderr.contains("string"), "{}", run.stderr);
}
