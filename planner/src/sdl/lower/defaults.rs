//! Defaults: `@wes_default(value:)` checked against the column's type (E0041), null
//! defaults of non-null fields (E0042), and `@wes_default(expr:)` as a checked SQL
//! fragment. A `value:` string that names a function (`now()`) becomes an expression.

use super::arguments::str_arg;
use super::{p, Ctx, Fld};
use crate::diag::{Code, Pos};
use crate::model::*;
use crate::sdl::directives::{arg, kind_of, Dir};
use crate::sdl::locate;
use crate::sql;
use crate::types::{BaseType, SqlType};
use graphql_parser::schema::{EnumType, Value};

/// SQL functions and keywords that a `@wes_default(value: "...")` string means as an
/// expression rather than as a string literal (compared case-insensitively).
pub const VALUE_EXPRESSIONS: &[&str] = &[
    "now()",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "transaction_timestamp()",
    "statement_timestamp()",
    "clock_timestamp()",
    "gen_random_uuid()",
    "uuid_generate_v4()",
    "current_user",
    "session_user",
];

/// The default `@wes_default` directive `d` gives a column of type `ty` (of field
/// `field`); `None` when it gives none (a null default) or is wrong (reported).
pub(super) fn default_from(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    ty: &SqlType,
    nullable: bool,
    field: &str,
) -> Option<Default> {
    let value = arg(d, &["value"]);
    let exprv = arg(d, &["expr"]);
    let vpos = |cx: &Ctx<'_>, n: &str| locate::arg_value(cx.src, p(d.position), n);
    if value.is_some() && exprv.is_some() {
        cx.err(
            Code::E0040,
            p(d.position),
            "`@wes_default` takes either `value:` or `expr:`, not both",
            "keep one of them",
        );
        return None;
    }
    if exprv.is_some() {
        let e = str_arg(cx, d, &["expr"])?;
        cx.sql_fragment(d, "expr", &e, false, "a default expression")?;
        let e = e.trim().to_string();
        if e.eq_ignore_ascii_case("null") {
            if !nullable {
                cx.err(
                    Code::E0042,
                    vpos(cx, "expr"),
                    format!("field `{field}` is non-null but its default is null"),
                    "remove the default, or make the field nullable",
                );
            }
            return None;
        }
        return Some(Default::Expr(e));
    }
    let Some((_, v)) = value else {
        cx.err(
            Code::E0040,
            p(d.position),
            "`@wes_default` needs `value:` or `expr:`",
            "write `@wes_default(value: 0)` or `@wes_default(expr: \"now()\")`",
        );
        return None;
    };
    let mismatch = |cx: &mut Ctx<'_>, what: &str| {
        cx.err(
            Code::E0041,
            vpos(cx, "value"),
            format!("default {what} does not fit column type `{ty}` of field `{field}`"),
            "give a value of the column's type, or an SQL expression with `expr:`",
        );
    };
    if ty.array {
        return match v {
            Value::String(s) => Some(Default::Literal(sql::literal(s))),
            Value::Null => {
                if !nullable {
                    cx.err(
                        Code::E0042,
                        vpos(cx, "value"),
                        format!("field `{field}` is non-null but its default is null"),
                        "remove the default, or make the field nullable",
                    );
                }
                None
            }
            _ => {
                mismatch(cx, "value");
                None
            }
        };
    }
    match v {
        Value::Null => {
            if !nullable {
                cx.err(
                    Code::E0042,
                    vpos(cx, "value"),
                    format!("field `{field}` is non-null but its default is null"),
                    "remove the default, or make the field nullable",
                );
            }
            None
        }
        Value::Boolean(b) => {
            if ty.base == BaseType::Boolean {
                Some(Default::Literal(b.to_string()))
            } else if ty.base.is_textual() {
                Some(Default::Literal(sql::literal(&b.to_string())))
            } else {
                mismatch(cx, &format!("`{b}`"));
                None
            }
        }
        Value::Int(n) => {
            let s = n.as_i64().unwrap_or_default().to_string();
            number_default(cx, ty, &s, d, field)
        }
        Value::Float(f) => {
            if ty.base.is_integer() {
                mismatch(cx, &format!("`{f}`"));
                return None;
            }
            // f64 would round long decimals: use the number as written in the source.
            let pos = locate::arg_value(cx.src, p(d.position), "value");
            let raw = raw_number_at(cx.src, pos).unwrap_or_else(|| f.to_string());
            number_default(cx, ty, &raw, d, field)
        }
        Value::Enum(e) => enum_or_string_default(cx, ty, e, d, field),
        Value::String(s) => {
            let trimmed = s.trim();
            if VALUE_EXPRESSIONS
                .iter()
                .any(|k| k.eq_ignore_ascii_case(trimmed))
            {
                let e = trimmed.to_ascii_lowercase();
                if !value_expression_fits(&e, &ty.base) {
                    mismatch(cx, &format!("`{s}`"));
                    return None;
                }
                return Some(Default::Expr(e));
            }
            let is_time = matches!(
                ty.base,
                BaseType::Timestamp { .. }
                    | BaseType::TimestampTz { .. }
                    | BaseType::Date
                    | BaseType::Time { .. }
                    | BaseType::TimeTz { .. }
            );
            if is_time
                && matches!(
                    trimmed.to_ascii_lowercase().as_str(),
                    "now" | "today" | "tomorrow" | "yesterday"
                )
            {
                cx.err(
                    Code::E0041,
                    vpos(cx, "value"),
                    format!("default `{s}` of field `{field}` would be evaluated once, when the table is created, and then stay fixed"),
                    "write `@wes_default(expr: \"now()\")` to get the time of each insert",
                );
                return None;
            }
            if ty.base.is_numeric() {
                return number_default(cx, ty, trimmed, d, field);
            }
            if ty.base == BaseType::Boolean {
                return match trimmed.to_ascii_lowercase().as_str() {
                    "true" => Some(Default::Literal("true".into())),
                    "false" => Some(Default::Literal("false".into())),
                    _ => {
                        mismatch(cx, &format!("`{s}`"));
                        None
                    }
                };
            }
            enum_or_string_default(cx, ty, s, d, field)
        }
        other => {
            mismatch(cx, kind_of(other));
            None
        }
    }
}

