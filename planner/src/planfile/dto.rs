//! The serde types of the plan file (see the module documentation of `planfile` and
//! docs/plan-format.md). Names of enums are strings here; [`super::ValidPlan`] holds them
//! typed once a file is validated.

#[allow(unused_imports)] // named in doc links
use crate::plan::locks::{Blocking, Work};
use crate::plan::{HazardKind, LockMode, Phase, Severity, StepKind, TimeoutClass, UndoKind};
use serde::{Deserialize, Serialize};

/// A plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// Always [`super::FORMAT`].
    pub format: String,
    /// The version of the planner that wrote the file.
    pub planner_version: String,
    /// PostgreSQL major versions the planner's lock annotations and strategies are verified
    /// on ([`super::VERIFIED_ON`]); `wesley apply` warns on a server outside them.
    pub verified_on: Vec<u32>,
    /// The schema the plan starts from (the empty schema for a first plan).
    pub from: SchemaRef,
    /// The schema the database has after the plan.
    pub to: SchemaRef,
    /// See the module documentation.
    pub plan_hash: String,
    /// In execution order.
    pub steps: Vec<PlanStep>,
    /// The inverse steps `wesley rollback` runs, in the order it runs them (the reverse of
    /// `steps`); each names the step it undoes (`undoes`). A rollback runs the inverses of
    /// the steps the ledger records as applied (and of `CONCURRENTLY` steps that may have
    /// started), and refuses once a step whose `undo` is `refuses` has run.
    /// docs/plan-format.md, "Rollback".
    pub rollback: Vec<PlanStep>,
    /// Step ids grouped by depth in the dependency graph: every step of wave *n* depends
    /// only on steps of earlier waves; every step is in exactly one wave.
    pub waves: Vec<Vec<String>>,
    /// The longest chain of dependent steps weighted by `cost`; each depends on the one
    /// before.
    pub critical_path: Vec<String>,
    /// One summary per table a step changes or locks, sorted by name
    /// ([`super::summarize`] computes it; readers check it).
    pub tables: Vec<PlanTable>,
    /// Problems found while planning; any `error` means the plan must not be applied.
    pub diagnostics: Vec<PlanDiagnostic>,
}

/// What the browser shows of a plan while someone types: the fields of the [`PlanFile`]
/// that depend on the steps alone, with the same names and values (`to_preview` and
/// `to_plan_file` build them with the same code). It has no schemas and no hash, so it is
/// never a plan file: exports build the file itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    /// See [`PlanFile::steps`].
    pub steps: Vec<PlanStep>,
    /// See [`PlanFile::rollback`].
    pub rollback: Vec<PlanStep>,
    /// See [`PlanFile::waves`].
    pub waves: Vec<Vec<String>>,
    /// See [`PlanFile::critical_path`].
    pub critical_path: Vec<String>,
    /// See [`PlanFile::tables`].
    pub tables: Vec<PlanTable>,
    /// See [`PlanFile::diagnostics`].
    pub diagnostics: Vec<PlanDiagnostic>,
}

/// A schema identified by its canonical hash (`crate::canon`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaRef {
    /// `sha256:` + 64 lowercase hex digits: the canonical hash of the schema.
    pub schema_hash: String,
    /// The hash of every table's canonical form, by `schema.table`, so that an executor can
    /// tell which tables differ from what the plan expects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_hashes: Option<std::collections::BTreeMap<String, String>>,
    /// The canonical form (`crate::canon`) of every enum and of the tables this plan
    /// touches, so that an executor can say in words how they differ from a live database.
    /// Untouched tables are represented by their hashes only, which keeps plan files of
    /// large schemas small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical: Option<crate::canon::CanonSchema>,
    /// The SQL expressions of every table that has any (defaults, check bodies, partial
    /// index predicates, policy bodies), as the schema writes them. They are not part of
    /// the schema hash (PostgreSQL re-prints them); the executor compares them with a live
    /// database after letting the server normalise both (drift detection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expressions: Option<Vec<crate::canon::TableExpressions>>,
    /// The schema's SDL text, when the writer had it (`wesley plan` always does). It must
    /// describe exactly `schema_hash`. `wesley apply` records the target's in the ledger,
    /// so that `wesley plan --database-url` can plan from it later, with its stable
    /// identities (`@wes_uid`) and names; a baseline run records the source's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdl: Option<String>,
}

