//! Batched backfills on a real PostgreSQL, through `wesley apply --json`: a shadow-column
//! type change (`integer` → `bigint`) whose backfill must convert every row, and report
//! every batch (`backfill_batch`) with the size it was given and the size it gives the
//! next one.
//!
//! * Adaptive (the default): each next size is the one [`next_batch_rows`] computes from
//!   the batch's reported duration, within the bounds. No assertion is made on how long
//!   anything takes: the sizes are checked against the durations the run reported.
//! * Fixed (`--batch-size`): every batch walks that many keys.

use serde_json::Value;
use std::time::Duration;
use wesley::apply::backfill::{next_batch_rows, target_batch, MAX_BATCH_ROWS, MIN_BATCH_ROWS};
use wesley_e2e::exec::{database_with, kind, Run, Work};
use wesley_e2e::TestDb;

const OLD: &str =
    "type Account @wes_table {\n  id: Int! @wes_pk\n  balance: Int!\n  note: String\n}\n";
const NEW: &str = "type Account @wes_table {\n  id: Int! @wes_pk\n  balance: Int! @wes_type(sql: \"bigint\")\n  note: String\n}\n";

/// Rows in the table: enough for many batches at the plan's batch size.
const ROWS: i64 = 30_000;

/// A table of [`ROWS`] accounts (balance `id * 7 - 3`, ids with gaps), the plan to
/// `bigint`, and the run of that plan with `extra` arguments and `--json`.
fn backfilled(prefix: &str, extra: &[&str]) -> (TestDb, Run, u32) {
    let work = Work::new();
    let o = work.write("old.graphql", OLD);
    let n = work.write("new.graphql", NEW);
    let seed = format!(
        "INSERT INTO public.account (id, balance, note) SELECT g * 3, g * 21 - 3, 'n' || g FROM generate_series(1, {ROWS}) g;\nANALYZE public.account;"
    );
    let db = database_with(prefix, &work, &o, &seed);
    let (plan, file) = work.plan(&o, &n, "plan.json");
    let plan_batch = file
        .steps
        .iter()
        .find_map(|s| s.backfill.as_ref().map(|b| b.batch_size))
        .expect("the plan has a backfill step");
    let mut args = extra.to_vec();
    args.push("--json");
    let run = work.apply(&plan, &db, &args);
    run.expect_code(0, "the backfill plan");
    (db, run, plan_batch)
}

/// Every row converted: the column is `bigint` and every value is the old one.
fn assert_every_row_converted(db: &TestDb) {
    assert_eq!(
        db.psql("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.account'::regclass AND attname = 'balance'")
            .trim(),
        "bigint"
    );
    assert_eq!(
        db.psql(
            "SELECT count(*), count(*) FILTER (WHERE balance = id * 7 - 3) FROM public.account"
        )
        .trim(),
        format!("{ROWS}|{ROWS}")
    );
}

/// The run's `backfill_batch` events, checked to number 1, 2, … with each one's
/// `next_batch_rows` the next one's `batch_rows`, the last one's `null`, and their rows
/// adding up to the table's.
fn batches(run: &Run) -> Vec<Value> {
    let batches: Vec<Value> = run
        .events()
        .into_iter()
        .filter(|e| kind(e) == "backfill_batch")
        .collect();
    assert!(batches.len() > 1, "batches reported:\n{}", run.stdout);
    for (i, b) in batches.iter().enumerate() {
        assert_eq!(b["batch"].as_i64(), Some(i as i64 + 1), "{b}");
        match batches.get(i + 1) {
            Some(next) => assert_eq!(b["next_batch_rows"], next["batch_rows"], "{b} → {next}"),
            None => assert!(b["next_batch_rows"].is_null(), "{b}"),
        }
    }
    let rows: i64 = batches.iter().map(|b| b["rows"].as_i64().unwrap()).sum();
    assert_eq!(rows, ROWS, "rows over every batch");
    let progress = run
        .events()
        .into_iter()
        .rfind(|e| kind(e) == "backfill_progress")
        .expect("a backfill_progress event");
    assert_eq!(progress["rows_done"].as_i64(), Some(ROWS), "{progress}");
    assert_eq!(
        progress["batches"].as_i64(),
        Some(batches.len() as i64),
        "{progress}"
    );
    batches
}

#[test]
fn an_adaptive_backfill_converts_every_row_and_sizes_each_batch_from_the_last() {
    let (db, run, plan_batch) = backfilled("backfill_adaptive", &[]);
    assert_every_row_converted(&db);
    let batches = batches(&run);
    assert_eq!(
        batches[0]["batch_rows"].as_u64(),
        Some(u64::from(plan_batch.clamp(MIN_BATCH_ROWS, MAX_BATCH_ROWS))),
        "the first batch has the plan's size"
    );
    // `wesley apply`'s defaults: lock_timeout 200ms, statement_timeout 1m.
    let target = target_batch(Duration::from_millis(200), Duration::from_secs(60));
    for b in &batches[..batches.len() - 1] {
        let rows = b["batch_rows"].as_u64().unwrap() as u32;
        let took = Duration::from_secs_f64(b["ms"].as_f64().unwrap() / 1000.0);
        let next = b["next_batch_rows"].as_u64().unwrap() as u32;
        assert!((MIN_BATCH_ROWS..=MAX_BATCH_ROWS).contains(&next), "{b}");
        // The duration went through JSON: allow its last digit to round either way.
        let want = next_batch_rows(rows, took, target);
        assert!(
            next.abs_diff(want) <= 1,
            "{b}: the next batch should have {want} rows"
        );
    }
}

#[test]
fn a_fixed_batch_size_is_kept_for_every_batch() {
    let (db, run, _) = backfilled("backfill_fixed", &["--batch-size", "700"]);
    assert_every_row_converted(&db);
    let batches = batches(&run);
    assert!(
        batches
            .iter()
            .all(|b| b["batch_rows"].as_i64() == Some(700)),
        "every batch walks 700 keys"
    );
    assert_eq!(batches.len() as i64, (ROWS + 699) / 700);
    assert!(batches[..batches.len() - 1]
        .iter()
        .all(|b| b["rows"].as_i64() == Some(700)));
}
