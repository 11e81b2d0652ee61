//! `wesley introspect` round trips against real PostgreSQL.
//!
//! Every golden schema (the plan cases' old and new schemas, the valid SDL cases) is built
//! with `wesley generate`, introspected, and then: `wesley drift` against the introspected
//! file finds nothing (exit 0); the file lists nothing as outside the dialect; `wesley
//! generate` of the file builds a database that hashes the same; and introspecting that
//! database writes the same file again.
//!
//! Then hand-written "legacy" databases (`tests/fixtures/legacy/*.sql`, plain SQL as an
//! ORM or a person writes it) go through the same round trip, each with the exact outcome
//! it must have: what the file lists as outside the dialect, whether drift is expected and
//! which differences, and whether the generated database hashes the same.

use std::path::{Path, PathBuf};
use wesley_e2e::exec::{live_hash, plan_cases, Run, Work};
use wesley_e2e::{fresh_db, workspace_root, TestDb};

fn introspect(work: &Work, db: &TestDb, out: &str) -> (Run, String) {
    let path = work.path(out);
    let run = work.wesley(&[
        "introspect",
        "--database-url",
        &db.url,
        "-o",
        &path.display().to_string(),
    ]);
    run.expect_code(0, &format!("wesley introspect of {}", db.name));
    let text = std::fs::read_to_string(&path).expect("introspected file");
    (run, text)
}

fn drift(work: &Work, db: &TestDb, file: &str) -> Run {
    work.wesley(&[
        "drift",
        "--schema",
        &work.path(file).display().to_string(),
        "--database-url",
        &db.url,
    ])
}

/// `wesley generate FILE` run into a fresh database: `Err` with psql's error when the DDL
/// does not apply.
fn generate_into(
    work: &Work,
    file: &Path,
    prefix: &str,
    setup: &str,
) -> (TestDb, Result<String, String>) {
    let db = fresh_db(prefix);
    if !setup.is_empty() {
        db.psql(setup);
    }
    let ddl = work.wesley(&["generate", &file.display().to_string()]);
    ddl.expect_code(0, &format!("wesley generate {}", file.display()));
    let applied = db.try_psql(&ddl.stdout);
    (db, applied)
}

/// The file without its first line, which names the database.
fn without_database(text: &str) -> &str {
    text.split_once('\n').map(|(_, rest)| rest).unwrap_or(text)
}

/// The lines listed under "Not in the dialect (N)" at the top of a file.
fn notes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("# Not in the dialect (") {
            inside = true;
            continue;
        }
        if inside {
            match line.strip_prefix("#   - ") {
                Some(n) => out.push(n.to_string()),
                None => break,
            }
        }
    }
    out
}

fn golden_schemas() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in plan_cases() {
        out.push(dir.join("old.graphql"));
        out.push(dir.join("new.graphql"));
    }
    let ok = workspace_root().join("planner/tests/data/sdl/ok");
    let mut sdl: Vec<PathBuf> = std::fs::read_dir(&ok)
        .expect("sdl ok cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    sdl.sort();
    out.extend(sdl);
    out
}

/// Roles the golden schemas' policies name.
const ROLES: &str = "DO $$ BEGIN CREATE ROLE app_user NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;\n\
DO $$ BEGIN CREATE ROLE app_reader NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;\n";

