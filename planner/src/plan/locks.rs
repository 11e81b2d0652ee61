//! PostgreSQL table lock modes, what each one blocks, and per-table impact summaries.
//! Ground truth: locks measured on PostgreSQL 15 (see docs/locks.md); the mode names are
//! those of `pg_locks.mode`.

use super::{Step, TableImpact};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl LockMode {
    pub const ALL: [LockMode; 8] = [
        LockMode::AccessShare,
        LockMode::RowShare,
        LockMode::RowExclusive,
        LockMode::ShareUpdateExclusive,
        LockMode::Share,
        LockMode::ShareRowExclusive,
        LockMode::Exclusive,
        LockMode::AccessExclusive,
    ];

    /// The name `pg_locks.mode` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::AccessShare => "AccessShareLock",
            LockMode::RowShare => "RowShareLock",
            LockMode::RowExclusive => "RowExclusiveLock",
            LockMode::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            LockMode::Share => "ShareLock",
            LockMode::ShareRowExclusive => "ShareRowExclusiveLock",
            LockMode::Exclusive => "ExclusiveLock",
            LockMode::AccessExclusive => "AccessExclusiveLock",
        }
    }

    pub fn parse(s: &str) -> Option<LockMode> {
        LockMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Blocks plain SELECT.
    pub fn blocks_reads(self) -> bool {
        self == LockMode::AccessExclusive
    }

    /// Blocks INSERT/UPDATE/DELETE.
    pub fn blocks_writes(self) -> bool {
        self >= LockMode::Share
    }

    /// A short badge text, e.g. `SHARE UPDATE EXCLUSIVE`.
    pub fn sql_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }
}

/// A lock a step takes on one table (the strongest mode it holds there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// `schema.table`.
    pub relation: String,
    pub mode: LockMode,
    pub blocks_reads: bool,
    pub blocks_writes: bool,
}

impl Lock {
    pub fn new(schema: &str, table: &str, mode: LockMode) -> Lock {
        Lock {
            relation: format!("{schema}.{table}"),
            mode,
            blocks_reads: mode.blocks_reads(),
            blocks_writes: mode.blocks_writes(),
        }
    }
}

/// Summarizes the plan per table: strongest lock, step count, rewrite/scan, impact.
pub fn table_impacts(steps: &[Step], new_tables: &BTreeSet<(String, String)>) -> Vec<TableImpact> {
    let mut map: std::collections::BTreeMap<String, TableImpact> =
        std::collections::BTreeMap::new();
    for step in steps {
        let mut touched: Vec<String> = step.locks.iter().map(|l| l.relation.clone()).collect();
        if let Some((s, t)) = &step.table {
            touched.push(format!("{s}.{t}"));
        }
        touched.sort();
        touched.dedup();
        for rel in touched {
            let new_table = {
                let (s, t) = rel.split_once('.').unwrap_or(("public", &rel));
                new_tables.contains(&(s.to_string(), t.to_string()))
            };
            let e = map.entry(rel.clone()).or_insert(TableImpact {
                table: rel.clone(),
                strongest_lock: None,
                steps: 0,
                rewrite: false,
                scan: false,
                blocks_reads: false,
                blocks_writes: false,
                impact: "instant",
                new_table,
            });
            e.steps += 1;
            for l in step.locks.iter().filter(|l| l.relation == rel) {
                e.strongest_lock = e.strongest_lock.max(Some(l.mode));
                e.blocks_reads |= l.blocks_reads;
                e.blocks_writes |= l.blocks_writes;
            }
            if step
                .table
                .as_ref()
                .is_some_and(|(s, t)| format!("{s}.{t}") == rel)
            {
                e.rewrite |= step.rewrite;
                e.scan |= step.scan || step.backfill.is_some();
            }
            if (e.rewrite || e.scan) && !e.new_table {
                e.impact = "proportional to table size";
            }
        }
    }
    map.into_values().collect()
}
