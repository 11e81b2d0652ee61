//! Column defaults set, changed or dropped: a catalog change only (instant, brief ACCESS
//! EXCLUSIVE); existing rows are not touched.

use super::*;
use crate::model::{BaseTypeExt as _, Column};
use crate::sql::ident;

pub fn set(cx: &mut Ctx<'_>, t: &Table, c: &Column) {
    let d = c
        .default
        .as_ref()
        .map(|d| d.sql().to_string())
        .unwrap_or_default();
    let mut spec = cx
        .step(
            sid(StepKind::SetDefault, t, Some(&c.name)),
            Phase::Expand,
            StepKind::SetDefault,
            Some(t),
            format!(
                "Set default of {}.{} to {d} (new rows only)",
                t.display_name(),
                c.name
            ),
            stmts(&[format!(
                "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {d}",
                t.qualified(),
                ident(&c.name)
            )]),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(c_key(t, &c.name));
    if let Some(k) = c.ty.base.enum_key() {
        spec = spec.requires(k);
    }
    cx.push(spec);
}

pub fn drop(cx: &mut Ctx<'_>, t: &Table, c: &Column) {
    let spec = cx
        .step(
            sid(StepKind::DropDefault, t, Some(&c.name)),
            Phase::Expand,
            StepKind::DropDefault,
            Some(t),
            format!("Drop the default of {}.{}", t.display_name(), c.name),
            stmts(&[format!(
                "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT",
                t.qualified(),
                ident(&c.name)
            )]),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(c_key(t, &c.name));
    cx.push(spec);
}
