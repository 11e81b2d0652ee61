//! Renderers of a plan file for people and for psql: [`text`] for a terminal, [`markdown`]
//! for a pull-request comment, [`sql`] for a psql script that runs the plan by itself.
//! They take a [`PlanFile`], not the internal plan, so the command line, the executor and
//! the browser render the same thing from the same file. They never fail: a file that was
//! not validated still renders (unknown names are shown as written, control characters
//! are replaced), but only a validated file should be run.

pub mod markdown;
pub mod sql;
pub mod text;

use crate::plan::{HazardKind, LockMode, Phase};
use crate::planfile::{PlanDiagnostic, PlanFile, PlanHazard, PlanStep};
use crate::policy::HazardPolicy;

/// What a reviewer needs to know first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The plan has error diagnostics and must not be applied (their codes, in order).
    Errors(Vec<String>),
    /// Hazards of refusal severity that are not allowed: how many, and of which kinds. The
    /// plan is refused (exit code 3) until they are accepted with `--allow`.
    Refused {
        /// How many hazards refuse.
        hazards: usize,
        /// Their kinds, sorted.
        kinds: Vec<String>,
    },
    /// No refusal left, but hazards a reviewer should look at: how many, of which kinds,
    /// and how many refusals were allowed.
    Review {
        /// Steps in the plan.
        steps: usize,
        /// Hazards to review.
        hazards: usize,
        /// Their kinds, sorted.
        kinds: Vec<String>,
    },
    /// Nothing to review: how many steps, how many allowed hazards and their kinds.
    Safe {
        /// Steps in the plan.
        steps: usize,
        /// Hazards allowed with `--allow`.
        allowed: usize,
        /// Their kinds, sorted.
        kinds: Vec<String>,
    },
    /// The plan has no steps.
    NoChanges,
}

impl Verdict {
    /// One line, without decoration, e.g. `2 hazards need a decision: deletes_data, breaks_clients`.
    pub fn summary(&self) -> String {
        match self {
            Verdict::Errors(codes) => format!("Plan has errors: {}", codes.join(", ")),
            Verdict::Refused { hazards, kinds } => format!(
                "{hazards} {} a decision: {}",
                if *hazards == 1 {
                    "hazard needs"
                } else {
                    "hazards need"
                },
                kinds.join(", ")
            ),
            Verdict::Review {
                steps,
                hazards,
                kinds,
            } => format!(
                "Safe to apply: {}, {} to review ({})",
                plural(*steps, "step"),
                plural(*hazards, "hazard"),
                kinds.join(", ")
            ),
            Verdict::Safe {
                steps, allowed: 0, ..
            } => {
                format!("Safe: {}, no hazards", plural(*steps, "step"))
            }
            Verdict::Safe {
                steps,
                allowed,
                kinds,
            } => format!(
                "Safe: {}, {} allowed ({})",
                plural(*steps, "step"),
                plural(*allowed, "hazard"),
                kinds.join(", ")
            ),
            Verdict::NoChanges => "No changes: the schemas are equivalent".to_string(),
        }
    }

    /// True when the plan must not be applied as it is: errors, or refusals not allowed.
    pub fn blocks(&self) -> bool {
        matches!(self, Verdict::Errors(_) | Verdict::Refused { .. })
    }
}

/// Judges a plan: errors first, then hazards that [`HazardPolicy::blocks_hazard`], then
/// hazards left for review (refusals that were allowed count as allowed, not review).
pub fn verdict(file: &PlanFile, policy: &HazardPolicy) -> Verdict {
    verdict_of(&file.diagnostics, &file.steps, policy)
}

/// [`verdict`] on a plan's diagnostics and steps: all it reads of the file (the browser's
/// preview has no schemas).
pub fn verdict_of(
    diagnostics: &[PlanDiagnostic],
    steps: &[PlanStep],
    policy: &HazardPolicy,
) -> Verdict {
    let mut codes: Vec<String> = Vec::new();
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        if !codes.contains(&d.code) {
            codes.push(d.code.clone());
        }
    }
    if !codes.is_empty() {
        return Verdict::Errors(codes);
    }
    let hazards = || {
        steps
            .iter()
            .flat_map(|s| s.hazards.iter().map(move |h| (s, h)))
    };
    let refused: Vec<_> = hazards().filter(|(_, h)| policy.blocks_hazard(h)).collect();
    if !refused.is_empty() {
        return Verdict::Refused {
            hazards: refused.len(),
            kinds: kinds_of(&refused),
        };
    }
    if steps.is_empty() {
        return Verdict::NoChanges;
    }
    let (allowed, review): (Vec<_>, Vec<_>) =
        hazards().partition(|(_, h)| standing(h, policy) == Standing::Allowed);
    if !review.is_empty() {
        return Verdict::Review {
            steps: steps.len(),
            hazards: review.len(),
            kinds: kinds_of(&review),
        };
    }
    Verdict::Safe {
        steps: steps.len(),
        allowed: allowed.len(),
        kinds: kinds_of(&allowed),
    }
}

