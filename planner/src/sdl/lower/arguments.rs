//! What a directive may say: where each directive may stand, which arguments it accepts,
//! and typed accessors that read an argument and report a value of the wrong kind
//! (E0040), a bad `@wes_type` (E0021), an unknown column in `columns:` (E0031) or an
//! unsafe SQL fragment (E0050, E0051). A new directive's arguments are listed here, in
//! [`known_args`], and its placement in [`on_object`]/[`on_field`].

use super::{p, Ctx};
use crate::diag::Code;
use crate::expr;
use crate::model::Meta;
use crate::sdl::directives::{arg, kind_of, Dir, DirectiveKind as K, Val};
use crate::sdl::locate;
use crate::types::{self, SqlType};
use graphql_parser::schema::Value;
use std::collections::BTreeMap;

impl Ctx<'_> {
    /// Validates an SQL fragment given as argument `arg_name` of directive `d`.
    pub(super) fn sql_fragment(
        &mut self,
        d: &Dir<'_>,
        arg_name: &str,
        text: &str,
        allow_subquery: bool,
        what: &str,
    ) -> Option<expr::ExprInfo> {
        match expr::check(text) {
            Ok(info) => {
                if info.has_subquery && !allow_subquery {
                    let pos = locate::arg_value(self.src, p(d.position), arg_name);
                    self.err(Code::E0051, pos, format!("{what} cannot contain a subquery (`SELECT`)"), "PostgreSQL allows subqueries only in policies; compute the value another way");
                    return None;
                }
                Some(info)
            }
            Err(e) => {
                let pos = locate::in_string(self.src, p(d.position), arg_name, text, e.offset);
                self.err(
                    Code::E0050,
                    pos,
                    format!("unsafe SQL in {what}: {}", e.message),
                    e.help,
                );
                None
            }
        }
    }
}

/// An explicit `name:` argument checked against PostgreSQL's identifier limit, or the
/// derived name.
pub(super) fn explicit_name(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    what: &str,
    derived: impl FnOnce() -> String,
) -> String {
    match str_arg(cx, d, &["name"]) {
        Some(n) => {
            let pos = locate::arg_value(cx.src, p(d.position), "name");
            cx.check_ident(&n, what, pos);
            n
        }
        None => derived(),
    }
}

/// Warns about arguments that only mean something on the type-level form.
pub(super) fn field_level_only(cx: &mut Ctx<'_>, d: &Dir<'_>) {
    if let Some((n, _)) = arg(d, &["columns", "fields"]) {
        let pos = locate::arg_value(cx.src, p(d.position), n);
        cx.warn(
            Code::W0104,
            pos,
            format!(
                "`{n}:` is ignored on a field: `@{}` applies to this field's column",
                d.name
            ),
            format!(
                "put `@{}({n}: [...])` on the type to cover several columns",
                d.name
            ),
        );
    }
}

/// Where a directive stands: on a type, or on one of its fields.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Site {
    Type,
    Field,
}

/// The directive's kind when it is known and meaningful where it stands (its arguments
/// checked); otherwise a warning and `None`.
pub(super) fn usable_directive(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    kind: Option<K>,
    site: Site,
) -> Option<K> {
    let Some(k) = kind else {
        cx.warn(
            Code::W0100,
            p(d.position),
            format!("unknown directive `@{}` is ignored", d.name),
            "check the spelling; Wesley's directives are listed in docs/dialect.md",
        );
        return None;
    };
    check_args(cx, d, k);
    let (fits, here, there) = match (site, k) {
        (_, K::Extensions) => (false, "a type or field", "the `schema` definition"),
        (Site::Type, _) => (on_object(k), "a type", "a field"),
        (Site::Field, _) => (on_field(k), "a field", "the type"),
    };
    if !fits {
        cx.warn(
            Code::W0104,
            p(d.position),
            format!("`@{}` has no meaning on {here} and is ignored", d.name),
            format!("put it on {there}"),
        );
        return None;
    }
    Some(k)
}

