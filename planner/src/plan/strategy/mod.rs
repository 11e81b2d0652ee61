//! Strategies: each change kind becomes one or more steps, one kind per file. Every choice
//! of statement and every lock annotation is grounded in locks measured on PostgreSQL 15
//! (`tests/tests/plan_apply.rs` checks every annotation against `pg_locks`). Steps declare
//! which objects they provide, require and remove; `graph` turns those into dependencies.

mod check;
mod column;
mod comment;
mod defaults;
mod enums;
mod foreign_key;
mod generated;
mod identity;
mod index;
mod key_type;
mod not_null;
mod primary_key;
mod rename;
mod rls;
mod table;
mod type_change;
mod unique;

use super::diff::Change;
use super::{Backfill, Hazard, HazardKind, Lock, LockMode, Phase, Step, StepKind, Undo};
use crate::ddl::{alter, Alter, AlterTable};
use crate::diag::{Code, Diagnostic};
use crate::model::{Schema, Table};
use std::collections::BTreeSet;

/// Plan diagnostic codes by what they mean (documented in docs/diagnostics.md).
pub mod codes {
    use crate::diag::Code;
    /// A NOT NULL column without a default added to an existing table.
    pub const NOT_NULL_WITHOUT_DEFAULT: Code = Code::E0101;
    /// Enum values removed or reordered.
    pub const ENUM_REWRITE: Code = Code::E0102;
    /// A type change that cannot be done online (docs/diagnostics.md lists the cases).
    pub const UNSUPPORTED_TYPE_CHANGE: Code = Code::E0103;
    /// The steps' dependencies form a cycle.
    pub const CYCLE: Code = Code::E0104;
    /// A backfill on a table without a primary key to batch by.
    pub const NO_KEY_FOR_BACKFILL: Code = Code::E0105;
    /// An identity or serial change with no online path (an unindexed column made identity,
    /// a new sequence-backed column on
    /// an existing table, a serial added to an existing column, identity back to serial,
    /// a type change of a sequence-backed column).
    pub const UNSUPPORTED_SEQUENCE_CHANGE: Code = Code::E0106;
    /// A generated column's expression changed, or a plain column made generated.
    pub const UNSUPPORTED_GENERATED_CHANGE: Code = Code::E0107;
    /// A primary key, unique constraint or unique index that kept foreign keys
    /// reference is dropped or replaced.
    pub const REFERENCED_KEY_CHANGE: Code = Code::E0108;
    /// A `@wes_convert` that does not apply (the type did not change from its `from`).
    pub const CONVERSION_IGNORED: Code = Code::W0110;
    /// An extension the new schema no longer declares: it stays installed.
    pub const EXTENSION_KEPT: Code = Code::W0111;
}

/// Rows per backfill batch unless the executor is told otherwise.
pub const DEFAULT_BATCH_SIZE: u32 = 1000;

/// A step under construction, plus the object keys used to derive dependencies.
#[derive(Debug, Clone)]
pub struct StepSpec {
    /// The step itself.
    pub step: Step,
    /// Objects this step creates or makes available (`table:s.t`, `column:s.t.c`, `enum:s.e`).
    pub provides: Vec<String>,
    /// Objects that must exist (or be in their final shape) before this step runs.
    pub requires: Vec<String>,
    /// Objects this step removes: every step requiring them runs first.
    pub removes: Vec<String>,
    /// Objects this step uses as they were before the plan (a foreign key's drop uses the
    /// key it references): every step removing them runs after it, in its phase or a
    /// later one; steps providing them are no concern.
    pub uses: Vec<String>,
    /// Explicit predecessors (ids), for chains within one change.
    pub after: Vec<String>,
}

/// The object key of a table: `table:schema.name`.
pub fn table_key(schema: &str, table: &str) -> String {
    format!("table:{schema}.{table}")
}

/// The object key of a column: `column:schema.table.name`.
pub fn column_key(schema: &str, table: &str, column: &str) -> String {
    format!("column:{schema}.{table}.{column}")
}

/// The object key of an enum type: `enum:schema.name`.
pub fn enum_key(schema: &str, name: &str) -> String {
    format!("enum:{schema}.{name}")
}

/// The object key of a primary key, unique constraint or unique index (without
/// predicate) over `columns` of a table, in any order: what a foreign key to those
/// columns needs (PostgreSQL: "there is no unique constraint matching given keys",
/// SQLSTATE 42830, without one). `unique:schema.table.a,b` with the columns sorted.
/// Unlike a named object, two keys may hold it at once (a new unique index before the
/// old constraint is dropped), so the graph never orders its removers before its
/// providers ([`is_capability`]).
pub fn unique_key(schema: &str, table: &str, columns: &[String]) -> String {
    let mut cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    cols.sort_unstable();
    format!("unique:{schema}.{table}.{}", cols.join(","))
}

