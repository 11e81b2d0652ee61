//! Migration planning: from two validated models to a phased, lock-annotated plan.
//!
//! `diff` finds the changes (a closed enum), `strategy` turns each change into steps (one
//! change kind per file), `graph` orders the steps into a DAG with waves and a critical
//! path. The result is the internal [`Plan`]; the versioned wire format lives in
//! `crate::planfile` and is converted from it by hand.

pub mod convert;
pub mod diff;
pub mod graph;
pub mod locks;
pub mod strategy;

use crate::diag::Diagnostic;
use crate::model::Schema;
pub use locks::{Lock, LockMode};

/// The setting (`SET LOCAL`) under which `wesley apply` runs each backfill batch, `on`:
/// a shadow column's sync trigger skips the conversion it would repeat for the batch's own
/// `UPDATE` only when it is set, so no other write can fill a shadow unconverted.
pub const BACKFILL_SETTING: &str = "wesley.backfill";

/// `Display` as the name used in plan files (`as_str`).
macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(
    Phase,
    StepKind,
    HazardKind,
    Severity,
    TimeoutClass,
    UndoKind
);

/// The name table of closed enums whose names strum derives (`IntoStaticStr`,
/// `EnumString`, `VariantArray`): `ALL`, every variant in declaration order; `as_str`, the
/// stable name used in plan files and on the command line; `parse`, its inverse.
macro_rules! named {
    ($($t:ident),* $(,)?) => {$(
        impl $t {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$t] = <$t as strum::VariantArray>::VARIANTS;

            /// The stable name used in plan files and on the command line.
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// Reads [`Self::as_str`]'s names; `None` for any other text.
            pub fn parse(s: &str) -> Option<$t> {
                s.parse().ok()
            }
        }
    )*};
}
pub(crate) use named;

/// A closed enum whose names strum derives (`IntoStaticStr`, `EnumString`,
/// `VariantArray`, with the `#[strum]` attributes given), with the usual value traits and
/// [`named`]'s name table.
macro_rules! closed_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($body:tt)* }) => {
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            strum::IntoStaticStr,
            strum::EnumString,
            strum::VariantArray,
        )]
        $(#[$meta])*
        pub enum $name { $($body)* }
        $crate::plan::named!($name);
    };
}
pub(crate) use closed_enum;

closed_enum! {
    /// The five phases of an expand/contract migration, in execution order.
    #[strum(serialize_all = "snake_case")]
    pub enum Phase {
        /// Additive changes old code tolerates: new tables, columns, indexes, NOT VALID constraints.
        Expand,
        /// Batched data copies and fills.
        Backfill,
        /// Scans that prove data satisfies constraints (VALIDATE CONSTRAINT, cast checks).
        Validate,
        /// Short transactions that make the new shape authoritative (renames, SET NOT NULL).
        Switch,
        /// Destructive changes: drops. Held back for an explicit decision.
        Contract,
    }
}

