//! Reading a live database's schema into the planner's canonical form
//! ([`wesley_planner::canon::CanonSchema`]), so that a database and an SDL file hash alike
//! when they describe the same schema.
//!
//! The canonical JSON is built inside PostgreSQL, whole in one reply ([`CANONICAL_QUERY`])
//! or as a row per table ([`LIVE_QUERY`], which a run streams). Extensions are every
//! installed one but `plpgsql` (always there); a schema is compared with only those it
//! expects (`CanonSchema::as_expected_by`). Comments on tables and
//! columns come from `pg_description` through `obj_description`/`col_description`. It covers every schema
//! except the system ones and Wesley's own bookkeeping schema `wesley`. Its per-table
//! subqueries look columns up in `pg_attribute` itself (by its index on attrelid and
//! attnum), never in a CTE: a CTE has no index, and scanning one per key column made the
//! query quadratic in the number of tables (10 s for 776 tables).
//!
//! Each read runs in a read-only transaction with JIT off ([`without_jit`]): from about
//! 2,000 tables the queries' cost estimates pass `jit_above_cost` (and the optimisation
//! and inlining thresholds), and compiling them took 2.0 s of a 2.6 s read (PostgreSQL
//! 15.18 built with LLVM, 2,000 tables; `EXPLAIN ANALYZE`'s JIT timing).
//!
//! A stored generated column (`attgenerated = 's'`) is `generated`, without a default
//! (its expression lives in `pg_attrdef` like a default's, and is compared apart); a
//! PostgreSQL 18 virtual one (`'v'`) reads as a column with a default, which no schema
//! has.
//!
//! An identity column (`attidentity`) carries its generation and its sequence's start and
//! increment (`pg_sequence`, found through the `i` dependency); a column is `serial` when
//! its default is exactly `nextval` of a sequence it owns (an `a` dependency), as `serial`
//! makes it.
//!
//! The same database state reads the same on PostgreSQL 14 to 18. Version differences the
//! query absorbs, all in SQL every version accepts:
//! * PostgreSQL 18 records NOT NULL as `pg_constraint` rows with `contype = 'n'` (named
//!   `<table>_<column>_not_null`, or with a number appended when that name is taken). They
//!   are neither checks nor anything else in the canonical form: only the column's
//!   `not_null` says NOT NULL, as on earlier versions.
//! * PostgreSQL 18 sets `attnotnull` for a NOT NULL constraint added `NOT VALID` too, which
//!   existing rows may violate; such a column is not `not_null` until the constraint is
//!   validated (before 18 the same state is a NOT VALID `CHECK (col IS NOT NULL)`).
//! * PostgreSQL 18 can keep a check or foreign key `NOT ENFORCED`: it constrains nothing,
//!   so it is left out. Its `conenforced` column does not exist before 18, hence
//!   `to_jsonb(k) ->> 'conenforced'`, which is NULL there.
//! * PostgreSQL 15 added `NULLS NOT DISTINCT` unique constraints and indexes
//!   (`pg_index.indnullsnotdistinct`); 14 has no such column and no such index, hence
//!   `to_jsonb(i) ->> 'indnullsnotdistinct'`, NULL there and read as false.

use wesley_planner::canon::CanonSchema;

/// The catalog CTEs every canonical query starts with: `rels` (the tables) and `cols`.
macro_rules! ctes {
    () => {
        r#"
WITH rels AS (
  SELECT c.oid, n.nspname, c.relname, c.relrowsecurity
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'wesley')
    AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
),
cols AS (
  SELECT a.attrelid, a.attnum, a.attname,
    CASE
      WHEN t.typtype = 'e' THEN tn.nspname || '.' || t.typname
      WHEN t.typcategory = 'A' AND et.typtype = 'e' THEN etn.nspname || '.' || et.typname || '[]'
      ELSE format_type(a.atttypid, a.atttypmod)
    END AS type,
    a.attnotnull AND NOT EXISTS (SELECT 1 FROM pg_constraint k
      WHERE k.conrelid = a.attrelid AND k.contype = 'n' AND k.conkey[1] = a.attnum AND NOT k.convalidated) AS attnotnull,
    a.atthasdef AND a.attgenerated <> 's' AS atthasdef,
    a.attgenerated = 's' AS generated,
    CASE WHEN a.attidentity IN ('a', 'd') THEN (SELECT json_build_object(
        'generated', CASE a.attidentity WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END,
        'start', sq.seqstart, 'increment', sq.seqincrement)
      FROM pg_depend dp JOIN pg_sequence sq ON sq.seqrelid = dp.objid
      WHERE dp.classid = 'pg_class'::regclass AND dp.refclassid = 'pg_class'::regclass
        AND dp.refobjid = a.attrelid AND dp.refobjsubid = a.attnum AND dp.deptype = 'i')
    END AS identity,
    a.atthasdef AND a.attidentity = '' AND EXISTS (SELECT 1
      FROM pg_attrdef ad
      JOIN pg_depend dp ON dp.refobjid = ad.adrelid AND dp.refobjsubid = ad.adnum
        AND dp.classid = 'pg_class'::regclass AND dp.refclassid = 'pg_class'::regclass AND dp.deptype = 'a'
      JOIN pg_class sc ON sc.oid = dp.objid AND sc.relkind = 'S'
      WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        AND pg_get_expr(ad.adbin, ad.adrelid) = 'nextval(' || quote_literal(sc.oid::regclass::text) || '::regclass)') AS serial
  FROM pg_attribute a
  JOIN pg_type t ON t.oid = a.atttypid
  JOIN pg_namespace tn ON tn.oid = t.typnamespace
  LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
  LEFT JOIN pg_namespace etn ON etn.oid = et.typnamespace
  WHERE a.attnum > 0 AND NOT a.attisdropped
)
"#
    };
}

