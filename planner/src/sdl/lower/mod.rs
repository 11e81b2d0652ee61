//! Lowering: from the GraphQL document to the validated [`Schema`], in passes. Every pass
//! reports every problem it can find instead of stopping at the first, and goes on with
//! what it could make sense of.
//!
//! The passes, in the order [`lower`] runs them, and where a new directive or check goes:
//!
//! - `definitions`: every named definition, and which object types are tables with which
//!   SQL names. A new kind of definition, or a rule about type names, goes here.
//! - `table`: one table per `@wes_table` type: columns (through `field`), keys, unique
//!   constraints, indexes and checks, the primary key, redundant indexes. A new
//!   table-level directive or constraint goes here.
//! - `indexes` (used by `table`): the keys of `@wes_index` on a type: columns,
//!   expressions, or both in order.
//! - `field`: one column per field: its type, nullability and column directives. A new
//!   column directive goes here (its default, if it has one, in `defaults`).
//! - `identity`: `@wes_identity` and `@wes_serial` against the column's type,
//!   nullability and default.
//! - `defaults`: `@wes_default` against the column's type.
//! - `generated`: `@wes_generated` against the field's other directives, then (once the
//!   table's columns are known) the columns its expression names and the primary key.
//!   A type's description becomes the table's comment, a field's the column's
//!   (`description`, in this module).
//! - `rls`: `@wes_rls`, `@wes_tenant`, `@wes_owner` and the tables policies read.
//! - `foreign_keys`: `@wes_fk`, once every table's columns are known.
//! - `names`: identifier limits, and names that share a PostgreSQL namespace.
//! - `extensions`: `@wes_extensions` on the `schema` definition. A new directive of the
//!   whole schema goes here.
//! - `arguments` (used by all of them): where each directive may stand, which arguments
//!   it accepts, and typed accessors that report values of the wrong kind. A new
//!   directive's arguments are listed here.
//!
//! A new directive is also spelled in `super::directives`, and documented in
//! docs/dialect.md; a new diagnostic code in docs/diagnostics.md.

mod arguments;
mod defaults;
mod definitions;
mod extensions;
mod field;
mod foreign_keys;
mod generated;
mod identity;
mod indexes;
mod names;
mod rls;
mod table;

use super::directives::Dir;
use super::locate;
use crate::diag::{Code, Diagnostic, Pos, Severity};
use crate::model::{EnumType, Schema, Table};
use graphql_parser::schema::{Document, Field, ObjectType};
use std::collections::BTreeMap;

type Obj<'a> = ObjectType<'a, &'a str>;
type Fld<'a> = Field<'a, &'a str>;

/// The position graphql-parser recorded, as a diagnostic position.
fn p(pos: graphql_parser::Pos) -> Pos {
    Pos::new(pos.line, pos.column)
}

/// A table in the making: its GraphQL object and what lowering learned about it.
struct Draft<'d, 'a> {
    /// The table's type in the document.
    pub obj: &'d Obj<'a>,
    /// The table so far: everything but its foreign keys.
    pub table: Table,
    /// field name → column name, for resolving `columns:` arguments.
    pub field_cols: BTreeMap<String, String>,
    /// Foreign keys waiting for every table to exist: (columns, directive); one column for
    /// `@wes_fk` on a field, `columns:` of one on the type.
    pub fks: Vec<(Vec<String>, &'d Dir<'a>)>,
}

/// What every pass shares: the file's name and text (to locate arguments) and the
/// diagnostics found so far.
struct Ctx<'s> {
    file: &'s str,
    src: &'s locate::Source<'s>,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    /// Reports error `code` at `pos`.
    fn err(&mut self, code: Code, pos: Pos, msg: impl Into<String>, help: impl Into<String>) {
        debug_assert_eq!(code.severity(), Severity::Error, "{code}");
        self.diags
            .push(Diagnostic::at(code, self.file, pos, msg).with_help(help));
    }

    /// Reports warning `code` at `pos`.
    fn warn(&mut self, code: Code, pos: Pos, msg: impl Into<String>, help: impl Into<String>) {
        debug_assert_eq!(code.severity(), Severity::Warning, "{code}");
        self.diags
            .push(Diagnostic::at(code, self.file, pos, msg).with_help(help));
    }
}

/// A type's or field's GraphQL description as the comment PostgreSQL stores: `None` when
/// there is none or it is empty (an empty comment is no comment in PostgreSQL). A NUL
/// character, which PostgreSQL's text cannot hold, is error E0016 at `pos` (the type or
/// field the description belongs to; `what` names it).
fn description(cx: &mut Ctx<'_>, text: &Option<String>, pos: Pos, what: &str) -> Option<String> {
    let text = text.as_deref().filter(|t| !t.is_empty())?;
    if text.contains('\0') {
        cx.err(
            Code::E0016,
            pos,
            format!("the description of {what} contains a NUL character (`\\u0000`), which a PostgreSQL comment cannot hold"),
            "remove the `\\u0000` escape from the description",
        );
        return None;
    }
    Some(text.to_string())
}

/// Lowers a parsed document (`src` is its text, `file` the name diagnostics carry) into
/// the schema model and every diagnostic found. The schema is complete only when no
/// diagnostic is an error; the caller decides what to return.
pub fn lower<'a>(
    file: &str,
    src: &'a str,
    doc: &Document<'a, &'a str>,
) -> (Schema, Vec<Diagnostic>) {
    let source = locate::Source::new(src);
    let mut cx = Ctx {
        file,
        src: &source,
        diags: Vec::new(),
    };

    // Pass 1: every named definition; which objects are tables, and their SQL names.
    let defs = definitions::collect(&mut cx, doc);

    // Pass 2: columns, keys, constraints, indexes, policies of each table.
    let mut used_enums: BTreeMap<String, EnumType> = BTreeMap::new();
    let mut drafts: Vec<Draft<'_, '_>> = Vec::with_capacity(defs.table_objs.len());
    for &o in &defs.table_objs {
        drafts.push(table::lower_table(&mut cx, o, &defs, &mut used_enums));
    }

    // Pass 3: foreign keys, now that every table's columns are known.
    foreign_keys::resolve_all(&mut cx, &mut drafts);

    // Policy texts may name tables: check those exist.
    rls::check_policy_relations(&mut cx, &drafts, &defs.table_names);

    let mut tables: Vec<Table> = drafts.into_iter().map(|d| d.table).collect();
    for t in &mut tables {
        t.uniques.sort_by(|a, b| a.name.cmp(&b.name));
        t.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
        t.checks.sort_by(|a, b| a.name.cmp(&b.name));
        t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        t.policies.sort_by(|a, b| a.name.cmp(&b.name));
    }
    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    let mut enum_list: Vec<EnumType> = used_enums.into_values().collect();
    enum_list.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    let schema = Schema {
        enums: enum_list,
        tables,
        declared_extensions: extensions::declared(&mut cx, doc),
    };

    // Pass 4: names that share a PostgreSQL namespace.
    names::check_name_collisions(&mut cx, &schema, &defs.kinds);
    (schema, cx.diags)
}
