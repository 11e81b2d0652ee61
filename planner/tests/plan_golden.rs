//! Data-driven golden tests of the migration planner. Each directory under
//! `data/plan/` holds `old.graphql` and `new.graphql`; the plan between them, in a compact
//! form that shows every step's phase, kind, locks, hazards, dependencies and SQL, must
//! equal `plan.out`. Directories under `data/plan_err/` must produce error diagnostics,
//! recorded in `plan.out`. Every plan is also checked for the planner's invariants.
//! Run with `UPDATE_EXPECT=1` to rewrite the `.out` files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use wesley_planner::model::Schema;
use wesley_planner::plan::{self, HazardKind, LockMode, Plan, Severity, Step, TimeoutClass, Undo};
use wesley_planner::{canon, sdl};

fn dirs(kind: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(kind);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

fn load(dir: &Path, name: &str) -> Schema {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let (model, diags) = sdl::parse(&path.display().to_string(), &text);
    model.unwrap_or_else(|| panic!("{} is invalid: {diags:#?}", path.display()))
}

/// A compact, complete rendering of a plan for golden files.
pub fn compact(p: &Plan) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "from {}\nto   {}", p.from_hash, p.to_hash);
    for d in &p.diagnostics {
        let _ = writeln!(
            o,
            "{:?} {}: {}\n  help: {}",
            d.severity(),
            d.code,
            d.message,
            d.help.clone().unwrap_or_default()
        );
    }
    for s in &p.steps {
        compact_step(&mut o, s);
    }
    if !p.rollback.is_empty() {
        let _ = writeln!(o, "\nrollback:");
        for s in &p.rollback {
            compact_step(&mut o, s);
        }
    }
    let _ = writeln!(o, "\nwaves: {}", p.waves.len());
    let _ = writeln!(o, "critical path: {}", p.critical_path.join(" -> "));
    for t in &wesley_planner::planfile::to_plan_file(p).tables {
        let _ = writeln!(
            o,
            "table {}: {} steps, strongest {}, reads blocked {}, writes blocked {}, work {}{}",
            t.table,
            t.steps,
            t.strongest_lock.as_deref().unwrap_or("none"),
            t.reads_blocked,
            t.writes_blocked,
            t.work,
            if t.new_table { " (new)" } else { "" }
        );
    }
    o
}

/// One step of [`compact`].
fn compact_step(o: &mut String, s: &Step) {
    let _ = writeln!(
        o,
        "\n[{}] {} ({}){}",
        s.phase.as_str(),
        s.id,
        s.kind.as_str(),
        if s.transactional {
            ""
        } else {
            " non-transactional"
        }
    );
    let _ = writeln!(o, "  {}", s.summary);
    let _ = writeln!(
        o,
        "  timeout {} cost {}{}",
        s.timeout.as_str(),
        s.cost,
        s.index
            .as_ref()
            .map(|i| format!(" index {}.{}", i.schema, i.name))
            .unwrap_or_default()
    );
    for l in &s.locks {
        let _ = writeln!(
            o,
            "  lock {} {}{}{}",
            l.relation,
            l.mode.as_str(),
            if l.blocks_reads { " blocks-reads" } else { "" },
            if l.blocks_writes {
                " blocks-writes"
            } else {
                ""
            }
        );
    }
    if s.rewrite || s.scan {
        let _ = writeln!(
            o,
            "  {}{}",
            if s.rewrite { "rewrite " } else { "" },
            if s.scan { "scan" } else { "" }
        );
    }
    for h in &s.hazards {
        let _ = writeln!(
            o,
            "  hazard {} ({}): {}",
            h.kind.as_str(),
            h.severity.as_str(),
            h.message
        );
    }
    if !s.depends_on.is_empty() {
        let _ = writeln!(o, "  after {}", s.depends_on.join(", "));
    }
    if let Some(b) = &s.backfill {
        let _ = writeln!(
            o,
            "  backfill {}.{} key ({}) set {} where {} batch {}",
            b.schema,
            b.table,
            b.key.join(", "),
            b.set,
            b.predicate,
            b.batch_size
        );
    }
    for line in s.sql.lines() {
        let _ = writeln!(o, "  | {line}");
    }
    match (&s.undo, &s.undoes) {
        (_, Some(u)) => {
            let _ = writeln!(o, "  undoes {u}");
        }
        (Undo::Steps(_), None) => {
            let _ = writeln!(o, "  undo: steps");
        }
        (Undo::Nothing, None) => {
            let _ = writeln!(o, "  undo: nothing");
        }
        (Undo::Stays(n), None) => {
            let _ = writeln!(o, "  undo: stays: {n}");
        }
        (Undo::Refuses(n), None) => {
            let _ = writeln!(o, "  undo: refuses: {n}");
        }
    }
}

