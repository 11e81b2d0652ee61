//! Drift in SQL expressions: defaults, generation expressions, check bodies, partial-index
//! predicates, the keys of indexes with expressions, and policy bodies. They are outside the schema hash because PostgreSQL stores them re-printed
//! (`'x'` becomes `'x'::text`), so a database carrying an old predicate would hash like the
//! schema. Here the server normalises both sides: each expected expression is created on a
//! temporary copy of its table (same name, so unqualified references resolve the same
//! way; `CREATE TEMP TABLE ... (LIKE ...)`) inside a transaction that is rolled back, and
//! read back with `pg_get_expr`, exactly as the live one is. Nothing persists: temporary
//! objects only, and the transaction never commits. Tables go in batches: one transaction
//! and one batch of statements for up to [`BATCH`] tables. A table is done again on its own,
//! with a savepoint per statement, when its batch fails (to name what failed) or finds it
//! different (a batch's temporary copies can change how another table's expressions
//! resolve and print, so only the table alone confirms a difference). Tables whose only expressions are column defaults need no copy: a default
//! cannot name a column, so each distinct (column type, default) of the batch becomes a
//! column of one temporary table.
//!
//! Every query uses the simple query protocol (no prepared statements), so it also works
//! through transaction-pooling connection poolers.

use super::connect::ConnInfo;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio_postgres::{Client, SimpleQueryMessage};
use wesley_planner::canon::TableExpressions;
use wesley_planner::model::IndexMethod;
use wesley_planner::sql::{ident, literal, qualified};

/// (kind, object name, part) → normalised text. Kinds: `default` and `generated` (object:
/// the column), `check`, `index predicate`, `index keys` (of an index with expressions:
/// every key as `pg_get_indexdef` prints it, joined by `, `), `policy` (part: `USING` or
/// `WITH CHECK`).
type Normalised = BTreeMap<(String, String, String), String>;

/// Expected expressions as the server normalised them, by table (`schema.table`), kept
/// from one check for a later one ([`alongside`]): a table found here with the same
/// expected expressions is not normalised again, only its live expressions read and
/// compared (a difference is still confirmed on the table alone, normalised afresh). Only
/// tables whose live expressions matched are kept. A caller keeps an entry only where
/// the normalised form cannot have changed: a table whose columns are the same (see
/// `finish.rs`).
#[derive(Debug, Default, Clone)]
pub struct Known(BTreeMap<String, (TableExpressions, Normalised)>);

impl Known {
    /// Keeps the tables `keep` says yes to.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.0.retain(|table, _| keep(table));
    }

    /// How many tables are known.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no table is known.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The query reading the expressions of the relations `rels(k, rel)` (a `WITH` list that
/// [`read_many`] puts before it), each row tagged with its relation's `k`.
const READ: &str = r#"
SELECT rels.k, CASE a.attgenerated WHEN 's' THEN 'generated' ELSE 'default' END, a.attname, '',
    pg_get_expr(d.adbin, d.adrelid)
  FROM rels JOIN pg_attrdef d ON d.adrelid = rels.rel
  JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
UNION ALL
SELECT rels.k, 'check', c.conname, '', pg_get_expr(c.conbin, c.conrelid)
  FROM rels JOIN pg_constraint c ON c.conrelid = rels.rel WHERE c.contype = 'c'
UNION ALL
SELECT rels.k, 'index predicate', ic.relname, '', pg_get_expr(i.indpred, i.indrelid)
  FROM rels JOIN pg_index i ON i.indrelid = rels.rel JOIN pg_class ic ON ic.oid = i.indexrelid
  WHERE i.indpred IS NOT NULL
UNION ALL
SELECT rels.k, 'index keys', ic.relname, '', (SELECT string_agg(pg_get_indexdef(i.indexrelid, n, true), ', ' ORDER BY n)
    FROM generate_series(1, i.indnkeyatts) n)
  FROM rels JOIN pg_index i ON i.indrelid = rels.rel JOIN pg_class ic ON ic.oid = i.indexrelid
  WHERE i.indexprs IS NOT NULL
UNION ALL
SELECT rels.k, 'policy', p.polname, 'USING', pg_get_expr(p.polqual, p.polrelid)
  FROM rels JOIN pg_policy p ON p.polrelid = rels.rel WHERE p.polqual IS NOT NULL