/// Whether object key `key` is a capability several objects may provide at once
/// ([`unique_key`]) rather than one named object.
pub fn is_capability(key: &str) -> bool {
    key.starts_with("unique:")
}

/// The object keys of `spec`, a step that drops key `old` of `t` and attaches key `new`
/// in its place (`None`: not a key a foreign key can reference): it removes the old key
/// and provides the new one. A foreign key to the new key is added after it, not after
/// the build of its index: added before, it would take that index (or, over the same
/// columns, the old key's: PostgreSQL binds it to the first unique index that matches),
/// and undoing the attach (dropping the constraint with its index) would then fail
/// (SQLSTATE 2BP01).
pub fn swap_keys(
    mut spec: StepSpec,
    t: &Table,
    old: Option<&[String]>,
    new: Option<&[String]>,
) -> StepSpec {
    if let Some(o) = old {
        spec = spec.removes(unique_key(&t.schema, &t.name, o));
    }
    if let Some(n) = new {
        spec = spec.provides(unique_key(&t.schema, &t.name, n));
    }
    spec
}

/// [`table_key`] of `t`.
pub fn t_key(t: &Table) -> String {
    table_key(&t.schema, &t.name)
}

/// [`column_key`] of a column of `t`.
pub fn c_key(t: &Table, column: &str) -> String {
    column_key(&t.schema, &t.name, column)
}

/// Planning state: the two models, the steps so far, and diagnostics.
pub struct Ctx<'a> {
    /// The model the plan starts from.
    pub old: &'a Schema,
    /// The model it ends at.
    pub new: &'a Schema,
    /// The steps so far, in the order the strategies pushed them.
    pub specs: Vec<StepSpec>,
    /// Diagnostics so far.
    pub diags: Vec<Diagnostic>,
    /// (schema, name) of tables that exist only in the new model.
    pub new_tables: BTreeSet<(String, String)>,
    /// (schema, name) of tables that exist only in the old model.
    pub dropped_tables: BTreeSet<(String, String)>,
    /// Old names to new ones, for tables and columns kept across a rename.
    pub renames: super::diff::Renames,
    ids: BTreeSet<String>,
}

impl<'a> Ctx<'a> {
    /// Planning state for `old` → `new`, with tables paired as the diff pairs them.
    pub fn new(old: &'a Schema, new: &'a Schema) -> Self {
        let pairs = super::diff::match_tables(old, new);
        let new_tables = pairs
            .iter()
            .filter_map(|(o, n)| match (o, n) {
                (None, Some(t)) => Some((t.schema.clone(), t.name.clone())),
                _ => None,
            })
            .collect();
        let dropped_tables = pairs
            .iter()
            .filter_map(|(o, n)| match (o, n) {
                (Some(t), None) => Some((t.schema.clone(), t.name.clone())),
                _ => None,
            })
            .collect();
        Ctx {
            old,
            new,
            specs: Vec::new(),
            diags: Vec::new(),
            new_tables,
            dropped_tables,
            renames: super::diff::Renames::new(old, new),
            ids: BTreeSet::new(),
        }
    }

    /// `t` exists only in the new model.
    pub fn is_new_table(&self, t: &Table) -> bool {
        self.new_tables
            .contains(&(t.schema.clone(), t.name.clone()))
    }

    /// Starts a step on table `t`, finished with [`Ctx::push`]. Its id comes from its
    /// kind: `kind:schema.table[.object]`.
    pub fn on(
        &self,
        t: &Table,
        kind: StepKind,
        object: Option<&str>,
        phase: Phase,
        summary: String,
        sql: String,
    ) -> StepSpec {
        self.step(sid(kind, t, object), phase, kind, Some(t), summary, sql)
    }

    /// Starts a step that changes no one table (a schema, an extension, an enum); its id
    /// is `kind:name`.
    pub fn global(
        &self,
        kind: StepKind,
        name: &str,
        phase: Phase,
        summary: String,
        sql: String,
    ) -> StepSpec {
        self.step(
            format!("{}:{name}", kind.as_str()),
            phase,
            kind,
            None,
            summary,
            sql,
        )
    }

