//! Strategies: each change kind becomes one or more steps, one kind per file. Every choice
//! of statement and every lock annotation is grounded in locks measured on PostgreSQL 15
//! (docs/locks.md). Steps declare which objects they provide, require and remove; `graph`
//! turns those into dependencies.

mod check;
mod column;
mod defaults;
mod enums;
mod foreign_key;
mod index;
mod not_null;
mod primary_key;
mod rename;
mod rls;
mod table;
mod type_change;
mod unique;

use super::diff::Change;
use super::{Backfill, Hazard, HazardKind, Lock, LockMode, Phase, Step, StepKind};
use crate::diag::{Diagnostic, Pos};
use crate::model::{Schema, Table};
use std::collections::BTreeSet;

/// Plan diagnostic codes (documented in docs/diagnostics.md).
pub mod codes {
    pub const NOT_NULL_WITHOUT_DEFAULT: &str = "E0101";
    pub const ENUM_REWRITE: &str = "E0102";
    pub const UNSUPPORTED_TYPE_CHANGE: &str = "E0103";
    pub const CYCLE: &str = "E0104";
    pub const NO_KEY_FOR_BACKFILL: &str = "E0105";
}

/// Rows per backfill batch unless the executor is told otherwise.
pub const DEFAULT_BATCH_SIZE: u32 = 1000;

/// A step under construction, plus the object keys used to derive dependencies.
#[derive(Debug, Clone)]
pub struct StepSpec {
    pub step: Step,
    /// Objects this step creates or makes available (`table:s.t`, `column:s.t.c`, `enum:s.e`).
    pub provides: Vec<String>,
    /// Objects that must exist (or be in their final shape) before this step runs.
    pub requires: Vec<String>,
    /// Objects this step removes: every step requiring them runs first.
    pub removes: Vec<String>,
    /// Explicit predecessors (ids), for chains within one change.
    pub after: Vec<String>,
}

pub fn table_key(schema: &str, table: &str) -> String {
    format!("table:{schema}.{table}")
}

pub fn column_key(schema: &str, table: &str, column: &str) -> String {
    format!("column:{schema}.{table}.{column}")
}

pub fn enum_key(schema: &str, name: &str) -> String {
    format!("enum:{schema}.{name}")
}

pub fn t_key(t: &Table) -> String {
    table_key(&t.schema, &t.name)
}

pub fn c_key(t: &Table, column: &str) -> String {
    column_key(&t.schema, &t.name, column)
}

/// Planning state: the two models, the steps so far, and diagnostics.
pub struct Ctx<'a> {
    pub old: &'a Schema,
    pub new: &'a Schema,
    pub specs: Vec<StepSpec>,
    pub diags: Vec<Diagnostic>,
    /// (schema, name) of tables that exist only in the new model.
    pub new_tables: BTreeSet<(String, String)>,
    ids: BTreeSet<String>,
}

impl<'a> Ctx<'a> {
    pub fn new(old: &'a Schema, new: &'a Schema) -> Self {
        let new_tables = super::diff::match_tables(old, new)
            .into_iter()
            .filter_map(|(o, n)| {
                if o.is_none() {
                    n.map(|t| (t.schema.clone(), t.name.clone()))
                } else {
                    None
                }
            })
            .collect();
        Ctx {
            old,
            new,
            specs: Vec::new(),
            diags: Vec::new(),
            new_tables,
            ids: BTreeSet::new(),
        }
    }

    pub fn is_new_table(&self, t: &Table) -> bool {
        self.new_tables
            .contains(&(t.schema.clone(), t.name.clone()))
    }

    /// Starts a step on `table` (or none); finish it with [`Ctx::push`].
    pub fn step(
        &self,
        id: String,
        phase: Phase,
        kind: StepKind,
        table: Option<&Table>,
        summary: String,
        sql: String,
    ) -> StepSpec {
        StepSpec {
            step: Step {
                id,
                phase,
                kind,
                table: table.map(|t| (t.schema.clone(), t.name.clone())),
                summary,
                sql,
                transactional: true,
                depends_on: Vec::new(),
                locks: Vec::new(),
                rewrite: false,
                scan: false,
                hazards: Vec::new(),
                backfill: None,
            },
            provides: Vec::new(),
            requires: Vec::new(),
            removes: Vec::new(),
            after: Vec::new(),
        }
    }

    /// Adds a step; returns its id (made unique if needed).
    pub fn push(&mut self, mut spec: StepSpec) -> String {
        let base = spec.step.id.clone();
        let mut id = base.clone();
        let mut n = 2;
        while self.ids.contains(&id) {
            id = format!("{base}#{n}");
            n += 1;
        }
        spec.step.id = id.clone();
        self.ids.insert(id.clone());
        self.specs.push(spec);
        id
    }

    pub fn error(&mut self, code: &'static str, message: String, help: String) {
        self.diags
            .push(Diagnostic::error(code, "", Pos::new(1, 1), message).with_help(help));
    }

    pub fn finish(self) -> (Vec<StepSpec>, Vec<Diagnostic>) {
        (self.specs, self.diags)
    }
}