/// One table's canonical JSON, for the table `r` of `rels`.
macro_rules! table_json {
    () => {
        r#"json_build_object(
      'name', r.nspname || '.' || r.relname,
      'columns', COALESCE((SELECT json_agg(json_build_object('name', c.attname, 'type', c.type,
          'not_null', c.attnotnull, 'has_default', c.atthasdef,
          'identity', c.identity, 'serial', c.serial, 'generated', c.generated,
          'comment', col_description(c.attrelid, c.attnum)) ORDER BY c.attname)
        FROM cols c WHERE c.attrelid = r.oid), '[]'::json),
      'primary_key', (SELECT json_build_object('name', k.conname,
          'columns', (SELECT json_agg(cn.attname ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
                      JOIN pg_attribute cn ON cn.attrelid = k.conrelid AND cn.attnum = u.attnum))
        FROM pg_constraint k WHERE k.conrelid = r.oid AND k.contype = 'p'),
      'uniques', COALESCE((SELECT json_agg(json_build_object('name', k.conname,
          'columns', (SELECT json_agg(cn.attname ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
                      JOIN pg_attribute cn ON cn.attrelid = k.conrelid AND cn.attnum = u.attnum),
          'nulls_not_distinct', COALESCE((SELECT (to_jsonb(ki) ->> 'indnullsnotdistinct')::boolean
                      FROM pg_index ki WHERE ki.indexrelid = k.conindid), false)) ORDER BY k.conname)
        FROM pg_constraint k WHERE k.conrelid = r.oid AND k.contype = 'u'), '[]'::json),
      'foreign_keys', COALESCE((SELECT json_agg(json_build_object('name', k.conname,
          'columns', (SELECT json_agg(cn.attname ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
                      JOIN pg_attribute cn ON cn.attrelid = k.conrelid AND cn.attnum = u.attnum),
          'references', (SELECT fn.nspname || '.' || fc.relname FROM pg_class fc JOIN pg_namespace fn ON fn.oid = fc.relnamespace WHERE fc.oid = k.confrelid),
          'ref_columns', (SELECT json_agg(cn.attname ORDER BY u.ord) FROM unnest(k.confkey) WITH ORDINALITY u(attnum, ord)
                      JOIN pg_attribute cn ON cn.attrelid = k.confrelid AND cn.attnum = u.attnum),
          'on_delete', CASE k.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END,
          'on_update', CASE k.confupdtype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END
        ) ORDER BY k.conname)
        FROM pg_constraint k WHERE k.conrelid = r.oid AND k.contype = 'f' AND COALESCE((to_jsonb(k) ->> 'conenforced')::boolean, true)), '[]'::json),
      'checks', COALESCE((SELECT json_agg(k.conname ORDER BY k.conname)
        FROM pg_constraint k WHERE k.conrelid = r.oid AND k.contype = 'c' AND COALESCE((to_jsonb(k) ->> 'conenforced')::boolean, true)), '[]'::json),
      'indexes', COALESCE((SELECT json_agg(json_build_object('name', ic.relname,
          'columns', (SELECT json_agg(COALESCE(cn.attname, '(expression)') ORDER BY u.ord)
                      FROM unnest(string_to_array(i.indkey::text, ' ')::int2[]) WITH ORDINALITY u(attnum, ord)
                      LEFT JOIN pg_attribute cn ON cn.attrelid = i.indrelid AND cn.attnum = u.attnum),
          'method', am.amname, 'unique', i.indisunique,
          'nulls_not_distinct', COALESCE((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false),
          'partial', i.indpred IS NOT NULL) ORDER BY ic.relname)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
        WHERE i.indrelid = r.oid
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = r.oid AND k.contype IN ('p', 'u', 'x'))), '[]'::json),
      'rls', r.relrowsecurity,
      'policies', COALESCE((SELECT json_agg(json_build_object('name', p.polname,
          'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
          'permissive', p.polpermissive,
          'roles', COALESCE((SELECT json_agg(ro.rolname ORDER BY ro.rolname) FROM pg_roles ro WHERE ro.oid = ANY(p.polroles)), '[]'::json))
          ORDER BY p.polname)
        FROM pg_policy p WHERE p.polrelid = r.oid), '[]'::json),
      'comment', obj_description(r.oid, 'pg_class')
    )"#
    };
}

/// The enums' canonical JSON (an array).
macro_rules! enums_json {
    () => {
        r#"COALESCE((
    SELECT json_agg(json_build_object('name', n.nspname || '.' || t.typname,
      'values', (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
      ORDER BY n.nspname, t.typname)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typtype = 'e' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'wesley')
  ), '[]'::json)"#
    };
}

/// The extensions' canonical JSON (an array).
macro_rules! extensions_json {
    () => {
        r#"COALESCE((SELECT json_agg(x.extname::text ORDER BY x.extname)
    FROM pg_extension x WHERE x.extname <> 'plpgsql'), '[]'::json)"#
    };
}

