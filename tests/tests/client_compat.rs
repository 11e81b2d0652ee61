//! What code written for the old schema sees, for every kind of change, on a real
//! PostgreSQL: after each step of the plan, an old-style write and an old-style read run
//! (in a transaction that is rolled back). Where no step applied so far carries a
//! `breaks_clients` hazard of refusal severity, both must still work, and the columns of
//! `SELECT *` must still begin with the old columns, in their old order and types (new
//! columns may follow). Where such a step has run, what it says fails must fail.
//! Review-severity `breaks_clients` hazards (tightenings) concern only data that breaks
//! the new rule; the old-style writes here use valid data, so they must keep working.

use wesley_e2e::{fresh_db, TestDb};
use wesley_planner::model::Schema;
use wesley_planner::plan::{self, HazardKind, Severity};
use wesley_planner::{ddl, sdl};

struct Case {
    name: &'static str,
    old: &'static str,
    new: &'static str,
    /// Rows the table has before the plan.
    seed: &'static str,
    /// A write as old code does it.
    write: &'static str,
    /// A read as old code does it.
    read: &'static str,
    /// The table whose `SELECT *` shape is checked.
    table: &'static str,
}

const T: &str = "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n";
const SEED: &str = "INSERT INTO public.t VALUES (1, 1, 'x'), (2, 2, 'y');";
const WRITE: &str = "INSERT INTO public.t (id, a, b) VALUES (100, 7, 'w')";
const READ: &str = "SELECT id, a, b FROM public.t WHERE id = 1";

