//! The canonical form of a schema model and its SHA-256 hash.
//!
//! The canonical form is a JSON document whose content is exactly what can also be read
//! back from a live PostgreSQL catalog, so the executor can hash a database and compare it
//! with a plan (drift detection). It is independent of the order types, fields,
//! directives and constraints are written in, and of `#` comments and whitespace:
//!
//! * enums sorted by qualified name, values in declaration order (order matters in SQL);
//! * tables sorted by qualified name; columns sorted by name, each with its type as
//!   `format_type()` prints it, `not_null`, and `has_default`; an identity column its
//!   generation, start and increment, a serial column `serial` (the sequence's name is
//!   not compared), a generated column `generated` (its expression is compared apart);
//! * primary key (name, ordered columns), uniques (and `nulls_not_distinct` where set),
//!   foreign keys (name, columns, referenced table and columns, actions), checks (name
//!   only), indexes (name, keys (an expression as `(expression)`), method, unique,
//!   `nulls_not_distinct` where set, partial), all sorted by name; `rls` on/off; policies (name, command,
//!   permissive, roles sorted) sorted by name;
//! * comments on tables and columns (from GraphQL descriptions), compared exactly as
//!   PostgreSQL stores them, and left out of the JSON where there is none;
//! * extensions (declared with `@wes_extensions`, or needed by a column type), sorted, left
//!   out of the JSON where there are none. A live database lists every installed one but
//!   `plpgsql`, and is compared as the expected schema sees it
//!   ([`CanonSchema::as_expected_by`]): only the extensions the schema lists count.
//!
//! SQL expression texts (defaults, generation expressions, check bodies, index predicates
//! and expressions, policy bodies) are not part of the hash: PostgreSQL stores them
//! re-printed (`'x'` becomes `'x'::text`), so only their presence and names are compared. Object keys appear in the order written below,
//! with no whitespace; the hash is `sha256:` + lowercase hex of the UTF-8 bytes.

use crate::model::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A schema's canonical form (see the module documentation for the rules).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CanonSchema {
    /// Enums, sorted by qualified name.
    pub enums: Vec<CanonEnum>,
    /// Tables, sorted by qualified name.
    pub tables: Vec<CanonTable>,
    /// Extensions, sorted: from a model those it declares or its column types need; from a
    /// live database every installed one but `plpgsql`. Compared through
    /// [`CanonSchema::as_expected_by`]; absent from the JSON when empty, so schemas without
    /// extensions hash as they did before extensions were compared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

/// An enum type's canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonEnum {
    /// `schema.name`, unquoted.
    pub name: String,
    /// Labels in declaration (sort) order.
    pub values: Vec<String>,
}

/// A table's canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonTable {
    /// `schema.name`, unquoted.
    pub name: String,
    /// Columns, sorted by name.
    pub columns: Vec<CanonColumn>,
    /// The primary key, if any.
    pub primary_key: Option<CanonKey>,
    /// Unique constraints, sorted by name.
    pub uniques: Vec<CanonKey>,
    /// Foreign keys, sorted by name.
    pub foreign_keys: Vec<CanonFk>,
    /// Names of CHECK constraints, sorted (bodies are compared apart, by the server).
    pub checks: Vec<String>,
    /// Non-constraint indexes, sorted by name.
    pub indexes: Vec<CanonIndex>,
    /// Row-level security enabled.
    pub rls: bool,
    /// Policies, sorted by name.
    pub policies: Vec<CanonPolicy>,
    /// `COMMENT ON TABLE` (`obj_description`); absent from the JSON when there is none, so
    /// schemas without descriptions hash as they did before comments were compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// A column's canonical form.
