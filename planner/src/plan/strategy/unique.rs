//! Unique constraints on existing tables: `CREATE UNIQUE INDEX CONCURRENTLY` (with `NULLS
//! NOT DISTINCT` when the constraint says so), then `ADD CONSTRAINT ... UNIQUE USING
//! INDEX` (instant: the index already proves uniqueness, and the constraint takes over its
//! nulls-distinctness). A change of columns or of nulls-distinctness is a rebuild: a new
//! index built concurrently, swapped in at the switch.
//!
//! What old code notices: once the index exists, writes of duplicate values fail (a
//! tightening the author asked for: review). Without the constraint, `INSERT ... ON
//! CONFLICT` on its columns fails (review).

use super::*;
use crate::model::{Index, IndexKey, IndexMethod, Unique};
use crate::naming;

/// The step that builds a unique index concurrently (not yet pushed, so callers can
/// chain it after other steps), `NULLS NOT DISTINCT` when `nulls_not_distinct`.
pub fn unique_index_step(
    cx: &Ctx<'_>,
    t: &Table,
    name: &str,
    columns: &[String],
    nulls_not_distinct: bool,
    phase: Phase,
) -> StepSpec {
    let idx = Index {
        name: name.to_string(),
        keys: columns.iter().cloned().map(IndexKey::Column).collect(),
        method: IndexMethod::Btree,
        unique: true,
        nulls_not_distinct,
        predicate: None,
    };
    let nnd = crate::ddl::nulls_not_distinct(nulls_not_distinct);
    let mut spec = cx
        .on(t, StepKind::CreateIndex, Some(name), phase, format!("Build unique index {name} on {} ({}){nnd} concurrently", t.display_name(), columns.join(", ")), stmts(&[crate::ddl::create_index(t, &idx, true)]))
        .concurrently(&t.schema, name)
        .lock(t, LockMode::ShareUpdateExclusive)
        .scan()
        .hazard(HazardKind::LongRunning, format!("Building unique index {name} reads {} twice without blocking reads or writes; it takes time proportional to the table's size and fails if duplicate values exist (remove them, then resume).", t.display_name()))
        .undo_by(super::index::drop_built(cx, t, name));
    if !cx.is_new_table(t) {
        spec = spec.review(
            HazardKind::BreaksClients,
            duplicates_fail_note(t, columns, nulls_not_distinct),
        );
    }
    spec
}

/// What old code notices once a unique index on `columns` exists.
pub fn duplicates_fail_note(t: &Table, columns: &[String], nulls_not_distinct: bool) -> String {
    format!(
        "From this step on, writes that would duplicate a value of ({}) in {} fail (SQLSTATE 23505){}.",
        columns.join(", "),
        t.display_name(),
        if nulls_not_distinct {
            ", NULL counting as a value (NULLS NOT DISTINCT)"
        } else {
            ""
        }
    )
}

/// Builds a unique index concurrently on the given columns, for a constraint to attach;
/// returns the step id. The attach provides the key to foreign keys ([`swap_keys`]).
pub fn build_unique_index(
    cx: &mut Ctx<'_>,
    t: &Table,
    name: &str,
    columns: &[String],
    nulls_not_distinct: bool,
    phase: Phase,
) -> String {
    let mut spec = unique_index_step(cx, t, name, columns, nulls_not_distinct, phase);
    for c in columns {
        spec = spec.requires(c_key(t, c));
    }
    cx.push(spec)
}

pub fn add(cx: &mut Ctx<'_>, t: &Table, u: &Unique) {
    let built = build_unique_index(
        cx,
        t,
        &u.name,
        &u.columns,
        u.nulls_not_distinct,
        Phase::Expand,
    );
    let spec = cx
        .on(
            t,
            StepKind::AddUnique,
            Some(&u.name),
            Phase::Expand,
            format!(
                "Add unique constraint {} on {} ({}) using its index (instant)",
                u.name,
                t.display_name(),
                u.columns.join(", ")
            ),
            stmts(&[alter(
                t,
                Alter::AddUniqueUsingIndex {
                    name: &u.name,
                    index: &u.name,
                },
            )]),
        )
        .lock(t, LockMode::AccessExclusive)
        .provides(unique_key(&t.schema, &t.name, &u.columns))
        .after(&built)
        .undo_by(drop_added(cx, t, &u.name));
    cx.push(spec);
}

/// The inverse of adding a unique constraint or primary key: `DROP CONSTRAINT IF EXISTS`
/// (its index goes with it).
pub fn drop_added(cx: &Ctx<'_>, t: &Table, name: &str) -> StepSpec {
    cx.on(
        t,
        StepKind::DropUnique,
        Some(name),
        Phase::Contract,
        format!("Drop constraint {name} on {} again", t.display_name()),
        stmts(&[alter(t, Alter::DropConstraintIfExists(name))]),
    )
    .lock(t, LockMode::AccessExclusive)
}

