//! Which pending step runs when: in plan order with one job, or as a rolling frontier
//! with several (a ready step whose dependencies are applied and whose tables no running
//! step touches; the one with the longest remaining cost first).

use super::checkpoint::Checkpoint;
use super::events::Event;
use super::step::{self, StepError, Worker};
use super::Ctx;
use crate::error::DbError;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::task::JoinSet;
use wesley_planner::planfile::ValidPlan;

/// Longest remaining cost from each step to the end of the plan (critical-path priority),
/// from the costs the plan file carries.
fn bottom_levels(plan: &ValidPlan) -> Vec<u64> {
    let index: BTreeMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); plan.steps.len()];
    for (i, s) in plan.steps.iter().enumerate() {
        for d in &s.depends_on {
            if let Some(&j) = index.get(d.as_str()) {
                dependents[j].push(i);
            }
        }
    }
    let mut level = vec![0u64; plan.steps.len()];
    for i in (0..plan.steps.len()).rev() {
        level[i] = plan.steps[i].cost + dependents[i].iter().map(|&j| level[j]).max().unwrap_or(0);
    }
    level
}

/// Runs the pending steps; returns the failed step and its error, if any.
pub(super) async fn schedule(
    ctx: &Arc<Ctx>,
    pending: &[usize],
    state: &mut Checkpoint,
) -> Option<(String, StepError)> {
    let plan = &ctx.plan;
    let index: BTreeMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let priority = bottom_levels(plan);
    let mut waiting: Vec<usize> = pending.to_vec();
    let mut busy: BTreeSet<String> = BTreeSet::new();
    let mut running: JoinSet<(usize, Worker, Result<(), StepError>)> = JoinSet::new();
    let mut idle: Vec<Worker> = (0..ctx.opts.jobs.max(1))
        .map(|_| Worker::default())
        .collect();
    let mut failure: Option<(String, StepError)> = None;
    loop {
        // Start what can start.
        while failure.is_none() && !idle.is_empty() {
            let ready = waiting.iter().enumerate().filter(|(_, &i)| {
                let s = &plan.steps[i];
                s.depends_on
                    .iter()
                    .all(|d| state.applied.contains(d) || !index.contains_key(d.as_str()))
                    && s.touches.iter().all(|t| !busy.contains(t))
            });
            let pick = if ctx.opts.jobs <= 1 {
                ready.map(|(k, _)| k).next()
            } else {
                ready
                    .max_by_key(|(k, &i)| (priority[i], std::cmp::Reverse(*k)))
                    .map(|(k, _)| k)
            };
            let Some(k) = pick else { break };
            if ctx.opts.jobs <= 1 && k != 0 {
                break; // one job: strictly in plan order
            }
            let i = waiting.remove(k);
            busy.extend(plan.steps[i].touches.iter().cloned());
            let worker = idle.pop().expect("idle worker");
            let ctx2 = ctx.clone();
            running.spawn(async move {
                let mut worker = worker;
                let r = step::execute(&ctx2, i, &mut worker).await;
                (i, worker, r)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, worker, result) = match joined {
            Ok(x) => x,
            Err(e) => {
                failure.get_or_insert((
                    "(worker)".into(),
                    StepError::Db(DbError::Unexpected(format!("a worker task failed: {e}"))),
                ));
                continue;
            }
        };
        for t in &plan.steps[i].touches {
            busy.remove(t);
        }
        idle.push(worker);
        match result {
            Ok(()) => {
                state.applied.insert(plan.steps[i].id.clone());
                ctx.rep.set_position(state.applied.len() as u64);
                state.write(ctx, false);
            }
            Err(e) => {
                state.failed = Some(plan.steps[i].id.clone());
                ctx.rep.emit(Event::StepFailed {
                    step: plan.steps[i].id.clone(),
                    error: e.to_string(),
                });
                failure.get_or_insert((plan.steps[i].id.clone(), e));
            }
        }
        if waiting.is_empty() && running.is_empty() {
            break;
        }
        if failure.is_some() && running.is_empty() {
            break;
        }
    }
    for w in idle {
        w.close().await;
    }
    failure
}