    fn step(
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
                timeout: super::TimeoutClass::Instant,
                cost: 1,
                index: None,
                undo: Undo::Refuses(
                    "no inverse is known for this step; plan forward instead".to_string(),
                ),
                undoes: None,
            },
            provides: Vec::new(),
            requires: Vec::new(),
            removes: Vec::new(),
            uses: Vec::new(),
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

    /// Reports error `code` about the plan (no place in a file).
    pub fn error(&mut self, code: Code, message: String, help: String) {
        debug_assert!(code.severity() == crate::diag::Severity::Error, "{code}");
        self.diags
            .push(Diagnostic::new(code, None, message).with_help(help));
    }

    /// Reports warning `code` about the plan (no place in a file).
    pub fn warning(&mut self, code: Code, message: String, help: String) {
        debug_assert!(code.severity() == crate::diag::Severity::Warning, "{code}");
        self.diags
            .push(Diagnostic::new(code, None, message).with_help(help));
    }

    /// The steps and diagnostics. A `blocks_reads`/`blocks_writes` hazard becomes a
    /// refusal when its step holds the blocking lock on an existing table while it scans
    /// or rewrites it: the block then lasts as long as the table takes to read, not a
    /// lock wait.
    pub fn finish(mut self) -> (Vec<StepSpec>, Vec<Diagnostic>) {
        // What an extension brings (types, functions, operator classes) may be used by any
        // step (a default, a check, an index): every other step comes after every
        // extension the plan creates.
        let extensions: Vec<String> = self
            .specs
            .iter()
            .filter(|s| s.step.kind == StepKind::CreateExtension)
            .flat_map(|s| s.provides.clone())
            .collect();
        for spec in &mut self.specs {
            if spec.step.kind != StepKind::CreateExtension {
                for e in &extensions {
                    if !spec.requires.contains(e) {
                        spec.requires.push(e.clone());
                    }
                }
            }
        }
        let new_tables: BTreeSet<String> = self
            .new_tables
            .iter()
            .map(|(sc, t)| format!("{sc}.{t}"))
            .collect();
        for spec in &mut self.specs {
            settle(&mut spec.step, &new_tables);
            // By the time a rollback runs, the plan's new tables exist and may be in use.
            if let Undo::Steps(inverse) = &mut spec.step.undo {
                for u in inverse {
                    settle(u, &BTreeSet::new());
                }
            }
        }
        (self.specs, self.diags)
    }
}

/// Sets the facts that follow from a finished step: its timeout class and cost, and the
/// severity of a `blocks_reads`/`blocks_writes` hazard, which becomes a refusal when the
/// step holds the blocking lock on a table outside `new_tables` while it scans or
/// rewrites it.
fn settle(s: &mut Step, new_tables: &BTreeSet<String>) {
    s.timeout = super::TimeoutClass::of(s.scan, s.rewrite, s.transactional, s.backfill.is_some());
    s.cost = super::cost_weight(s.backfill.is_some(), s.rewrite, s.scan);
    debug_assert!(
        s.transactional || s.index.is_some(),
        "non-transactional step {} names no index",
        s.id
    );
    let long = s.scan || s.rewrite;
    let existing = |rel: &str| !new_tables.contains(rel);
    let blocks_reads = long
        && s.locks
            .iter()
            .any(|l| l.blocks_reads && existing(&l.relation));
    let blocks_writes = long
        && s.locks
            .iter()
            .any(|l| l.blocks_writes && existing(&l.relation));
    for h in &mut s.hazards {
        if (h.kind == HazardKind::BlocksReads && blocks_reads)
            || (h.kind == HazardKind::BlocksWrites && blocks_writes)
        {
            h.severity = super::Severity::Refuse;
        }
    }
}

