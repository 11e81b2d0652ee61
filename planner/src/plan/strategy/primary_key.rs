//! Primary keys on existing tables: a unique index built concurrently, then
//! `ADD CONSTRAINT ... PRIMARY KEY USING INDEX`, after the key columns are NOT NULL (so the
//! constraint does not scan under ACCESS EXCLUSIVE).

use super::*;
use crate::model::PrimaryKey;
use crate::naming;

fn attach(
    cx: &mut Ctx<'_>,
    t: &Table,
    key: &PrimaryKey,
    index: &str,
    drop_old: Option<&PrimaryKey>,
    after: &str,
) {
    let mut sql = Vec::new();
    if let Some(old) = drop_old {
        sql.push(alter(t, Alter::DropConstraint(&old.name)));
    }
    sql.push(alter(
        t,
        Alter::AddPrimaryKeyUsingIndex {
            name: &key.name,
            index,
        },
    ));
    let mut spec = cx
        .on(
            t,
            StepKind::AddPrimaryKey,
            Some(&key.name),
            Phase::Switch,
            format!(
                "Make ({}) the primary key of {} using its index (instant)",
                key.columns.join(", "),
                t.display_name()
            ),
            stmts(&sql),
        )
        .lock(t, LockMode::AccessExclusive)
        .after(after);
    spec = swap_keys(
        spec,
        t,
        drop_old.map(|o| o.columns.as_slice()),
        Some(&key.columns),
    );
    if let Some(old) = drop_old {
        spec = spec.review(
            HazardKind::BreaksClients,
            super::unique::on_conflict_note(t, &old.columns),
        );
    }
    for c in &key.columns {
        spec = spec.requires(format!("notnull:{}.{}.{c}", t.schema, t.name));
    }
    match drop_old {
        None => spec = spec.undo_by(super::unique::drop_added(cx, t, &key.name)),
        Some(old) => {
            for u in super::unique::swap_back(
                cx,
                t,
                &crate::model::Unique {
                    name: old.name.clone(),
                    columns: old.columns.clone(),
                    nulls_not_distinct: false,
                },
                &key.name,
                StepKind::AddPrimaryKey,
                |index| {
                    alter(
                        t,
                        Alter::AddPrimaryKeyUsingIndex {
                            name: &old.name,
                            index,
                        },
                    )
                },
            ) {
                spec = spec.undo_by(u);
            }
        }
    }
    cx.push(spec);
}

pub fn add(cx: &mut Ctx<'_>, t: &Table, key: &PrimaryKey) {
    let built =
        super::unique::build_unique_index(cx, t, &key.name, &key.columns, false, Phase::Expand);
    attach(cx, t, key, &key.name, None, &built);
}

pub fn replace(cx: &mut Ctx<'_>, t: &Table, old: &PrimaryKey, new: &PrimaryKey) {
    if super::foreign_key::refuse_if_referenced(cx, t, &old.columns, "the primary key") {
        return;
    }
    let tmp = naming::fit(&format!("{}_new", new.name));
    let built = super::unique::build_unique_index(cx, t, &tmp, &new.columns, false, Phase::Expand);
    attach(cx, t, new, &tmp, Some(old), &built);
}

pub fn drop(cx: &mut Ctx<'_>, t: &Table, key: &PrimaryKey) {
    if super::foreign_key::refuse_if_referenced(cx, t, &key.columns, "the primary key") {
        return;
    }
    let spec = cx
        .on(
            t,
            StepKind::DropPrimaryKey,
            Some(&key.name),
            Phase::Contract,
            format!("Drop the primary key of {}", t.display_name()),
            stmts(&[alter(t, Alter::DropConstraint(&key.name))]),
        )
        .lock(t, LockMode::AccessExclusive)
        .review(
            HazardKind::BreaksClients,
            super::unique::on_conflict_note(t, &key.columns),
        )
        .removes(unique_key(&t.schema, &t.name, &key.columns));
    cx.push(spec);
}