pub struct CanonColumn {
    /// Its name.
    pub name: String,
    /// The type as `format_type()` prints it (`SqlType::canonical`).
    #[serde(rename = "type")]
    pub ty: String,
    /// NOT NULL.
    pub not_null: bool,
    /// It has a default (the expression is compared apart). A serial column has one.
    pub has_default: bool,
    /// `GENERATED ... AS IDENTITY`; absent from the JSON for other columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<CanonIdentity>,
    /// Its default is `nextval` of a sequence it owns (a serial column); absent from the
    /// JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub serial: bool,
    /// `GENERATED ALWAYS AS (...) STORED` (`attgenerated = 's'`; the expression is compared
    /// apart); absent from the JSON when false. A generated column has no default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generated: bool,
    /// `COMMENT ON COLUMN` (`col_description`); absent from the JSON when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// An identity column's generation and sequence (`pg_attribute.attidentity`,
/// `pg_sequence`).
pub struct CanonIdentity {
    /// `ALWAYS` or `BY DEFAULT`.
    pub generated: String,
    /// The sequence's `START WITH`.
    pub start: i64,
    /// Its `INCREMENT BY`.
    pub increment: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// A primary key or unique constraint: name and ordered columns.
pub struct CanonKey {
    /// The constraint's name.
    pub name: String,
    /// Its columns, in key order.
    pub columns: Vec<String>,
    /// `NULLS NOT DISTINCT`; absent from the JSON when false, so schemas without it hash
    /// as they did before it was compared.
    #[serde(default, skip_serializing_if = "is_false")]
    pub nulls_not_distinct: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// A foreign key's canonical form.
pub struct CanonFk {
    /// The constraint's name.
    pub name: String,
    /// Referencing columns, in order.
    pub columns: Vec<String>,
    /// The referenced table, `schema.name`.
    pub references: String,
    /// Referenced columns, in order.
    pub ref_columns: Vec<String>,
    /// The `ON DELETE` action.
    pub on_delete: String,
    /// The `ON UPDATE` action.
    pub on_update: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// An index's canonical form.
pub struct CanonIndex {
    /// Its name.
    pub name: String,
    /// Its keys, in order: a column's name, or [`EXPRESSION_KEY`] for an expression.
    pub columns: Vec<String>,
    /// Access method, e.g. `btree`.
    pub method: String,
    /// A unique index.
    pub unique: bool,
    /// `NULLS NOT DISTINCT`; absent from the JSON when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub nulls_not_distinct: bool,
    /// It has a predicate (compared apart).
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// A policy's canonical form.
pub struct CanonPolicy {
    /// Its name.
    pub name: String,
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    /// Permissive (OR-ed), not restrictive (AND-ed).
    pub permissive: bool,
    /// Roles the policy applies to, sorted.
    pub roles: Vec<String>,
}

impl CanonSchema {
    /// Puts every list in canonical order (for canonical forms built from elsewhere,
    /// such as a live catalog).
    pub fn normalize(&mut self) {
        self.enums.sort_by(|a, b| a.name.cmp(&b.name));
        self.tables.sort_by(|a, b| a.name.cmp(&b.name));
        self.extensions.sort();
        self.extensions.dedup();
        for t in &mut self.tables {
            t.normalize();
        }
    }

    /// The oldest PostgreSQL major version that can hold this schema: 15 when a unique
    /// constraint or index is `NULLS NOT DISTINCT`, else 14 (the oldest Wesley supports).
    pub fn min_server_major(&self) -> u32 {
        let nnd = self.tables.iter().any(|t| {
            t.uniques.iter().any(|u| u.nulls_not_distinct)
                || t.indexes.iter().any(|i| i.nulls_not_distinct)
        });
        if nnd {
            15
        } else {
            14
        }
    }

    /// This (live) canonical form as a schema expecting the extensions `expected` sees it:
    /// only those extensions. A declared extension that is missing is a difference; one installed that
    /// the schema does not declare (`pg_stat_statements`, or one a schema stopped
    /// declaring: Wesley never drops extensions) is not the schema's business.
    pub fn as_expected_by(&self, expected: &[String]) -> CanonSchema {
        let mut out = self.clone();
        out.extensions.retain(|e| expected.contains(e));
        out
    }

    /// The canonical JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `sha256:<hex>` of the canonical JSON (written by [`SchemaHasher`]).
    pub fn hash(&self) -> String {
        let mut all = SchemaHasher::new(&self.enums);
        for t in &self.tables {
            all.add(t);
        }
        all.finish(&self.extensions)
    }