#[test]
fn golden_schemas_round_trip() {
    let work = Work::new();
    let schemas = golden_schemas();
    assert!(
        schemas.len() > 40,
        "golden schemas found: {}",
        schemas.len()
    );
    let mut failures = Vec::new();
    for (n, schema) in schemas.iter().enumerate() {
        let name = schema
            .strip_prefix(workspace_root())
            .unwrap_or(schema)
            .display()
            .to_string();
        let (db, built) = generate_into(&work, schema, "rt_golden", ROLES);
        if let Err(e) = built {
            // A schema this server is too old for (NULLS NOT DISTINCT on 14) fails clearly.
            let text = std::fs::read_to_string(schema).unwrap_or_default();
            if let Some(model) = wesley_planner::sdl::parse(&name, &text).0 {
                if db.refuses_as_too_old(&[&model]) {
                    continue;
                }
            }
            failures.push(format!("{name}: wesley generate does not apply: {e}"));
            continue;
        }
        let file = format!("golden_{n}.graphql");
        let (run, text) = introspect(&work, &db, &file);
        if run.stderr.contains("not in the dialect") || !notes(&text).is_empty() {
            failures.push(format!(
                "{name}: introspection lists objects outside the dialect:\n{}",
                run.stderr
            ));
        }
        let d = drift(&work, &db, &file);
        if d.code != Some(0) {
            failures.push(format!(
                "{name}: drift against the introspected file exits {:?}:\n{}{}",
                d.code, d.stdout, d.stderr
            ));
        }
        let (db2, built2) = generate_into(&work, &work.path(&file), "rt_golden2", ROLES);
        match built2 {
            Err(e) => failures.push(format!(
                "{name}: the introspected file does not generate: {e}\n{text}"
            )),
            Ok(_) => {
                if live_hash(&db2) != live_hash(&db) {
                    failures.push(format!("{name}: the database generated from the introspected file hashes differently\n{text}"));
                }
                let (_, again) = introspect(&work, &db2, &format!("golden_{n}_again.graphql"));
                if without_database(&again) != without_database(&text) {
                    failures.push(format!("{name}: introspecting the regenerated database writes another file:\n{text}\n---\n{again}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The expected outcome of one legacy database's round trip.
struct Legacy {
    fixture: &'static str,
    /// Each note (listed at the top of the file and on stderr) contains one of these, in
    /// order; the count must match exactly.
    notes: &'static [&'static str],
    /// `wesley drift` against the introspected file: the differences it prints (each
    /// contains one of these, in order); empty means exit 0.
    drift: &'static [&'static str],
    /// SQL run before `wesley generate` of the introspected file.
    setup: &'static str,
    /// Whether the generated database hashes like the legacy one.
    same_hash: bool,
    /// Lines the introspected file must contain.
    writes: &'static [&'static str],
}

const LEGACY: &[Legacy] = &[
    // Partitions and inheritance children become plain tables; the generated column is
    // written with `@wes_generated`; the expression index as `@wes_index(expr:)`; the
    // column comment as the field's description. What is left out (inheritance,
    // partitioning, grants, exclusion constraints, UNLOGGED, a free sequence) is outside
    // the hash, so the regenerated database hashes alike and shows no drift.
    Legacy {
        fixture: "beyond_the_dialect",
        notes: &[
            "table inheritance: public.capital inherits from public.city; written as a plain table",
            "grants on public.city: ",
            "exclusion constraint city_code_excl on public.city: EXCLUDE USING btree (code WITH =)",
            "partitioning of public.measurement (PARTITION BY RANGE (taken_on)): written as a plain table",
            "public.measurement_2024 is a partition of public.measurement FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
            "public.scratch is UNLOGGED",
            "sequence public.invoice_numbers (not owned by a column)",
        ],
        drift: &[],
        setup: "",
        same_hash: true,
        writes: &[
            "  @wes_index(expr: \"lower(name)\") {",
            "  valueF: Decimal @wes_generated(expr: \"((value_c * (9)::numeric) / (5)::numeric) + (32)::numeric\")",
        ],
    },
    // Serial ids are written as `@wes_serial`: generating the file elsewhere creates the
    // same owned sequences, and the hash (which records `serial`) is the same.
    Legacy {
        fixture: "orm_serial",
        notes: &[],
        drift: &[],
        setup: "",
        same_hash: true,
        writes: &["  id: Int! @wes_serial @wes_pk", "  id: BigInt! @wes_serial @wes_pk"],
    },
    // Mixed case and reserved words map back through @wes_table/@wes_column; an enum
    // named in mixed case cannot be declared (the dialect derives enum names), so its
    // column and the index on it are left out, and drift says so.
    Legacy {
        fixture: "names",
        notes: &[
            "enum public.OrderState: the dialect names enums in snake_case",
            "column public.order.state: its type is enum public.OrderState",
            "index Order_State_Idx on public.order: a column it uses is left out",
        ],
        drift: &[
            "enum public.OrderState exists but is not expected",
            "column public.order.state (public.OrderState) exists but is not expected",
            "index Order_State_Idx on public.order exists but is not expected",
        ],
        setup: "",
        same_hash: false,
        writes: &[],
    },
    // Identity columns with their generation, start and increment, and serial columns
    // (one with a renamed sequence) are written as they are; a sequence cache is not in
    // the dialect and outside the hash.
    Legacy {
        fixture: "identity_serial",
        notes: &["sequence counter_id_seq of public.counter.id: options the dialect does not write"],
        drift: &[],
        setup: "",
        same_hash: true,
        writes: &[
            "  id: Int! @wes_identity @wes_pk",
            "  id: BigInt! @wes_identity(generated: ALWAYS, start: 100, increment: 5) @wes_pk",
            "  id: Int! @wes_serial @wes_pk",
            "  code: BigInt! @wes_serial(sequence: \"item_code_numbers\")",
        ],
    },
    Legacy {
        fixture: "composite_keys",
        notes: &[],
        drift: &[],
        setup: "",
        same_hash: true,
        writes: &[],
    },
    // A tenant policy in Wesley's shape and policies that fit @wes_rls are written; a
    // hand-named policy is not, and drift reports it.
    Legacy {
        fixture: "rls",
        notes: &["policy \"authors see their memos\" on public.memo (PERMISSIVE FOR ALL TO PUBLIC USING (author = CURRENT_USER))"],
        drift: &["policy authors see their memos on public.memo exists but is not expected"],
        setup: "",
        same_hash: false,
        writes: &[],
    },
    // The view, the trigger and its function are outside the dialect and outside the
    // hash: reported, and no drift. The identity column is written as `@wes_identity`.
    // The table's comment is written as the type's description, and hashes alike.
    Legacy {
        fixture: "view_trigger",
        notes: &[
            "trigger item_touch on public.item: CREATE TRIGGER item_touch BEFORE UPDATE ON public.item FOR EACH ROW EXECUTE FUNCTION touch_updated_at()",
            "function public.touch_updated_at()",
            "view public.cheap_item",
        ],
        drift: &[],
        setup: "",
        same_hash: true,
        writes: &[],
    },
];

#[test]
fn legacy_databases_round_trip() {
    let work = Work::new();
    let dir = workspace_root().join("tests/fixtures/legacy");
    let mut fixtures: Vec<String> = std::fs::read_dir(&dir)
        .expect("legacy fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| {
            p.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    fixtures.sort();
    let mut covered: Vec<String> = LEGACY.iter().map(|l| l.fixture.to_string()).collect();
    covered.sort();
    assert_eq!(
        fixtures, covered,
        "every legacy fixture has an expected outcome"
    );

    for l in LEGACY {
        let name = l.fixture;
        let db = fresh_db(&format!("legacy_{name}"));
        db.psql(&std::fs::read_to_string(dir.join(format!("{name}.sql"))).expect("fixture"));
        let file = format!("{name}.graphql");
        let (run, text) = introspect(&work, &db, &file);

        for line in l.writes {
            assert!(
                text.lines().any(|x| x == *line),
                "{name}: the file lacks `{line}`:\n{text}"
            );
        }
        // What the dialect cannot express: in the file and on stderr, with a count.
        let listed = notes(&text);
        assert_eq!(
            listed.len(),
            l.notes.len(),
            "{name}: notes in the file:\n{text}"
        );
        for (got, want) in listed.iter().zip(l.notes) {
            assert!(
                got.contains(want),
                "{name}: note `{got}` should contain `{want}`"
            );
            assert!(
                run.stderr.contains(got.as_str()),
                "{name}: stderr lacks `{got}`:\n{}",
                run.stderr
            );
        }
        if l.notes.is_empty() {
            assert!(
                !run.stderr.contains("not in the dialect"),
                "{name}: {}",
                run.stderr
            );
        } else {
            assert!(
                run.stderr.contains(&format!(
                    "warning: {} object(s) are not in the dialect",
                    l.notes.len()
                )),
                "{name}: stderr should count the objects:\n{}",
                run.stderr
            );
            assert!(
                text.contains(&format!("# Not in the dialect ({}):", l.notes.len())),
                "{name}:\n{text}"
            );
        }

        // Drift on the same database: exactly the expected differences.
        let d = drift(&work, &db, &file);
        if l.drift.is_empty() {
            d.expect_code(0, &format!("{name}: wesley drift"));
        } else {
            d.expect_code(3, &format!("{name}: wesley drift"));
            let diffs: Vec<&str> = d
                .stdout
                .lines()
                .filter_map(|x| x.strip_prefix("  - "))
                .collect();
            assert_eq!(diffs.len(), l.drift.len(), "{name}: drift:\n{}", d.stdout);
            for (got, want) in diffs.iter().zip(l.drift) {
                assert!(
                    got.contains(want),
                    "{name}: difference `{got}` should contain `{want}`"
                );
            }
            // The file says so itself, too.
            assert!(
                text.contains(&format!(
                    "# So this file differs from the database ({}):",
                    l.drift.len()
                )),
                "{name}:\n{text}"
            );
        }

        // Generating the file elsewhere.
        if !l.setup.is_empty() {
            let (_, bare) =
                generate_into(&work, &work.path(&file), &format!("legacy_{name}_bare"), "");
            let e = bare.expect_err("the file needs its setup to generate");
            assert!(e.contains("does not exist"), "{name}: {e}");
        }
        let (db2, built) = generate_into(
            &work,
            &work.path(&file),
            &format!("legacy_{name}_gen"),
            l.setup,
        );
        built.unwrap_or_else(|e| {
            panic!("{name}: the introspected file does not generate: {e}\n{text}")
        });
        assert_eq!(
            live_hash(&db2) == live_hash(&db),
            l.same_hash,
            "{name}: the generated database should{} hash like the legacy one\n{text}",
            if l.same_hash { "" } else { " not" }
        );
        // Whatever was left out, the regenerated database matches the file exactly.
        drift(&work, &db2, &file)
            .expect_code(0, &format!("{name}: drift of the generated database"));
    }
}
