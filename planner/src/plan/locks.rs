//! PostgreSQL table lock modes, what each one blocks, and per-table impact summaries.
//! Ground truth: locks measured on PostgreSQL 15 (see docs/locks.md); the mode names are
//! those of `pg_locks.mode`.

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

/// How long reads (or writes) of a table can be blocked by a plan, for the per-table
/// summary reviewers decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Blocking {
    /// Never blocked.
    None,
    /// Only while a step waits for and holds a lock for an instant: bounded by
    /// `lock_timeout` per attempt (times the retries).
    LockWait,
    /// For as long as a step takes to scan or rewrite the table.
    TableSize,
}

impl Blocking {
    pub const ALL: [Blocking; 3] = [Blocking::None, Blocking::LockWait, Blocking::TableSize];

    /// The name used in plan files: `none`, `lock_wait`, `table_size`.
    pub fn as_str(self) -> &'static str {
        match self {
            Blocking::None => "none",
            Blocking::LockWait => "lock_wait",
            Blocking::TableSize => "table_size",
        }
    }

    pub fn parse(s: &str) -> Option<Blocking> {
        Blocking::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// For people: `no`, `for a lock wait`, `while the table is read`.
    pub fn describe(self) -> &'static str {
        match self {
            Blocking::None => "no",
            Blocking::LockWait => "for a lock wait (≤ lock_timeout per attempt)",
            Blocking::TableSize => "while the whole table is read or rewritten",
        }
    }
}

/// How long the work a plan does on a table runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Work {
    /// Catalog changes only.
    Instant,
    /// Proportional to the table's size (scans, index builds, backfills, rewrites).
    TableSize,
}

impl Work {
    pub const ALL: [Work; 2] = [Work::Instant, Work::TableSize];

    /// The name used in plan files: `instant` or `table_size`.
    pub fn as_str(self) -> &'static str {
        match self {
            Work::Instant => "instant",
            Work::TableSize => "table_size",
        }
    }

    pub fn parse(s: &str) -> Option<Work> {
        Work::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// For people: `instant` or `proportional to table size`.
    pub fn describe(self) -> &'static str {
        match self {
            Work::Instant => "instant",
            Work::TableSize => "proportional to table size",
        }
    }
}
