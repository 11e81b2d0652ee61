//! PostgreSQL table lock modes, what each one blocks, and per-table impact summaries.
//! Ground truth: locks measured on PostgreSQL 15, and every annotation checked against
//! `pg_locks` on PostgreSQL 14 to 18 by `tests/tests/plan_apply.rs`; the mode names are
//! those of `pg_locks.mode`.

super::closed_enum! {
    /// A table lock mode, weakest first; its name (`as_str`) is `pg_locks.mode`'s
    /// (`AccessShareLock`, ...), and `sql_name` the one `LOCK TABLE` takes.
    pub enum LockMode {
        /// Taken by `SELECT`; conflicts only with ACCESS EXCLUSIVE.
        #[strum(serialize = "AccessShareLock")]
        AccessShare,
        /// Taken by `SELECT ... FOR UPDATE/SHARE`; conflicts with EXCLUSIVE and ACCESS
        /// EXCLUSIVE.
        #[strum(serialize = "RowShareLock")]
        RowShare,
        /// Taken by `INSERT`/`UPDATE`/`DELETE`; conflicts with SHARE and stronger.
        #[strum(serialize = "RowExclusiveLock")]
        RowExclusive,
        /// `CREATE INDEX CONCURRENTLY`, `VALIDATE CONSTRAINT`, `ANALYZE`: blocks neither reads
        /// nor writes, only other schema changes and vacuum.
        #[strum(serialize = "ShareUpdateExclusiveLock")]
        ShareUpdateExclusive,
        /// `CREATE INDEX` (plain): blocks writes, not reads.
        #[strum(serialize = "ShareLock")]
        Share,
        /// `ADD FOREIGN KEY` (on both tables), `CREATE TRIGGER`: blocks writes (measured on
        /// PostgreSQL 15; see reference/pg15-ddl-locks.md, cases 54, 55 and 82).
        #[strum(serialize = "ShareRowExclusiveLock")]
        ShareRowExclusive,
        /// `REFRESH MATERIALIZED VIEW CONCURRENTLY`: blocks writes and row locks.
        #[strum(serialize = "ExclusiveLock")]
        Exclusive,
        /// Most `ALTER TABLE` forms, `DROP`: blocks everything, reads included.
        #[strum(serialize = "AccessExclusiveLock")]
        AccessExclusive,
    }
}

impl LockMode {
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
    /// The mode, as `pg_locks.mode` names it.
    pub mode: LockMode,
    /// The mode blocks plain `SELECT` (only ACCESS EXCLUSIVE).
    pub blocks_reads: bool,
    /// The mode blocks `INSERT`/`UPDATE`/`DELETE` (SHARE and stronger).
    pub blocks_writes: bool,
}

impl Lock {
    /// A lock on `schema.table`, with `blocks_*` derived from the mode.
    pub fn new(schema: &str, table: &str, mode: LockMode) -> Lock {
        Lock {
            relation: format!("{schema}.{table}"),
            mode,
            blocks_reads: mode.blocks_reads(),
            blocks_writes: mode.blocks_writes(),
        }
    }
}

super::closed_enum! {
    /// How long reads (or writes) of a table can be blocked by a plan, for the per-table
    /// summary reviewers decide on. Plan file names: `none`, `lock_wait`, `table_size`.
    #[strum(serialize_all = "snake_case")]
    pub enum Blocking {
        /// Never blocked.
        None,
        /// Only while a step waits for and holds a lock for an instant: bounded by
        /// `lock_timeout` per attempt (times the retries).
        LockWait,
        /// For as long as a step takes to scan or rewrite the table.
        TableSize,
    }
}

impl Blocking {
    /// For people: `no`, `for a lock wait`, `while the table is read`.
    pub fn describe(self) -> &'static str {
        match self {
            Blocking::None => "no",
            Blocking::LockWait => "for a lock wait (≤ lock_timeout per attempt)",
            Blocking::TableSize => "while the whole table is read or rewritten",
        }
    }
}

super::closed_enum! {
    /// How long the work a plan does on a table runs. Plan file names: `instant`,
    /// `table_size`.
    #[strum(serialize_all = "snake_case")]
    pub enum Work {
        /// Catalog changes only.
        Instant,
        /// Proportional to the table's size (scans, index builds, backfills, rewrites).
        TableSize,
    }
}

impl Work {
    /// For people: `instant` or `proportional to table size`.
    pub fn describe(self) -> &'static str {
        match self {
            Work::Instant => "instant",
            Work::TableSize => "proportional to table size",
        }
    }
}
