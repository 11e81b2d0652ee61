//! Exact value conversions for column type changes that go through a shadow column.
//!
//! PostgreSQL's explicit casts change some values without an error: `::varchar(32)`
//! truncates, `::numeric(10,2)` and `::integer` round, `::real` drops digits, a
//! `timestamptz` becomes a `timestamp` or `date` in whatever time zone the session uses.
//! A shadow-column migration that trusted them would drop the old column, the last full
//! copy, after silently changing data. So every conversion here comes with a test of
//! exactness, chosen per pair of types:
//!
//! * between text types: the text is unchanged (`y::text = x::text`);
//! * between numbers: compared as `numeric`, or as `double precision` when both are
//!   floating point, with floats read through their shortest exact text;
//! * from text into a type with a precision or length: the value equals the value parsed
//!   without the limit (`'1.234'::numeric(10,2)` rounds, so it is not exact);
//! * into a text type with a length: the text of the value is unchanged;
//! * other casts: the round trip back to the old type gives the old value;
//! * enum to enum: through the value's label (PostgreSQL has no enum-to-enum cast).
//!
//! A value whose conversion is not exact, or raises a data exception (SQLSTATE class 22,
//! `data_exception` in PL/pgSQL), converts to NULL; the backfill check then reports the
//! rows whose shadow stayed NULL, and the switch never runs. Any other error (a missing
//! cast, a missing function) is not caught: it fails the step with PostgreSQL's message.
//!
//! Conversions run with fixed settings (`TimeZone` UTC, `DateStyle` `ISO, MDY`,
//! `IntervalStyle` `postgres`, `extra_float_digits` 1: PostgreSQL's defaults, and UTC), so
//! every row converts the same way whichever session writes it. A user who wants a lossy
//! or mapped conversion writes it with `@wes_convert(from:, using:)`; then only data
//! exceptions and non-NULL values that become NULL are reported.

use crate::types::{BaseType, SqlType};

/// Settings every conversion function runs with (PostgreSQL's defaults, and UTC).
pub const SETTINGS: &str =
    "SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET IntervalStyle = 'postgres' SET extra_float_digits = 1";

/// How one element of the old type becomes one element of the new type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementConversion {
    /// SQL expression of the new value in terms of the old element `x`.
    pub expr: String,
    /// SQL condition over `x` and the converted `y` that holds when `y` represents `x`
    /// exactly. `None` when every conversion that succeeds is exact.
    pub exact: Option<String>,
}

fn sql(b: &BaseType) -> String {
    SqlType::scalar(b.clone()).to_sql()
}

fn is_float(b: &BaseType) -> bool {
    matches!(b, BaseType::Real | BaseType::Double)
}

fn is_number(b: &BaseType) -> bool {
    b.is_numeric() || matches!(b, BaseType::Money)
}

/// A text type whose values can be cut short by a cast.
fn bounded_text(b: &BaseType) -> bool {
    matches!(
        b,
        BaseType::Varchar { length: Some(_) } | BaseType::Char { .. }
    )
}

/// For a type with a precision or length modifier: the comparison of `y` with `x` read
/// without the modifier (`x` is text).
fn unbounded_parse(b: &BaseType) -> Option<String> {
    use BaseType::*;
    let base = match b {
        Numeric {
            precision: Some(_), ..
        } => "numeric",
        Time { precision: Some(_) } => "time",
        TimeTz { precision: Some(_) } => "timetz",
        Timestamp { precision: Some(_) } => "timestamp",
        TimestampTz { precision: Some(_) } => "timestamptz",
        Interval { precision: Some(_) } => "interval",
        Bit { .. } | VarBit { length: Some(_) } => return Some("y::varbit = x::varbit".into()),
        _ => return None,
    };
    Some(format!("y = x::{base}"))
}

