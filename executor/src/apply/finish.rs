//! How a run that ran its steps ends: a failed step leaves the run failed at a recorded
//! step; otherwise the plan's claims are checked on the server (the database hashes like
//! the plan's target, and its expressions, as the server prints them, are the target's)
//! before the run is recorded as done.

use super::checkpoint::Checkpoint;
use super::events::Event;
use super::step::StepError;
use super::{drift, exprs, ledger, Ctx, FailReason, Mode, Outcome, STEP_APP};
use crate::error::DbError;
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::Client;
use wesley_planner::canon::TableExpressions;

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
    known: exprs::Known,
) -> Result<Outcome, DbError> {
    let result = end(ctx, client, state, failure, held, known).await;
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
    mut known: exprs::Known,
) -> Result<Outcome, DbError> {
    let (plan, opts, rep) = (&ctx.plan, &ctx.opts, &ctx.rep);
    let expected = plan.to().expressions.as_deref().unwrap_or_default();
    // A run that reached its end checks its expressions too, while the catalog is read
    // (the result is only used when the catalog is the target's).
    let ended = failure.is_none() && (opts.until.is_none() || held == 0);
    let keep = drift::differing(plan.to());
    let read = drift::read(client, &keep);
    let (live_after, found) = if ended {
        unchanged_only(ctx, &mut known);
        exprs::alongside(&opts.conn, Some(STEP_APP), client, expected, &known, read).await
    } else {
        (read.await, Ok(Default::default()))
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
    let expr_diffs = if at_target { found?.0 } else { Vec::new() };
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

/// Keeps in `known` (the starting schema's expressions as the server normalised them at
/// the start of the run) only the tables whose normalised expressions cannot have
/// changed since: no step touches the table, its canonical form (columns and their types
/// included) and its expected expressions are the same in both schemas, and it has no
/// policy (a policy can name other tables). Any other table is normalised again; and a
/// difference found with a reused form is confirmed afresh on the table alone.
fn unchanged_only(ctx: &Ctx, known: &mut exprs::Known) {
    let plan = &ctx.plan;
    let touched: BTreeSet<&str> = plan
        .steps
        .iter()
        .flat_map(|s| s.touches.iter().map(String::as_str))
        .collect();
    let exprs_of = |side| -> BTreeMap<&str, &TableExpressions> {
        let side: &wesley_planner::planfile::SchemaRef = side;
        side.expressions
            .iter()
            .flatten()
            .map(|e| (e.table.as_str(), e))
            .collect()
    };
    let (from, to) = (exprs_of(plan.from()), exprs_of(plan.to()));
    let (from_hashes, to_hashes) = (&plan.from().table_hashes, &plan.to().table_hashes);
    known.retain(|table| {
        let same_hash = match (from_hashes, to_hashes) {
            (Some(f), Some(t)) => f.get(table).is_some_and(|h| t.get(table) == Some(h)),
            _ => false,
        };
        !touched.contains(table)
            && same_hash
            && from
                .get(table)
                .is_some_and(|e| e.policies.is_empty() && to.get(table) == Some(e))
    });
}
