//! How a run that ran its steps ends: a failed step leaves the run failed at a recorded
//! step; otherwise the plan's claims are checked on the server (the database hashes like
//! the plan's target, and its expressions, as the server prints them, are the target's)
//! before the run is recorded as done.

use super::checkpoint::Checkpoint;
use super::events::Event;
use super::step::StepError;
use super::{drift, exprs, ledger, Ctx, FailReason, Mode, Outcome, STEP_APP};
use crate::error::DbError;
use tokio_postgres::Client;

/// The run status of `--until` when steps are left.
const PAUSED: &str = "paused";

/// Records how the run ended in the ledger and the checkpoint file, and says so.
/// `failure` is the step that failed, with its error. When the database fails while the
/// end is being checked or recorded, the checkpoint file is still brought up to date
/// (every step applied so far; the run still `running`, as the ledger has it) before the
/// error is returned.
pub(super) async fn finish(
    ctx: &Ctx,
    client: &Client,
    state: &mut Checkpoint,
    failure: Option<(String, StepError)>,
    held: usize,
) -> Result<Outcome, DbError> {
    let result = end(ctx, client, state, failure, held).await;
    if result.is_err() {
        state.write(ctx, true);
    }
    result
}

/// What [`finish`] does, without bringing the checkpoint file up to date after a database
/// error (which `finish` does).
async fn end(
    ctx: &Ctx,
    client: &Client,
    state: &mut Checkpoint,
    failure: Option<(String, StepError)>,
    held: usize,
) -> Result<Outcome, DbError> {
    let (plan, opts, rep) = (&ctx.plan, &ctx.opts, &ctx.rep);
    let expected = plan.to().expressions.as_deref().unwrap_or_default();
    // A run that reached its end checks its expressions too, while the catalog is read
    // (the result is only used when the catalog is the target's).
    let ended = failure.is_none() && (opts.until.is_none() || held == 0);
    let keep = drift::differing(plan.to());
    let read = drift::read(client, &keep);
    let (live_after, found) = if ended {
        exprs::alongside(&opts.conn, Some(STEP_APP), client, expected, read).await
    } else {
        (read.await, Ok(Vec::new()))
    };
    let live_after = live_after.ok();
    let live_hash = live_after.as_ref().map(|l| l.hash(plan.to().extensions()));
    let done = state.applied.len();
    if let Some((step, error)) = failure {
        let _ = ledger::finish_run(
            client,
            plan.plan_hash(),
            "failed",
            live_hash.as_deref(),
            Some(&error.to_string()),
        )
        .await;
        state.status = "failed".into();
        state.write(ctx, true);
        rep.emit(Event::RunFinished {
            status: "failed".into(),
            applied: done,
            pending: plan.steps.len() - done,
            ms: rep.elapsed_ms(),
        });
        let reason = match error {
            StepError::LockRetriesExhausted { .. } => FailReason::LockRetriesExhausted,
            StepError::Db(_) => FailReason::Step,
        };
        let command = match ctx.mode {
            Mode::Apply => "wesley apply",
            _ => "wesley rollback",
        };
        return Ok(Outcome::failed(
            reason,
            format!(
                "step {step} failed: {error}\nThe database is at a recorded step: {done} of {} steps applied (see `wesley status`). Fix the cause, then run the same `{command}` again to resume.",
                plan.steps.len()
            ),
        ));
    }
    if let (Some(until), true) = (opts.until, held > 0) {
        ledger::finish_run(client, plan.plan_hash(), PAUSED, live_hash.as_deref(), None).await?;
        state.status = PAUSED.into();
        state.write(ctx, true);
        rep.emit(Event::RunFinished {
            status: PAUSED.into(),
            applied: done,
            pending: held,
            ms: rep.elapsed_ms(),
        });
        return Ok(Outcome::Paused {
            until,
            pending: held,
        });
    }
    let at_target = live_hash.as_deref() == Some(plan.to().schema_hash.as_str());
    let expr_diffs = if at_target { found? } else { Vec::new() };
    let failed = |reason: FailReason, msg: String| async move {
        let _ = ledger::finish_run(client, plan.plan_hash(), "failed", None, Some(&msg)).await;
        Ok(Outcome::failed(reason, msg))
    };
    // What a rollback cannot undo (an added enum value) stays: said, not a failure, as
    // long as every table is exactly the plan's start and only enums differ.
    let stays = match &ctx.mode {
        Mode::Undo { stays, .. } if !stays.is_empty() => Some(stays),
        _ => None,
    };
    let tables_at_target = |live: &drift::Live| {
        plan.to()
            .table_hashes
            .as_ref()
            .is_some_and(|h| live.tables_are(h))
    };
    match &live_after {
        _ if at_target && expr_diffs.is_empty() => {}
        Some(live) if !at_target && stays.is_some() && tables_at_target(live) => rep.emit(Event::Message {
            text: format!(
                "The database differs from the plan's starting schema by what cannot be undone ({}): {}",
                stays.map(|s| s.join("; ")).unwrap_or_default(),
                drift::against(plan.to(), live).join("; ")
            ),
        }),
        _ if at_target && opts.allow_drift => rep.emit(Event::Drift {
            differences: expr_diffs,
            allowed: true,
        }),
        _ if at_target => {
            let msg = format!(
                "all steps ran, but expressions differ from the plan's target: {}",
                expr_diffs.join("; ")
            );
            return failed(FailReason::ExpressionsDiffer, msg).await;
        }
        // Drift was allowed, so the target cannot be reached exactly: say where it differs
        // and finish (failing would leave a run that can never complete).
        Some(live) if opts.allow_drift => rep.emit(Event::Drift {
            differences: drift::against(plan.to(), live),
            allowed: true,
        }),
        _ => {
            let msg = format!(
                "all steps ran, but the database does not hash like the plan's target ({} instead of {})",
                live_hash.unwrap_or_default(),
                plan.to().schema_hash
            );
            return failed(FailReason::TargetMismatch, msg).await;
        }
    }
    match &ctx.mode {
        Mode::Undo { forward, .. } => {
            ledger::finish_rollback(client, forward, plan.plan_hash(), live_hash.as_deref()).await?
        }
        _ => {
            ledger::finish_run(client, plan.plan_hash(), "done", live_hash.as_deref(), None).await?
        }
    }
    state.status = "done".into();
    state.write(ctx, true);
    rep.emit(Event::RunFinished {
        status: "done".into(),
        applied: done,
        pending: 0,
        ms: rep.elapsed_ms(),
    });
    Ok(Outcome::Done)
}