/// Pairs of date/time types PostgreSQL casts between, where casting back recovers the
/// value if and only if nothing was lost.
fn time_pair(from: &BaseType, to: &BaseType) -> bool {
    use BaseType::*;
    matches!(
        (from, to),
        (Date, Timestamp { .. } | TimestampTz { .. })
            | (
                Timestamp { .. },
                Date | Timestamp { .. } | TimestampTz { .. }
            )
            | (
                TimestampTz { .. },
                Date | Timestamp { .. } | TimestampTz { .. }
            )
            | (Time { .. }, Time { .. } | TimeTz { .. } | Interval { .. })
            | (TimeTz { .. }, Time { .. } | TimeTz { .. })
            | (Interval { .. }, Interval { .. } | Time { .. })
            | (Inet, Cidr)
    )
}

/// The conversion of one element, or why there is none. `from` and `to` differ.
pub fn element(from: &BaseType, to: &BaseType) -> Result<ElementConversion, String> {
    use BaseType::*;
    let cast = format!("x::{}", sql(to));
    let plain = |exact: Option<String>| {
        Ok(ElementConversion {
            expr: cast.clone(),
            exact,
        })
    };
    match (from, to) {
        (Enum { .. }, Enum { .. }) => Ok(ElementConversion {
            expr: format!("x::text::{}", sql(to)),
            exact: None,
        }),
        (f, t) if f.is_textual() && t.is_textual() => {
            plain(bounded_text(t).then(|| "y::text = x::text".to_string()))
        }
        // Parsing text: a value that does not parse is a data exception; one that parses
        // but is rounded to the type's precision is not exact. A `character(n)` value is
        // read without its padding, as PostgreSQL compares it.
        (Char { .. }, t) => Ok(ElementConversion {
            expr: format!("x::text::{}", sql(t)),
            exact: unbounded_parse(t).map(|e| e.replace("x::", "x::text::")),
        }),
        (f, t) if f.is_textual() => plain(unbounded_parse(t)),
        (_, t) if t.is_textual() => plain(bounded_text(t).then(|| "y::text = x::text".to_string())),
        (f, t) if is_number(f) && is_number(t) => {
            // money converts only to and from numeric (and from integers).
            let expr = match (f, t) {
                (Money, Numeric { .. }) | (Numeric { .. } | Integer | BigInt, Money) => {
                    cast.clone()
                }
                (Money, _) | (_, Money) => format!("x::numeric::{}", sql(t)),
                _ => cast.clone(),
            };
            let exact = match (is_float(f), is_float(t)) {
                (true, true) => "y::float8 = x::float8",
                (true, false) => "y::numeric = x::text::numeric",
                (false, true) => "y::text::numeric = x::numeric",
                (false, false) => "y::numeric = x::numeric",
            };
            Ok(ElementConversion {
                expr,
                exact: Some(exact.into()),
            })
        }
        (f, t) if time_pair(f, t) => plain(Some(format!("y::{} = x", sql(f)))),
        (Timestamp { .. } | TimestampTz { .. }, Time { .. } | TimeTz { .. }) => Err(format!(
            "a {} keeps only the time of day, so the date of every {} would be lost",
            sql(to),
            sql(from)
        )),
        (Boolean, Integer) => plain(None),
        (Boolean, SmallInt | BigInt) => Ok(ElementConversion {
            expr: format!("x::integer::{}", sql(to)),
            exact: None,
        }),
        (Integer, Boolean) => plain(Some("y::integer = x".into())),
        (SmallInt | BigInt, Boolean) => Ok(ElementConversion {
            expr: "x::integer::boolean".into(),
            exact: Some("y::integer = x".into()),
        }),
        (Json, Jsonb) | (Jsonb, Json) | (Cidr, Inet) => plain(None),
        (Bit { .. } | VarBit { .. }, Bit { .. } | VarBit { .. }) => {
            plain(Some("y::varbit = x::varbit".into()))
        }
        _ => Err(format!(
            "no conversion from {} to {} is known to keep every value",
            sql(from),
            sql(to)
        )),
    }
}

