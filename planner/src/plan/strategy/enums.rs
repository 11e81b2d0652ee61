//! Enum types. New values are added with `ALTER TYPE ... ADD VALUE ... BEFORE/AFTER` to
//! keep the declared order, one step each, before anything uses them (the lock is on the
//! type only, not on tables). Removing or reordering values is refused: PostgreSQL cannot
//! do it in place.

use super::*;
use crate::ddl;
use crate::model::EnumType;
use crate::sql::{literal, qualified};

/// The name in a step id: `schema.enum`, and `.value` for one value.
fn name(e: &EnumType, value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{}.{}.{}", e.schema, e.name, v),
        None => format!("{}.{}", e.schema, e.name),
    }
}

pub fn create(cx: &mut Ctx<'_>, e: &EnumType) {
    let mut spec = cx
        .global(
            StepKind::CreateEnum,
            &name(e, None),
            Phase::Expand,
            format!(
                "Create enum {}.{} ({})",
                e.schema,
                e.name,
                e.values.join(", ")
            ),
            stmts(&[ddl::create_enum(e)]),
        )
        .provides(enum_key(&e.schema, &e.name))
        .undo_by(cx.global(
            StepKind::DropEnum,
            &name(e, None),
            Phase::Contract,
            format!("Drop enum {}.{} (created by the plan)", e.schema, e.name),
            stmts(&[format!("DROP TYPE {}", qualified(&e.schema, &e.name))]),
        ));
    if e.schema != "public" {
        spec = spec.requires(format!("schema:{}", e.schema));
    }
    cx.push(spec);
}

/// Labels renamed in place, one step each, in the old order (`ALTER TYPE ... RENAME
/// VALUE`: the type's lock only, no table's; stored values follow, as they are kept by
/// the label's OID).
pub fn rename_values(cx: &mut Ctx<'_>, e: &EnumType, renames: &[(String, String)]) {
    let q = qualified(&e.schema, &e.name);
    let rename = |from: &str, to: &str| {
        format!(
            "ALTER TYPE {q} RENAME VALUE {} TO {}",
            literal(from),
            literal(to)
        )
    };
    let mut prev_id: Option<String> = None;
    for (from, to) in renames {
        let mut spec = cx
            .global(
                StepKind::RenameEnumValue,
                &name(e, Some(to)),
                Phase::Expand,
                format!("Rename value {from} of enum {}.{} to {to}", e.schema, e.name),
                stmts(&[rename(from, to)]),
            )
            .provides(enum_key(&e.schema, &e.name))
            .hazard(HazardKind::BreaksClients, format!("From this step on, enum {}.{} has the label {to} instead of {from}: reads return {to}, and code that writes or compares {from} fails (SQLSTATE 22P02). Deploy code that knows both labels first.", e.schema, e.name))
            .undo_by(
                cx.global(
                    StepKind::RenameEnumValue,
                    &name(e, Some(from)),
                    Phase::Expand,
                    format!("Rename value {to} of enum {}.{} back to {from}", e.schema, e.name),
                    stmts(&[rename(to, from)]),
                )
                .review(HazardKind::BreaksClients, format!("Enum {}.{} has the label {from} again.", e.schema, e.name)),
            );
        if let Some(p) = &prev_id {
            spec = spec.after(p);
        }
        prev_id = Some(cx.push(spec));
    }
}

pub fn add_values(cx: &mut Ctx<'_>, old: &EnumType, new: &EnumType) {
    let mut present: Vec<&String> = old.values.iter().collect();
    // After the renames of the same enum: positions name labels as renamed.
    let key = enum_key(&new.schema, &new.name);
    let mut prev_id: Option<String> = cx
        .specs
        .iter()
        .rev()
        .find(|s| s.step.kind == StepKind::RenameEnumValue && s.provides.contains(&key))
        .map(|s| s.step.id.clone());
    for (i, v) in new.values.iter().enumerate() {
        if present.contains(&v) {
            continue;
        }
        // Place it before the next value that already exists, or after the previous one.
        let next = new.values[i + 1..].iter().find(|x| present.contains(x));
        let position = match next {
            Some(n) => format!("BEFORE {}", literal(n)),
            None => format!("AFTER {}", literal(&new.values[i - 1])),
        };
        let mut spec = cx
            .global(
                StepKind::AddEnumValue,
                &name(new, Some(v)),
                Phase::Expand,
                format!(
                    "Add value {v} to enum {}.{} ({position})",
                    new.schema, new.name
                ),
                // `IF NOT EXISTS`: a value a rollback left behind is there already.
                stmts(&[format!(
                    "ALTER TYPE {} ADD VALUE IF NOT EXISTS {} {position}",
                    qualified(&new.schema, &new.name),
                    literal(v)
                )]),
            )
            .provides(enum_key(&new.schema, &new.name))
            .undo_stays(format!("value {v} stays in enum {}.{}: PostgreSQL cannot remove a value from an enum (rows written since may hold it)", new.schema, new.name));
        if let Some(p) = &prev_id {
            spec = spec.after(p);
        }
        prev_id = Some(cx.push(spec));
        present.push(v);
    }
}

pub fn rewrite(cx: &mut Ctx<'_>, old: &EnumType, new: &EnumType) {
    let removed: Vec<&String> = old
        .values
        .iter()
        .filter(|v| !new.values.contains(v))
        .collect();
    let what = if removed.is_empty() {
        "reorders its existing values".to_string()
    } else {
        format!(
            "removes {}",
            removed
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    cx.error(
        codes::ENUM_REWRITE,
        format!("enum {} {what} (was: {}; now: {}); PostgreSQL can only add values to an enum in place", new.graphql_name, old.values.join(", "), new.values.join(", ")),
        format!("keep the existing values in their order and only add new ones; to retire values, declare a new enum, change the columns to it (a planned type change), then remove `{}`", new.graphql_name),
    );
}

pub fn drop(cx: &mut Ctx<'_>, e: &EnumType) {
    let spec = cx
        .global(
            StepKind::DropEnum,
            &name(e, None),
            Phase::Contract,
            format!("Drop enum {}.{}", e.schema, e.name),
            stmts(&[format!("DROP TYPE {}", qualified(&e.schema, &e.name))]),
        )
        .removes(enum_key(&e.schema, &e.name));
    cx.push(spec);
}
