//! `wesley rollback` against real PostgreSQL: every golden case applied up to the end of
//! each phase before contract (`wesley apply --until`) and rolled back, with rows written
//! in between; a rollback killed with SIGKILL and resumed; a rollback under concurrent
//! writes; and the refusals (a contract step ran, the plan never ran).

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wesley::introspect::{parse_canonical, CANONICAL_QUERY};
use wesley_e2e::exec::{
    case_refused_as_too_old, case_seed, database_with, each_case, invalid_indexes, kept_columns,
    kept_digests, kind, live_hash, live_hash_as, load_schema, plan_cases, shadow_seed, wait_for,
    Work,
};
use wesley_e2e::TestDb;
use wesley_planner::plan::Phase;
use wesley_planner::planfile::{PlanFile, ROLLBACK_PREFIX};
use wesley_planner::sql::literal;

/// The phases before contract that the plan has steps in.
fn phases(plan: &PlanFile) -> Vec<Phase> {
    let set: BTreeSet<Phase> = plan
        .steps
        .iter()
        .filter_map(|s| s.phase())
        .filter(|&p| p != Phase::Contract)
        .collect();
    set.into_iter().collect()
}

/// The `outcome` event's `reason`.
fn reason(events: &[Value]) -> String {
    events
        .iter()
        .rev()
        .find(|e| kind(e) == "outcome")
        .and_then(|e| e["reason"].as_str())
        .unwrap_or("")
        .to_string()
}

/// The database after a complete rollback: the plan's starting schema (every table hash,
/// and the whole hash unless a step whose undo is `stays` ran), no step of the plan or of
/// its rollback left in the ledger, and the plan's run marked `rolled_back`.
#[track_caller]
fn assert_rolled_back(db: &TestDb, plan: &PlanFile, stays: bool, what: &str) {
    let live = parse_canonical(db.psql(CANONICAL_QUERY).trim())
        .expect("canonical form")
        .as_expected_by(plan.from.extensions());
    let tables: std::collections::BTreeMap<String, String> = live
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.hash()))
        .collect();
    assert_eq!(
        Some(&tables),
        plan.from.table_hashes.as_ref(),
        "{what}: tables differ from the plan's starting schema"
    );
    if !stays {
        assert_eq!(live.hash(), plan.from.schema_hash, "{what}: schema hash");
    }
    let h = literal(&plan.plan_hash);
    let r = literal(&format!("{ROLLBACK_PREFIX}{}", plan.plan_hash));
    assert_eq!(
        db.psql(&format!(
            "SELECT count(*) FROM wesley.applied_steps WHERE plan_hash IN ({h}, {r})"
        ))
        .trim(),
        "0",
        "{what}: ledger rows left"
    );
    assert_eq!(
        db.psql(&format!(
            "SELECT status FROM wesley.runs WHERE plan_hash = {h}"
        ))
        .trim(),
        "rolled_back",
        "{what}: the plan's run"
    );
    assert_eq!(
        db.psql(&format!(
            "SELECT status FROM wesley.runs WHERE plan_hash = {r}"
        ))
        .trim(),
        "done",
        "{what}: the rollback's run"
    );
    assert_eq!(invalid_indexes(db), 0, "{what}: invalid index left");
}

/// Whether a step before contract whose undo is `refuses` (a serial column made identity)
/// runs up to `until`: the rollback must then be refused.
fn refused_until(plan: &PlanFile, until: Phase) -> bool {
    plan.steps.iter().any(|s| {
        s.phase().is_some_and(|p| p <= until)
            && s.undo.as_ref().is_some_and(|u| u.kind == "refuses")
    })
}

/// Whether a step whose undo is `stays` (an added enum value) is among the first `n`
/// phases' steps.
fn stays_until(plan: &PlanFile, until: Phase) -> bool {
    plan.steps.iter().any(|s| {
        s.phase().is_some_and(|p| p <= until) && s.undo.as_ref().is_some_and(|u| u.kind == "stays")
    })
}

