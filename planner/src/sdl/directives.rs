//! Directive spellings: `@wes_x` (canonical), `@wesley_x` and bare `@x` all mean the same
//! directive; `@primaryKey` is `@wes_pk` and `@foreignKey` is `@wes_fk`. Also finding an
//! argument by any of its names; the typed accessors that report a value of the wrong kind
//! are in `lower/arguments.rs`.

use graphql_parser::schema::{Directive, Value};

/// The directives Wesley understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectiveKind {
    /// `@wes_table`: the type is a table.
    Table,
    /// `@wes_column`: the field's column name.
    Column,
    /// `@wes_type`: the column's SQL type.
    Type,
    /// `@wes_pk`: primary key.
    Pk,
    /// `@wes_unique`: unique constraint.
    Unique,
    /// `@wes_fk`: foreign key.
    Fk,
    /// `@wes_index`: index.
    Index,
    /// `@wes_check`: CHECK constraint.
    Check,
    /// `@wes_default`: column default.
    Default,
    /// `@wes_convert`: the conversion of a type change.
    Convert,
    /// `@wes_identity`: `GENERATED ... AS IDENTITY`.
    Identity,
    /// `@wes_serial`: a column whose default is `nextval` of a sequence it owns.
    Serial,
    /// `@wes_generated`: `GENERATED ALWAYS AS (expr) STORED`.
    Generated,
    /// `@wes_rls`: row-level security and its policies.
    Rls,
    /// `@wes_tenant`: a tenant-isolation policy.
    Tenant,
    /// `@wes_owner`: an owner-only policy.
    Owner,
    /// `@wes_uid`: stable identity across renames.
    Uid,
    /// `@wes_sensitive`: metadata.
    Sensitive,
    /// `@wes_pii`: metadata.
    Pii,
    /// `@wes_weight`: metadata.
    Weight,
    /// `@wes_critical`: metadata.
    Critical,
    /// `@wes_hasMany`: a relation field (no column).
    HasMany,
    /// `@wes_hasOne`: a relation field (no column).
    HasOne,
    /// `@wes_belongsTo`: a relation field (no column).
    BelongsTo,
    /// `@wes_extensions`: on the `schema` definition, the extensions the schema needs.
    Extensions,
}

/// Maps any accepted spelling to its directive, or `None` for unknown directives.
pub fn canonical_directive(name: &str) -> Option<DirectiveKind> {
    let base = name
        .strip_prefix("wes_")
        .or_else(|| name.strip_prefix("wesley_"))
        .unwrap_or(name);
    Some(match base {
        "table" => DirectiveKind::Table,
        "column" => DirectiveKind::Column,
        "type" => DirectiveKind::Type,
        "pk" | "primaryKey" | "primary_key" => DirectiveKind::Pk,
        "unique" => DirectiveKind::Unique,
        "fk" | "foreignKey" | "foreign_key" => DirectiveKind::Fk,
        "index" => DirectiveKind::Index,
        "check" => DirectiveKind::Check,
        "default" => DirectiveKind::Default,
        "convert" => DirectiveKind::Convert,
        "identity" => DirectiveKind::Identity,
        "serial" => DirectiveKind::Serial,
        "generated" => DirectiveKind::Generated,
        "rls" => DirectiveKind::Rls,
        "tenant" => DirectiveKind::Tenant,
        "owner" => DirectiveKind::Owner,
        "uid" => DirectiveKind::Uid,
        "sensitive" => DirectiveKind::Sensitive,
        "pii" => DirectiveKind::Pii,
        "weight" => DirectiveKind::Weight,
        "critical" => DirectiveKind::Critical,
        "hasMany" | "has_many" => DirectiveKind::HasMany,
        "hasOne" | "has_one" => DirectiveKind::HasOne,
        "belongsTo" | "belongs_to" => DirectiveKind::BelongsTo,
        "extensions" => DirectiveKind::Extensions,
        _ => return None,
    })
}

pub type Dir<'a> = Directive<'a, &'a str>;
pub type Val<'a> = Value<'a, &'a str>;

/// The text of a string or enum value (`"x"` or `X`), which some arguments take either
/// way; `None` for any other kind of value.
pub fn word<'v>(v: &'v Val<'_>) -> Option<&'v str> {
    match v {
        Value::String(s) => Some(s),
        Value::Enum(s) => Some(s),
        _ => None,
    }
}

/// Looks up an argument by any of its names.
pub fn arg<'d, 'a>(d: &'d Dir<'a>, names: &[&str]) -> Option<(&'d str, &'d Val<'a>)> {
    d.arguments
        .iter()
        .find(|(n, _)| names.contains(n))
        .map(|(n, v)| (*n, v))
}

/// A human description of a GraphQL value's kind, for error messages.
pub fn kind_of(v: &Val<'_>) -> &'static str {
    match v {
        Value::Variable(_) => "a variable",
        Value::Int(_) => "a number",
        Value::Float(_) => "a number",
        Value::String(_) => "a string",
        Value::Boolean(_) => "a boolean",
        Value::Null => "null",
        Value::Enum(_) => "an enum value",
        Value::List(_) => "a list",
        Value::Object(_) => "an object",
    }
}
