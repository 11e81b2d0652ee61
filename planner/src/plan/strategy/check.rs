//! CHECK constraints on existing tables: `NOT VALID` (instant), then `VALIDATE` in its own
//! transaction (a scan under SHARE UPDATE EXCLUSIVE).

use super::*;
use crate::model::Check;
use crate::naming;
use crate::sql::ident;

/// Column keys of the table's columns an expression mentions.
pub fn expr_columns(t: &Table, expr: &str) -> Vec<String> {
    let words = crate::expr::identifiers(expr);
    t.columns
        .iter()
        .filter(|c| words.contains(&c.name))
        .map(|c| c_key(t, &c.name))
        .collect()
}

fn add_and_validate(cx: &mut Ctx<'_>, t: &Table, c: &Check) -> String {
    let mut add = cx
        .step(
            sid(StepKind::AddCheck, t, Some(&c.name)),
            Phase::Expand,
            StepKind::AddCheck,
            Some(t),
            format!(
                "Add check {} on {} NOT VALID (instant, enforced for new writes)",
                c.name,
                t.display_name()
            ),
            stmts(&[format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({}) NOT VALID",
                t.qualified(),
                ident(&c.name),
                c.expr
            )]),
        )
        .lock(t, LockMode::AccessExclusive)
        .review(
            HazardKind::BreaksClients,
            format!(
                "From this step on, writes to {} that violate ({}) fail (SQLSTATE 23514).",
                t.display_name(),
                c.expr
            ),
        );
    for k in expr_columns(t, &c.expr) {
        add = add.requires(k);
    }
    let add_id = cx.push(add);
    let v = cx
        .step(sid(StepKind::ValidateConstraint, t, Some(&c.name)), Phase::Validate, StepKind::ValidateConstraint, Some(t), format!("Validate check {} on {} (reads and writes continue)", c.name, t.display_name()), stmts(&[format!("ALTER TABLE {} VALIDATE CONSTRAINT {}", t.qualified(), ident(&c.name))]))
        .lock(t, LockMode::ShareUpdateExclusive)
        .scan()
        .hazard(HazardKind::LongRunning, format!("Validating check {} reads all of {}: reads and writes continue, but it takes time proportional to the table's size, and fails if an existing row violates ({}). Fix those rows, then resume.", c.name, t.display_name(), c.expr))
        .after(&add_id);
    cx.push(v)
}

pub fn add(cx: &mut Ctx<'_>, t: &Table, c: &Check) {
    add_and_validate(cx, t, c);
}

pub fn drop(cx: &mut Ctx<'_>, t: &Table, c: &Check) {
    // The expression may name columns that this plan drops: every word is a potential
    // column key, so the check is dropped before them.
    let words: Vec<String> = crate::expr::identifiers(&c.expr);
    let mut spec = cx
        .step(
            sid(StepKind::DropCheck, t, Some(&c.name)),
            Phase::Contract,
            StepKind::DropCheck,
            Some(t),
            format!("Drop check {} on {}", c.name, t.display_name()),
            stmts(&[format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                t.qualified(),
                ident(&c.name)
            )]),
        )
        .lock(t, LockMode::AccessExclusive);
    for w in words {
        spec = spec.requires(c_key(t, &w));
    }
    cx.push(spec);
}

pub fn replace(cx: &mut Ctx<'_>, t: &Table, old: &Check, new: &Check) {
    let tmp = Check {
        name: naming::fit(&format!("{}_new", new.name)),
        ..new.clone()
    };
    let validated = add_and_validate(cx, t, &tmp);
    let spec = cx
        .step(
            sid(StepKind::DropCheck, t, Some(&old.name)),
            Phase::Switch,
            StepKind::DropCheck,
            Some(t),
            format!(
                "Swap check {} on {} to its new definition",
                new.name,
                t.display_name()
            ),
            stmts(&[
                format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    t.qualified(),
                    ident(&old.name)
                ),
                format!(
                    "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                    t.qualified(),
                    ident(&tmp.name),
                    ident(&new.name)
                ),
            ]),
        )
        .lock(t, LockMode::AccessExclusive)
        .after(&validated);
    cx.push(spec);
}
