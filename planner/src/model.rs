//! The validated schema model: plain data describing a PostgreSQL schema (enums, tables,
//! columns, keys, constraints, indexes, row-level security). Built by `sdl`, consumed by
//! `ddl`, `canon` and the migration planner. Collections are kept in a deterministic order:
//! tables and enums by (schema, name); columns in declaration order (which is the column
//! order of `CREATE TABLE`); constraints and indexes by name.

use crate::types::SqlType;
use serde::Serialize;

/// Re-exported: [`Default::volatility`] answers in it, but the classification (and so the
/// type) belongs to the SQL fragment lexer in [`crate::expr`].
pub use crate::expr::Volatility;

/// A whole data model, lowered from SDL (`crate::sdl`) or read from a live catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Schema {
    /// Enum types, in SDL order.
    pub enums: Vec<EnumType>,
    /// Tables, in SDL order (order does not change the canonical hash).
    pub tables: Vec<Table>,
    /// Extensions the schema declares (`@wes_extensions` on `schema`), sorted, without
    /// `plpgsql`. Left out of the JSON when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub declared_extensions: Vec<String>,
}

impl Schema {
    /// The table `schema.name`, names as PostgreSQL stores them.
    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }

    /// The enum type `schema.name`.
    pub fn enum_type(&self, schema: &str, name: &str) -> Option<&EnumType> {
        self.enums
            .iter()
            .find(|e| e.schema == schema && e.name == name)
    }

    /// PostgreSQL schemas other than `public` that the model uses.
    pub fn extra_schemas(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .tables
            .iter()
            .map(|t| t.schema.clone())
            .chain(self.enums.iter().map(|e| e.schema.clone()))
            .filter(|s| s != "public")
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Extensions the schema needs: those it declares and those its column types need
    /// (e.g. `citext`), sorted, each once.
    pub fn extensions(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .tables
            .iter()
            .flat_map(|t| t.columns.iter())
            .filter_map(|c| c.ty.base.extension())
            .map(str::to_string)
            .chain(self.declared_extensions.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// An enum type (`CREATE TYPE ... AS ENUM`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnumType {
    /// Its schema.
    pub schema: String,
    /// Its SQL name.
    pub name: String,
    /// The GraphQL enum it came from.
    pub graphql_name: String,
    /// Labels, in sort order.
    pub values: Vec<String>,
    /// Stable identities of labels (`@wes_uid` on an enum value), label → uid: the diff
    /// pairs labels by them first, so a label whose uid stays is renamed. Not part of the
    /// canonical form (the catalog has no such thing).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub uids: std::collections::BTreeMap<String, String>,
}

/// Metadata directives of a table or column (`@wes_uid`, `@wes_sensitive`, `@wes_pii`,
/// `@wes_critical`, `@wes_weight`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Meta {
    /// Stable identity across renames (`@wes_uid`): the diff pairs by it first.
    pub uid: Option<String>,
    /// Marked sensitive.
    pub sensitive: bool,
    /// Holds personal data.
    pub pii: bool,
    /// Marked critical.
    pub critical: bool,
    /// A relative weight the author gave it.
    pub weight: Option<i64>,
}

/// A table (`@wes_table` type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Its schema (`public` unless the type says otherwise).
    pub schema: String,
    /// Its SQL name.
    pub name: String,
    /// The GraphQL type it came from.
    pub graphql_name: String,
    /// Metadata directives.
    pub meta: Meta,
    /// Columns, in field order.
    pub columns: Vec<Column>,
    /// The primary key, if any.
    pub primary_key: Option<PrimaryKey>,
    /// Unique constraints.
    pub uniques: Vec<Unique>,
    /// Foreign keys from this table.
    pub foreign_keys: Vec<ForeignKey>,
    /// CHECK constraints.
    pub checks: Vec<Check>,
    /// Indexes that are not constraints.
    pub indexes: Vec<Index>,
    /// Row-level security is enabled.
    pub rls_enabled: bool,
    /// Row-level security policies.
    pub policies: Vec<Policy>,
    /// The GraphQL description of the type: `COMMENT ON TABLE`. Never empty (an empty
    /// description is no description, as an empty comment is none in PostgreSQL).
    pub comment: Option<String>,
}

impl Table {
    /// The column named `name` (its SQL name).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// `"schema"."name"`, quoted for SQL.
    pub fn qualified(&self) -> String {
        crate::sql::qualified(&self.schema, &self.name)
    }

