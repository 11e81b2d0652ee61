//! Drift detection: the live catalog, read into the planner's canonical form, compared
//! with what the plan expects, and the differences described in words.

use crate::error::DbError;
use crate::introspect::{parse_canonical, LIVE_QUERY};
use futures_util::TryStreamExt;
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;
use wesley_planner::canon::{CanonEnum, CanonSchema, CanonTable, SchemaHasher};
use wesley_planner::ddl::nulls_not_distinct;
use wesley_planner::planfile::SchemaRef;

/// The connected database's schema as [`read`] leaves it: every table's name, hash and
/// column names, the whole canonical form of only the tables asked for, and the schema
/// hash for any set of expected extensions. A run keeps this, not the whole catalog: a
/// few names and a hash per table.
pub struct Live {
    enums: Vec<CanonEnum>,
    extensions: Vec<String>,
    tables: Vec<LiveTable>,
    kept: Vec<CanonTable>,
    /// The schema hash so far: enums and every table.
    hasher: SchemaHasher,
}

/// One live table: what a run keeps of every table.
pub struct LiveTable {
    /// `schema.table`.
    pub name: String,
    /// Its canonical hash ([`CanonTable::hash`]).
    pub hash: String,
    /// Its columns' names, sorted.
    pub columns: Vec<String>,
}

impl Live {
    /// The schema hash (`sha256:` and 64 hex digits) of this database as a schema that
    /// expects `extensions` sees it (only those of its extensions count; see
    /// [`CanonSchema::as_expected_by`]): the hash [`CanonSchema::hash`] gives the same
    /// catalog read whole.
    pub fn hash(&self, extensions: &[String]) -> String {
        let seen: Vec<String> = self
            .extensions
            .iter()
            .filter(|e| extensions.contains(e))
            .cloned()
            .collect();
        self.hasher.clone().finish(&seen)
    }

    /// Every table, in canonical order (by `schema.table`, byte-wise).
    pub fn tables(&self) -> &[LiveTable] {
        &self.tables
    }

    /// The whole canonical form of the tables `keep` chose, in canonical order.
    pub fn kept(&self) -> &[CanonTable] {
        &self.kept
    }

    /// A table's hash, when the database has the table.
    pub fn table_hash(&self, name: &str) -> Option<&str> {
        self.tables
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
            .map(|i| self.tables[i].hash.as_str())
    }

    /// Whether the database has exactly these tables, with these hashes (`schema.table`
    /// to hash, as a plan's `table_hashes`).
    pub fn tables_are(&self, hashes: &BTreeMap<String, String>) -> bool {
        self.tables.len() == hashes.len()
            && self
                .tables
                .iter()
                .all(|t| hashes.get(&t.name) == Some(&t.hash))
    }

