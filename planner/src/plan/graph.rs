//! The step graph: dependencies from explicit chains, object keys (a step requiring an
//! object runs after the steps providing it and before the steps removing it; one using
//! it as it was runs before the steps removing it; a key a foreign key can reference,
//! which old and new objects may hold at once, is required after its old holders are
//! removed), phase order
//! per table (expand before backfill before validate before switch before contract), and at
//! most one concurrent index build per table. Ordered deterministically (phase, then the
//! order changes were planned in); also records waves and the critical path.

use super::strategy::{is_capability, StepSpec};
use super::{Phase, Step};
use petgraph::graph::{DiGraph, NodeIndex};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// The steps in execution order, with the graph's facts.
pub struct Ordered {
    /// Every step, dependencies first, deterministic.
    pub steps: Vec<Step>,
    /// Steps that were part of a dependency cycle (empty when the graph is acyclic).
    pub cycle: Vec<String>,
    /// Step ids by depth in the graph.
    pub waves: Vec<Vec<String>>,
    /// The longest chain of dependent steps, weighted by cost.
    pub critical_path: Vec<String>,
}

/// Builds the dependency graph and orders the steps. Cycles (which the strategies should
/// never produce) are broken by plan order and reported in `cycles`.
pub fn order(mut specs: Vec<StepSpec>) -> Ordered {
    raise_phases(&mut specs);
    let n = specs.len();
    let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(n, n * 2);
    let nodes: Vec<NodeIndex> = (0..n).map(|i| g.add_node(i)).collect();
    let index_of: BTreeMap<&str, usize> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.step.id.as_str(), i))
        .collect();
    let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut add = |a: usize, b: usize| {
        if a != b {
            edges.insert((a, b));
        }
    };

    // Explicit chains.
    for (i, s) in specs.iter().enumerate() {
        for a in &s.after {
            if let Some(&j) = index_of.get(a.as_str()) {
                add(j, i);
            }
        }
    }
    // Object keys.
    let mut providers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut removers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in specs.iter().enumerate() {
        for k in &s.provides {
            providers.entry(k).or_default().push(i);
        }
        for k in &s.removes {
            removers.entry(k).or_default().push(i);
        }
    }
    for (i, s) in specs.iter().enumerate() {
        let table_key = s
            .step
            .table
            .as_ref()
            .map(|(sc, t)| format!("table:{sc}.{t}"));
        let needs = s
            .requires
            .iter()
            .map(String::as_str)
            .chain(table_key.as_deref());
        for k in needs {
            if s.provides.iter().any(|p| p == k) || s.removes.iter().any(|r| r == k) {
                continue;
            }
            for &p in providers.get(k).into_iter().flatten() {
                add(p, i);
            }
            for &r in removers.get(k).into_iter().flatten() {
                // A key that a foreign key can reference may be held by an old object and
                // a new one at once: the old goes first, so that a foreign key added after
                // it takes the one that stays (PostgreSQL binds it to the first unique
                // index that matches, and then refuses to drop that one, 2BP01).
                if is_capability(k) {
                    add(r, i);
                    continue;
                }
                // A removal waits for users of the old object, unless the user also needs
                // something the removal's own chain provides.
                if !s.removes.is_empty() || specs[r].phase_rank() >= s.phase_rank() {
                    add(i, r);
                }
            }
        }
        // What a step uses as it was is removed only after it (`raise_phases` has put
        // every remover in the user's phase or a later one).
        for k in &s.uses {
            for &r in removers.get(k.as_str()).into_iter().flatten() {
                add(i, r);
            }
        }
        for k in &s.provides {
            if is_capability(k) {
                continue; // old and new key may stand side by side
            }
            for &r in removers.get(k.as_str()).into_iter().flatten() {
                add(r, i); // drop the old object before creating its replacement
            }
        }
    }
    // Phase order per table, and one concurrent index build at a time per table.
    let mut by_table: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, s) in specs.iter().enumerate() {
        if let Some(t) = &s.step.table {
            by_table.entry(t.clone()).or_default().push(i);
        }
    }
    for steps in by_table.values() {
        for phase in [
            Phase::Backfill,
            Phase::Validate,
            Phase::Switch,
            Phase::Contract,
        ] {
            let earlier: Vec<usize> = steps
                .iter()
                .copied()
                .filter(|&i| specs[i].step.phase < phase)
                .collect();
            let Some(prev_phase) = earlier.iter().map(|&i| specs[i].step.phase).max() else {
                continue;
            };
            for &i in steps.iter().filter(|&&i| specs[i].step.phase == phase) {
                for &j in earlier
                    .iter()
                    .filter(|&&j| specs[j].step.phase == prev_phase)
                {
                    add(j, i);
                }
            }
        }
        let builds: Vec<usize> = steps
            .iter()
            .copied()
            .filter(|&i| !specs[i].step.transactional && specs[i].step.scan)
            .collect();
        for w in builds.windows(2) {
            add(w[0], w[1]);
        }
    }
    for &(a, b) in &edges {
        g.add_edge(nodes[a], nodes[b], ());
    }

    // Kahn's algorithm with a deterministic priority: phase, then planning order. Edges
    // that would close a cycle are dropped (the cycle is broken at the lowest priority).
    // petgraph's `toposort` takes no priority and stops at the first cycle, and the plan
    // order is part of the golden outputs, so this one stays hand-written.
    let mut indeg: Vec<usize> = vec![0; n];
    for &(_, b) in &edges {
        indeg[b] += 1;
    }
    let key = |i: usize| (specs[i].step.phase, i);
    let mut heap: BinaryHeap<Reverse<((Phase, usize), usize)>> = (0..n)
        .filter(|&i| indeg[i] == 0)
        .map(|i| Reverse((key(i), i)))
        .collect();
    let mut out: Vec<usize> = Vec::with_capacity(n);
    let mut done = vec![false; n];
    let mut cycle: Vec<String> = Vec::new();
    while out.len() < n {
        let next = match heap.pop() {
            Some(Reverse((_, i))) => i,
            None => {
                let i = (0..n)
                    .filter(|&i| !done[i])
                    .min_by_key(|&i| key(i))
                    .expect("steps remain");
                cycle.push(specs[i].step.id.clone());
                i
            }
        };
        if done[next] {
            continue;
        }
        done[next] = true;
        out.push(next);
        for e in g.neighbors_directed(nodes[next], petgraph::Direction::Outgoing) {
            let j = g[e];
            indeg[j] = indeg[j].saturating_sub(1);
            if indeg[j] == 0 && !done[j] {
                heap.push(Reverse((key(j), j)));
            }
        }
    }
    let pos: Vec<usize> = {
        let mut p = vec![0; n];
        for (k, &i) in out.iter().enumerate() {
            p[i] = k;
        }
        p
    };
    // Dependencies that point forward in the final order (a broken cycle drops the rest).
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in &edges {
        if pos[a] < pos[b] {
            deps[b].push(a);
        }
    }
    let mut steps: Vec<Step> = Vec::with_capacity(n);
    let mut level: Vec<usize> = vec![0; n];
    let mut best: Vec<(u64, Option<usize>)> = vec![(0, None); n];
    for &i in &out {
        let mut d = deps[i].clone();
        d.sort_by_key(|&j| pos[j]);
        level[i] = d.iter().map(|&j| level[j] + 1).max().unwrap_or(0);
        let (c, from) = d
            .iter()
            .map(|&j| (best[j].0, Some(j)))
            .max_by_key(|(c, j)| (*c, Reverse(j.map(|x| pos[x]))))
            .unwrap_or((0, None));
        best[i] = (c + specs[i].step.cost, from);
        let mut step = specs[i].step.clone();
        step.depends_on = d.iter().map(|&j| specs[j].step.id.clone()).collect();
        steps.push(step);
    }
    let depth = level.iter().copied().max().map(|m| m + 1).unwrap_or(0);
    let mut waves: Vec<Vec<String>> = vec![Vec::new(); depth];
    for &i in &out {
        waves[level[i]].push(specs[i].step.id.clone());
    }
    let mut critical_path = Vec::new();
    if let Some(&end) = out.iter().max_by_key(|&&i| (best[i].0, Reverse(pos[i]))) {
        let mut cur = Some(end);
        while let Some(i) = cur {
            critical_path.push(specs[i].step.id.clone());
            cur = best[i].1;
        }
        critical_path.reverse();
    }
    Ordered {
        steps,
        cycle,
        waves,
        critical_path,
    }
}

