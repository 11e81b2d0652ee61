//! Foreign keys. Between two tables the plan creates: one plain `ADD CONSTRAINT` (both
//! are empty, so the check is instant). Otherwise `NOT VALID` (instant; SHARE ROW
//! EXCLUSIVE on both tables), then `VALIDATE CONSTRAINT` in its own transaction (SHARE
//! UPDATE EXCLUSIVE; ROW SHARE on the referenced table): from a new table to an existing
//! one this costs nothing and keeps the validated form linters expect. Dropping a foreign
//! key takes ACCESS EXCLUSIVE on both tables (measured), briefly.
//!
//! What old code notices: writes that point at no row fail once the key exists (review);
//! a dropped key with an `ON DELETE`/`ON UPDATE` action no longer cascades (review).

use super::*;
use crate::ddl;
use crate::model::ForeignKey;
use crate::naming;

/// `statement` (which locks the referencing table `t`, then the referenced one, in
/// `mode`) after a `LOCK TABLE` that takes the referenced table first, unless they are the
/// same table. A write that changes the referenced table and then the referencing one (an
/// update of an account, then an insert of its audit row) takes them in that order; the
/// statement alone would hold the lock the write waits for while it waits for the write,
/// until the lock timeout, on almost every attempt under such load. Measured by the `keys`
/// scenario of `executor/benches/downtime.rs`: 335 s and 40 retries of one step before,
/// 11 s and none after, on 100,000 rows under 4 pgbench clients.
pub fn referenced_first(
    t: &Table,
    fk: &ForeignKey,
    mode: LockMode,
    statement: String,
) -> Vec<String> {
    if fk.ref_schema == t.schema && fk.ref_table == t.name {
        return vec![statement];
    }
    vec![
        format!(
            "LOCK TABLE {} IN {} MODE",
            crate::sql::qualified(&fk.ref_schema, &fk.ref_table),
            mode.sql_name()
        ),
        statement,
    ]
}

/// Refuses (E0108) to drop or replace `what` (a primary key, unique constraint or unique
/// index of `t`, over `columns`) while a foreign key references those columns both
/// before and after the plan (kept as it is, or replaced by one over the same key; a
/// renamed table, column or constraint counts as the same): PostgreSQL ties a foreign
/// key to the unique index it found when the key was created, and refuses to drop that
/// index or its constraint while the foreign key exists (SQLSTATE 2BP01). Foreign keys
/// the plan drops, or points at another key, are dropped first ([`StepSpec::uses`]).
/// Returns whether it refused.
pub fn refuse_if_referenced(cx: &mut Ctx<'_>, t: &Table, columns: &[String], what: &str) -> bool {
    let key = unique_key(&t.schema, &t.name, columns);
    let mut kept = Vec::new();
    for o in &cx.old.tables {
        let (ns, nn) = cx.renames.table(&o.schema, &o.name);
        let Some(n) = cx.new.table(&ns, &nn) else {
            continue;
        };
        for f in o
            .foreign_keys
            .iter()
            .filter(|f| referenced_key(cx, f) == key)
        {
            // The same foreign key after the plan: by name, or over the same columns
            // (renamed with its table or on its own).
            let columns: std::collections::BTreeSet<String> = f
                .columns
                .iter()
                .map(|c| cx.renames.column(&o.schema, &o.name, c))
                .collect();
            let after = n.foreign_keys.iter().find(|g| {
                g.name == f.name
                    || g.columns
                        .iter()
                        .cloned()
                        .collect::<std::collections::BTreeSet<_>>()
                        == columns
            });
            if after.is_some_and(|g| unique_key(&g.ref_schema, &g.ref_table, &g.ref_columns) == key)
            {
                kept.push(format!("{} on {}", f.name, n.display_name()));
            }
        }
    }
    if kept.is_empty() {
        return false;
    }
    cx.error(
        codes::REFERENCED_KEY_CHANGE,
        format!(
            "{what} of {} ({}) is dropped or replaced, but foreign keys that stay reference it: {}",
            t.display_name(),
            columns.join(", "),
            kept.join(", ")
        ),
        "split the change: drop those foreign keys in one change (or point them at another key), change the key in the next, and add them back in a third".to_string(),
    );
    true
}

