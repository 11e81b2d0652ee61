//! `wesley rollback`: which inverse steps to run. Under the advisory lock, the ledger says
//! which steps of the plan ran; the plan file's rollback section
//! ([`ValidPlan::rollback_plan`]) turns them into a plan of inverse steps, which then runs
//! like any plan (preflight, schedule, finish), recorded as `rollback:<plan hash>`.

use super::events::Event;
use super::{ledger, Ctx, Mode, Outcome, RefuseReason};
use crate::error::DbError;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio_postgres::types::Type;
use tokio_postgres::Client;
use wesley_planner::plan::Phase;
use wesley_planner::planfile::ROLLBACK_PREFIX;

/// The run of the inverse steps, or how the rollback ends before it starts: nothing to
/// undo, already rolled back, a step that cannot be undone has run, or hazards the policy
/// refuses.
pub(super) async fn inverse(
    ctx: &Arc<Ctx>,
    client: &Client,
) -> Result<Result<Arc<Ctx>, Outcome>, DbError> {
    let (plan, opts, rep) = (&ctx.plan, &ctx.opts, &ctx.rep);
    let hash = plan.plan_hash();
    let never = || {
        Ok(Err(Outcome::refused(
            RefuseReason::NotApplied,
            format!(
                "plan {hash} never ran on {}: there is nothing to roll back",
                opts.conn
            ),
        )))
    };
    if !ledger::exists(client).await? {
        return never();
    }
    if !opts.dry_run {
        // Before the ledger is read: a step session a crashed run left may still commit.
        ledger::setup(client).await?;
        super::preflight::end_orphaned_sessions(ctx, client).await?;
    }
    let runs = ledger::runs(client).await?;
    let Some(at) = runs.iter().position(|r| r.plan_hash == hash) else {
        return never();
    };
    let run = &runs[at];
    let undo_hash = format!("{ROLLBACK_PREFIX}{hash}");
    if run.status == ledger::ROLLED_BACK {
        rep.emit(Event::Message {
            text: format!(
                "Plan {hash} was already rolled back on {}; nothing to do.",
                opts.conn
            ),
        });
        return Ok(Err(Outcome::AlreadyApplied));
    }
    // Plans applied after this one changed what its inverses would meet.
    let later: Vec<&str> = runs[at + 1..]
        .iter()
        .filter(|r| {
            !r.plan_hash.starts_with(ROLLBACK_PREFIX)
                && !r.plan_hash.starts_with(ledger::BASELINE_PREFIX)
                && r.status != ledger::ROLLED_BACK
        })
        .map(|r| r.plan_hash.as_str())
        .collect();
    if !later.is_empty() {
        return Ok(Err(Outcome::refused(
            RefuseReason::CannotUndo,
            format!(
                "cannot roll back plan {hash} on {}: later plans ran on top of it ({}); roll them back first, newest first",
                opts.conn,
                later.join(", ")
            ),
        )));
    }
    let mut applied: BTreeSet<String> = ledger::applied(client, hash).await?.into_keys().collect();
    // A contract step that drops an index CONCURRENTLY may have finished without being
    // recorded: the index being gone says it ran.
    let unrecorded: Vec<_> = plan
        .steps
        .iter()
        .filter(|s| s.phase == Phase::Contract && !s.transactional && !applied.contains(&s.id))
        .collect();
    for s in unrecorded {
        if let Some(i) = &s.index {
            let gone: bool = client
                .query_typed_one(
                    "SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NULL",
                    &[(&i.schema, Type::TEXT), (&i.name, Type::TEXT)],
                )
                .await?
                .get(0);
            if gone && s.kind == wesley_planner::plan::StepKind::DropIndex {
                applied.insert(s.id.clone());
            }
        }
    }
    // A rollback of an earlier apply of this plan, finished: this one starts afresh.
    if runs
        .iter()
        .any(|r| r.plan_hash == undo_hash && r.status == "done")
        && !opts.dry_run
    {
        ledger::forget_run(client, &undo_hash).await?;
    }
    let undo = match plan.rollback_plan(&applied) {
        Ok(u) => u,
        Err(why) => {
            return Ok(Err(Outcome::refused(
                RefuseReason::CannotUndo,
                format!("cannot roll back plan {hash} on {}: {why}", opts.conn),
            )))
        }
    };
    let refused: Vec<_> = undo
        .plan
        .hazards()
        .filter(|(_, h)| opts.policy.blocks(h.kind, h.severity))
        .collect();
    if !refused.is_empty() {
        return Ok(Err(super::hazards_refused(&refused)));
    }
    rep.emit(Event::Message {
        text: format!(
            "Rolling back plan {hash}: {} of its {} steps ran; {} inverse step(s) undo them.",
            applied.len(),
            plan.steps.len(),
            undo.plan.steps.len()
        ),
    });
    for s in &undo.stays {
        rep.emit(Event::Message {
            text: format!("note: cannot be undone, stays: {s}"),
        });
    }
    debug_assert!(undo.plan.plan_hash().starts_with(ROLLBACK_PREFIX));
    Ok(Ok(Arc::new(Ctx {
        plan: undo.plan,
        opts: opts.clone(),
        rep: rep.clone(),
        mode: Mode::Undo {
            forward: hash.to_string(),
            stays: undo.stays,
            touched: plan
                .steps
                .iter()
                .flat_map(|s| s.touches.iter().cloned())
                .collect(),
        },
    })))
}