/// Invariants every plan must satisfy.
fn check_invariants(name: &str, old: &Schema, p: &Plan) {
    let mut seen = std::collections::BTreeSet::new();
    for s in &p.steps {
        assert!(
            seen.insert(s.id.clone()),
            "{name}: duplicate step id {}",
            s.id
        );
        for d in &s.depends_on {
            assert!(
                seen.contains(d),
                "{name}: {} depends on {d}, which does not come earlier",
                s.id
            );
        }
        // The one exception: a rewrite the step declares as a `table_rewrite` hazard, which
        // refuses the plan unless `--allow table_rewrite` (a generated column added to an
        // existing table has no online path).
        let declared_rewrite =
            s.rewrite && !s.scan && s.hazards.iter().any(|h| h.kind == HazardKind::TableRewrite);
        if (s.rewrite || s.scan) && !declared_rewrite {
            for l in &s.locks {
                let (schema, table) = l.relation.split_once('.').unwrap();
                let existing = old.table(schema, table).is_some();
                assert!(
                    !(existing && matches!(l.mode, LockMode::AccessExclusive | LockMode::Share)),
                    "{name}: step {} holds {} on existing table {} while scanning or rewriting",
                    s.id,
                    l.mode.as_str(),
                    l.relation
                );
            }
        }
        assert!(
            s.sql.trim_end().ends_with(';'),
            "{name}: step {} SQL does not end with `;`",
            s.id
        );
        if !s.transactional {
            assert_eq!(
                s.sql.matches(";\n").count(),
                1,
                "{name}: non-transactional step {} has several statements",
                s.id
            );
        }
    }
    // Phases never go backwards along a dependency on the same table.
    for s in &p.steps {
        for d in &s.depends_on {
            let dep = p.steps.iter().find(|x| &x.id == d).unwrap();
            if dep.table.is_some() && dep.table == s.table {
                assert!(
                    dep.phase <= s.phase,
                    "{name}: {} ({:?}) depends on later-phase {} ({:?})",
                    s.id,
                    s.phase,
                    dep.id,
                    dep.phase
                );
            }
        }
    }
    // Every step says how it is undone; inverse steps are well-formed and name their step.
    for s in &p.steps {
        assert!(
            !matches!(&s.undo, Undo::Refuses(n) if n.starts_with("no inverse is known")),
            "{name}: step {} ({}) has no inverse and does not say why",
            s.id,
            s.kind.as_str()
        );
        assert!(
            s.phase != plan::Phase::Contract || matches!(s.undo, Undo::Refuses(_)),
            "{name}: contract step {} claims it can be undone",
            s.id
        );
    }
    for r in &p.rollback {
        let undone = r.undoes.as_deref().unwrap_or_default();
        let f = p.steps.iter().find(|s| s.id == undone);
        assert!(
            f.is_some_and(|f| matches!(f.undo, Undo::Steps(_))),
            "{name}: rollback step {} undoes `{undone}`, which is not a step with inverses",
            r.id
        );
        assert!(r.sql.trim_end().ends_with(';'), "{name}: {} SQL", r.id);
        assert!(
            r.transactional || r.sql.matches(";\n").count() == 1,
            "{name}: non-transactional rollback step {} has several statements",
            r.id
        );
        assert_eq!(
            r.timeout,
            TimeoutClass::of(r.scan, r.rewrite, r.transactional, r.backfill.is_some()),
            "{name}: {} has the wrong timeout class",
            r.id
        );
    }
    let ids: usize = p.waves.iter().map(Vec::len).sum();
    assert_eq!(ids, p.steps.len(), "{name}: waves do not cover every step");
    // Severities follow the rules of docs/hazards.md; timeout classes follow the facts.
    for s in &p.steps {
        assert_eq!(
            s.timeout,
            TimeoutClass::of(s.scan, s.rewrite, s.transactional, s.backfill.is_some()),
            "{name}: {} has the wrong timeout class",
            s.id
        );
        let long = s.scan || s.rewrite;
        for h in &s.hazards {
            let expected = match h.kind {
                HazardKind::DeletesData | HazardKind::TableRewrite | HazardKind::AuthzChange => {
                    Some(Severity::Refuse)
                }
                HazardKind::LongRunning | HazardKind::NeedsBackfill => Some(Severity::Review),
                HazardKind::BlocksReads | HazardKind::BlocksWrites => Some(if long {
                    Severity::Refuse
                } else {
                    Severity::Review
                }),
                _ => None,
            };
            if let Some(e) = expected {
                assert_eq!(h.severity, e, "{name}: {} {} hazard", s.id, h.kind);
            }
        }
    }
}

