//! CHECK constraints on existing tables: `NOT VALID` (instant), then `VALIDATE` in its own
//! transaction (a scan under SHARE UPDATE EXCLUSIVE).

use super::*;
use crate::model::Check;
use crate::naming;

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
        .on(
            t,
            StepKind::AddCheck,
            Some(&c.name),
            Phase::Expand,
            format!(
                "Add check {} on {} NOT VALID (instant, enforced for new writes)",
                c.name,
                t.display_name()
            ),
            stmts(&[alter(
                t,
                Alter::AddCheckNotValid {
                    name: &c.name,
                    expr: &c.expr,
                },
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
    let undo = cx
        .on(
            t,
            StepKind::DropCheck,
            Some(&c.name),
            Phase::Contract,
            format!("Drop check {} on {} again", c.name, t.display_name()),
            stmts(&[alter(t, Alter::DropConstraintIfExists(&c.name))]),
        )
        .lock(t, LockMode::AccessExclusive);
    let add = add.undo_by(undo);
    let add_id = cx.push(add);
    let v = cx
        .on(t, StepKind::ValidateConstraint, Some(&c.name), Phase::Validate, format!("Validate check {} on {} (reads and writes continue)", c.name, t.display_name()), stmts(&[alter(t, Alter::ValidateConstraint(&c.name))]))
        .lock(t, LockMode::ShareUpdateExclusive)
        .scan()
        .hazard(HazardKind::LongRunning, format!("Validating check {} reads all of {}: reads and writes continue, but it takes time proportional to the table's size, and fails if an existing row violates ({}). Fix those rows, then resume.", c.name, t.display_name(), c.expr))
        .after(&add_id)
        .undo_nothing();
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
        .on(
            t,
            StepKind::DropCheck,
            Some(&c.name),
            Phase::Contract,
            format!("Drop check {} on {}", c.name, t.display_name()),
            stmts(&[alter(t, Alter::DropConstraint(&c.name))]),
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
        .on(
            t,
            StepKind::DropCheck,
            Some(&old.name),
            Phase::Switch,
            format!(
                "Swap check {} on {} to its new definition",
                new.name,
                t.display_name()
            ),
            stmts(&[
                alter(t, Alter::DropConstraint(&old.name)),
                alter(
                    t,
                    Alter::RenameConstraint {
                        from: &tmp.name,
                        to: &new.name,
                    },
                ),
            ]),
        )
        .lock(t, LockMode::AccessExclusive)
        .after(&validated);
    // Back: the old definition added again as `<old>_old`, validated, and swapped back.
    let back = naming::fit(&format!("{}_old", old.name));
    let tname = t.display_name();
    let spec = spec
        .undo_by(
            cx.on(t, StepKind::AddCheck, Some(&back), Phase::Expand, format!("Add the old check {} on {tname} again as {back} NOT VALID", old.name), stmts(&[alter(t, Alter::AddCheckNotValid { name: &back, expr: &old.expr })]))
                .lock(t, LockMode::AccessExclusive),
        )
        .undo_by(
            cx.on(t, StepKind::ValidateConstraint, Some(&back), Phase::Validate, format!("Validate check {back} on {tname}"), stmts(&[alter(t, Alter::ValidateConstraint(&back))]))
                .lock(t, LockMode::ShareUpdateExclusive)
                .scan()
                .hazard(HazardKind::LongRunning, format!("Validating check {back} reads all of {tname}; reads and writes continue. It fails if rows written since the plan ran violate ({}).", old.expr)),
        )
        .undo_by(
            cx.on(t, StepKind::DropCheck, Some(&new.name), Phase::Switch, format!("Swap check {} on {tname} back to its old definition", new.name), stmts(&[
                alter(t, Alter::DropConstraint(&new.name)),
                alter(t, Alter::RenameConstraint { from: &back, to: &old.name }),
            ]))
                .lock(t, LockMode::AccessExclusive),
        );
    cx.push(spec);
}
