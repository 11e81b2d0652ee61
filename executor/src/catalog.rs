//! Reading a live database's schema in full, for `wesley introspect`: every table with its
//! columns in their order, their types, defaults and expressions as the server prints
//! them, and every object around them that the dialect cannot express (views, functions,
//! triggers, sequences, grants, comments, ...), so that the SDL writer
//! ([`crate::sdl_writer`]) can describe what it can and list what it cannot.
//!
//! Unlike [`crate::introspect`], which builds only the canonical form, this reads
//! everything; it shares its version rules (PostgreSQL 14 to 18, in SQL every version
//! accepts): NOT NULL is `attnotnull` unless a PostgreSQL 18 NOT NULL constraint is not
//! validated, 18's `contype = 'n'` rows are not constraints, and version-specific
//! columns are read through `to_jsonb(row) ->> 'column'` (NULL where they do not exist).
//!
//! Objects that belong to an extension (`pg_depend.deptype = 'e'`, e.g. citext's
//! functions) are left out: the extension brings them.

use crate::error::DbError;
use serde::Deserialize;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// Reads the schemas in `$1` (a `text[]`; NULL: every schema but the system ones and
/// Wesley's own `wesley`) as one JSON document.
pub const CATALOG_QUERY: &str = r#"
WITH nsp AS (
  SELECT n.oid, n.nspname FROM pg_namespace n
  WHERE n.nspname NOT IN ('information_schema', 'wesley') AND n.nspname !~ '^pg_'
    AND ($1::text[] IS NULL OR n.nspname = ANY($1::text[]))
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
),
ext_owned AS (
  SELECT d.classid, d.objid FROM pg_depend d WHERE d.deptype = 'e'
)
SELECT json_build_object(
  'database', current_database(),
  'schemas', COALESCE((SELECT json_agg(nspname ORDER BY nspname) FROM nsp), '[]'::json),
  'extensions', COALESCE((SELECT json_agg(extname ORDER BY extname) FROM pg_extension WHERE extname <> 'plpgsql'), '[]'::json),
  'enums', COALESCE((
    SELECT json_agg(json_build_object('schema', n.nspname, 'name', t.typname,
      'values', COALESCE((SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '[]'::json),
      'comment', obj_description(t.oid, 'pg_type'))
      ORDER BY n.nspname, t.typname)
    FROM pg_type t JOIN nsp n ON n.oid = t.typnamespace
    WHERE t.typtype = 'e'
      AND NOT EXISTS (SELECT 1 FROM ext_owned x WHERE x.classid = 'pg_type'::regclass AND x.objid = t.oid)
  ), '[]'::json),
  'tables', COALESCE((
    SELECT json_agg(json_build_object(
      'schema', n.nspname, 'name', c.relname, 'kind', c.relkind::text,
      'rls', c.relrowsecurity, 'force_rls', c.relforcerowsecurity,
      'persistence', c.relpersistence::text, 'options', c.reloptions,
      'comment', obj_description(c.oid, 'pg_class'),
      'acl', c.relacl::text[],
      'partition_key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
      'partition_of', (SELECT pn.nspname || '.' || pc.relname || ' ' || pg_get_expr(c.relpartbound, c.oid)
        FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
        WHERE i.inhrelid = c.oid AND c.relispartition LIMIT 1),
      'inherits', COALESCE((SELECT json_agg(pn.nspname || '.' || pc.relname ORDER BY i.inhseqno)
        FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
        WHERE i.inhrelid = c.oid AND NOT c.relispartition), '[]'::json),
      'columns', COALESCE((SELECT json_agg(json_build_object(
          'name', a.attname,
          'type', format_type(a.atttypid, a.atttypmod),
          'typtype', t.typtype::text,
          'array', t.typcategory = 'A' AND et.oid IS NOT NULL,
          'elem_typtype', et.typtype::text,
          'enum_schema', CASE WHEN t.typtype = 'e' THEN tn.nspname WHEN et.typtype = 'e' THEN etn.nspname END,
          'enum_name', CASE WHEN t.typtype = 'e' THEN t.typname WHEN et.typtype = 'e' THEN et.typname END,
          'not_null', a.attnotnull AND NOT EXISTS (SELECT 1 FROM pg_constraint k
            WHERE k.conrelid = a.attrelid AND k.contype = 'n' AND k.conkey[1] = a.attnum AND NOT k.convalidated),
          'default', pg_get_expr(ad.adbin, ad.adrelid),
          'identity', a.attidentity::text,
          'generated', a.attgenerated::text,
          'collation', CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
            THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END,
          'comment', col_description(c.oid, a.attnum),
          'acl', a.attacl::text[],
          'inherited', a.attinhcount > 0,
          'sequence', (SELECT sn.nspname || '.' || s.relname FROM pg_depend d
            JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
              AND d.refobjid = c.oid AND d.refobjsubid = a.attnum AND d.deptype IN ('a', 'i') LIMIT 1),
          'owned_sequence', (SELECT json_build_object('name', s.relname,
              'same_schema', s.relnamespace = c.relnamespace,
              'start', sq.seqstart, 'increment', sq.seqincrement,
              'plain', NOT sq.seqcycle AND sq.seqcache = 1 AND sq.seqtypid = a.atttypid
                AND sq.seqmax = CASE WHEN sq.seqincrement < 0 THEN -1
                  ELSE CASE sq.seqtypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647 ELSE 9223372036854775807 END END
                AND sq.seqmin = CASE WHEN sq.seqincrement > 0 THEN 1
                  ELSE CASE sq.seqtypid WHEN 'int2'::regtype THEN -32768 WHEN 'int4'::regtype THEN -2147483648 ELSE -9223372036854775808 END END,
              'nextval_default', ad.adbin IS NOT NULL
                AND pg_get_expr(ad.adbin, ad.adrelid) = 'nextval(' || quote_literal(s.oid::regclass::text) || '::regclass)')
            FROM pg_depend d
            JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
            JOIN pg_sequence sq ON sq.seqrelid = s.oid
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
              AND d.refobjid = c.oid AND d.refobjsubid = a.attnum AND d.deptype IN ('a', 'i') LIMIT 1)
        ) ORDER BY a.attnum)
        FROM pg_attribute a
        JOIN pg_type t ON t.oid = a.atttypid
        JOIN pg_namespace tn ON tn.oid = t.typnamespace
        LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
        LEFT JOIN pg_namespace etn ON etn.oid = et.typnamespace
        LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'::json),
      'constraints', COALESCE((SELECT json_agg(json_build_object(
          'name', k.conname, 'type', k.contype::text,
          'columns', COALESCE((SELECT json_agg(a.attname ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(num, ord)
            JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num), '[]'::json),
          'ref_schema', fn.nspname, 'ref_table', fc.relname,
          'ref_columns', COALESCE((SELECT json_agg(a.attname ORDER BY u.ord) FROM unnest(k.confkey) WITH ORDINALITY u(num, ord)
            JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num), '[]'::json),
          'on_delete', k.confdeltype::text, 'on_update', k.confupdtype::text, 'match', k.confmatchtype::text,
          'deferrable', k.condeferrable, 'validated', k.convalidated, 'no_inherit', k.connoinherit,
          'local', k.conislocal,
          'enforced', COALESCE((to_jsonb(k) ->> 'conenforced')::boolean, true),
          'expr', CASE WHEN k.contype = 'c' THEN pg_get_expr(k.conbin, k.conrelid) END,
          'definition', pg_get_constraintdef(k.oid),
          'comment', obj_description(k.oid, 'pg_constraint'),
          'index_extras', (SELECT i.indnatts > i.indnkeyatts OR ic.reloptions IS NOT NULL
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indexrelid = k.conindid AND k.contype IN ('p', 'u')),
          'nulls_not_distinct', COALESCE((SELECT (to_jsonb(i) ->> 'indnullsnotdistinct')::boolean
            FROM pg_index i WHERE i.indexrelid = k.conindid AND k.contype = 'u'), false)
        ) ORDER BY k.conname)
        FROM pg_constraint k
        LEFT JOIN pg_class fc ON fc.oid = k.confrelid
        LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
        WHERE k.conrelid = c.oid AND k.contype <> 'n'), '[]'::json),
      'indexes', COALESCE((SELECT json_agg(json_build_object(
          'name', ic.relname, 'method', am.amname, 'unique', i.indisunique,
          'columns', (SELECT json_agg(a.attname ORDER BY u.ord)
            FROM unnest(string_to_array(i.indkey::text, ' ')::int2[]) WITH ORDINALITY u(num, ord)
            LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.num
            WHERE u.ord <= i.indnkeyatts),
          'expressions', i.indexprs IS NOT NULL,
          'keys', (SELECT json_agg(pg_get_indexdef(i.indexrelid, k, true) ORDER BY k)
            FROM generate_series(1, i.indnkeyatts) k),
          'include', i.indnatts > i.indnkeyatts,
          'predicate', pg_get_expr(i.indpred, i.indrelid),
          'options', ic.reloptions,
          'plain', (SELECT COALESCE(bool_and(i.indoption[k] = 0 AND oc.opcdefault
                AND (i.indcollation[k] = 0 OR i.indcollation[k] = a.attcollation)), true)
            FROM generate_series(0, i.indnkeyatts - 1) k
            JOIN pg_opclass oc ON oc.oid = i.indclass[k]
            LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k]),
          'nulls_not_distinct', COALESCE((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false),
          'valid', i.indisvalid,
          'definition', pg_get_indexdef(i.indexrelid),
          'comment', obj_description(ic.oid, 'pg_class')
        ) ORDER BY ic.relname)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
        WHERE i.indrelid = c.oid
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = c.oid AND k.contype IN ('p', 'u', 'x'))), '[]'::json),
      'policies', COALESCE((SELECT json_agg(json_build_object(
          'name', p.polname, 'command', p.polcmd::text, 'permissive', p.polpermissive,
          'roles', COALESCE((SELECT json_agg(ro.rolname ORDER BY ro.rolname) FROM pg_roles ro WHERE ro.oid = ANY(p.polroles)), '[]'::json),
          'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid)
        ) ORDER BY p.polname)
        FROM pg_policy p WHERE p.polrelid = c.oid), '[]'::json),
      'triggers', COALESCE((SELECT json_agg(json_build_object('name', tg.tgname, 'definition', pg_get_triggerdef(tg.oid)) ORDER BY tg.tgname)
        FROM pg_trigger tg WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal), '[]'::json),
      'rules', COALESCE((SELECT json_agg(json_build_object('name', r.rulename, 'definition', pg_get_ruledef(r.oid)) ORDER BY r.rulename)
        FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'), '[]'::json),
      'statistics', COALESCE((SELECT json_agg(sx.stxname ORDER BY sx.stxname)
        FROM pg_statistic_ext sx WHERE sx.stxrelid = c.oid), '[]'::json)
    ) ORDER BY n.nspname, c.relname)
    FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
  ), '[]'::json),
  'others', COALESCE((SELECT json_agg(json_build_object('kind', o.kind, 'name', o.name, 'detail', o.detail) ORDER BY o.kind, o.name) FROM (
    SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' ELSE 'composite type' END AS kind,
      n.nspname || '.' || c.relname AS name, NULL::text AS detail
    FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('v', 'm', 'f', 'c')
      AND NOT EXISTS (SELECT 1 FROM ext_owned x WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid)
      AND NOT EXISTS (SELECT 1 FROM ext_owned x JOIN pg_type t ON t.oid = x.objid WHERE x.classid = 'pg_type'::regclass AND t.typrelid = c.oid)
    UNION ALL
    SELECT 'sequence', n.nspname || '.' || c.relname, 'not owned by a column'
    FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
    WHERE c.relkind = 'S'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i', 'e'))
    UNION ALL
    SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function' ELSE 'function' END,
      n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', NULL
    FROM pg_proc p JOIN nsp n ON n.oid = p.pronamespace
    WHERE NOT EXISTS (SELECT 1 FROM ext_owned x WHERE x.classid = 'pg_proc'::regclass AND x.objid = p.oid)
    UNION ALL
    SELECT CASE t.typtype WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range type' ELSE 'type' END,
      n.nspname || '.' || t.typname, CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END
    FROM pg_type t JOIN nsp n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('d', 'r', 'b') AND t.typcategory <> 'A'
      AND NOT EXISTS (SELECT 1 FROM ext_owned x WHERE x.classid = 'pg_type'::regclass AND x.objid = t.oid)
    UNION ALL
    SELECT 'collation', n.nspname || '.' || co.collname, NULL
    FROM pg_collation co JOIN nsp n ON n.oid = co.collnamespace
    WHERE NOT EXISTS (SELECT 1 FROM ext_owned x WHERE x.classid = 'pg_collation'::regclass AND x.objid = co.oid)
    UNION ALL
    SELECT 'event trigger', e.evtname, e.evtevent
    FROM pg_event_trigger e
    WHERE NOT EXISTS (SELECT 1 FROM ext_owned x WHERE x.classid = 'pg_event_trigger'::regclass AND x.objid = e.oid)
    UNION ALL
    SELECT 'default privileges', COALESCE(n.nspname, '(every schema)') || ' for ' || pg_get_userbyid(da.defaclrole),
      array_to_string(da.defaclacl, ', ')
    FROM pg_default_acl da LEFT JOIN pg_namespace n ON n.oid = da.defaclnamespace
    WHERE da.defaclnamespace = 0 OR da.defaclnamespace IN (SELECT oid FROM nsp)
    UNION ALL
    SELECT 'publication', pb.pubname, NULL FROM pg_publication pb
  ) o), '[]'::json)
)::text
"#;

/// A database's catalog as `wesley introspect` reads it (one query; PostgreSQL 14 to
/// 18; objects extensions own are left out).
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    /// `current_database()`.
    pub database: String,
    /// The schemas read.
    pub schemas: Vec<String>,
    /// Installed extensions, by name.
    pub extensions: Vec<String>,
    /// Enum types.
    pub enums: Vec<Enum>,
    /// Tables.
    pub tables: Vec<Table>,
    /// Everything else found.
    pub others: Vec<Other>,
}

/// An enum type.
#[derive(Debug, Clone, Deserialize)]
pub struct Enum {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// Labels in sort order.
    pub values: Vec<String>,
    /// `COMMENT ON TYPE`.
    pub comment: Option<String>,
}

/// A table (or partitioned table) with everything attached to it.
#[derive(Debug, Clone, Deserialize)]
pub struct Table {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// `r` (table) or `p` (partitioned table).
    pub kind: String,
    /// Row-level security enabled.
    pub rls: bool,
    /// `FORCE ROW LEVEL SECURITY`.
    pub force_rls: bool,
    /// `p` permanent, `u` unlogged.
    pub persistence: String,
    /// Storage parameters (`reloptions`).
    pub options: Option<Vec<String>>,
    /// `COMMENT ON TABLE`.
    pub comment: Option<String>,
    /// Grants (`relacl`), as the server prints them.
    pub acl: Option<Vec<String>>,
    /// `PARTITION BY ...` of a partitioned table.
    pub partition_key: Option<String>,
    /// `schema.parent FOR VALUES ...` of a partition.
    pub partition_of: Option<String>,
    /// Parents by inheritance, `schema.name`.
    pub inherits: Vec<String>,
    /// Columns in attribute order (dropped ones left out).
    pub columns: Vec<Column>,
    /// Constraints.
    pub constraints: Vec<Constraint>,
    /// Indexes that are not constraints'.
    pub indexes: Vec<Index>,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Triggers, except the internal ones of foreign keys.
    pub triggers: Vec<Named>,
    /// Rewrite rules.
    pub rules: Vec<Named>,
    /// Extended statistics objects, by name.
    pub statistics: Vec<String>,
}

/// A column (`pg_attribute`), with its type as the server prints it.
#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// `format_type()`.
    #[serde(rename = "type")]
    pub ty: String,
    /// `pg_type.typtype` of the column's type: `b` base, `e` enum, `d` domain, `c`
    /// composite, `r` range, `m` multirange.
    pub typtype: String,
    /// An array type.
    pub array: bool,
    /// `typtype` of the element type of an array.
    pub elem_typtype: Option<String>,
    /// The enum type's schema, for an enum or enum array.
    pub enum_schema: Option<String>,
    /// The enum type's name.
    pub enum_name: Option<String>,
    /// NOT NULL.
    pub not_null: bool,
    /// The default expression as the server prints it.
    pub default: Option<String>,
    /// `a` (ALWAYS) or `d` (BY DEFAULT) for identity columns, else empty.
    pub identity: String,
    /// `s` for stored generated columns, else empty.
    pub generated: String,
    /// A collation other than the type's default.
    pub collation: Option<String>,
    /// `COMMENT ON COLUMN`.
    pub comment: Option<String>,
    /// Column grants.
    pub acl: Option<Vec<String>>,
    /// Inherited from a parent table.
    pub inherited: bool,
    /// The sequence the column owns (serial, identity).
    pub sequence: Option<String>,
    /// That sequence in detail.
    pub owned_sequence: Option<OwnedSequence>,
}

/// The sequence a column owns (`pg_sequence`, through its `a` or `i` dependency).
#[derive(Debug, Clone, Deserialize)]
pub struct OwnedSequence {
    /// Its name (without the schema).
    pub name: String,
    /// It is in the table's schema.
    pub same_schema: bool,
    /// `START WITH`.
    pub start: i64,
    /// `INCREMENT BY`.
    pub increment: i64,
    /// Every other option is PostgreSQL's default for a sequence of the column's type
    /// (no CYCLE, CACHE 1, the type's range on the sequence's side of zero).
    pub plain: bool,
    /// The column's default is exactly `nextval` of this sequence (a serial column).
    pub nextval_default: bool,
}

/// A constraint (`pg_constraint`).
#[derive(Debug, Clone, Deserialize)]
pub struct Constraint {
    /// Its name.
    pub name: String,
    /// `p`, `u`, `f`, `c`, `x` (exclusion), `t` (constraint trigger).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// A foreign key's referenced schema.
    pub ref_schema: Option<String>,
    /// A foreign key's referenced table.
    pub ref_table: Option<String>,
    /// A foreign key's referenced columns.
    pub ref_columns: Vec<String>,
    /// A foreign key's `confdeltype` (`a`, `r`, `c`, `n`, `d`).
    pub on_delete: String,
    /// A foreign key's `confupdtype`.
    pub on_update: String,
    /// `s` simple, `f` full, `p` partial.
    #[serde(rename = "match")]
    pub match_type: String,
    /// DEFERRABLE.
    pub deferrable: bool,
    /// Validated (not `NOT VALID`).
    pub validated: bool,
    /// NO INHERIT.
    pub no_inherit: bool,
    /// Defined on this table (not only inherited).
    pub local: bool,
    /// Enforced (PostgreSQL 18 can have NOT ENFORCED constraints).
    pub enforced: bool,
    /// A check's expression as the server prints it.
    pub expr: Option<String>,
    /// `pg_get_constraintdef()`.
    pub definition: String,
    /// `COMMENT ON CONSTRAINT`.
    pub comment: Option<String>,
    /// INCLUDE columns or storage options on the index of a primary key or unique
    /// constraint.
    pub index_extras: Option<bool>,
    /// A unique constraint that is `NULLS NOT DISTINCT` (PostgreSQL 15+; false before).
    #[serde(default)]
    pub nulls_not_distinct: bool,
}

/// An index that is not a constraint's (`pg_index`).
#[derive(Debug, Clone, Deserialize)]
pub struct Index {
    /// Its name.
    pub name: String,
    /// Access method, e.g. `btree`.
    pub method: String,
    /// A unique index.
    pub unique: bool,
    /// Key columns; `None` for an expression.
    pub columns: Vec<Option<String>>,
    /// Some key is an expression.
    pub expressions: bool,
    /// Every key as the server prints it (`pg_get_indexdef(index, k, true)`): a column's
    /// name (quoted where needed) or an expression (in parentheses unless a function call).
    pub keys: Vec<String>,
    /// It has INCLUDE columns.
    pub include: bool,
    /// A partial index's predicate as the server prints it.
    pub predicate: Option<String>,
    /// Storage parameters.
    pub options: Option<Vec<String>>,
    /// Every key column in ascending order with its default operator class and collation.
    pub plain: bool,
    /// `NULLS NOT DISTINCT` (PostgreSQL 15+).
    pub nulls_not_distinct: bool,
    /// `indisvalid` (false after a failed concurrent build).
    pub valid: bool,
    /// `pg_get_indexdef()`.
    pub definition: String,
    /// `COMMENT ON INDEX`.
    pub comment: Option<String>,
}

/// A row-level security policy (`pg_policy`).
#[derive(Debug, Clone, Deserialize)]
pub struct Policy {
    /// Its name.
    pub name: String,
    /// `r` SELECT, `a` INSERT, `w` UPDATE, `d` DELETE, `*` ALL.
    pub command: String,
    /// Permissive (not restrictive).
    pub permissive: bool,
    /// Role names; empty for PUBLIC.
    pub roles: Vec<String>,
    /// `USING` as the server prints it.
    pub using: Option<String>,
    /// `WITH CHECK` as the server prints it.
    pub check: Option<String>,
}

/// A trigger or rule: its name and definition as the server prints it.
#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    /// Its name.
    pub name: String,
    /// Its definition.
    pub definition: String,
}

/// An object around the tables that the dialect has no words for (a view, function,
/// sequence, domain, grant, publication...), to be listed, never dropped silently.
#[derive(Debug, Clone, Deserialize)]
pub struct Other {
    /// What it is (`view`, `function`, `sequence`, ...).
    pub kind: String,
    /// Its name, `schema.name` where it has a schema.
    pub name: String,
    /// More about it, when there is more to say.
    pub detail: Option<String>,
}

/// Reads the catalog of `schemas` (empty: every non-system schema).
pub async fn read(c: &Client, schemas: &[String]) -> Result<Catalog, DbError> {
    let param: Option<Vec<String>> = (!schemas.is_empty()).then(|| schemas.to_vec());
    let row = crate::introspect::without_jit(c, || async {
        Ok(
            c.query_typed_one(CATALOG_QUERY, &[(&param, Type::TEXT_ARRAY)])
                .await?,
        )
    })
    .await?;
    let json: String = row.get(0);
    serde_json::from_str(&json)
        .map_err(|e| DbError::Unexpected(format!("cannot read the catalog: {e}")))
}
