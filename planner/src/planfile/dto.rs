//! The serde types of the plan file (see the module documentation of `planfile` and
//! docs/plan-format.md). Names of enums are strings here; [`super::ValidPlan`] holds them
//! typed once a file is validated.

#[allow(unused_imports)] // named in doc links
use crate::plan::locks::{Blocking, Work};
use crate::plan::{HazardKind, LockMode, Phase, Severity, StepKind, TimeoutClass};
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
    pub from: SchemaRef,
    pub to: SchemaRef,
    /// See the module documentation.
    pub plan_hash: String,
    /// In execution order.
    pub steps: Vec<PlanStep>,
    pub waves: Vec<Vec<String>>,
    pub critical_path: Vec<String>,
    pub tables: Vec<PlanTable>,
    pub diagnostics: Vec<PlanDiagnostic>,
}

/// A schema identified by its canonical hash (`crate::canon`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaRef {
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    pub id: String,
    /// [`Phase::as_str`].
    pub phase: String,
    /// [`StepKind::as_str`].
    pub kind: String,
    /// `schema.table`, when the step changes one table.
    pub table: Option<String>,
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
    pub locks: Vec<PlanLock>,
    pub rewrite: bool,
    pub scan: bool,
    pub hazards: Vec<PlanHazard>,
    pub backfill: Option<PlanBackfill>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLock {
    /// `schema.table`.
    pub relation: String,
    /// [`LockMode::as_str`], e.g. `AccessExclusiveLock`.
    pub mode: String,
    pub blocks_reads: bool,
    pub blocks_writes: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanHazard {
    /// [`HazardKind::as_str`].
    pub kind: String,
    /// [`Severity::as_str`]: `refuse` stops `wesley plan`/`apply` unless the kind is
    /// allowed; `review` is shown but does not change the exit code.
    pub severity: String,
    pub message: String,
}

/// An index by schema and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanIndex {
    pub schema: String,
    pub name: String,
}

/// How to split a backfill into short transactions. Schema and table are separate because
/// names may contain dots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBackfill {
    pub schema: String,
    pub table: String,
    /// Primary-key columns, walked in order.
    pub key: Vec<String>,
    /// The SET list of the UPDATE.
    pub set: String,
    /// Rows that still need the update.
    pub predicate: String,
    pub batch_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTable {
    /// `schema.table`.
    pub table: String,
    /// [`LockMode::as_str`] of the strongest lock any step takes on it.
    pub strongest_lock: Option<String>,
    pub steps: usize,
    pub rewrite: bool,
    pub scan: bool,
    /// [`Blocking::as_str`]: how long reads of the table can be blocked.
    pub reads_blocked: String,
    /// [`Blocking::as_str`]: how long writes to the table can be blocked.
    pub writes_blocked: String,
    /// [`Work::as_str`]: how long the work on the table runs.
    pub work: String,
    pub new_table: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanDiagnostic {
    pub code: String,
    /// `error` or `warning`.
    pub severity: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
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
    pub fn phase(&self) -> Option<Phase> {
        Phase::parse(&self.phase)
    }

    pub fn kind(&self) -> Option<StepKind> {
        StepKind::parse(&self.kind)
    }

    pub fn timeout(&self) -> Option<TimeoutClass> {
        TimeoutClass::parse(&self.timeout)
    }
}

impl PlanLock {
    pub fn mode(&self) -> Option<LockMode> {
        LockMode::parse(&self.mode)
    }
}

impl PlanHazard {
    pub fn kind(&self) -> Option<HazardKind> {
        HazardKind::parse(&self.kind)
    }

    pub fn severity(&self) -> Option<Severity> {
        Severity::parse(&self.severity)
    }
}

impl PlanDiagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }
}
