//! Renames, detected through `@wes_uid`: tables, columns (both `breaks_clients`: running
//! code still uses the old name), and the constraints, indexes and policies whose derived
//! names follow them (plain renames, no rebuild).

use super::*;
use crate::model::Column;
use crate::sql::ident;

pub fn table(cx: &mut Ctx<'_>, old: &Table, new: &Table) {
    let mut sql = Vec::new();
    let mut current = old.schema.clone();
    if old.schema != new.schema {
        sql.push(
            AlterTable {
                schema: &old.schema,
                table: &old.name,
                action: Alter::SetSchema(&new.schema),
            }
            .to_string(),
        );
        current = new.schema.clone();
    }
    if old.name != new.name {
        sql.push(
            AlterTable {
                schema: &current,
                table: &old.name,
                action: Alter::RenameTo(&new.name),
            }
            .to_string(),
        );
    }
    let mut spec = cx
        .on(new, StepKind::RenameTable, None, Phase::Expand, format!("Rename table {} to {}", old.display_name(), new.display_name()), stmts(&sql))
        .lock(old, LockMode::AccessExclusive)
        .hazard(HazardKind::BreaksClients, format!("Table {} is renamed to {}: running code that still uses the old name fails. Deploy code that uses the new name right after this step, or make it tolerate both (e.g. a view) first.", old.display_name(), new.display_name()))
        .provides(t_key(new))
        .removes(t_key(old));
    if new.schema != "public" && old.schema != new.schema {
        spec = spec.requires(format!("schema:{}", new.schema));
    }
    // Back: the name first (in the schema it is in now), then the schema.
    let mut back = Vec::new();
    if old.name != new.name {
        back.push(
            AlterTable {
                schema: &new.schema,
                table: &new.name,
                action: Alter::RenameTo(&old.name),
            }
            .to_string(),
        );
    }
    if old.schema != new.schema {
        back.push(
            AlterTable {
                schema: &new.schema,
                table: &old.name,
                action: Alter::SetSchema(&old.schema),
            }
            .to_string(),
        );
    }
    let undo = cx
        .on(
            new,
            StepKind::RenameTable,
            None,
            Phase::Expand,
            format!(
                "Rename table {} back to {}",
                new.display_name(),
                old.display_name()
            ),
            stmts(&back),
        )
        .lock(new, LockMode::AccessExclusive)
        .review(
            HazardKind::BreaksClients,
            format!(
                "Table {} is renamed back to {}: running code that uses the new name fails.",
                new.display_name(),
                old.display_name()
            ),
        );
    let spec = spec.undo_by(undo);
    cx.push(spec);
}

pub fn column(cx: &mut Ctx<'_>, t: &Table, old: &Column, new: &Column) {
    let spec = cx
        .on(t, StepKind::RenameColumn, Some(&new.name), Phase::Expand, format!("Rename column {}.{} to {}", t.display_name(), old.name, new.name), stmts(&[alter(t, Alter::RenameColumn { from: &old.name, to: &new.name })]))
        .lock(t, LockMode::AccessExclusive)
        .hazard(HazardKind::BreaksClients, format!("Column {}.{} is renamed to {}: running code that still uses the old name fails. Deploy code that uses the new name right after this step.", t.display_name(), old.name, new.name))
        .provides(c_key(t, &new.name))
        .removes(c_key(t, &old.name));
    let undo = cx
        .on(
            t,
            StepKind::RenameColumn,
            Some(&old.name),
            Phase::Expand,
            format!(
                "Rename column {}.{} back to {}",
                t.display_name(),
                new.name,
                old.name
            ),
            stmts(&[alter(
                t,
                Alter::RenameColumn {
                    from: &new.name,
                    to: &old.name,
                },
            )]),
        )
        .lock(t, LockMode::AccessExclusive)
        .review(
            HazardKind::BreaksClients,
            format!(
                "Column {}.{} is renamed back to {}: running code that uses the new name fails.",
                t.display_name(),
                new.name,
                old.name
            ),
        );
    let spec = spec.undo_by(undo);
    cx.push(spec);
}

pub fn constraint(cx: &mut Ctx<'_>, t: &Table, old: &str, new: &str) {
    let keyed =
        t.primary_key.iter().any(|k| k.name == new) || t.uniques.iter().any(|u| u.name == new);
    let mut spec = cx
        .on(
            t,
            StepKind::RenameConstraint,
            Some(new),
            Phase::Expand,
            format!("Rename constraint {old} on {} to {new}", t.display_name()),
            stmts(&[alter(t, Alter::RenameConstraint { from: old, to: new })]),
        )
        .lock(t, LockMode::AccessExclusive);
    let undo = cx
        .on(
            t,
            StepKind::RenameConstraint,
            Some(old),
            Phase::Expand,
            format!(
                "Rename constraint {new} on {} back to {old}",
                t.display_name()
            ),
            stmts(&[alter(t, Alter::RenameConstraint { from: new, to: old })]),
        )
        .lock(t, LockMode::AccessExclusive);
    spec = spec.undo_by(undo);
    if keyed {
        spec = spec.review(HazardKind::BreaksClients, format!("Code that names constraint {old} (`INSERT ... ON CONFLICT ON CONSTRAINT {old}`, or error handling that matches the constraint name) must use {new} from this step on."));
    }
    cx.push(spec);
}

pub fn index(cx: &mut Ctx<'_>, t: &Table, old: &str, new: &str) {
    let spec = cx.on(
        t,
        StepKind::RenameIndex,
        Some(new),
        Phase::Expand,
        format!("Rename index {old} on {} to {new}", t.display_name()),
        stmts(&[crate::ddl::rename_index(&t.schema, old, new)]),
    );
    let undo = cx.on(
        t,
        StepKind::RenameIndex,
        Some(old),
        Phase::Expand,
        format!("Rename index {new} on {} back to {old}", t.display_name()),
        stmts(&[crate::ddl::rename_index(&t.schema, new, old)]),
    );
    let spec = spec.undo_by(undo);
    cx.push(spec);
}

pub fn policy(cx: &mut Ctx<'_>, t: &Table, old: &str, new: &str) {
    let spec = cx
        .on(
            t,
            StepKind::AlterPolicy,
            Some(new),
            Phase::Expand,
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
    let undo = cx
        .on(
            t,
            StepKind::AlterPolicy,
            Some(old),
            Phase::Expand,
            format!("Rename policy {new} on {} back to {old}", t.display_name()),
            stmts(&[format!(
                "ALTER POLICY {} ON {} RENAME TO {}",
                ident(new),
                t.qualified(),
                ident(old)
            )]),
        )
        .lock(t, LockMode::AccessExclusive);
    let spec = spec.undo_by(undo);
    cx.push(spec);
}
