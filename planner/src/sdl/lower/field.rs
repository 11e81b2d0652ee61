//! Fields: a field of a table type becomes a [`Column`], or nothing when it is a relation
//! to another table. Unwraps `!` and `[...]` (E0023 lists of lists), resolves its type
//! (built-in scalars, `@wes_type`, enums, custom scalars; E0020 unknown, E0022 objects
//! that are not tables), reads the column directives (`@wes_column`, `@wes_type`,
//! `@wes_convert`, metadata) and hands `@wes_default` to `defaults`, `@wes_generated` to
//! `generated`.

use super::arguments::{apply_meta, sql_type_arg, str_arg, usable_directive, Site};
use super::definitions::{DefKind, Definitions};
use super::{defaults, p, Ctx, Fld};
use crate::diag::Code;
use crate::model::*;
use crate::naming::{self, snake_case};
use crate::sdl::directives::{arg, canonical_directive, Dir, DirectiveKind as K};
use crate::sdl::locate;
use crate::types::{self, BaseType, SqlType};
use graphql_parser::schema::Type;
use std::collections::BTreeMap;

/// The column of field `f`, or `None` when it has none (a relation, or an error was
/// reported). Enums the column uses are added to `used_enums`.
pub(super) fn lower_field(
    cx: &mut Ctx<'_>,
    table: &str,
    f: &Fld<'_>,
    defs: &Definitions<'_, '_>,
    used_enums: &mut BTreeMap<String, EnumType>,
) -> Option<Column> {
    let (kinds, scalars, enums) = (&defs.kinds, &defs.scalars, &defs.enums);
    let table_names = &defs.table_names;
    // Unwrap `!` and `[...]`.
    let mut nullable = true;
    let mut array = false;
    let mut t = &f.field_type;
    if let Type::NonNullType(inner) = t {
        nullable = false;
        t = inner;
    }
    if let Type::ListType(inner) = t {
        array = true;
        t = inner;
        if let Type::NonNullType(x) = t {
            t = x;
        }
        if let Type::ListType(_) = t {
            cx.err(
                Code::E0023,
                p(f.position),
                format!("field `{}` is a list of lists", f.name),
                "use a single list, or `JSON` for nested data",
            );
            return None;
        }
    }
    let Type::NamedType(type_name) = t else {
        return None;
    };
    let type_name: &str = type_name;

    let kinds_of_dirs: Vec<Option<K>> = f
        .directives
        .iter()
        .map(|d| canonical_directive(d.name))
        .collect();
    let is_relation = kinds_of_dirs
        .iter()
        .any(|k| matches!(k, Some(K::HasMany | K::HasOne | K::BelongsTo)));
    let def_kind = kinds.get(type_name).map(|k| k.0);
    let is_object_like = matches!(
        def_kind,
        Some(DefKind::Object | DefKind::Interface | DefKind::Union | DefKind::Input)
    );
    if is_object_like || table_names.contains_key(type_name) {
        if table_names.contains_key(type_name) || is_relation {
            // A virtual relation: no column. Column directives here would do nothing.
            for d in &f.directives {
                match canonical_directive(d.name) {
                    None => cx.warn(Code::W0100, p(d.position), format!("unknown directive `@{}` is ignored", d.name), "check the spelling; Wesley's directives are listed in docs/dialect.md"),
                    Some(K::HasMany | K::HasOne | K::BelongsTo | K::Uid | K::Sensitive | K::Pii | K::Weight | K::Critical) => {}
                    Some(_) => cx.warn(
                        Code::W0104,
                        p(d.position),
                        format!("`@{}` is ignored on `{}`, a relation field without a column", d.name, f.name),
                        "put it on the scalar field that holds the key (e.g. `authorId: ID! @wes_fk(ref: \"Author.id\")`)",
                    ),
                }
            }
            return None;
        }
        cx.err(Code::E0022, p(f.position), format!("field `{}` has type `{type_name}`, which is neither a table nor a scalar", f.name), format!("add `@wes_table` to `{type_name}`, mark the field as a relation with `@hasMany`/`@hasOne`/`@belongsTo`, or store it as `JSON`"));
        return None;
    }
    if is_relation {
        cx.err(
            Code::E0022,
            p(f.position),
            format!(
                "field `{}` is marked as a relation but has the scalar type `{type_name}`",
                f.name
            ),
            "relations point at table types; remove the relation directive to make it a column",
        );
        return None;
    }

    // Directives on the field.
    let mut col_name = snake_case(f.name);
    let mut explicit_type: Option<SqlType> = None;
    let mut meta = Meta::default();
    let mut convert_dir = None;
    let (mut identity_dir, mut serial_dir, mut generated_dir) = (None, None, None);
    for (d, k) in f.directives.iter().zip(&kinds_of_dirs) {
        let Some(k) = usable_directive(cx, d, *k, Site::Field) else {
            continue;
        };
        match k {
            K::Column => {
                if let Some(n) = str_arg(cx, d, &["name"]) {
                    col_name = n;
                }
            }
            K::Type => explicit_type = sql_type_arg(cx, d),
            K::Convert => convert_dir = Some(d),
            K::Identity => identity_dir = Some(d),
            K::Serial => serial_dir = Some(d),
            K::Generated => generated_dir = Some(d),
            K::Uid | K::Sensitive | K::Pii | K::Weight | K::Critical => {
                apply_meta(cx, &mut meta, d, k)
            }
            _ => {}
        }
    }

    let base: BaseType = if let Some(ty) = &explicit_type {
        ty.base.clone()
    } else if let Some(b) =
        types::builtin_scalar(type_name).filter(|_| def_kind != Some(DefKind::Enum))
    {
        match scalars.get(type_name) {
            Some((Some(custom), _)) => custom.base.clone(),
            _ => b,
        }
    } else if let Some(e) = enums.get(type_name) {
        let sql_name = snake_case(type_name);
        if !cx.check_ident(&sql_name, "enum", p(f.position)) {
            return None;
        }
        if !used_enums.contains_key(type_name) {
            let uids = enum_value_uids(cx, e);
            used_enums.insert(
                type_name.to_string(),
                EnumType {
                    schema: "public".into(),
                    name: sql_name.clone(),
                    graphql_name: type_name.to_string(),
                    values: e.values.iter().map(|v| v.name.to_string()).collect(),
                    uids,
                },
            );
        }
        BaseType::Enum {
            schema: "public".into(),
            name: sql_name,
        }
    } else if let Some((Some(custom), _)) = scalars.get(type_name) {
        if custom.array && array {
            cx.err(
                Code::E0023,
                p(f.position),
                format!(
                    "field `{}` is a list of `{type_name}`, which is already an array type",
                    f.name
                ),
                format!("use `{type_name}` without `[...]`, or give the scalar a non-array type"),
            );
            return None;
        }
        if custom.array {
            array = true;
        }
        custom.base.clone()
    } else {
        let known: Vec<&str> = types::BUILTIN_SCALARS.iter().map(|s| s.0).collect();
        let declared = scalars.get(type_name).map(|s| s.1);
        let help = match declared {
            Some(at) => format!("the scalar is declared at line {} without a PostgreSQL type: write `scalar {type_name} @wes_type(sql: \"...\")`, or use one of {}", at.line, known.join(", ")),
            None => format!("use one of {}, an enum, a `@wes_table` type, or declare `scalar {type_name} @wes_type(sql: \"...\")`", known.join(", ")),
        };
        cx.err(
            Code::E0020,
            p(f.position),
            format!("field `{}` has unknown type `{type_name}`", f.name),
            help,
        );
        return None;
    };
    if explicit_type.as_ref().is_some_and(|t| t.array) {
        array = true;
    }
    let ty = SqlType { base, array };

    // Default.
    let mut default = None;
    for (d, k) in f.directives.iter().zip(&kinds_of_dirs) {
        if *k == Some(K::Default) {
            default = defaults::default_from(cx, d, &ty, nullable, f.name);
        }
    }
    if let (false, Some(e)) = (ty.array, enums.get(type_name)) {
        default = defaults::enum_default(cx, f, e, default);
    }

    let seq = super::identity::lower(
        cx,
        identity_dir,
        serial_dir,
        f.name,
        p(f.position),
        &ty,
        nullable,
        default.is_some(),
    );
    let serial = seq
        .serial
        .map(|name| name.unwrap_or_else(|| naming::pg_object_name(table, &col_name, "seq")));
    let generated = generated_dir.and_then(|d| {
        let others = super::generated::Others {
            default: default.is_some(),
            sequence: identity_dir.is_some() || serial_dir.is_some(),
            convert: convert_dir.is_some(),
        };
        super::generated::from_field(cx, d, f.name, others)
    });
    let convert = convert_dir.and_then(|d| convert_from(cx, d, &col_name));
    let comment = super::description(
        cx,
        &f.description,
        p(f.position),
        &format!("field `{}`", f.name),
    );
    Some(Column {
        name: col_name,
        graphql_name: f.name.to_string(),
        ty,
        nullable,
        default,
        meta,
        convert,
        comment,
        identity: seq.identity,
        serial,
        generated,
    })
}