/// A conversion the schema's author wrote (`@wes_convert(using:)`): an SQL expression over
/// the column's value, named by the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Using<'a> {
    /// The column name the expression uses for the old value.
    pub column: &'a str,
    /// The expression.
    pub expr: &'a str,
}

/// The PL/pgSQL conversion function `name(old) RETURNS new`: its full `CREATE FUNCTION`
/// statement (without the final `;`), and a `SELECT` that calls it once on a NULL (or a
/// list holding one NULL) so that PostgreSQL plans every expression in it: a missing cast
/// fails there, before any trigger calls the function. `tag` is a dollar-quote tag that
/// does not occur in the body. Errors say why there is no exact conversion.
pub fn function(
    name: &str,
    old: &SqlType,
    new: &SqlType,
    using: Option<Using<'_>>,
    tag: &str,
) -> Result<(String, String), String> {
    if using.is_none() && widens(old, new) {
        // Every value fits and nothing can fail: a plain SQL function, which PostgreSQL
        // inlines into the backfill's UPDATE (no PL/pgSQL call, no subtransaction for an
        // exception handler per row; measured on PostgreSQL 15: the UPDATE of 200,000
        // rows through the trigger takes 0.87 s instead of 1.95 s).
        return Ok((
            format!(
                "CREATE FUNCTION {name}(v {}) RETURNS {} LANGUAGE sql IMMUTABLE PARALLEL SAFE AS {tag}
SELECT v::{}
{tag}",
                old.to_sql(),
                new.to_sql(),
                new.to_sql()
            ),
            format!("SELECT {name}(NULL::{})", old.to_sql()),
        ));
    }
    let param = match using {
        Some(u) => crate::sql::ident(u.column),
        None => "v".to_string(),
    };
    let header = format!(
        "CREATE FUNCTION {name}({param} {}) RETURNS {} LANGUAGE plpgsql STABLE {SETTINGS} AS {tag}\n",
        old.to_sql(),
        new.to_sql()
    );
    let old_elem = SqlType::scalar(old.base.clone()).to_sql();
    let new_elem = SqlType::scalar(new.base.clone()).to_sql();
    let body = match using {
        // The author's own conversion: trusted to be what they want, except that a data
        // exception still leaves the value NULL (and reported).
        Some(u) => format!(
            "BEGIN\n  RETURN ({});\nEXCEPTION WHEN data_exception THEN\n  RETURN NULL;\nEND\n",
            u.expr
        ),
        None => {
            if old.array != new.array {
                return Err(
                    "a column cannot change between one value and a list of values by itself"
                        .into(),
                );
            }
            let c = element(&old.base, &new.base)?;
            let inexact = match &c.exact {
                Some(e) => format!("y IS NULL OR NOT ({e})"),
                None => "y IS NULL".to_string(),
            };
            if new.array {
                format!(
                    "DECLARE\n  r {new_elem}[] := '{{}}';\n  x {old_elem};\n  y {new_elem};\nBEGIN\n  IF v IS NULL THEN\n    RETURN NULL;\n  END IF;\n  IF array_ndims(v) > 1 OR array_lower(v, 1) <> 1 THEN\n    RETURN NULL;\n  END IF;\n  FOREACH x IN ARRAY v LOOP\n    y := {};\n    IF x IS NOT NULL AND ({inexact}) THEN\n      RETURN NULL;\n    END IF;\n    r := array_append(r, y);\n  END LOOP;\n  RETURN r;\nEXCEPTION WHEN data_exception THEN\n  RETURN NULL;\nEND\n",
                    c.expr
                )
            } else {
                format!(
                    "DECLARE\n  x {old_elem} := v;\n  y {new_elem};\nBEGIN\n  y := {};\n  IF x IS NOT NULL AND ({inexact}) THEN\n    RETURN NULL;\n  END IF;\n  RETURN y;\nEXCEPTION WHEN data_exception THEN\n  RETURN NULL;\nEND\n",
                    c.expr
                )
            }
        }
    };
    let probe_arg = if old.array && using.is_none() {
        format!("ARRAY[NULL]::{old_elem}[]")
    } else {
        format!("NULL::{}", old.to_sql())
    };
    Ok((
        format!("{header}{body}{tag}"),
        format!("SELECT {name}({probe_arg})"),
    ))
}

