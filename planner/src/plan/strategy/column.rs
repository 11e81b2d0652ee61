//! New and dropped columns. A new column with a constant or stable default is one instant
//! `ADD COLUMN` (PostgreSQL 11+ stores the default without a rewrite). A volatile default
//! (`gen_random_uuid()`, `clock_timestamp()`) would rewrite the whole table under ACCESS
//! EXCLUSIVE, so it becomes: add the column bare, `SET DEFAULT` (new rows only), backfill
//! existing rows in batches, then NOT NULL through a validated CHECK if required. A new
//! generated column is `generated`'s.

use super::*;
use crate::model::{BaseTypeExt as _, Column, Volatility};

pub fn add(cx: &mut Ctx<'_>, t: &Table, c: &Column) {
    if c.is_sequence_backed() {
        super::identity::refuse_new_column(cx, t, c);
        return;
    }
    if c.generated.is_some() {
        super::generated::add(cx, t, c);
        return;
    }
    let volatile = c
        .default
        .as_ref()
        .is_some_and(|d| d.volatility() == Volatility::Volatile);
    if !volatile {
        if !c.nullable && c.default.is_none() {
            cx.error(
                codes::NOT_NULL_WITHOUT_DEFAULT,
                format!("new column {}.{} is NOT NULL without a default, but {} already has rows that would violate it", t.display_name(), c.name, t.display_name()),
                format!("give `{}` a default (`@wes_default(value: ...)`), or add it as nullable first, backfill it, and make it non-null in a later change", c.graphql_name),
            );
            return;
        }
        let mut spec = cx
            .on(
                t,
                StepKind::AddColumn,
                Some(&c.name),
                Phase::Expand,
                format!("Add column {}.{} {}", t.display_name(), c.name, c.ty),
                stmts(&[alter(t, Alter::AddColumn(c))]),
            )
            .lock(t, LockMode::AccessExclusive)
            .provides(c_key(t, &c.name));
        spec = spec.undo_by(drop_new(cx, t, c));
        if let Some(k) = c.ty.base.enum_key() {
            spec = spec.requires(k);
        }
        cx.push(spec);
        return;
    }

    // Volatile default: never a rewrite.
    let bare = Column {
        nullable: true,
        default: None,
        ..c.clone()
    };
    let mut spec = cx
        .on(
            t,
            StepKind::AddColumn,
            Some(&c.name),
            Phase::Expand,
            format!(
                "Add column {}.{} {} (no default yet, so no rewrite)",
                t.display_name(),
                c.name,
                c.ty
            ),
            stmts(&[alter(t, Alter::AddColumn(&bare))]),
        )
        .lock(t, LockMode::AccessExclusive)
        .provides(c_key(t, &c.name));
    spec = spec.undo_by(drop_new(cx, t, c));
    if let Some(k) = c.ty.base.enum_key() {
        spec = spec.requires(k);
    }
    let add_id = cx.push(spec);
    let default = c
        .default
        .as_ref()
        .map(|d| d.sql().to_string())
        .unwrap_or_default();
    let set = cx
        .on(
            t,
            StepKind::SetDefault,
            Some(&c.name),
            Phase::Expand,
            format!(
                "Set default of {}.{} to {default} (new rows only)",
                t.display_name(),
                c.name
            ),
            stmts(&[alter(t, Alter::SetDefault(&c.name, &default))]),
        )
        .lock(t, LockMode::AccessExclusive)
        .after(&add_id)
        // The column's inverse drops it, default and all.
        .undo_nothing();
    let set_id = cx.push(set);
    let Some(fill_id) = super::not_null::backfill_expr(cx, t, &c.name, &default, Some(&set_id))
    else {
        return;
    };
    if !c.nullable {
        // The NOT VALID check is enforced on every UPDATE of a row, so it is added only after
        // the backfill: earlier, updates of rows not yet backfilled would fail.
        super::not_null::via_check(cx, t, &c.name, Some(&fill_id), None);
    }
}

/// The inverse of adding `c`: `DROP COLUMN`, which deletes what was written to it since
/// (nothing for a generated column: its values are computed from the others).
pub(super) fn drop_new(cx: &Ctx<'_>, t: &Table, c: &Column) -> StepSpec {
    let spec = cx
        .on(
            t,
            StepKind::DropColumn,
            Some(&c.name),
            Phase::Contract,
            format!(
                "Drop column {}.{} (added by the plan)",
                t.display_name(),
                c.name
            ),
            stmts(&[alter(t, Alter::DropColumn(&c.name))]),
        )
        .lock(t, LockMode::AccessExclusive);
    if c.generated.is_some() {
        return spec;
    }
    spec.hazard(HazardKind::DeletesData, format!("Rolling back drops column {}.{}, added by the plan, with every value written to it since.", t.display_name(), c.name))
}

/// `DROP COLUMN`, in the contract phase only.
pub fn drop(cx: &mut Ctx<'_>, t: &Table, c: &Column) {
    let mut spec = cx
        .on(
            t,
            StepKind::DropColumn,
            Some(&c.name),
            Phase::Contract,
            format!("Drop column {}.{}", t.display_name(), c.name),
            stmts(&[alter(t, Alter::DropColumn(&c.name))]),
        )
        .lock(t, LockMode::AccessExclusive);
    // A generated column's values are computed from the other columns: nothing is lost.
    if c.generated.is_none() {
        spec = spec.hazard(HazardKind::DeletesData, format!("Dropping column {}.{} deletes its data for good. Deploy code that no longer reads or writes it first, and take a backup if the data may be needed.", t.display_name(), c.name));
    }
    spec = spec
        .hazard(HazardKind::BreaksClients, format!("From this step on, queries that name {}.{} fail (SQLSTATE 42703), and `SELECT *` returns one column less.", t.display_name(), c.name))
        .removes(c_key(t, &c.name));
    if let Some(k) = c.ty.base.enum_key() {
        spec = spec.requires(k);
    }
    // PostgreSQL refuses to drop a column a generated column uses: a generated column goes
    // before the columns it is computed from.
    for (name, _) in crate::expr::column_refs(c.generated.as_deref().unwrap_or_default()) {
        let key = c_key(t, &name);
        if name != c.name && !spec.requires.contains(&key) {
            spec = spec.requires(key);
        }
    }
    cx.push(spec);
}
