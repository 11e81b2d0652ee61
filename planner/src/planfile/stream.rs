//! Reading a plan file as a stream ([`read`]): one pass over the bytes, with memory for
//! the plan's facts but not for its text. Nothing here does IO itself: the caller hands
//! in any [`std::io::Read`] and a [`Spool`] for the steps' texts.
//!
//! While the file is read, each step is deserialised on its own, hashed (its compact JSON
//! fed to the running `plan_hash`), checked with every check that needs only the step
//! (`validate::check_step`: names, facts, SQL lexed as psql would), and its summary and
//! SQL moved into the spool; what stays in memory is the step without them. `from` and
//! `to` have their SDL checked as soon as each is read, before the steps are in memory
//! (`validate::check_side_sdl_compactly`: the side's canonical form and expressions wait
//! as JSON meanwhile, the peak of reading a large plan). The checks
//! across steps (ids, dependencies, rollback, waves, critical path, tables), the header's
//! and the hash comparison then run on that, through the same `validate::checks` as a
//! file parsed in memory. Only a file that passes all of them comes back as a
//! [`ValidPlan`], so nothing of a refused file ever runs.
//!
//! `plan_hash` covers `from`, `to`, `steps`, `rollback` and `diagnostics` in that order
//! (see the module documentation of `planfile`). A file written by `wesley plan` has them
//! in that order and is hashed as it is read; a section that comes early in a reordered
//! file is kept as bytes until its turn.

use super::dto::{PlanDiagnostic, PlanFile, PlanStep, PlanTable, SchemaRef};
use super::valid::{spool_text, Spool, TextRef, ValidPlan};
use super::validate::{
    check_side_sdl_compactly, check_step, checks, ErrorKind, Pass, PlanFileError,
};
use super::FORMAT;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use sha2::{Digest, Sha256};
use std::fmt;
use std::io;
use std::sync::Arc;

/// Reads and validates a plan file from `reader` in one pass (see the module
/// documentation), moving the steps' summaries and SQL into `spool`. The errors are those
/// of [`super::parse`]: a JSON or shape error (its step named when it is in one), a wrong
/// `format`, or every problem [`super::validate`] finds; an error of `reader` or `spool`
/// is a [`ErrorKind::Syntax`] error naming it.
pub fn read<R: io::Read>(
    reader: R,
    mut spool: Box<dyn Spool>,
) -> Result<ValidPlan, Vec<PlanFileError>> {
    let mut st = State {
        cx: Default::default(),
        hash: HashStream::default(),
        spool: spool.as_mut(),
        fatal: None,
        steps: Vec::new(),
        rollback: Vec::new(),
    };
    let mut de =
        serde_json::Deserializer::from_reader(io::BufReader::with_capacity(1 << 16, reader));
    let parsed = (&mut de)
        .deserialize_map(FileVisitor { st: &mut st })
        .and_then(|file| de.end().map(|()| file));
    let file = match parsed {
        Ok(file) => file,
        Err(e) => return Err(vec![st.fatal.take().unwrap_or_else(|| json_error(&e))]),
    };
    if let Some(e) = st.fatal.take() {
        return Err(vec![e]);
    }
    if let Err(e) = st.spool.seal() {
        return Err(vec![spool_error(&e)]);
    }
    let hash = st.hash.finish();
    let mut errors = std::mem::take(&mut st.cx.errors);
    errors.extend(checks(&file, Pass::Streamed { hash: &hash }, false));
    if !errors.is_empty() {
        return Err(errors);
    }
    let (steps, rollback) = (st.steps, st.rollback);
    Ok(ValidPlan::from_parts(
        file,
        steps,
        rollback,
        Arc::from(spool),
    ))
}

/// The error of a missing `format` field.
pub(super) fn no_format() -> PlanFileError {
    PlanFileError {
        kind: ErrorKind::Format,
        step: None,
        message: format!("not a plan file: there is no `format` field (expected \"{FORMAT}\")"),
    }
}

/// The error of a `format` other than [`FORMAT`]; `shown` is its JSON.
pub(super) fn wrong_format(shown: &str) -> PlanFileError {
    PlanFileError {
        kind: ErrorKind::Format,
        step: None,
        message: format!(
            "unsupported plan format {shown}: this wesley reads \"{FORMAT}\"; plan again with this version of wesley"
        ),
    }
}

/// A JSON error: malformed JSON, or JSON not shaped like a plan file.
fn json_error(e: &serde_json::Error) -> PlanFileError {
    let message = match e.classify() {
        serde_json::error::Category::Data => format!("not a valid {FORMAT} plan file: {e}"),
        serde_json::error::Category::Io => format!("cannot read the plan file: {e}"),
        _ => format!("not a plan file: invalid JSON: {e}"),
    };
    PlanFileError {
        kind: ErrorKind::Syntax,
        step: None,
        message,
    }
}