/// Hazards that stop the plan under `policy`, in step order.
pub fn blocking<'a>(
    file: &'a PlanFile,
    policy: &HazardPolicy,
) -> Vec<(&'a PlanStep, &'a PlanHazard)> {
    file.hazards()
        .filter(|(_, h)| policy.blocks_hazard(h))
        .collect()
}

/// How a hazard stands under `policy`, for its marker in renderings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Stops the plan.
    Refused,
    /// Accepted with `--allow`.
    Allowed,
    /// Shown for review; does not stop the plan.
    Review,
}

/// Accepting a kind with `--allow` accepts its review hazards too.
pub fn standing(h: &PlanHazard, policy: &HazardPolicy) -> Standing {
    if policy.blocks_hazard(h) {
        Standing::Refused
    } else if h.kind().is_some_and(|k| policy.is_allowed(k)) {
        Standing::Allowed
    } else {
        Standing::Review
    }
}

/// Distinct hazard kinds, known kinds in [`HazardKind::ALL`] order, then unknown ones.
fn kinds_of(list: &[(&PlanStep, &PlanHazard)]) -> Vec<String> {
    let rank = |k: &str| {
        HazardKind::ALL
            .iter()
            .position(|h| h.as_str() == k)
            .unwrap_or(HazardKind::ALL.len())
    };
    let mut kinds: Vec<String> = list.iter().map(|(_, h)| h.kind.clone()).collect();
    kinds.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    kinds.dedup();
    kinds
}

/// What to do about a hazard, as an imperative sentence.
pub fn advice(kind: HazardKind) -> &'static str {
    match kind {
        HazardKind::DeletesData => "Make sure nothing needs the data any more, and take a backup if it might; dropped data cannot be recovered by Wesley.",
        HazardKind::BreaksClients => "Deploy application code that works with both the old and the new schema before applying this step.",
        HazardKind::BlocksReads => "Apply when traffic is low; lock_timeout makes the step give up instead of queueing behind long transactions.",
        HazardKind::BlocksWrites => "Apply when write traffic is low; lock_timeout makes the step give up instead of queueing behind long transactions.",
        HazardKind::TableRewrite => "Plan a maintenance window sized to the table, or change the schema in smaller steps that avoid the rewrite.",
        HazardKind::LongRunning => "Expect it to take time on large tables; traffic continues, but do not cut the migration short.",
        HazardKind::AuthzChange => "Check which roles gain or lose access to which rows before applying.",
        HazardKind::NeedsBackfill => "Expect extra write load and dead rows on large tables; watch replication lag and VACUUM.",
        HazardKind::StillInUse => "Find the code that sends the named statements and deploy a version that no longer uses the object; `wesley usage` shows what still uses it.",
    }
}

/// A few words about a phase, for headings.
pub fn phase_title(phase: Phase) -> &'static str {
    match phase {
        Phase::Expand => "additive changes the running application tolerates",
        Phase::Backfill => "existing rows are filled in batches",
        Phase::Validate => "data is checked against the new constraints",
        Phase::Switch => "the new shape becomes authoritative",
        Phase::Contract => "what the new schema no longer has is removed",
    }
}

/// Consecutive steps of the same phase, with their one-based numbers. Steps are in
/// execution order, which keeps phases together except where a dependency crosses them;
/// then a phase appears more than once.
pub fn phase_runs(file: &PlanFile) -> Vec<(&str, Vec<(usize, &PlanStep)>)> {
    let mut runs: Vec<(&str, Vec<(usize, &PlanStep)>)> = Vec::new();
    for (i, s) in file.steps.iter().enumerate() {
        match runs.last_mut() {
            Some((phase, steps)) if *phase == s.phase.as_str() => steps.push((i + 1, s)),
            _ => runs.push((s.phase.as_str(), vec![(i + 1, s)])),
        }
    }
    runs
}