impl SchemaRef {
    /// The extensions the schema expects (from its canonical form; none without one): a
    /// live database is hashed with only these ([`crate::canon::CanonSchema::as_expected_by`]).
    pub fn extensions(&self) -> &[String] {
        self.canonical
            .as_ref()
            .map(|c| c.extensions.as_slice())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// One step: its SQL and what running it means for the application (locks, scans,
/// rewrites, hazards). See docs/plan-format.md, "Steps".
pub struct PlanStep {
    /// Unique, stable `kind:schema.table[.object]` (a `#2` suffix keeps ids unique).
    pub id: String,
    /// [`Phase::as_str`].
    pub phase: String,
    /// [`StepKind::as_str`].
    pub kind: String,
    /// `schema.table`, when the step changes one table.
    pub table: Option<String>,
    /// One line for people.
    pub summary: String,
    /// The statements, each ending with `;` and a newline; no BEGIN/COMMIT/SET.
    pub sql: String,
    /// False for a single statement that cannot run in a transaction block.
    pub transactional: bool,
    /// [`TimeoutClass::as_str`]: which statement timeout the step runs under.
    pub timeout: String,
    /// Estimated relative cost (1, 10 or 100), the weight of the critical path and of the
    /// executor's scheduling priority.
    pub cost: u64,
    /// The index a `CONCURRENTLY` step builds or drops; required on non-transactional steps.
    pub index: Option<PlanIndex>,
    /// `schema.table` of every table the step changes or locks, sorted. Steps sharing a
    /// table never run at the same time.
    pub touches: Vec<String>,
    /// Ids of earlier steps that must have finished first.
    pub depends_on: Vec<String>,
    /// The strongest lock the step takes on each table it touches (measured on
    /// PostgreSQL; see reference/pg15-ddl-locks.md and the golden plan tests).
    pub locks: Vec<PlanLock>,
    /// The step rewrites its table.
    pub rewrite: bool,
    /// The step reads its whole table (index builds, validations, backfills).
    pub scan: bool,
    /// What can go wrong, for people to review.
    pub hazards: Vec<PlanHazard>,
    /// For backfill steps: how to run `sql` in batches.
    pub backfill: Option<PlanBackfill>,
    /// On a step of `steps`: what `wesley rollback` does about it once it has run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<PlanUndo>,
    /// On a step of `rollback`: the id of the step of `steps` it undoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<String>,
}

/// What `wesley rollback` does about a step once it has run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanUndo {
    /// [`UndoKind::as_str`]: `steps` (inverse steps in `rollback` undo it), `nothing`,
    /// `stays` (cannot be undone; what it made stays) or `refuses` (rollback refuses once
    /// it has run).
    pub kind: String,
    /// For `stays` and `refuses`: what stays, or why, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl PlanUndo {
    /// The kind, or `None` for an unknown name.
    pub fn kind(&self) -> Option<UndoKind> {
        UndoKind::parse(&self.kind)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// A lock a step takes on one table.
pub struct PlanLock {
    /// `schema.table`.
    pub relation: String,
    /// [`LockMode::as_str`], e.g. `AccessExclusiveLock`.
    pub mode: String,
    /// The mode blocks plain `SELECT` (only `AccessExclusiveLock`); agrees with `mode`.
    pub blocks_reads: bool,
    /// The mode blocks `INSERT`/`UPDATE`/`DELETE` (`ShareLock` and stronger).
    pub blocks_writes: bool,
}

/// Something that can go wrong when a step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanHazard {
    /// [`HazardKind::as_str`].
    pub kind: String,
    /// [`Severity::as_str`]: `refuse` stops `wesley plan`/`apply` unless the kind is
    /// allowed; `review` is shown but does not change the exit code.
    pub severity: String,
    /// What happens, to which table, and what to do.
    pub message: String,
}

/// An index by schema and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanIndex {
    /// The index's schema.
    pub schema: String,
    /// The index's name.
    pub name: String,
}

/// How to split a backfill into short transactions. Schema and table are separate because
/// names may contain dots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBackfill {
    /// Schema of the table.
    pub schema: String,
    /// Name of the table.
    pub table: String,
    /// Primary-key columns, walked in order.
    pub key: Vec<String>,
    /// The SET list of the UPDATE.
    pub set: String,
    /// Rows that still need the update.
    pub predicate: String,
    /// Rows per batch, at least 1.
    pub batch_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// What the plan means for one table, computed from its steps.
pub struct PlanTable {
    /// `schema.table`.
    pub table: String,
    /// [`LockMode::as_str`] of the strongest lock any step takes on it.
    pub strongest_lock: Option<String>,
    /// How many steps change or lock it.
    pub steps: usize,
    /// Some step rewrites it.
    pub rewrite: bool,
    /// Some step scans it (a backfill counts).
    pub scan: bool,
    /// [`Blocking::as_str`]: how long reads of the table can be blocked.
    pub reads_blocked: String,
    /// [`Blocking::as_str`]: how long writes to the table can be blocked.
    pub writes_blocked: String,
    /// [`Work::as_str`]: how long the work on the table runs.
    pub work: String,
    /// The plan creates the table, so no running code uses it yet.
    pub new_table: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// A problem found while planning, located in the SDL.
pub struct PlanDiagnostic {
    /// The stable code, e.g. `E0021` (docs/diagnostics.md).
    pub code: String,
    /// `error` or `warning`.
    pub severity: String,
    /// The SDL file's name (empty for a diagnostic about the plan as a whole).
    pub file: String,
    /// 1-based line (1 for the plan as a whole).
    pub line: usize,
    /// 1-based column, counted in characters (1 for the plan as a whole).
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl PlanFile {
    /// True when a diagnostic is an error: the plan must not be applied.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(PlanDiagnostic::is_error)
    }