fn spool_error(e: &io::Error) -> PlanFileError {
    PlanFileError {
        kind: ErrorKind::Syntax,
        step: None,
        message: format!("cannot keep the steps' SQL while reading the plan: {e}"),
    }
}

/// What one pass keeps.
struct State<'s> {
    /// Problems found in single steps.
    cx: super::validate::Checker,
    hash: HashStream,
    spool: &'s mut dyn Spool,
    /// The error that stopped reading, when it is better said than serde's.
    fatal: Option<PlanFileError>,
    /// Where each step's texts are, in order.
    steps: Vec<TextRef>,
    rollback: Vec<TextRef>,
}

/// The sections `plan_hash` covers, in its order.
const SECTIONS: [&str; 5] = ["from", "to", "steps", "rollback", "diagnostics"];

/// The running `plan_hash`: the compact JSON `{"from":..,"to":..,"steps":[..],
/// "rollback":[..],"diagnostics":[..]}` fed to SHA-256 as it is produced, with a section
/// that comes before its turn held back as bytes.
#[derive(Default)]
struct HashStream {
    sha: Sha256,
    /// The section whose turn it is (index into [`SECTIONS`]).
    next: usize,
    /// Sections read before their turn.
    early: [Option<Vec<u8>>; 5],
    /// The section being written, and its bytes when it is early.
    open: Option<(usize, Option<Vec<u8>>)>,
}

