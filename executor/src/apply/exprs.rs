//! Drift in SQL expressions: defaults, generation expressions, check bodies, partial-index
//! predicates, the keys of indexes with expressions, and policy bodies. They are outside the schema hash because PostgreSQL stores them re-printed
//! (`'x'` becomes `'x'::text`), so a database carrying an old predicate would hash like the
//! schema. Here the server normalises both sides: each expected expression is created on a
//! temporary copy of its table (same name, so unqualified references resolve the same
//! way; `CREATE TEMP TABLE ... (LIKE ...)`) inside a transaction that is rolled back, and
//! read back with `pg_get_expr`, exactly as the live one is. Nothing persists: temporary
//! objects only, and the transaction never commits.
//!
//! Every query uses the simple query protocol (no prepared statements), so it also works
//! through transaction-pooling connection poolers.

use std::collections::BTreeMap;
use tokio_postgres::{Client, SimpleQueryMessage};
use wesley_planner::canon::TableExpressions;
use wesley_planner::model::IndexMethod;
use wesley_planner::sql::{ident, literal, qualified};

/// (kind, object name, part) → normalised text. Kinds: `default` and `generated` (object:
/// the column), `check`, `index predicate`, `index keys` (of an index with expressions:
/// every key as `pg_get_indexdef` prints it, joined by `, `), `policy` (part: `USING` or
/// `WITH CHECK`).
type Normalised = BTreeMap<(String, String, String), String>;

/// The query reading one table's expressions; `$rel` is replaced by a `regclass` literal.
const READ: &str = r#"
SELECT CASE a.attgenerated WHEN 's' THEN 'generated' ELSE 'default' END, a.attname, '',
    pg_get_expr(d.adbin, d.adrelid)
  FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
  WHERE d.adrelid = $rel
UNION ALL
SELECT 'check', c.conname, '', pg_get_expr(c.conbin, c.conrelid)
  FROM pg_constraint c WHERE c.conrelid = $rel AND c.contype = 'c'
UNION ALL
SELECT 'index predicate', ic.relname, '', pg_get_expr(i.indpred, i.indrelid)
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
  WHERE i.indrelid = $rel AND i.indpred IS NOT NULL
UNION ALL
SELECT 'index keys', ic.relname, '', (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true), ', ' ORDER BY k)
    FROM generate_series(1, i.indnkeyatts) k)
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
  WHERE i.indrelid = $rel AND i.indexprs IS NOT NULL
UNION ALL
SELECT 'policy', p.polname, 'USING', pg_get_expr(p.polqual, p.polrelid)
  FROM pg_policy p WHERE p.polrelid = $rel AND p.polqual IS NOT NULL
UNION ALL
SELECT 'policy', p.polname, 'WITH CHECK', pg_get_expr(p.polwithcheck, p.polrelid)
  FROM pg_policy p WHERE p.polrelid = $rel AND p.polwithcheck IS NOT NULL
"#;

fn rows(messages: Vec<SimpleQueryMessage>) -> Vec<Vec<String>> {
    messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

async fn read(c: &Client, rel: &str) -> Result<Normalised, tokio_postgres::Error> {
    let q = READ.replace("$rel", &format!("{}::regclass", literal(rel)));
    Ok(rows(c.simple_query(&q).await?)
        .into_iter()
        .map(|r| ((r[0].clone(), r[1].clone(), r[2].clone()), r[3].clone()))
        .collect())
}

/// The columns of the temporary copy `tmp` and their types as `format_type` prints them.
async fn column_types(
    c: &Client,
    tmp: &str,
) -> Result<BTreeMap<String, String>, tokio_postgres::Error> {
    let q = format!(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = {}::regclass AND attnum > 0 AND NOT attisdropped",
        literal(tmp)
    );
    Ok(rows(c.simple_query(&q).await?)
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect())
}

/// Statements that recreate the expected expressions on the temporary copy `tmp` of the
/// table, each under its own name, with what it stands for.
fn recreate(
    e: &TableExpressions,
    tmp: &str,
    types: &BTreeMap<String, String>,
) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    // The copy has the column without its expression (`LIKE` leaves generation out):
    // it is replaced by a generated column of the same name and type.
    for g in &e.generated {
        let ty = types.get(&g.name).map_or("text", String::as_str);
        out.push((
            "generated".into(),
            g.name.clone(),
            String::new(),
            format!(
                "ALTER TABLE {tmp} DROP COLUMN {c}, ADD COLUMN {c} {ty} GENERATED ALWAYS AS ({}) STORED",
                g.text,
                c = ident(&g.name)
            ),
        ));
    }
    for d in &e.defaults {
        out.push((
            "default".into(),
            d.name.clone(),
            String::new(),
            format!(
                "ALTER TABLE {tmp} ALTER COLUMN {} SET DEFAULT {}",
                ident(&d.name),
                d.text
            ),
        ));
    }
    for c in &e.checks {
        out.push((
            "check".into(),
            c.name.clone(),
            String::new(),
            format!(
                "ALTER TABLE {tmp} ADD CONSTRAINT {} CHECK ({}) NOT VALID",
                ident(&c.name),
                c.text
            ),
        ));
    }
    // One index per name: its keys (or a constant) and its predicate.
    let mut indexes: BTreeMap<&str, (&str, String, Option<&str>)> = BTreeMap::new();
    for k in &e.index_keys {
        // The method is checked with the plan file; one that is not known is refused.
        let method = IndexMethod::parse(&k.method).map_or("btree", IndexMethod::sql);
        indexes.insert(
            &k.name,
            (
                "index keys",
                format!("USING {method} ({})", k.keys.join(", ")),
                None,
            ),
        );
    }
    for i in &e.index_predicates {
        indexes
            .entry(&i.name)
            .or_insert(("index predicate", "((1))".into(), None))
            .2 = Some(&i.text);
    }
    for (name, (kind, keys, predicate)) in indexes {
        let mut sql = format!("CREATE INDEX {} ON {tmp} {keys}", ident(name));
        if let Some(p) = predicate {
            sql.push_str(&format!(" WHERE ({p})"));
        }
        out.push((kind.into(), name.to_string(), String::new(), sql));
    }
    for p in &e.policies {
        let mut sql = format!("CREATE POLICY {} ON {tmp}", ident(&p.name));
        if let Some(u) = &p.using {
            sql.push_str(&format!(" USING ({u})"));
        }
        if let Some(c) = &p.check {
            sql.push_str(&format!(" WITH CHECK ({c})"));
        }
        out.push(("policy".into(), p.name.clone(), String::new(), sql));
    }
    out
}