UNION ALL
SELECT rels.k, 'policy', p.polname, 'WITH CHECK', pg_get_expr(p.polwithcheck, p.polrelid)
  FROM rels JOIN pg_policy p ON p.polrelid = rels.rel WHERE p.polwithcheck IS NOT NULL
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

/// The columns of each relation of `rels` and their types as `format_type` prints them,
/// by position, in one query.
async fn column_types<R: AsRef<str>>(
    c: &Client,
    rels: &[R],
) -> Result<Vec<BTreeMap<String, String>>, tokio_postgres::Error> {
    let mut out = vec![BTreeMap::new(); rels.len()];
    if rels.is_empty() {
        return Ok(out);
    }
    let q = format!(
        "SELECT rels.k, attname, format_type(atttypid, atttypmod) FROM {} \
         JOIN pg_attribute ON attrelid = rels.rel WHERE attnum > 0 AND NOT attisdropped",
        numbered(rels, |r| format!("{}::regclass", literal(r.as_ref())))
    );
    for r in rows(c.simple_query(&q).await?) {
        if let Some(t) = r[0].parse::<usize>().ok().and_then(|k| out.get_mut(k)) {
            t.insert(r[1].clone(), r[2].clone());
        }
    }
    Ok(out)
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
        let types = column_types(c, &[&tmp]).await?.pop().unwrap_or_default();
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
        Ok(read_many(c, std::slice::from_ref(&tmp))
            .await?
            .pop()
            .unwrap_or_default())
    }
    .await;
    c.batch_execute("ROLLBACK").await?;
    result
}

/// Tables whose expressions are normalised in one transaction (and read in one query):
/// few round trips per table, while the locks one transaction holds (`ACCESS SHARE` on
/// each live table, the temporary copies and their indexes) stay well within
/// PostgreSQL's shared lock table (`max_locks_per_transaction` × connections, 6,400 by
/// default), also with [`LANES`] batches at once.
pub const BATCH: usize = 50;

/// `(VALUES (0, <rel>), (1, <rel>), ...) AS rels(k, rel)`: the relations of a batch,
/// numbered, for one query over all of them; `rel` renders each as a SQL expression.
fn numbered<T>(items: &[T], rel: impl Fn(&T) -> String) -> String {
    let rows: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(k, t)| format!("({k}, {})", rel(t)))
        .collect();
    format!("(VALUES {}) AS rels(k, rel)", rows.join(", "))
}

/// The expressions of several relations in one query ([`READ`]), by position.
async fn read_many(c: &Client, rels: &[String]) -> Result<Vec<Normalised>, tokio_postgres::Error> {
    let mut out = vec![Normalised::new(); rels.len()];
    if rels.is_empty() {
        return Ok(out);
    }
    let values = numbered(rels, |r| format!("{}::regclass", literal(r)));
    let q = format!("WITH rels AS (SELECT * FROM {values}){READ}");
    for r in rows(c.simple_query(&q).await?) {
        let Some(slot) = r[0].parse::<usize>().ok().and_then(|k| out.get_mut(k)) else {
            continue;
        };
        slot.insert((r[1].clone(), r[2].clone(), r[3].clone()), r[4].clone());
    }
    Ok(out)
}

/// The expected expressions of several tables, normalised by the server in one
/// transaction with one batch of statements: `None` when any statement fails (a table
/// that cannot be copied, an expression the server refuses), so that the caller goes
/// table by table ([`normalise`]) and names the failure. The tables' bare names must
/// differ (their temporary copies are named like them).
async fn normalise_many(
    c: &Client,
    tables: &[(&TableExpressions, String)],
) -> Result<Option<Vec<Normalised>>, tokio_postgres::Error> {
    let bare = |e: &TableExpressions| {
        let (_, name) = e.table.split_once('.').unwrap_or(("", &e.table));
        ident(name)
    };
    let tmps: Vec<String> = tables
        .iter()
        .map(|(e, _)| format!("pg_temp.{}", bare(e)))
        .collect();
    let mut create = String::from("BEGIN; SET LOCAL lock_timeout = '2s';");
    for (e, live_rel) in tables {
        create.push_str(&format!(
            "\nCREATE TEMP TABLE {} (LIKE {live_rel}) ON COMMIT DROP;",
            bare(e)
        ));
    }
    let result = async {
        if c.batch_execute(&create).await.is_err() {
            return Ok(None);
        }
        // Column types, for the tables that have generated columns.
        let with_generated: Vec<usize> = (0..tables.len())
            .filter(|&k| !tables[k].0.generated.is_empty())
            .collect();
        let mut types = vec![BTreeMap::new(); tables.len()];
        let some: Vec<&str> = with_generated.iter().map(|&k| tmps[k].as_str()).collect();
        for (&k, t) in with_generated.iter().zip(column_types(c, &some).await?) {
            types[k] = t;
        }
        let mut statements = String::new();
        for (k, (e, _)) in tables.iter().enumerate() {
            for (_, _, _, sql) in recreate(e, &tmps[k], &types[k]) {
                statements.push_str(&sql);
                statements.push_str(";\n");
            }
        }
        if !statements.is_empty() && c.batch_execute(&statements).await.is_err() {
            return Ok(None);
        }
        read_many(c, &tmps).await.map(Some)
    }
    .await;
    c.batch_execute("ROLLBACK").await?;
    result
}