closed_enum! {
    /// What a step does. Stable snake_case names appear in plan files.
    #[strum(serialize_all = "snake_case")]
    pub enum StepKind {
        /// `CREATE SCHEMA IF NOT EXISTS`.
        CreateSchema,
        /// `DROP SCHEMA` (rollback of a schema the plan created; refuses while it holds
        /// anything).
        DropSchema,
        /// `CREATE EXTENSION IF NOT EXISTS` (a type needs it, e.g. `citext`).
        CreateExtension,
        /// `CREATE TYPE ... AS ENUM`.
        CreateEnum,
        /// `ALTER TYPE ... ADD VALUE` (with `BEFORE`/`AFTER` to keep the order).
        AddEnumValue,
        /// `ALTER TYPE ... RENAME VALUE` (a label paired by `@wes_uid`; `breaks_clients`).
        RenameEnumValue,
        /// `DROP TYPE` (contract).
        DropEnum,
        /// `CREATE TABLE` with its keys, checks, inline indexes and comments.
        CreateTable,
        /// `DROP TABLE` (contract; `deletes_data`).
        DropTable,
        /// `ALTER TABLE ... RENAME TO` (`breaks_clients`).
        RenameTable,
        /// `ALTER TABLE ... ADD COLUMN` (instant unless the default is volatile).
        AddColumn,
        /// `ALTER TABLE ... DROP COLUMN` (contract; `deletes_data`).
        DropColumn,
        /// `ALTER TABLE ... RENAME COLUMN` (`breaks_clients`).
        RenameColumn,
        /// `ALTER COLUMN ... SET DEFAULT` (applies to new rows only).
        SetDefault,
        /// `ALTER COLUMN ... DROP DEFAULT`.
        DropDefault,
        /// `ALTER COLUMN ... DROP NOT NULL`.
        DropNotNull,
        /// `ALTER COLUMN ... DROP EXPRESSION`: a generated column becomes a plain one that
        /// keeps its values (no rewrite, no scan).
        DropExpression,
        /// `ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID`: the helper that lets
        /// `SET NOT NULL` skip its scan once validated.
        AddNotNullCheck,
        /// `ALTER COLUMN ... SET NOT NULL` after a validated helper check (no scan), then the
        /// helper is dropped.
        SetNotNull,
        /// `ALTER COLUMN ... TYPE` for the conversions measured not to rewrite or scan.
        AlterColumnType,
        /// The new-typed shadow column of a type change.
        AddShadowColumn,
        /// The trigger that keeps the shadow column in sync with application writes.
        CreateSyncTrigger,
        /// Drops a sync trigger and its functions (rollback of a type change).
        DropSyncTrigger,
        /// The batched `UPDATE` that fills a shadow or new column for existing rows.
        Backfill,
        /// The completeness check: every row converted exactly, else the count and a
        /// query that finds the rows, and the switch never runs.
        CheckBackfill,
        /// One short transaction that renames the shadow column into place (switch).
        SwapColumns,
        /// `CREATE INDEX`, `CONCURRENTLY` on an existing table.
        CreateIndex,
        /// `DROP INDEX CONCURRENTLY`.
        DropIndex,
        /// `ALTER INDEX ... RENAME TO`.
        RenameIndex,
        /// `ALTER TABLE ... RENAME CONSTRAINT`.
        RenameConstraint,
        /// `ADD CONSTRAINT ... UNIQUE`; on an existing table `USING INDEX` over a concurrently
        /// built index.
        AddUnique,
        /// `DROP CONSTRAINT` of a unique constraint.
        DropUnique,
        /// `ADD CONSTRAINT ... PRIMARY KEY`; on an existing table `USING INDEX` over a
        /// concurrently built index.
        AddPrimaryKey,
        /// `DROP CONSTRAINT` of a primary key.
        DropPrimaryKey,
        /// `ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID` (validated by a later step).
        AddForeignKey,
        /// `DROP CONSTRAINT` of a foreign key.
        DropForeignKey,
        /// `ADD CONSTRAINT ... CHECK ... NOT VALID` (validated by a later step).
        AddCheck,
        /// `DROP CONSTRAINT` of a check.
        DropCheck,
        /// `VALIDATE CONSTRAINT`: scans under SHARE UPDATE EXCLUSIVE, blocking no reads
        /// or writes.
        ValidateConstraint,
        /// `CREATE POLICY`.
        CreatePolicy,
        /// `ALTER POLICY` (roles or expressions).
        AlterPolicy,
        /// `DROP POLICY`.
        DropPolicy,
        /// `ALTER TABLE ... ENABLE ROW LEVEL SECURITY` (after its policies exist).
        EnableRls,
        /// `ALTER TABLE ... DISABLE ROW LEVEL SECURITY` (before its policies go).
        DisableRls,
        /// `COMMENT ON TABLE/COLUMN ... IS '...'` (or `IS NULL`).
        SetComment,
        /// `ALTER COLUMN ... ADD GENERATED ... AS IDENTITY` on an existing column, and the
        /// sequence moved past the column's values, in one transaction.
        AddIdentity,
        /// A serial column becomes an identity column keeping its next value: the default
        /// and the old sequence go, the identity comes, in one transaction.
        SerialToIdentity,
        /// `ALTER COLUMN ... SET GENERATED` / `SET INCREMENT BY` / `SET START WITH` (the
        /// sequence's current value is kept).
        AlterIdentity,
        /// `ALTER COLUMN ... DROP IDENTITY IF EXISTS` (contract).
        DropIdentity,
        /// A serial column becomes a plain column: its default and its sequence are dropped
        /// (contract).
        DropSerial,
        /// `ALTER SEQUENCE ... RENAME TO`: a serial column's sequence takes the name the schema
        /// gives it (after a table rename, or a changed `@wes_serial(sequence:)`).
        RenameSequence,
    }
}

