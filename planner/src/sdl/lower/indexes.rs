//! The keys of `@wes_index` on a type: `columns:` (columns only), `expr:` (one SQL
//! expression) or `keys:` (columns and expressions, in order). In `keys:`, an item that is
//! one identifier (`"tenantId"`, `"tenant_id"`, `"\"Tenant\""`, also in parentheses) is a
//! column, named like in `columns:`, and an unknown one is E0031, never an expression;
//! every other item is an expression. Expressions are checked SQL fragments (E0050, E0051)
//! that may only mention columns of the table, by their SQL names, and carry no ordering,
//! collation or operator class (E0044).

use super::arguments::{columns_arg, resolve_column, str_arg, string_list_arg};
use super::{p, Ctx};
use crate::diag::{Code, Pos};
use crate::expr;
use crate::model::{IndexKey, Table};
use crate::sdl::directives::{arg, Dir};
use crate::sdl::locate;
use std::collections::BTreeMap;

/// The keys of `@wes_index` on the type `type_name` of table `t`, or `None` after
/// reporting why there are none.
pub(super) fn type_keys(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    t: &Table,
    field_cols: &BTreeMap<String, String>,
    type_name: &str,
) -> Option<Vec<IndexKey>> {
    let forms: Vec<&str> = ["columns", "expr", "keys"]
        .into_iter()
        .filter(|n| {
            let names: &[&str] = if *n == "columns" {
                &["columns", "fields"]
            } else {
                std::slice::from_ref(n)
            };
            arg(d, names).is_some()
        })
        .collect();
    if forms.len() > 1 {
        let pos = locate::arg_value(cx.src, p(d.position), forms[1]);
        cx.err(
            Code::E0044,
            pos,
            format!(
                "`@{}` takes one of `columns:`, `expr:` or `keys:`, not {}",
                d.name,
                forms
                    .iter()
                    .map(|f| format!("`{f}:`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            "list columns and expressions together, in order: `keys: [\"tenantId\", \"lower(email)\"]`",
        );
        return None;
    }
    match forms.first() {
        Some(&"expr") => {
            let text = str_arg(cx, d, &["expr"])?;
            let at = |cx: &Ctx<'_>, off: usize| {
                locate::in_string(cx.src, p(d.position), "expr", &text, off)
            };
            if let Some(col) = expr::lone_identifier(&text) {
                cx.err(
                    Code::E0044,
                    at(cx, 0),
                    format!("`expr: \"{}\"` is only the column `{col}`: PostgreSQL indexes it as the column, not as an expression", text.trim()),
                    "index the column with `columns: [...]`, or list it in `keys: [...]`",
                );
                return None;
            }
            expression(cx, &text, t, field_cols, &at).map(|k| vec![k])
        }
        Some(&"keys") => {
            let items = string_list_arg(cx, d, &["keys"])?;
            if items.is_empty() {
                let pos = locate::arg_value(cx.src, p(d.position), "keys");
                cx.err(
                    Code::E0044,
                    pos,
                    format!("`@{}(keys: [])` names no keys", d.name),
                    "list at least one column or expression",
                );
                return None;
            }
            let mut keys = Vec::with_capacity(items.len());
            let mut ok = true;
            for (n, item) in items.iter().enumerate() {
                let at = |cx: &Ctx<'_>, off: usize| {
                    locate::in_list_item(cx.src, p(d.position), "keys", n, item, off)
                };
                match key_item(cx, item, t, field_cols, type_name, &at) {
                    Some(k) => keys.push(k),
                    None => ok = false,
                }
            }
            ok.then_some(keys)
        }
        _ => columns_arg(cx, d, field_cols, type_name, true)
            .map(|cols| cols.into_iter().map(IndexKey::Column).collect()),
    }
}

/// `expr:` or `keys:` on a field: an expression index belongs to the type (E0044).
pub(super) fn refuse_on_field(cx: &mut Ctx<'_>, d: &Dir<'_>, field: &str) -> bool {
    let Some((n, _)) = arg(d, &["expr", "keys"]) else {
        return false;
    };
    let pos = locate::arg_value(cx.src, p(d.position), n);
    cx.err(
        Code::E0044,
        pos,
        format!("`{n}:` on field `{field}`: an expression index goes on the type"),
        format!(
            "move it to the type: `@{}({n}: ...)` after `@wes_table`",
            d.name
        ),
    );
    true
}

/// One item of `keys:`: a column when it is one identifier, else an expression.
fn key_item(
    cx: &mut Ctx<'_>,
    item: &str,
    t: &Table,
    field_cols: &BTreeMap<String, String>,
    type_name: &str,
    at: &dyn Fn(&Ctx<'_>, usize) -> Pos,
) -> Option<IndexKey> {
    let bare = item.trim();
    let plain = bare
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && bare
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    let column = if plain {
        Some(resolve_column(field_cols, bare).ok_or_else(|| bare.to_string()))
    } else {
        expr::lone_identifier(bare).map(|c| t.column(&c).map(|col| col.name.clone()).ok_or(c))
    };
    match column {
        Some(Ok(c)) => Some(IndexKey::Column(c)),
        Some(Err(name)) => {
            let known: Vec<&str> = field_cols.keys().map(String::as_str).collect();
            cx.err(
                Code::E0031,
                at(cx, 0),
                format!("`{type_name}` has no field or column `{name}`"),
                format!(
                    "use one of: {} (an item of `keys:` that is one name is a column; write an expression for anything else)",
                    known.join(", ")
                ),
            );
            None
        }
        None => expression(cx, item, t, field_cols, at),
    }
}

/// An expression key, checked: a safe fragment without subquery, ordering or collation,
/// mentioning only columns of `t`.
fn expression(
    cx: &mut Ctx<'_>,
    text: &str,
    t: &Table,
    field_cols: &BTreeMap<String, String>,
    at: &dyn Fn(&Ctx<'_>, usize) -> Pos,
) -> Option<IndexKey> {
    match expr::check(text) {
        Err(e) => {
            let pos = at(cx, e.offset);
            cx.err(
                Code::E0050,
                pos,
                format!("unsafe SQL in an index expression: {}", e.message),
                e.help,
            );
            return None;
        }
        Ok(info) if info.has_subquery => {
            let pos = at(cx, 0);
            cx.err(
                Code::E0051,
                pos,
                "an index expression cannot contain a subquery (`SELECT`)",
                "PostgreSQL allows subqueries only in policies; compute the value another way",
            );
            return None;
        }
        Ok(_) => {}
    }
    let mut ok = true;
    if let Some((w, off)) = expr::index_key_option(text) {
        let pos = at(cx, off);
        cx.err(
            Code::E0044,
            pos,
            format!("`{}` in index expression `{}`: the ordering, collation and operator class of an index key are not in the dialect", w.to_uppercase(), text.trim()),
            "write the expression only",
        );
        ok = false;
    }
    for (w, off) in expr::column_refs(text) {
        if t.column(&w).is_some() {
            continue;
        }
        let field = field_cols
            .iter()
            .find(|(f, _)| f.to_lowercase() == w)
            .map(|(_, c)| c.clone());
        let help = match field {
            Some(c) => format!("expressions use SQL column names: write `{c}`"),
            None => format!(
                "an index expression may use the columns of `{}`: {}",
                t.name,
                t.columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let pos = at(cx, off);
        cx.err(
            Code::E0044,
            pos,
            format!(
                "index expression `{}` mentions `{w}`, which is not a column of `{}`",
                text.trim(),
                t.name
            ),
            help,
        );
        ok = false;
    }
    ok.then(|| IndexKey::Expr {
        expr: text.trim().to_string(),
    })
}