fn cases() -> Vec<Case> {
    let c = |name, old, new, write, read| Case {
        name,
        old,
        new,
        seed: SEED,
        write,
        read,
        table: "public.t",
    };
    vec![
        c("create_schema", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\ntype U @wes_table(schema: \"other\") {\n  id: Int! @wes_pk\n}\n", WRITE, READ),
        c("create_enum_and_table", T, "enum E { X Y }\ntype T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\ntype U @wes_table {\n  id: Int! @wes_pk\n  e: E\n}\n", WRITE, READ),
        c("add_enum_value", "enum E { X Y }\ntype T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n  e: E\n}\n", "enum E { X Z Y }\ntype T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n  e: E\n}\n", "INSERT INTO public.t (id, a, b, e) VALUES (100, 7, 'w', 'Y')", "SELECT id, a, b, e FROM public.t WHERE id = 1"),
        Case {
            name: "drop_enum",
            old: "enum E { X Y }\ntype T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\ntype U @wes_table {\n  id: Int! @wes_pk\n  e: E\n}\n",
            new: T,
            seed: "INSERT INTO public.u VALUES (1, 'X');",
            write: "INSERT INTO public.u (id, e) VALUES (100, 'Y')",
            read: "SELECT id, e FROM public.u",
            table: "public.u",
        },
        c("drop_table", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\ntype Gone @wes_table {\n  id: Int! @wes_pk\n}\n", T, "INSERT INTO public.gone (id) VALUES (100)", "SELECT id FROM public.gone"),
        c("rename_table", "type T @wes_table @wes_uid(value: \"t\") {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n", "type T2 @wes_table @wes_uid(value: \"t\") {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n", WRITE, READ),
        c("add_column", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n  c: Int\n  d: Boolean! @wes_default(value: true)\n}\n", WRITE, READ),
        c("add_column_volatile_default", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n  u: ID! @wes_default(expr: \"gen_random_uuid()\")\n}\n", WRITE, READ),
        c("drop_column", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n}\n", WRITE, READ),
        c("rename_column", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String @wes_uid(value: \"b\")\n}\n", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  bee: String @wes_uid(value: \"b\")\n}\n", WRITE, READ),
        c("type_change_in_place", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String @wes_type(sql: \"varchar(10)\")\n}\n", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String @wes_type(sql: \"varchar(20)\")\n}\n", WRITE, READ),
        c("type_change_shadow", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: BigInt!\n  b: String\n}\n", "INSERT INTO public.t VALUES (100, 7, 'w')", "SELECT * FROM public.t WHERE id = 1"),
        c("set_not_null", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String!\n}\n", WRITE, READ),
        c("drop_not_null", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int\n  b: String\n}\n", WRITE, READ),
        c("set_default", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_default(value: 5)\n  b: String\n}\n", WRITE, READ),
        c("change_default", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_default(value: 5)\n  b: String\n}\n", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_default(value: 6)\n  b: String\n}\n", "INSERT INTO public.t (id, b) VALUES (100, 'w')", READ),
        c("drop_default_nullable", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String @wes_default(value: \"z\")\n}\n", T, "INSERT INTO public.t (id, a) VALUES (100, 7)", READ),
        c("drop_default_not_null", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_default(value: 5)\n  b: String\n}\n", T, "INSERT INTO public.t (id, b) VALUES (100, 'w')", READ),
        c("add_primary_key", "type T @wes_table {\n  id: Int!\n  a: Int!\n  b: String\n}\n", T, WRITE, READ),
        c("drop_primary_key", T, "type T @wes_table {\n  id: Int!\n  a: Int!\n  b: String\n}\n", WRITE, READ),
        c("replace_primary_key", T, "type T @wes_table {\n  id: Int!\n  a: Int! @wes_pk\n  b: String\n}\n", WRITE, READ),
        c("add_unique", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_unique\n  b: String\n}\n", WRITE, READ),
        c("drop_unique", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_unique\n  b: String\n}\n", T, WRITE, READ),
        c("replace_unique", "type T @wes_table @wes_unique(columns: [\"a\"], name: \"t_k\") {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n", "type T @wes_table @wes_unique(columns: [\"a\", \"b\"], name: \"t_k\") {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n", WRITE, READ),
        c("add_foreign_key", "type P @wes_table {\n  id: Int! @wes_pk\n}\ntype T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n  pId: Int\n}\n", "type P @wes_table {\n  id: Int! @wes_pk\n}\ntype T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n  pId: Int @wes_fk(ref: \"P.id\")\n}\n", WRITE, READ),
        c("drop_foreign_key", "type P @wes_table {\n  id: Int! @wes_pk\n}\ntype T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n  pId: Int @wes_fk(ref: \"P.id\")\n}\n", "type P @wes_table {\n  id: Int! @wes_pk\n}\ntype T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n  pId: Int\n}\n", WRITE, READ),
        c("replace_foreign_key", "type P @wes_table {\n  id: Int! @wes_pk\n}\ntype T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n  pId: Int @wes_fk(ref: \"P.id\")\n}\n", "type P @wes_table {\n  id: Int! @wes_pk\n}\ntype T @wes_table {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n  pId: Int @wes_fk(ref: \"P.id\", onDelete: CASCADE)\n}\n", WRITE, READ),
        c("add_identity_by_default", T, "type T @wes_table {\n  id: Int! @wes_pk @wes_identity\n  a: Int!\n  b: String\n}\n", WRITE, READ),
        c("add_identity_always", T, "type T @wes_table {\n  id: Int! @wes_pk @wes_identity(generated: ALWAYS)\n  a: Int!\n  b: String\n}\n", WRITE, READ),
        Case {
            name: "serial_to_identity",
            old: "type T @wes_table {\n  id: Int! @wes_pk @wes_serial\n  a: Int!\n  b: String\n}\n",
            new: "type T @wes_table {\n  id: Int! @wes_pk @wes_identity\n  a: Int!\n  b: String\n}\n",
            seed: "INSERT INTO public.t (a, b) VALUES (1, 'x'), (2, 'y');",
            write: "INSERT INTO public.t (a, b) VALUES (7, 'w')",
            read: READ,
            table: "public.t",
        },
        c("drop_identity_not_null", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_identity\n  b: String\n}\n", T, "INSERT INTO public.t (id, b) VALUES (100, 'w')", READ),
        c("drop_serial_not_null", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_serial\n  b: String\n}\n", T, "INSERT INTO public.t (id, b) VALUES (100, 'w')", READ),
        c("add_check", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_check(expr: \"a >= 0\")\n  b: String\n}\n", WRITE, READ),
        c("drop_check", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_check(expr: \"a >= 0\")\n  b: String\n}\n", T, WRITE, READ),
        c("replace_check", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_check(expr: \"a >= 0\", name: \"t_a\")\n  b: String\n}\n", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_check(expr: \"a >= -10\", name: \"t_a\")\n  b: String\n}\n", WRITE, READ),
        c("add_index", T, "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_index\n  b: String\n}\n", WRITE, READ),
        c("drop_index", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_index\n  b: String\n}\n", T, WRITE, READ),
        c("replace_index", "type T @wes_table @wes_index(columns: [\"a\"], name: \"t_i\") {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n", "type T @wes_table @wes_index(columns: [\"a\", \"b\"], name: \"t_i\") {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n", WRITE, READ),
        c("enable_rls_and_policy", T, "type T @wes_table @wes_rls(select: \"true\", insert: \"true\", update: \"true\", delete: \"true\") {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n", WRITE, READ),
        c("disable_rls", "type T @wes_table @wes_rls(select: \"true\", insert: \"true\", update: \"true\", delete: \"true\") {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n", T, WRITE, READ),
        c("alter_policy", "type T @wes_table @wes_rls(select: \"true\") {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n", "type T @wes_table @wes_rls(select: \"a >= 0\") {\n  id: Int! @wes_pk\n  a: Int!\n  b: String\n}\n", WRITE, READ),
        c("rename_constraint", "type T @wes_table @wes_uid(value: \"t\") {\n  id: Int! @wes_pk\n  a: Int! @wes_unique\n  b: String\n}\n", "type T @wes_table @wes_uid(value: \"t\") {\n  id: Int! @wes_pk\n  a: Int! @wes_unique(name: \"t_a_unique\")\n  b: String\n}\n", WRITE, READ),
        c("rename_index", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_index\n  b: String\n}\n", "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_index(name: \"t_a_renamed\")\n  b: String\n}\n", WRITE, READ),
    ]
}

fn load(name: &str, src: &str) -> Schema {
    let (s, d) = sdl::parse(name, src);
    s.unwrap_or_else(|| panic!("{name}: {d:#?}"))
}

/// `SELECT *` column names and types of a table, in order: the types as a driver sees
/// them (their OIDs; a length or precision limit is not part of what a driver receives).
fn shape(db: &TestDb, table: &str) -> Vec<String> {
    db.psql(&format!(
        "SELECT attname || ' ' || format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
    ))
    .lines()
    .map(str::to_string)
    .collect()
}

/// Runs the old-style write and read in a transaction that is rolled back.
fn old_code(db: &TestDb, case: &Case) -> Result<(), String> {
    db.try_psql(&format!(
        "BEGIN;\n{};\n{};\nROLLBACK;\n",
        case.write, case.read
    ))
    .map(|_| ())
}

#[test]
fn old_code_keeps_working_where_the_plan_says_it_does() {
    let mut failures = Vec::new();
    for case in cases() {
        let old = load("old.graphql", case.old);
        let new = load("new.graphql", case.new);
        let p = plan::plan(&old, &new);
        assert!(!p.has_errors(), "{}: {:#?}", case.name, p.diagnostics);
        assert!(!p.steps.is_empty(), "{}: no steps", case.name);
        let db = fresh_db(&format!("compat_{}", case.name));
        db.psql(&ddl::generate(&old));
        db.psql(case.seed);
        old_code(&db, &case)
            .unwrap_or_else(|e| panic!("{}: old code fails on the old schema: {e}", case.name));
        let before = shape(&db, case.table);
        let mut broken_by: Option<String> = None;
        for step in &p.steps {
            let sql = if step.transactional {
                format!("BEGIN;\n{}COMMIT;\n", step.sql)
            } else {
                step.sql.clone()
            };
            if let Err(e) = db.try_psql(&sql) {
                failures.push(format!("{}: step {} failed: {e}", case.name, step.id));
                break;
            }
            if step
                .hazards
                .iter()
                .any(|h| h.kind == HazardKind::BreaksClients && h.severity == Severity::Refuse)
            {
                broken_by.get_or_insert(step.id.clone());
            }
            let works = old_code(&db, &case);
            let table_gone = db
                .try_psql(&format!("SELECT '{}'::regclass", case.table))
                .is_err();
            let same_shape = !table_gone && {
                let now = shape(&db, case.table);
                now.len() >= before.len() && now[..before.len()] == before[..]
            };
            match (&broken_by, works, same_shape) {
                (None, Ok(()), true) => {}
                (None, Err(e), _) => failures.push(format!(
                    "{}: after {} (no step says clients break), old code fails: {e}",
                    case.name, step.id
                )),
                (None, Ok(()), false) => failures.push(format!(
                    "{}: after {} (no step says clients break), SELECT * changed from {before:?} to {:?}",
                    case.name,
                    step.id,
                    if table_gone { vec![] } else { shape(&db, case.table) }
                )),
                // A step said old code breaks: it must, one way or the other.
                (Some(_), Err(_), _) | (Some(_), Ok(()), false) => {}
                (Some(by), Ok(()), true) => {
                    // Only meaningful once everything that step announced has happened;
                    // check it at the end of the plan.
                    if step.id == p.steps.last().unwrap().id {
                        failures.push(format!(
                            "{}: {by} says old code breaks, but after the whole plan it still works",
                            case.name
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every kind of change, rolled back from the end of each phase before contract by its
/// inverse steps (as `wesley rollback` picks them): where old code still works at that
/// point, its write is committed first, and it must be there after the rollback, in the
/// old schema's catalog.
#[test]
fn old_code_writes_survive_a_rollback_from_every_phase() {
    use wesley::introspect::{parse_canonical, CANONICAL_QUERY};
    let mut failures = Vec::new();
    for case in cases() {
        let old = load("old.graphql", case.old);
        let new = load("new.graphql", case.new);
        let p = plan::plan(&old, &new);
        for until in wesley_e2e::exec::phases_before_contract(&p) {
            let what = format!("{} (until {until})", case.name);
            let db = fresh_db(&format!("compat_rb_{}", case.name));
            db.psql(&ddl::generate(&old));
            db.psql(case.seed);
            let mut ran = std::collections::BTreeSet::new();
            let mut broken = false;
            for step in wesley_e2e::exec::steps_until(&p, until) {
                let sql = if step.transactional {
                    format!("BEGIN;\n{}COMMIT;\n", step.sql)
                } else {
                    step.sql.clone()
                };
                db.psql(&sql);
                broken |= step
                    .hazards
                    .iter()
                    .any(|h| h.kind == HazardKind::BreaksClients && h.severity == Severity::Refuse);
                ran.insert(step.id.clone());
            }
            let wrote = !broken && db.try_psql(&format!("{};", case.write)).is_ok();
            if !broken && !wrote {
                failures.push(format!(
                    "{what}: old code's write fails although no step says so"
                ));
                continue;
            }
            let mut ok = true;
            let Some(inverses) = wesley_e2e::exec::inverses_to_run(&p, &ran) else {
                continue;
            };
            for inverse in inverses {
                let sql = if inverse.transactional {
                    format!("BEGIN;\n{}COMMIT;\n", inverse.sql)
                } else {
                    inverse.sql.clone()
                };
                if let Err(e) = db.try_psql(&sql) {
                    failures.push(format!("{what}: inverse step {} failed: {e}", inverse.id));
                    ok = false;
                    break;
                }
            }
            if !ok {
                continue;
            }
            let want = wesley_planner::canon::canonical(&old);
            let live = parse_canonical(&db.psql(CANONICAL_QUERY))
                .unwrap()
                .as_expected_by(&want.extensions);
            let stays = p
                .steps
                .iter()
                .any(|s| ran.contains(&s.id) && matches!(s.undo, plan::Undo::Stays(_)));
            if (stays && live.tables != want.tables) || (!stays && live != want) {
                failures.push(format!(
                    "{what}: the catalog is not the old schema's after the rollback"
                ));
            }
            if wrote {
                if let Err(e) = db.try_psql(&format!("{};", case.read)) {
                    failures.push(format!(
                        "{what}: old code's read fails after the rollback: {e}"
                    ));
                }
                let kept = db.psql(&format!(
                    "SELECT count(*) FROM {} WHERE id = 100",
                    case.table
                ));
                if kept.trim() != "1" {
                    failures.push(format!(
                        "{what}: the row written before the rollback is gone"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
