//! Batched backfills: many short transactions over primary-key ranges, each recording its
//! progress in `wesley.backfill_progress` within the same transaction, so a crash resumes
//! at the next batch. The walk is bounded by the largest key present when the backfill
//! first started, so a busy table still finishes.

use super::events::{Event, Reporter};
use crate::error::DbError;
use std::time::{Duration, Instant};
use tokio_postgres::types::Type;
use tokio_postgres::Client;
use wesley_planner::plan::Backfill;
use wesley_planner::sql::{ident, qualified};

pub struct Limits {
    pub batch_size: u32,
    pub batch_delay: Duration,
    pub lock_timeout: Duration,
    pub statement_timeout: Duration,
}

/// Runs (or resumes) the backfill until every batch is done.
pub async fn run(
    c: &mut Client,
    plan_hash: &str,
    step_id: &str,
    b: &Backfill,
    limits: &Limits,
    rep: &Reporter,
) -> Result<i64, DbError> {
    let table = qualified(&b.schema, &b.table);
    let key_types: Vec<String> = {
        let mut v = Vec::new();
        for k in &b.key {
            let row = c
                .query_typed_one(
                    "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
                    &[(&table, Type::TEXT), (k, Type::TEXT)],
                )
                .await
                ?;
            v.push(row.get::<_, String>(0));
        }
        v
    };
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
    let row_of = |offset: usize| -> String {
        let params: Vec<String> = key_types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::text::{t}", i + offset))
            .collect();
        format!("ROW({})", params.join(", "))
    };

    // The bound: recorded on first start, reused on resume.
    let existing = c
        .query_typed_opt("SELECT upper_key, last_key, rows_done, batches FROM wesley.backfill_progress WHERE plan_hash = $1 AND step_id = $2", &[(&plan_hash, Type::TEXT), (&step_id, Type::TEXT)])
        .await
        ?;
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
                        "{} SELECT ARRAY[{as_text}] FROM {table} ORDER BY {keys_desc} LIMIT 1",
                        crate::usage::OWN_MARKER
                    ),
                    &[],
                )
                .await?
                .map(|r| r.get(0));
            c.execute_typed(
                "INSERT INTO wesley.backfill_progress (plan_hash, step_id, upper_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[(&plan_hash, Type::TEXT), (&step_id, Type::TEXT), (&upper, Type::TEXT_ARRAY)],
            )
            .await
            ?;
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
    let started = Instant::now();
    let rows_at_start = rows_done;
    let mut reported = false;
    loop {
        let lower = match &last {
            Some(_) => format!("ROW({keys}) > {} AND ", row_of(1)),
            None => String::new(),
        };
        let upper_at = if last.is_some() { n + 1 } else { 1 };
        let batch = format!(
            "{own} WITH batch AS (SELECT {keys} FROM {table} WHERE {lower}ROW({keys}) <= {upper_row} ORDER BY {keys} LIMIT {size}), \
             upd AS (UPDATE {table} SET {set} WHERE ROW({keys}) IN (SELECT {keys} FROM batch) AND ({pred}) RETURNING 1) \
             SELECT (SELECT count(*) FROM upd), (SELECT ARRAY[{as_text}] FROM batch ORDER BY {keys_desc} LIMIT 1)",
            own = crate::usage::OWN_MARKER,
            upper_row = row_of(upper_at),
            size = limits.batch_size,
            set = b.set,
            pred = b.predicate,
        );
        let tx = c.transaction().await?;
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{}'; SET LOCAL statement_timeout = '{}'",
            crate::duration::to_pg(limits.lock_timeout),
            crate::duration::to_pg(limits.statement_timeout)
        ))
        .await?;
        let mut params: Vec<String> = last.clone().unwrap_or_default();
        params.extend(upper.iter().cloned());
        let refs: Vec<(&(dyn tokio_postgres::types::ToSql + Sync), Type)> = params
            .iter()
            .map(|p| (p as &(dyn tokio_postgres::types::ToSql + Sync), Type::TEXT))
            .collect();
        let row = tx.query_typed_one(&batch, &refs).await?;
        let updated: i64 = row.get(0);
        let batch_last: Option<Vec<String>> = row.get(1);
        let Some(batch_last) = batch_last else {
            tx.commit().await?;
            break; // no rows left in range
        };
        tx.execute_typed(
            "UPDATE wesley.backfill_progress SET last_key = $3, rows_done = rows_done + $4, batches = batches + 1 WHERE plan_hash = $1 AND step_id = $2",
            &[
                (&plan_hash, Type::TEXT),
                (&step_id, Type::TEXT),
                (&batch_last, Type::TEXT_ARRAY),
                (&updated, Type::INT8),
            ],
        )
        .await
        ?;
        tx.commit().await?;
        rows_done += updated;
        batches += 1;
        last = Some(batch_last);
        let done_now = (rows_done - rows_at_start).max(0) as f64;
        let eta = total.and_then(|t| {
            let left = (t - rows_done).max(0) as f64;
            (done_now > 0.0).then(|| left * started.elapsed().as_secs_f64() / done_now)
        });
        reported = batches % 10 == 1 || eta.is_some_and(|e| e < 1.0);
        if reported {
            rep.emit(Event::BackfillProgress {
                step: step_id.to_string(),
                rows_done,
                rows_total: total,
                batches,
                eta_s: eta,
            });
        }
        if !limits.batch_delay.is_zero() {
            tokio::time::sleep(limits.batch_delay).await;
        }
    }
    if !reported {
        rep.emit(Event::BackfillProgress {
            step: step_id.to_string(),
            rows_done,
            rows_total: total,
            batches,
            eta_s: Some(0.0),
        });
    }
    Ok(rows_done)
}
