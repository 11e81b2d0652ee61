//! Every golden plan case, applied to a real PostgreSQL (15, or the version in
//! `WESLEY_PG_BINDIR`: `scripts/test-pg-matrix`): build the old schema, load rows, apply the
//! plan step by step, and check that
//! * the catalog then equals that of a database built from the new schema,
//! * data in kept columns is unchanged,
//! * every transactional step takes exactly the locks it is annotated with (strongest mode
//!   per table, read from `pg_locks` inside the step's own transaction).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wesley::introspect::{parse_canonical, CANONICAL_QUERY};
use wesley_e2e::{fresh_db, seed, TestDb};
use wesley_planner::model::Schema;
use wesley_planner::plan::{self, LockMode, Plan};
use wesley_planner::sql::{ident, qualified};
use wesley_planner::{canon, ddl, sdl};

fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../planner/tests/data/plan");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    assert!(out.len() >= 10, "expected the golden plan cases");
    out
}

fn load(path: &Path) -> Schema {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    sdl::parse(&path.display().to_string(), &text)
        .0
        .unwrap_or_else(|| panic!("{} is invalid", path.display()))
}

/// Strongest lock per user table held by this backend, after running `sql` in a
/// transaction that is rolled back.
fn observed_locks(db: &TestDb, sql: &str) -> Result<BTreeMap<String, LockMode>, String> {
    // Tables that exist before the step, by oid: a table the step drops is no longer in
    // pg_class when pg_locks is read.
    let tables: BTreeMap<String, String> = db
        .psql("SELECT c.oid, n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')")
        .lines()
        .filter_map(|l| l.split_once('|').map(|(o, n)| (o.to_string(), n.to_string())))
        .collect();
    let probe = format!(
        "BEGIN;\n{sql}\nSELECT l.relation, coalesce(n.nspname || '.' || c.relname, ''), coalesce(c.relkind IN ('r', 'p') \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema'), false), l.mode FROM pg_locks l \
         LEFT JOIN pg_class c ON c.oid = l.relation LEFT JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE l.pid = pg_backend_pid() AND l.granted AND l.relation IS NOT NULL;\nROLLBACK;\n"
    );
    let out = db.try_psql(&probe)?;
    let mut map: BTreeMap<String, LockMode> = BTreeMap::new();
    for line in out.lines().filter(|l| l.matches('|').count() == 3) {
        let parts: Vec<&str> = line.split('|').collect();
        let rel = match (tables.get(parts[0]), parts[2] == "t") {
            (Some(name), _) => name.clone(),
            (None, true) => parts[1].to_string(),
            (None, false) => continue,
        };
        let mode = parts[3];
        let mode =
            LockMode::parse(mode.trim()).unwrap_or_else(|| panic!("unknown lock mode {mode}"));
        let e = map.entry(rel).or_insert(mode);
        *e = (*e).max(mode);
    }
    Ok(map)
}

fn annotated(step: &plan::Step) -> BTreeMap<String, LockMode> {
    let mut map = BTreeMap::new();
    for l in &step.locks {
        let e = map.entry(l.relation.clone()).or_insert(l.mode);
        *e = (*e).max(l.mode);
    }
    map
}

/// A digest of the values of `cols` in every row of the table.
fn digest(db: &TestDb, schema: &str, table: &str, cols: &[String]) -> String {
    if cols.is_empty() {
        return db.psql(&format!(
            "SELECT count(*) FROM {}",
            qualified(schema, table)
        ));
    }
    let list: Vec<String> = cols.iter().map(|c| format!("{}::text", ident(c))).collect();
    db.psql(&format!(
        "SELECT count(*) || ':' || coalesce(md5(string_agg(r, '|' ORDER BY r)), '') FROM (SELECT concat_ws(',', {}) AS r FROM {}) s",
        list.join(", "),
        qualified(schema, table)
    ))
}

/// Columns present in both versions with the same name and type.
fn kept_columns(old: &Schema, new: &Schema) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for t in &old.tables {
        let Some(n) = new.table(&t.schema, &t.name) else {
            continue;
        };
        let cols = t
            .columns
            .iter()
            .filter(|c| {
                !wesley_e2e::exec::relabelled(old, new, c)
                    && n.column(&c.name).is_some_and(|x| x.ty == c.ty)
            })
            .map(|c| c.name.clone())
            .collect();
        out.push((t.schema.clone(), t.name.clone(), cols));
    }
    out
}

