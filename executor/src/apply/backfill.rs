//! Batched backfills: many short transactions over primary-key ranges, each recording its
//! progress in `wesley.backfill_progress` within the same transaction, so a crash resumes
//! at the next batch. The walk is bounded by the largest key present when the backfill
//! first started, so a busy table still finishes.
//!
//! A batch is a key range: its end is found first, by a read of the primary-key index
//! alone (`ORDER BY key OFFSET rows - 1 LIMIT 1`), then one `UPDATE` changes the rows of
//! the range (`key > last AND key <= end`, an index range scan). Unless the number of
//! rows is fixed (`--batch-size`), it follows the time batches take: starting from the
//! plan's batch size, each batch is sized from the rate of the one before so that its
//! transaction takes about [`target_batch`] (at most [`TARGET_BATCH`], and well under the
//! run's `lock_timeout` and `statement_timeout`), within [`MIN_BATCH_ROWS`] and
//! [`MAX_BATCH_ROWS`] ([`next_batch_rows`]). A batch holds its rows' locks until it
//! commits, so this is also about the longest a write to one of them waits. Every batch is
//! reported (`backfill_batch`, JSON only), so its size and duration can be checked.

use super::events::{Event, Reporter};
use crate::error::DbError;
use std::time::{Duration, Instant};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;
use wesley_planner::plan::Backfill;
use wesley_planner::sql::{ident, qualified};

/// How long an adaptive batch's transaction should take at most (the target is lower
/// when the run's timeouts are short: [`target_batch`]).
pub const TARGET_BATCH: Duration = Duration::from_millis(150);
/// The shortest target an adaptive batch is given, however short the timeouts.
pub const MIN_TARGET_BATCH: Duration = Duration::from_millis(10);
/// The fewest rows an adaptive batch walks.
pub const MIN_BATCH_ROWS: u32 = 10;
/// The most rows an adaptive batch walks (bounds the locks and WAL of one transaction).
pub const MAX_BATCH_ROWS: u32 = 100_000;

/// How the batches of a backfill run.
pub struct Limits {
    /// Rows in the first batch (`--batch-size`, else the plan's).
    pub batch_size: u32,
    /// Whether later batches are sized to take about [`TARGET_BATCH`] (false: every batch
    /// walks `batch_size` rows).
    pub adaptive: bool,
    /// Pause between batches.
    pub batch_delay: Duration,
    /// `lock_timeout` of each batch.
    pub lock_timeout: Duration,
    /// `statement_timeout` of each batch.
    pub statement_timeout: Duration,
}

/// The duration an adaptive batch aims at: [`TARGET_BATCH`], but at most half the
/// `lock_timeout` (a write that waits for a batch's row should wait less than Wesley's own
/// steps may) and a tenth of the `statement_timeout` (so a batch slower than expected
/// still ends well before it is cancelled); zero timeouts are no limit. Never below
/// [`MIN_TARGET_BATCH`].
pub fn target_batch(lock_timeout: Duration, statement_timeout: Duration) -> Duration {
    let mut target = TARGET_BATCH;
    if !lock_timeout.is_zero() {
        target = target.min(lock_timeout / 2);
    }
    if !statement_timeout.is_zero() {
        target = target.min(statement_timeout / 10);
    }
    target.max(MIN_TARGET_BATCH)
}

/// The number of rows of the next adaptive batch, from the last one: it walked `rows`
/// keys and its transaction took `took`. The rows are scaled by `target / took` (the
/// rate the last batch ran at, kept for the next), grown at most twofold at a time (one
/// fast batch is weak evidence), shrunk as far as that says at once (a slow batch is a
/// reason to back off now), and kept within [`MIN_BATCH_ROWS`] and [`MAX_BATCH_ROWS`].
pub fn next_batch_rows(rows: u32, took: Duration, target: Duration) -> u32 {
    let took = took.as_secs_f64().max(1e-4);
    let scaled = f64::from(rows.max(1)) * target.as_secs_f64() / took;
    let grown = scaled.min(f64::from(rows.max(1)) * 2.0);
    (grown.round() as u32).clamp(MIN_BATCH_ROWS, MAX_BATCH_ROWS)
}