impl StepSpec {
    pub fn lock(mut self, t: &Table, mode: LockMode) -> Self {
        self.step.locks.push(Lock::new(&t.schema, &t.name, mode));
        self
    }
    pub fn lock_rel(mut self, schema: &str, table: &str, mode: LockMode) -> Self {
        self.step.locks.push(Lock::new(schema, table, mode));
        self
    }
    pub fn non_transactional(mut self) -> Self {
        self.step.transactional = false;
        self
    }
    pub fn scan(mut self) -> Self {
        self.step.scan = true;
        self
    }
    pub fn hazard(mut self, kind: HazardKind, message: String) -> Self {
        self.step.hazards.push(Hazard { kind, message });
        self
    }
    pub fn backfill(mut self, b: Backfill) -> Self {
        self.step.backfill = Some(b);
        self
    }
    pub fn provides(mut self, key: String) -> Self {
        self.provides.push(key);
        self
    }
    pub fn requires(mut self, key: String) -> Self {
        self.requires.push(key);
        self
    }
    pub fn removes(mut self, key: String) -> Self {
        self.removes.push(key);
        self
    }
    pub fn after(mut self, id: &str) -> Self {
        self.after.push(id.to_string());
        self
    }
}

/// Appends `;` and a newline to each statement and joins them.
pub fn stmts(list: &[String]) -> String {
    list.iter().map(|s| format!("{s};\n")).collect()
}

/// Id of a step: `kind:schema.table[.object]`.
pub fn sid(kind: StepKind, t: &Table, object: Option<&str>) -> String {
    match object {
        Some(o) => format!("{}:{}.{}.{}", kind.as_str(), t.schema, t.name, o),
        None => format!("{}:{}.{}", kind.as_str(), t.schema, t.name),
    }
}

/// Turns one change into steps.
pub fn plan_change(cx: &mut Ctx<'_>, change: &Change) {
    match change {
        Change::CreateSchema(s) => table::create_schema(cx, s),
        Change::CreateExtension(e) => table::create_extension(cx, e),
        Change::CreateEnum(e) => enums::create(cx, e),
        Change::AddEnumValues { old, new } => enums::add_values(cx, old, new),
        Change::RewriteEnum { old, new } => enums::rewrite(cx, old, new),
        Change::DropEnum(e) => enums::drop(cx, e),
        Change::CreateTable(t) => table::create(cx, t),
        Change::DropTable(t) => table::drop(cx, t),
        Change::RenameTable { old, new } => rename::table(cx, old, new),
        Change::AddColumn { table, column } => column::add(cx, table, column),
        Change::DropColumn { table, column } => column::drop(cx, table, column),
        Change::RenameColumn { table, old, new } => rename::column(cx, table, old, new),
        Change::ChangeColumnType {
            old_table,
            table,
            old,
            new,
        } => type_change::plan(cx, old_table, table, old, new),
        Change::SetNotNull { table, old, column } => not_null::set(cx, table, old, column),
        Change::DropNotNull { table, column } => not_null::drop(cx, table, column),
        Change::SetDefault { table, column } => defaults::set(cx, table, column),
        Change::DropDefault { table, column } => defaults::drop(cx, table, column),
        Change::AddPrimaryKey { table, key } => primary_key::add(cx, table, key),
        Change::DropPrimaryKey { table, key } => primary_key::drop(cx, table, key),
        Change::ReplacePrimaryKey { table, old, new } => primary_key::replace(cx, table, old, new),
        Change::AddUnique { table, unique } => unique::add(cx, table, unique),
        Change::DropUnique { table, unique } => unique::drop(cx, table, unique),
        Change::ReplaceUnique { table, old, new } => unique::replace(cx, table, old, new),
        Change::AddForeignKey {
            table,
            fk,
            new_table,
        } => foreign_key::add(cx, table, fk, *new_table),
        Change::DropForeignKey { table, fk } => foreign_key::drop(cx, table, fk),
        Change::ReplaceForeignKey { table, old, new } => foreign_key::replace(cx, table, old, new),
        Change::AddCheck { table, check } => check::add(cx, table, check),
        Change::DropCheck { table, check } => check::drop(cx, table, check),
        Change::ReplaceCheck { table, old, new } => check::replace(cx, table, old, new),
        Change::AddIndex { table, index } => index::add(cx, table, index),
        Change::DropIndex { table, index } => index::drop(cx, table, index),
        Change::ReplaceIndex { table, old, new } => index::replace(cx, table, old, new),
        Change::EnableRls(t) => rls::enable(cx, t),
        Change::DisableRls(t) => rls::disable(cx, t),
        Change::AddPolicy { table, policy } => rls::add_policy(cx, table, policy),
        Change::DropPolicy { table, policy } => rls::drop_policy(cx, table, policy),
        Change::AlterPolicy { table, old, new } => rls::alter_policy(cx, table, old, new),
        Change::RenameConstraint {
            table,
            old_name,
            new_name,
        } => rename::constraint(cx, table, old_name, new_name),
        Change::RenameIndex {
            table,
            old_name,
            new_name,
        } => rename::index(cx, table, old_name, new_name),
        Change::RenamePolicy {
            table,
            old_name,
            new_name,
        } => rename::policy(cx, table, old_name, new_name),
    }
}