/// Runs one step as the executor does (a transactional one in its own transaction),
/// after checking that a transactional step takes exactly the locks it is annotated with.
/// An inverse step that drops something `IF EXISTS` is annotated with the locks of the
/// drop; where the object is already gone it may take less, never more.
fn run_step(db: &TestDb, name: &str, step: &plan::Step) -> Result<(), String> {
    if step.transactional {
        let seen = observed_locks(db, &step.sql)
            .map_err(|e| format!("{name}: step {} failed in the lock probe: {e}", step.id))?;
        let expected = annotated(step);
        let conditional = step.undoes.is_some() && step.sql.contains(" IF EXISTS ");
        let within = seen
            .iter()
            .all(|(rel, mode)| expected.get(rel).is_some_and(|m| mode <= m));
        if seen != expected && !(conditional && within) {
            return Err(format!(
                "{name}: step {} is annotated {expected:?} but took {seen:?}\n{}",
                step.id, step.sql
            ));
        }
        db.try_psql(&format!("BEGIN;\n{}COMMIT;\n", step.sql))
            .map_err(|e| format!("{name}: step {} failed: {e}", step.id))?;
    } else {
        db.try_psql(&step.sql)
            .map_err(|e| format!("{name}: step {} failed: {e}", step.id))?;
    }
    Ok(())
}

/// Applies the plan of a golden case up to the end of `until` (steps of later phases, and
/// steps that depend on one, wait), then runs the inverse steps of every step that ran
/// and of every `CONCURRENTLY` step, as `wesley rollback` picks them, each checked against
/// `pg_locks`. The database must then have the old schema's catalog (tables only when an
/// enum value stays) and every old column its old data.
fn roll_back_case(dir: &Path, until: plan::Phase) -> Result<(), String> {
    let name = format!(
        "{} (until {until})",
        dir.file_name().unwrap().to_string_lossy()
    );
    let old = load(&dir.join("old.graphql"));
    let new = load(&dir.join("new.graphql"));
    let p = plan::plan(&old, &new);
    let db = fresh_db("rollback");
    if db.refuses_as_too_old(&[&old, &new]) {
        // Refused before any change on this server (checked by `apply_pair`).
        return Ok(());
    }
    db.try_psql(&ddl::generate(&old))
        .map_err(|e| format!("{name}: old schema: {e}"))?;
    db.try_psql(
        &std::fs::read_to_string(dir.join("seed.sql")).unwrap_or_else(|_| seed::seed_sql(&old, 20)),
    )
    .map_err(|e| format!("{name}: seed: {e}"))?;
    let all = kept_columns(&old, &old);
    let before: Vec<String> = all.iter().map(|(s, t, c)| digest(&db, s, t, c)).collect();
    let mut ran = std::collections::BTreeSet::new();
    for step in wesley_e2e::exec::steps_until(&p, until) {
        run_step(&db, &name, step)?;
        ran.insert(step.id.clone());
    }
    // Refused (checked by the harness): nothing to run or compare.
    let Some(inverses) = wesley_e2e::exec::inverses_to_run(&p, &ran) else {
        return Ok(());
    };
    for inverse in inverses {
        run_step(&db, &name, inverse)?;
    }
    let want = canon::canonical(&old);
    let live = parse_canonical(&db.psql(CANONICAL_QUERY))
        .map_err(|e| e.to_string())?
        .as_expected_by(&want.extensions);
    let stays = p
        .steps
        .iter()
        .any(|s| ran.contains(&s.id) && matches!(s.undo, plan::Undo::Stays(_)));
    if (stays && live.tables != want.tables) || (!stays && live != want) {
        return Err(format!("{name}: catalog after the rollback differs from the old schema\n--- live\n{live:#?}\n--- want\n{want:#?}"));
    }
    let after: Vec<String> = all.iter().map(|(s, t, c)| digest(&db, s, t, c)).collect();
    for ((s, t, _), (b, a)) in all.iter().zip(before.iter().zip(&after)) {
        if b != a {
            return Err(format!(
                "{name}: data of {s}.{t} changed by apply and rollback ({b} → {a})"
            ));
        }
    }
    Ok(())
}

fn apply_case(dir: &Path) -> Result<(), String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let old = load(&dir.join("old.graphql"));
    let new = load(&dir.join("new.graphql"));
    let seed =
        std::fs::read_to_string(dir.join("seed.sql")).unwrap_or_else(|_| seed::seed_sql(&old, 20));
    apply_pair(&name, &old, &new, &seed)
}