/// Whether a table's only expressions are column defaults: those print the same on any
/// column of the same type (a default cannot name a column), so they need no copy of
/// their table ([`normalise_defaults`]).
fn only_defaults(e: &TableExpressions) -> bool {
    e.generated.is_empty()
        && e.checks.is_empty()
        && e.index_predicates.is_empty()
        && e.policies.is_empty()
        && e.index_keys.is_empty()
}

/// The expected defaults of several tables that have nothing else ([`only_defaults`]),
/// normalised by the server on one temporary table: one column per distinct (type as
/// `format_type` prints the live column's, expression), in a transaction that is rolled
/// back. `None` when a default's column is missing live or the table cannot be made (an
/// expression the server refuses): the caller then goes table by table ([`normalise`]),
/// which names the failure.
async fn normalise_defaults(
    c: &Client,
    tables: &[(&TableExpressions, String)],
) -> Result<Option<Vec<Normalised>>, tokio_postgres::Error> {
    let mut out = vec![Normalised::new(); tables.len()];
    if tables.is_empty() {
        return Ok(Some(out));
    }
    let rels: Vec<&str> = tables.iter().map(|(_, r)| r.as_str()).collect();
    let types = column_types(c, &rels).await?;
    // One column per distinct (type, expression).
    let mut columns: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut uses: Vec<(usize, &str, usize)> = Vec::new();
    for (k, (e, _)) in tables.iter().enumerate() {
        for d in &e.defaults {
            let Some(ty) = types[k].get(&d.name) else {
                return Ok(None);
            };
            let next = columns.len();
            let j = *columns
                .entry((ty.as_str(), d.text.as_str()))
                .or_insert(next);
            uses.push((k, &d.name, j));
        }
    }
    let defs: Vec<String> = columns
        .iter()
        .map(|(&(ty, text), &j)| format!("d{j} {ty} DEFAULT ({text})"))
        .collect();
    let result = async {
        let create = format!(
            "BEGIN; CREATE TEMP TABLE wesley_defaults ({}) ON COMMIT DROP",
            defs.join(", ")
        );
        if c.batch_execute(&create).await.is_err() {
            return Ok(None);
        }
        // Printed by the same query as the live side.
        let printed = read_many(c, &["pg_temp.wesley_defaults".to_string()])
            .await?
            .pop()
            .unwrap_or_default();
        for (k, column, j) in &uses {
            let key = ("default".to_string(), format!("d{j}"), String::new());
            let Some(text) = printed.get(&key) else {
                return Ok(None);
            };
            out[*k].insert(
                ("default".into(), column.to_string(), String::new()),
                text.clone(),
            );
        }
        Ok(Some(out))
    }
    .await;
    c.batch_execute("ROLLBACK").await?;
    result
}

/// Differences between the expressions a schema expects and a live database's, one
/// sentence each, table by table in the order given. Tables that are missing live are
/// skipped (the hash check reports them); so are objects present on one side only (their
/// presence is part of the hash). Tables go [`BATCH`] at a time: which exist, their live
/// expressions, and their expected ones normalised, each in one round trip per batch
/// (the defaults of tables that have nothing else on one temporary table).
pub async fn differences(
    c: &Client,
    expected: &[TableExpressions],
) -> Result<Vec<String>, crate::error::DbError> {
    differences_on(&[c], expected).await
}

