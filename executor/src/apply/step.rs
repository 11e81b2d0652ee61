//! One step, run to completion: its attempts, each under the step's timeouts, retried on
//! a lock timeout or deadlock with a jittered backoff until the retry budget is spent.
//! How an attempt runs depends on the step:
//!
//! - a backfill: batches of short transactions through tokio-postgres
//!   ([`super::backfill`]), then the ledger row;
//! - a transactional step: one `BEGIN ... COMMIT` streamed to psql, the ledger row
//!   written inside the same transaction;
//! - a non-transactional (`CONCURRENTLY`) step: made idempotent with the index identity
//!   the plan file gives it (a valid index left by an interrupted build is kept, an
//!   invalid one dropped and rebuilt), then verified.

use super::backfill;
use super::events::Event;
use super::ledger;
use super::psql::{Part, PsqlSession};
use super::{Ctx, Options, STEP_APP};
use crate::error::DbError;
use std::time::{Duration, Instant};
use tokio_postgres::types::Type;
use wesley_planner::plan::{StepKind, TimeoutClass};
use wesley_planner::planfile::ValidStep;
use wesley_planner::sql::qualified;

/// Why a step failed for good.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    /// The database refused the step (or could not be reached); not worth retrying.
    #[error("{0}")]
    Db(#[from] DbError),
    /// A lock the step needs stayed taken (or deadlocked) through every attempt.
    #[error("{error} (gave up after {attempts} attempts in {seconds:.1} s, the retry budget being --retries {retries} and --lock-retry-budget {budget}; something holds a conflicting lock: find it in pg_locks and pg_stat_activity, or apply when it is gone)")]
    LockRetriesExhausted {
        /// The last attempt's error (SQLSTATE 55P03 or 40P01).
        error: DbError,
        /// Attempts made.
        attempts: u32,
        /// How long the step kept retrying, in seconds.
        seconds: f64,
        /// `--retries`.
        retries: u32,
        /// `--lock-retry-budget`, as the flag spells durations.
        budget: String,
    },
}

/// One job's connections, kept between the steps it runs: a psql session for SQL steps
/// and a tokio-postgres client for backfills, index checks and the ledger.
#[derive(Default)]
pub(super) struct Worker {
    session: Option<PsqlSession>,
    client: Option<tokio_postgres::Client>,
}

impl Worker {
    /// Ends the psql session politely.
    pub async fn close(self) {
        if let Some(s) = self.session {
            s.close().await;
        }
    }
}

/// Delays between attempts of a step that timed out waiting for a lock or hit a deadlock:
/// exponential from 100 ms, doubling up to 5 s, with full jitter (so retries of parallel
/// runs or steps do not line up), for as long as the retry budget lasts. Short attempts
/// (`--lock-timeout`, 200 ms by default) retried often keep application writes, which
/// queue behind a waiting lock request, from stalling for more than one attempt.
pub fn lock_backoff() -> backon::ExponentialBackoff {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::new()
        .with_jitter()
        .with_factor(2.0)
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
        .build()
}

/// The statement timeout that bounds a whole step of this timeout class (zero: none), from
/// the class the plan file gives it; `wesley plan --format sql` maps classes the same way
/// (`render::sql::SqlOptions::statement_timeout_for`). Backfill batches each run under
/// `statement_timeout`.
pub fn step_timeout(class: TimeoutClass, opts: &Options) -> Duration {
    use wesley_planner::timeout::Timeout;
    let ms = |d: Duration| Timeout::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let t = class.statement_timeout(ms(opts.statement_timeout), ms(opts.long_statement_timeout));
    Duration::from_millis(t.millis())
}

