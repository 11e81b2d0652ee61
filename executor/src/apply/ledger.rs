//! The ledger in the target database (schema `wesley`): one row per plan run, one row per
//! applied step (written in the same transaction as the step itself, so a crash can never
//! record a step that did not commit or commit a step without recording it), and the
//! progress of batched backfills (written in each batch's transaction).

use crate::error::DbError;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tokio_postgres::types::Type;
use tokio_postgres::Client;
use wesley_planner::sql::literal;

/// The ledger's DDL: idempotent (`IF NOT EXISTS`), run by every `wesley apply` before it
/// reads the ledger, so older ledgers gain new columns.
pub const SETUP: &str = "
CREATE SCHEMA IF NOT EXISTS wesley;
CREATE TABLE IF NOT EXISTS wesley.runs (
  plan_hash text PRIMARY KEY,
  from_hash text NOT NULL,
  to_hash text NOT NULL,
  steps integer NOT NULL,
  status text NOT NULL DEFAULT 'running',
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  stopped_hash text,
  last_error text
);
-- The SDL of the run's target schema (`to.sdl` of the plan file), so that a later
-- `wesley plan --database-url` plans from it while the database still matches it.
ALTER TABLE wesley.runs ADD COLUMN IF NOT EXISTS to_sdl text;
-- The restore point taken before the run's first contract step, and its LSN.
ALTER TABLE wesley.runs ADD COLUMN IF NOT EXISTS restore_point text;
ALTER TABLE wesley.runs ADD COLUMN IF NOT EXISTS restore_lsn text;
CREATE TABLE IF NOT EXISTS wesley.applied_steps (
  plan_hash text NOT NULL,
  step_id text NOT NULL,
  sql_checksum text NOT NULL,
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (plan_hash, step_id)
);
CREATE TABLE IF NOT EXISTS wesley.backfill_progress (
  plan_hash text NOT NULL,
  step_id text NOT NULL,
  upper_key text[],
  last_key text[],
  rows_done bigint NOT NULL DEFAULT 0,
  batches bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (plan_hash, step_id)
);
";

/// The `status` of a run whose plan `wesley rollback` undid (its steps are no longer in
/// `applied_steps`; applying the plan again starts from the beginning).
pub const ROLLED_BACK: &str = "rolled_back";

/// `sha256:` hex of a step's SQL, recorded with the step.
pub fn checksum(sql: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(sql.as_bytes())))
}

/// The INSERT that records a step, without its `;`; run inside the step's own
/// transaction (sent with its `COMMIT` as one request: `psql::Part::Own`).
pub fn record_sql(
    plan_hash: &str,
    step_id: &str,
    sql: &str,
    attempt: u32,
    started: &str,
) -> String {
    format!(
        "INSERT INTO wesley.applied_steps (plan_hash, step_id, sql_checksum, attempt, started_at) VALUES ({}, {}, {}, {attempt}, {}::timestamptz)",
        literal(plan_hash),
        literal(step_id),
        literal(&checksum(sql)),
        literal(started)
    )
}

/// Creates or upgrades the ledger ([`SETUP`]). Fails (with the server's SQLSTATE) when the
/// role may not create schema `wesley` or its tables.
pub async fn setup(c: &Client) -> Result<(), DbError> {
    c.batch_execute(SETUP)
        .await
        .map_err(|e| DbError::from(e).context("cannot create Wesley's ledger (schema `wesley`)"))
}