closed_enum! {
    /// The closed list of hazards. Stable snake_case names; `wesley plan --allow` and
    /// `wesley apply --allow` take them.
    #[strum(serialize_all = "snake_case")]
    pub enum HazardKind {
        /// Data is removed for good (dropped table or column).
        DeletesData,
        /// Running application code may fail (renames, type changes, removed objects).
        BreaksClients,
        /// The step holds a lock that blocks reads of a table in use for longer than an instant.
        BlocksReads,
        /// The step holds a lock that blocks writes of a table in use for longer than an instant.
        BlocksWrites,
        /// The table is rewritten.
        TableRewrite,
        /// Takes time proportional to the table's size (index builds, validations, backfills).
        LongRunning,
        /// Changes who can see or change which rows (RLS, policies).
        AuthzChange,
        /// Existing rows are updated in batches.
        NeedsBackfill,
        /// Statements the database recorded recently still name a dropped table or column.
        /// Never planned: the executor raises it at apply time from pg_stat_statements.
        StillInUse,
    }
}

impl HazardKind {
    /// One line for documentation and help output.
    pub fn describe(self) -> &'static str {
        match self {
            HazardKind::DeletesData => "data is removed for good",
            HazardKind::BreaksClients => "running application code may fail until it is updated",
            HazardKind::BlocksReads => "reads of a table in use are blocked while the step runs",
            HazardKind::BlocksWrites => "writes to a table in use are blocked while the step runs",
            HazardKind::TableRewrite => "the whole table is rewritten",
            HazardKind::LongRunning => "takes time proportional to the table's size",
            HazardKind::AuthzChange => "changes which rows roles can see or change",
            HazardKind::NeedsBackfill => "existing rows are updated in batches",
            HazardKind::StillInUse => {
                "statements the database recorded recently still use a dropped object"
            }
        }
    }
}

closed_enum! {
    /// What a hazard does to the verdict of `wesley plan` and `wesley apply` (the rules are in
    /// docs/hazards.md).
    #[strum(serialize_all = "snake_case")]
    pub enum Severity {
        /// Shown prominently, but the exit code stays 0: long-running or backfilling steps,
        /// instant strong locks bounded by `lock_timeout`, tightenings the schema's author asked
        /// for (old code fails only on data that breaks the new rule), and widenings no driver
        /// can tell apart. `--deny KIND` promotes a kind to [`Severity::Refuse`].
        Review,
        /// Irreversible, an outage, or a security change: the plan is refused (exit code 3)
        /// unless the kind is listed in `--allow`.
        Refuse,
    }
}

impl HazardKind {
    /// The severity a hazard of this kind has unless its step says otherwise: refusal for
    /// what deletes data, rewrites a table, changes authorization or breaks running code;
    /// review for the rest. `blocks_reads`/`blocks_writes` are raised to refusal when the
    /// lock is held while an existing table is scanned or rewritten (see `strategy::Ctx::finish`).
    pub fn default_severity(self) -> Severity {
        match self {
            HazardKind::DeletesData
            | HazardKind::TableRewrite
            | HazardKind::AuthzChange
            | HazardKind::BreaksClients
            | HazardKind::StillInUse => Severity::Refuse,
            HazardKind::BlocksReads
            | HazardKind::BlocksWrites
            | HazardKind::LongRunning
            | HazardKind::NeedsBackfill => Severity::Review,
        }
    }
}

/// A hazard with a message written for a person: what happens, to which table, what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    /// What kind of hazard.
    pub kind: HazardKind,
    /// Whether it stops `plan`/`apply` unless allowed (see `crate::policy`).
    pub severity: Severity,
    /// What happens, to which table, what to do.
    pub message: String,
}

