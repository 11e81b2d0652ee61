//! A validated plan with typed fields: what the executor requires. It can only be made by
//! [`super::parse`] (or [`ValidPlan::from_file`] for a plan this process just computed), so
//! a file that was not validated never reaches the executor, and nothing downstream
//! parses a phase, a lock mode or a hazard kind from text again.

use super::dto::{PlanFile, SchemaRef};
use crate::plan::{
    Backfill, Hazard, HazardKind, IndexRef, Lock, LockMode, Phase, Severity, StepKind, TimeoutClass,
};

/// One step of a validated plan. Field meanings are those of [`super::PlanStep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidStep {
    /// Unique, stable id.
    pub id: String,
    /// When in the expand/contract sequence it runs.
    pub phase: Phase,
    /// What it does.
    pub kind: StepKind,
    /// `schema.table`.
    pub table: Option<String>,
    /// One line for people.
    pub summary: String,
    /// The statements (checked: no psql meta-command, no transaction control).
    pub sql: String,
    /// False for a single `CONCURRENTLY` statement.
    pub transactional: bool,
    /// Which statement timeout it runs under (agrees with scan, rewrite, backfill).
    pub timeout: TimeoutClass,
    /// Relative cost (1, 10 or 100).
    pub cost: u64,
    /// The index a non-transactional step builds or drops.
    pub index: Option<IndexRef>,
    /// `schema.table`, sorted.
    pub touches: Vec<String>,
    /// Ids of earlier steps (they exist and come before it).
    pub depends_on: Vec<String>,
    /// The strongest lock on each table (blocks_* agree with the mode).
    pub locks: Vec<Lock>,
    /// It rewrites its table.
    pub rewrite: bool,
    /// It reads its whole table.
    pub scan: bool,
    /// What can go wrong.
    pub hazards: Vec<Hazard>,
    /// How to run a backfill in batches.
    pub backfill: Option<Backfill>,
}

/// A plan file that passed validation, with its steps typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPlan {
    file: PlanFile,
    /// In execution order.
    pub steps: Vec<ValidStep>,
}

impl ValidPlan {
    /// Types a plan file that [`super::validate`] accepted. Private to the module: callers
    /// go through [`super::parse`].
    pub(super) fn new(file: PlanFile) -> ValidPlan {
        // Validation guarantees every name parses; a default is never used.
        let steps = file
            .steps
            .iter()
            .map(|s| ValidStep {
                id: s.id.clone(),
                phase: s.phase().unwrap_or(Phase::Expand),
                kind: s.kind().unwrap_or(StepKind::AddColumn),
                table: s.table.clone(),
                summary: s.summary.clone(),
                sql: s.sql.clone(),
                transactional: s.transactional,
                timeout: s.timeout().unwrap_or(TimeoutClass::Long),
                cost: s.cost,
                index: s.index.as_ref().map(|i| IndexRef {
                    schema: i.schema.clone(),
                    name: i.name.clone(),
                }),
                touches: s.touches.clone(),
                depends_on: s.depends_on.clone(),
                locks: s
                    .locks
                    .iter()
                    .map(|l| Lock {
                        relation: l.relation.clone(),
                        mode: l.mode().unwrap_or(LockMode::AccessExclusive),
                        blocks_reads: l.blocks_reads,
                        blocks_writes: l.blocks_writes,
                    })
                    .collect(),
                rewrite: s.rewrite,
                scan: s.scan,
                hazards: s
                    .hazards
                    .iter()
                    .map(|h| Hazard {
                        kind: h.kind().unwrap_or(HazardKind::DeletesData),
                        severity: h.severity().unwrap_or(Severity::Refuse),
                        message: h.message.clone(),
                    })
                    .collect(),
                backfill: s.backfill.as_ref().map(|b| Backfill {
                    schema: b.schema.clone(),
                    table: b.table.clone(),
                    key: b.key.clone(),
                    set: b.set.clone(),
                    predicate: b.predicate.clone(),
                    batch_size: b.batch_size,
                }),
            })
            .collect();
        ValidPlan { file, steps }
    }

    /// A plan this process computed itself (e.g. `wesley rehearse --to`), validated like a
    /// file read from disk. Errors are the validation's.
    pub fn from_file(file: PlanFile) -> Result<ValidPlan, Vec<super::PlanFileError>> {
        let errors = super::validate(&file);
        if errors.is_empty() {
            Ok(ValidPlan::new(file))
        } else {
            Err(errors)
        }
    }

    /// The plan file as read (for rendering, and for the fields below).
    pub fn file(&self) -> &PlanFile {
        &self.file
    }

    /// `sha256:...` of the plan's content.
    pub fn plan_hash(&self) -> &str {
        &self.file.plan_hash
    }

    /// The schema the plan starts from.
    pub fn from(&self) -> &SchemaRef {
        &self.file.from
    }

    /// The schema the plan ends at.
    pub fn to(&self) -> &SchemaRef {
        &self.file.to
    }

    /// Error diagnostics make a plan unfit to apply.
    pub fn has_errors(&self) -> bool {
        self.file.has_errors()
    }

    /// PostgreSQL major versions the plan is verified on.
    pub fn verified_on(&self) -> &[u32] {
        &self.file.verified_on
    }

    /// Hazards of all steps, in step order.
    pub fn hazards(&self) -> impl Iterator<Item = (&ValidStep, &Hazard)> {
        self.steps
            .iter()
            .flat_map(|s| s.hazards.iter().map(move |h| (s, h)))
    }
}