fn keys(mut spec: StepSpec, t: &Table, fk: &ForeignKey) -> StepSpec {
    for c in &fk.columns {
        spec = spec.requires(c_key(t, c));
    }
    for c in &fk.ref_columns {
        spec = spec.requires(column_key(&fk.ref_schema, &fk.ref_table, c));
    }
    spec.requires(table_key(&fk.ref_schema, &fk.ref_table))
}

/// [`keys`] of a foreign key being added: also the key it references, which must exist.
fn add_keys(spec: StepSpec, t: &Table, fk: &ForeignKey) -> StepSpec {
    keys(spec, t, fk).requires(unique_key(&fk.ref_schema, &fk.ref_table, &fk.ref_columns))
}

/// The key that `fk`, a foreign key of the old schema, references, by the names it has
/// while the plan runs (after renames): whatever drops that key waits for the foreign
/// key's drop ([`StepSpec::uses`]).
pub fn referenced_key(cx: &Ctx<'_>, fk: &ForeignKey) -> String {
    let (rs, rt) = cx.renames.table(&fk.ref_schema, &fk.ref_table);
    let cols: Vec<String> = fk
        .ref_columns
        .iter()
        .map(|c| cx.renames.column(&fk.ref_schema, &fk.ref_table, c))
        .collect();
    unique_key(&rs, &rt, &cols)
}

fn add_not_valid_and_validate(
    cx: &mut Ctx<'_>,
    t: &Table,
    fk: &ForeignKey,
    phase_add: Phase,
) -> String {
    let add = cx
        .on(
            t,
            StepKind::AddForeignKey,
            Some(&fk.name),
            phase_add,
            format!(
                "Add foreign key {} {}({}) → {}.{}({}) NOT VALID (instant)",
                fk.name,
                t.display_name(),
                fk.columns.join(", "),
                fk.ref_schema,
                fk.ref_table,
                fk.ref_columns.join(", ")
            ),
            stmts(&referenced_first(
                t,
                fk,
                LockMode::ShareRowExclusive,
                ddl::add_foreign_key(t, fk, true),
            )),
        )
        .lock(t, LockMode::ShareRowExclusive)
        .lock_rel(&fk.ref_schema, &fk.ref_table, LockMode::ShareRowExclusive);
    let add = if cx.is_new_table(t) {
        add.hazard(HazardKind::BlocksWrites, format!("Adding the foreign key takes SHARE ROW EXCLUSIVE on the existing table {}.{}: writes to it wait for this short transaction.", fk.ref_schema, fk.ref_table))
    } else {
        add.review(HazardKind::BreaksClients, format!("From this step on, writes to {} whose ({}) points at no row of {}.{} fail (SQLSTATE 23503).", t.display_name(), fk.columns.join(", "), fk.ref_schema, fk.ref_table))
    };
    let add = add.undo_by(drop_added(cx, t, fk));
    let add_id = cx.push(add_keys(add, t, fk));
    let v = cx
        .on(t, StepKind::ValidateConstraint, Some(&fk.name), Phase::Validate, format!("Validate foreign key {} on {} (reads and writes continue)", fk.name, t.display_name()), stmts(&[alter(t, Alter::ValidateConstraint(&fk.name))]))
        .lock(t, LockMode::ShareUpdateExclusive)
        .lock_rel(&fk.ref_schema, &fk.ref_table, LockMode::RowShare)
        .scan()
        .hazard(HazardKind::LongRunning, format!("Validating foreign key {} reads all of {} and looks up {}.{}: reads and writes continue, but it takes time proportional to the table's size. It fails if a row points at a missing row: fix those rows, then resume.", fk.name, t.display_name(), fk.ref_schema, fk.ref_table))
        .after(&add_id)
        .undo_nothing();
    cx.push(v)
}

