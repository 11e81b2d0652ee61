//! A validated plan with typed fields: what the executor requires. It can only be made by
//! [`super::parse`], [`super::read`] (a file read as a stream) or [`ValidPlan::from_file`]
//! (a plan this process just computed), so a file that was not validated never reaches
//! the executor, and nothing downstream parses a phase, a lock mode or a hazard kind from
//! text again.
//!
//! A validated plan keeps every fact of every step in memory, but not the steps' texts
//! (summary and SQL, the bulk of a plan file): those sit in a [`Spool`], written once while
//! the plan is read and read back one step at a time ([`ValidPlan::text`]), each checked
//! against the SHA-256 digest taken when it was written.

use super::dto::{PlanDiagnostic, PlanFile, PlanStep, SchemaRef};
use crate::plan::{
    Backfill, Hazard, HazardKind, IndexRef, Lock, LockMode, Phase, Severity, StepKind,
    TimeoutClass, UndoKind,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Where a validated plan keeps its steps' texts: bytes appended once while the plan is
/// read, then read back by offset. [`MemorySpool`] keeps them in memory; the executor keeps
/// them in a private temporary file, so a plan's memory does not grow with its SQL.
pub trait Spool: Send + Sync + std::fmt::Debug {
    /// Appends `bytes`; returns the offset (in bytes from the start) they begin at.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<u64>;
    /// Called once everything is appended, before the first read.
    fn seal(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// The `len` bytes at `offset`.
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>>;
}

/// A [`Spool`] in memory (one buffer, no per-step allocation).
#[derive(Debug, Default)]
pub struct MemorySpool(Vec<u8>);

impl Spool for MemorySpool {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<u64> {
        let at = self.0.len() as u64;
        self.0.extend_from_slice(bytes);
        Ok(at)
    }

    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        usize::try_from(offset)
            .ok()
            .and_then(|o| self.0.get(o..o.checked_add(len)?))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))
    }
}

/// Where a step's texts are in the plan's [`Spool`], and their SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRef {
    offset: u64,
    len: usize,
    digest: [u8; 32],
}

/// A step's texts, read back from the spool ([`ValidPlan::text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepText {
    /// One line for people.
    pub summary: String,
    /// The statements (checked: no psql meta-command, no transaction control).
    pub sql: String,
}

/// Moves a step's summary and SQL into `spool` (leaving them empty in `step`): 8 bytes of
/// the summary's length (little-endian), the summary, the SQL.
pub(super) fn spool_text(spool: &mut dyn Spool, step: &mut PlanStep) -> std::io::Result<TextRef> {
    let (summary, sql) = (
        std::mem::take(&mut step.summary),
        std::mem::take(&mut step.sql),
    );
    let mut bytes = Vec::with_capacity(8 + summary.len() + sql.len());
    bytes.extend_from_slice(&(summary.len() as u64).to_le_bytes());
    bytes.extend_from_slice(summary.as_bytes());
    bytes.extend_from_slice(sql.as_bytes());
    let digest = Sha256::digest(&bytes).into();
    let offset = spool.append(&bytes)?;
    Ok(TextRef {
        offset,
        len: bytes.len(),
        digest,
    })
}

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
    /// Where its summary and SQL are ([`ValidPlan::text`]).
    pub text: TextRef,
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

/// A plan file that passed validation, with its steps typed (their texts in the spool).
#[derive(Debug, Clone)]
pub struct ValidPlan {
    head: Head,
    /// In execution order.
    pub steps: Vec<ValidStep>,
    /// The inverse steps, in the order `wesley rollback` runs them.
    pub rollback: Vec<ValidStep>,
    spool: Arc<dyn Spool>,
}

/// The plan file's fields other than its steps and what is derived from them.
#[derive(Debug, Clone)]
struct Head {
    planner_version: String,
    verified_on: Vec<u32>,
    from: SchemaRef,
    to: SchemaRef,
    plan_hash: String,
    diagnostics: Vec<PlanDiagnostic>,
}