    fn new(enums: Vec<CanonEnum>, extensions: Vec<String>) -> Live {
        Live {
            hasher: SchemaHasher::new(&enums),
            enums,
            extensions,
            tables: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// Adds the next table (normalised, in canonical order).
    fn push(&mut self, t: CanonTable, keep: &dyn Fn(&str, &str) -> bool) {
        let hash = self.hasher.add_hashed(&t);
        self.tables.push(LiveTable {
            name: t.name.clone(),
            columns: t.columns.iter().map(|c| c.name.clone()).collect(),
            hash: hash.clone(),
        });
        if keep(&t.name, &hash) {
            self.kept.push(t);
        }
    }
}

/// What a run keeps whole of a live database compared with `expected` (a plan's side):
/// the tables whose hash differs from what `expected` says and of which it has the full
/// form, which are the tables [`against`] describes column by column. Nothing when
/// `expected` has no table hashes.
pub fn differing(expected: &SchemaRef) -> impl Fn(&str, &str) -> bool + '_ {
    move |name, hash| {
        expected
            .table_hashes
            .as_ref()
            .and_then(|h| h.get(name))
            .is_some_and(|want| want != hash)
            && expected
                .canonical
                .as_ref()
                .is_some_and(|c| c.tables.iter().any(|t| t.name == name))
    }
}

/// Reads the connected database's schema (PostgreSQL 14 to 18) from one statement
/// ([`LIVE_QUERY`]), streamed: enums and extensions, then a row per table, each
/// normalised and hashed as it arrives and then dropped unless `keep(name, hash)` is
/// true. Memory holds a [`Live`], not the catalog.
///
/// # Errors
/// The server's errors; [`DbError::Unexpected`] for a reply that is not the canonical
/// form (not JSON of that shape, not UTF-8, or tables out of canonical order: two tables
/// whose `schema.table` reads alike, such as `"a.b".c` and `a."b.c"`, which no schema
/// can describe).
pub async fn read(c: &Client, keep: &dyn Fn(&str, &str) -> bool) -> Result<Live, DbError> {
    crate::introspect::without_jit(c, || read_rows(c, keep)).await
}

/// [`read`]'s statement and what it does with the rows.
async fn read_rows(c: &Client, keep: &dyn Fn(&str, &str) -> bool) -> Result<Live, DbError> {
    let rows = c
        .query_typed_raw(
            LIVE_QUERY,
            std::iter::empty::<(&(dyn ToSql + Sync), Type)>(),
        )
        .await?;
    let mut rows = std::pin::pin!(rows);
    let Some(head) = rows.try_next().await? else {
        return Err(unreadable("no rows"));
    };
    let head = parse_canonical(text(&head)?).map_err(unreadable)?;
    let mut live = Live::new(head.enums, head.extensions);
    while let Some(row) = rows.try_next().await? {
        let mut t: CanonTable = serde_json::from_str(text(&row)?).map_err(unreadable)?;
        t.normalize();
        if let Some(l) = live.tables.last().filter(|l| l.name >= t.name) {
            return Err(unreadable(format!(
                "table {} came after {} (out of canonical order)",
                t.name, l.name
            )));
        }
        live.push(t, keep);
    }
    Ok(live)
}

/// The connected database's canonical form, whole: for comparing with a schema in every
/// detail (`wesley drift`, `wesley introspect`), read through [`read`].
pub async fn live(c: &Client) -> Result<CanonSchema, DbError> {
    let live = read(c, &|_, _| true).await?;
    Ok(CanonSchema {
        enums: live.enums,
        tables: live.kept,
        extensions: live.extensions,
    })
}

/// A row's one text column.
fn text(row: &tokio_postgres::Row) -> Result<&str, DbError> {
    row.try_get(0).map_err(unreadable)
}

fn unreadable(e: impl std::fmt::Display) -> DbError {
    DbError::Unexpected(format!("cannot read the catalog: {e}"))
}

/// Differences between an expected and a live schema, one sentence each.
pub fn describe(expected: &CanonSchema, live: &CanonSchema) -> Vec<String> {
    let mut out = Vec::new();
    // Extensions the schema does not list are not its business (see `as_expected_by`).
    for e in &expected.extensions {
        if !live.extensions.contains(e) {
            out.push(format!("extension {e} is not installed"));
        }
    }
    let names = |v: &[CanonTable]| v.iter().map(|t| t.name.clone()).collect::<BTreeSet<_>>();
    let (want, have) = (names(&expected.tables), names(&live.tables));
    for t in want.difference(&have) {
        out.push(format!("table {t} is missing"));
    }
    for t in have.difference(&want) {
        out.push(format!("table {t} exists but is not expected"));
    }
    for e in &expected.enums {
        match live.enums.iter().find(|l| l.name == e.name) {
            None => out.push(format!("enum {} is missing", e.name)),
            Some(l) if l.values != e.values => out.push(format!(
                "enum {} has values ({}) instead of ({})",
                e.name,
                l.values.join(", "),
                e.values.join(", ")
            )),
            _ => {}
        }
    }
    for l in &live.enums {
        if !expected.enums.iter().any(|e| e.name == l.name) {
            out.push(format!("enum {} exists but is not expected", l.name));
        }
    }
    for w in &expected.tables {
        let Some(h) = live.tables.iter().find(|t| t.name == w.name) else {
            continue;
        };
        let t = &w.name;
        for c in &w.columns {
            match h.columns.iter().find(|x| x.name == c.name) {
                None => out.push(format!("column {t}.{} is missing", c.name)),
                Some(x) => {
                    if x.ty != c.ty {
                        out.push(format!(
                            "column {t}.{} is {} instead of {}",
                            c.name, x.ty, c.ty
                        ));
                    }
                    if x.not_null != c.not_null {
                        out.push(format!(
                            "column {t}.{} is {} instead of {}",
                            c.name,
                            if x.not_null { "NOT NULL" } else { "nullable" },
                            if c.not_null { "NOT NULL" } else { "nullable" }
                        ));
                    }
                    if x.has_default != c.has_default {
                        out.push(format!(
                            "column {t}.{} {} a default",
                            c.name,
                            if x.has_default { "has" } else { "lacks" }
                        ));
                    }
                    if x.identity != c.identity {
                        out.push(format!(
                            "column {t}.{} is {} instead of {}",
                            c.name,
                            identity(x.identity.as_ref()),
                            identity(c.identity.as_ref())
                        ));
                    }
                    if x.serial != c.serial {
                        out.push(format!(
                            "column {t}.{} {} serial (a default nextval of a sequence it owns){}",
                            c.name,
                            if x.serial { "is" } else { "is not" },
                            if x.serial {
                                ", which is not expected"
                            } else {
                                ""
                            }
                        ));
                    }
                    if x.generated != c.generated {
                        out.push(format!(
                            "column {t}.{} {} a generated column (GENERATED ALWAYS AS ... STORED)",
                            c.name,
                            if x.generated { "is" } else { "is not" }
                        ));
                    }
                    if let Some(d) = comment(
                        &format!("column {t}.{}", c.name),
                        c.comment.as_deref(),
                        x.comment.as_deref(),
                    ) {
                        out.push(d);
                    }
                }
            }
        }
        for x in &h.columns {
            if !w.columns.iter().any(|c| c.name == x.name) {
                out.push(format!(
                    "column {t}.{} ({}) exists but is not expected",
                    x.name, x.ty
                ));
            }
        }
        if w.primary_key != h.primary_key {
            out.push(format!(
                "primary key of {t} is {:?} instead of {:?}",
                h.primary_key.as_ref().map(|k| &k.columns),
                w.primary_key.as_ref().map(|k| &k.columns)
            ));
        }
        let diff_named = |kind: &str,
                          want: Vec<(String, String)>,
                          have: Vec<(String, String)>,
                          out: &mut Vec<String>| {
            for (n, d) in &want {
                match have.iter().find(|(m, _)| m == n) {
                    None => out.push(format!("{kind} {n} on {t} is missing")),
                    Some((_, e)) if e != d => out.push(format!(
                        "{kind} {n} on {t} is defined differently ({e} instead of {d})"
                    )),
                    _ => {}
                }
            }
            for (n, _) in &have {
                if !want.iter().any(|(m, _)| m == n) {
                    out.push(format!("{kind} {n} on {t} exists but is not expected"));
                }
            }
        };
        let unique = |u: &wesley_planner::canon::CanonKey| {
            (
                u.name.clone(),
                format!(
                    "{}{}",
                    u.columns.join(", "),
                    nulls_not_distinct(u.nulls_not_distinct)
                ),
            )
        };
        diff_named(
            "unique constraint",
            w.uniques.iter().map(unique).collect(),
            h.uniques.iter().map(unique).collect(),
            &mut out,
        );
        diff_named(
            "foreign key",
            w.foreign_keys
                .iter()
                .map(|f| (f.name.clone(), format!("{:?}→{}", f.columns, f.references)))
                .collect(),
            h.foreign_keys
                .iter()
                .map(|f| (f.name.clone(), format!("{:?}→{}", f.columns, f.references)))
                .collect(),
            &mut out,
        );
        diff_named(
            "check constraint",
            w.checks
                .iter()
                .map(|c| (c.clone(), String::new()))
                .collect(),
            h.checks
                .iter()
                .map(|c| (c.clone(), String::new()))
                .collect(),
            &mut out,
        );
        let index = |i: &wesley_planner::canon::CanonIndex| {
            (
                i.name.clone(),
                format!(
                    "{} ({}){}",
                    i.method,
                    i.columns.join(", "),
                    nulls_not_distinct(i.nulls_not_distinct)
                ),
            )
        };
        diff_named(
            "index",
            w.indexes.iter().map(index).collect(),
            h.indexes.iter().map(index).collect(),
            &mut out,
        );
        let policy = |p: &wesley_planner::canon::CanonPolicy| {
            (
                p.name.clone(),
                format!(
                    "{} FOR {} TO {}",
                    if p.permissive {
                        "PERMISSIVE"
                    } else {
                        "RESTRICTIVE"
                    },
                    p.command,
                    if p.roles.is_empty() {
                        "PUBLIC".to_string()
                    } else {
                        p.roles.join(", ")
                    }
                ),
            )
        };
        diff_named(
            "policy",
            w.policies.iter().map(policy).collect(),
            h.policies.iter().map(policy).collect(),
            &mut out,
        );
        if let Some(d) = comment(
            &format!("table {t}"),
            w.comment.as_deref(),
            h.comment.as_deref(),
        ) {
            out.push(d);
        }
        if w.rls != h.rls {
            out.push(format!(
                "row-level security on {t} is {}",
                if h.rls {
                    "enabled but should be disabled"
                } else {
                    "disabled but should be enabled"
                }
            ));
        }
    }
    out
}

/// `GENERATED ... AS IDENTITY (START WITH s INCREMENT BY i)`, or `not an identity`.
fn identity(i: Option<&wesley_planner::canon::CanonIdentity>) -> String {
    match i {
        Some(i) => format!(
            "GENERATED {} AS IDENTITY (START WITH {} INCREMENT BY {})",
            i.generated, i.start, i.increment
        ),
        None => "not an identity".to_string(),
    }
}

/// A difference between the comment `what` should have (`want`, from the schema's
/// description) and the one it has (`have`, from `obj_description`/`col_description`).
fn comment(what: &str, want: Option<&str>, have: Option<&str>) -> Option<String> {
    match (want, have) {
        (w, h) if w == h => None,
        (Some(w), None) => Some(format!("{what} has no comment; expected {w:?}")),
        (None, Some(h)) => Some(format!(
            "{what} has the comment {h:?}, which is not expected"
        )),
        (Some(w), Some(h)) => Some(format!("{what} has the comment {h:?} instead of {w:?}")),
        (None, None) => None,
    }
}

/// Differences between the schema a plan expects (`SchemaRef`: all enums, every table's
/// hash, and the full form of the tables the plan touches) and a live schema (read with
/// [`differing`] from `expected`).
pub fn against(expected: &SchemaRef, live: &Live) -> Vec<String> {
    let Some(hashes) = &expected.table_hashes else {
        return vec![format!(
            "schema hash is {}, the plan expects {}",
            live.hash(expected.extensions()),
            expected.schema_hash
        )];
    };
    let detail = expected.canonical.clone().unwrap_or_default();
    let mut out = describe(
        &CanonSchema {
            enums: detail.enums.clone(),
            tables: vec![],
            extensions: detail.extensions.clone(),
        },
        &CanonSchema {
            enums: live.enums.clone(),
            tables: vec![],
            extensions: live.extensions.clone(),
        },
    );
    let one = |t: &CanonTable| CanonSchema {
        tables: vec![t.clone()],
        ..CanonSchema::default()
    };
    for (name, hash) in hashes {
        match live.table_hash(name) {
            None => out.push(format!("table {name} is missing")),
            Some(h) if h != hash => match (
                detail.tables.iter().find(|t| &t.name == name),
                live.kept.iter().find(|t| &t.name == name),
            ) {
                (Some(want), Some(have)) => out.extend(describe(&one(want), &one(have))),
                _ => out.push(format!("table {name} differs from what the plan expects (the plan does not change it; `wesley drift --schema OLD.graphql` lists the differences)")),
            },
            _ => {}
        }
    }
    for l in &live.tables {
        if !hashes.contains_key(&l.name) {
            out.push(format!("table {} exists but is not expected", l.name));
        }
    }
    out
}

/// On resume: tables the plan does not change (`changed` lists the ones it does) must be
/// exactly as expected, and no table may exist that is in neither schema.
pub fn partial(
    from: &wesley_planner::planfile::SchemaRef,
    to: &wesley_planner::planfile::SchemaRef,
    live: &Live,
    changed: &BTreeSet<String>,
) -> Vec<String> {
    let (Some(fh), Some(th)) = (&from.table_hashes, &to.table_hashes) else {
        return vec![];
    };
    let mut out = Vec::new();
    // An untouched table may already be in its new form: its foreign keys name the
    // tables they reference, which the plan may have renamed.
    for (name, hash) in fh.iter().filter(|(n, _)| !changed.contains(*n)) {
        match live.table_hash(name) {
            None => out.push(format!("table {name} is missing")),
            Some(h) if h != hash && th.get(name).map(String::as_str) != Some(h) => out.push(
                format!("table {name} changed, although the plan does not touch it"),
            ),
            _ => {}
        }
    }
    for l in &live.tables {
        if !fh.contains_key(&l.name) && !th.contains_key(&l.name) {
            out.push(format!(
                "table {} is in neither the old nor the new schema",
                l.name
            ));
        }
    }
    out
}