    /// [`CanonSchema::hash`] and every table's [`CanonTable::hash`] by name, from one
    /// serialisation: each table's JSON is written once and fed to its own hasher and to
    /// the schema's. The bytes hashed are exactly `serde_json`'s for the schema and for
    /// each table (a test compares both ways on random schemas).
    pub fn hashes(&self) -> (String, std::collections::BTreeMap<String, String>) {
        let mut all = SchemaHasher::new(&self.enums);
        let tables = self
            .tables
            .iter()
            .map(|t| (t.name.clone(), all.add_hashed(t)))
            .collect();
        (all.finish(&self.extensions), tables)
    }
}

/// A schema's hash ([`CanonSchema::hash`]) computed as its canonical JSON would be
/// written, one table at a time, so that a schema read as a stream (a live catalog, table
/// by table) is hashed without holding it whole. The bytes hashed are exactly those of
/// `serde_json` for the whole [`CanonSchema`], as long as the tables come in canonical
/// order (by name, byte-wise) and each is normalised ([`CanonTable::normalize`]); the
/// caller keeps to that order.
#[derive(Clone)]
pub struct SchemaHasher {
    all: Sha256,
    buf: Vec<u8>,
    tables: usize,
}

impl SchemaHasher {
    /// Starts a schema with these enums (sorted by name, as in [`CanonSchema`]).
    pub fn new(enums: &[CanonEnum]) -> SchemaHasher {
        let mut buf = Vec::new();
        // Writing into a vector cannot fail, and these plain structs always serialise.
        let _ = serde_json::to_writer(&mut buf, enums);
        let mut all = Sha256::new();
        all.update(b"{\"enums\":");
        all.update(&buf);
        all.update(b",\"tables\":[");
        SchemaHasher {
            all,
            buf,
            tables: 0,
        }
    }

    /// Adds the next table.
    pub fn add(&mut self, t: &CanonTable) {
        self.buf.clear();
        let _ = serde_json::to_writer(&mut self.buf, t);
        if self.tables > 0 {
            self.all.update(b",");
        }
        self.tables += 1;
        self.all.update(&self.buf);
    }

    /// [`SchemaHasher::add`], returning the table's own hash ([`CanonTable::hash`]) from
    /// the same bytes.
    pub fn add_hashed(&mut self, t: &CanonTable) -> String {
        self.add(t);
        format!("sha256:{}", hex::encode(Sha256::digest(&self.buf)))
    }

    /// The schema's hash, `sha256:` and 64 hex digits, with these extensions (sorted and
    /// without duplicates, as in [`CanonSchema`]).
    pub fn finish(mut self, extensions: &[String]) -> String {
        self.all.update(b"]");
        if !extensions.is_empty() {
            self.buf.clear();
            let _ = serde_json::to_writer(&mut self.buf, extensions);
            self.all.update(b",\"extensions\":");
            self.all.update(&self.buf);
        }
        self.all.update(b"}");
        format!("sha256:{}", hex::encode(self.all.finalize()))
    }
}

/// How an expression key of an index appears among its columns (the catalog has no
/// column for it; the expression's text is compared apart, by the server).
pub const EXPRESSION_KEY: &str = "(expression)";

fn action(a: FkAction) -> String {
    a.sql().to_string()
}

/// The canonical form of a model.
pub fn canonical(schema: &Schema) -> CanonSchema {
    let mut c = CanonSchema {
        tables: schema.tables.iter().map(canonical_table).collect(),
        ..canonical_head(schema)
    };
    c.normalize();
    c
}

/// The canonical form of the schema's enums and extensions, without its tables.
fn canonical_head(schema: &Schema) -> CanonSchema {
    let mut c = CanonSchema {
        enums: schema
            .enums
            .iter()
            .map(|e| CanonEnum {
                name: format!("{}.{}", e.schema, e.name),
                values: e.values.clone(),
            })
            .collect(),
        tables: Vec::new(),
        extensions: schema.extensions(),
    };
    c.normalize();
    c
}

/// One table's canonical form (lists sorted as in a whole schema's).
pub fn canonical_table(t: &Table) -> CanonTable {
    CanonTable {
        name: t.display_name(),
        columns: t
            .columns
            .iter()
            .map(|col| CanonColumn {
                name: col.name.clone(),
                ty: col.ty.canonical(),
                not_null: !col.nullable,
                has_default: col.default.is_some() || col.serial.is_some(),
                identity: col.identity.map(|i| CanonIdentity {
                    generated: i.generated().to_string(),
                    start: i.start,
                    increment: i.increment,
                }),
                serial: col.serial.is_some(),
                generated: col.generated.is_some(),
                comment: col.comment.clone(),
            })
            .collect(),
        primary_key: t.primary_key.as_ref().map(|k| CanonKey {
            name: k.name.clone(),
            columns: k.columns.clone(),
            nulls_not_distinct: false,
        }),
        uniques: t
            .uniques
            .iter()
            .map(|u| CanonKey {
                name: u.name.clone(),
                columns: u.columns.clone(),
                nulls_not_distinct: u.nulls_not_distinct,
            })
            .collect(),
        foreign_keys: t
            .foreign_keys
            .iter()
            .map(|f| CanonFk {
                name: f.name.clone(),
                columns: f.columns.clone(),
                references: format!("{}.{}", f.ref_schema, f.ref_table),
                ref_columns: f.ref_columns.clone(),
                on_delete: action(f.on_delete),
                on_update: action(f.on_update),
            })
            .collect(),
        checks: t.checks.iter().map(|c| c.name.clone()).collect(),
        indexes: t
            .indexes
            .iter()
            .map(|i| CanonIndex {
                name: i.name.clone(),
                columns: i
                    .keys
                    .iter()
                    .map(|k| k.column().unwrap_or(EXPRESSION_KEY).to_string())
                    .collect(),
                method: i.method.sql().to_string(),
                unique: i.unique,
                nulls_not_distinct: i.nulls_not_distinct,
                partial: i.predicate.is_some(),
            })
            .collect(),
        rls: t.rls_enabled,
        policies: t
            .policies
            .iter()
            .map(|p| CanonPolicy {
                name: p.name.clone(),
                command: p.command.sql().to_string(),
                permissive: !p.restrictive,
                roles: p.roles.clone(),
            })
            .collect(),
        comment: t.comment.clone(),
    }
}

impl CanonTable {
    /// `sha256:<hex>` of this table's canonical JSON (used to compare tables one by one).
    pub fn hash(&self) -> String {
        sha256_json(self)
    }