/// Runs (or resumes) the backfill until every batch is done; returns the rows updated
/// over every run of this plan.
pub async fn run(
    c: &mut Client,
    plan_hash: &str,
    step_id: &str,
    b: &Backfill,
    limits: &Limits,
    rep: &Reporter,
) -> Result<i64, DbError> {
    let table = qualified(&b.schema, &b.table);
    let mut key_types: Vec<String> = Vec::new();
    for k in &b.key {
        let row = c
            .query_typed_one(
                "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
                &[(&table, Type::TEXT), (k, Type::TEXT)],
            )
            .await?;
        key_types.push(row.get::<_, String>(0));
    }
    let keys = b
        .key
        .iter()
        .map(|k| ident(k))
        .collect::<Vec<_>>()
        .join(", ");
    let keys_desc = b
        .key
        .iter()
        .map(|k| format!("{} DESC", ident(k)))
        .collect::<Vec<_>>()
        .join(", ");
    let as_text = b
        .key
        .iter()
        .map(|k| format!("{}::text", ident(k)))
        .collect::<Vec<_>>()
        .join(", ");
    // `ROW($i::text::type, ...)`: a key passed as text, from parameter `first` on.
    let row_of = |first: usize| -> String {
        let params: Vec<String> = key_types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::text::{t}", i + first))
            .collect();
        format!("ROW({})", params.join(", "))
    };
    let own = crate::usage::OWN_MARKER;

    // The bound: recorded on first start, reused on resume.
    let existing = c
        .query_typed_opt("SELECT upper_key, last_key, rows_done, batches FROM wesley.backfill_progress WHERE plan_hash = $1 AND step_id = $2", &[(&plan_hash, Type::TEXT), (&step_id, Type::TEXT)])
        .await?;
    let (upper, mut last, mut rows_done, mut batches): (
        Option<Vec<String>>,
        Option<Vec<String>>,
        i64,
        i64,
    ) = match existing {
        Some(r) => (r.get(0), r.get(1), r.get(2), r.get(3)),
        None => {
            let upper: Option<Vec<String>> = c
                .query_typed_opt(
                    &format!(
                        "{own} SELECT ARRAY[{as_text}] FROM {table} ORDER BY {keys_desc} LIMIT 1"
                    ),
                    &[],
                )
                .await?
                .map(|r| r.get(0));
            c.execute_typed(
                "INSERT INTO wesley.backfill_progress (plan_hash, step_id, upper_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[(&plan_hash, Type::TEXT), (&step_id, Type::TEXT), (&upper, Type::TEXT_ARRAY)],
            )
            .await?;
            (upper, None, 0, 0)
        }
    };
    let Some(upper) = upper else { return Ok(0) }; // empty table
    let total: Option<i64> = c
        .query_typed_one("SELECT CASE WHEN reltuples >= 0 THEN reltuples::bigint END FROM pg_class WHERE oid = to_regclass($1)", &[(&table, Type::TEXT)])
        .await
        .ok()
        .and_then(|r| r.get(0));
    let n = b.key.len();
    // Parameters: the batch's lower key (exclusive) when there is one, then its upper
    // key (inclusive), then for the end's search the offset.
    let lower = |from_last: bool| {
        if from_last {
            format!("ROW({keys}) > {} AND ", row_of(1))
        } else {
            String::new()
        }
    };
    let end_sql = |from_last: bool| {
        let at = if from_last { n + 1 } else { 1 };
        format!(
            "{own} SELECT ARRAY[{as_text}] FROM {table} WHERE {}ROW({keys}) <= {} ORDER BY {keys} OFFSET ${}::bigint LIMIT 1",
            lower(from_last),
            row_of(at),
            at + n
        )
    };
    let update_sql = |from_last: bool| {
        let at = if from_last { n + 1 } else { 1 };
        format!(
            "{own} UPDATE {table} SET {set} WHERE {}ROW({keys}) <= {} AND ({pred})",
            lower(from_last),
            row_of(at),
            set = b.set,
            pred = b.predicate,
        )
    };
    // Each batch also says it is the backfill: the shadow's sync trigger then skips
    // converting again what the batch's own UPDATE just converted.
    let timeouts = format!(
        "SET LOCAL lock_timeout = '{}'; SET LOCAL statement_timeout = '{}'; SET LOCAL {} = 'on'",
        crate::duration::to_pg(limits.lock_timeout),
        crate::duration::to_pg(limits.statement_timeout),
        wesley_planner::plan::BACKFILL_SETTING
    );

    let started = Instant::now();
    let rows_at_start = rows_done;
    let target = target_batch(limits.lock_timeout, limits.statement_timeout);
    let mut size = if limits.adaptive {
        limits.batch_size.clamp(MIN_BATCH_ROWS, MAX_BATCH_ROWS)
    } else {
        limits.batch_size.max(1)
    };
    let mut longest_batch_ms = 0f64;
    loop {
        // One transaction per batch, under the step's timeouts: finding the batch's end
        // reads the key index too, and must not wait for a lock without limit.
        let batch_started = Instant::now();
        let tx = c.transaction().await?;
        tx.batch_execute(&timeouts).await?;
        // The batch's end: the `size`-th key after the last one, or the bound.
        let from_last = last.is_some();
        let offset = i64::from(size) - 1;
        let mut params: Vec<String> = last.clone().unwrap_or_default();
        params.extend(upper.iter().cloned());
        let end: Option<Vec<String>> = {
            let mut refs: Vec<(&(dyn ToSql + Sync), Type)> = params
                .iter()
                .map(|p| (p as &(dyn ToSql + Sync), Type::TEXT))
                .collect();
            refs.push((&offset, Type::INT8));
            tx.query_typed_opt(&end_sql(from_last), &refs)
                .await?
                .map(|r| r.get(0))
        };
        // Fewer than `size` keys are left: this batch runs to the bound and is the last.
        let (end, is_last) = match end {
            Some(e) => (e, false),
            None => (upper.clone(), true),
        };
        let mut params: Vec<String> = last.clone().unwrap_or_default();
        params.extend(end.iter().cloned());
        let refs: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), Type::TEXT))
            .collect();
        let updated = tx.execute_typed(&update_sql(from_last), &refs).await? as i64;
        tx.execute_typed(
            "UPDATE wesley.backfill_progress SET last_key = $3, rows_done = rows_done + $4, batches = batches + 1 WHERE plan_hash = $1 AND step_id = $2",
            &[
                (&plan_hash, Type::TEXT),
                (&step_id, Type::TEXT),
                (&end, Type::TEXT_ARRAY),
                (&updated, Type::INT8),
            ],
        )
        .await?;
        tx.commit().await?;
        let took = batch_started.elapsed();
        longest_batch_ms = longest_batch_ms.max(took.as_secs_f64() * 1000.0);

        rows_done += updated;
        batches += 1;
        last = Some(end);
        let next = if limits.adaptive {
            next_batch_rows(size, took, target)
        } else {
            size
        };
        rep.emit(Event::BackfillBatch {
            step: step_id.to_string(),
            batch: batches,
            batch_rows: size.into(),
            rows: updated,
            ms: took.as_secs_f64() * 1000.0,
            next_batch_rows: (!is_last).then_some(next.into()),
        });
        let done_now = (rows_done - rows_at_start).max(0) as f64;
        let eta = if is_last {
            Some(0.0)
        } else {
            total.and_then(|t| {
                let left = (t - rows_done).max(0) as f64;
                (done_now > 0.0).then(|| left * started.elapsed().as_secs_f64() / done_now)
            })
        };
        if is_last || batches % 10 == 1 || eta.is_some_and(|e| e < 1.0) {
            rep.emit(Event::BackfillProgress {
                step: step_id.to_string(),
                rows_done,
                rows_total: total,
                batches,
                eta_s: eta,
                batch_rows: size.into(),
                longest_batch_ms,
            });
        }
        if is_last {
            break;
        }
        size = next;
        if !limits.batch_delay.is_zero() {
            tokio::time::sleep(limits.batch_delay).await;
        }
    }
    Ok(rows_done)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_batch_on_target_keeps_its_size() {
        assert_eq!(next_batch_rows(4000, 100 * MS, 100 * MS), 4000);
    }

    #[test]
    fn fast_batches_grow_at_most_twofold() {
        assert_eq!(next_batch_rows(1000, 75 * MS, 100 * MS), 1333);
        assert_eq!(next_batch_rows(1000, 50 * MS, 100 * MS), 2000);
        assert_eq!(next_batch_rows(1000, 5 * MS, 100 * MS), 2000);
        assert_eq!(next_batch_rows(1000, Duration::ZERO, 100 * MS), 2000);
    }

    #[test]
    fn slow_batches_shrink_to_the_target_at_once() {
        assert_eq!(next_batch_rows(10_000, 300 * MS, 150 * MS), 5000);
        assert_eq!(next_batch_rows(10_000, 1000 * MS, 100 * MS), 1000);
    }

    #[test]
    fn sizes_stay_within_the_bounds() {
        assert_eq!(
            next_batch_rows(100, Duration::from_secs(60), 100 * MS),
            MIN_BATCH_ROWS
        );
        assert_eq!(
            next_batch_rows(MAX_BATCH_ROWS, MS, 100 * MS),
            MAX_BATCH_ROWS
        );
        assert_eq!(next_batch_rows(0, MS, 100 * MS), MIN_BATCH_ROWS);
    }

    #[test]
    fn a_run_of_steady_batches_settles_on_the_target() {
        // A table that updates 20 rows per millisecond: the target of 100 ms is 2,000 rows.
        let mut rows = 100;
        let mut sizes = Vec::new();
        for _ in 0..8 {
            let took = Duration::from_secs_f64(f64::from(rows) / 20.0 / 1000.0);
            rows = next_batch_rows(rows, took, 100 * MS);
            sizes.push(rows);
        }
        assert_eq!(sizes, [200, 400, 800, 1600, 2000, 2000, 2000, 2000]);
    }

    #[test]
    fn the_target_stays_well_under_the_timeouts() {
        let zero = Duration::ZERO;
        assert_eq!(target_batch(zero, zero), TARGET_BATCH);
        assert_eq!(target_batch(200 * MS, Duration::from_secs(60)), 100 * MS);
        assert_eq!(target_batch(Duration::from_secs(5), 500 * MS), 50 * MS);
        assert_eq!(target_batch(MS, MS), MIN_TARGET_BATCH);
    }
}
