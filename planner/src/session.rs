//! Planning while someone edits (the browser playground): every keystroke plans again, so
//! a [`Session`] keeps the last few parses, and [`Session::preview`] computes only what the
//! page shows. Pure: the cache is an ordinary value its owner keeps.
//!
//! **Invariant:** a session's answer is exactly the from-scratch one. Parses are kept by
//! file name and the whole text, so a changed text is always parsed again; the preview is
//! recomputed from the two parses every time, with the same code as the plan file
//! ([`crate::planfile::to_preview`]). `tests/session.rs` checks both over random edits.

use crate::diag::Diagnostic;
use crate::planfile::{self, Preview};
use crate::policy::HazardPolicy;
use crate::render::{self, Verdict};
use crate::{plan, sdl, Schema};
use std::rc::Rc;

/// What [`sdl::parse`] returns.
pub type Parsed = (Option<Schema>, Vec<Diagnostic>);

/// The last few parses, by file name and text.
#[derive(Debug, Default)]
pub struct Session {
    /// Least recently used first.
    parsed: Vec<(String, String, Rc<Parsed>)>,
}

/// What the playground shows for two schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previewed {
    /// The diagnostics of both schemas (their `file` tells which), then the planner's.
    pub diagnostics: Vec<Diagnostic>,
    /// The plan's steps as the plan file has them, and `wesley plan`'s verdict with its
    /// default policy; `None` when a schema has errors.
    pub plan: Option<(Preview, Verdict)>,
    /// True when there is a plan without error diagnostics.
    pub applicable: bool,
}

impl Session {
    /// How many parses a session keeps: both editors, and one spare.
    pub const KEPT: usize = 3;

    /// A session with nothing parsed yet.
    pub fn new() -> Session {
        Session::default()
    }

    /// [`sdl::parse`], reusing the parse of the same file name and text when it is kept.
    pub fn parse(&mut self, file: &str, source: &str) -> Rc<Parsed> {
        if let Some(i) = self
            .parsed
            .iter()
            .position(|(f, t, _)| f == file && t == source)
        {
            let hit = self.parsed.remove(i);
            let result = Rc::clone(&hit.2);
            self.parsed.push(hit);
            return result;
        }
        let result = Rc::new(sdl::parse(file, source));
        if self.parsed.len() >= Self::KEPT {
            self.parsed.remove(0);
        }
        self.parsed
            .push((file.to_string(), source.to_string(), Rc::clone(&result)));
        result
    }

    /// The plan from `old` to `new` (SDL texts; a blank text is an empty database) as the
    /// playground shows it: without the plan file's schemas (their canonical forms, hashes
    /// and texts), which only an export needs.
    pub fn preview(&mut self, old_file: &str, old: &str, new_file: &str, new: &str) -> Previewed {
        let old = self.parse(old_file, old);
        let new = self.parse(new_file, new);
        let mut diagnostics: Vec<Diagnostic> = old.1.iter().chain(&new.1).cloned().collect();
        let (Some(old_schema), Some(new_schema)) = (&old.0, &new.0) else {
            return Previewed {
                diagnostics,
                plan: None,
                applicable: false,
            };
        };
        let steps = plan::steps(old_schema, new_schema);
        diagnostics.extend(steps.diagnostics.iter().cloned());
        let preview = planfile::to_preview(&steps);
        let verdict = render::verdict_of(
            &preview.diagnostics,
            &preview.steps,
            &HazardPolicy::default(),
        );
        Previewed {
            diagnostics,
            plan: Some((preview, verdict)),
            applicable: !steps.has_errors(),
        }
    }
}
