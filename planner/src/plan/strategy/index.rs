//! Indexes on existing tables: `CREATE INDEX CONCURRENTLY` (SHARE UPDATE EXCLUSIVE: reads
//! and writes continue) as its own non-transactional step, `DROP INDEX CONCURRENTLY` in the
//! contract phase, and a changed definition built under a temporary name, then swapped.

use super::*;
use crate::ddl;
use crate::model::Index;
use crate::naming;

/// The step that builds `i` concurrently (not pushed, so callers can chain it).
pub fn build_step(cx: &Ctx<'_>, t: &Table, i: &Index, phase: Phase) -> StepSpec {
    cx.on(t, StepKind::CreateIndex, Some(&i.name), phase, format!("Build {}index {} on {} ({}){} concurrently", if i.unique { "unique " } else { "" }, i.name, t.display_name(), i.keys_label(), ddl::nulls_not_distinct(i.nulls_not_distinct)), stmts(&[ddl::create_index(t, i, true)]))
        .concurrently(&t.schema, &i.name)
        .lock(t, LockMode::ShareUpdateExclusive)
        .scan()
        .hazard(HazardKind::LongRunning, format!(
            "Building index {} reads {} twice without blocking reads or writes; it takes time and I/O proportional to the table's size{}. An interrupted build leaves an INVALID index, which `wesley apply` drops and rebuilds.",
            i.name,
            t.display_name(),
            if i.unique { ", and fails if duplicate values exist" } else { "" }
        ))
        .undo_by(drop_built(cx, t, &i.name))
}

/// The inverse of an index build: `DROP INDEX CONCURRENTLY IF EXISTS` (the build may only
/// have started, and an index a constraint took over went with the constraint).
pub fn drop_built(cx: &Ctx<'_>, t: &Table, name: &str) -> StepSpec {
    cx.on(
        t,
        StepKind::DropIndex,
        Some(name),
        Phase::Contract,
        format!(
            "Drop index {name} on {} concurrently, if it exists",
            t.display_name()
        ),
        stmts(&[ddl::drop_index_concurrently_if_exists(&t.schema, name)]),
    )
    .concurrently(&t.schema, name)
    .lock(t, LockMode::ShareUpdateExclusive)
}

/// The keys of `i` as messages name them: columns by name, expressions as written (in
/// parentheses when `parenthesised`, as `ON CONFLICT (...)` needs them).
fn key_labels(i: &Index, parenthesised: bool) -> Vec<String> {
    i.keys
        .iter()
        .map(|k| match k.expr() {
            Some(e) if !parenthesised => e.to_string(),
            _ => k.label(),
        })
        .collect()
}

/// Builds a new index: a unique one is a tightening old code notices. With `provides`,
/// foreign keys to its columns may be added once it is built (if it is a key they can
/// reference).
fn build(cx: &mut Ctx<'_>, t: &Table, i: &Index, phase: Phase, provides: bool) -> String {
    let mut spec = build_step(cx, t, i, phase);
    if i.unique {
        spec = spec.review(
            HazardKind::BreaksClients,
            super::unique::duplicates_fail_note(t, &key_labels(i, false), i.nulls_not_distinct),
        );
    }
    for c in i.mentioned_columns(t) {
        spec = spec.requires(c_key(t, &c));
    }
    if let Some((cols, _)) = referencable(i).filter(|_| provides) {
        spec = spec.provides(unique_key(&t.schema, &t.name, &cols));
    }
    cx.push(spec)
}

pub fn add(cx: &mut Ctx<'_>, t: &Table, i: &Index) {
    build(cx, t, i, Phase::Expand, true);
}

pub fn drop_sql(t: &Table, name: &str) -> String {
    crate::ddl::drop_index_concurrently(&t.schema, name)
}

pub fn drop(cx: &mut Ctx<'_>, t: &Table, i: &Index) {
    if let Some((cols, what)) = referencable(i) {
        if super::foreign_key::refuse_if_referenced(cx, t, &cols, &what) {
            return;
        }
    }
    let mut spec = cx
        .on(
            t,
            StepKind::DropIndex,
            Some(&i.name),
            Phase::Contract,
            format!("Drop index {} on {} concurrently", i.name, t.display_name()),
            stmts(&[drop_sql(t, &i.name)]),
        )
        .concurrently(&t.schema, &i.name)
        .lock(t, LockMode::ShareUpdateExclusive);
    if i.unique {
        spec = spec.review(
            HazardKind::BreaksClients,
            super::unique::on_conflict_note(t, &key_labels(i, true)),
        );
    }
    for c in i.mentioned_columns(t) {
        spec = spec.requires(c_key(t, &c));
    }
    if let Some(cols) = i.referencable_columns() {
        spec = spec.removes(unique_key(&t.schema, &t.name, &cols));
    }
    cx.push(spec);
}

/// [`Index::referencable_columns`], and what the messages call the index.
fn referencable(i: &Index) -> Option<(Vec<String>, String)> {
    i.referencable_columns()
        .map(|cols| (cols, format!("unique index {}", i.name)))
}

/// Builds the new definition as `<name>_new`, drops the old index, renames the new one.
pub fn replace(cx: &mut Ctx<'_>, t: &Table, old: &Index, new: &Index) {
    if let Some((cols, what)) = referencable(old) {
        if super::foreign_key::refuse_if_referenced(cx, t, &cols, &what) {
            return;
        }
    }
    let tmp = Index {
        name: naming::fit(&format!("{}_new", new.name)),
        ..new.clone()
    };
    let columns = |i: &Index| referencable(i).map(|(cols, _)| cols);
    let (old_key, new_key) = (columns(old), columns(new));
    // Over other columns, the new index is a key of its own as soon as it is built; over
    // the same ones, a foreign key added before the old index is dropped would take the
    // old one (PostgreSQL binds it to the first unique index that matches).
    let key = |c: &Option<Vec<String>>| c.as_deref().map(|c| unique_key(&t.schema, &t.name, c));
    let same = key(&old_key).is_some() && key(&old_key) == key(&new_key);
    let built = build(cx, t, &tmp, Phase::Expand, !same);
    let dropped = cx
        .on(
            t,
            StepKind::DropIndex,
            Some(&old.name),
            Phase::Switch,
            format!(
                "Drop the old index {} on {} concurrently",
                old.name,
                t.display_name()
            ),
            stmts(&[drop_sql(t, &old.name)]),
        )
        .concurrently(&t.schema, &old.name)
        .lock(t, LockMode::ShareUpdateExclusive)
        .after(&built);
    let dropped = swap_keys(
        dropped,
        t,
        old_key.as_deref(),
        new_key.as_deref().filter(|_| same),
    );
    // Back: the old definition built again (the rename of its replacement is undone first).
    let mut rebuild = build_step(cx, t, old, Phase::Expand);
    rebuild.step.sql = stmts(&[ddl::create_index_if_not_exists(t, old)]);
    let dropped = dropped.undo_by(rebuild);
    let dropped = cx.push(dropped);
    let renamed = cx
        .on(
            t,
            StepKind::RenameIndex,
            Some(&tmp.name),
            Phase::Switch,
            format!("Rename index {} to {}", tmp.name, new.name),
            stmts(&[ddl::rename_index(&t.schema, &tmp.name, &new.name)]),
        )
        .after(&dropped)
        .undo_by(cx.on(
            t,
            StepKind::RenameIndex,
            Some(&tmp.name),
            Phase::Expand,
            format!("Rename index {} back to {}", new.name, tmp.name),
            stmts(&[ddl::rename_index(&t.schema, &new.name, &tmp.name)]),
        ));
    cx.push(renamed);
}
