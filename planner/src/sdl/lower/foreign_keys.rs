//! Foreign keys: `@wes_fk(ref:)` on a field, or `@wes_fk(columns:, ref:, refColumns:)` on
//! the type for several columns, resolved once every table's columns are known. The
//! target is a GraphQL type or a table name (plain or schema-qualified) and a field or
//! column (`refColumns:` for several), or the target's primary key with as many columns
//! (E0032, E0033); the columns must pair up with compatible types (E0040, E0034) and the
//! target columns must be a primary key or unique, in any order (E0035).

use super::arguments::{explicit_name, resolve_column, str_arg};
use super::Draft;
use super::{p, Ctx};
use crate::diag::Code;
use crate::model::*;
use crate::naming::derived_name;
use crate::sdl::directives::{arg, word};
use crate::sdl::locate;
use std::collections::BTreeMap;

/// Resolves the foreign keys every draft is waiting for, now that every table's columns
/// are known. Targets are found by GraphQL type name, or by table name (plain or
/// schema-qualified).
pub(super) fn resolve_all(cx: &mut Ctx<'_>, drafts: &mut [Draft<'_, '_>]) {
    let by_type: BTreeMap<&str, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.obj.name, i))
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
    for (cols, dir) in &d.fks {
        let Some(r) = str_arg(cx, dir, &["ref"]) else {
            if arg(dir, &["ref"]).is_none() {
                cx.err(
                    Code::E0040,
                    p(dir.position),
                    format!("`@{}` needs `ref: \"Type.field\"`", dir.name),
                    "write e.g. `@wes_fk(ref: \"User.id\")`, or on the type `@wes_fk(columns: [...], ref: \"Type\", refColumns: [...])`",
                );
            }
            continue;
        };
        // Located only when reporting: locating scans the source from its start.
        let rpos = |cx: &Ctx<'_>| locate::arg_value(cx.src, p(dir.position), "ref");
        let (type_part, field_part) = match r.rsplit_once('.') {
            Some((t, f)) if !by_type.contains_key(r.as_str()) && !by_table.contains_key(&r) => {
                (t.to_string(), Some(f.to_string()))
            }
            _ => (r.clone(), None),
        };
        let target = by_type
            .get(type_part.as_str())
            .or_else(|| by_table.get(type_part.as_str()))
            .map(|&i| &all[i]);
        let Some(target) = target else {
            let known: Vec<&str> = all.iter().map(|t| t.obj.name).collect();
            cx.err(
                Code::E0032,
                rpos(cx),
                format!("foreign key refers to `{type_part}`, which is not a `@wes_table` type"),
                format!("use one of: {}", known.join(", ")),
            );
            continue;
        };
        // The referenced columns: `refColumns:`, the field of `ref:`, or the primary key.
        let ref_fields: Option<Vec<String>> = match (
            super::arguments::string_list_arg(cx, dir, &["refColumns"]),
            &field_part,
        ) {
            (Some(list), None) => Some(list),
            (Some(_), Some(_)) => {
                cx.err(
                    Code::E0040,
                    rpos(cx),
                    "foreign key gives both `ref: \"Type.field\"` and `refColumns:`".to_string(),
                    "write `ref: \"Type\"` with `refColumns: [...]`, or `ref: \"Type.field\"` alone".to_string(),
                );
                continue;
            }
            (None, Some(f)) => Some(vec![f.clone()]),
            (None, None) => None,
        };
        let ref_cols: Option<Vec<String>> = match &ref_fields {
            Some(fields) => fields
                .iter()
                .map(|f| resolve_column(&target.field_cols, f))
                .collect(),
            None => target
                .table
                .primary_key
                .as_ref()
                .filter(|pk| pk.columns.len() == cols.len())
                .map(|pk| pk.columns.clone()),
        };
        let Some(ref_cols) = ref_cols else {
            let known: Vec<&str> = target.field_cols.keys().map(String::as_str).collect();
            let message = match &ref_fields {
                Some(f) => format!(
                    "foreign key refers to `{}.{}`, which does not exist",
                    target.obj.name,
                    f.iter()
                        .find(|f| resolve_column(&target.field_cols, f).is_none())
                        .map(String::as_str)
                        .unwrap_or_default()
                ),
                None => format!(
                    "foreign key over {} column(s) refers to `{}` without naming its columns, but its primary key does not have {} column(s)",
                    cols.len(),
                    target.obj.name,
                    cols.len()
                ),
            };
            cx.err(
                Code::E0033,
                rpos(cx),
                message,
                format!(
                    "use `{}.<field>` (or `refColumns: [...]`) with: {}",
                    target.obj.name,
                    known.join(", ")
                ),
            );
            continue;
        };
        if ref_cols.len() != cols.len() {
            cx.err(
                Code::E0040,
                rpos(cx),
                format!(
                    "foreign key has {} column(s) but refers to {} in `{}`",
                    cols.len(),
                    ref_cols.len(),
                    target.obj.name
                ),
                "give `columns:` and `refColumns:` the same number of fields, in matching order"
                    .to_string(),
            );
            continue;
        }
        let mut compatible = true;
        for (col, ref_col) in cols.iter().zip(&ref_cols) {
            let src_col = d.table.column(col).expect("fk column exists");
            let dst_col = target
                .table
                .column(ref_col)
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
                compatible = false;
            }
        }
        if !compatible {
            continue;
        }
        // PostgreSQL needs a unique constraint or unique index on exactly these columns,
        // in any order.
        let wanted: std::collections::BTreeSet<&String> = ref_cols.iter().collect();
        let same = |c: &[String]| c.iter().collect::<std::collections::BTreeSet<_>>() == wanted;
        let unique = target
            .table
            .primary_key
            .as_ref()
            .is_some_and(|k| same(&k.columns))
            || target.table.uniques.iter().any(|u| same(&u.columns))
            || target
                .table
                .indexes
                .iter()
                .any(|i| i.referencable_columns().is_some_and(|c| same(&c)));
        // A unique index on expressions over these columns cannot be referenced.
        let expr_index = target.table.indexes.iter().find(|i| {
            i.unique
                && i.has_expressions()
                && ref_cols
                    .iter()
                    .all(|c| i.mentioned_columns(&target.table).contains(c))
        });
        if let (false, Some(i)) = (unique, expr_index) {
            cx.err(
                Code::E0035,
                rpos(cx),
                format!(
                    "foreign key refers to `{}` ({}), which only an expression index makes unique (`{}` on {}): PostgreSQL cannot reference one",
                    target.table.name,
                    ref_cols.join(", "),
                    i.name,
                    i.keys_label()
                ),
                format!(
                    "give `{}` a unique constraint on the referenced columns (`@wes_unique`), or reference its primary key",
                    target.obj.name
                ),
            );
            continue;
        }
        if !unique {
            let (message, help) = match ref_cols.as_slice() {
                [one] => (
                    format!(
                        "foreign key refers to `{}.{one}`, which is neither a primary key nor unique",
                        target.table.name
                    ),
                    format!(
                        "mark `{}.{}` with `@wes_unique`, or reference the primary key",
                        target.obj.name,
                        ref_fields
                            .as_ref()
                            .and_then(|f| f.first().cloned())
                            .unwrap_or_else(|| one.clone())
                    ),
                ),
                many => (
                    format!(
                        "foreign key refers to `{}` ({}), which is neither a primary key nor unique",
                        target.table.name,
                        many.join(", ")
                    ),
                    format!(
                        "give `{}` a unique constraint on these fields (`@wes_unique(columns: [...])`), or reference its primary key",
                        target.obj.name
                    ),
                ),
            };
            cx.err(Code::E0035, rpos(cx), message, help);
            continue;
        }
        let action = |cx: &mut Ctx<'_>, names: &[&str]| -> FkAction {
            match arg(dir, names) {
                None => FkAction::NoAction,
                Some((n, v)) => {
                    let text = word(v).unwrap_or_default();
                    FkAction::parse(text).unwrap_or_else(|| {
                        let pos = locate::arg_value(cx.src, p(dir.position), n);
                        cx.err(Code::E0040, pos, format!("`{n}` must be one of CASCADE, RESTRICT, SET_NULL, SET_DEFAULT, NO_ACTION"), format!("write e.g. `{n}: CASCADE`"));
                        FkAction::NoAction
                    })
                }
            }
        };
        let on_delete = action(cx, &["onDelete", "on_delete"]);
        let on_update = action(cx, &["onUpdate", "on_update"]);
        let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
        let name = explicit_name(cx, dir, "constraint", || {
            derived_name(&d.table.name, &refs, "fkey")
        });
        out.push(ForeignKey {
            name,
            columns: cols.clone(),
            ref_schema: target.table.schema.clone(),
            ref_table: target.table.name.clone(),
            ref_columns: ref_cols,
            on_delete,
            on_update,
        });
    }
    out
}
