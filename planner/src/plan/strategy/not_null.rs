//! NOT NULL on an existing column, without a scan under ACCESS EXCLUSIVE: add
//! `CHECK (col IS NOT NULL) NOT VALID` (instant), `VALIDATE` it (a scan under SHARE UPDATE
//! EXCLUSIVE, which lets reads and writes continue), then `SET NOT NULL` (PostgreSQL skips
//! the scan because the validated check proves it) and drop the helper check. Existing
//! NULLs are backfilled first when the column has a default (`backfill_expr`, which new
//! columns with a volatile default use too). Dropping NOT NULL is instant.

use super::*;
use crate::model::Column;
use crate::naming;
use crate::sql::ident;

pub fn set(cx: &mut Ctx<'_>, t: &Table, _old: &Column, c: &Column) {
    let mut fill = None;
    if let Some(d) = &c.default {
        fill = backfill_expr(cx, t, &c.name, d.sql(), None);
        if fill.is_none() {
            return;
        }
    }
    // After the backfill: a NOT VALID check is still enforced on every UPDATE of a row.
    via_check(cx, t, &c.name, fill.as_deref(), None);
}

/// A batched `UPDATE t SET c = expr WHERE c IS NULL` step. Needs a primary key to walk the
/// table; reports an error and returns `None` without one.
pub fn backfill_expr(
    cx: &mut Ctx<'_>,
    t: &Table,
    column: &str,
    expr: &str,
    after: Option<&str>,
) -> Option<String> {
    let Some(pk) = &t.primary_key else {
        cx.error(
            codes::NO_KEY_FOR_BACKFILL,
            format!(
                "{}.{column} must be backfilled, but {} has no primary key to walk it in batches",
                t.display_name(),
                t.display_name()
            ),
            "give the table a primary key (`@wes_pk`) first".to_string(),
        );
        return None;
    };
    let set = format!("{} = {expr}", ident(column));
    let predicate = format!("{} IS NULL", ident(column));
    let mut spec = cx
        .on(t, StepKind::Backfill, Some(column), Phase::Backfill, format!("Backfill {}.{column} = {expr} in batches of {DEFAULT_BATCH_SIZE}", t.display_name()), stmts(&[format!("UPDATE {} SET {set} WHERE {predicate}", t.qualified())]))
        .lock(t, LockMode::RowExclusive)
        .scan()
        .hazard(HazardKind::NeedsBackfill, format!("Existing rows of {} get {column} = {expr}, in batches of {DEFAULT_BATCH_SIZE} rows, each its own short transaction: writes continue, but it takes time proportional to the table's size.", t.display_name()))
        .backfill(Backfill { schema: t.schema.clone(), table: t.name.clone(), key: pk.columns.clone(), set, predicate, batch_size: DEFAULT_BATCH_SIZE })
        .requires(c_key(t, column))
        // The values it wrote are allowed by the old schema too.
        .undo_nothing();
    if let Some(a) = after {
        spec = spec.after(a);
    }
    Some(cx.push(spec))
}

/// The helper check's name: `<table>_<column>_not_null_check`. Not PostgreSQL 18's name
/// for the NOT NULL constraint itself (`<table>_<column>_not_null`), which `SET NOT NULL`
/// creates while the helper still exists: sharing it made PostgreSQL 18 name the real
/// constraint `..._not_null1`, and fail outright where a renamed column's NOT NULL
/// constraint still holds the name.
pub fn check_name(t: &Table, column: &str) -> String {
    naming::fit(&format!("{}_{}_not_null_check", t.name, column))
}

