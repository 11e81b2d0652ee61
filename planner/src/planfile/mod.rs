//! The plan file, format `wesley.plan/v3`: what `wesley plan` writes and `wesley apply`
//! reads. It is its own versioned format, kept apart from the internal [`Plan`]: the types
//! in [`dto`] are plain serde structs converted by hand ([`to_plan_file`]), and the names
//! of phases, step kinds, lock modes, hazard kinds, severities and timeout classes are
//! stored as strings so that an unknown name is reported with the step it appears in.
//! docs/plan-format.md describes every field.
//!
//! The plan file is the single source of every fact about a step that the executor and
//! the renderers need: its phase, locks, timeout class, cost, the index a `CONCURRENTLY`
//! step works on, the tables it touches, and its hazards with their severity. Nothing
//! downstream re-derives them from SQL text.
//!
//! The file is JSON, pretty-printed with two-space indentation and a trailing newline.
//! Object keys appear in the order the structs declare them, so the same plan always gives
//! the same bytes.
//!
//! # `plan_hash`
//!
//! `plan_hash` is `sha256:` followed by the lowercase hex SHA-256 of the compact JSON
//! (`serde_json::to_string`, keys in declaration order, no whitespace) of
//!
//! ```text
//! {"from":{..},"to":{..},"steps":[..],"diagnostics":[..]}
//! ```
//!
//! that is: both schema references, every field of every step, and the diagnostics
//! (removing an error must not make a plan look applicable). It does not cover `format`
//! (checked separately), `planner_version` and `verified_on` (the same plan from another
//! planner build is the same plan), nor `waves`, `critical_path` and `tables`, which are
//! derived from the steps; [`validate`] checks that they agree with them instead.
//!
//! The hash detects edits, not authors: anyone can recompute it. So [`validate`] also
//! refuses content that would be dangerous whoever wrote it, above all psql
//! meta-commands and variable references (see [`psql`]).
//!
//! Modules: [`dto`] (the serde types), `build` (from a [`Plan`]), `hash`, `tables` (the
//! per-table summary, computed from the steps for writing and for checking), `validate`
//! (untrusted files: every check, in one place), `stream` (a file read and validated in
//! one pass, [`read`]: what `wesley apply` uses, so its memory does not grow with the
//! plan's SQL), [`valid`] (the typed, validated plan the executor requires, its steps'
//! texts in a [`Spool`]).

pub mod dto;
pub mod psql;
pub mod valid;

mod build;
mod hash;
mod stream;
mod tables;
mod validate;

#[allow(unused_imports)]
use crate::plan::Plan;

pub use build::{to_json, to_plan_file, to_preview, with_sdl};
pub use dto::*;
pub use hash::plan_hash;
pub use stream::read;
pub use tables::summarize;
pub use valid::{
    MemorySpool, RollbackPlan, Spool, StepText, TextRef, ValidPlan, ValidStep, ROLLBACK_PREFIX,
};
pub use validate::{parse, parse_file, validate, validate_own, ErrorKind, PlanFileError};

/// The value of `format` this planner writes and reads.
pub const FORMAT: &str = "wesley.plan/v3";

/// PostgreSQL major versions on which this planner's lock annotations, strategies and
/// catalog reading are verified by the test suite: `tests/tests/plan_apply.rs` compares
/// every step's locks with `pg_locks`, and the executor's golden, crash and lock tests run,
/// on each (`scripts/test-pg-matrix`, run by CI).
pub const VERIFIED_ON: &[u32] = &[14, 15, 16, 17, 18];