/// Returns one row with one `text` column: the canonical form of the database, whole
/// (for psql: `wesley rehearse` and tests; a run streams [`LIVE_QUERY`] instead).
pub const CANONICAL_QUERY: &str = concat!(
    ctes!(),
    "SELECT json_build_object('enums', ",
    enums_json!(),
    ", 'tables', COALESCE((SELECT json_agg(",
    table_json!(),
    " ORDER BY r.nspname, r.relname) FROM rels r), '[]'::json), 'extensions', ",
    extensions_json!(),
    ")::text"
);

/// The same canonical form as [`CANONICAL_QUERY`], from one statement (one snapshot) as
/// rows of one `text` column, so that no reply holds every table: first the schema
/// without its tables (`"tables": []`), then each table's canonical JSON (its lists not
/// yet sorted: `CanonTable::normalize`) in canonical order, by `schema.table` as UTF-8
/// bytes, which is how Rust orders the same names, whatever the server's encoding.
pub const LIVE_QUERY: &str = concat!(
    ctes!(),
    "SELECT t FROM (SELECT 0 AS part, ''::bytea AS k, json_build_object('enums', ",
    enums_json!(),
    ", 'tables', '[]'::json, 'extensions', ",
    extensions_json!(),
    ")::text AS t UNION ALL SELECT 1, convert_to(r.nspname || '.' || r.relname, 'UTF8'), ",
    table_json!(),
    "::text FROM rels r) x ORDER BY part, k"
);

/// Runs `read` (catalog queries on `c`) in a read-only transaction with `jit = off`, then
/// commits (or rolls back when `read` fails). `c` must not be in a transaction, and
/// `read` must run to its end (a dropped read would leave the transaction open). A
/// transaction, not a session setting, so that nothing outlives the read, also through a
/// transaction-pooling connection pooler.
///
/// # Errors
/// `read`'s error, or the server's for the transaction itself.
pub async fn without_jit<T, F>(
    c: &tokio_postgres::Client,
    read: impl FnOnce() -> F,
) -> Result<T, crate::error::DbError>
where
    F: std::future::Future<Output = Result<T, crate::error::DbError>>,
{
    // Not the role's default isolation: a serializable deferrable one could wait for a
    // safe snapshot, and a standby refuses serializable.
    let begin =
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY, NOT DEFERRABLE; SET LOCAL jit = off";
    if let Err(e) = c.batch_execute(begin).await {
        let _ = c.batch_execute("ROLLBACK").await;
        return Err(e.into());
    }
    let out = read().await;
    let end = c
        .batch_execute(if out.is_ok() { "COMMIT" } else { "ROLLBACK" })
        .await;
    let out = out?;
    end?;
    Ok(out)
}

/// Parses the query's output into a normalized canonical form.
pub fn parse_canonical(json: &str) -> Result<CanonSchema, serde_json::Error> {
    let mut c: CanonSchema = serde_json::from_str(json.trim())?;
    c.normalize();
    Ok(c)
}