impl io::Write for HashStream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match &mut self.open {
            Some((_, Some(buf))) => buf.extend_from_slice(bytes),
            _ => self.sha.update(bytes),
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl HashStream {
    /// Starts section `k`: its key, then (from the caller) its value.
    fn open(&mut self, k: usize) {
        let early = (k != self.next).then(Vec::new);
        self.open = Some((k, early));
        let key = format!("{}\"{}\":", if k == 0 { "{" } else { "," }, SECTIONS[k]);
        let _ = io::Write::write_all(self, key.as_bytes());
    }

    fn close(&mut self) {
        match self.open.take() {
            Some((k, Some(buf))) => self.early[k] = Some(buf),
            Some(_) => {
                self.next += 1;
                while let Some(buf) = self.early.get_mut(self.next).and_then(Option::take) {
                    self.sha.update(&buf);
                    self.next += 1;
                }
            }
            None => {}
        }
    }

    /// A whole section's value.
    fn section<T: serde::Serialize>(&mut self, k: usize, value: &T) {
        self.open(k);
        // Writing into a hasher or a buffer cannot fail; these plain structs serialise.
        let _ = serde_json::to_writer(&mut *self, value);
        self.close();
    }

    /// `sha256:` and the hex digest (every section was read: the fields are required).
    fn finish(self) -> String {
        let mut sha = self.sha;
        sha.update(b"}");
        format!("sha256:{}", hex::encode(sha.finalize()))
    }
}

const FIELDS: &[&str] = &[
    "format",
    "planner_version",
    "verified_on",
    "from",
    "to",
    "plan_hash",
    "steps",
    "rollback",
    "waves",
    "critical_path",
    "tables",
    "diagnostics",
];

/// The top-level object, field by field.
struct FileVisitor<'a, 's> {
    st: &'a mut State<'s>,
}

impl<'de> Visitor<'de> for FileVisitor<'_, '_> {
    type Value = PlanFile;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a plan file (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PlanFile, A::Error> {
        let st = self.st;
        let mut format: Option<String> = None;
        let mut planner_version: Option<String> = None;
        let mut verified_on: Option<Vec<u32>> = None;
        let mut from: Option<SchemaRef> = None;
        let mut to: Option<SchemaRef> = None;
        let mut plan_hash: Option<String> = None;
        let mut steps: Option<Vec<PlanStep>> = None;
        let mut rollback: Option<Vec<PlanStep>> = None;
        let mut waves: Option<Vec<Vec<String>>> = None;
        let mut critical_path: Option<Vec<String>> = None;
        let mut tables: Option<Vec<PlanTable>> = None;
        let mut diagnostics: Option<Vec<PlanDiagnostic>> = None;
        fn once<T, E: de::Error>(slot: &Option<T>, name: &'static str) -> Result<(), E> {
            match slot {
                Some(_) => Err(E::duplicate_field(name)),
                None => Ok(()),
            }
        }
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => {
                    once(&format, "format")?;
                    let value: serde_json::Value = map.next_value()?;
                    if value.as_str() != Some(FORMAT) {
                        st.fatal = Some(wrong_format(&value.to_string()));
                        return Err(de::Error::custom("unsupported format"));
                    }
                    format = Some(FORMAT.to_string());
                }
                "planner_version" => {
                    once(&planner_version, "planner_version")?;
                    planner_version = Some(map.next_value()?);
                }
                "verified_on" => {
                    once(&verified_on, "verified_on")?;
                    verified_on = Some(map.next_value()?);
                }
                "from" => {
                    once(&from, "from")?;
                    let v: SchemaRef = map.next_value()?;
                    st.hash.section(0, &v);
                    from = Some(check_side_sdl_compactly(&mut st.cx, "from", v));
                }
                "to" => {
                    once(&to, "to")?;
                    let v: SchemaRef = map.next_value()?;
                    st.hash.section(1, &v);
                    to = Some(check_side_sdl_compactly(&mut st.cx, "to", v));
                }
                "plan_hash" => {
                    once(&plan_hash, "plan_hash")?;
                    plan_hash = Some(map.next_value()?);
                }
                "steps" => {
                    once(&steps, "steps")?;
                    steps = Some(map.next_value_seed(StepsSeed {
                        st: &mut *st,
                        rollback: false,
                    })?);
                }
                "rollback" => {
                    once(&rollback, "rollback")?;
                    rollback = Some(map.next_value_seed(StepsSeed {
                        st: &mut *st,
                        rollback: true,
                    })?);
                }
                "waves" => {
                    once(&waves, "waves")?;
                    waves = Some(map.next_value()?);
                }
                "critical_path" => {
                    once(&critical_path, "critical_path")?;
                    critical_path = Some(map.next_value()?);
                }
                "tables" => {
                    once(&tables, "tables")?;
                    tables = Some(map.next_value()?);
                }
                "diagnostics" => {
                    once(&diagnostics, "diagnostics")?;
                    let v: Vec<PlanDiagnostic> = map.next_value()?;
                    st.hash.section(4, &v);
                    diagnostics = Some(v);
                }
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        let Some(format) = format else {
            st.fatal = Some(no_format());
            return Err(de::Error::custom("no format"));
        };
        fn need<T, E: de::Error>(v: Option<T>, name: &'static str) -> Result<T, E> {
            v.ok_or_else(|| E::missing_field(name))
        }
        Ok(PlanFile {
            format,
            planner_version: need(planner_version, "planner_version")?,
            verified_on: need(verified_on, "verified_on")?,
            from: need(from, "from")?,
            to: need(to, "to")?,
            plan_hash: need(plan_hash, "plan_hash")?,
            steps: need(steps, "steps")?,
            rollback: need(rollback, "rollback")?,
            waves: need(waves, "waves")?,
            critical_path: need(critical_path, "critical_path")?,
            tables: need(tables, "tables")?,
            diagnostics: need(diagnostics, "diagnostics")?,
        })
    }
}

/// `steps` or `rollback`, one step at a time: each hashed, checked, its texts spooled.
struct StepsSeed<'a, 's> {
    st: &'a mut State<'s>,
    rollback: bool,
}

impl<'de> DeserializeSeed<'de> for StepsSeed<'_, '_> {
    type Value = Vec<PlanStep>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<PlanStep>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for StepsSeed<'_, '_> {
    type Value = Vec<PlanStep>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of steps")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<PlanStep>, A::Error> {
        let (st, rollback) = (self.st, self.rollback);
        let section = if rollback { "rollback" } else { "steps" };
        st.hash.open(if rollback { 3 } else { 2 });
        let _ = io::Write::write_all(&mut st.hash, b"[");
        let mut kept: Vec<PlanStep> = Vec::new();
        loop {
            let mut step = match seq.next_element::<PlanStep>() {
                Ok(Some(s)) => s,
                Ok(None) => break,
                Err(e) => {
                    let after = kept
                        .last()
                        .map(|s| format!(", after `{}`", s.id))
                        .unwrap_or_default();
                    st.fatal = Some(PlanFileError {
                        kind: ErrorKind::Syntax,
                        step: None,
                        message: format!(
                            "not a valid {FORMAT} plan file: {section}[{}] (step {}{after}): {e}",
                            kept.len(),
                            kept.len() + 1
                        ),
                    });
                    return Err(e);
                }
            };
            if !kept.is_empty() {
                let _ = io::Write::write_all(&mut st.hash, b",");
            }
            let _ = serde_json::to_writer(&mut st.hash, &step);
            check_step(&mut st.cx, &step);
            match spool_text(st.spool, &mut step) {
                Ok(t) if rollback => st.rollback.push(t),
                Ok(t) => st.steps.push(t),
                Err(e) => {
                    st.fatal = Some(spool_error(&e));
                    return Err(de::Error::custom("spool"));
                }
            }
            kept.push(step);
        }
        let _ = io::Write::write_all(&mut st.hash, b"]");
        st.hash.close();
        Ok(kept)
    }
}