    /// `schema.name` unquoted, as used in lock annotations and messages.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// A column (a field of a table type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// Its SQL name.
    pub name: String,
    /// The GraphQL field it came from.
    pub graphql_name: String,
    /// Its type.
    pub ty: SqlType,
    /// NULL allowed (the GraphQL type has no `!`).
    pub nullable: bool,
    /// `@wes_default`, if any.
    pub default: Option<Default>,
    /// Metadata directives.
    pub meta: Meta,
    /// How existing values become values of this column's type, when a change of type
    /// needs a conversion the author chose (`@wes_convert`). Not part of the schema's
    /// shape: it only guides the planner, and never reaches the canonical form or DDL.
    pub convert: Option<Convert>,
    /// The GraphQL description of the field: `COMMENT ON COLUMN`. Never empty.
    pub comment: Option<String>,
    /// `@wes_identity`: `GENERATED ... AS IDENTITY` (an integer column, NOT NULL, without
    /// a default).
    pub identity: Option<Identity>,
    /// `@wes_serial`: the column's default is `nextval` of a sequence it owns (what
    /// `serial` creates). The name of that sequence; only the presence is compared.
    pub serial: Option<String>,
    /// `@wes_generated`: `GENERATED ALWAYS AS (expr) STORED`, the expression as written
    /// (a checked SQL fragment over columns of the same table that are not generated).
    /// Such a column has no default, identity or serial, and is never written to. The
    /// canonical form has only its presence; drift compares the text as the server
    /// prints it.
    pub generated: Option<String>,
}

impl Column {
    /// Values come from a sequence: an identity or a serial column.
    pub fn is_sequence_backed(&self) -> bool {
        self.identity.is_some() || self.serial.is_some()
    }
}

/// `GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY (START WITH s INCREMENT BY i)`. The
/// start and increment are always filled in (PostgreSQL's defaults: increment 1; start 1
/// for an ascending sequence, -1 for a descending one), so a schema that spells them out
/// and one that leaves them to PostgreSQL are the same schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// `ALWAYS` (an explicit value needs `OVERRIDING SYSTEM VALUE`); else `BY DEFAULT`.
    pub always: bool,
    /// `START WITH`.
    pub start: i64,
    /// `INCREMENT BY` (never 0).
    pub increment: i64,
}

impl Identity {
    /// PostgreSQL's start for a sequence with this increment when none is given.
    pub fn default_start(increment: i64) -> i64 {
        if increment < 0 {
            -1
        } else {
            1
        }
    }

    /// `ALWAYS` or `BY DEFAULT`.
    pub fn generated(&self) -> &'static str {
        if self.always {
            "ALWAYS"
        } else {
            "BY DEFAULT"
        }
    }

    /// `GENERATED ... AS IDENTITY`, with the sequence options that differ from
    /// PostgreSQL's defaults.
    pub fn sql(&self) -> String {
        let mut opts = Vec::new();
        if self.start != Identity::default_start(self.increment) {
            opts.push(format!("START WITH {}", self.start));
        }
        if self.increment != 1 {
            opts.push(format!("INCREMENT BY {}", self.increment));
        }
        let mut s = format!("GENERATED {} AS IDENTITY", self.generated());
        if !opts.is_empty() {
            s.push_str(&format!(" ({})", opts.join(" ")));
        }
        s
    }
}

/// `@wes_convert(from: "varchar(40)", using: "left(code, 32)")`: the conversion to use
/// when the column's type changes from `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Convert {
    /// The old type as written: an SQL type (`varchar(40)`, `integer[]`) or an enum's
    /// GraphQL or SQL name, with `[]` for a list.
    pub from: String,
    /// An SQL expression over the column's value, which it names by the column's name.
    pub using: String,
}

/// A column default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Default {
    /// A literal already rendered as SQL (`'active'`, `0`, `true`, `NULL`).
    Literal(String),
    /// An SQL expression written by the user (checked to stay inside its statement).
    Expr(String),
}

impl Default {
    /// The default as SQL text.
    pub fn sql(&self) -> &str {
        match self {
            Default::Literal(s) | Default::Expr(s) => s,
        }
    }