impl StepSpec {
    /// The step locks `t` in `mode` (as measured on PostgreSQL).
    pub fn lock(mut self, t: &Table, mode: LockMode) -> Self {
        self.step.locks.push(Lock::new(&t.schema, &t.name, mode));
        self
    }
    /// The step locks `schema.table` in `mode`.
    pub fn lock_rel(mut self, schema: &str, table: &str, mode: LockMode) -> Self {
        self.step.locks.push(Lock::new(schema, table, mode));
        self
    }
    /// A `CONCURRENTLY` index build or drop: runs outside a transaction; the executor
    /// checks the index by schema and name to make the step idempotent.
    pub fn concurrently(mut self, schema: &str, index: &str) -> Self {
        self.step.transactional = false;
        self.step.index = Some(super::IndexRef {
            schema: schema.to_string(),
            name: index.to_string(),
        });
        self
    }
    /// The step reads its whole table.
    pub fn scan(mut self) -> Self {
        self.step.scan = true;
        self
    }
    /// A hazard with its kind's default severity ([`HazardKind::default_severity`]).
    pub fn hazard(mut self, kind: HazardKind, message: String) -> Self {
        let severity = kind.default_severity();
        self.step.hazards.push(Hazard {
            kind,
            severity,
            message,
        });
        self
    }
    /// A hazard a reviewer should see that does not refuse the plan by default: a
    /// tightening the schema's author asked for, a change old code only notices on data
    /// that breaks the new rule.
    pub fn review(mut self, kind: HazardKind, message: String) -> Self {
        self.step.hazards.push(Hazard {
            kind,
            severity: super::Severity::Review,
            message,
        });
        self
    }
    /// The step is a batched backfill.
    pub fn backfill(mut self, b: Backfill) -> Self {
        self.step.backfill = Some(b);
        self
    }
    /// The step makes object `key` available.
    pub fn provides(mut self, key: String) -> Self {
        self.provides.push(key);
        self
    }
    /// The step needs object `key` first.
    pub fn requires(mut self, key: String) -> Self {
        self.requires.push(key);
        self
    }
    /// The step removes object `key` (steps that require it run first).
    pub fn removes(mut self, key: String) -> Self {
        self.removes.push(key);
        self
    }
    /// The step uses object `key` as it was before the plan (steps that remove it run
    /// after it; see [`StepSpec::uses`]).
    pub fn uses(mut self, key: String) -> Self {
        self.uses.push(key);
        self
    }
    /// The step runs after step `id`.
    pub fn after(mut self, id: &str) -> Self {
        self.after.push(id.to_string());
        self
    }
    /// One more inverse step (`wesley rollback`), run after the ones given before it.
    /// Build it with [`Ctx::on`]/[`Ctx::global`] like a forward step; its id, phase order
    /// and dependencies are set when the plan is assembled ([`crate::plan::Plan::rollback`]).
    /// Inverses must be idempotent (`IF EXISTS`): a resumed rollback may run one again, and
    /// the inverse of a `CONCURRENTLY` step runs even when the step may only have started.
    pub fn undo_by(mut self, inverse: StepSpec) -> Self {
        match &mut self.step.undo {
            Undo::Steps(list) => list.push(inverse.step),
            other => *other = Undo::Steps(vec![inverse.step]),
        }
        self
    }
    /// Nothing to undo ([`crate::plan::UndoKind::Nothing`]).
    pub fn undo_nothing(mut self) -> Self {
        self.step.undo = Undo::Nothing;
        self
    }
    /// It cannot be undone and `what` stays ([`crate::plan::UndoKind::Stays`]).
    pub fn undo_stays(mut self, what: String) -> Self {
        self.step.undo = Undo::Stays(what);
        self
    }
    /// Once it has run, rollback refuses, because `why` ([`crate::plan::UndoKind::Refuses`]).
    pub fn undo_refuses(mut self, why: String) -> Self {
        self.step.undo = Undo::Refuses(why);
        self
    }
}

/// Appends `;` and a newline to each statement and joins them.
pub fn stmts(list: &[String]) -> String {
    list.iter().map(|s| format!("{s};\n")).collect()
}

/// Id of a step: `kind:schema.table[.object]`.
fn sid(kind: StepKind, t: &Table, object: Option<&str>) -> String {
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
        Change::KeepExtension(e) => cx.warning(
            codes::EXTENSION_KEPT,
            format!("extension {e} is no longer declared or needed; Wesley never drops extensions, so it stays installed and is no longer compared"),
            format!("drop it by hand (`DROP EXTENSION \"{e}\"`, which fails while anything uses it) if the database no longer needs it"),
        ),
        Change::CreateEnum(e) => enums::create(cx, e),
        Change::AddEnumValues { old, new } => enums::add_values(cx, old, new),
        Change::RenameEnumValues { old, renames } => enums::rename_values(cx, old, renames),
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
        Change::SetDefault { table, old, column } => defaults::set(cx, table, old, column),
        Change::DropDefault { table, old, .. } => defaults::drop(cx, table, old),
        Change::ChangeIdentity { table, old, column } => identity::plan(cx, table, old, column),
        Change::ChangeGenerated { table, old, column } => {
            generated::change(cx, table, old, column)
        }
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
        Change::SetTableComment { table, old } => comment::table(cx, table, old.as_deref()),
        Change::SetColumnComment { table, column, old } => {
            comment::column(cx, table, column, old.as_deref())
        }
    }
}