/// The inverse of adding `fk`: `DROP CONSTRAINT IF EXISTS` (ACCESS EXCLUSIVE on both
/// tables, briefly; measured).
fn drop_added(cx: &Ctx<'_>, t: &Table, fk: &ForeignKey) -> StepSpec {
    let mut spec = cx
        .on(
            t,
            StepKind::DropForeignKey,
            Some(&fk.name),
            Phase::Contract,
            format!("Drop foreign key {} on {} again", fk.name, t.display_name()),
            stmts(&[alter(t, Alter::DropConstraintIfExists(&fk.name))]),
        )
        .lock(t, LockMode::AccessExclusive);
    if fk.ref_schema != t.schema || fk.ref_table != t.name {
        spec = spec.lock_rel(&fk.ref_schema, &fk.ref_table, LockMode::AccessExclusive);
    }
    spec
}

pub fn add(cx: &mut Ctx<'_>, t: &Table, fk: &ForeignKey, new_table: bool) {
    let referenced_exists = !cx
        .new_tables
        .contains(&(fk.ref_schema.clone(), fk.ref_table.clone()));
    if new_table && !referenced_exists {
        let summary = format!(
            "Add foreign key {} {}({}) → {}.{}({})",
            fk.name,
            t.display_name(),
            fk.columns.join(", "),
            fk.ref_schema,
            fk.ref_table,
            fk.ref_columns.join(", ")
        );
        let mut spec = cx
            .on(
                t,
                StepKind::AddForeignKey,
                Some(&fk.name),
                Phase::Expand,
                summary,
                stmts(&[ddl::add_foreign_key(t, fk, false)]),
            )
            .lock(t, LockMode::ShareRowExclusive);
        if fk.ref_schema != t.schema || fk.ref_table != t.name {
            spec = spec.lock_rel(&fk.ref_schema, &fk.ref_table, LockMode::ShareRowExclusive);
        }
        spec = spec.undo_by(drop_added(cx, t, fk));
        cx.push(add_keys(spec, t, fk));
        return;
    }
    add_not_valid_and_validate(cx, t, fk, Phase::Expand);
}

pub fn drop(cx: &mut Ctx<'_>, t: &Table, fk: &ForeignKey) {
    drop_step(cx, t, fk);
}

/// Plans the drop of a foreign key; returns the step id.
pub fn drop_step(cx: &mut Ctx<'_>, t: &Table, fk: &ForeignKey) -> String {
    let mut spec = cx
        .on(
            t,
            StepKind::DropForeignKey,
            Some(&fk.name),
            Phase::Contract,
            format!("Drop foreign key {} on {}", fk.name, t.display_name()),
            stmts(&[alter(t, Alter::DropConstraint(&fk.name))]),
        )
        .lock(t, LockMode::AccessExclusive);
    if fk.ref_schema != t.schema || fk.ref_table != t.name {
        spec = spec.lock_rel(&fk.ref_schema, &fk.ref_table, LockMode::AccessExclusive);
    }
    let table_dropped = cx
        .dropped_tables
        .contains(&(t.schema.clone(), t.name.clone()));
    if let Some(note) = lost_actions(t, fk).filter(|_| !table_dropped) {
        spec = spec.review(HazardKind::BreaksClients, note);
    }
    let used = referenced_key(cx, fk);
    cx.push(keys(spec, t, fk).uses(used))
}

/// What stops happening when a foreign key with referential actions is dropped.
fn lost_actions(t: &Table, fk: &ForeignKey) -> Option<String> {
    use crate::model::FkAction::{NoAction, Restrict};
    let acts: Vec<String> = [("ON DELETE", fk.on_delete), ("ON UPDATE", fk.on_update)]
        .into_iter()
        .filter(|(_, a)| !matches!(a, NoAction | Restrict))
        .map(|(w, a)| format!("{w} {}", a.sql()))
        .collect();
    (!acts.is_empty()).then(|| {
        format!(
            "Without foreign key {} ({}), changes to {}.{} no longer reach {}: rows that relied on it are left as they are.",
            fk.name,
            acts.join(", "),
            fk.ref_schema,
            fk.ref_table,
            t.display_name()
        )
    })
}

