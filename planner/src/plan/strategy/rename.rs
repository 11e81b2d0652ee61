//! Renames, detected through `@wes_uid`: tables, columns (both `breaks_clients`: running
//! code still uses the old name), and the constraints, indexes and policies whose derived
//! names follow them (plain renames, no rebuild).

use super::*;
use crate::model::Column;
use crate::sql::{ident, qualified};

pub fn table(cx: &mut Ctx<'_>, old: &Table, new: &Table) {
    let mut sql = Vec::new();
    let mut current = old.schema.clone();
    if old.schema != new.schema {
        sql.push(format!(
            "ALTER TABLE {} SET SCHEMA {}",
            qualified(&old.schema, &old.name),
            ident(&new.schema)
        ));
        current = new.schema.clone();
    }
    if old.name != new.name {
        sql.push(format!(
            "ALTER TABLE {} RENAME TO {}",
            qualified(&current, &old.name),
            ident(&new.name)
        ));
    }
    let mut spec = cx
        .step(sid(StepKind::RenameTable, new, None), Phase::Expand, StepKind::RenameTable, Some(new), format!("Rename table {} to {}", old.display_name(), new.display_name()), stmts(&sql))
        .lock(old, LockMode::AccessExclusive)
        .hazard(HazardKind::BreaksClients, format!("Table {} is renamed to {}: running code that still uses the old name fails. Deploy code that uses the new name right after this step, or make it tolerate both (e.g. a view) first.", old.display_name(), new.display_name()))
        .provides(t_key(new))
        .removes(t_key(old));
    if new.schema != "public" && old.schema != new.schema {
        spec = spec.requires(format!("schema:{}", new.schema));
    }
    cx.push(spec);
}

pub fn column(cx: &mut Ctx<'_>, t: &Table, old: &Column, new: &Column) {
    let spec = cx
        .step(sid(StepKind::RenameColumn, t, Some(&new.name)), Phase::Expand, StepKind::RenameColumn, Some(t), format!("Rename column {}.{} to {}", t.display_name(), old.name, new.name), stmts(&[format!("ALTER TABLE {} RENAME COLUMN {} TO {}", t.qualified(), ident(&old.name), ident(&new.name))]))
        .lock(t, LockMode::AccessExclusive)
        .hazard(HazardKind::BreaksClients, format!("Column {}.{} is renamed to {}: running code that still uses the old name fails. Deploy code that uses the new name right after this step.", t.display_name(), old.name, new.name))
        .provides(c_key(t, &new.name))
        .removes(c_key(t, &old.name));
    cx.push(spec);
}

pub fn constraint(cx: &mut Ctx<'_>, t: &Table, old: &str, new: &str) {
    let keyed =
        t.primary_key.iter().any(|k| k.name == new) || t.uniques.iter().any(|u| u.name == new);
    let mut spec = cx
        .step(
            sid(StepKind::RenameConstraint, t, Some(new)),
            Phase::Expand,
            StepKind::RenameConstraint,
            Some(t),
            format!("Rename constraint {old} on {} to {new}", t.display_name()),
            stmts(&[format!(
                "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                t.qualified(),
                ident(old),
                ident(new)
            )]),
        )
        .lock(t, LockMode::AccessExclusive);
    if keyed {
        spec = spec.review(HazardKind::BreaksClients, format!("Code that names constraint {old} (`INSERT ... ON CONFLICT ON CONSTRAINT {old}`, or error handling that matches the constraint name) must use {new} from this step on."));
    }
    cx.push(spec);
}

pub fn index(cx: &mut Ctx<'_>, t: &Table, old: &str, new: &str) {
    let spec = cx.step(
        sid(StepKind::RenameIndex, t, Some(new)),
        Phase::Expand,
        StepKind::RenameIndex,
        Some(t),
        format!("Rename index {old} on {} to {new}", t.display_name()),
        stmts(&[format!(
            "ALTER INDEX {} RENAME TO {}",
            qualified(&t.schema, old),
            ident(new)
        )]),
    );
    cx.push(spec);
}

pub fn policy(cx: &mut Ctx<'_>, t: &Table, old: &str, new: &str) {
    let spec = cx
        .step(
            sid(StepKind::AlterPolicy, t, Some(new)),
            Phase::Expand,
            StepKind::AlterPolicy,
            Some(t),
            format!("Rename policy {old} on {} to {new}", t.display_name()),
            stmts(&[format!(
                "ALTER POLICY {} ON {} RENAME TO {}",
                ident(old),
                t.qualified(),
                ident(new)
            )]),
        )
        .lock(t, LockMode::AccessExclusive)
        .provides(format!("policies:{}.{}", t.schema, t.name));
    cx.push(spec);
}