fn roll_back_case(dir: &Path) {
    if case_refused_as_too_old(dir) {
        return;
    }
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let work = Work::new();
    let (old_path, new_path) = (dir.join("old.graphql"), dir.join("new.graphql"));
    let old = load_schema(&old_path);
    let (plan_path, plan) = work.plan(&old_path, &new_path, "plan.json");
    let all = kept_columns(&old, &old);
    let list = phases(&plan);
    for (n, &until) in list.iter().enumerate() {
        let what = format!("{name} until {until}");
        let db = database_with(&format!("rb_{name}"), &work, &old_path, &case_seed(dir, 50));
        let before = kept_digests(&db, &all);
        work.apply(&plan_path, &db, &["--until", until.as_str(), "--json"])
            .expect_code(0, &format!("{what}: wesley apply --until"));
        if refused_until(&plan, until) {
            let paused = live_hash(&db);
            let run = work.rollback(&plan_path, &db, &["--json"]);
            run.expect_code(3, &format!("{what}: wesley rollback"));
            assert_eq!(reason(&run.events()), "cannot_undo", "{what}");
            assert_eq!(
                live_hash(&db),
                paused,
                "{what}: a refused rollback changed the database"
            );
            continue;
        }
        let run = work.rollback(&plan_path, &db, &["--json"]);
        run.expect_code(0, &format!("{what}: wesley rollback"));
        assert_eq!(reason(&run.events()), "done", "{what}");
        assert_rolled_back(&db, &plan, stays_until(&plan, until), &what);
        assert_eq!(kept_digests(&db, &all), before, "{what}: data changed");
        // Once more: already rolled back, nothing changes.
        let again = work.rollback(&plan_path, &db, &["--json"]);
        again.expect_code(0, &format!("{what}: second wesley rollback"));
        assert_eq!(reason(&again.events()), "already_applied", "{what}");
        if n + 1 == list.len() {
            // A rolled-back plan applies again from the beginning.
            work.apply(&plan_path, &db, &[])
                .expect_code(0, &format!("{what}: wesley apply after the rollback"));
            assert_eq!(
                live_hash_as(&db, &plan.to),
                plan.to.schema_hash,
                "{what}: applied again"
            );
        }
    }
}