/// How to run a backfill in batches. The step's `sql` still does the whole backfill when
/// run alone; this tells the executor how to split it into short transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    /// Schema of the table.
    pub schema: String,
    /// Name of the table.
    pub table: String,
    /// Primary-key columns, used to walk the table in key order.
    pub key: Vec<String>,
    /// The SET list, e.g. `"price_new" = "price"::bigint`.
    pub set: String,
    /// Rows that still need the update, e.g. `"price_new" IS NULL AND "price" IS NOT NULL`.
    pub predicate: String,
    /// Rows of the first batch (the executor then sizes batches by their duration).
    pub batch_size: u32,
}

closed_enum! {
    /// How long a step may run, which decides the statement timeout it runs under. Decided
    /// once, by the planner, and carried in the plan file: the executor and the SQL rendering
    /// both read it.
    #[strum(serialize_all = "snake_case")]
    pub enum TimeoutClass {
        /// A catalog change: runs under the short statement timeout (`--statement-timeout`,
        /// 1 minute by default).
        Instant,
        /// One statement that reads or rewrites a whole table (a validation, a concurrent
        /// index build or drop, a completeness check): runs under the long statement timeout
        /// (`--long-statement-timeout`, no limit by default).
        Long,
        /// A backfill: many short transactions, each under the short statement timeout; the
        /// step as a whole has no limit.
        Unbounded,
    }
}

impl TimeoutClass {
    /// The class of a step with these facts: backfills are unbounded; steps that scan or
    /// rewrite a table, or run outside a transaction (CONCURRENTLY, which also waits for
    /// older transactions), are long; the rest are instant.
    pub fn of(scan: bool, rewrite: bool, transactional: bool, backfill: bool) -> TimeoutClass {
        if backfill {
            TimeoutClass::Unbounded
        } else if scan || rewrite || !transactional {
            TimeoutClass::Long
        } else {
            TimeoutClass::Instant
        }
    }

    /// The statement timeout that bounds a whole step of this class: `short` for instant
    /// steps, `long` for long ones, none for a backfill (its batches each run under
    /// `short`). The one mapping both `wesley apply` and the SQL rendering use.
    pub fn statement_timeout(
        self,
        short: crate::timeout::Timeout,
        long: crate::timeout::Timeout,
    ) -> crate::timeout::Timeout {
        match self {
            TimeoutClass::Instant => short,
            TimeoutClass::Long => long,
            TimeoutClass::Unbounded => crate::timeout::Timeout::NONE,
        }
    }
}

closed_enum! {
    /// What `wesley rollback` does about a step that has run: the kind of its [`Undo`].
    /// Stable snake_case names (plan files, docs/plan-format.md, "Rollback").
    #[strum(serialize_all = "snake_case")]
    pub enum UndoKind {
        /// Inverse steps undo it (the plan's rollback section lists them).
        Steps,
        /// Nothing to undo: it changed no object the old schema lacks (a backfill or check of a
        /// column whose inverse drops it, a validation of a constraint whose inverse drops it).
        Nothing,
        /// It cannot be undone, and what it made stays (PostgreSQL cannot remove an enum value);
        /// rollback continues and reports it.
        Stays,
        /// Once it has run, `wesley rollback` refuses (a contract step dropped the old shape).
        Refuses,
    }
}

/// What `wesley rollback` does about a step once it has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// The inverse steps, in the order they run (ids and `undoes` are set when the plan is
    /// assembled).
    Steps(Vec<Step>),
    /// See [`UndoKind::Nothing`].
    Nothing,
    /// See [`UndoKind::Stays`]: what stays, for people.
    Stays(String),
    /// See [`UndoKind::Refuses`]: why, for people.
    Refuses(String),
}

impl Undo {
    /// The kind, as the plan file names it.
    pub fn kind(&self) -> UndoKind {
        match self {
            Undo::Steps(_) => UndoKind::Steps,
            Undo::Nothing => UndoKind::Nothing,
            Undo::Stays(_) => UndoKind::Stays,
            Undo::Refuses(_) => UndoKind::Refuses,
        }
    }

