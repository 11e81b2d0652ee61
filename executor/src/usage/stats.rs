//! Reading the server's statistics: pg_stat_statements (which statements ran, how often,
//! since when), pg_stat_user_tables and pg_stat_user_indexes. Nothing here judges them.

use super::catalog::TableName;
use crate::error::DbError;
use serde::Serialize;
use tokio_postgres::Client;

/// One normalised statement of the current database, its calls summed over users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementStat {
    /// The normalised text (constants as `$n`).
    pub query: String,
    /// Calls since the reset, summed over users.
    pub calls: i64,
}

/// How long a set of statistics covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// When it began, as `YYYY-MM-DD HH:MM:SS UTC`.
    pub since: String,
    /// What `since` is: `stats_reset` (the statistics were reset then) or `server start`
    /// (no reset is recorded; the statistics are at least that old).
    pub source: String,
    /// Seconds from `since` to now.
    pub seconds: f64,
}

impl Window {
    /// `3 days 4 hours`, `2 hours 5 min`, `40 s`.
    pub fn length(&self) -> String {
        human(self.seconds)
    }
}

/// A duration in words, two units at most.
pub fn human(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
    let plural = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    if d > 0 && h == 0 {
        plural(d, "day")
    } else if d > 0 {
        format!("{} {}", plural(d, "day"), plural(h, "hour"))
    } else if h > 0 {
        format!("{} {m} min", plural(h, "hour"))
    } else if m > 0 {
        format!("{m} min {} s", s % 60)
    } else {
        format!("{s} s")
    }
}

/// pg_stat_statements as this connection sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statements {
    /// The readable statements, sorted by text.
    pub statements: Vec<StatementStat>,
    /// Since the reset (`pg_stat_statements_info.stats_reset`) or the server's start.
    pub window: Window,
    /// Entries evicted since the reset to make room (`pg_stat_statements_info.dealloc`):
    /// statements that ran may be missing.
    pub evicted: i64,
    /// Statements of other users whose text this role may not read
    /// (`<insufficient privilege>`).
    pub hidden: i64,
    /// `pg_stat_statements.track`: `top` (statements sent by clients), `all` (also those
    /// run inside functions) or `none`.
    pub track: String,
    /// The extension's schema.
    pub schema: String,
}

/// Why pg_stat_statements cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unavailable {
    /// What is missing (not installed, not preloaded, no permission).
    pub reason: String,
    /// What would make it available.
    pub fix: String,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason, self.fix)
    }
}

fn q(name: &str) -> String {
    wesley_planner::sql::ident(name)
}

/// Reads pg_stat_statements for the current database. `Ok(Err(..))` says why it cannot
/// be read (not installed, not preloaded, no permission); `Err` is a connection failure.
pub async fn statements(c: &Client) -> Result<Result<Statements, Unavailable>, DbError> {
    // pg_settings, not current_setting(): the setting is visible only to superusers and
    // members of pg_read_all_settings, and to anyone else the row is simply absent
    // (None: not known; reading the view then says whether the module is loaded).
    let preloaded: Option<bool> = c
        .query_typed_opt(
            "SELECT 'pg_stat_statements' = ANY(string_to_array(replace(setting, ' ', ''), ',')) FROM pg_settings WHERE name = 'shared_preload_libraries'",
            &[],
        )
        .await?
        .map(|r| r.get(0));
    let schema: Option<String> = c
        .query_typed_opt(
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'",
            &[],
        )
        .await
        ?
        .map(|r| r.get(0));
    let Some(schema) = schema else {
        return Ok(Err(Unavailable {
            reason: "the pg_stat_statements extension is not installed in this database".into(),
            fix: if preloaded == Some(true) {
                "run CREATE EXTENSION pg_stat_statements in it".into()
            } else {
                "add pg_stat_statements to shared_preload_libraries (if it is not there yet), restart the server, then run CREATE EXTENSION pg_stat_statements".into()
            },
        }));
    };
    if preloaded == Some(false) {
        return Ok(Err(Unavailable {
            reason: "pg_stat_statements is installed but not loaded: it is missing from shared_preload_libraries, so no statement is recorded".into(),
            fix: "add it to shared_preload_libraries and restart the server".into(),
        }));
    }
    let view = format!("{}.pg_stat_statements", q(&schema));
    let rows = match c
        .query_typed(
            &format!("SELECT query, sum(calls)::bigint FROM {view} WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) GROUP BY query ORDER BY query"),
            &[],
        )
        .await
    {
        Ok(r) => r,
        Err(e) => {
            let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
            return if code == "42501" {
                Ok(Err(Unavailable {
                    reason: format!("this role may not read pg_stat_statements: {}", DbError::from(&e)),
                    fix: "connect as a role that is a member of pg_read_all_stats".into(),
                }))
            } else if code == "55000" {
                Ok(Err(Unavailable {
                    reason: format!("pg_stat_statements is not loaded: {}", DbError::from(&e)),
                    fix: "add it to shared_preload_libraries and restart the server".into(),
                }))
            } else {
                Err(DbError::from(e))
            };
        }
    };
    let mut statements = Vec::new();
    let mut hidden = 0;
    for r in rows {
        let query: Option<String> = r.get(0);
        let calls: i64 = r.get(1);
        match query {
            Some(q) if q != "<insufficient privilege>" => {
                statements.push(StatementStat { query: q, calls })
            }
            _ => hidden += 1,
        }
    }
    // pg_stat_statements_info exists from PostgreSQL 14 (the oldest Wesley supports).
    let info = c
        .query_typed_one(
            &format!("SELECT dealloc, to_char(coalesce(stats_reset, pg_postmaster_start_time()) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time()))::float8 FROM {}.pg_stat_statements_info", q(&schema)),
            &[],
        )
        .await
        ?;
    let track: String = c
        .query_typed_one(
            "SELECT coalesce(current_setting('pg_stat_statements.track', true), 'top')",
            &[],
        )
        .await?
        .get(0);
    Ok(Ok(Statements {
        statements,
        window: Window {
            since: info.get(1),
            source: "stats_reset".into(),
            seconds: info.get(2),
        },
        evicted: info.get(0),
        hidden,
        track,
        schema,
    }))
}