/// Arguments each directive accepts (others get a warning, to catch typos).
fn known_args(k: K) -> &'static [&'static str] {
    match k {
        K::Table => &["name", "schema"],
        K::Column => &["name"],
        K::Type => &["sql"],
        K::Pk => &["columns", "fields", "name"],
        K::Unique => &["columns", "fields", "name", "nullsNotDistinct"],
        K::Fk => &[
            "ref",
            "columns",
            "fields",
            "refColumns",
            "onDelete",
            "onUpdate",
            "on_delete",
            "on_update",
            "name",
        ],
        K::Index => &[
            "columns",
            "fields",
            "expr",
            "keys",
            "name",
            "using",
            "where",
            "unique",
            "nullsNotDistinct",
        ],
        K::Check => &["expr", "name"],
        K::Default => &["value", "expr"],
        K::Convert => &["from", "using"],
        K::Identity => &["generated", "start", "increment"],
        K::Serial => &["sequence"],
        K::Generated => &["expr"],
        K::Rls => &[
            "enabled",
            "select",
            "insert",
            "update",
            "delete",
            "using",
            "check",
            "roles",
            "selectRoles",
            "insertRoles",
            "updateRoles",
            "deleteRoles",
            "name",
        ],
        K::Tenant => &["by", "column", "setting"],
        K::Owner => &["column", "by", "setting"],
        K::Uid => &["value", "id"],
        K::Weight => &["value"],
        K::Sensitive | K::Pii | K::Critical => &[],
        K::HasMany | K::HasOne | K::BelongsTo => {
            &["type", "field", "via", "ref", "foreignKey", "by"]
        }
        K::Extensions => &["names"],
    }
}

fn on_object(k: K) -> bool {
    matches!(
        k,
        K::Table
            | K::Fk
            | K::Pk
            | K::Unique
            | K::Index
            | K::Check
            | K::Rls
            | K::Tenant
            | K::Owner
            | K::Uid
            | K::Sensitive
            | K::Pii
            | K::Weight
            | K::Critical
    )
}

fn on_field(k: K) -> bool {
    !matches!(k, K::Table | K::Rls | K::Tenant | K::Owner | K::Extensions)
}

/// Directives whose arguments decide what the database enforces: an argument Wesley does
/// not know there (`nullsDistinct:`, `deferrable:`, ...) is an option it cannot honour, so
/// an error (E0043), never a weaker constraint generated with a warning.
fn shapes_constraints(k: K) -> bool {
    matches!(k, K::Pk | K::Unique | K::Fk | K::Index | K::Check)
}

/// Reports each argument of `d` that its directive does not accept: an error on a key,
/// constraint or index (E0043), else a warning (W0104).
pub(super) fn check_args(cx: &mut Ctx<'_>, d: &Dir<'_>, k: K) {
    let known = known_args(k);
    let accepts = format!(
        "`@{}` accepts: {}",
        d.name,
        if known.is_empty() {
            "no arguments".to_string()
        } else {
            known.join(", ")
        }
    );
    for (n, _) in &d.arguments {
        if known.contains(n) {
            continue;
        }
        let pos = locate::arg_value(cx.src, p(d.position), n);
        if shapes_constraints(k) {
            cx.err(
                Code::E0043,
                pos,
                format!(
                    "argument `{n}` of `@{}` is not known: Wesley cannot honour it",
                    d.name
                ),
                format!("{accepts}; remove `{n}:` or spell it as one of them"),
            );
        } else {
            cx.warn(
                Code::W0104,
                pos,
                format!(
                    "argument `{n}` of `@{}` is not known and is ignored",
                    d.name
                ),
                accepts.clone(),
            );
        }
    }
}

/// Metadata directives (`@wes_uid`, `@wes_sensitive`, `@wes_pii`, `@wes_critical`,
/// `@wes_weight`) only set their flag or value in `meta`.
pub(super) fn apply_meta(cx: &mut Ctx<'_>, meta: &mut Meta, d: &Dir<'_>, k: K) {
    match k {
        K::Uid => meta.uid = str_arg(cx, d, &["value", "id"]),
        K::Sensitive => meta.sensitive = true,
        K::Pii => meta.pii = true,
        K::Critical => meta.critical = true,
        K::Weight => match arg(d, &["value"]) {
            Some((_, Value::Int(n))) => meta.weight = n.as_i64(),
            Some((n, v)) => {
                let pos = locate::arg_value(cx.src, p(d.position), n);
                cx.err(
                    Code::E0040,
                    pos,
                    format!(
                        "`@{}(value:)` takes a whole number, not {}",
                        d.name,
                        kind_of(v)
                    ),
                    "write e.g. `@wes_weight(value: 5)`",
                );
            }
            None => {}
        },
        _ => {}
    }
}

/// A string argument; reports a wrong kind of value.
pub(super) fn str_arg(cx: &mut Ctx<'_>, d: &Dir<'_>, names: &[&str]) -> Option<String> {
    match arg(d, names)? {
        (_, Value::String(s)) => Some(s.clone()),
        (n, v) => {
            let pos = locate::arg_value(cx.src, p(d.position), n);
            cx.err(
                Code::E0040,
                pos,
                format!(
                    "argument `{n}` of `@{}` must be a string, not {}",
                    d.name,
                    kind_of(v)
                ),
                format!("write `{n}: \"...\"`"),
            );
            None
        }
    }
}