    /// The note of `Stays` and `Refuses`.
    pub fn note(&self) -> Option<&str> {
        match self {
            Undo::Stays(n) | Undo::Refuses(n) => Some(n),
            _ => None,
        }
    }
}

/// The relative cost weight a plan file records for a step (`cost`), from which the
/// critical path and the executor's scheduling priority are computed: 100 for a backfill
/// or a table rewrite, 10 for a scan, 1 for a catalog change. A unitless estimate, not a
/// time.
pub fn cost_weight(backfill: bool, rewrite: bool, scan: bool) -> u64 {
    if backfill || rewrite {
        100
    } else if scan {
        10
    } else {
        1
    }
}

/// An index a non-transactional (`CONCURRENTLY`) step builds or drops. The executor uses it
/// to make the step idempotent: a valid index left by an interrupted build is kept, an
/// invalid one dropped and rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexRef {
    /// The index's schema.
    pub schema: String,
    /// The index's name.
    pub name: String,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Stable, unique id, e.g. `add_column:public.user.nick`.
    pub id: String,
    /// When it runs in the expand/contract sequence.
    pub phase: Phase,
    /// What it does.
    pub kind: StepKind,
    /// The table the step changes (schema, name), if any.
    pub table: Option<(String, String)>,
    /// One line for people: what the step does.
    pub summary: String,
    /// The statement(s), without BEGIN/COMMIT/SET; statements end with `;` and a newline.
    pub sql: String,
    /// False for statements that cannot run in a transaction block (CONCURRENTLY).
    pub transactional: bool,
    /// Ids of steps that must have finished first (earlier in the plan).
    pub depends_on: Vec<String>,
    /// The strongest lock on each table it touches, as measured on PostgreSQL (the golden
    /// plan tests compare them with `pg_locks`).
    pub locks: Vec<Lock>,
    /// It rewrites its table.
    pub rewrite: bool,
    /// It reads its whole table.
    pub scan: bool,
    /// What can go wrong.
    pub hazards: Vec<Hazard>,
    /// How to run a backfill step in batches.
    pub backfill: Option<Backfill>,
    /// See [`TimeoutClass::of`]; set by the planner once the step is complete.
    pub timeout: TimeoutClass,
    /// Estimated relative cost (1 instant, 10 a scan, 100 a rewrite or backfill): the
    /// weights of the critical path and of the executor's scheduling priority.
    pub cost: u64,
    /// The index a `CONCURRENTLY` step builds or drops.
    pub index: Option<IndexRef>,
    /// What `wesley rollback` does about the step once it has run (forward steps only;
    /// `Nothing` on rollback steps).
    pub undo: Undo,
    /// On a rollback step: the id of the forward step it undoes.
    pub undoes: Option<String>,
}