/// New definition under a temporary name, validated, then swapped in a short switch.
pub fn replace(cx: &mut Ctx<'_>, t: &Table, old: &ForeignKey, new: &ForeignKey) {
    let tmp = ForeignKey {
        name: naming::fit(&format!("{}_new", new.name)),
        ..new.clone()
    };
    let validated = add_not_valid_and_validate(cx, t, &tmp, Phase::Expand);
    let mut spec = cx
        .on(
            t,
            StepKind::DropForeignKey,
            Some(&old.name),
            Phase::Switch,
            format!(
                "Swap foreign key {} on {} to its new definition",
                new.name,
                t.display_name()
            ),
            stmts(&[
                alter(t, Alter::DropConstraint(&old.name)),
                alter(
                    t,
                    Alter::RenameConstraint {
                        from: &tmp.name,
                        to: &new.name,
                    },
                ),
            ]),
        )
        .lock(t, LockMode::AccessExclusive)
        .uses(referenced_key(cx, old))
        .after(&validated);
    if old.ref_schema != t.schema || old.ref_table != t.name {
        spec = spec.lock_rel(&old.ref_schema, &old.ref_table, LockMode::AccessExclusive);
    }
    // Back: the old definition added again as `<old>_old`, validated, and swapped back.
    let back = ForeignKey {
        name: naming::fit(&format!("{}_old", old.name)),
        ..old.clone()
    };
    let tname = t.display_name();
    let mut add_back = cx
        .on(
            t,
            StepKind::AddForeignKey,
            Some(&back.name),
            Phase::Expand,
            format!(
                "Add the old foreign key {} on {tname} again as {} NOT VALID",
                old.name, back.name
            ),
            stmts(&referenced_first(
                t,
                &back,
                LockMode::ShareRowExclusive,
                ddl::add_foreign_key(t, &back, true),
            )),
        )
        .lock(t, LockMode::ShareRowExclusive);
    let mut validate_back = cx
        .on(
            t,
            StepKind::ValidateConstraint,
            Some(&back.name),
            Phase::Validate,
            format!("Validate foreign key {} on {tname}", back.name),
            stmts(&[alter(t, Alter::ValidateConstraint(&back.name))]),
        )
        .lock(t, LockMode::ShareUpdateExclusive)
        .scan()
        .hazard(
            HazardKind::LongRunning,
            format!(
                "Validating foreign key {} reads all of {tname}; reads and writes continue.",
                back.name
            ),
        );
    let mut swap_back = cx
        .on(
            t,
            StepKind::DropForeignKey,
            Some(&new.name),
            Phase::Switch,
            format!(
                "Swap foreign key {} on {tname} back to its old definition",
                new.name
            ),
            stmts(&[
                alter(t, Alter::DropConstraint(&new.name)),
                alter(
                    t,
                    Alter::RenameConstraint {
                        from: &back.name,
                        to: &old.name,
                    },
                ),
            ]),
        )
        .lock(t, LockMode::AccessExclusive);
    if old.ref_schema != t.schema || old.ref_table != t.name {
        add_back = add_back.lock_rel(&old.ref_schema, &old.ref_table, LockMode::ShareRowExclusive);
        validate_back = validate_back.lock_rel(&old.ref_schema, &old.ref_table, LockMode::RowShare);
    }
    if new.ref_schema != t.schema || new.ref_table != t.name {
        swap_back = swap_back.lock_rel(&new.ref_schema, &new.ref_table, LockMode::AccessExclusive);
    }
    let spec = spec
        .undo_by(add_back)
        .undo_by(validate_back)
        .undo_by(swap_back);
    cx.push(spec);
}
