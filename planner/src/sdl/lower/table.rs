//! Tables: a `@wes_table` type becomes a [`Table`]: its columns (each lowered by `field`),
//! then its keys, unique constraints, indexes and checks, field-level first, then
//! type-level; its primary key; redundant indexes (W0103); and its row-level security
//! (lowered by `rls`). Foreign keys wait in the [`Draft`] until every table exists.

use super::arguments::{
    apply_meta, bool_arg, columns_arg, explicit_name, field_level_only, str_arg, usable_directive,
    Site,
};
use super::definitions::Definitions;
use super::{field, indexes, p, rls, Ctx, Draft, Obj};
use crate::diag::{Code, Pos};
use crate::model::*;
use crate::naming::{self, derived_name};
use crate::sdl::directives::{arg, canonical_directive, Dir, DirectiveKind as K};
use crate::sdl::locate;
use std::collections::{BTreeMap, BTreeSet};

/// Lowers table type `o` (one of `defs.table_objs`); enums its columns use are added to
/// `used_enums`.
pub(super) fn lower_table<'d, 'a>(
    cx: &mut Ctx<'_>,
    o: &'d Obj<'a>,
    defs: &Definitions<'_, '_>,
    used_enums: &mut BTreeMap<String, EnumType>,
) -> Draft<'d, 'a> {
    let (schema, name) = defs.table_names[o.name].clone();
    let mut table = Table {
        schema: schema.clone(),
        name: name.clone(),
        graphql_name: o.name.to_string(),
        meta: Meta::default(),
        columns: Vec::with_capacity(o.fields.len()),
        primary_key: None,
        uniques: Vec::new(),
        foreign_keys: Vec::new(),
        checks: Vec::new(),
        indexes: Vec::new(),
        rls_enabled: false,
        policies: Vec::new(),
        comment: super::description(
            cx,
            &o.description,
            p(o.position),
            &format!("type `{}`", o.name),
        ),
    };
    let mut field_cols: BTreeMap<String, String> = BTreeMap::new();
    let mut col_pos: BTreeMap<String, (Pos, String)> = BTreeMap::new();
    let mut fks = Vec::new();
    let mut pk_fields: Vec<String> = Vec::new();
    let mut pk_pos = None;

    // Columns first, so that type-level directives can refer to any of them.
    for f in &o.fields {
        let Some(col) = field::lower_field(cx, &table.name, f, defs, used_enums) else {
            continue;
        };
        if !cx.check_ident(&col.name, "column", p(f.position)) {
            continue;
        }
        if let Some((first, field)) = col_pos.get(&col.name) {
            let msg = if *field == f.name {
                format!(
                    "field `{}` is defined twice in `{}` (first at line {})",
                    f.name, o.name, first.line
                )
            } else {
                format!(
                    "fields `{field}` and `{}` both map to column `{}`",
                    f.name, col.name
                )
            };
            cx.err(
                Code::E0012,
                p(f.position),
                msg,
                "rename one of them, or set a column name with `@wes_column(name: \"...\")`",
            );
            continue;
        }
        if naming::is_reserved(&col.name) {
            cx.warn(
                Code::W0101,
                p(f.position),
                format!(
                    "column name `{}` is a reserved word in PostgreSQL",
                    col.name
                ),
                format!(
                    "Wesley always quotes it; hand-written SQL must write `\"{}\"` too",
                    col.name
                ),
            );
        }
        col_pos.insert(col.name.clone(), (p(f.position), f.name.to_string()));
        field_cols.insert(f.name.to_string(), col.name.clone());
        table.columns.push(col);
    }

    // Field-level keys, constraints and indexes.
    let mut field_pk_name: Option<String> = None;
    for f in &o.fields {
        let Some(col_name) = field_cols.get(f.name).cloned() else {
            continue;
        };
        for d in &f.directives {
            match canonical_directive(d.name) {
                Some(K::Pk) => {
                    field_level_only(cx, d);
                    pk_fields.push(col_name.clone());
                    pk_pos.get_or_insert(p(d.position));
                    if arg(d, &["name"]).is_some() {
                        field_pk_name = Some(explicit_name(cx, d, "primary key", String::new));
                    }
                }
                Some(K::Unique) => {
                    field_level_only(cx, d);
                    let cname = explicit_name(cx, d, "constraint", || {
                        derived_name(&name, &[&col_name], "key")
                    });
                    table.uniques.push(Unique {
                        name: cname,
                        columns: vec![col_name.clone()],
                        nulls_not_distinct: nulls_not_distinct(cx, d),
                    });
                }
                Some(K::Index) => {
                    field_level_only(cx, d);
                    if indexes::refuse_on_field(cx, d, f.name) {
                        continue;
                    }
                    let key = vec![IndexKey::Column(col_name.clone())];
                    if let Some(idx) = index_from(cx, d, &name, key) {
                        table.indexes.push(idx);
                    }
                }
                Some(K::Check) => {
                    if let Some(c) = check_from(cx, d, &name, Some(&col_name)) {
                        table.checks.push(c);
                    }
                }
                Some(K::Fk) => {
                    if arg(d, &["columns", "fields"]).is_some() {
                        cx.err(
                            Code::E0040,
                            p(d.position),
                            format!("`@{}` on field `{}` takes no `columns:`", d.name, f.name),
                            "a foreign key over several columns goes on the type: `@wes_fk(columns: [...], ref: \"Type\", refColumns: [...])`",
                        );
                    } else {
                        fks.push((vec![col_name.clone()], d));
                    }
                }
                _ => {}
            }
        }
    }

    // Type-level directives.
    let mut type_pk: Option<(Vec<String>, Pos, Option<String>)> = None;
    let mut rls: Option<&Dir<'_>> = None;
    let mut tenant: Option<&Dir<'_>> = None;
    let mut owner: Option<&Dir<'_>> = None;
    for d in &o.directives {
        let Some(k) = usable_directive(cx, d, canonical_directive(d.name), Site::Type) else {
            continue;
        };
        match k {
            K::Pk => {
                if let Some(cols) = columns_arg(cx, d, &field_cols, o.name, true) {
                    let pk_name = arg(d, &["name"])
                        .is_some()
                        .then(|| explicit_name(cx, d, "primary key", String::new));
                    type_pk = Some((cols, p(d.position), pk_name));
                }
            }
            K::Unique => {
                if let Some(cols) = columns_arg(cx, d, &field_cols, o.name, true) {
                    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
                    let cname =
                        explicit_name(cx, d, "constraint", || derived_name(&name, &refs, "key"));
                    table.uniques.push(Unique {
                        name: cname,
                        columns: cols,
                        nulls_not_distinct: nulls_not_distinct(cx, d),
                    });
                }
            }
            K::Index => {
                if let Some(keys) = indexes::type_keys(cx, d, &table, &field_cols, o.name) {
                    if let Some(idx) = index_from(cx, d, &name, keys) {
                        table.indexes.push(idx);
                    }
                }
            }
            K::Check => {
                if let Some(c) = check_from(cx, d, &name, None) {
                    table.checks.push(c);
                }
            }
            K::Fk => {
                if let Some(cols) = columns_arg(cx, d, &field_cols, o.name, true) {
                    fks.push((cols, d));
                }
            }
            K::Rls => rls = Some(d),
            K::Tenant => tenant = Some(d),
            K::Owner => owner = Some(d),
            K::Uid | K::Sensitive | K::Pii | K::Weight | K::Critical => {
                apply_meta(cx, &mut table.meta, d, k)
            }
            _ => {}
        }
    }

    // Primary key.
    match (type_pk, pk_fields.is_empty()) {
        (Some((_, pos, _)), false) => cx.err(
            Code::E0030,
            pos,
            format!(
                "`{}` declares its primary key both on the type and on fields",
                o.name
            ),
            "keep one: `@wes_pk` on each key field, or `@wes_pk(columns: [...])` on the type",
        ),
        (Some((cols, pos, pk_name)), true) => {
            table.primary_key = Some(make_pk(cx, &mut table, cols, pos, pk_name))
        }
        (None, false) => {
            table.primary_key = Some(make_pk(
                cx,
                &mut table,
                pk_fields,
                pk_pos.unwrap_or_default(),
                field_pk_name.clone().filter(|n| !n.is_empty()),
            ))
        }
        (None, true) => cx.warn(
            Code::W0102,
            p(o.position),
            format!("table `{name}` has no primary key"),
            "mark its key field with `@wes_pk`; plans need a key to backfill in batches",
        ),
    }

    // Redundant indexes.
    let keyed: Vec<Vec<String>> = table
        .primary_key
        .iter()
        .map(|k| k.columns.clone())
        .chain(table.uniques.iter().map(|u| u.columns.clone()))
        .collect();
    for idx in &table.indexes {
        let Some(cols) = idx.plain_columns() else {
            continue;
        };
        if idx.predicate.is_none() && idx.method == IndexMethod::Btree && keyed.contains(&cols) {
            let pos = o
                .fields
                .iter()
                .find(|f| field_cols.get(f.name) == cols.first())
                .map(|f| p(f.position))
                .unwrap_or(p(o.position));
            cx.warn(Code::W0103, pos, format!("index `{}` duplicates the index of a primary key or unique constraint on the same columns", idx.name), "remove `@wes_index`: the constraint's index already serves these lookups");
        }
    }

    super::generated::check_table(cx, o, &table);
    rls::lower_rls(cx, &mut table, o, rls, tenant, owner, &field_cols);
    Draft {
        obj: o,
        table,
        field_cols,
        fks,
    }
}