impl Step {
    /// `schema.table` of every table the step changes or locks, sorted: two steps that
    /// touch a common table never run at the same time.
    pub fn touches(&self) -> Vec<String> {
        let mut out: Vec<String> = self.locks.iter().map(|l| l.relation.clone()).collect();
        if let Some((s, t)) = &self.table {
            out.push(format!("{s}.{t}"));
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A complete migration plan in execution order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The canonical hash of the schema the plan starts from.
    pub from_hash: String,
    /// The canonical hash of the schema it ends at.
    pub to_hash: String,
    /// The hash of every table of the starting schema ([`crate::canon::CanonTable::hash`]),
    /// by `schema.table`.
    pub from_table_hashes: std::collections::BTreeMap<String, String>,
    /// The same for the target schema.
    pub to_table_hashes: std::collections::BTreeMap<String, String>,
    /// Canonical forms of the two schemas (their hashes are `from_hash` and `to_hash`).
    pub from: crate::canon::CanonSchema,
    /// The target's canonical form.
    pub to: crate::canon::CanonSchema,
    /// The two schemas' SQL expressions ([`crate::canon::expressions`]), for drift checks.
    pub from_exprs: Vec<crate::canon::TableExpressions>,
    /// The target's expressions.
    pub to_exprs: Vec<crate::canon::TableExpressions>,
    /// Every step, in execution order.
    pub steps: Vec<Step>,
    /// The inverse steps of every step with [`Undo::Steps`], in the order `wesley rollback`
    /// runs them: the reverse of `steps`, each step's inverses in their own order. Ids are
    /// `undo:<forward id>` (`#2`, ... for a second inverse); `undoes` names the forward step.
    pub rollback: Vec<Step>,
    /// Steps grouped by depth in the dependency graph: every step of wave N depends only on
    /// steps of earlier waves.
    pub waves: Vec<Vec<String>>,
    /// The longest chain of dependent steps, weighted by estimated cost.
    pub critical_path: Vec<String>,
    /// Tables that exist only in the new schema (`schema.table`): nothing uses them yet.
    pub new_tables: Vec<String>,
    /// Problems found while planning (errors mean the plan must not be applied).
    pub diagnostics: Vec<Diagnostic>,
}

impl Plan {
    /// No steps: the two schemas are the same.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Hazards of all steps, in step order.
    pub fn hazards(&self) -> impl Iterator<Item = (&Step, &Hazard)> {
        self.steps
            .iter()
            .flat_map(|s| s.hazards.iter().map(move |h| (s, h)))
    }

    /// True when a diagnostic is an error (the plan cannot be applied as is).
    pub fn has_errors(&self) -> bool {
        crate::diag::has_errors(&self.diagnostics)
    }
}

/// A plan without the two schemas' canonical forms, hashes and expressions: the steps
/// and what is derived from them alone. [`plan`] adds the rest; the browser's preview,
/// recomputed on every keystroke, needs nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steps {
    /// See [`Plan::steps`].
    pub steps: Vec<Step>,
    /// See [`Plan::rollback`].
    pub rollback: Vec<Step>,
    /// See [`Plan::waves`].
    pub waves: Vec<Vec<String>>,
    /// See [`Plan::critical_path`].
    pub critical_path: Vec<String>,
    /// See [`Plan::new_tables`].
    pub new_tables: Vec<String>,
    /// See [`Plan::diagnostics`].
    pub diagnostics: Vec<Diagnostic>,
}

impl Steps {
    /// True when a diagnostic is an error (the plan cannot be applied as is).
    pub fn has_errors(&self) -> bool {
        crate::diag::has_errors(&self.diagnostics)
    }
}

/// Plans the migration from `old` to `new`. Never fails: changes that cannot be planned
/// safely come back as error diagnostics. On native targets the two schemas' canonical
/// forms and hashes are computed on threads of their own while the steps are planned
/// (on this thread when one cannot be started; the result is the same either way).
pub fn plan(old: &Schema, new: &Schema) -> Plan {
    #[cfg(not(target_arch = "wasm32"))]
    let (s, from, to) = std::thread::scope(|scope| {
        let spawn = |schema| {
            std::thread::Builder::new()
                .spawn_scoped(scope, move || Side::of(schema))
                .ok()
        };
        let (from, to) = (spawn(old), spawn(new));
        let s = steps(old, new);
        let join = |h: Option<std::thread::ScopedJoinHandle<'_, Side>>, schema| match h {
            Some(h) => h
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => Side::of(schema),
        };
        (s, join(from, old), join(to, new))
    });
    #[cfg(target_arch = "wasm32")]
    let (s, from, to) = (steps(old, new), Side::of(old), Side::of(new));
    Plan {
        from_hash: from.hash,
        to_hash: to.hash,
        from_table_hashes: from.table_hashes,
        to_table_hashes: to.table_hashes,
        from: from.canonical,
        to: to.canonical,
        from_exprs: from.exprs,
        to_exprs: to.exprs,
        steps: s.steps,
        rollback: s.rollback,
        waves: s.waves,
        critical_path: s.critical_path,
        new_tables: s.new_tables,
        diagnostics: s.diagnostics,
    }
}

/// What a plan says of one of its two schemas.
struct Side {
    canonical: crate::canon::CanonSchema,
    hash: String,
    table_hashes: std::collections::BTreeMap<String, String>,
    exprs: Vec<crate::canon::TableExpressions>,
}