/// Whether a `value:` string that names an SQL function can produce the column's type.
fn value_expression_fits(e: &str, base: &BaseType) -> bool {
    let time = matches!(
        base,
        BaseType::Timestamp { .. }
            | BaseType::TimestampTz { .. }
            | BaseType::Date
            | BaseType::Time { .. }
            | BaseType::TimeTz { .. }
    );
    match e {
        "gen_random_uuid()" | "uuid_generate_v4()" => {
            matches!(base, BaseType::Uuid) || base.is_textual()
        }
        "current_user" | "session_user" => base.is_textual(),
        _ => time || base.is_textual(),
    }
}

/// The number literal starting at `pos` in the source, as written.
fn raw_number_at(src: &locate::Source<'_>, pos: Pos) -> Option<String> {
    let line = src.line(pos.line)?;
    let rest: String = line.chars().skip(pos.column.checked_sub(1)?).collect();
    let num: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        .collect();
    (!num.is_empty() && num.parse::<f64>().is_ok()).then_some(num)
}

fn number_default(
    cx: &mut Ctx<'_>,
    ty: &SqlType,
    s: &str,
    d: &Dir<'_>,
    field: &str,
) -> Option<Default> {
    if ty.base.is_textual() {
        return Some(Default::Literal(sql::literal(s)));
    }
    if !ty.base.is_numeric() {
        let pos = locate::arg_value(cx.src, p(d.position), "value");
        cx.err(
            Code::E0041,
            pos,
            format!("default `{s}` does not fit column type `{ty}` of field `{field}`"),
            "give a value of the column's type, or an SQL expression with `expr:`",
        );
        return None;
    }
    let valid = if ty.base.is_integer() {
        s.parse::<i64>().is_ok()
    } else {
        ty.base.is_numeric() && s.parse::<f64>().is_ok_and(f64::is_finite)
    };
    if !valid {
        let pos = locate::arg_value(cx.src, p(d.position), "value");
        cx.err(
            Code::E0041,
            pos,
            format!("default `{s}` does not fit column type `{ty}` of field `{field}`"),
            "give a number of the column's type, or an SQL expression with `expr:`",
        );
        return None;
    }
    Some(Default::Literal(s.to_string()))
}

fn enum_or_string_default(
    cx: &mut Ctx<'_>,
    ty: &SqlType,
    s: &str,
    d: &Dir<'_>,
    field: &str,
) -> Option<Default> {
    match &ty.base {
        BaseType::Enum { .. } => {
            // Enum values are validated against the enum when the schema is assembled.
            Some(Default::Literal(sql::literal(s)))
        }
        b if b.is_numeric() || *b == BaseType::Boolean => {
            let pos = locate::arg_value(cx.src, p(d.position), "value");
            cx.err(
                Code::E0041,
                pos,
                format!("default `{s}` does not fit column type `{ty}` of field `{field}`"),
                "give a value of the column's type",
            );
            None
        }
        _ => Some(Default::Literal(sql::literal(s))),
    }
}

/// A literal default of an enum column (field `f` of enum type `e`) must be one of the
/// enum's values; `None` (reported) when it is not.
pub(super) fn enum_default<'e>(
    cx: &mut Ctx<'_>,
    f: &Fld<'_>,
    e: &EnumType<'e, &'e str>,
    default: Option<Default>,
) -> Option<Default> {
    let Some(Default::Literal(lit)) = &default else {
        return default;
    };
    let v = lit.trim_matches('\'').replace("''", "'");
    if !e.values.iter().any(|x| x.name == v) {
        let names: Vec<&str> = e.values.iter().map(|x| x.name).collect();
        cx.err(
            Code::E0041,
            p(f.position),
            format!(
                "default `{v}` of field `{}` is not a value of enum `{}`",
                f.name, e.name
            ),
            format!("use one of: {}", names.join(", ")),
        );
        return None;
    }
    default
}