/// A boolean argument; reports a wrong kind of value.
pub(super) fn bool_arg(cx: &mut Ctx<'_>, d: &Dir<'_>, names: &[&str]) -> Option<bool> {
    match arg(d, names)? {
        (_, Value::Boolean(b)) => Some(*b),
        (n, v) => {
            let pos = locate::arg_value(cx.src, p(d.position), n);
            cx.err(
                Code::E0040,
                pos,
                format!(
                    "argument `{n}` of `@{}` must be true or false, not {}",
                    d.name,
                    kind_of(v)
                ),
                format!("write `{n}: true` or `{n}: false`"),
            );
            None
        }
    }
}

/// A list of strings (enum values count as strings; one string is a list of one);
/// reports a wrong kind of value.
pub(super) fn string_list_arg(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    names: &[&str],
) -> Option<Vec<String>> {
    let (n, v) = arg(d, names)?;
    let bad = |cx: &mut Ctx<'_>, v: &Val<'_>| {
        let pos = locate::arg_value(cx.src, p(d.position), n);
        cx.err(
            Code::E0040,
            pos,
            format!(
                "argument `{n}` of `@{}` must be a list of strings, not {}",
                d.name,
                kind_of(v)
            ),
            format!("write `{n}: [\"a\", \"b\"]`"),
        );
    };
    match v {
        Value::List(items) => {
            let mut out = Vec::new();
            for it in items {
                match it {
                    Value::String(s) => out.push(s.clone()),
                    Value::Enum(s) => out.push(s.to_string()),
                    other => {
                        bad(cx, other);
                        return None;
                    }
                }
            }
            Some(out)
        }
        Value::String(s) => Some(vec![s.clone()]),
        other => {
            bad(cx, other);
            None
        }
    }
}

/// The PostgreSQL type of `@wes_type(sql:)`; reports one Wesley does not know (E0021).
pub(super) fn sql_type_arg(cx: &mut Ctx<'_>, d: &Dir<'_>) -> Option<SqlType> {
    let text = str_arg(cx, d, &["sql"])?;
    match types::parse_sql_type(&text) {
        Ok(t) => Some(t),
        Err(why) => {
            let pos = locate::arg_value(cx.src, p(d.position), "sql");
            cx.err(
                Code::E0021,
                pos,
                format!("invalid `@wes_type`: {why}"),
                format!("use one of: {}", types::KNOWN_SQL_TYPES),
            );
            None
        }
    }
}

/// Resolves a `columns:`/`fields:` argument: each entry may be a field or a column name.
pub(super) fn columns_arg(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    field_cols: &BTreeMap<String, String>,
    type_name: &str,
    required: bool,
) -> Option<Vec<String>> {
    let Some(list) = string_list_arg(cx, d, &["columns", "fields"]) else {
        if required && arg(d, &["columns", "fields"]).is_none() {
            cx.err(
                Code::E0040,
                p(d.position),
                format!("`@{}` on a type needs `columns: [...]`", d.name),
                format!("write `@{}(columns: [\"a\", \"b\"])`", d.name),
            );
        }
        return None;
    };
    if list.is_empty() {
        let pos = locate::arg_value(cx.src, p(d.position), "columns");
        cx.err(
            Code::E0040,
            pos,
            format!("`@{}` names no columns", d.name),
            "list at least one column",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for name in list {
        match resolve_column(field_cols, &name) {
            Some(c) => out.push(c),
            None => {
                ok = false;
                let argname = if arg(d, &["columns"]).is_some() {
                    "columns"
                } else {
                    "fields"
                };
                let pos = locate::arg_value(cx.src, p(d.position), argname);
                let known: Vec<&str> = field_cols.keys().map(String::as_str).collect();
                cx.err(
                    Code::E0031,
                    pos,
                    format!("`{type_name}` has no field or column `{name}`"),
                    format!("use one of: {}", known.join(", ")),
                );
            }
        }
    }
    ok.then_some(out)
}

/// The column a name in `columns:` (or `ref:`, `by:`) means: a field name, or a column
/// name.
pub(super) fn resolve_column(field_cols: &BTreeMap<String, String>, name: &str) -> Option<String> {
    if let Some(c) = field_cols.get(name) {
        return Some(c.clone());
    }
    field_cols.values().find(|c| c.as_str() == name).cloned()
}
