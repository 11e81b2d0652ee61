//! `Session` (the browser playground's planning) answers exactly what planning from
//! scratch does, over a long run of edits in both editors: columns renamed, tables added
//! and deleted, syntax broken and mended, edits undone. The from-scratch answer is built
//! the way an export is (`plan::plan` and the plan file), so this also checks that the
//! preview is those fields of the plan file.

use wesley_planner::planfile::{self, Preview};
use wesley_planner::policy::HazardPolicy;
use wesley_planner::session::{Previewed, Session};
use wesley_planner::synth::{self, SynthOptions};
use wesley_planner::{plan, render, sdl};

const CURRENT: &str = "current.graphql";
const NEXT: &str = "next.graphql";

/// Planning from scratch, through the plan file.
fn scratch(old: &str, new: &str) -> Previewed {
    let (old, old_diags) = sdl::parse(CURRENT, old);
    let (new, new_diags) = sdl::parse(NEXT, new);
    let mut diagnostics: Vec<_> = old_diags.into_iter().chain(new_diags).collect();
    let (Some(old), Some(new)) = (old, new) else {
        return Previewed {
            diagnostics,
            plan: None,
            applicable: false,
        };
    };
    let p = plan::plan(&old, &new);
    diagnostics.extend(p.diagnostics.iter().cloned());
    let file = planfile::to_plan_file(&p);
    let verdict = render::verdict(&file, &HazardPolicy::default());
    let preview = Preview {
        steps: file.steps,
        rollback: file.rollback,
        waves: file.waves,
        critical_path: file.critical_path,
        tables: file.tables,
        diagnostics: file.diagnostics,
    };
    Previewed {
        diagnostics,
        plan: Some((preview, verdict)),
        applicable: !p.has_errors(),
    }
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The byte ranges of the `@wes_table` types in `sdl`, from `type` to the closing brace's line.
fn tables(sdl: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = sdl[at..].find("\ntype ") {
        let start = at + i + 1;
        let end = start
            + sdl[start..]
                .find("\n}\n")
                .map_or(sdl.len() - start, |e| e + 3);
        if sdl[start..end]
            .lines()
            .next()
            .is_some_and(|l| l.contains("@wes_table"))
        {
            out.push((start, end));
        }
        at = end.min(sdl.len() - 1);
    }
    out
}

/// One edit of `sdl`, as someone might make it.
fn edit(sdl: &str, rng: &mut Rng, serial: usize) -> String {
    let types = tables(sdl);
    match rng.below(6) {
        // Rename a column: its field gets a suffix (an index or key naming it breaks).
        0 | 1 if !types.is_empty() => {
            let (start, end) = types[rng.below(types.len())];
            let fields: Vec<usize> = sdl[start..end]
                .match_indices("\n  ")
                .map(|(i, _)| start + i + 3)
                .collect();
            let at = fields[rng.below(fields.len())];
            let colon = at + sdl[at..].find(':').expect("a field has a colon");
            format!("{}X{serial}{}", &sdl[..colon], &sdl[colon..])
        }
        // Delete a table (foreign keys to it break).
        2 if types.len() > 1 => {
            let (start, end) = types[rng.below(types.len())];
            format!("{}{}", &sdl[..start], &sdl[end..])
        }
        // Break the syntax.
        3 => format!("{sdl}type Broken{serial} @wes_table {{\n  id: ID! @wes_pk\n"),
        // Add a table.
        _ => format!(
            "{sdl}\ntype Extra{serial} @wes_table {{\n  id: ID! @wes_pk\n  note{serial}: String @wes_index\n}}\n"
        ),
    }
}

#[test]
fn a_session_answers_what_planning_from_scratch_does() {
    let mut opts = SynthOptions::new(12);
    opts.seed = 3;
    let base = synth::schema(&opts);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut session = Session::new();
    // The texts of both editors over time, so an edit can be undone.
    let mut history = vec![(base.clone(), synth::evolve(&opts, 7, 20))];
    let (mut plans, mut refusals) = (0, 0);
    let mut broken = false;
    for serial in 0..160 {
        let (old, new) = history.last().cloned().expect("never empty");
        // A schema with errors is undone more often than not, so plans keep coming.
        let undo = if broken { 6 } else { 2 };
        let (old, new) = match rng.below(10) {
            // Undo: back to an earlier pair of texts, parsed before (maybe still kept).
            n if n < undo && history.len() > 1 => {
                history.pop();
                history.last().cloned().expect("never empty")
            }
            // Type in the current schema's editor.
            2 => (edit(&old, &mut rng, serial), new),
            // Mend a broken schema, like deleting what broke it.
            3 if new.contains("type Broken") => {
                let at = new.find("type Broken").expect("found");
                (old, new[..at].to_string())
            }
            _ => (old, edit(&new, &mut rng, serial)),
        };
        if history.last() != Some(&(old.clone(), new.clone())) {
            history.push((old.clone(), new.clone()));
        }
        let got = session.preview(CURRENT, &old, NEXT, &new);
        assert_eq!(
            got,
            scratch(&old, &new),
            "edit {serial}:\n--- current\n{old}\n--- next\n{new}"
        );
        // The same texts again: the kept parses answer, and the same way.
        assert_eq!(session.preview(CURRENT, &old, NEXT, &new), got);
        broken = got.plan.is_none();
        if broken {
            refusals += 1;
        } else {
            plans += 1;
        }
    }
    // The run covered both kinds of answer.
    assert!(
        plans > 20 && refusals > 20,
        "{plans} plans, {refusals} without a plan"
    );
}

#[test]
fn a_session_keeps_parses_by_file_and_text() {
    let mut session = Session::new();
    let a = session.parse(NEXT, "type A @wes_table { id: ID! @wes_pk }");
    let again = session.parse(NEXT, "type A @wes_table { id: ID! @wes_pk }");
    assert!(
        std::rc::Rc::ptr_eq(&a, &again),
        "the same file and text reuse the parse"
    );
    let other_file = session.parse(CURRENT, "type A @wes_table { id: ID! @wes_pk }");
    assert!(
        !std::rc::Rc::ptr_eq(&a, &other_file),
        "diagnostics name their file"
    );
    let edited = session.parse(NEXT, "type A @wes_table { id: ID! @wes_pk }\n");
    assert!(
        !std::rc::Rc::ptr_eq(&a, &edited),
        "another text is parsed again"
    );
    // Only the last `KEPT` parses stay.
    for i in 0..Session::KEPT {
        session.parse(NEXT, &format!("type B{i} @wes_table {{ id: ID! @wes_pk }}"));
    }
    let evicted = session.parse(NEXT, "type A @wes_table { id: ID! @wes_pk }");
    assert!(!std::rc::Rc::ptr_eq(&a, &evicted));
    assert_eq!(*a, *evicted);
}