/// Whether the ledger exists at all (for read-only commands).
pub async fn exists(c: &Client) -> Result<bool, DbError> {
    let row = c
        .query_typed_one(
            "SELECT to_regclass('wesley.applied_steps') IS NOT NULL",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// A recorded run.
#[derive(Debug, Clone)]
pub struct Run {
    /// `sha256:...` of the plan file, or `baseline:<schema hash>` for a baseline.
    pub plan_hash: String,
    /// `running`, `done`, `failed` or [`ROLLED_BACK`].
    pub status: String,
    /// Steps in the plan.
    pub steps: i32,
    /// Steps recorded as applied.
    pub done: i64,
    /// The schema hash the database had when the run stopped, if it stopped early.
    pub stopped_hash: Option<String>,
    /// The last error of a failed run (no passwords).
    pub last_error: Option<String>,
    /// The restore point taken before the contract phase, and its LSN.
    pub restore_point: Option<(String, String)>,
}

/// Every run, oldest first.
pub async fn runs(c: &Client) -> Result<Vec<Run>, DbError> {
    let rows = c
        .query_typed(
            // `to_jsonb(r)`: ledgers created before these columns existed do not have them.
            "SELECT r.plan_hash, r.status, r.steps, (SELECT count(*) FROM wesley.applied_steps s WHERE s.plan_hash = r.plan_hash), r.stopped_hash, r.last_error, to_jsonb(r) ->> 'restore_point', to_jsonb(r) ->> 'restore_lsn' FROM wesley.runs r ORDER BY r.started_at",
            &[],
        )
        .await
        ?;
    Ok(rows
        .iter()
        .map(|r| Run {
            plan_hash: r.get(0),
            status: r.get(1),
            steps: r.get(2),
            done: r.get(3),
            stopped_hash: r.get(4),
            last_error: r.get(5),
            restore_point: r
                .get::<_, Option<String>>(6)
                .zip(r.get::<_, Option<String>>(7)),
        })
        .collect())
}

/// Applied steps of a plan: step id → (checksum, finished at).
pub async fn applied(
    c: &Client,
    plan_hash: &str,
) -> Result<BTreeMap<String, (String, String)>, DbError> {
    let rows = c.query_typed("SELECT step_id, sql_checksum, finished_at::text FROM wesley.applied_steps WHERE plan_hash = $1", &[(&plan_hash, Type::TEXT)]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                (r.get::<_, String>(1), r.get::<_, String>(2)),
            )
        })
        .collect())
}

/// Records that a run of the plan starts (or starts again: status back to `running`).
pub async fn start_run(
    c: &Client,
    plan_hash: &str,
    from: &str,
    to: &str,
    steps: usize,
    to_sdl: Option<&str>,
) -> Result<(), DbError> {
    c.execute_typed(
        "INSERT INTO wesley.runs (plan_hash, from_hash, to_hash, steps, to_sdl) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (plan_hash) DO UPDATE SET status = 'running', updated_at = now(), last_error = NULL, to_sdl = EXCLUDED.to_sdl, from_hash = EXCLUDED.from_hash, to_hash = EXCLUDED.to_hash, steps = EXCLUDED.steps, started_at = CASE WHEN wesley.runs.status = 'rolled_back' THEN now() ELSE wesley.runs.started_at END",
        &[
            (&plan_hash, Type::TEXT),
            (&from, Type::TEXT),
            (&to, Type::TEXT),
            (&(steps as i32), Type::INT4),
            (&to_sdl, Type::TEXT),
        ],
    )
    .await
    ?;
    Ok(())
}

/// Records how a run ended: `status` (`done` or `failed`), where it stopped and why.
pub async fn finish_run(
    c: &Client,
    plan_hash: &str,
    status: &str,
    stopped_hash: Option<&str>,
    error: Option<&str>,
) -> Result<(), DbError> {
    c.execute_typed(
        "UPDATE wesley.runs SET status = $2, updated_at = now(), stopped_hash = $3, last_error = $4 WHERE plan_hash = $1",
        &[
            (&plan_hash, Type::TEXT),
            (&status, Type::TEXT),
            (&stopped_hash, Type::TEXT),
            (&error, Type::TEXT),
        ],
    )
    .await
    ?;
    Ok(())
}

/// Records, in one transaction, that rollback `rollback_hash` of plan `plan_hash` is done:
/// the rollback's run is `done`, the plan's run is [`ROLLED_BACK`] and its steps and
/// backfill progress leave the ledger (so that the plan can be applied again), and the
/// rollback's own steps too (a later rollback of the plan runs them again).
pub async fn finish_rollback(
    c: &Client,
    plan_hash: &str,
    rollback_hash: &str,
    stopped_hash: Option<&str>,
) -> Result<(), DbError> {
    let (p, r) = (literal(plan_hash), literal(rollback_hash));
    let stopped = stopped_hash.map(literal).unwrap_or_else(|| "NULL".into());
    c.batch_execute(&format!(
        "BEGIN;
UPDATE wesley.runs SET status = 'done', updated_at = now(), stopped_hash = {stopped}, last_error = NULL WHERE plan_hash = {r};
UPDATE wesley.runs SET status = {rolled}, updated_at = now(), stopped_hash = {stopped}, restore_point = NULL, restore_lsn = NULL WHERE plan_hash = {p};
DELETE FROM wesley.applied_steps WHERE plan_hash IN ({p}, {r});
DELETE FROM wesley.backfill_progress WHERE plan_hash IN ({p}, {r});
COMMIT;",
        rolled = literal(ROLLED_BACK)
    ))
    .await?;
    Ok(())
}