/// The primary key on `cols` (nullable ones reported at `pos`, duplicates dropped), named
/// `name` or `<table>_pkey`.
fn make_pk(
    cx: &mut Ctx<'_>,
    table: &mut Table,
    cols: Vec<String>,
    pos: Pos,
    name: Option<String>,
) -> PrimaryKey {
    for c in &cols {
        if let Some(col) = table.columns.iter().find(|x| &x.name == c) {
            if col.nullable {
                cx.err(
                    Code::E0030,
                    pos,
                    format!("primary key column `{c}` is nullable"),
                    format!("make field `{}` non-null with `!`", col.graphql_name),
                );
            }
        }
    }
    let mut seen = BTreeSet::new();
    let cols: Vec<String> = cols
        .into_iter()
        .filter(|c| seen.insert(c.clone()))
        .collect();
    PrimaryKey {
        name: name.unwrap_or_else(|| naming::fit(&format!("{}_pkey", table.name))),
        columns: cols,
    }
}

/// `nullsNotDistinct: true` on `@wes_unique` or `@wes_index`: NULLs conflict like other
/// values (`NULLS NOT DISTINCT`, PostgreSQL 15+).
fn nulls_not_distinct(cx: &mut Ctx<'_>, d: &Dir<'_>) -> bool {
    bool_arg(cx, d, &["nullsNotDistinct"]).unwrap_or(false)
}