fn plan_case(dir: &Path) {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let old = load(dir, "old.graphql");
    let new = load(dir, "new.graphql");
    let p = plan::plan(&old, &new);
    assert!(!p.has_errors(), "{name}: {:#?}", p.diagnostics);
    check_invariants(&name, &old, &p);
    assert_eq!(
        p,
        plan::plan(&old, &new),
        "{name}: planning is not deterministic"
    );
    assert!(
        plan::plan(&new, &new).is_empty(),
        "{name}: plan(new, new) is not empty"
    );
    assert!(
        plan::plan(&old, &old).is_empty(),
        "{name}: plan(old, old) is not empty"
    );
    assert_eq!(p.to_hash, canon::schema_hash(&new));
    if name == "reordered_is_empty" {
        assert!(p.is_empty(), "reordering produced steps:\n{}", compact(&p));
    }
    expect_test::expect_file![dir.join("plan.out")].assert_eq(&compact(&p));
}

fn plan_error_case(dir: &Path) {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let p = plan::plan(&load(dir, "old.graphql"), &load(dir, "new.graphql"));
    assert!(p.has_errors(), "{name}: expected an error diagnostic");
    expect_test::expect_file![dir.join("plan.out")].assert_eq(&compact(&p));
}

/// Every case directory holds exactly its inputs and its expected output: an expected
/// file without a case, or a stray file, fails the run.
fn no_orphans() {
    let mut problems = Vec::new();
    for kind in ["plan", "plan_err"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(kind);
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            if !path.is_dir() {
                problems.push(format!("{} is not a case directory", path.display()));
                continue;
            }
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            for required in ["new.graphql", "old.graphql", "plan.out"] {
                if !files.iter().any(|f| f == required) {
                    problems.push(format!("{} has no {required}", path.display()));
                }
            }
            for f in &files {
                if !["new.graphql", "old.graphql", "plan.out", "seed.sql"].contains(&f.as_str()) {
                    problems.push(format!("{}/{f} belongs to no case", path.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// One test per case, named `plan/<case>` and `plan_err/<case>` (`cargo test --test
/// plan_golden plan/renames` runs one), and the orphan check. `UPDATE_EXPECT=1` rewrites
/// the expected files.
fn main() {
    use libtest_mimic::{Arguments, Trial};
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (kind, run) in [
        ("plan", plan_case as fn(&Path)),
        ("plan_err", plan_error_case as fn(&Path)),
    ] {
        for dir in dirs(kind) {
            let name = format!("{kind}/{}", dir.file_name().unwrap().to_string_lossy());
            trials.push(Trial::test(name, move || {
                run(&dir);
                Ok(())
            }));
        }
    }
    trials.push(Trial::test("orphans", || {
        no_orphans();
        Ok(())
    }));
    libtest_mimic::run(&args, trials).exit();
}