/// Forgets the finished run `plan_hash` ([`finish_rollback`] already removed its steps): a
/// rollback of a plan applied again after an earlier rollback starts afresh.
pub async fn forget_run(c: &Client, plan_hash: &str) -> Result<(), DbError> {
    c.execute_typed(
        "DELETE FROM wesley.runs WHERE plan_hash = $1 AND status = 'done'",
        &[(&plan_hash, Type::TEXT)],
    )
    .await?;
    Ok(())
}

/// The restore point recorded for a plan's run: (name, LSN).
pub async fn restore_point(
    c: &Client,
    plan_hash: &str,
) -> Result<Option<(String, String)>, DbError> {
    let row = c
        .query_typed_opt(
            "SELECT restore_point, restore_lsn FROM wesley.runs WHERE plan_hash = $1 AND restore_point IS NOT NULL",
            &[(&plan_hash, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Records the restore point of a plan's run.
pub async fn record_restore_point(
    c: &Client,
    plan_hash: &str,
    name: &str,
    lsn: &str,
) -> Result<(), DbError> {
    c.execute_typed(
        "UPDATE wesley.runs SET restore_point = $2, restore_lsn = $3, updated_at = now() WHERE plan_hash = $1",
        &[
            (&plan_hash, Type::TEXT),
            (&name, Type::TEXT),
            (&lsn, Type::TEXT),
        ],
    )
    .await?;
    Ok(())
}

/// Records a non-transactional step after it has been verified.
pub async fn record(
    c: &Client,
    plan_hash: &str,
    step_id: &str,
    sql: &str,
    attempt: u32,
    started: &str,
) -> Result<(), DbError> {
    c.execute_typed(
        "INSERT INTO wesley.applied_steps (plan_hash, step_id, sql_checksum, attempt, started_at) VALUES ($1, $2, $3, $4, $5::text::timestamptz) ON CONFLICT DO NOTHING",
        &[
            (&plan_hash, Type::TEXT),
            (&step_id, Type::TEXT),
            (&checksum(sql), Type::TEXT),
            (&(attempt as i32), Type::INT4),
            (&started, Type::TEXT),
        ],
    )
    .await
    ?;
    Ok(())
}

/// The prefix of a baseline run's `plan_hash` ([`baseline_hash`]).
pub const BASELINE_PREFIX: &str = "baseline:";

/// The `plan_hash` of the baseline run of a database whose history starts at `hash`.
pub fn baseline_hash(hash: &str) -> String {
    format!("{BASELINE_PREFIX}{hash}")
}

/// Records where the history of a database that Wesley never migrated starts: a run of
/// no steps, done, from and to the schema it has (`sdl`, when the plan file carries the
/// SDL it was planned from, e.g. the database introspected). Nothing is recorded for an
/// empty database: its history starts with the first plan.
pub async fn record_baseline(c: &Client, hash: &str, sdl: Option<&str>) -> Result<bool, DbError> {
    let empty = wesley_planner::canon::canonical(&wesley_planner::Schema::default()).hash();
    if hash == empty {
        return Ok(false);
    }
    c.execute_typed(
        "INSERT INTO wesley.runs (plan_hash, from_hash, to_hash, steps, status, to_sdl) VALUES ($1, $2, $2, 0, 'done', $3) ON CONFLICT (plan_hash) DO NOTHING",
        &[
            (&baseline_hash(hash), Type::TEXT),
            (&hash, Type::TEXT),
            (&sdl, Type::TEXT),
        ],
    )
    .await
    ?;
    Ok(true)
}

/// The last run that finished, with the SDL of its target when it recorded one.
#[derive(Debug, Clone)]
pub struct DoneRun {
    /// The run's plan hash (or `baseline:<schema hash>`).
    pub plan_hash: String,
    /// The schema hash the run left the database at.
    pub to_hash: String,
    /// That schema's SDL, when the plan file carried it.
    pub to_sdl: Option<String>,
}

/// The run that finished last (a baseline counts), if the database has a ledger.
pub async fn last_done(c: &Client) -> Result<Option<DoneRun>, DbError> {
    if !exists(c).await? {
        return Ok(None);
    }
    // `to_jsonb(r)`: ledgers created before `to_sdl` existed do not have the column.
    let row = c
        .query_typed_opt(
            "SELECT r.plan_hash, r.to_hash, to_jsonb(r) ->> 'to_sdl' FROM wesley.runs r WHERE r.status = 'done' ORDER BY r.updated_at DESC, r.started_at DESC LIMIT 1",
            &[],
        )
        .await
        ?;
    Ok(row.map(|r| DoneRun {
        plan_hash: r.get(0),
        to_hash: r.get(1),
        to_sdl: r.get(2),
    }))
}