/// [`differences_on`], reusing what `known` holds, and returning with the differences
/// what this check normalised ([`Known`]).
pub async fn differences_known(
    clients: &[&Client],
    expected: &[TableExpressions],
    known: &Known,
) -> Result<(Vec<String>, Known), crate::error::DbError> {
    if clients.is_empty() {
        return Err(crate::error::DbError::Unexpected(
            "the expression check was given no connection".into(),
        ));
    }
    let batches: Vec<&[TableExpressions]> = expected.chunks(BATCH).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let lanes = clients
        .iter()
        .map(|c| lane(c, &batches, known, &next, &failed));
    let mut done: Vec<_> = futures_util::future::join_all(lanes)
        .await
        .into_iter()
        .flatten()
        .collect();
    done.sort_by_key(|(b, _)| *b);
    let mut out = Vec::new();
    let mut learnt = Known::default();
    for (_, found) in done {
        let (found, normalised) = found?;
        out.extend(found);
        learnt.0.extend(normalised.0);
    }
    Ok((out, learnt))
}

/// [`differences`], with the batches shared among several connections (each takes the
/// next batch when it is done with one), in the same order and with the same sentences as
/// on one connection. Every connection finishes the batch it is in, rolled back, before
/// an error is returned, so each one is left outside any transaction. Errors: the first
/// batch's error, in batch order; [`crate::error::DbError::Unexpected`] for no
/// connection at all.
pub async fn differences_on(
    clients: &[&Client],
    expected: &[TableExpressions],
) -> Result<Vec<String>, crate::error::DbError> {
    Ok(differences_known(clients, expected, &Known::default())
        .await?
        .0)
}

/// `read` (a catalog read on the caller's connection `c`) and [`differences`] of
/// `expected` at the same time: the expressions on [`lanes`] of their own, opened as
/// `app` while `read` runs. On `c`, after `read`, when no lane opens or one is lost on the
/// way (a connection error, SQLSTATE class 08, or 57P01: the session was ended): the check
/// then starts over there. Both are server work, and a server has more than one core to
/// do it. Returns `read`'s output and the differences (or the check's error).
pub async fn alongside<T>(
    conn: &ConnInfo,
    app: Option<&str>,
    c: &Client,
    expected: &[TableExpressions],
    known: &Known,
    read: impl std::future::Future<Output = T>,
) -> (T, Result<(Vec<String>, Known), crate::error::DbError>) {
    let (out, early) = tokio::join!(read, async {
        if expected.is_empty() {
            return Some(Ok((Vec::new(), Known::default())));
        }
        let lanes = lanes(conn, app, expected.len()).await;
        if lanes.is_empty() {
            return None;
        }
        let refs: Vec<&Client> = lanes.iter().collect();
        Some(differences_known(&refs, expected, known).await)
    });
    let found = match early {
        Some(Err(e)) if e.is_connection_lost() => differences_known(&[c], expected, known).await,
        Some(found) => found,
        None => differences_known(&[c], expected, known).await,
    };
    (out, found)
}

/// Connections for [`differences_on`] of `tables` tables beside the caller's own, opened
/// at once as `app` (`application_name`; `None`: the settings' own): up to [`LANES`], one
/// per [`BATCH`] of tables. Fewer when the server refuses more; none at all is for the
/// caller to handle (with the connection it has).
async fn lanes(conn: &ConnInfo, app: Option<&str>, tables: usize) -> Vec<Client> {
    let want = tables.div_ceil(BATCH).min(LANES);
    futures_util::future::join_all((0..want).map(|_| conn.connect_pinned(app)))
        .await
        .into_iter()
        .filter_map(|r| r.ok().map(|(c, _)| c))
        .collect()
}

/// How many connections [`lanes`] opens at most: two, as many as one job of steps uses
/// (a psql session and a client). The check is server work; two connections keep two
/// cores busy while the run's own connection reads the catalog.
pub const LANES: usize = 2;

/// One connection's share of [`differences_on`]: the next batch not taken, until none
/// is left or one has failed; each batch's result with its number.
async fn lane(
    c: &Client,
    batches: &[&[TableExpressions]],
    known: &Known,
    next: &AtomicUsize,
    failed: &AtomicBool,
) -> Vec<(usize, Result<(Vec<String>, Known), crate::error::DbError>)> {
    let mut done = Vec::new();
    while !failed.load(Ordering::Relaxed) {
        let b = next.fetch_add(1, Ordering::Relaxed);
        let Some(batch) = batches.get(b) else { break };
        let result = batch_differences(c, batch, known).await;
        failed.fetch_or(result.is_err(), Ordering::Relaxed);
        done.push((b, result));
    }
    done
}