    /// Whether evaluating the default gives a different value per row. Volatile defaults
    /// make `ADD COLUMN` rewrite the table.
    pub fn volatility(&self) -> Volatility {
        match self {
            Default::Literal(_) => Volatility::Immutable,
            Default::Expr(e) => crate::expr::volatility(e),
        }
    }
}

/// A primary key constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrimaryKey {
    /// The constraint's name (default `<table>_pkey`, as PostgreSQL names it).
    pub name: String,
    /// Its columns, in key order.
    pub columns: Vec<String>,
}

/// A unique constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unique {
    /// The constraint's name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// `NULLS NOT DISTINCT` (PostgreSQL 15+): rows whose columns are NULL conflict too.
    pub nulls_not_distinct: bool,
}

/// What a foreign key does when the referenced row is deleted or its key updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    /// Fail at the end of the statement (PostgreSQL's default).
    NoAction,
    /// Fail at once.
    Restrict,
    /// Delete or update the referencing rows too.
    Cascade,
    /// Set the referencing columns to NULL.
    SetNull,
    /// Set the referencing columns to their defaults.
    SetDefault,
}

impl FkAction {
    /// The SQL spelling, e.g. `SET NULL`.
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

    /// Reads `NO_ACTION`, `no action`, `set-null`, ... (case, spaces and dashes are
    /// ignored); `None` for anything else.
    pub fn parse(s: &str) -> Option<FkAction> {
        Some(
            match s.to_ascii_uppercase().replace([' ', '-'], "_").as_str() {
                "NO_ACTION" => FkAction::NoAction,
                "RESTRICT" => FkAction::Restrict,
                "CASCADE" => FkAction::Cascade,
                "SET_NULL" => FkAction::SetNull,
                "SET_DEFAULT" => FkAction::SetDefault,
                _ => return None,
            },
        )
    }
}

/// A foreign key constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    /// The constraint's name.
    pub name: String,
    /// The referencing columns of this table.
    pub columns: Vec<String>,
    /// The referenced table's schema.
    pub ref_schema: String,
    /// The referenced table.
    pub ref_table: String,
    /// The referenced columns (a primary key or unique constraint), in order.
    pub ref_columns: Vec<String>,
    /// `ON DELETE`.
    pub on_delete: FkAction,
    /// `ON UPDATE`.
    pub on_update: FkAction,
}

/// A CHECK constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The constraint's name.
    pub name: String,
    /// The boolean expression as written (a checked SQL fragment).
    pub expr: String,
}

/// An index access method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexMethod {
    /// B-tree (the default).
    Btree,
    /// Hash.
    Hash,
    /// GIN (arrays, jsonb, full text).
    Gin,
    /// GiST.
    Gist,
    /// BRIN (block ranges).
    Brin,
}

impl IndexMethod {
    /// The name `USING` takes, e.g. `gin`.
    pub fn sql(self) -> &'static str {
        match self {
            IndexMethod::Btree => "btree",
            IndexMethod::Hash => "hash",
            IndexMethod::Gin => "gin",
            IndexMethod::Gist => "gist",
            IndexMethod::Brin => "brin",
        }
    }

    /// Reads a method name (any case); `None` for an unknown one.
    pub fn parse(s: &str) -> Option<IndexMethod> {
        Some(match s.to_ascii_lowercase().as_str() {
            "btree" => IndexMethod::Btree,
            "hash" => IndexMethod::Hash,
            "gin" => IndexMethod::Gin,
            "gist" => IndexMethod::Gist,
            "brin" => IndexMethod::Brin,
            _ => return None,
        })
    }
}

/// One key of an index: a column, or an SQL expression over the table's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IndexKey {
    /// A column, by its SQL name (a string in the JSON).
    Column(String),
    /// An expression (a checked SQL fragment, as written; `{"expr": "..."}` in the JSON).
    Expr {
        /// The expression's text.
        expr: String,
    },
}

impl IndexKey {
    /// The key's column, when it is one.
    pub fn column(&self) -> Option<&str> {
        match self {
            IndexKey::Column(c) => Some(c),
            IndexKey::Expr { .. } => None,
        }
    }

    /// The key's expression, when it is one.
    pub fn expr(&self) -> Option<&str> {
        match self {
            IndexKey::Column(_) => None,
            IndexKey::Expr { expr } => Some(expr),
        }
    }

    /// The key in `CREATE INDEX`: a quoted column, or the expression in parentheses.
    pub fn sql(&self) -> String {
        match self {
            IndexKey::Column(c) => crate::sql::ident(c),
            IndexKey::Expr { expr } => format!("({expr})"),
        }
    }