/// The inverses of swapping constraint `new` (a unique constraint or primary key) for
/// `old` (its name, columns and `NULLS NOT DISTINCT`) in one transaction: `old`'s index
/// built again concurrently as `<old>_old`, then one transaction that drops `new` and
/// attaches that index as `old` (`attach` makes the `ADD CONSTRAINT ... USING INDEX`
/// statement).
pub fn swap_back(
    cx: &Ctx<'_>,
    t: &Table,
    old: &Unique,
    new_name: &str,
    kind: StepKind,
    attach: impl Fn(&str) -> String,
) -> Vec<StepSpec> {
    let (old_name, old_columns) = (&old.name, &old.columns);
    let tmp = naming::fit(&format!("{old_name}_old"));
    let mut build = unique_index_step(
        cx,
        t,
        &tmp,
        old_columns,
        old.nulls_not_distinct,
        Phase::Expand,
    );
    build
        .step
        .hazards
        .retain(|h| h.kind != HazardKind::BreaksClients);
    let swap = cx
        .on(
            t,
            kind,
            Some(old_name),
            Phase::Switch,
            format!(
                "Swap constraint {new_name} on {} back to {old_name} ({})",
                t.display_name(),
                old_columns.join(", ")
            ),
            stmts(&[alter(t, Alter::DropConstraint(new_name)), attach(&tmp)]),
        )
        .lock(t, LockMode::AccessExclusive);
    vec![build, swap]
}

/// What code that relied on a unique constraint sees once it is gone.
pub fn on_conflict_note(t: &Table, columns: &[String]) -> String {
    format!(
        "`INSERT ... ON CONFLICT ({})` on {} fails from this step on (SQLSTATE 42P10), and duplicate values are no longer refused.",
        columns.join(", "),
        t.display_name()
    )
}

pub fn drop(cx: &mut Ctx<'_>, t: &Table, u: &Unique) {
    let what = format!("unique constraint {}", u.name);
    if super::foreign_key::refuse_if_referenced(cx, t, &u.columns, &what) {
        return;
    }
    let mut spec = cx
        .on(
            t,
            StepKind::DropUnique,
            Some(&u.name),
            Phase::Contract,
            format!("Drop unique constraint {} on {}", u.name, t.display_name()),
            stmts(&[alter(t, Alter::DropConstraint(&u.name))]),
        )
        .lock(t, LockMode::AccessExclusive)
        .review(HazardKind::BreaksClients, on_conflict_note(t, &u.columns))
        .removes(unique_key(&t.schema, &t.name, &u.columns));
    for c in &u.columns {
        spec = spec.requires(c_key(t, c));
    }
    cx.push(spec);
}

/// New definition under a temporary index name; the switch drops the old constraint and
/// attaches the new index under the constraint's name.
pub fn replace(cx: &mut Ctx<'_>, t: &Table, old: &Unique, new: &Unique) {
    let what = format!("unique constraint {}", old.name);
    if super::foreign_key::refuse_if_referenced(cx, t, &old.columns, &what) {
        return;
    }
    let tmp = naming::fit(&format!("{}_new", new.name));
    let built = build_unique_index(
        cx,
        t,
        &tmp,
        &new.columns,
        new.nulls_not_distinct,
        Phase::Expand,
    );
    let spec = cx
        .on(
            t,
            StepKind::AddUnique,
            Some(&new.name),
            Phase::Switch,
            format!(
                "Swap unique constraint {} on {} to ({}){}",
                new.name,
                t.display_name(),
                new.columns.join(", "),
                crate::ddl::nulls_not_distinct(new.nulls_not_distinct)
            ),
            stmts(&[
                alter(t, Alter::DropConstraint(&old.name)),
                alter(
                    t,
                    Alter::AddUniqueUsingIndex {
                        name: &new.name,
                        index: &tmp,
                    },
                ),
            ]),
        )
        .lock(t, LockMode::AccessExclusive)
        .review(HazardKind::BreaksClients, on_conflict_note(t, &old.columns))
        .after(&built);
    let mut spec = swap_keys(spec, t, Some(&old.columns), Some(&new.columns));
    for u in swap_back(cx, t, old, &new.name, StepKind::AddUnique, |index| {
        alter(
            t,
            Alter::AddUniqueUsingIndex {
                name: &old.name,
                index,
            },
        )
    }) {
        spec = spec.undo_by(u);
    }
    cx.push(spec);
}
