//! Column defaults set, changed or dropped: a catalog change only (instant, brief ACCESS
//! EXCLUSIVE); existing rows are not touched.
//!
//! What old code notices: a changed default gives inserts that omit the column another
//! value (review). A dropped default makes such inserts store NULL, or fail when the
//! column is NOT NULL, so the drop waits for the contract phase, when the application
//! supplies the value itself; on a NOT NULL column it is refused by default.

use super::*;
use crate::model::{BaseTypeExt as _, Column};

/// `SET DEFAULT`; `old` is the column before the change.
pub fn set(cx: &mut Ctx<'_>, t: &Table, old: &Column, c: &Column) {
    let d = c
        .default
        .as_ref()
        .map(|d| d.sql().to_string())
        .unwrap_or_default();
    let mut spec = cx
        .on(
            t,
            StepKind::SetDefault,
            Some(&c.name),
            Phase::Expand,
            format!(
                "Set default of {}.{} to {d} (new rows only)",
                t.display_name(),
                c.name
            ),
            stmts(&[alter(t, Alter::SetDefault(&c.name, &d))]),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(c_key(t, &c.name));
    if let Some(k) = c.ty.base.enum_key() {
        spec = spec.requires(k);
    }
    let tname = t.display_name();
    let undo = match &old.default {
        Some(before) => cx.on(
            t,
            StepKind::SetDefault,
            Some(&c.name),
            Phase::Expand,
            format!("Set default of {tname}.{} back to {}", c.name, before.sql()),
            stmts(&[alter(t, Alter::SetDefault(&c.name, before.sql()))]),
        ),
        None => cx.on(
            t,
            StepKind::DropDefault,
            Some(&c.name),
            Phase::Expand,
            format!("Drop the default of {tname}.{} again", c.name),
            stmts(&[alter(t, Alter::DropDefault(&c.name))]),
        ),
    };
    spec = spec.undo_by(undo.lock(t, LockMode::AccessExclusive));
    if let Some(before) = &old.default {
        spec = spec.review(
            HazardKind::BreaksClients,
            format!(
                "Inserts into {} that omit {} store {d} instead of {} from this step on.",
                t.display_name(),
                c.name,
                before.sql()
            ),
        );
    }
    cx.push(spec);
}

/// `DROP DEFAULT`, in the contract phase; `old` is the column with its default.
pub fn drop(cx: &mut Ctx<'_>, t: &Table, old: &Column) {
    let before = old.default.as_ref().map(|d| d.sql()).unwrap_or("NULL");
    let spec = cx
        .on(
            t,
            StepKind::DropDefault,
            Some(&old.name),
            Phase::Contract,
            format!("Drop the default of {}.{}", t.display_name(), old.name),
            stmts(&[alter(t, Alter::DropDefault(&old.name))]),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(c_key(t, &old.name));
    let spec = if old.nullable {
        spec.review(
            HazardKind::BreaksClients,
            format!(
                "Inserts into {} that omit {} store NULL instead of {before} from this step on.",
                t.display_name(),
                old.name
            ),
        )
    } else {
        spec.hazard(HazardKind::BreaksClients, format!("{}.{} is NOT NULL: from this step on, every insert that omits it fails (SQLSTATE 23502) instead of storing {before}. Deploy code that always sets {} before applying this step.", t.display_name(), old.name, old.name))
    };
    cx.push(spec);
}