#[test]
fn every_golden_case_rolls_back_from_every_phase_before_contract() {
    let cases = plan_cases();
    let failures = each_case(&cases, roll_back_case);
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

const TYPES_OLD: &str = "type P @wes_table {\n  id: Int! @wes_pk\n}\n\
type T @wes_table {\n  id: Int! @wes_pk\n  a: Int! @wes_default(value: 0) @wes_index\n  code: String @wes_unique\n  pId: Int @wes_fk(ref: \"P.id\")\n  b: String @wes_uid(value: \"b\")\n  n: Int!\n  big: Int\n}\n";
const TYPES_NEW: &str = "type P @wes_table {\n  id: Int! @wes_pk\n}\n\
type T @wes_table {\n  id: Int! @wes_pk\n  a: BigInt! @wes_default(value: 0) @wes_index\n  code: String @wes_unique @wes_type(sql: \"varchar(40)\")\n  pId: BigInt @wes_fk(ref: \"P.id\")\n  bee: String @wes_uid(value: \"b\")\n  n: Int\n  big: BigInt\n  extra: Int\n}\n";
const TYPES_SEED: &str = "INSERT INTO public.p SELECT g FROM generate_series(1, 10) g;\n\
INSERT INTO public.t (id, a, code, p_id, b, n) SELECT g, g, 'c' || g, 1 + g % 10, 'b' || g, g FROM generate_series(1, 500) g;\n";

/// Rows written after the plan ran (in the new shape: new names, new types) are kept by
/// the rollback wherever the old schema can hold them, from every phase before contract.
#[test]
fn rows_written_between_apply_and_rollback_survive_it() {
    let work = Work::new();
    let (plan_path, plan) = work.plan_sdl(TYPES_OLD, TYPES_NEW, "types");
    let old_path = work.path("types.old.graphql");
    for until in phases(&plan) {
        let what = format!("until {until}");
        let db = database_with("rb_rows", &work, &old_path, TYPES_SEED);
        work.apply(&plan_path, &db, &["--until", until.as_str()])
            .expect_code(0, &format!("{what}: apply"));
        // The column names code uses at this point: the rename is an expand step.
        db.psql(
            "INSERT INTO public.t (id, a, code, p_id, bee, n) VALUES (1000, 7, 'w1000', 2, 'x', 5);\n\
             UPDATE public.t SET a = 8, code = 'u1', bee = 'y' WHERE id = 1;\n\
             DELETE FROM public.t WHERE id = 2;",
        );
        work.rollback(&plan_path, &db, &[])
            .expect_code(0, &format!("{what}: rollback"));
        assert_rolled_back(&db, &plan, false, &what);
        assert_eq!(
            db.psql("SELECT id, a, code, p_id, b, n FROM public.t WHERE id IN (1, 2, 3, 1000) ORDER BY id")
                .trim(),
            "1|8|u1|2|y|1\n3|3|c3|4|b3|3\n1000|7|w1000|2|x|5",
            "{what}: rows written before the rollback"
        );
        assert_eq!(
            db.psql("SELECT count(*) FROM public.t").trim(),
            "500",
            "{what}"
        );
    }
}

/// A rollback that meets data the old schema cannot hold (a NULL written where the plan
/// had dropped NOT NULL) stops at a recorded step with the reason; once the row is fixed,
/// the same command resumes and finishes.
#[test]
fn a_rollback_stopped_by_data_resumes_once_it_is_fixed() {
    let work = Work::new();
    let (plan_path, plan) = work.plan_sdl(TYPES_OLD, TYPES_NEW, "types");
    let db = database_with(
        "rb_null",
        &work,
        &work.path("types.old.graphql"),
        TYPES_SEED,
    );
    work.apply(&plan_path, &db, &["--until", "switch"])
        .expect_code(0, "apply");
    // Two things the old schema cannot hold, written after the switch: a NULL where the
    // plan had dropped NOT NULL, and in a nullable column a value the old type cannot hold
    // (it did not come back). Each stops the rollback at a recorded step with the reason,
    // in whichever order the rollback meets them; once fixed, the same command resumes.
    db.psql(
        "INSERT INTO public.t (id, a, n) VALUES (2000, 1, NULL);\n\
         UPDATE public.t SET big = 5000000000 WHERE id = 3;",
    );
    let (mut saw_null, mut saw_lossy) = (false, false);
    for attempt in 1..=3 {
        let run = work.rollback(&plan_path, &db, &["--json"]);
        if run.code == Some(0) {
            break;
        }
        run.expect_code(1, &format!("rollback attempt {attempt}"));
        assert_eq!(reason(&run.events()), "step");
        let status = work.wesley(&[
            "status",
            &plan_path.display().to_string(),
            "--database-url",
            &db.url,
        ]);
        status.expect_code(0, "status");
        assert!(
            status.stdout.contains("Rollback (") && status.stdout.contains("failed"),
            "status shows the rollback's progress:\n{}",
            status.stdout
        );
        if run.stdout.contains("do not convert back to integer") {
            saw_lossy = true;
            assert_eq!(
                db.psql("SELECT big FROM public.t WHERE id = 3").trim(),
                "5000000000"
            );
            db.psql("UPDATE public.t SET big = 5 WHERE id = 3;");
        } else if run.stdout.contains("23514") || run.stdout.contains("violated") {
            saw_null = true;
            db.psql("UPDATE public.t SET n = 0 WHERE id = 2000;");
        } else {
            panic!(
                "attempt {attempt} failed for another reason:\n{}",
                run.stdout
            );
        }
    }
    assert!(saw_null && saw_lossy, "both obstacles stop the rollback");
    assert_rolled_back(&db, &plan, false, "resumed");
    assert_eq!(
        db.psql("SELECT n, big FROM public.t WHERE id IN (3, 2000) ORDER BY id")
            .trim(),
        "3|5\n0|"
    );
}

/// Rolling back an in-place type change narrows the column again: a value written since
/// that the narrower type would round stops the rollback instead of being rounded.
#[test]
fn a_rollback_never_rounds_a_value_written_since() {
    let work = Work::new();
    let old = "type T @wes_table {\n  id: Int! @wes_pk\n  amount: Decimal @wes_type(sql: \"numeric(10,2)\")\n}\n";
    let new = "type T @wes_table {\n  id: Int! @wes_pk\n  amount: Decimal @wes_type(sql: \"numeric\")\n}\n";
    let (plan_path, plan) = work.plan_sdl(old, new, "num");
    let db = database_with(
        "rb_round",
        &work,
        &work.path("num.old.graphql"),
        "INSERT INTO public.t VALUES (1, 1.25);",
    );
    work.apply(&plan_path, &db, &[]).expect_code(0, "apply");
    db.psql("INSERT INTO public.t VALUES (2, 1.2345);");
    let stopped = work.rollback(&plan_path, &db, &["--json"]);
    stopped.expect_code(1, "rollback over a value it would round");
    assert!(
        stopped.stdout.contains("would change as numeric(10,2)"),
        "{}",
        stopped.stdout
    );
    assert_eq!(
        db.psql("SELECT amount FROM public.t WHERE id = 2").trim(),
        "1.2345"
    );
    db.psql("UPDATE public.t SET amount = 1.23 WHERE id = 2;");
    work.rollback(&plan_path, &db, &[])
        .expect_code(0, "rollback after the fix");
    assert_rolled_back(&db, &plan, false, "numeric");
}

/// SIGKILL at several points of a rollback of the shadow-column golden case, each time
/// followed by the same command: it resumes where it stopped and ends like an
/// uninterrupted rollback.
#[test]
fn a_killed_rollback_resumes_to_the_same_result() {
    let dir = wesley_e2e::exec::plan_cases_dir().join("type_change_shadow");
    let work = Work::new();
    let (old_path, new_path) = (dir.join("old.graphql"), dir.join("new.graphql"));
    let old = load_schema(&old_path);
    let (plan_path, plan) = work.plan(&old_path, &new_path, "plan.json");
    let db = database_with("rb_kill", &work, &old_path, &shadow_seed(3000));
    let all = kept_columns(&old, &old);
    let before = kept_digests(&db, &all);
    work.apply(&plan_path, &db, &["--until", "switch"])
        .expect_code(0, "apply --until switch");
    let mut kills = 0;
    for k in [1usize, 3, 6, 9] {
        let (run, killed) = work.killing("rollback", &plan_path, &db, &[], |_, seen| {
            seen.iter().filter(|e| kind(e) == "step_done").count() >= k
        });
        if !killed {
            run.expect_code(0, "last rollback run");
            break;
        }
        kills += 1;
    }
    assert!(
        kills >= 2,
        "the rollback should have been killed at least twice"
    );
    work.rollback(&plan_path, &db, &[])
        .expect_code(0, "rollback after the kills");
    assert_rolled_back(&db, &plan, false, "after SIGKILLs");
    assert_eq!(kept_digests(&db, &all), before, "data after the kills");
}

/// Writers insert and update rows the whole time a rollback runs (through the switch
/// back, the validations and the drops): no write fails, and every committed write is
/// there afterwards.
#[test]
fn a_rollback_under_concurrent_writes_keeps_every_committed_write() {
    let work = Work::new();
    let (plan_path, plan) = work.plan_sdl(TYPES_OLD, TYPES_NEW, "types");
    let db = database_with(
        "rb_load",
        &work,
        &work.path("types.old.graphql"),
        TYPES_SEED,
    );
    work.apply(&plan_path, &db, &["--until", "switch"])
        .expect_code(0, "apply --until switch");
    let stop = AtomicBool::new(false);
    let running = AtomicBool::new(false);
    let (committed, failed, during) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut committed = Vec::new();
            let mut failed = Vec::new();
            let mut during = 0;
            let mut id = 10_000;
            while !stop.load(Ordering::Relaxed) {
                let overlaps = running.load(Ordering::Relaxed);
                // Names that exist before and after the swap back: `a` is one column or
                // the other, never absent.
                let sql = format!(
                    "INSERT INTO public.t (id, a, n) VALUES ({id}, {id}, 1);\nUPDATE public.t SET a = a + 1 WHERE id = {};",
                    1 + id % 500
                );
                match db.try_psql(&sql) {
                    Ok(_) => {
                        committed.push(id);
                        if overlaps && running.load(Ordering::Relaxed) {
                            during += 1;
                        }
                    }
                    Err(e) => failed.push(format!("{id}: {e}")),
                }
                id += 1;
            }
            (committed, failed, during)
        });
        // The writer is writing before the rollback starts, and until it has ended.
        assert!(
            wait_for(
                &db,
                "SELECT count(*) >= 3 FROM public.t WHERE id >= 10000",
                "t",
                Duration::from_secs(60)
            ),
            "the writer does not write"
        );
        running.store(true, Ordering::Relaxed);
        let run = work.rollback(&plan_path, &db, &[]);
        running.store(false, Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        let result = writer.join().unwrap();
        run.expect_code(0, "rollback under writes");
        result
    });
    assert!(
        failed.is_empty(),
        "writes failed during the rollback: {failed:#?}"
    );
    assert!(
        during >= 1,
        "the writer should have committed writes while the rollback ran ({} in all)",
        committed.len()
    );
    assert_rolled_back(&db, &plan, false, "under writes");
    let present: BTreeSet<i64> = db
        .psql("SELECT id FROM public.t WHERE id >= 10000 AND a = id")
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let missing: Vec<&i64> = committed.iter().filter(|i| !present.contains(i)).collect();
    assert!(missing.is_empty(), "committed writes lost: {missing:?}");
}

