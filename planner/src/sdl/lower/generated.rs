//! Generated columns: `@wes_generated(expr:)` becomes `GENERATED ALWAYS AS (expr) STORED`.
//! The expression is a checked SQL fragment (E0050, E0051 for a subquery) without functions
//! PostgreSQL does not count as immutable (as far as Wesley knows). What PostgreSQL or
//! Wesley refuses is E0025, where it is written: a generated column with a default,
//! an identity or serial, a `@wes_convert` (`from_field`); an expression naming anything
//! but a column of its table, or another generated column; a generated primary key column
//! (`check_table`, once every column is known).

use super::arguments::str_arg;
use super::{p, Ctx, Obj};
use crate::diag::Code;
use crate::model::Table;
use crate::sdl::directives::{canonical_directive, Dir, DirectiveKind as K};
use crate::sdl::locate;

/// What else a field says that a generated column cannot have.
pub(super) struct Others {
    /// `@wes_default`.
    pub default: bool,
    /// `@wes_identity` or `@wes_serial`.
    pub sequence: bool,
    /// `@wes_convert`.
    pub convert: bool,
}

/// The expression of `@wes_generated` directive `d` on field `field`, or `None` when it is
/// wrong (reported).
pub(super) fn from_field(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    field: &str,
    others: Others,
) -> Option<String> {
    let conflict = if others.default {
        Some((
            "`@wes_default`",
            "PostgreSQL computes every value of a generated column, so it has no default",
        ))
    } else if others.sequence {
        Some((
            "`@wes_identity` or `@wes_serial`",
            "its values come from the expression, not from a sequence",
        ))
    } else if others.convert {
        Some(("`@wes_convert`", "Wesley does not change the type of a generated column (PostgreSQL would rewrite the table); drop `@wes_convert`"))
    } else {
        None
    };
    if let Some((what, why)) = conflict {
        cx.err(
            Code::E0025,
            p(d.position),
            format!("field `{field}` is generated and also has {what}"),
            format!("remove one of them: {why}"),
        );
        return None;
    }
    let Some(text) = str_arg(cx, d, &["expr"]) else {
        if d.arguments.iter().all(|(n, _)| *n != "expr") {
            cx.err(
                Code::E0040,
                p(d.position),
                format!("`@{}` needs `expr:`", d.name),
                format!("write `@{}(expr: \"price * quantity\")`, with the SQL names of columns of the same table", d.name),
            );
        }
        return None;
    };
    cx.sql_fragment(d, "expr", &text, false, "a generation expression")?;
    if let Some((name, offset)) = crate::expr::not_immutable(&text) {
        let pos = locate::in_string(cx.src, p(d.position), "expr", &text, offset);
        cx.err(
            Code::E0025,
            pos,
            format!("the generation expression of field `{field}` uses `{name}`, which is not immutable"),
            "PostgreSQL computes a generated column only from the row's own values with immutable functions; compute time- or session-dependent values in the application, a trigger or a default instead",
        );
        return None;
    }
    Some(text.trim().to_string())
}

/// Checks the generated columns of `table` (from type `o`) against its other columns and
/// its primary key.
pub(super) fn check_table(cx: &mut Ctx<'_>, o: &Obj<'_>, table: &Table) {
    for c in &table.columns {
        let Some(text) = &c.generated else { continue };
        let Some(f) = o.fields.iter().find(|f| f.name == c.graphql_name) else {
            continue;
        };
        let Some(d) = f
            .directives
            .iter()
            .find(|d| canonical_directive(d.name) == Some(K::Generated))
        else {
            continue;
        };
        if table
            .primary_key
            .as_ref()
            .is_some_and(|k| k.columns.contains(&c.name))
        {
            cx.err(
                Code::E0025,
                p(d.position),
                format!("field `{}` is generated and part of the primary key of `{}`", f.name, table.name),
                "key a table by a column the application writes (or an identity column); a generated key changes whenever the columns it is computed from change",
            );
        }
        for (name, offset) in crate::expr::column_refs(text) {
            let pos = locate::in_string(cx.src, p(d.position), "expr", text, offset);
            // As written (PostgreSQL folds a bare word to lower case: `unitPrice` is
            // `unitprice`).
            let written: String = text
                .chars()
                .skip(offset)
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
                .collect();
            let shown = if written.is_empty() || written == name {
                format!("`{name}`")
            } else {
                format!("`{written}` (`{name}` to PostgreSQL)")
            };
            match table.column(&name) {
                Some(other) if other.generated.is_some() => cx.err(
                    Code::E0025,
                    pos,
                    format!("the generation expression of field `{}` uses {shown}, another generated column", f.name),
                    format!("PostgreSQL refuses this: write `{name}`'s own expression in its place"),
                ),
                Some(_) => {}
                None => {
                    let by_field = table
                        .columns
                        .iter()
                        .find(|x| x.graphql_name.eq_ignore_ascii_case(&name));
                    let help = match by_field {
                        Some(x) => format!("write the SQL column name `{}` (of field `{}`) instead of the field name", x.name, x.graphql_name),
                        None => {
                            let names: Vec<&str> = table
                                .columns
                                .iter()
                                .filter(|x| x.generated.is_none())
                                .map(|x| x.name.as_str())
                                .collect();
                            format!("a generation expression can use only columns of `{}`: {}", table.name, names.join(", "))
                        }
                    };
                    cx.err(
                        Code::E0025,
                        pos,
                        format!("the generation expression of field `{}` uses {shown}, which is not a column of `{}`", f.name, table.name),
                        help,
                    );
                }
            }
        }
    }
}