/// `@wes_convert(from:, using:)`: both required; `using` is a checked SQL fragment.
fn convert_from(cx: &mut Ctx<'_>, d: &Dir<'_>, column: &str) -> Option<Convert> {
    let from = str_arg(cx, d, &["from"]);
    let using = str_arg(cx, d, &["using"]);
    let (Some(from), Some(using)) = (from, using) else {
        if arg(d, &["from"]).is_none() || arg(d, &["using"]).is_none() {
            cx.err(
                Code::E0040,
                p(d.position),
                format!("`@{}` needs both `from:` and `using:`", d.name),
                format!("write `@{}(from: \"<the column's type now>\", using: \"<SQL over {column}>\")`", d.name),
            );
        }
        return None;
    };
    if from.trim().is_empty() {
        let pos = locate::arg_value(cx.src, p(d.position), "from");
        cx.err(
            Code::E0040,
            pos,
            "`from:` is empty",
            "name the type the column has before the change, e.g. `from: \"varchar(40)\"`",
        );
        return None;
    }
    cx.sql_fragment(d, "using", &using, false, "a conversion expression")?;
    Some(Convert { from, using })
}

/// The `@wes_uid` of each value of enum `e` (label → uid). Any other directive has no
/// meaning on an enum value and is reported as ignored (W0104, or W0100 when unknown);
/// two values with one uid are E0063.
fn enum_value_uids<'e>(
    cx: &mut Ctx<'_>,
    e: &graphql_parser::schema::EnumType<'e, &'e str>,
) -> std::collections::BTreeMap<String, String> {
    let mut uids = std::collections::BTreeMap::new();
    let mut seen: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for v in &e.values {
        for d in &v.directives {
            match canonical_directive(d.name) {
                Some(K::Uid) => {
                    let Some(uid) = str_arg(cx, d, &["value", "id"]) else {
                        continue;
                    };
                    if let Some(other) = seen.get(&uid) {
                        cx.err(
                            Code::E0063,
                            p(d.position),
                            format!(
                                "values `{other}` and `{}` of enum `{}` both have `@wes_uid(value: \"{uid}\")`",
                                v.name, e.name
                            ),
                            "give each value its own uid: it is how a renamed value is recognised",
                        );
                        continue;
                    }
                    seen.insert(uid.clone(), v.name.to_string());
                    uids.insert(v.name.to_string(), uid);
                }
                None => cx.warn(
                    Code::W0100,
                    p(d.position),
                    format!("unknown directive `@{}` is ignored", d.name),
                    "check the spelling; Wesley's directives are listed in docs/dialect.md",
                ),
                Some(_) => cx.warn(
                    Code::W0104,
                    p(d.position),
                    format!(
                        "`@{}` has no meaning on enum value `{}` and is ignored",
                        d.name, v.name
                    ),
                    "only `@wes_uid` applies to an enum value (to rename it safely)",
                ),
            }
        }
    }
    uids
}
