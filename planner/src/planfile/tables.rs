//! The per-table summary of a plan file, computed from its steps. [`summarize`] is the
//! only place it is computed: `to_plan_file` writes it, and validation recomputes it to
//! check a file read from elsewhere.

use super::dto::{PlanStep, PlanTable};
use crate::plan::locks::{Blocking, Work};
use crate::plan::LockMode;
use std::collections::{BTreeMap, BTreeSet};

/// One entry per table any step touches, sorted by name. `new_tables` are the tables the
/// plan creates (`schema.table`): nothing uses them yet, so nothing on them is blocked.
///
/// A lock that blocks reads (or writes) blocks them for as long as its step holds it: a
/// step that scans or rewrites the table (or backfills it) holds it for a time
/// proportional to the table's size ([`Blocking::TableSize`]); any other step for an
/// instant, bounded by `lock_timeout` per attempt ([`Blocking::LockWait`]). The work runs
/// for a time proportional to the table's size when a step of the table scans, rewrites
/// or backfills it.
pub fn summarize(steps: &[PlanStep], new_tables: &BTreeSet<String>) -> Vec<PlanTable> {
    struct Acc {
        strongest: Option<LockMode>,
        steps: usize,
        rewrite: bool,
        scan: bool,
        reads: Blocking,
        writes: Blocking,
        work: Work,
    }
    let mut map: BTreeMap<&str, Acc> = BTreeMap::new();
    for s in steps {
        let long = s.scan || s.rewrite || s.backfill.is_some();
        let held = if long {
            Blocking::TableSize
        } else {
            Blocking::LockWait
        };
        for rel in &s.touches {
            let new = new_tables.contains(rel);
            let e = map.entry(rel.as_str()).or_insert(Acc {
                strongest: None,
                steps: 0,
                rewrite: false,
                scan: false,
                reads: Blocking::None,
                writes: Blocking::None,
                work: Work::Instant,
            });
            e.steps += 1;
            for l in s.locks.iter().filter(|l| l.relation == *rel) {
                let Some(mode) = l.mode() else { continue };
                e.strongest = e.strongest.max(Some(mode));
                if !new && mode.blocks_reads() {
                    e.reads = e.reads.max(held);
                }
                if !new && mode.blocks_writes() {
                    e.writes = e.writes.max(held);
                }
            }
            if s.table.as_deref() == Some(rel.as_str()) {
                e.rewrite |= s.rewrite;
                e.scan |= s.scan || s.backfill.is_some();
                if long && !new {
                    e.work = Work::TableSize;
                }
            }
        }
    }
    map.into_iter()
        .map(|(table, a)| PlanTable {
            table: table.to_string(),
            strongest_lock: a.strongest.map(|m| m.as_str().to_string()),
            steps: a.steps,
            rewrite: a.rewrite,
            scan: a.scan,
            reads_blocked: a.reads.as_str().to_string(),
            writes_blocked: a.writes.as_str().to_string(),
            work: a.work.as_str().to_string(),
            new_table: new_tables.contains(table),
        })
        .collect()
}