    /// Hazards of all steps, in step order.
    pub fn hazards(&self) -> impl Iterator<Item = (&PlanStep, &PlanHazard)> {
        self.steps
            .iter()
            .flat_map(|s| s.hazards.iter().map(move |h| (s, h)))
    }
}

impl PlanStep {
    /// The phase, or `None` for an unknown name (the validator refuses it).
    pub fn phase(&self) -> Option<Phase> {
        Phase::parse(&self.phase)
    }

    /// The step kind, or `None` for an unknown name.
    pub fn kind(&self) -> Option<StepKind> {
        StepKind::parse(&self.kind)
    }

    /// The timeout class, or `None` for an unknown name.
    pub fn timeout(&self) -> Option<TimeoutClass> {
        TimeoutClass::parse(&self.timeout)
    }
}

impl PlanLock {
    /// The lock mode, or `None` for an unknown name.
    pub fn mode(&self) -> Option<LockMode> {
        LockMode::parse(&self.mode)
    }
}

impl PlanHazard {
    /// The hazard kind, or `None` for an unknown name.
    pub fn kind(&self) -> Option<HazardKind> {
        HazardKind::parse(&self.kind)
    }

    /// The severity, or `None` for an unknown name.
    pub fn severity(&self) -> Option<Severity> {
        Severity::parse(&self.severity)
    }
}

impl PlanDiagnostic {
    /// An `error` (the plan must not be applied), not a `warning`.
    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }
}