/// A lock mode as SQL names it (`ACCESS EXCLUSIVE`), or as written when unknown.
pub fn lock_name(mode: &str) -> String {
    LockMode::parse(mode).map_or_else(|| clean(mode), |m| m.sql_name().to_string())
}

/// `sha256:` and the first 12 hex digits.
pub fn short_hash(hash: &str) -> String {
    match hash.strip_prefix("sha256:") {
        Some(hex) => format!("sha256:{}", hex.chars().take(12).collect::<String>()),
        None => clean(hash),
    }
}

/// Text with every control character (newlines included) replaced by a space, safe to
/// put on one line of a terminal, a comment or a table cell.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `1 step`, `2 steps`: `word` with an `s` unless `n` is 1.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    //! The small plan the renderers' golden tests show.

    use crate::planfile::{to_plan_file, PlanFile};
    use crate::{plan, sdl};

    pub const OLD: &str = r#"
type User @wes_table {
  id: ID! @wes_pk
  name: String!
  legacy: String
}
"#;

    pub const NEW: &str = r#"
type User @wes_table {
  id: ID! @wes_pk
  name: String!
  nick: String @wes_index
}

type Team @wes_table {
  id: ID! @wes_pk
  title: String!
}
"#;

    pub fn file(old: &str, new: &str) -> PlanFile {
        let load = |src: &str| {
            let (s, d) = sdl::parse("test.graphql", src);
            s.unwrap_or_else(|| panic!("{d:#?}"))
        };
        to_plan_file(&plan::plan(&load(old), &load(new)))
    }

    pub fn sample() -> PlanFile {
        file(OLD, NEW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let f = fixture::sample();
        let v = verdict(&f, &HazardPolicy::default());
        assert!(v.blocks());
        assert_eq!(
            v.summary(),
            "2 hazards need a decision: deletes_data, breaks_clients"
        );
        let v = verdict(
            &f,
            &HazardPolicy::allowing(&[HazardKind::DeletesData, HazardKind::BreaksClients]),
        );
        assert!(!v.blocks());
        assert_eq!(
            v.summary(),
            "Safe to apply: 4 steps, 1 hazard to review (long_running)"
        );
        let v = verdict(&f, &HazardPolicy::allowing(HazardKind::ALL));
        assert!(!v.blocks());
        let denied = HazardPolicy::new(
            vec![HazardKind::DeletesData, HazardKind::BreaksClients],
            vec![HazardKind::LongRunning],
        )
        .unwrap();
        assert_eq!(
            verdict(&f, &denied).summary(),
            "1 hazard needs a decision: long_running"
        );
        let same = fixture::file(fixture::OLD, fixture::OLD);
        assert_eq!(verdict(&same, &HazardPolicy::default()), Verdict::NoChanges);
    }

    #[test]
    fn clean_removes_line_breaks() {
        assert_eq!(clean("a\nb\r\\! c\u{1b}[2J"), "a b \\! c [2J");
    }
}

/// What `wesley rollback` can do for a plan, in words, for the renderings: one summary
/// line, then one line per step that cannot be undone (what stays) or that makes rollback
/// refuse once it has run (other than contract steps, which the summary names). Empty for
/// a plan without steps.
pub fn rollback_lines(file: &PlanFile) -> Vec<String> {
    use crate::plan::UndoKind;
    if file.steps.is_empty() {
        return Vec::new();
    }
    let contract = file
        .steps
        .iter()
        .any(|s| s.phase() == Some(Phase::Contract));
    let mut out = vec![format!(
        "`wesley rollback` undoes this plan {} ({} inverse step{}).",
        if contract {
            "until its first contract step runs"
        } else {
            "at any point"
        },
        file.rollback.len(),
        if file.rollback.len() == 1 { "" } else { "s" }
    )];
    for s in &file.steps {
        let Some(u) = &s.undo else { continue };
        let note = u.note.as_deref().unwrap_or("");
        match u.kind() {
            Some(UndoKind::Stays) => out.push(format!("stays: {note}")),
            Some(UndoKind::Refuses) if s.phase() != Some(Phase::Contract) => {
                out.push(format!("no rollback once {} has run: {note}", s.id))
            }
            _ => {}
        }
    }
    out
}