/// An index from `@wes_index` on `keys` of `table`: method, uniqueness, nulls-distinctness,
/// predicate and name. A derived name joins the keys: a column by its name, an expression
/// by its words (`lower(email)` → `lower_email`).
fn index_from(cx: &mut Ctx<'_>, d: &Dir<'_>, table: &str, keys: Vec<IndexKey>) -> Option<Index> {
    let method = match str_arg(cx, d, &["using"]) {
        None => IndexMethod::Btree,
        Some(m) => match IndexMethod::parse(&m) {
            Some(m) => m,
            None => {
                let pos = locate::arg_value(cx.src, p(d.position), "using");
                cx.err(
                    Code::E0040,
                    pos,
                    format!("unknown index method `{m}`"),
                    "use one of: btree, hash, gin, gist, brin",
                );
                return None;
            }
        },
    };
    let unique = bool_arg(cx, d, &["unique"]).unwrap_or(false);
    if unique && method != IndexMethod::Btree {
        cx.err(
            Code::E0040,
            p(d.position),
            format!("a unique index must use btree, not {}", method.sql()),
            "remove `using:` or `unique:`",
        );
        return None;
    }
    let nulls_not_distinct = nulls_not_distinct(cx, d);
    if nulls_not_distinct && !unique {
        let pos = locate::arg_value(cx.src, p(d.position), "nullsNotDistinct");
        cx.err(
            Code::E0040,
            pos,
            "`nullsNotDistinct:` applies to unique indexes only",
            "add `unique: true`, or remove `nullsNotDistinct:`",
        );
        return None;
    }
    if method == IndexMethod::Hash && keys.len() > 1 {
        cx.err(
            Code::E0040,
            p(d.position),
            "hash indexes cover a single column",
            "use btree for several columns",
        );
        return None;
    }
    let predicate = match str_arg(cx, d, &["where"]) {
        Some(w) => {
            cx.sql_fragment(d, "where", &w, false, "an index predicate")?;
            Some(w.trim().to_string())
        }
        None => None,
    };
    let parts: Vec<String> = keys
        .iter()
        .map(|k| match k {
            IndexKey::Column(c) => c.clone(),
            IndexKey::Expr { expr } => crate::expr::name_words(expr),
        })
        .collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let name = match str_arg(cx, d, &["name"]) {
        Some(n) => {
            if !cx.check_ident(&n, "index", p(d.position)) {
                return None;
            }
            n
        }
        None => derived_name(table, &refs, "idx"),
    };
    Some(Index {
        name,
        keys,
        method,
        unique,
        nulls_not_distinct,
        predicate,
    })
}

/// A check constraint from `@wes_check(expr:)`, on column `col` when it stands on a field.
fn check_from(cx: &mut Ctx<'_>, d: &Dir<'_>, table: &str, col: Option<&str>) -> Option<Check> {
    let Some(e) = str_arg(cx, d, &["expr"]) else {
        if arg(d, &["expr"]).is_none() {
            cx.err(
                Code::E0040,
                p(d.position),
                format!("`@{}` needs `expr:`", d.name),
                "write `@wes_check(expr: \"price >= 0\")`",
            );
        }
        return None;
    };
    cx.sql_fragment(d, "expr", &e, false, "a check constraint")?;
    let name = match str_arg(cx, d, &["name"]) {
        Some(n) => {
            if !cx.check_ident(&n, "constraint", p(d.position)) {
                return None;
            }
            n
        }
        None => match col {
            Some(c) => derived_name(table, &[c], "check"),
            None => derived_name(table, &[&naming::short_hash(e.trim())], "check"),
        },
    };
    Some(Check {
        name,
        expr: e.trim().to_string(),
    })
}
