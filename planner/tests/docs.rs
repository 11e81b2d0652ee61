//! The reference documents list every name the code knows: a step kind, hazard kind,
//! timeout class or table-summary value added to the code without its documentation
//! fails here.

use wesley_planner::plan::locks::{Blocking, Work};
use wesley_planner::plan::{HazardKind, Phase, Severity, StepKind, TimeoutClass};
use wesley_planner::planfile::FORMAT;

fn doc(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn missing<'a>(text: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    names
        .into_iter()
        .filter(|n| !text.contains(&format!("`{n}`")))
        .collect()
}

#[test]
fn plan_format_lists_every_name() {
    let text = doc("plan-format.md");
    assert!(text.starts_with(&format!("# Plan file format `{FORMAT}`")));
    let mut names: Vec<&str> = Vec::new();
    names.extend(StepKind::ALL.iter().map(|k| k.as_str()));
    names.extend(HazardKind::ALL.iter().map(|k| k.as_str()));
    names.extend(Phase::ALL.iter().map(|p| p.as_str()));
    names.extend(TimeoutClass::ALL.iter().map(|c| c.as_str()));
    names.extend(Blocking::ALL.iter().map(|b| b.as_str()));
    names.extend(Work::ALL.iter().map(|w| w.as_str()));
    names.extend([Severity::Review.as_str(), Severity::Refuse.as_str()]);
    assert_eq!(
        missing(&text, names),
        Vec::<&str>::new(),
        "docs/plan-format.md"
    );
}

#[test]
fn hazards_doc_lists_every_kind() {
    let text = doc("hazards.md");
    let names = HazardKind::ALL.iter().map(|k| k.as_str());
    assert_eq!(missing(&text, names), Vec::<&str>::new(), "docs/hazards.md");
}
