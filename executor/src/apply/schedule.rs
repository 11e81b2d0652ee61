//! Which pending step runs when: in plan order with one job, or as a rolling frontier
//! with several (a ready step whose dependencies are applied and whose tables no running
//! step touches; the one with the longest remaining cost first).

use super::checkpoint::Checkpoint;
use super::events::Event;
use super::step::{self, StepError, Worker};
use super::Ctx;
use crate::error::DbError;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
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
    // What each step waits for: the steps of the plan it depends on that are not applied.
    let waits: Vec<Vec<usize>> = plan
        .steps
        .iter()
        .map(|s| {
            s.depends_on
                .iter()
                .filter(|d| !state.applied.contains(*d))
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let touches: Vec<&[String]> = plan.steps.iter().map(|s| s.touches.as_slice()).collect();
    let mut frontier = Frontier::new(
        &waits,
        &touches,
        bottom_levels(plan),
        pending,
        ctx.opts.jobs <= 1,
    );
    let mut running: JoinSet<(usize, Worker, Result<(), StepError>)> = JoinSet::new();
    let mut idle: Vec<Worker> = (0..ctx.opts.jobs.max(1))
        .map(|_| Worker::default())
        .collect();
    let mut failure: Option<(String, StepError)> = None;
    loop {
        // Start what can start.
        while failure.is_none() && !idle.is_empty() {
            let Some(i) = frontier.pick() else { break };
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
        idle.push(worker);
        frontier.done(i, result.is_ok());
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
        if frontier.is_empty() && running.is_empty() {
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

/// A ready step's place in the queue: highest priority first, then plan order.
type Ranked = (u64, Reverse<usize>, usize);

/// Which pending step starts next. With one job: the next one in plan order, once what it
/// depends on is applied. With several: of the steps whose dependencies are applied and
/// whose tables no running step touches, the one with the longest remaining cost, the
/// first in plan order among equals. Each pick and each finished step costs O(log n) (a
/// heap of ready steps; a ready step whose table is busy waits on that table until it is
/// free), not a scan of every waiting step: with `--jobs 4`, a scan per pick made a
/// 19,370-step run spend 107 s of CPU choosing steps.
struct Frontier<'a> {
    touches: &'a [&'a [String]],
    priority: Vec<u64>,
    /// Per step: how many steps it waits for are not done yet.
    unmet: Vec<usize>,
    /// Per step: the waiting steps that wait for it.
    dependents: Vec<Vec<usize>>,
    /// Position in the pending list, per step.
    position: Vec<usize>,
    /// One job: the pending steps in order, not yet started.
    queue: VecDeque<usize>,
    /// Several jobs: the ready steps.
    ready: BinaryHeap<Ranked>,
    /// Ready steps waiting for a busy table, by that table.
    parked: BTreeMap<&'a str, Vec<Ranked>>,
    busy: BTreeSet<&'a str>,
    one_job: bool,
    /// Pending steps not started yet.
    left: usize,
}

impl<'a> Frontier<'a> {
    /// `waits[i]`: the steps step `i` waits for (by index, those not applied yet);
    /// `touches[i]`: its tables; `pending`: the steps to run, in plan order.
    fn new(
        waits: &[Vec<usize>],
        touches: &'a [&'a [String]],
        priority: Vec<u64>,
        pending: &[usize],
        one_job: bool,
    ) -> Frontier<'a> {
        let n = touches.len();
        let mut f = Frontier {
            touches,
            priority,
            unmet: vec![0; n],
            dependents: vec![Vec::new(); n],
            position: vec![usize::MAX; n],
            queue: pending.iter().copied().collect(),
            ready: BinaryHeap::new(),
            parked: BTreeMap::new(),
            busy: BTreeSet::new(),
            one_job,
            left: pending.len(),
        };
        for (k, &i) in pending.iter().enumerate() {
            f.position[i] = k;
            f.unmet[i] = waits[i].len();
            for &d in &waits[i] {
                f.dependents[d].push(i);
            }
        }
        if !one_job {
            for &i in pending {
                if f.unmet[i] == 0 {
                    f.ready.push(f.rank(i));
                }
            }
        }
        f
    }

    fn rank(&self, i: usize) -> Ranked {
        (self.priority[i], Reverse(self.position[i]), i)
    }

    /// The next step to start (its tables become busy), or `None` when none can start now.
    fn pick(&mut self) -> Option<usize> {
        let i = if self.one_job {
            let &i = self.queue.front()?;
            if self.unmet[i] > 0
                || self.touches[i]
                    .iter()
                    .any(|t| self.busy.contains(t.as_str()))
            {
                return None;
            }
            self.queue.pop_front();
            i
        } else {
            loop {
                let r = self.ready.pop()?;
                let i = r.2;
                match self.touches[i]
                    .iter()
                    .find(|t| self.busy.contains(t.as_str()))
                {
                    Some(t) => self.parked.entry(t.as_str()).or_default().push(r),
                    None => break i,
                }
            }
        };
        self.busy.extend(self.touches[i].iter().map(String::as_str));
        self.left -= 1;
        Some(i)
    }

    /// Step `i` finished: its tables are free; when it succeeded, what waited for it may
    /// be ready.
    fn done(&mut self, i: usize, ok: bool) {
        for t in self.touches[i] {
            self.busy.remove(t.as_str());
            if let Some(back) = self.parked.remove(t.as_str()) {
                self.ready.extend(back);
            }
        }
        if ok {
            for k in 0..self.dependents[i].len() {
                let d = self.dependents[i][k];
                self.unmet[d] -= 1;
                if self.unmet[d] == 0 && !self.one_job {
                    self.ready.push(self.rank(d));
                }
            }
        }
    }

    /// Whether every pending step has been started.
    fn is_empty(&self) -> bool {
        self.left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The picks of the scan this replaced: every waiting step looked at on every pick.
    struct Scan {
        waiting: Vec<usize>,
        applied: BTreeSet<usize>,
        busy: BTreeSet<String>,
    }

    impl Scan {
        fn pick(
            &mut self,
            waits: &[Vec<usize>],
            touches: &[&[String]],
            priority: &[u64],
            one_job: bool,
        ) -> Option<usize> {
            let ready = self.waiting.iter().enumerate().filter(|(_, &i)| {
                waits[i].iter().all(|d| self.applied.contains(d))
                    && touches[i].iter().all(|t| !self.busy.contains(t))
            });
            let k = if one_job {
                ready.map(|(k, _)| k).next().filter(|&k| k == 0)?
            } else {
                ready
                    .max_by_key(|(k, &i)| (priority[i], Reverse(*k)))
                    .map(|(k, _)| k)?
            };
            let i = self.waiting.remove(k);
            self.busy.extend(touches[i].iter().cloned());
            Some(i)
        }

        fn done(&mut self, i: usize, ok: bool, touches: &[&[String]]) {
            for t in touches[i] {
                self.busy.remove(t);
            }
            if ok {
                self.applied.insert(i);
            }
        }
    }

    /// xorshift64: random plans without a dependency.
    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// Random plans (dependencies on earlier steps, a few tables, some steps already
    /// applied or not pending, some failing), run with 1 to 4 jobs, finishing the running
    /// steps in random order: the frontier picks exactly what the scan picked.
    #[test]
    fn the_frontier_picks_what_a_scan_of_every_waiting_step_picks() {
        let mut seed = 0x5eed_u64;
        for case in 0..300 {
            let n = 1 + (next(&mut seed) % 60) as usize;
            let tables: Vec<String> = (0..1 + next(&mut seed) % 6)
                .map(|t| format!("t{t}"))
                .collect();
            let mut waits = Vec::new();
            let mut touch_sets: Vec<Vec<String>> = Vec::new();
            let mut priority = Vec::new();
            for i in 0..n {
                let deps = if i == 0 { 0 } else { next(&mut seed) % 3 };
                let mut w: Vec<usize> = (0..deps).map(|_| (next(&mut seed) as usize) % i).collect();
                // Duplicates kept: a step may list a dependency twice.
                w.sort();
                waits.push(w);
                let k = (next(&mut seed) % 3) as usize;
                touch_sets.push(
                    (0..k)
                        .map(|_| tables[(next(&mut seed) as usize) % tables.len()].clone())
                        .collect(),
                );
                priority.push(next(&mut seed) % 5);
            }
            let touches: Vec<&[String]> = touch_sets.iter().map(Vec::as_slice).collect();
            // Some steps are not pending (applied before: dropped from what waits for
            // them; or held back: still waited for).
            let mut pending = Vec::new();
            for i in 0..n {
                match next(&mut seed) % 10 {
                    0 => {
                        for w in &mut waits {
                            w.retain(|&d| d != i);
                        }
                    }
                    1 => {}
                    _ => pending.push(i),
                }
            }
            let jobs = 1 + (case % 4);
            let one_job = jobs == 1;
            let mut frontier = Frontier::new(&waits, &touches, priority.clone(), &pending, one_job);
            let mut scan = Scan {
                waiting: pending.clone(),
                applied: BTreeSet::new(),
                busy: BTreeSet::new(),
            };
            let mut running: Vec<usize> = Vec::new();
            let mut failed = false;
            loop {
                while !failed && running.len() < jobs {
                    let want = scan.pick(&waits, &touches, &priority, one_job);
                    assert_eq!(frontier.pick(), want, "case {case}");
                    match want {
                        Some(i) => running.push(i),
                        None => break,
                    }
                }
                if running.is_empty() {
                    break;
                }
                let i = running.remove((next(&mut seed) as usize) % running.len());
                let ok = next(&mut seed) % 50 != 0;
                failed |= !ok;
                scan.done(i, ok, &touches);
                frontier.done(i, ok);
                assert_eq!(frontier.is_empty(), scan.waiting.is_empty(), "case {case}");
            }
        }
    }
}
