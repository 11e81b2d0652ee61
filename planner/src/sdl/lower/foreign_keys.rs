//! Foreign keys: `@wes_fk(ref:)` resolved once every table's columns are known. The
//! target is a GraphQL type or a table name (plain or schema-qualified) and a field or
//! column, or the target's single-column primary key (E0032, E0033); the two columns must
//! have compatible types (E0034) and the target must be unique (E0035).

use super::arguments::{explicit_name, resolve_column, str_arg};
use super::Draft;
use super::{p, Ctx};
use crate::diag::Code;
use crate::model::*;
use crate::naming::derived_name;
use crate::sdl::directives::arg;
use crate::sdl::locate;
use graphql_parser::schema::Value;
use std::collections::BTreeMap;

/// Resolves the foreign keys every draft is waiting for, now that every table's columns
/// are known. Targets are found by GraphQL type name, or by table name (plain or
/// schema-qualified).
pub(super) fn resolve_all(cx: &mut Ctx<'_>, drafts: &mut [Draft<'_, '_>]) {
    let by_type: BTreeMap<&str, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.obj.name.as_str(), i))
        .collect();
    let mut by_table: BTreeMap<String, usize> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate().rev() {
        by_table.insert(d.table.name.clone(), i);
        by_table.insert(format!("{}.{}", d.table.schema, d.table.name), i);
    }
    let fk_results: Vec<Vec<ForeignKey>> = drafts
        .iter()
        .map(|d| resolve_fks(cx, d, drafts, &by_type, &by_table))
        .collect();
    for (d, fks) in drafts.iter_mut().zip(fk_results) {
        d.table.foreign_keys = fks;
    }
}

/// The foreign keys of draft `d`; those that cannot be resolved are reported and left out.
fn resolve_fks(
    cx: &mut Ctx<'_>,
    d: &Draft<'_, '_>,
    all: &[Draft<'_, '_>],
    by_type: &BTreeMap<&str, usize>,
    by_table: &BTreeMap<String, usize>,
) -> Vec<ForeignKey> {
    let mut out = Vec::new();
    for (col, dir) in &d.fks {
        let Some(r) = str_arg(cx, dir, &["ref"]) else {
            if arg(dir, &["ref"]).is_none() {
                cx.err(
                    Code::E0040,
                    p(dir.position),
                    format!("`@{}` needs `ref: \"Type.field\"`", dir.name),
                    "write e.g. `@wes_fk(ref: \"User.id\")`",
                );
            }
            continue;
        };
        // Located only when reporting: locating scans the source from its start.
        let rpos = |cx: &Ctx<'_>| locate::arg_value(cx.src, p(dir.position), "ref");
        let (type_part, field_part) = match r.rsplit_once('.') {
            Some((t, f)) => (t.to_string(), Some(f.to_string())),
            None => (r.clone(), None),
        };
        let target = by_type
            .get(type_part.as_str())
            .or_else(|| by_table.get(type_part.as_str()))
            .map(|&i| &all[i]);
        let Some(target) = target else {
            let known: Vec<&str> = all.iter().map(|t| t.obj.name.as_str()).collect();
            cx.err(
                Code::E0032,
                rpos(cx),
                format!("foreign key refers to `{type_part}`, which is not a `@wes_table` type"),
                format!("use one of: {}", known.join(", ")),
            );
            continue;
        };
        let ref_col = match &field_part {
            Some(f) => resolve_column(&target.field_cols, f),
            None => match &target.table.primary_key {
                Some(pk) if pk.columns.len() == 1 => Some(pk.columns[0].clone()),
                _ => None,
            },
        };
        let Some(ref_col) = ref_col else {
            let known: Vec<&str> = target.field_cols.keys().map(String::as_str).collect();
            let message = match &field_part {
                Some(f) => format!("foreign key refers to `{}.{f}`, which does not exist", target.obj.name),
                None => format!("foreign key refers to `{}` without a field, but it has no single-column primary key", target.obj.name),
            };
            cx.err(
                Code::E0033,
                rpos(cx),
                message,
                format!(
                    "use `{}.<field>` with one of: {}",
                    target.obj.name,
                    known.join(", ")
                ),
            );
            continue;
        };
        let src_col = d.table.column(col).expect("fk column exists");
        let dst_col = target
            .table
            .column(&ref_col)
            .expect("resolved column exists");
        if !src_col.ty.fk_compatible(&dst_col.ty) {
            cx.err(
                Code::E0034,
                rpos(cx),
                format!(
                    "foreign key column `{}` is `{}` but `{}.{}` is `{}`",
                    col, src_col.ty, target.table.name, ref_col, dst_col.ty
                ),
                format!(
                    "give `{}` the type of the column it references",
                    src_col.graphql_name
                ),
            );
            continue;
        }
        let unique = target
            .table
            .primary_key
            .as_ref()
            .is_some_and(|k| k.columns == [ref_col.clone()])
            || target
                .table
                .uniques
                .iter()
                .any(|u| u.columns == [ref_col.clone()])
            || target
                .table
                .indexes
                .iter()
                .any(|i| i.unique && i.predicate.is_none() && i.columns == [ref_col.clone()]);
        if !unique {
            cx.err(
                Code::E0035,
                rpos(cx),
                format!(
                    "foreign key refers to `{}.{}`, which is neither a primary key nor unique",
                    target.table.name, ref_col
                ),
                format!(
                    "mark `{}.{}` with `@wes_unique`, or reference the primary key",
                    target.obj.name, dst_col.graphql_name
                ),
            );
            continue;
        }
        let action = |cx: &mut Ctx<'_>, names: &[&str]| -> FkAction {
            match arg(dir, names) {
                None => FkAction::NoAction,
                Some((n, v)) => {
                    let text = match v {
                        Value::String(s) | Value::Enum(s) => s.clone(),
                        _ => String::new(),
                    };
                    FkAction::parse(&text).unwrap_or_else(|| {
                        let pos = locate::arg_value(cx.src, p(dir.position), n);
                        cx.err(Code::E0040, pos, format!("`{n}` must be one of CASCADE, RESTRICT, SET_NULL, SET_DEFAULT, NO_ACTION"), format!("write e.g. `{n}: CASCADE`"));
                        FkAction::NoAction
                    })
                }
            }
        };
        let on_delete = action(cx, &["onDelete", "on_delete"]);
        let on_update = action(cx, &["onUpdate", "on_update"]);
        let name = explicit_name(cx, dir, "constraint", || {
            derived_name(&d.table.name, &[col], "fkey")
        });
        out.push(ForeignKey {
            name,
            columns: vec![col.clone()],
            ref_schema: target.table.schema.clone(),
            ref_table: target.table.name.clone(),
            ref_columns: vec![ref_col],
            on_delete,
            on_update,
        });
    }
    out
}