/// Runs step `i` of the plan: attempts until it is applied (and recorded in the ledger),
/// it fails for good, or the retry budget (`--retries`, `--lock-retry-budget`) is spent.
pub(super) async fn execute(ctx: &Ctx, i: usize, w: &mut Worker) -> Result<(), StepError> {
    let step = &ctx.plan.steps[i];
    // The step's SQL, read back from the plan's spool (checked against its digest) for
    // as long as the step runs.
    let text = ctx
        .plan
        .text(step)
        .map_err(|e| StepError::Db(DbError::Unexpected(e)))?;
    let opts = &ctx.opts;
    let started_clock = Instant::now();
    let mut attempt = 0u32;
    let mut delays = lock_backoff();
    let mut retrying_since: Option<Instant> = None;
    loop {
        attempt += 1;
        ctx.rep.emit(Event::StepStarted {
            step: step.id.clone(),
            phase: step.phase.to_string(),
            summary: text.summary.clone(),
            attempt,
        });
        // When the attempt started, for the ledger. A transactional step records itself in
        // its own transaction, where `'now'::timestamptz` is the time its BEGIN ran: the
        // attempt's start, without a round trip to ask for the clock first.
        let started_at = if step.transactional && step.backfill.is_none() {
            "now".to_string()
        } else {
            now_text(w, ctx).await
        };
        let attempt_ = Attempt {
            ctx,
            step,
            sql: &text.sql,
            number: attempt,
            started_at: &started_at,
        };
        let result = if step.backfill.is_some() {
            attempt_.backfill(w).await
        } else if step.transactional {
            attempt_.transactional(w).await
        } else {
            attempt_.concurrent(w).await
        };
        let Err(e) = result else {
            ctx.rep.emit(Event::StepDone {
                step: step.id.clone(),
                ms: started_clock.elapsed().as_millis(),
            });
            return Ok(());
        };
        w.session = None; // psql exits on the first error
        if !e.is_retryable() {
            return Err(StepError::Db(e));
        }
        let since = *retrying_since.get_or_insert_with(Instant::now);
        if attempt > opts.retries || since.elapsed() >= opts.lock_retry_budget {
            return Err(StepError::LockRetriesExhausted {
                error: e,
                attempts: attempt,
                seconds: since.elapsed().as_secs_f64(),
                retries: opts.retries,
                budget: crate::duration::display(opts.lock_retry_budget),
            });
        }
        let delay = delays.next().unwrap_or(Duration::from_secs(5));
        ctx.rep.emit(Event::StepRetry {
            step: step.id.clone(),
            attempt,
            delay_ms: delay.as_millis() as u64,
            error: e.to_string(),
        });
        tokio::time::sleep(delay).await;
    }
}

/// One attempt of one step.
struct Attempt<'a> {
    ctx: &'a Ctx,
    step: &'a ValidStep,
    /// Its SQL ([`wesley_planner::planfile::ValidPlan::text`]).
    sql: &'a str,
    /// 1 for the first attempt; recorded in the ledger.
    number: u32,
    /// The server's clock when the attempt started, as text (for the ledger).
    started_at: &'a str,
}

impl Attempt<'_> {
    /// Records the step in the ledger (for the steps whose SQL did not).
    async fn record(&self, w: &mut Worker) -> Result<(), DbError> {
        let c = client(self.ctx, w).await?;
        let s = self.step;
        ledger::record(
            c,
            self.ctx.plan.plan_hash(),
            &s.id,
            self.sql,
            self.number,
            self.started_at,
        )
        .await
    }

    /// A backfill: the step as a whole has no limit; each batch is a short transaction.
    async fn backfill(&self, w: &mut Worker) -> Result<(), DbError> {
        let (opts, s) = (&self.ctx.opts, self.step);
        let Some(b) = &s.backfill else {
            return Ok(());
        };
        let limits = backfill::Limits {
            batch_size: opts.batch_size.unwrap_or(b.batch_size).max(1),
            adaptive: opts.batch_size.is_none(),
            batch_delay: opts.batch_delay,
            lock_timeout: opts.lock_timeout,
            statement_timeout: opts.statement_timeout,
        };
        let c = client(self.ctx, w).await?;
        backfill::run(
            c,
            self.ctx.plan.plan_hash(),
            &s.id,
            b,
            &limits,
            &self.ctx.rep,
        )
        .await?;
        self.record(w).await
    }

    /// A transactional step: one transaction with its timeouts and its ledger row. Two
    /// requests besides the step's own statements: `BEGIN` with the timeouts, then the
    /// ledger row with `COMMIT`.
    async fn transactional(&self, w: &mut Worker) -> Result<(), DbError> {
        let (opts, s) = (&self.ctx.opts, self.step);
        let begin = Part::Own(vec![
            "BEGIN".into(),
            format!(
                "SET LOCAL lock_timeout = '{}'",
                crate::duration::to_pg(opts.lock_timeout)
            ),
            format!(
                "SET LOCAL statement_timeout = '{}'",
                crate::duration::to_pg(step_timeout(s.timeout, opts))
            ),
        ]);
        let commit = Part::Own(vec![
            ledger::record_sql(
                self.ctx.plan.plan_hash(),
                &s.id,
                self.sql,
                self.number,
                self.started_at,
            ),
            "COMMIT".into(),
        ]);
        session(self.ctx, w)
            .await?
            .run_parts(&[begin, Part::Sql(self.sql), commit])
            .await
    }

    /// A non-transactional (`CONCURRENTLY`) step: idempotent and verified.
    async fn concurrent(&self, w: &mut Worker) -> Result<(), DbError> {
        let (ctx, opts, s) = (self.ctx, &self.ctx.opts, self.step);
        let index = s
            .index
            .as_ref()
            .map(|i| (i.schema.as_str(), i.name.as_str()));
        let creating = s.kind == StepKind::CreateIndex;
        if let Some((schema, name)) = index {
            let c = client(ctx, w).await?;
            match (creating, index_valid(c, schema, name).await?) {
                (true, Some(true)) => {
                    ctx.rep.emit(Event::StepRecovered {
                        step: s.id.clone(),
                        action: format!(
                            "index {name} already exists and is valid (built by an interrupted run)"
                        ),
                    });
                    return self.record(w).await;
                }
                (true, Some(false)) => {
                    ctx.rep.emit(Event::StepRecovered {
                        step: s.id.clone(),
                        action: format!("dropping the INVALID index {name} left by an interrupted build, then rebuilding"),
                    });
                    let drop = format!(
                        "SET lock_timeout = '{}';\nDROP INDEX CONCURRENTLY IF EXISTS {};\nRESET lock_timeout;\n",
                        crate::duration::to_pg(opts.lock_timeout),
                        qualified(schema, name)
                    );
                    session(ctx, w).await?.run(&drop).await?;
                }
                (false, None) => {
                    ctx.rep.emit(Event::StepRecovered {
                        step: s.id.clone(),
                        action: format!("index {name} is already gone"),
                    });
                    return self.record(w).await;
                }
                _ => {}
            }
        }
        let set = Part::Own(vec![
            format!(
                "SET lock_timeout = '{}'",
                crate::duration::to_pg(if index.is_some() {
                    opts.concurrent_lock_timeout
                } else {
                    opts.lock_timeout
                })
            ),
            format!(
                "SET statement_timeout = '{}'",
                crate::duration::to_pg(step_timeout(s.timeout, opts))
            ),
        ]);
        let reset = Part::Own(vec![
            "RESET lock_timeout".into(),
            "RESET statement_timeout".into(),
        ]);
        let ran = session(ctx, w)
            .await?
            .run_parts(&[set, Part::Sql(self.sql), reset])
            .await;
        if let (Err(e), Some((schema, name)), true) = (&ran, index, creating) {
            // A failed concurrent build leaves an INVALID index: remove it now.
            w.session = None;
            if let Ok(c) = client(ctx, w).await {
                if let Ok(Some(false)) = index_valid(c, schema, name).await {
                    let _ = c
                        .batch_execute(&format!(
                            "DROP INDEX CONCURRENTLY IF EXISTS {}",
                            qualified(schema, name)
                        ))
                        .await;
                }
            }
            return Err(e.clone());
        }
        ran?;
        if let (Some((schema, name)), true) = (index, creating) {
            let c = client(ctx, w).await?;
            if index_valid(c, schema, name).await? != Some(true) {
                let _ = c
                    .batch_execute(&format!(
                        "DROP INDEX CONCURRENTLY IF EXISTS {}",
                        qualified(schema, name)
                    ))
                    .await;
                return Err(DbError::Unexpected(format!(
                    "index {name} was built but is not valid; it was dropped"
                )));
            }
        }
        self.record(w).await
    }
}