/// Activity of one table since the database's statistics were reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableStat {
    /// Sequential scans started.
    pub seq_scan: i64,
    /// Index scans started.
    pub idx_scan: i64,
    /// Rows inserted, updated and deleted.
    pub writes: i64,
    /// Estimated live rows (`n_live_tup`).
    pub live_rows: i64,
}

/// One index and how often it was scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexStat {
    /// `schema.table`.
    pub table: String,
    /// The index's name.
    pub index: String,
    /// Scans since the reset (`idx_scan`).
    pub scans: i64,
    /// The index enforces a primary key, unique or exclusion constraint (or is a unique
    /// index): dropping it changes what the database accepts, whether or not it is read.
    pub enforces: bool,
}

/// pg_stat_user_tables and pg_stat_user_indexes, and the window they cover.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Every user table of the database.
    pub tables: Vec<(TableName, TableStat)>,
    /// Every user index.
    pub indexes: Vec<IndexStat>,
    /// Since the database's statistics reset (`pg_stat_database.stats_reset`) or the
    /// server's start.
    pub window: Window,
}

impl Activity {
    /// The activity of table `t`, if it exists.
    pub fn table(&self, t: &TableName) -> Option<&TableStat> {
        self.tables.iter().find(|(n, _)| n == t).map(|(_, s)| s)
    }
}

/// Reads the cumulative statistics of tables and indexes.
pub async fn activity(c: &Client) -> Result<Activity, DbError> {
    let tables = c
        .query_typed(
            "SELECT schemaname::text, relname::text, coalesce(seq_scan, 0), coalesce(idx_scan, 0), n_tup_ins + n_tup_upd + n_tup_del, n_live_tup FROM pg_stat_user_tables ORDER BY 1, 2",
            &[],
        )
        .await
        ?
        .iter()
        .map(|r| {
            (
                TableName::new(r.get(0), r.get(1)),
                TableStat {
                    seq_scan: r.get(2),
                    idx_scan: r.get(3),
                    writes: r.get(4),
                    live_rows: r.get(5),
                },
            )
        })
        .collect();
    let indexes = c
        .query_typed(
            "SELECT s.schemaname::text || '.' || s.relname::text, s.indexrelname::text, coalesce(s.idx_scan, 0), i.indisunique OR i.indisprimary OR i.indisexclusion OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = s.indexrelid) FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid WHERE s.schemaname <> 'wesley' ORDER BY 1, 2",
            &[],
        )
        .await
        ?
        .iter()
        .map(|r| IndexStat {
            table: r.get(0),
            index: r.get(1),
            scans: r.get(2),
            enforces: r.get(3),
        })
        .collect();
    let w = c
        .query_typed_one(
            "SELECT stats_reset IS NOT NULL, to_char(coalesce(stats_reset, pg_postmaster_start_time()) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time()))::float8 FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await
        ?;
    let reset: bool = w.get(0);
    Ok(Activity {
        tables,
        indexes,
        window: Window {
            since: w.get(1),
            source: if reset { "stats_reset" } else { "server start" }.into(),
            seconds: w.get(2),
        },
    })
}