/// Once a contract step has run the old shape is gone: refused (exit 3, `cannot_undo`),
/// nothing changed. A plan that never ran on the database: refused (`not_applied`).
#[test]
fn rollback_is_refused_after_contract_and_for_a_plan_that_never_ran() {
    let work = Work::new();
    let old = "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int\n  b: Int\n}\n";
    let new = "type T @wes_table {\n  id: Int! @wes_pk\n  a: Int\n}\n";
    let (plan_path, plan) = work.plan_sdl(old, new, "drop");
    let db = database_with("rb_refused", &work, &work.path("drop.old.graphql"), "");
    let never = work.rollback(&plan_path, &db, &["--json"]);
    never.expect_code(3, "rollback of a plan that never ran");
    assert_eq!(reason(&never.events()), "not_applied");
    work.apply(&plan_path, &db, &[]).expect_code(0, "apply");
    let run = work.rollback(&plan_path, &db, &["--json"]);
    run.expect_code(3, "rollback after contract");
    assert_eq!(reason(&run.events()), "cannot_undo");
    assert!(run.stdout.contains("contract step"), "{}", run.stdout);
    assert_eq!(live_hash(&db), plan.to.schema_hash, "nothing changed");

    // A plan applied on top of another: the one below cannot be rolled back first.
    let (first, _) = work.plan_sdl(
        "type U @wes_table {\n  id: Int! @wes_pk\n}\n",
        "type U @wes_table {\n  id: Int! @wes_pk\n  a: Int\n}\n",
        "first",
    );
    let (second, _) = work.plan_sdl(
        "type U @wes_table {\n  id: Int! @wes_pk\n  a: Int\n}\n",
        "type U @wes_table {\n  id: Int! @wes_pk\n  a: Int\n  b: Int\n}\n",
        "second",
    );
    let db = database_with("rb_stack", &work, &work.path("first.old.graphql"), "");
    work.apply(&first, &db, &[]).expect_code(0, "apply first");
    work.apply(&second, &db, &[]).expect_code(0, "apply second");
    let below = work.rollback(&first, &db, &["--json"]);
    below.expect_code(3, "rollback of the plan below");
    assert_eq!(reason(&below.events()), "cannot_undo");
    assert!(
        below.stdout.contains("later plans ran on top of it"),
        "{}",
        below.stdout
    );
    work.rollback(&second, &db, &[])
        .expect_code(0, "rollback of the plan on top");
    work.rollback(&first, &db, &[])
        .expect_code(0, "then the plan below");
    // Once more, with a later plan's rollback recorded after it: already rolled back.
    let again = work.rollback(&first, &db, &["--json"]);
    again.expect_code(0, "second rollback of the plan below");
    assert_eq!(reason(&again.events()), "already_applied");
    assert_eq!(
        db.psql("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.u'::regclass AND attnum > 0 AND NOT attisdropped").trim(),
        "id"
    );
}

