//! New and dropped tables (and the schemas and extensions new tables need).

use super::*;
use crate::ddl;
use crate::model::BaseTypeExt as _;
use crate::sql::{ident, qualified};

fn plural(n: usize, word: &str) -> String {
    match (n, word) {
        (1, w) => format!("1 {w}"),
        (n, "index") => format!("{n} indexes"),
        (n, w) => format!("{n} {w}s"),
    }
}

pub fn create_schema(cx: &mut Ctx<'_>, schema: &str) {
    let spec = cx
        .global(
            StepKind::CreateSchema,
            schema,
            Phase::Expand,
            format!("Create schema {schema}"),
            stmts(&[format!("CREATE SCHEMA IF NOT EXISTS {}", ident(schema))]),
        )
        .provides(format!("schema:{schema}"));
    let undo = cx.global(
        StepKind::DropSchema,
        schema,
        Phase::Expand,
        format!("Drop schema {schema} (fails while it holds anything)"),
        stmts(&[format!("DROP SCHEMA IF EXISTS {}", ident(schema))]),
    );
    let spec = spec.undo_by(undo);
    cx.push(spec);
}

pub fn create_extension(cx: &mut Ctx<'_>, ext: &str) {
    let spec = cx
        .global(
            StepKind::CreateExtension,
            ext,
            Phase::Expand,
            format!("Create extension {ext}"),
            stmts(&[format!("CREATE EXTENSION IF NOT EXISTS {}", ident(ext))]),
        )
        .provides(format!("extension:{ext}"))
        .undo_stays(format!(
            "extension {ext} stays installed (it may have been there before, and other objects may use it)"
        ));
    cx.push(spec);
}

/// `CREATE TABLE` with its columns, defaults, keys and checks, its comments, plus its indexes built
/// plainly in the same transaction: the table is new and empty, so CONCURRENTLY buys
/// nothing. Foreign keys and policies are separate steps.
pub fn create(cx: &mut Ctx<'_>, t: &Table) {
    let mut sql = vec![ddl::create_table(t)];
    sql.extend(ddl::rename_serial_sequences(t));
    sql.extend(ddl::comments(t));
    sql.extend(t.indexes.iter().map(|i| ddl::create_index(t, i, false)));
    let mut spec = cx
        .on(
            t,
            StepKind::CreateTable,
            None,
            Phase::Expand,
            format!(
                "Create table {} ({}, {})",
                t.display_name(),
                plural(t.columns.len(), "column"),
                plural(t.indexes.len(), "index")
            ),
            stmts(&sql),
        )
        .lock(t, LockMode::AccessExclusive)
        .provides(t_key(t));
    spec = spec.undo_by(drop_new(cx, t));
    for c in &t.columns {
        spec = spec.provides(c_key(t, &c.name));
        if let Some(k) = c.ty.base.enum_key() {
            spec = spec.requires(k);
        }
        if let Some(e) = c.ty.base.extension() {
            spec = spec.requires(format!("extension:{e}"));
        }
    }
    if t.schema != "public" {
        spec = spec.requires(format!("schema:{}", t.schema));
    }
    cx.push(spec);
}

/// The inverse of creating `t`: `DROP TABLE`, which deletes what was written to it since.
fn drop_new(cx: &Ctx<'_>, t: &Table) -> StepSpec {
    cx.on(
        t,
        StepKind::DropTable,
        None,
        Phase::Contract,
        format!("Drop table {} (created by the plan)", t.display_name()),
        stmts(&[format!("DROP TABLE {}", qualified(&t.schema, &t.name))]),
    )
    .lock(t, LockMode::AccessExclusive)
    .hazard(
        HazardKind::DeletesData,
        format!(
            "Rolling back drops table {}, created by the plan, with every row written to it since.",
            t.display_name()
        ),
    )
}

/// `DROP TABLE`, in the contract phase only. Dropping a table that has foreign keys also
/// takes ACCESS EXCLUSIVE on every table it references (measured). A foreign key to
/// another table that this plan also drops is dropped first, in its own step: tables that
/// reference each other (a cycle) could otherwise never be dropped one after the other.
pub fn drop(cx: &mut Ctx<'_>, t: &Table) {
    let mut fk_drops = Vec::new();
    for fk in &t.foreign_keys {
        let other = fk.ref_schema != t.schema || fk.ref_table != t.name;
        if other
            && cx
                .dropped_tables
                .contains(&(fk.ref_schema.clone(), fk.ref_table.clone()))
        {
            fk_drops.push(super::foreign_key::drop_step(cx, t, fk));
        }
    }
    let mut spec = cx
        .on(t, StepKind::DropTable, None, Phase::Contract, format!("Drop table {}", t.display_name()), stmts(&[format!("DROP TABLE {}", qualified(&t.schema, &t.name))]))
        .lock(t, LockMode::AccessExclusive)
        .hazard(HazardKind::DeletesData, format!("Dropping table {} deletes all its rows for good. Make sure no code reads or writes it, and take a backup if the data may be needed.", t.display_name()))
        .hazard(HazardKind::BreaksClients, format!("From this step on, queries that use {} fail (SQLSTATE 42P01).", t.display_name()))
        .removes(t_key(t));
    for fk in &t.foreign_keys {
        let dropped_first = cx
            .dropped_tables
            .contains(&(fk.ref_schema.clone(), fk.ref_table.clone()));
        if (fk.ref_schema != t.schema || fk.ref_table != t.name) && !dropped_first {
            // A kept table, by the name it has when the drop runs.
            let (rs, rt) = cx.renames.table(&fk.ref_schema, &fk.ref_table);
            spec = spec
                .lock_rel(&rs, &rt, LockMode::AccessExclusive)
                .requires(table_key(&rs, &rt))
                .uses(super::foreign_key::referenced_key(cx, fk));
        }
    }
    for id in &fk_drops {
        spec = spec.after(id);
    }
    for c in &t.columns {
        spec = spec.removes(c_key(t, &c.name));
        if let Some(k) = c.ty.base.enum_key() {
            spec = spec.requires(k);
        }
    }
    cx.push(spec);
}
