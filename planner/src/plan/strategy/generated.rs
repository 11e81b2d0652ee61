//! Generated columns (`GENERATED ALWAYS AS (expr) STORED`) of existing tables. A new table
//! has them in its `CREATE TABLE`. On an existing table:
//!
//! - a new generated column is one `ADD COLUMN ... GENERATED ALWAYS AS (...) STORED`, which
//!   rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE (measured on
//!   PostgreSQL 15: `add_column_generated_stored`). There is no online way to add one, so
//!   the step carries a `table_rewrite` hazard (refused unless `--allow table_rewrite`) and
//!   warning W0112 names the alternatives;
//! - a generated column made plain is `ALTER COLUMN ... DROP EXPRESSION`: ACCESS EXCLUSIVE,
//!   no rewrite, no scan (measured on PostgreSQL 15: same relfilenode, no sequential scan);
//!   the values stay, PostgreSQL stops computing them;
//! - a changed expression, or a plain column made generated, is refused (E0107): before
//!   PostgreSQL 17 neither can be done in place, and 17's `SET EXPRESSION` rewrites the
//!   table too.

use super::*;
use crate::model::{BaseTypeExt as _, Column};

/// Adds generated column `c` to the existing table `t`.
pub fn add(cx: &mut Ctx<'_>, t: &Table, c: &Column) {
    let expr = c.generated.as_deref().unwrap_or_default();
    let tname = t.display_name();
    cx.warning(
        Code::W0112,
        format!("adding generated column {tname}.{} rewrites {tname} under ACCESS EXCLUSIVE: reads and writes of the table wait until every row is rewritten", c.name),
        format!("plan it with `--allow table_rewrite` in a maintenance window sized to the table, or instead: add `{}` as a plain column kept up to date by a trigger and backfilled online; compute `{expr}` in a view or in the queries that read it; or, if it only serves lookups, index the expression", c.graphql_name),
    );
    let mut spec = cx
        .on(
            t,
            StepKind::AddColumn,
            Some(&c.name),
            Phase::Expand,
            format!("Add generated column {tname}.{} {} (rewrites the table)", c.name, c.ty),
            stmts(&[alter(t, Alter::AddColumn(c))]),
        )
        .lock(t, LockMode::AccessExclusive)
        .hazard(HazardKind::TableRewrite, format!("Adding generated column {tname}.{} computes it for every row by rewriting {tname} (and rebuilding its indexes) under ACCESS EXCLUSIVE: reads and writes of {tname} wait for the whole rewrite.", c.name))
        .provides(c_key(t, &c.name));
    spec.step.rewrite = true;
    for (name, _) in crate::expr::column_refs(expr) {
        let key = c_key(t, &name);
        if !spec.requires.contains(&key) {
            spec = spec.requires(key);
        }
    }
    if let Some(k) = c.ty.base.enum_key() {
        spec = spec.requires(k);
    }
    spec = spec.undo_by(super::column::drop_new(cx, t, c));
    cx.push(spec);
}

/// The generation expression of `old` (a column of `t`) added, removed or changed.
pub fn change(cx: &mut Ctx<'_>, t: &Table, old: &Column, new: &Column) {
    let tname = t.display_name();
    match (&old.generated, &new.generated) {
        (Some(expr), None) => {
            let spec = cx
                .on(
                    t,
                    StepKind::DropExpression,
                    Some(&new.name),
                    Phase::Expand,
                    format!("Make {tname}.{} a plain column (its values stay)", new.name),
                    stmts(&[alter(t, Alter::DropExpression(&new.name))]),
                )
                .lock(t, LockMode::AccessExclusive)
                // The plain column: its default, NOT NULL, ... come after.
                .provides(c_key(t, &new.name))
                .review(HazardKind::BreaksClients, format!("From this step on, PostgreSQL no longer computes {tname}.{} as {expr}: rows inserted or updated by code that does not write it get its default (or NULL) or keep the old value. Deploy code that writes it right after this step.", new.name))
                .undo_refuses(format!("{tname}.{} cannot become generated again in place (PostgreSQL can only add a generated column, rewriting the table); values written to it since would be lost", new.name));
            cx.push(spec);
        }
        (None, Some(_)) => cx.error(
            codes::UNSUPPORTED_GENERATED_CHANGE,
            format!("cannot make {tname}.{} a generated column: PostgreSQL can only add a generated column (rewriting the table), not turn an existing one into one", new.name),
            format!("add a new field with `@wes_generated` under another name (planned with `--allow table_rewrite`: it rewrites {tname}), move readers to it, then remove `{}` in a later change", new.graphql_name),
        ),
        (Some(a), Some(b)) => cx.error(
            codes::UNSUPPORTED_GENERATED_CHANGE,
            format!("cannot change the generation expression of {tname}.{} from ({a}) to ({b}) online: PostgreSQL before 17 cannot change it at all, and 17's `ALTER COLUMN ... SET EXPRESSION` rewrites {tname} under ACCESS EXCLUSIVE", new.name),
            format!("add a new generated field with the new expression under another name (planned with `--allow table_rewrite`), move readers to it and remove `{}` in a later change; or, on PostgreSQL 17 or later, run `ALTER TABLE {} ALTER COLUMN {} SET EXPRESSION AS ({b})` by hand in a maintenance window", new.graphql_name, t.qualified(), crate::sql::ident(&new.name)),
        ),
        (None, None) => {}
    }
}

/// Why the type of `c` (a column of the old table `t`) cannot change, if a generated column
/// is involved: PostgreSQL refuses to change the type of a column a generated column uses
/// ("cannot alter type of a column used by a generated column"), and changing the type of
/// a generated column rewrites the table.
pub fn blocks_type_change(t: &Table, c: &Column) -> Option<String> {
    if c.generated.is_some() {
        return Some(
            "it is a generated column (PostgreSQL recomputes it by rewriting the table)".into(),
        );
    }
    t.columns
        .iter()
        .find(|g| {
            g.generated.as_deref().is_some_and(|e| {
                crate::expr::column_refs(e)
                    .iter()
                    .any(|(n, _)| *n == c.name)
            })
        })
        .map(|g| {
            format!(
                "generated column {} uses it (PostgreSQL refuses the change)",
                g.name
            )
        })
}