/// The differences of one batch of at most [`BATCH`] tables ([`differences`]).
async fn batch_differences(
    c: &Client,
    batch: &[TableExpressions],
    known: &Known,
) -> Result<(Vec<String>, Known), crate::error::DbError> {
    let mut out = Vec::new();
    let mut learnt = Known::default();
    {
        let rels: Vec<String> = batch
            .iter()
            .map(|e| {
                let (schema, name) = e.table.split_once('.').unwrap_or(("public", &e.table));
                qualified(schema, name)
            })
            .collect();
        let q = format!(
            "SELECT rels.k, to_regclass(rels.rel) IS NOT NULL FROM {} ORDER BY rels.k",
            numbered(&rels, |r| literal(r))
        );
        let exists: Vec<bool> = rows(c.simple_query(&q).await?)
            .into_iter()
            .map(|r| r[1] == "t")
            .collect();
        let present: Vec<(&TableExpressions, String)> = batch
            .iter()
            .zip(&rels)
            .zip(&exists)
            .filter(|(_, &e)| e)
            .map(|((e, r), _)| (e, r.clone()))
            .collect();
        let live_rels: Vec<String> = present.iter().map(|(_, r)| r.clone()).collect();
        let live = read_many(c, &live_rels).await?;
        let mut wants: Vec<Option<Normalised>> = present
            .iter()
            .map(|(e, _)| {
                known
                    .0
                    .get(&e.table)
                    .filter(|(was, _)| was == *e)
                    .map(|(_, n)| n.clone())
            })
            .collect();
        // Tables with defaults only: on one temporary table for the whole batch.
        let (plain, mut left): (Vec<usize>, Vec<usize>) = (0..present.len())
            .filter(|&k| wants[k].is_none())
            .partition(|&k| only_defaults(present[k].0));
        let tables: Vec<(&TableExpressions, String)> =
            plain.iter().map(|&k| present[k].clone()).collect();
        if let Some(normalised) = normalise_defaults(c, &tables).await? {
            for (k, n) in plain.into_iter().zip(normalised) {
                wants[k] = Some(n);
            }
        }
        // The others on copies of their tables, in rounds. The copies and their indexes
        // share pg_temp: a table joins a round when neither its name nor its indexes'
        // are taken.
        while !left.is_empty() {
            let mut names = std::collections::BTreeSet::new();
            let (round, rest): (Vec<usize>, Vec<usize>) = left.iter().partition(|&&k| {
                let e = present[k].0;
                let table = e.table.split_once('.').map_or(e.table.as_str(), |(_, n)| n);
                let mine: Vec<&str> = std::iter::once(table)
                    .chain(e.index_keys.iter().map(|i| i.name.as_str()))
                    .chain(e.index_predicates.iter().map(|i| i.name.as_str()))
                    .collect();
                if mine.iter().any(|n| names.contains(n)) {
                    return false;
                }
                names.extend(mine);
                true
            });
            left = rest;
            let tables: Vec<(&TableExpressions, String)> =
                round.iter().map(|&k| present[k].clone()).collect();
            if let Some(normalised) = normalise_many(c, &tables).await? {
                for (k, n) in round.into_iter().zip(normalised) {
                    wants[k] = Some(n);
                }
            }
        }
        for (k, (e, rel)) in present.iter().enumerate() {
            if let Some(want) = wants[k].take() {
                let mut found = Vec::new();
                compare(e, &live[k], &want, &mut found);
                if found.is_empty() {
                    learnt.0.insert(e.table.clone(), ((*e).clone(), want));
                    continue;
                }
                // A difference found in a batch is confirmed on the table alone: while
                // the batch's copies exist, a name they hide prints differently (a
                // policy's `public.memberships` stays qualified).
            }
            // Its batch failed, or found a difference: this table on its own, naming
            // what fails.
            let want = normalise(c, e, rel, &mut out).await?;
            compare(e, &live[k], &want, &mut out);
        }
    }
    Ok((out, learnt))
}

/// The differences between one table's live expressions and its expected ones,
/// normalised, as sentences.
fn compare(e: &TableExpressions, live: &Normalised, want: &Normalised, out: &mut Vec<String>) {
    for (key, text) in want {
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
    for (key, have) in live {
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