/// Builds `old` with `seed` rows, applies the plan step by step (checking each
/// transactional step's locks), then compares catalog and kept data with `new`.
fn apply_pair(name: &str, old: &Schema, new: &Schema, seed: &str) -> Result<(), String> {
    let (old, new) = (old.clone(), new.clone());
    let p: Plan = plan::plan(&old, &new);
    if p.has_errors() {
        return Err(format!("{name}: the plan has errors: {:#?}", p.diagnostics));
    }
    let db = fresh_db("plan");
    if db.refuses_as_too_old(&[&old, &new]) {
        // `wesley apply` refuses such a plan before any change: it is not verified here.
        let major = db.server_major();
        let file = wesley_planner::planfile::to_plan_file(&p);
        if file.verified_on.contains(&major) {
            return Err(format!(
                "{name}: the plan needs a newer server but lists PostgreSQL {major} in verified_on"
            ));
        }
        return Ok(());
    }
    db.try_psql(&ddl::generate(&old))
        .map_err(|e| format!("{name}: old schema: {e}"))?;
    db.try_psql(seed)
        .map_err(|e| format!("{name}: seed: {e}\n{seed}"))?;
    let kept = kept_columns(&old, &new);
    let before: Vec<String> = kept.iter().map(|(s, t, c)| digest(&db, s, t, c)).collect();

    for step in &p.steps {
        run_step(&db, name, step)?;
    }

    let want = canon::canonical(&new);
    // Extensions the new schema no longer lists stay installed (never dropped).
    let live = parse_canonical(&db.psql(CANONICAL_QUERY))
        .map_err(|e| e.to_string())?
        .as_expected_by(&want.extensions);
    if live != want {
        return Err(format!("{name}: catalog after the plan differs from the new schema\n--- live\n{:#?}\n--- want\n{:#?}", live, want));
    }
    let after: Vec<String> = kept.iter().map(|(s, t, c)| digest(&db, s, t, c)).collect();
    for ((s, t, _), (b, a)) in kept.iter().zip(before.iter().zip(&after)) {
        if b != a {
            return Err(format!(
                "{name}: data of kept columns of {s}.{t} changed ({b} → {a})"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_plan_case_applies_with_the_annotated_locks() {
    let failures: Vec<String> = case_dirs()
        .iter()
        .filter_map(|d| apply_case(d).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every golden case, applied up to the end of each phase before contract and rolled back
/// by its inverse steps: the old catalog and data come back, and every inverse step takes
/// exactly the locks it is annotated with.
#[test]
fn every_plan_case_rolls_back_from_every_phase_with_the_annotated_locks() {
    let mut failures = Vec::new();
    for dir in case_dirs() {
        let old = load(&dir.join("old.graphql"));
        let new = load(&dir.join("new.graphql"));
        let p = plan::plan(&old, &new);
        for until in wesley_e2e::exec::phases_before_contract(&p) {
            if let Err(e) = roll_back_case(&dir, until) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} rollback(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The plan's psql script (`wesley plan --format sql`), run by psql alone, gets the same
/// result as the executor.
#[test]
fn every_plan_case_applies_as_one_psql_script() {
    use wesley_planner::{planfile, render};
    let mut failures = Vec::new();
    for dir in case_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let old = load(&dir.join("old.graphql"));
        let new = load(&dir.join("new.graphql"));
        let file = planfile::to_plan_file(&plan::plan(&old, &new));
        let script = render::sql::render(&file, &render::sql::SqlOptions::default());
        let db = fresh_db("script");
        if db.refuses_as_too_old(&[&old, &new]) {
            continue;
        }
        db.psql(&ddl::generate(&old));
        db.psql(
            &std::fs::read_to_string(dir.join("seed.sql"))
                .unwrap_or_else(|_| seed::seed_sql(&old, 20)),
        );
        if let Err(e) = db.try_psql(&script) {
            failures.push(format!("{name}: the SQL script failed: {e}"));
            continue;
        }
        let want = canon::canonical(&new);
        let live = parse_canonical(&db.psql(CANONICAL_QUERY))
            .unwrap()
            .as_expected_by(&want.extensions);
        if live != want {
            failures.push(format!(
                "{name}: after the SQL script the catalog differs from the new schema"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

mod generated {
    use super::*;
    use proptest::prelude::*;
    use wesley_planner::synth::{self, SynthOptions};

    /// 16 cases, or `WESLEY_SYNTH_CASES` to explore more.
    fn cases() -> u32 {
        std::env::var("WESLEY_SYNTH_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(16)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

        /// Random schema pairs (a synthetic schema and an evolved next version): the plan
        /// applies to seeded data, takes exactly its annotated locks, reaches the new
        /// schema and keeps the data of kept columns.
        #[test]
        fn evolved_schema_pairs_apply(tables in 2usize..7, seed in 0u64..10_000, change in 0u64..10_000, percent in 20u32..80) {
            let opts = SynthOptions { seed, ..SynthOptions::new(tables) };
            let old = sdl::parse("old.graphql", &synth::schema(&opts)).0.expect("synthetic schema parses");
            let new = sdl::parse("new.graphql", &synth::evolve(&opts, change, percent)).0.expect("evolved schema parses");
            let rows = seed::seed_sql(&old, 30);
            if let Err(e) = apply_pair(&format!("synth(tables={tables}, seed={seed}, change={change}, percent={percent})"), &old, &new, &rows) {
                prop_assert!(false, "{}", e);
            }
        }
    }
}

/// Schema pairs around foreign-key cycles and self-references (`synth::cycle_pair`):
/// tables of a cycle dropped, renamed, with renamed columns, type changes of plain and of
/// foreign-key columns, self-references dropped. Every pair plans without a dependency
/// cycle (E0104) and applies to seeded data with its annotated locks, reaching the new
/// schema. The seeds are fixed so a run never fails by chance;
/// `WESLEY_CYCLE_SEEDS=FROM..TO` explores others (0..400 pass).
#[test]
fn fk_cycle_pairs_apply() {
    let range = std::env::var("WESLEY_CYCLE_SEEDS")
        .ok()
        .and_then(|r| {
            let (a, b) = r.split_once("..")?;
            Some(a.parse::<u64>().ok()?..b.parse::<u64>().ok()?)
        })
        .unwrap_or(0..16);
    let mut failures = Vec::new();
    for seed in range {
        let (old_src, new_src) = wesley_planner::synth::cycle_pair(seed);
        let old = sdl::parse("old.graphql", &old_src)
            .0
            .expect("old schema parses");
        let new = sdl::parse("new.graphql", &new_src)
            .0
            .expect("new schema parses");
        let rows = seed::seed_sql(&old, 20);
        if let Err(e) = apply_pair(&format!("cycle(seed={seed})"), &old, &new, &rows) {
            failures.push(format!("{e}\n--- old\n{old_src}\n--- new\n{new_src}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// During a shadow-column type change, a write whose value does not convert is accepted
/// (the shadow stays NULL), and the check step refuses to switch, naming the problem.
#[test]
fn unconvertible_values_never_block_writes_and_stop_the_switch() {
    let old = sdl::parse(
        "old.graphql",
        "type Item @wes_table { id: ID! @wes_pk\n ref: String }",
    )
    .0
    .unwrap();
    let new = sdl::parse(
        "new.graphql",
        "type Item @wes_table { id: ID! @wes_pk\n ref: ID }",
    )
    .0
    .unwrap();
    let p = plan::plan(&old, &new);
    let db = fresh_db("unconvertible");
    db.psql(&ddl::generate(&old));
    db.psql("INSERT INTO item (id, ref) SELECT gen_random_uuid(), gen_random_uuid()::text FROM generate_series(1, 50)");
    let mut wrote = false;
    for step in &p.steps {
        let sql = if step.transactional {
            format!("BEGIN;\n{}COMMIT;\n", step.sql)
        } else {
            step.sql.clone()
        };
        if step.kind == plan::StepKind::CheckBackfill {
            assert!(wrote, "the sync trigger should exist before the check");
            let err = db
                .try_psql(&sql)
                .expect_err("the check must refuse to go on");
            assert!(err.contains("do not convert exactly to uuid"), "{err}");
            assert!(err.contains("1 rows"), "{err}");
            return;
        }
        db.try_psql(&sql)
            .unwrap_or_else(|e| panic!("step {} failed: {e}", step.id));
        if step.kind == plan::StepKind::CreateSyncTrigger {
            // The application keeps writing, including a value that will not convert.
            db.psql("INSERT INTO item (id, ref) VALUES (gen_random_uuid(), 'not-a-uuid')");
            db.psql("UPDATE item SET ref = ref WHERE ref = 'not-a-uuid'");
            wrote = true;
        }
    }
    panic!("the plan has no check step");
}
