//! A validated plan with typed fields: what the executor requires. It can only be made by
//! [`super::parse`] (or [`ValidPlan::from_file`] for a plan this process just computed), so
//! a file that was not validated never reaches the executor, and nothing downstream
//! parses a phase, a lock mode or a hazard kind from text again.

use super::dto::{PlanFile, PlanStep, SchemaRef};
use crate::plan::{
    Backfill, Hazard, HazardKind, IndexRef, Lock, LockMode, Phase, Severity, StepKind,
    TimeoutClass, UndoKind,
};
use std::collections::BTreeSet;

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
    /// On a step of the plan: what `wesley rollback` does about it once it has run, and
    /// the note of `stays`/`refuses`. On a rollback step: `Nothing`.
    pub undo: (UndoKind, Option<String>),
    /// On a rollback step: the id of the step it undoes.
    pub undoes: Option<String>,
}

/// A plan file that passed validation, with its steps typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPlan {
    file: PlanFile,
    /// In execution order.
    pub steps: Vec<ValidStep>,
    /// The inverse steps, in the order `wesley rollback` runs them.
    pub rollback: Vec<ValidStep>,
}

/// What `wesley rollback` runs for a plan that has partly or fully run
/// ([`ValidPlan::rollback_plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackPlan {
    /// A plan of the inverse steps to run, each depending on the one before, from the
    /// plan's target to its start: `plan_hash` is [`ROLLBACK_PREFIX`] and the plan's hash,
    /// `from` the plan's `to` and `to` its `from` (with its SDL).
    pub plan: ValidPlan,
    /// What stays although it was rolled back (notes of applied `stays` steps).
    pub stays: Vec<String>,
}

/// The prefix of a rollback's `plan_hash` in the ledger: `rollback:sha256:...`.
pub const ROLLBACK_PREFIX: &str = "rollback:";

impl ValidPlan {
    /// Types a plan file that [`super::validate`] accepted. Private to the module: callers
    /// go through [`super::parse`].
    pub(super) fn new(file: PlanFile) -> ValidPlan {
        let steps = file.steps.iter().map(typed).collect();
        let rollback = file.rollback.iter().map(typed).collect();
        ValidPlan {
            file,
            steps,
            rollback,
        }
    }

    /// The rollback of this plan after the steps `applied` (ids from the ledger) have run:
    /// the inverses of every applied step, and of every `CONCURRENTLY` step that may have
    /// started without being recorded (inverses are idempotent), in rollback order.
    ///
    /// Errors (for people) when an applied step's undo is `refuses`: a contract step has
    /// run, or a switch whose old column is not kept in step.
    pub fn rollback_plan(&self, applied: &BTreeSet<String>) -> Result<RollbackPlan, String> {
        let mut refused = Vec::new();
        let mut stays = Vec::new();
        for s in self.steps.iter().filter(|s| applied.contains(&s.id)) {
            match &s.undo {
                (UndoKind::Refuses, note) => refused.push(format!(
                    "{}: {}",
                    s.id,
                    note.as_deref().unwrap_or("it cannot be undone")
                )),
                (UndoKind::Stays, note) => stays.push(format!(
                    "{}: {}",
                    s.id,
                    note.as_deref().unwrap_or("it stays")
                )),
                _ => {}
            }
        }
        if !refused.is_empty() {
            return Err(format!(
                "steps that cannot be undone have run:\n  - {}",
                refused.join("\n  - ")
            ));
        }
        let may_have_run = |id: &str| {
            applied.contains(id) || self.steps.iter().any(|s| s.id == id && !s.transactional)
        };
        let mut steps: Vec<PlanStep> = self
            .file
            .rollback
            .iter()
            .filter(|r| r.undoes.as_deref().is_some_and(may_have_run))
            .cloned()
            .collect();
        for i in 1..steps.len() {
            steps[i].depends_on = vec![steps[i - 1].id.clone()];
        }
        let mut from = self.file.to.clone();
        from.sdl = None;
        let file = PlanFile {
            format: self.file.format.clone(),
            planner_version: self.file.planner_version.clone(),
            verified_on: self.file.verified_on.clone(),
            from,
            to: self.file.from.clone(),
            plan_hash: format!("{ROLLBACK_PREFIX}{}", self.file.plan_hash),
            waves: steps.iter().map(|s| vec![s.id.clone()]).collect(),
            critical_path: steps.iter().map(|s| s.id.clone()).collect(),
            tables: super::summarize(&steps, &BTreeSet::new()),
            steps,
            rollback: Vec::new(),
            diagnostics: Vec::new(),
        };
        Ok(RollbackPlan {
            plan: ValidPlan::new(file),
            stays,
        })
    }
}

/// One step, typed (validation guarantees every name parses; a default is never used).
fn typed(s: &PlanStep) -> ValidStep {
    ValidStep {
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
        undo: match &s.undo {
            Some(u) => (u.kind().unwrap_or(UndoKind::Refuses), u.note.clone()),
            None => (UndoKind::Nothing, None),
        },
        undoes: s.undoes.clone(),
    }
}

impl ValidPlan {
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