impl Side {
    fn of(schema: &Schema) -> Side {
        let canonical = crate::canon::canonical(schema);
        let (hash, table_hashes) = canonical.hashes();
        Side {
            canonical,
            hash,
            table_hashes,
            exprs: crate::canon::expressions(schema),
        }
    }
}

/// [`plan`] without the schemas' canonical forms: the same steps, rollback, waves,
/// critical path, new tables and diagnostics.
pub fn steps(old: &Schema, new: &Schema) -> Steps {
    let changes = diff::diff(old, new);
    let mut ctx = strategy::Ctx::new(old, new);
    let new_tables = ctx.new_tables.clone();
    for change in &changes {
        strategy::plan_change(&mut ctx, change);
    }
    let (steps, mut diagnostics) = ctx.finish();
    let ordered = graph::order(steps);
    if !ordered.cycle.is_empty() {
        diagnostics.push(
            Diagnostic::new(strategy::codes::CYCLE, None, format!("the plan's steps depend on each other in a cycle (around {})", ordered.cycle.join(", ")))
                .with_help("split the change into two migrations, and report this schema pair as a planner bug"),
        );
    }
    let mut steps = ordered.steps;
    let rollback = rollback_steps(&mut steps);
    Steps {
        steps,
        rollback,
        waves: ordered.waves,
        critical_path: ordered.critical_path,
        new_tables: new_tables.iter().map(|(s, t)| format!("{s}.{t}")).collect(),
        diagnostics,
    }
}

/// Moves the inverse steps out of `steps` into the rollback list (see [`Plan::rollback`]).
/// Contract steps refuse rollback whatever their strategy said: once one has run, the old
/// shape is gone.
fn rollback_steps(steps: &mut [Step]) -> Vec<Step> {
    let mut out = Vec::new();
    for s in steps.iter_mut().rev() {
        if s.phase == Phase::Contract {
            s.undo = Undo::Refuses(format!(
                "{} is a contract step: once it has run, the old shape is gone (restore from the restore point taken before it, or plan forward)",
                s.id
            ));
            continue;
        }
        if let Undo::Steps(inverse) = &mut s.undo {
            for (n, mut u) in std::mem::take(inverse).into_iter().enumerate() {
                u.id = match n {
                    0 => format!("undo:{}", s.id),
                    n => format!("undo:{}#{}", s.id, n + 1),
                };
                u.undoes = Some(s.id.clone());
                u.undo = Undo::Nothing;
                u.depends_on = Vec::new();
                out.push(u);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::locks::{Blocking, Work};
    use super::*;

    /// Every name reads back as its variant, no two variants share a name, and the plan
    /// file names keep their snake_case spelling (the wire format depends on them).
    fn round_trip<T: Copy + PartialEq + std::fmt::Debug>(
        all: &[T],
        name: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        let mut seen = std::collections::BTreeSet::new();
        for &v in all {
            assert_eq!(parse(name(v)), Some(v));
            assert!(seen.insert(name(v)), "{} twice", name(v));
        }
        assert_eq!(parse("no such name"), None);
    }

    #[test]
    fn names_round_trip() {
        round_trip(Phase::ALL, Phase::as_str, Phase::parse);
        round_trip(StepKind::ALL, StepKind::as_str, StepKind::parse);
        round_trip(HazardKind::ALL, HazardKind::as_str, HazardKind::parse);
        round_trip(Severity::ALL, Severity::as_str, Severity::parse);
        round_trip(TimeoutClass::ALL, TimeoutClass::as_str, TimeoutClass::parse);
        round_trip(UndoKind::ALL, UndoKind::as_str, UndoKind::parse);
        round_trip(LockMode::ALL, LockMode::as_str, LockMode::parse);
        round_trip(Blocking::ALL, Blocking::as_str, Blocking::parse);
        round_trip(Work::ALL, Work::as_str, Work::parse);
        assert_eq!(StepKind::AddNotNullCheck.as_str(), "add_not_null_check");
        assert_eq!(
            LockMode::ShareUpdateExclusive.as_str(),
            "ShareUpdateExclusiveLock"
        );
        assert_eq!(Phase::ALL.len(), 5);
        assert_eq!(StepKind::ALL.len(), 51);
    }
}