    /// The key in messages: the column's name, or the expression in parentheses.
    pub fn label(&self) -> String {
        match self {
            IndexKey::Column(c) => c.clone(),
            IndexKey::Expr { expr } => format!("({expr})"),
        }
    }
}

/// An index that is not a constraint (`@wes_index`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    /// Its name (deterministic when not given).
    pub name: String,
    /// Its keys, in order: columns and expressions (`columns` in the JSON, where a column
    /// is a string and an expression `{"expr": "..."}`).
    #[serde(rename = "columns")]
    pub keys: Vec<IndexKey>,
    /// Access method.
    pub method: IndexMethod,
    /// A unique index.
    pub unique: bool,
    /// A unique index that is `NULLS NOT DISTINCT` (PostgreSQL 15+).
    pub nulls_not_distinct: bool,
    /// Partial-index predicate (`WHERE ...`).
    pub predicate: Option<String>,
}

impl Index {
    /// The columns of an index whose keys are all columns; `None` when an expression is
    /// among them.
    pub fn plain_columns(&self) -> Option<Vec<String>> {
        self.keys
            .iter()
            .map(|k| k.column().map(str::to_string))
            .collect()
    }

    /// The columns of a unique index that a foreign key may reference: unique, without
    /// predicate, its keys all columns (PostgreSQL's rule for a foreign key's target,
    /// "there is no unique constraint matching given keys", SQLSTATE 42830, otherwise).
    pub fn referencable_columns(&self) -> Option<Vec<String>> {
        self.plain_columns()
            .filter(|_| self.unique && self.predicate.is_none())
    }

    /// An expression is among its keys.
    pub fn has_expressions(&self) -> bool {
        self.keys.iter().any(|k| k.expr().is_some())
    }

    /// Columns of `t` the index depends on: its column keys, then the columns its
    /// expressions mention (each once, in that order).
    pub fn mentioned_columns(&self, t: &Table) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for k in &self.keys {
            let names = match k {
                IndexKey::Column(c) => vec![c.clone()],
                IndexKey::Expr { expr } => crate::expr::identifiers(expr)
                    .into_iter()
                    .filter(|w| t.column(w).is_some())
                    .collect(),
            };
            for n in names {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The keys as `CREATE INDEX` lists them: `"tenant_id", (lower(email))`.
    pub fn keys_sql(&self) -> String {
        self.keys
            .iter()
            .map(IndexKey::sql)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The keys in messages: `tenant_id, (lower(email))`.
    pub fn keys_label(&self) -> String {
        self.keys
            .iter()
            .map(IndexKey::label)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The command a row-level security policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyCommand {
    /// Every command.
    All,
    /// `SELECT` (a USING expression).
    Select,
    /// `INSERT` (a WITH CHECK expression).
    Insert,
    /// `UPDATE` (both).
    Update,
    /// `DELETE` (a USING expression).
    Delete,
}

impl PolicyCommand {
    /// The SQL keyword, e.g. `SELECT`.
    pub fn sql(self) -> &'static str {
        match self {
            PolicyCommand::All => "ALL",
            PolicyCommand::Select => "SELECT",
            PolicyCommand::Insert => "INSERT",
            PolicyCommand::Update => "UPDATE",
            PolicyCommand::Delete => "DELETE",
        }
    }
}

/// A row-level security policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Its name.
    pub name: String,
    /// The command it applies to.
    pub command: PolicyCommand,
    /// Restrictive policies are AND-ed with the permissive ones.
    pub restrictive: bool,
    /// Roles the policy applies to; empty means `PUBLIC`.
    pub roles: Vec<String>,
    /// `USING (...)`: which existing rows are visible or affected.
    pub using: Option<String>,
    /// `WITH CHECK (...)`: which new rows are accepted.
    pub check: Option<String>,
}

/// Plan helpers on column types.
pub trait BaseTypeExt {
    /// The dependency key of the enum this type uses, if any.
    fn enum_key(&self) -> Option<String>;
}

impl BaseTypeExt for crate::types::BaseType {
    fn enum_key(&self) -> Option<String> {
        match self {
            crate::types::BaseType::Enum { schema, name } => Some(format!("enum:{schema}.{name}")),
            _ => None,
        }
    }
}
