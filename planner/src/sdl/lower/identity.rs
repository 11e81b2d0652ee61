//! Sequence-backed columns: `@wes_identity` (`GENERATED ... AS IDENTITY`, with
//! `generated: ALWAYS | BY_DEFAULT`, `start:` and `increment:`) and `@wes_serial` (a
//! default `nextval` of a sequence the column owns, as `serial` makes it; `sequence:`
//! names it when it is not the one PostgreSQL derives). Both only on `smallint`,
//! `integer` and `bigint` columns that are NOT NULL and have no `@wes_default`; never
//! both on one column (E0024).

use super::{p, Ctx};
use crate::diag::{Code, Pos};
use crate::model::Identity;
use crate::sdl::directives::{arg, kind_of, word, Dir};
use crate::sdl::locate;
use crate::types::{BaseType, SqlType};
use graphql_parser::schema::Value;

/// What the column is, as far as sequences go.
pub(super) struct Lowered {
    pub identity: Option<Identity>,
    /// `Some(None)`: a serial column whose sequence has the derived name.
    pub serial: Option<Option<String>>,
}

/// Checks the directives against the column they stand on (field `field` at `pos`, of
/// type `ty`).
#[allow(clippy::too_many_arguments)]
pub(super) fn lower<'d, 'a>(
    cx: &mut Ctx<'_>,
    identity: Option<&'d Dir<'a>>,
    serial: Option<&'d Dir<'a>>,
    field: &str,
    pos: Pos,
    ty: &SqlType,
    nullable: bool,
    has_default: bool,
) -> Lowered {
    let none = Lowered {
        identity: None,
        serial: None,
    };
    let Some(d) = identity.or(serial) else {
        return none;
    };
    let what = if identity.is_some() {
        "an identity column"
    } else {
        "a serial column"
    };
    if let (Some(_), Some(s)) = (identity, serial) {
        cx.err(
            Code::E0024,
            p(s.position),
            format!("field `{field}` has both `@wes_identity` and `@wes_serial`"),
            "keep `@wes_identity` (a serial column becomes an identity column by replacing `@wes_serial` with it)",
        );
        return none;
    }
    let integer = !ty.array
        && matches!(
            ty.base,
            BaseType::SmallInt | BaseType::Integer | BaseType::BigInt
        );
    let mut ok = true;
    if !integer {
        cx.err(
            Code::E0024,
            p(d.position),
            format!("field `{field}` has type `{ty}`, but {what} must be `smallint`, `integer` or `bigint`"),
            "use `Int` or `BigInt` (or `@wes_type(sql: \"smallint\")`), or remove the directive",
        );
        ok = false;
    }
    if nullable {
        cx.err(
            Code::E0024,
            pos,
            format!("field `{field}` is nullable, but {what} is NOT NULL"),
            "add `!` to the field's type",
        );
        ok = false;
    }
    if has_default {
        cx.err(
            Code::E0024,
            p(d.position),
            format!("field `{field}` has `@wes_default`, but the values of {what} come from its sequence"),
            "remove `@wes_default`",
        );
        ok = false;
    }
    if let Some(d) = identity {
        let id = identity_args(cx, d, ty);
        return Lowered {
            identity: id.filter(|_| ok),
            serial: None,
        };
    }
    let sequence = match arg(d, &["sequence"]) {
        None => None,
        Some((_, Value::String(s))) if !s.is_empty() => {
            let at = locate::arg_value(cx.src, p(d.position), "sequence");
            if !cx.check_ident(s, "sequence", at) {
                return none;
            }
            Some(s.clone())
        }
        Some((n, v)) => {
            let at = locate::arg_value(cx.src, p(d.position), n);
            cx.err(
                Code::E0040,
                at,
                format!(
                    "argument `{n}` of `@{}` must be a sequence's name, not {}",
                    d.name,
                    if matches!(v, Value::String(_)) {
                        "an empty string"
                    } else {
                        kind_of(v)
                    }
                ),
                "write `sequence: \"item_id_seq\"`, or leave it out for the name `serial` gives",
            );
            return none;
        }
    };
    Lowered {
        identity: None,
        serial: ok.then_some(sequence),
    }
}

/// `generated:`, `start:` and `increment:` of `@wes_identity`.
fn identity_args(cx: &mut Ctx<'_>, d: &Dir<'_>, ty: &SqlType) -> Option<Identity> {
    let mut ok = true;
    let always = match arg(d, &["generated"]) {
        None => false,
        Some((n, v)) => {
            let upper = word(v).map(|s| s.to_ascii_uppercase().replace([' ', '-'], "_"));
            match upper.as_deref() {
                Some("ALWAYS") => true,
                Some("BY_DEFAULT") => false,
                _ => {
                    let at = locate::arg_value(cx.src, p(d.position), n);
                    cx.err(
                        Code::E0040,
                        at,
                        format!(
                            "argument `{n}` of `@{}` must be `ALWAYS` or `BY_DEFAULT`, not {}",
                            d.name,
                            match word(v) {
                                Some(s) => format!("`{s}`"),
                                None => kind_of(v).to_string(),
                            }
                        ),
                        "write `generated: ALWAYS` or `generated: BY_DEFAULT` (the default)",
                    );
                    ok = false;
                    false
                }
            }
        }
    };
    let mut int = |name: &str| -> Option<i64> {
        let (n, v) = arg(d, &[name])?;
        match v {
            Value::Int(i) if i.as_i64().is_some() => i.as_i64(),
            _ => {
                let at = locate::arg_value(cx.src, p(d.position), n);
                cx.err(
                    Code::E0040,
                    at,
                    format!(
                        "argument `{n}` of `@{}` must be a whole number, not {}",
                        d.name,
                        kind_of(v)
                    ),
                    format!("write e.g. `{n}: 1000`"),
                );
                ok = false;
                None
            }
        }
    };
    let start = int("start");
    let increment = int("increment").unwrap_or(1);
    if increment == 0 {
        let at = locate::arg_value(cx.src, p(d.position), "increment");
        cx.err(
            Code::E0024,
            at,
            "an identity's increment cannot be 0",
            "use a positive increment (or a negative one for descending values)",
        );
        ok = false;
    }
    let start = start.unwrap_or(Identity::default_start(increment));
    // PostgreSQL's bounds for an identity of the column's type: 1 to the type's maximum
    // when ascending, its minimum to -1 when descending.
    let max = match ty.base {
        BaseType::SmallInt => i64::from(i16::MAX),
        BaseType::Integer => i64::from(i32::MAX),
        _ => i64::MAX,
    };
    let (lo, hi) = if increment > 0 {
        (1, max)
    } else {
        (-max - 1, -1)
    };
    if increment != 0 && !(lo..=hi).contains(&start) {
        let at = locate::arg_value(cx.src, p(d.position), "start");
        cx.err(
            Code::E0024,
            at,
            format!("start {start} is outside the identity's range: with increment {increment} its values run from {lo} to {hi}"),
            "give a start in that range",
        );
        ok = false;
    }
    ok.then_some(Identity {
        always,
        start,
        increment,
    })
}