/// A step never runs in an earlier phase than a step it needs: when a requirement is
/// provided by a later phase (a check on a column whose type changes through a shadow
/// column needs the column as it is after the switch), the step moves to that phase, and
/// so do the steps chained after it.
fn raise_phases(specs: &mut [StepSpec]) {
    let index_of: BTreeMap<String, usize> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.step.id.clone(), i))
        .collect();
    let mut providers: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut users: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut removers: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in specs.iter().enumerate() {
        for k in &s.provides {
            providers.entry(k.clone()).or_default().push(i);
        }
        for k in s.removes.iter().filter(|k| is_capability(k)) {
            removers.entry(k.clone()).or_default().push(i);
        }
        for k in &s.uses {
            users.entry(k.clone()).or_default().push(i);
        }
    }
    let needs: Vec<Vec<usize>> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut v: Vec<usize> = s
                .after
                .iter()
                .filter_map(|a| index_of.get(a).copied())
                .collect();
            for k in &s.requires {
                if s.provides.contains(k) {
                    continue;
                }
                v.extend(
                    providers
                        .get(k)
                        .into_iter()
                        .flatten()
                        .chain(removers.get(k).into_iter().flatten())
                        .copied()
                        .filter(|&p| p != i),
                );
            }
            // A removal comes in the phase of the last step that uses the old object.
            for k in &s.removes {
                v.extend(
                    users
                        .get(k)
                        .into_iter()
                        .flatten()
                        .copied()
                        .filter(|&u| u != i),
                );
            }
            v
        })
        .collect();
    // Phases only rise and there are five, so this settles after a few passes.
    for _ in 0..Phase::ALL.len() * 2 {
        let mut changed = false;
        for i in 0..specs.len() {
            let need = needs[i].iter().map(|&j| specs[j].step.phase).max();
            if let Some(p) = need.filter(|p| *p > specs[i].step.phase) {
                specs[i].step.phase = p;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

impl StepSpec {
    fn phase_rank(&self) -> Phase {
        self.step.phase
    }
}