/// Rows keep their enum value through a label's rename and its rollback: stored by OID,
/// they read with the new label after apply and with the old one after the rollback.
#[test]
fn renamed_enum_labels_follow_the_rows_and_come_back() {
    let dir = wesley_e2e::exec::plan_cases_dir().join("enum_rename_value");
    let work = Work::new();
    let (old_path, new_path) = (dir.join("old.graphql"), dir.join("new.graphql"));
    let (plan_path, plan) = work.plan(&old_path, &new_path, "plan.json");
    let db = database_with(
        "rb_enum_label",
        &work,
        &old_path,
        "INSERT INTO public.doc (id, status) VALUES (gen_random_uuid(), 'DRAFT'), (gen_random_uuid(), 'PUBLISHED');\n\
         INSERT INTO public.doc (id) VALUES (gen_random_uuid());",
    );
    let labels = |db: &TestDb| {
        db.psql("SELECT string_agg(status::text, ',' ORDER BY status::text) FROM public.doc")
            .trim()
            .to_string()
    };
    work.apply(&plan_path, &db, &[]).expect_code(0, "apply");
    assert_eq!(labels(&db), "PENDING,PENDING,PUBLISHED");
    db.psql("INSERT INTO public.doc (id, status) VALUES (gen_random_uuid(), 'PENDING');");
    work.rollback(&plan_path, &db, &[])
        .expect_code(0, "rollback");
    assert_eq!(labels(&db), "DRAFT,DRAFT,DRAFT,PUBLISHED");
    // The added label REVIEW stays (PostgreSQL cannot remove it); every table is as before.
    assert_rolled_back(&db, &plan, true, "enum labels");
}