/// Adds the NOT VALID check, validates it (after `validate_after` when given), then sets
/// NOT NULL and drops the check. Returns the id of the final step.
pub fn via_check(
    cx: &mut Ctx<'_>,
    t: &Table,
    column: &str,
    after: Option<&str>,
    validate_after: Option<&str>,
) -> String {
    let name = check_name(t, column);
    let mut add = cx
        .on(t, StepKind::AddNotNullCheck, Some(column), if after.is_some() { Phase::Validate } else { Phase::Expand }, format!("Add CHECK ({column} IS NOT NULL) NOT VALID on {} (instant, enforced for new writes)", t.display_name()), stmts(&[alter(t, Alter::AddNotNullCheck { name: &name, column })]))
        .lock(t, LockMode::AccessExclusive)
        .requires(c_key(t, column));
    // `IF EXISTS`: once `SET NOT NULL` has run, it dropped the check itself.
    let undo = cx
        .on(
            t,
            StepKind::DropCheck,
            Some(&name),
            Phase::Expand,
            format!(
                "Drop the helper check {name} on {} if it is still there",
                t.display_name()
            ),
            stmts(&[alter(t, Alter::DropConstraintIfExists(&name))]),
        )
        .lock(t, LockMode::AccessExclusive);
    add = add.undo_by(undo);
    if !cx.is_new_table(t) {
        add = add.review(
            HazardKind::BreaksClients,
            format!(
                "From this step on, writes that leave {}.{column} NULL fail (SQLSTATE 23514).",
                t.display_name()
            ),
        );
    }
    if let Some(a) = after {
        add = add.after(a);
    }
    let add_id = cx.push(add);
    let mut validate = cx
        .on(t, StepKind::ValidateConstraint, Some(&name), Phase::Validate, format!("Validate that no row of {} has {column} NULL (reads and writes continue)", t.display_name()), stmts(&[alter(t, Alter::ValidateConstraint(&name))]))
        .lock(t, LockMode::ShareUpdateExclusive)
        .scan()
        .hazard(HazardKind::LongRunning, format!("Validating reads all of {} under SHARE UPDATE EXCLUSIVE: reads and writes continue, but VACUUM and other schema changes on it wait. It fails if a row still has {column} NULL; such rows also cannot be updated once the NOT VALID check exists. Fix them first, then resume.", t.display_name()))
        .after(&add_id)
        .undo_nothing();
    if let Some(v) = validate_after {
        validate = validate.after(v);
    }
    let validate_id = cx.push(validate);
    let set = cx
        .on(t, StepKind::SetNotNull, Some(column), Phase::Switch, format!("Set {}.{column} NOT NULL (no scan: the validated check proves it) and drop the helper check", t.display_name()), stmts(&[
            alter(t, Alter::SetNotNull(column)),
            alter(t, Alter::DropConstraint(&name)),
        ]))
        .lock(t, LockMode::AccessExclusive)
        .provides(format!("notnull:{}.{}.{column}", t.schema, t.name))
        .after(&validate_id)
        .undo_by(drop_step(cx, t, column));
    cx.push(set)
}

/// `DROP NOT NULL` (instant).
fn drop_step(cx: &Ctx<'_>, t: &Table, column: &str) -> StepSpec {
    cx.on(
        t,
        StepKind::DropNotNull,
        Some(column),
        Phase::Expand,
        format!("Allow NULL in {}.{column}", t.display_name()),
        stmts(&[alter(t, Alter::DropNotNull(column))]),
    )
    .lock(t, LockMode::AccessExclusive)
}

/// The inverse of dropping NOT NULL: the same three steps as setting it ([`via_check`]),
/// as inverse steps. Validation fails (SQLSTATE 23514) when rows written since hold NULL;
/// the rollback then stops there, and says so.
fn restore_steps(cx: &Ctx<'_>, t: &Table, column: &str) -> Vec<StepSpec> {
    let name = check_name(t, column);
    let tname = t.display_name();
    vec![
        cx.on(t, StepKind::AddNotNullCheck, Some(column), Phase::Expand, format!("Add CHECK ({column} IS NOT NULL) NOT VALID on {tname} again"), stmts(&[alter(t, Alter::AddNotNullCheck { name: &name, column })]))
            .lock(t, LockMode::AccessExclusive)
            .review(HazardKind::BreaksClients, format!("From this step on, writes that leave {tname}.{column} NULL fail again (SQLSTATE 23514).")),
        cx.on(t, StepKind::ValidateConstraint, Some(&name), Phase::Validate, format!("Validate that no row of {tname} has {column} NULL (reads and writes continue)"), stmts(&[alter(t, Alter::ValidateConstraint(&name))]))
            .lock(t, LockMode::ShareUpdateExclusive)
            .scan()
            .hazard(HazardKind::LongRunning, format!("Validating reads all of {tname}; reads and writes continue. It fails if rows written since the plan ran hold NULL in {column}: fix them, then run the rollback again.")),
        cx.on(t, StepKind::SetNotNull, Some(column), Phase::Switch, format!("Set {tname}.{column} NOT NULL again (no scan) and drop the helper check"), stmts(&[
            alter(t, Alter::SetNotNull(column)),
            alter(t, Alter::DropConstraint(&name)),
        ]))
            .lock(t, LockMode::AccessExclusive),
    ]
}

pub fn drop(cx: &mut Ctx<'_>, t: &Table, c: &Column) {
    let mut spec = drop_step(cx, t, &c.name).requires(c_key(t, &c.name));
    for u in restore_steps(cx, t, &c.name) {
        spec = spec.undo_by(u);
    }
    cx.push(spec);
}