async fn session<'w>(ctx: &Ctx, w: &'w mut Worker) -> Result<&'w mut PsqlSession, DbError> {
    if w.session.is_none() {
        w.session = Some(PsqlSession::start(&ctx.opts.psql, &ctx.opts.conn, STEP_APP).await?);
    }
    Ok(w.session.as_mut().expect("session"))
}

async fn client<'w>(
    ctx: &Ctx,
    w: &'w mut Worker,
) -> Result<&'w mut tokio_postgres::Client, DbError> {
    if w.client.as_ref().is_none_or(|c| c.is_closed()) {
        // The step application name is a startup parameter, not a SET: a pooler keeps
        // it with this client whichever server connection serves it.
        let (c, _) = ctx.opts.conn.connect_pinned(Some(STEP_APP)).await?;
        w.client = Some(c);
    }
    Ok(w.client.as_mut().expect("client"))
}

/// Whether an index exists and is valid: None = missing.
async fn index_valid(
    c: &tokio_postgres::Client,
    schema: &str,
    name: &str,
) -> Result<Option<bool>, DbError> {
    let row = c
        .query_typed_opt(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            &[(&schema, Type::TEXT), (&name, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The server's clock as text (for the ledger); the local clock when unavailable.
async fn now_text(w: &mut Worker, ctx: &Ctx) -> String {
    if let Ok(c) = client(ctx, w).await {
        if let Ok(row) = c
            .query_typed_one("SELECT clock_timestamp()::text", &[])
            .await
        {
            return row.get(0);
        }
    }
    "now".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_backoff_grows_with_jitter_and_is_capped() {
        let first: Vec<Duration> = lock_backoff().take(12).collect();
        assert_eq!(first.len(), 12, "the budget, not a count, ends retries");
        assert!(
            first.iter().all(|d| *d <= Duration::from_secs(10)),
            "{first:?}"
        );
        // Later delays are longer on the whole than the first ones.
        let early: Duration = first[..3].iter().sum();
        let late: Duration = first[9..].iter().sum();
        assert!(late > early, "{first:?}");
        // Jitter: two sequences differ.
        let other: Vec<Duration> = lock_backoff().take(12).collect();
        assert_ne!(first, other);
    }
}
