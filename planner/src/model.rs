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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Schema {
    pub enums: Vec<EnumType>,
    pub tables: Vec<Table>,
}

impl Schema {
    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }

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

    /// Extensions the model's column types need (e.g. `citext`).
    pub fn extensions(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self
            .tables
            .iter()
            .flat_map(|t| t.columns.iter())
            .filter_map(|c| c.ty.base.extension())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnumType {
    pub schema: String,
    pub name: String,
    /// The GraphQL enum it came from.
    pub graphql_name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Meta {
    pub uid: Option<String>,
    pub sensitive: bool,
    pub pii: bool,
    pub critical: bool,
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// The GraphQL type it came from.
    pub graphql_name: String,
    pub meta: Meta,
    pub columns: Vec<Column>,
    pub primary_key: Option<PrimaryKey>,
    pub uniques: Vec<Unique>,
    pub foreign_keys: Vec<ForeignKey>,
    pub checks: Vec<Check>,
    pub indexes: Vec<Index>,
    pub rls_enabled: bool,
    pub policies: Vec<Policy>,
    /// The GraphQL description of the type: `COMMENT ON TABLE`. Never empty (an empty
    /// description is no description, as an empty comment is none in PostgreSQL).
    pub comment: Option<String>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn qualified(&self) -> String {
        crate::sql::qualified(&self.schema, &self.name)
    }

    /// `schema.name` unquoted, as used in lock annotations and messages.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    /// The GraphQL field it came from.
    pub graphql_name: String,
    pub ty: SqlType,
    pub nullable: bool,
    pub default: Option<Default>,
    pub meta: Meta,
    /// How existing values become values of this column's type, when a change of type
    /// needs a conversion the author chose (`@wes_convert`). Not part of the schema's
    /// shape: it only guides the planner, and never reaches the canonical form or DDL.
    pub convert: Option<Convert>,
    /// The GraphQL description of the field: `COMMENT ON COLUMN`. Never empty.
    pub comment: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrimaryKey {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unique {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub ref_schema: String,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub expr: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexMethod {
    Btree,
    Hash,
    Gin,
    Gist,
    Brin,
}

impl IndexMethod {
    pub fn sql(self) -> &'static str {
        match self {
            IndexMethod::Btree => "btree",
            IndexMethod::Hash => "hash",
            IndexMethod::Gin => "gin",
            IndexMethod::Gist => "gist",
            IndexMethod::Brin => "brin",
        }
    }

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub method: IndexMethod,
    pub unique: bool,
    /// Partial-index predicate (`WHERE ...`).
    pub predicate: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyCommand {
    All,
    Select,
    Insert,
    Update,
    Delete,
}

impl PolicyCommand {
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub name: String,
    pub command: PolicyCommand,
    /// Restrictive policies are AND-ed with the permissive ones.
    pub restrictive: bool,
    /// Roles the policy applies to; empty means `PUBLIC`.
    pub roles: Vec<String>,
    pub using: Option<String>,
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