    /// Puts the table's lists in canonical order (for a table read from elsewhere, such as
    /// a live catalog): columns, keys, indexes and policies by name, checks and each
    /// policy's roles sorted.
    pub fn normalize(&mut self) {
        self.columns.sort_by(|a, b| a.name.cmp(&b.name));
        self.uniques.sort_by(|a, b| a.name.cmp(&b.name));
        self.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
        self.checks.sort();
        self.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        self.policies.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &mut self.policies {
            p.roles.sort();
        }
    }
}

/// `sha256:<hex>` of the model's canonical form: [`canonical`]`(schema).hash()`, computed
/// one table at a time ([`SchemaHasher`]) so that the whole canonical form is never held.
pub fn schema_hash(schema: &Schema) -> String {
    let head = canonical_head(schema);
    let mut tables: Vec<(String, &Table)> = schema
        .tables
        .iter()
        .map(|t| (t.display_name(), t))
        .collect();
    tables.sort_by(|a, b| a.0.cmp(&b.0));
    let mut all = SchemaHasher::new(&head.enums);
    for (_, t) in tables {
        let mut c = canonical_table(t);
        c.normalize();
        all.add(&c);
    }
    all.finish(&head.extensions)
}

/// One named expression: a column's default (named by the column), a check's body, a
/// partial index's predicate. (Index expressions: [`IndexKeys`].)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedExpr {
    /// The column, check or index it belongs to.
    pub name: String,
    /// The expression as written.
    pub text: String,
}

/// A policy's command, roles and expressions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyExpr {
    /// The policy's name.
    pub name: String,
    /// `USING`, as written.
    pub using: Option<String>,
    /// `WITH CHECK`, as written.
    pub check: Option<String>,
}

/// An index with expressions among its keys: its method and every key as `CREATE INDEX`
/// lists it (a quoted column, or an expression in parentheses), in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexKeys {
    /// The index's name.
    pub name: String,
    /// Its access method (`btree`, `gin`, ...): the expressions are normalised in an index
    /// of the same kind.
    pub method: String,
    /// Its keys, as written.
    pub keys: Vec<String>,
}

/// The SQL expressions of one table as the schema writes them. They are outside the hash
/// (PostgreSQL stores them re-printed); drift detection compares them after the server has
/// normalised both sides. Lists are sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableExpressions {
    /// `schema.table`.
    pub table: String,
    /// Column defaults, named by column.
    pub defaults: Vec<NamedExpr>,
    /// Generation expressions, named by column; absent from the JSON when there are none
    /// (so plan files of schemas without generated columns read as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generated: Vec<NamedExpr>,
    /// Check bodies, named by constraint.
    pub checks: Vec<NamedExpr>,
    /// Partial-index predicates, named by index.
    pub index_predicates: Vec<NamedExpr>,
    /// Policy expressions.
    pub policies: Vec<PolicyExpr>,
    /// Indexes with expression keys, sorted by name; absent from the JSON when there are
    /// none (so plan files of schemas without them are as they were).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub index_keys: Vec<IndexKeys>,
}

impl TableExpressions {
    /// The table has no expressions at all.
    pub fn is_empty(&self) -> bool {
        self.defaults.is_empty()
            && self.generated.is_empty()
            && self.checks.is_empty()
            && self.index_predicates.is_empty()
            && self.policies.is_empty()
            && self.index_keys.is_empty()
    }
}

/// The expressions of one table (see [`TableExpressions`]).
pub fn table_expressions(t: &Table) -> TableExpressions {
    let named = |list: Vec<(String, String)>| {
        let mut v: Vec<NamedExpr> = list
            .into_iter()
            .map(|(name, text)| NamedExpr { name, text })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    };
    let mut policies: Vec<PolicyExpr> = t
        .policies
        .iter()
        .map(|p| PolicyExpr {
            name: p.name.clone(),
            using: p.using.clone(),
            check: p.check.clone(),
        })
        .collect();
    policies.sort_by(|a, b| a.name.cmp(&b.name));
    TableExpressions {
        table: t.display_name(),
        defaults: named(
            t.columns
                .iter()
                .filter_map(|c| Some((c.name.clone(), c.default.as_ref()?.sql().to_string())))
                .collect(),
        ),
        generated: named(
            t.columns
                .iter()
                .filter_map(|c| Some((c.name.clone(), c.generated.clone()?)))
                .collect(),
        ),
        checks: named(
            t.checks
                .iter()
                .map(|c| (c.name.clone(), c.expr.clone()))
                .collect(),
        ),
        index_predicates: named(
            t.indexes
                .iter()
                .filter_map(|i| Some((i.name.clone(), i.predicate.clone()?)))
                .collect(),
        ),
        policies,
        index_keys: t
            .indexes
            .iter()
            .filter(|i| i.has_expressions())
            .map(|i| IndexKeys {
                name: i.name.clone(),
                method: i.method.sql().to_string(),
                keys: i.keys.iter().map(IndexKey::sql).collect(),
            })
            .collect(),
    }
}

/// The expressions of every table that has any, sorted by table.
pub fn expressions(schema: &Schema) -> Vec<TableExpressions> {
    let mut out: Vec<TableExpressions> = schema
        .tables
        .iter()
        .map(table_expressions)
        .filter(|e| !e.is_empty())
        .collect();
    out.sort_by(|a, b| a.table.cmp(&b.table));
    out
}

/// `sha256:<hex>` of `v`'s compact JSON, serialised straight into the hasher (the same
/// bytes as `serde_json::to_string`, without building the string).
pub(crate) fn sha256_json<T: Serialize>(v: &T) -> String {
    /// A hasher as an `io::Write` sink.
    struct Sink(Sha256);
    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sink = Sink(Sha256::new());
    // Writing into a hasher cannot fail, and these plain structs always serialise.
    let _ = serde_json::to_writer(&mut sink, v);
    format!("sha256:{}", hex::encode(sink.0.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An expression key is `(expression)` among the canonical columns (as the catalog
    /// reads it), its text one of the table's expressions; the model's JSON writes it as
    /// `{"expr": ...}` next to plain column names.
    #[test]
    fn expression_keys_in_the_canonical_form_and_the_expressions() {
        let src = r#"type Account @wes_table
          @wes_index(keys: ["orgId", "lower(handle)"])
          @wes_index(columns: ["orgId"]) {
          id: Int! @wes_pk
          orgId: Int!
          handle: String!
        }"#;
        let model = crate::sdl::parse("t.graphql", src).0.expect("valid");
        let t = &model.tables[0];
        let json = serde_json::to_string(&t.indexes).unwrap();
        assert!(
            json.contains(r#""columns":["org_id",{"expr":"lower(handle)"}]"#),
            "{json}"
        );
        assert!(json.contains(r#""columns":["org_id"]"#), "{json}");
        let canon = canonical_table(t);
        // Sorted by name: `account_org_id_idx`, then `account_org_id_lower_handle_idx`.
        assert_eq!(canon.indexes[0].columns, ["org_id"]);
        assert_eq!(canon.indexes[1].columns, ["org_id", EXPRESSION_KEY]);
        let e = table_expressions(t);
        assert_eq!(
            e.index_keys,
            [IndexKeys {
                name: "account_org_id_lower_handle_idx".into(),
                method: "btree".into(),
                keys: vec!["\"org_id\"".into(), "(lower(handle))".into()],
            }]
        );
        // Without expression keys the member is left out of plan files.
        let plain = TableExpressions {
            index_keys: vec![],
            ..e
        };
        assert!(!serde_json::to_string(&plain)
            .unwrap()
            .contains("index_keys"));
    }
}
