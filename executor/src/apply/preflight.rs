//! What a run checks once it holds the advisory lock and before any step runs: the
//! ledger is set up; step sessions a crashed run left are ended; the ledger must not hold
//! another half-applied plan, nor steps of this one applied with other SQL; a plan already
//! applied stops here; and the live database must be where the plan starts (a first run)
//! or somewhere between its two schemas on the tables it changes (a resumed run).

use super::events::Event;
use super::{drift, exprs, ledger, Ctx, Mode, Outcome, RefuseReason, LOCK_APP, STEP_APP};
use crate::error::DbError;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::time::Duration;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// What the ledger and the database say when the checks pass.
pub(super) struct Start {
    /// Runs recorded in the ledger (empty on a database Wesley never migrated).
    pub runs: Vec<ledger::Run>,
    /// Steps of this plan already applied: id → (SQL checksum, when it finished).
    pub applied: BTreeMap<String, (String, String)>,
    /// The live schema before any step runs (the whole form of only the tables that
    /// differ from the plan's start), and its canonical hash.
    pub live: drift::Live,
    pub live_hash: String,
    /// The starting schema's expressions as the server normalised them, on a first run
    /// (empty otherwise), for the end of the run to reuse where they cannot have changed.
    pub known: exprs::Known,
}

/// Runs the checks. `Break` carries how the run ends without running a step (refused,
/// or already applied); `Continue` what it starts from.
pub(super) async fn check(
    ctx: &Ctx,
    client: &Client,
) -> Result<ControlFlow<Outcome, Start>, DbError> {
    let (plan, opts, rep) = (&ctx.plan, &ctx.opts, &ctx.rep);
    let ledger_exists = ledger::exists(client).await?;
    if !opts.dry_run {
        ledger::setup(client).await?;
        // Ended, and gone, before the ledger is read: such a session may still commit a
        // step.
        end_orphaned_sessions(ctx, client).await?;
    }
    let runs = if ledger_exists || !opts.dry_run {
        ledger::runs(client).await?
    } else {
        vec![]
    };
    // The plan a rollback undoes is half-applied by definition.
    let undoing = match &ctx.mode {
        Mode::Undo { forward, .. } => Some(forward.as_str()),
        _ => None,
    };
    if let Some(other) = runs.iter().find(|r| {
        r.status != "done"
            && r.status != ledger::ROLLED_BACK
            && r.plan_hash != plan.plan_hash()
            && Some(r.plan_hash.as_str()) != undoing
    }) {
        let how = if other
            .plan_hash
            .starts_with(wesley_planner::planfile::ROLLBACK_PREFIX)
        {
            "`wesley rollback`"
        } else {
            "`wesley apply`"
        };
        return Ok(ControlFlow::Break(Outcome::refused(
            RefuseReason::OtherPlan,
            format!(
                "another plan ({}) is half-applied on {} ({} of {} steps); finish it first with {how} on that plan file, or resolve it by hand",
                other.plan_hash, opts.conn, other.done, other.steps
            ),
        )));
    }
    // A plan that was rolled back starts again from the beginning (its steps left the
    // ledger), checked like a resumed run: what its rollback could not undo stays.
    let mine = runs
        .iter()
        .find(|r| r.plan_hash == plan.plan_hash())
        .cloned();
    let applied = if ledger_exists || !opts.dry_run {
        ledger::applied(client, plan.plan_hash()).await?
    } else {
        BTreeMap::new()
    };
    for s in &plan.steps {
        if let Some((sum, _)) = applied.get(&s.id) {
            if *sum != ledger::checksum(&plan.text(s).map_err(DbError::Unexpected)?.sql) {
                return Ok(ControlFlow::Break(Outcome::refused(
                    RefuseReason::ModifiedPlan,
                    format!("step {} was applied with different SQL than this plan file holds; the plan file was modified after it was applied", s.id),
                )));
            }
        }
    }
    if mine.as_ref().is_some_and(|r| r.status == "done")
        && plan.steps.iter().all(|s| applied.contains_key(&s.id))
    {
        rep.emit(Event::Message {
            text: format!(
                "Plan {} is already applied to {}; nothing to do.",
                plan.plan_hash(),
                opts.conn
            ),
        });
        return Ok(ControlFlow::Break(Outcome::AlreadyApplied));
    }

    // A run of this plan was started before (even if it recorded no step: an interrupted
    // first index build leaves its index behind): check it as a partial application.
    // A rollback starts wherever the plan stopped: between its two schemas.
    let first = mine.is_none() && ctx.mode == Mode::Apply;
    // A first run checks every expression, while the catalog is read.
    let keep = drift::differing(plan.from());
    let read = drift::read(client, &keep);
    let expected = plan.from().expressions.as_deref().unwrap_or_default();
    let (live, found) = if first {
        // Under the advisory lock a run's sessions are `wesley-step` (a later run ends
        // them if this one dies); a dry run holds no lock, and a run that does would end
        // them.
        let app = if opts.dry_run { LOCK_APP } else { STEP_APP };
        exprs::alongside(
            &opts.conn,
            Some(app),
            client,
            expected,
            &exprs::Known::default(),
            read,
        )
        .await
    } else {
        (read.await, Ok(Default::default()))
    };
    let live = live?;
    let (expr_diffs, known) = found?;
    let live_hash = live.hash(plan.from().extensions());
    let differences = if first {
        first_run_drift(ctx, &live, &live_hash, expr_diffs)
    } else {
        resumed_run_drift(ctx, client, &live).await?
    };
    if !differences.is_empty() {
        rep.emit(Event::Drift {
            differences: differences.clone(),
            allowed: opts.allow_drift,
        });
        if !opts.allow_drift {
            let message = if mine.is_none() && ctx.mode == Mode::Apply {
                format!("drift: {} does not match the schema this plan starts from ({} difference(s)); re-plan from the live schema, or pass --allow-drift", opts.conn, differences.len())
            } else {
                format!("drift: {} changed since the plan was partly applied ({} difference(s)); pass --allow-drift to continue anyway", opts.conn, differences.len())
            };
            return Ok(ControlFlow::Break(Outcome::refused(
                RefuseReason::Drift,
                message,
            )));
        }
    }
    Ok(ControlFlow::Continue(Start {
        runs,
        applied,
        live,
        live_hash,
        known,
    }))
}