/// Whether every value of `old` is a value of `new`, unchanged, and the cast between them
/// cannot fail: an integer into a wider integer, or into `numeric` without a precision.
pub fn widens(old: &SqlType, new: &SqlType) -> bool {
    use BaseType::*;
    let rank = |b: &BaseType| match b {
        SmallInt => Some(1),
        Integer => Some(2),
        BigInt => Some(3),
        Numeric {
            precision: None, ..
        } => Some(4),
        _ => None,
    };
    !old.array
        && !new.array
        && matches!(old.base, SmallInt | Integer | BigInt)
        && matches!((rank(&old.base), rank(&new.base)), (Some(a), Some(b)) if a < b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::parse_sql_type;

    fn conv(a: &str, b: &str) -> Result<ElementConversion, String> {
        element(
            &parse_sql_type(a).unwrap().base,
            &parse_sql_type(b).unwrap().base,
        )
    }

    #[test]
    fn lossy_casts_get_an_exactness_test() {
        for (a, b) in [
            ("varchar(40)", "varchar(32)"),
            ("text", "varchar(32)"),
            ("char(5)", "char(3)"),
            ("bit(8)", "bit(4)"),
            ("numeric(10,4)", "numeric(10,2)"),
            ("double precision", "integer"),
            ("double precision", "numeric(10,2)"),
            ("double precision", "real"),
            ("timestamptz", "timestamp"),
            ("timestamptz", "date"),
            ("timestamp", "date"),
            ("interval(6)", "interval(2)"),
            ("time(6)", "time(0)"),
            ("bigint", "integer"),
            ("integer", "boolean"),
            ("text", "numeric(10,2)"),
            ("inet", "cidr"),
        ] {
            let c = conv(a, b).unwrap_or_else(|e| panic!("{a} -> {b}: {e}"));
            assert!(c.exact.is_some(), "{a} -> {b} has no exactness test");
        }
    }

    #[test]
    fn conversions_that_cannot_lose_need_no_test() {
        for (a, b) in [
            ("text", "integer"),
            ("integer", "text"),
            ("boolean", "integer"),
            ("json", "jsonb"),
            ("text", "uuid"),
        ] {
            assert_eq!(conv(a, b).unwrap().exact, None, "{a} -> {b}");
        }
    }

    #[test]
    fn pairs_without_a_conversion_are_refused() {
        for (a, b) in [
            ("uuid", "integer"),
            ("timestamptz", "time"),
            ("macaddr", "inet"),
            ("jsonb", "integer"),
        ] {
            assert!(conv(a, b).is_err(), "{a} -> {b}");
        }
    }

    #[test]
    fn enums_convert_through_their_label() {
        let e = |n: &str| BaseType::Enum {
            schema: "public".into(),
            name: n.into(),
        };
        let c = element(&e("slot"), &e("slot_v2")).unwrap();
        assert_eq!(c.expr, "x::text::\"public\".\"slot_v2\"");
    }

    #[test]
    fn functions_catch_only_data_exceptions() {
        let t = |s: &str| parse_sql_type(s).unwrap();
        let (f, probe) = function("f", &t("varchar(40)"), &t("varchar(32)"), None, "$w$").unwrap();
        assert!(f.contains("EXCEPTION WHEN data_exception THEN"), "{f}");
        assert!(!f.contains("others"), "{f}");
        assert_eq!(probe, "SELECT f(NULL::character varying(40))");
        let (f, probe) = function("f", &t("text[]"), &t("integer[]"), None, "$w$").unwrap();
        assert!(f.contains("FOREACH x IN ARRAY v"), "{f}");
        assert_eq!(probe, "SELECT f(ARRAY[NULL]::text[])");
        assert!(function("f", &t("text"), &t("integer[]"), None, "$w$").is_err());
    }
}
