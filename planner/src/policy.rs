//! The verdict policy: which hazards stop `wesley plan` and `wesley apply`. Every hazard
//! carries a severity chosen by the planner (docs/hazards.md gives the rules):
//! `refuse` stops the plan (exit code 3) unless its kind is listed in `--allow`; `review`
//! is shown prominently but does not change the exit code, unless its kind is listed in
//! `--deny`, which promotes it to `refuse`. The command line, the executor, the renderers
//! and the browser all judge through this one type.

use crate::plan::{HazardKind, Severity};
use crate::planfile::PlanHazard;

/// `--allow` and `--deny`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HazardPolicy {
    allow: Vec<HazardKind>,
    deny: Vec<HazardKind>,
}

impl HazardPolicy {
    /// A policy accepting `allow` and promoting `deny`. Errors when a kind is in both.
    pub fn new(allow: Vec<HazardKind>, deny: Vec<HazardKind>) -> Result<HazardPolicy, String> {
        if let Some(k) = allow.iter().find(|k| deny.contains(k)) {
            return Err(format!(
                "hazard `{}` is both allowed and denied; name it in --allow or in --deny, not both",
                k.as_str()
            ));
        }
        Ok(HazardPolicy { allow, deny })
    }

    /// Accepts every kind listed (no `--deny`).
    pub fn allowing(allow: &[HazardKind]) -> HazardPolicy {
        HazardPolicy {
            allow: allow.to_vec(),
            deny: Vec::new(),
        }
    }

    /// The kinds `--allow` names.
    pub fn allowed_kinds(&self) -> &[HazardKind] {
        &self.allow
    }

    /// The kinds `--deny` names.
    pub fn denied_kinds(&self) -> &[HazardKind] {
        &self.deny
    }

    /// The severity after `--deny`.
    pub fn severity(&self, kind: HazardKind, severity: Severity) -> Severity {
        if self.deny.contains(&kind) {
            Severity::Refuse
        } else {
            severity
        }
    }

    /// True when the hazard was accepted with `--allow`.
    pub fn is_allowed(&self, kind: HazardKind) -> bool {
        self.allow.contains(&kind)
    }

    /// True when the hazard stops the plan: refusal severity (after `--deny`), not allowed.
    pub fn blocks(&self, kind: HazardKind, severity: Severity) -> bool {
        self.severity(kind, severity) == Severity::Refuse && !self.is_allowed(kind)
    }

    /// [`HazardPolicy::blocks`] for a hazard of a plan file; an unknown kind or severity
    /// always blocks.
    pub fn blocks_hazard(&self, h: &PlanHazard) -> bool {
        match (h.kind(), h.severity()) {
            (Some(k), Some(s)) => self.blocks(k, s),
            _ => true,
        }
    }

    /// The severity a plan file's hazard has under this policy (unknown: refuse).
    pub fn hazard_severity(&self, h: &PlanHazard) -> Severity {
        match (h.kind(), h.severity()) {
            (Some(k), Some(s)) => self.severity(k, s),
            _ => Severity::Refuse,
        }
    }
}

/// Hazard names from a command line list (`--allow`/`--deny`); an unknown name is an error
/// that lists the valid ones.
pub fn parse_kinds(flag: &str, names: &[String]) -> Result<Vec<HazardKind>, String> {
    let mut kinds = Vec::new();
    let mut unknown = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        match HazardKind::parse(name) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            Some(_) => {}
            None => unknown.push(name.to_string()),
        }
    }
    if unknown.is_empty() {
        return Ok(kinds);
    }
    let mut msg = format!(
        "unknown hazard {} in {flag}; the hazards are:",
        unknown
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for k in HazardKind::ALL {
        msg.push_str(&format!("\n  {:<15} {}", k.as_str(), k.describe()));
    }
    Err(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_promotes_and_allow_accepts() {
        let p = HazardPolicy::new(vec![HazardKind::DeletesData], vec![HazardKind::LongRunning])
            .unwrap();
        assert!(!p.blocks(HazardKind::DeletesData, Severity::Refuse));
        assert!(p.blocks(HazardKind::BreaksClients, Severity::Refuse));
        assert!(!p.blocks(HazardKind::BreaksClients, Severity::Review));
        assert!(p.blocks(HazardKind::LongRunning, Severity::Review));
        assert!(
            HazardPolicy::new(vec![HazardKind::LongRunning], vec![HazardKind::LongRunning])
                .is_err()
        );
        let unknown = PlanHazard {
            kind: "spooky".into(),
            severity: "review".into(),
            message: String::new(),
        };
        assert!(p.blocks_hazard(&unknown));
    }

    #[test]
    fn kind_lists() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_kinds(
                "--allow",
                &names(&["long_running", " deletes_data", "long_running", ""])
            ),
            Ok(vec![HazardKind::LongRunning, HazardKind::DeletesData])
        );
        let err = parse_kinds("--deny", &names(&["long_runing"])).unwrap_err();
        assert!(
            err.starts_with("unknown hazard `long_runing` in --deny"),
            "{err}"
        );
        assert!(err.contains("\n  needs_backfill  existing rows"), "{err}");
    }
}