/// Ends the step sessions of a crashed run (this run holds the advisory lock, so none
/// belongs to a live run), and waits until they are gone.
pub(super) async fn end_orphaned_sessions(ctx: &Ctx, client: &Client) -> Result<(), DbError> {
    let ended: Vec<i32> = client
        .query_typed("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()", &[(&STEP_APP, Type::TEXT)])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if ended.is_empty() {
        return Ok(());
    }
    ctx.rep.emit(Event::Message {
        text: format!(
            "Ended {} session(s) left over from an interrupted run.",
            ended.len()
        ),
    });
    for _ in 0..100 {
        let left: i64 = client
            .query_typed_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                &[(&ended, Type::INT4_ARRAY)],
            )
            .await?
            .get(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A first run: the database must be the plan's starting schema, expressions included
/// (they are outside the hash; the server compares them: `expr_diffs`).
fn first_run_drift(
    ctx: &Ctx,
    live: &drift::Live,
    live_hash: &str,
    expr_diffs: Vec<String>,
) -> Vec<String> {
    let plan = &ctx.plan;
    if live_hash == plan.from().schema_hash && expr_diffs.is_empty() {
        return Vec::new();
    }
    let mut differences = if live_hash != plan.from().schema_hash {
        drift::against(plan.from(), live)
    } else {
        Vec::new()
    };
    differences.extend(expr_diffs);
    if live.hash(plan.to().extensions()) == plan.to().schema_hash {
        differences.insert(
            0,
            "the database already matches the plan's target schema (applied by other means?)"
                .into(),
        );
    }
    differences
}

/// A resumed run: tables the plan does not change must be exactly as expected, and no
/// table may exist that is in neither schema. The tables it changes may be anywhere in
/// between (renamed in part, an index built for a constraint not yet added, an index
/// dropped before its replacement is renamed); the steps and the final hash check cover
/// those.
async fn resumed_run_drift(
    ctx: &Ctx,
    client: &Client,
    live: &drift::Live,
) -> Result<Vec<String>, DbError> {
    let plan = &ctx.plan;
    let changed: BTreeSet<String> = match &ctx.mode {
        Mode::Undo { touched, .. } => touched.clone(),
        _ => plan
            .steps
            .iter()
            .flat_map(|s| s.touches.iter().cloned())
            .collect(),
    };
    let mut differences = drift::partial(plan.from(), plan.to(), live, &changed);
    // The expressions of tables the plan does not change must be as expected too: as
    // the plan's start has them, or already as its target has them (an enum label the
    // plan renamed reads with its new name in a default).
    let untouched = |side: &wesley_planner::planfile::SchemaRef| -> Vec<wesley_planner::canon::TableExpressions> {
        side.expressions
            .iter()
            .flatten()
            .filter(|e| !changed.contains(&e.table))
            .cloned()
            .collect()
    };
    let (before, after) = (untouched(plan.from()), untouched(plan.to()));
    if exprs::differences(client, &before).await?.is_empty()
        || exprs::differences(client, &after).await?.is_empty()
    {
        return Ok(differences);
    }
    // Table by table: each as one side or the other.
    for e in &before {
        let now = exprs::differences(client, std::slice::from_ref(e)).await?;
        if now.is_empty() {
            continue;
        }
        let target = after.iter().find(|t| t.table == e.table);
        let at_target = match target {
            Some(t) => exprs::differences(client, std::slice::from_ref(t))
                .await?
                .is_empty(),
            None => false,
        };
        if !at_target {
            differences.extend(now);
        }
    }
    Ok(differences)
}