/// The expected expressions of one table, normalised by the server; an expression the
/// server refuses is reported as a difference.
async fn normalise(
    c: &Client,
    e: &TableExpressions,
    live_rel: &str,
    problems: &mut Vec<String>,
) -> Result<Normalised, tokio_postgres::Error> {
    let (_, name) = e.table.split_once('.').unwrap_or(("", &e.table));
    let tmp = format!("pg_temp.{}", ident(name));
    // BEGIN and the temporary table in one round trip: if the table cannot be made, the
    // ROLLBACK below ends the transaction all the same.
    let result = async {
        c.batch_execute(&format!(
            "BEGIN; SET LOCAL lock_timeout = '2s'; CREATE TEMP TABLE {} (LIKE {live_rel}) ON COMMIT DROP",
            ident(name)
        ))
        .await?;
        let types = column_types(c, &tmp).await?;
        for (kind, object, _, sql) in recreate(e, &tmp, &types) {
            // The savepoint and the statement in one round trip (the statements of one
            // simple query run in order; an error stops them after the savepoint).
            if let Err(err) = c.batch_execute(&format!("SAVEPOINT wesley_expr; {sql}")).await {
                c.batch_execute("ROLLBACK TO SAVEPOINT wesley_expr").await?;
                let why = crate::error::DbError::from(err);
                problems.push(format!(
                    "{kind} {object} on {}: the schema's expression does not compile on this database: {why}",
                    e.table
                ));
            }
        }
        read(c, &tmp).await
    }
    .await;
    c.batch_execute("ROLLBACK").await?;
    result
}

/// Differences between the expressions a schema expects and a live database's, one
/// sentence each. Tables that are missing live are skipped (the hash check reports them);
/// so are objects present on one side only (their presence is part of the hash).
pub async fn differences(
    c: &Client,
    expected: &[TableExpressions],
) -> Result<Vec<String>, crate::error::DbError> {
    let mut out = Vec::new();
    for e in expected {
        let (schema, name) = e.table.split_once('.').unwrap_or(("public", &e.table));
        let rel = qualified(schema, name);
        let exists = rows(
            c.simple_query(&format!("SELECT to_regclass({})", literal(&rel)))
                .await?,
        );
        if exists.first().is_none_or(|r| r[0].is_empty()) {
            continue;
        }
        let live = read(c, &rel).await?;
        let want = normalise(c, e, &rel, &mut out).await?;
        for (key, text) in &want {
            let (kind, object, part) = key;
            let Some(have) = live.get(key) else { continue };
            if have != text {
                let part = if part.is_empty() {
                    String::new()
                } else {
                    format!(" {part}")
                };
                out.push(format!(
                    "{kind} {object} on {}{part} is ({have}) instead of ({text})",
                    e.table
                ));
            }
        }
        // A policy part present on one side only (a USING added or removed).
        for (key, have) in &live {
            let (kind, object, part) = key;
            if kind == "policy"
                && !want.contains_key(key)
                && want.keys().any(|(k, o, _)| k == kind && o == object)
            {
                out.push(format!(
                    "policy {object} on {} has {part} ({have}), which the schema does not",
                    e.table
                ));
            }
        }
        for key in want.keys() {
            let (kind, object, part) = key;
            if kind == "policy"
                && !live.contains_key(key)
                && live.keys().any(|(k, o, _)| k == kind && o == object)
            {
                out.push(format!(
                    "policy {object} on {} lacks the {part} clause the schema gives it",
                    e.table
                ));
            }
        }
    }
    Ok(out)
}