/// What `wesley rollback` runs for a plan that has partly or fully run
/// ([`ValidPlan::rollback_plan`]).
#[derive(Debug, Clone)]
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
    /// Types a plan file that [`super::validate`] accepted, its texts moved into a
    /// [`MemorySpool`]. Private to the module: callers go through [`super::parse`].
    pub(super) fn new(mut file: PlanFile) -> ValidPlan {
        let mut spool = MemorySpool::default();
        let mut texts = |steps: &mut [PlanStep]| -> Vec<TextRef> {
            steps
                .iter_mut()
                // Appending to memory cannot fail.
                .filter_map(|s| spool_text(&mut spool, s).ok())
                .collect()
        };
        let steps = texts(&mut file.steps);
        let rollback = texts(&mut file.rollback);
        ValidPlan::from_parts(file, steps, rollback, Arc::new(spool))
    }

    /// Types a plan file that was validated and whose steps' texts were moved into `spool`
    /// (`steps` and `rollback`: where each step's are, in order).
    pub(super) fn from_parts(
        file: PlanFile,
        steps: Vec<TextRef>,
        rollback: Vec<TextRef>,
        spool: Arc<dyn Spool>,
    ) -> ValidPlan {
        let type_all = |list: Vec<PlanStep>, texts: Vec<TextRef>| -> Vec<ValidStep> {
            list.into_iter()
                .zip(texts)
                .map(|(s, t)| typed(s, t))
                .collect()
        };
        ValidPlan {
            steps: type_all(file.steps, steps),
            rollback: type_all(file.rollback, rollback),
            head: Head {
                planner_version: file.planner_version,
                verified_on: file.verified_on,
                from: file.from,
                to: file.to,
                plan_hash: file.plan_hash,
                diagnostics: file.diagnostics,
            },
            spool,
        }
    }

    /// The summary and SQL of `step` (a step of this plan or of its rollback), read back
    /// from the spool. Errors (for people) when they cannot be read, or do not have the
    /// digest they had when the plan was read (the spool was changed).
    pub fn text(&self, step: &ValidStep) -> Result<StepText, String> {
        let t = &step.text;
        let failed = |why: String| format!("cannot read back the SQL of step `{}`: {why}", step.id);
        let bytes = self
            .spool
            .read_at(t.offset, t.len)
            .map_err(|e| failed(e.to_string()))?;
        if <[u8; 32]>::from(Sha256::digest(&bytes)) != t.digest {
            return Err(failed(
                "it changed after the plan was validated; nothing more is run".into(),
            ));
        }
        let n = bytes
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= bytes.len() - 8)
            .ok_or_else(|| failed("malformed spool entry".into()))?;
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|e| failed(e.to_string()));
        Ok(StepText {
            summary: text(&bytes[8..8 + n])?,
            sql: text(&bytes[8 + n..])?,
        })
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
        let mut steps: Vec<ValidStep> = self
            .rollback
            .iter()
            .filter(|r| r.undoes.as_deref().is_some_and(may_have_run))
            .cloned()
            .collect();
        for i in 1..steps.len() {
            steps[i].depends_on = vec![steps[i - 1].id.clone()];
        }
        let mut from = self.head.to.clone();
        from.sdl = None;
        let plan = ValidPlan {
            head: Head {
                planner_version: self.head.planner_version.clone(),
                verified_on: self.head.verified_on.clone(),
                from,
                to: self.head.from.clone(),
                plan_hash: format!("{ROLLBACK_PREFIX}{}", self.head.plan_hash),
                diagnostics: Vec::new(),
            },
            steps,
            rollback: Vec::new(),
            spool: self.spool.clone(),
        };
        Ok(RollbackPlan { plan, stays })
    }
}

/// One step, typed (validation guarantees every name parses; a default is never used).
fn typed(s: PlanStep, text: TextRef) -> ValidStep {
    let (phase, kind, timeout) = (s.phase(), s.kind(), s.timeout());
    ValidStep {
        id: s.id,
        phase: phase.unwrap_or(Phase::Expand),
        kind: kind.unwrap_or(StepKind::AddColumn),
        table: s.table,
        text,
        transactional: s.transactional,
        timeout: timeout.unwrap_or(TimeoutClass::Long),
        cost: s.cost,
        index: s.index.map(|i| IndexRef {
            schema: i.schema,
            name: i.name,
        }),
        touches: s.touches,
        depends_on: s.depends_on,
        locks: s
            .locks
            .into_iter()
            .map(|l| Lock {
                mode: l.mode().unwrap_or(LockMode::AccessExclusive),
                relation: l.relation,
                blocks_reads: l.blocks_reads,
                blocks_writes: l.blocks_writes,
            })
            .collect(),
        rewrite: s.rewrite,
        scan: s.scan,
        hazards: s
            .hazards
            .into_iter()
            .map(|h| Hazard {
                kind: h.kind().unwrap_or(HazardKind::DeletesData),
                severity: h.severity().unwrap_or(Severity::Refuse),
                message: h.message,
            })
            .collect(),
        backfill: s.backfill.map(|b| Backfill {
            schema: b.schema,
            table: b.table,
            key: b.key,
            set: b.set,
            predicate: b.predicate,
            batch_size: b.batch_size,
        }),
        undo: match s.undo {
            Some(u) => (u.kind().unwrap_or(UndoKind::Refuses), u.note),
            None => (UndoKind::Nothing, None),
        },
        undoes: s.undoes,
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

    /// `sha256:...` of the plan's content.
    pub fn plan_hash(&self) -> &str {
        &self.head.plan_hash
    }

    /// The version of the planner that wrote the plan.
    pub fn planner_version(&self) -> &str {
        &self.head.planner_version
    }

    /// The schema the plan starts from.
    pub fn from(&self) -> &SchemaRef {
        &self.head.from
    }

    /// The schema the plan ends at.
    pub fn to(&self) -> &SchemaRef {
        &self.head.to
    }

    /// Problems found while planning.
    pub fn diagnostics(&self) -> &[PlanDiagnostic] {
        &self.head.diagnostics
    }

    /// Error diagnostics make a plan unfit to apply.
    pub fn has_errors(&self) -> bool {
        self.head.diagnostics.iter().any(PlanDiagnostic::is_error)
    }

    /// PostgreSQL major versions the plan is verified on.
    pub fn verified_on(&self) -> &[u32] {
        &self.head.verified_on
    }

    /// Hazards of all steps, in step order.
    pub fn hazards(&self) -> impl Iterator<Item = (&ValidStep, &Hazard)> {
        self.steps
            .iter()
            .flat_map(|s| s.hazards.iter().map(move |h| (s, h)))
    }
}
