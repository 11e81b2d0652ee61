//! Which tables, columns and indexes a database's workload still uses, from the
//! server's own statistics (`wesley usage`, and the check `wesley apply` runs before a
//! plan drops something).
//!
//! pg_stat_statements records every normalised statement the server ran and how often,
//! since its statistics were last reset. Each statement is parsed with PostgreSQL's
//! grammar ([`refs`]) and its names resolved against the schema ([`catalog`]); a column
//! no recorded statement names is *unused*, with a confidence that says how much that
//! is worth:
//!
//! * **high**: the statistics cover at least the minimum window (`--min-window`, 7 days),
//!   no statement reaches the table with `*`, every statement that mentions the table or
//!   column parsed, no statement text is hidden from this role, and nothing the
//!   statistics show is unexplained;
//! * **medium**: as high, but statements were evicted from pg_stat_statements since the
//!   reset (`pg_stat_statements_info.dealloc`), or pg_stat_user_tables shows activity on
//!   the table that no recorded statement explains (functions, triggers);
//! * **low**: a `*` reaches the table, a statement that mentions it could not be parsed,
//!   statement texts are hidden, tracking is off, or the window is shorter than the
//!   minimum.
//!
//! Without pg_stat_statements nothing is claimed unused: the report says why it cannot
//! tell. Statements Wesley itself sends to user tables (batched backfills) carry
//! [`OWN_MARKER`] and are left out.

pub mod catalog;
pub mod check;
pub mod refs;
pub mod stats;

use catalog::{Catalog, TableName};
use refs::{Kind, Parsed};
use serde::Serialize;
use stats::{Activity, IndexStat, StatementStat, Statements, TableStat, Window};
use std::collections::BTreeMap;
use std::time::Duration;

/// The comment that starts every statement Wesley itself runs on user tables, so that
/// usage reports and drop checks do not count them as the application's.
pub const OWN_MARKER: &str = "/* wesley */";

/// The default `--min-window`: statistics younger than this give at most low confidence.
pub const DEFAULT_MIN_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// How much "no recorded statement uses it" is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A `*` reaches the table, a statement could not be parsed, or the statistics
    /// cover less than `--min-window`.
    Low,
    /// Something weakens the claim without voiding it: pg_stat_statements evicted
    /// entries, or pg_stat_user_tables shows activity on the table that no recorded
    /// statement explains.
    Medium,
    /// Never referenced over a long enough window, and no `SELECT *` on the table.
    High,
}

impl Confidence {
    /// `low`, `medium` or `high` (the `--json` names).
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// Why a claim of "unused" is worth less than high.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The most this reason leaves of the claim.
    pub confidence: Confidence,
    /// The reason in words.
    pub text: String,
}

/// "Unused", with its confidence (the lowest of its reasons; high without any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unused {
    /// The lowest confidence of `reasons`, or high.
    pub confidence: Confidence,
    /// What lowers the claim.
    pub reasons: Vec<Reason>,
}

impl Unused {
    fn from(reasons: Vec<Reason>) -> Unused {
        Unused {
            confidence: reasons
                .iter()
                .map(|r| r.confidence)
                .min()
                .unwrap_or(Confidence::High),
            reasons,
        }
    }
}

/// One recorded statement and what it reaches.
#[derive(Debug, Clone)]
pub struct Analysed {
    /// The normalised statement and its calls.
    pub stat: StatementStat,
    /// What the parser found it to reach.
    pub parsed: Parsed,
}

/// Parses every recorded statement except Wesley's own.
pub fn analyse_all(statements: &Statements, catalog: &Catalog) -> Vec<Analysed> {
    statements
        .statements
        .iter()
        .filter(|s| !s.query.trim_start().starts_with(OWN_MARKER))
        .map(|s| Analysed {
            stat: s.clone(),
            parsed: refs::analyse(&s.query, catalog),
        })
        .collect()
}

/// True when `text` contains `name` as a whole word (case-insensitive): a statement
/// that could not be parsed may reach what it mentions.
pub fn mentions(text: &str, name: &str) -> bool {
    let t = text.to_lowercase();
    let n = name.to_lowercase();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
    t.match_indices(&n)
        .any(|(i, _)| !word(t[..i].chars().next_back()) && !word(t[i + n.len()..].chars().next()))
}

/// A statement as reports cite it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cited {
    /// The normalised text (constants as `$n`), as pg_stat_statements stores it.
    pub query: String,
    /// Calls since the statistics' reset.
    pub calls: i64,
}

/// Statements sorted by calls (most first), then text.
fn cite<'a>(it: impl Iterator<Item = &'a StatementStat>) -> Vec<Cited> {
    let mut v: Vec<Cited> = it
        .map(|s| Cited {
            query: s.query.clone(),
            calls: s.calls,
        })
        .collect();
    v.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.query.cmp(&b.query)));
    v
}

/// What lowers confidence for everything: the window, hidden texts, evictions, tracking.
pub fn global_reasons(s: &Statements, min_window: Duration) -> Vec<Reason> {
    let mut out = Vec::new();
    if s.window.seconds < min_window.as_secs_f64() {
        out.push(Reason {
            confidence: Confidence::Low,
            text: format!(
                "the statistics cover only {} (since {}), less than the minimum window of {}",
                s.window.length(),
                s.window.since,
                stats::human(min_window.as_secs_f64())
            ),
        });
    }
    if s.track == "none" {
        out.push(Reason {
            confidence: Confidence::Low,
            text: "pg_stat_statements.track is none: no statement is recorded".into(),
        });
    }
    if s.hidden > 0 {
        out.push(Reason {
            confidence: Confidence::Low,
            text: format!("{} statement(s) of other roles are hidden from this role (grant it pg_read_all_stats)", s.hidden),
        });
    }
    if s.evicted > 0 {
        out.push(Reason {
            confidence: Confidence::Medium,
            text: format!("pg_stat_statements evicted {} entries since the reset to make room (raise pg_stat_statements.max): statements that ran may be missing", s.evicted),
        });
    }
    out
}

/// What `*`, unparsed statements and unexplained activity say about one table (and, with
/// `column`, one of its columns).
fn object_reasons(
    analysed: &[Analysed],
    table: &TableName,
    column: Option<&str>,
    activity: Option<&TableStat>,
) -> Vec<Reason> {
    let mut out = Vec::new();
    if column.is_some() {
        let stars: Vec<&StatementStat> = analysed
            .iter()
            .filter(|a| matches!(&a.parsed, Parsed::Statement { refs, .. } if refs.stars.contains(table)))
            .map(|a| &a.stat)
            .collect();
        if !stars.is_empty() {
            out.push(Reason {
                confidence: Confidence::Low,
                text: format!(
                    "{} statement(s) ({} calls) read every column of {table} with `*` or a whole-row reference, e.g. `{}`",
                    stars.len(),
                    stars.iter().map(|s| s.calls).sum::<i64>(),
                    cite(stars.into_iter())[0].query
                ),
            });
        }
    }
    let unparsed: Vec<&StatementStat> = analysed
        .iter()
        .filter(|a| {
            matches!(a.parsed, Parsed::Unparsed(_))
                && (mentions(&a.stat.query, &table.name)
                    || column.is_some_and(|c| mentions(&a.stat.query, c)))
        })
        .map(|a| &a.stat)
        .collect();
    if !unparsed.is_empty() {
        out.push(Reason {
            confidence: Confidence::Low,
            text: format!(
                "{} statement(s) that mention it could not be parsed, e.g. `{}`",
                unparsed.len(),
                cite(unparsed.into_iter())[0].query
            ),
        });
    }
    if let Some(a) = activity {
        let reached = analysed.iter().any(
            |a| matches!(&a.parsed, Parsed::Statement { refs, .. } if refs.tables.contains(table)),
        );
        if !reached && a.seq_scan + a.idx_scan + a.writes > 0 {
            out.push(Reason {
                confidence: Confidence::Medium,
                text: format!("pg_stat_user_tables shows {} scan(s) and {} row write(s) on {table} that no recorded statement explains (functions, triggers, evicted statements)", a.seq_scan + a.idx_scan, a.writes),
            });
        }
    }
    out
}

/// One column in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnUsage {
    /// The column's name.
    pub column: String,
    /// Statements that name it, most called first.
    pub statements: Vec<Cited>,
    /// Sum of their calls.
    pub calls: i64,
    /// Set when no statement names it.
    pub unused: Option<Unused>,
}

/// One table in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableUsage {
    /// `schema.table`.
    pub table: String,
    /// Statements that reach it, most called first.
    pub statements: Vec<Cited>,
    /// Sum of their calls.
    pub calls: i64,
    /// Statements that reach every column (`*`).
    pub star_statements: usize,
    /// Scans and row changes from pg_stat_user_tables, when the table exists.
    pub activity: Option<TableStat>,
    /// Its columns, in the model's order.
    pub columns: Vec<ColumnUsage>,
    /// Set when no statement reaches it.
    pub unused: Option<Unused>,
}

/// A statement the parser rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unparsed {
    /// The normalised text.
    pub query: String,
    /// Calls since the statistics' reset.
    pub calls: i64,
    /// The parser's message.
    pub error: String,
}

/// Counts of the recorded statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Statements pg_stat_statements holds for this database.
    pub recorded: usize,
    /// Wesley's own, left out.
    pub own: usize,
    /// Reads and writes of tables (SELECT, INSERT, UPDATE, DELETE, MERGE, COPY...).
    pub reads_and_writes: usize,
    /// DDL, session and maintenance commands.
    pub other: usize,
    /// Statements the parser rejected.
    pub unparsed: usize,
    /// Statements of other roles whose text this role may not read.
    pub hidden: i64,
}

/// The whole `wesley usage` report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// What pg_stat_statements covers: since its reset, or the server's start.
    pub statements_window: Window,
    /// What pg_stat_user_tables / pg_stat_user_indexes cover.
    pub activity_window: Window,
    /// `--min-window`, in seconds.
    pub min_window_seconds: f64,
    /// `pg_stat_statements.track` (`top`, `all` or `none`).
    pub track: String,
    /// Entries evicted since the reset (`pg_stat_statements_info.dealloc`).
    pub evicted: i64,
    /// Counts of the recorded statements.
    pub counts: Counts,
    /// Reasons that lower every claim.
    pub reasons: Vec<Reason>,
    /// Every table of the model.
    pub tables: Vec<TableUsage>,
    /// Indexes never scanned since the table statistics' reset.
    pub unused_indexes: Vec<IndexStat>,
    /// Statements that could not be parsed, with the parser's message.
    pub unparsed: Vec<Unparsed>,
}

/// Builds the report from the statistics.
pub fn report(
    statements: &Statements,
    activity: &Activity,
    catalog: &Catalog,
    min_window: Duration,
) -> Report {
    let analysed = analyse_all(statements, catalog);
    let global = global_reasons(statements, min_window);
    let mut tables = Vec::new();
    for (t, cols) in catalog.tables() {
        let reach: Vec<&Analysed> = analysed
            .iter()
            .filter(
                |a| matches!(&a.parsed, Parsed::Statement { refs, .. } if refs.tables.contains(t)),
            )
            .collect();
        let act = activity.table(t);
        let mut columns = Vec::new();
        for c in cols {
            let naming: Vec<&StatementStat> = analysed
                .iter()
                .filter(|a| matches!(&a.parsed, Parsed::Statement { refs, .. } if refs.columns.contains(&(t.clone(), c.clone()))))
                .map(|a| &a.stat)
                .collect();
            let calls = naming.iter().map(|s| s.calls).sum();
            let unused = naming.is_empty().then(|| {
                let mut r = global.clone();
                r.extend(object_reasons(&analysed, t, Some(c), act));
                Unused::from(r)
            });
            columns.push(ColumnUsage {
                column: c.clone(),
                statements: cite(naming.into_iter()),
                calls,
                unused,
            });
        }
        let unused = reach.is_empty().then(|| {
            let mut r = global.clone();
            r.extend(object_reasons(&analysed, t, None, act));
            Unused::from(r)
        });
        tables.push(TableUsage {
            table: t.to_string(),
            calls: reach.iter().map(|a| a.stat.calls).sum(),
            star_statements: reach
                .iter()
                .filter(|a| matches!(&a.parsed, Parsed::Statement { refs, .. } if refs.stars.contains(t)))
                .count(),
            statements: cite(reach.iter().map(|a| &a.stat)),
            activity: act.cloned(),
            columns,
            unused,
        });
    }
    let kind = |k: Kind| {
        analysed
            .iter()
            .filter(|a| matches!(&a.parsed, Parsed::Statement { kind, .. } if *kind == k))
            .count()
    };
    let unparsed: Vec<Unparsed> = analysed
        .iter()
        .filter_map(|a| match &a.parsed {
            Parsed::Unparsed(e) => Some(Unparsed {
                query: a.stat.query.clone(),
                calls: a.stat.calls,
                error: e.clone(),
            }),
            _ => None,
        })
        .collect();
    Report {
        statements_window: statements.window.clone(),
        activity_window: activity.window.clone(),
        min_window_seconds: min_window.as_secs_f64(),
        track: statements.track.clone(),
        evicted: statements.evicted,
        counts: Counts {
            recorded: statements.statements.len(),
            own: statements.statements.len() - analysed.len(),
            reads_and_writes: kind(Kind::Use),
            other: kind(Kind::Other),
            unparsed: unparsed.len(),
            hidden: statements.hidden,
        },
        reasons: global,
        tables,
        unused_indexes: activity
            .indexes
            .iter()
            .filter(|i| i.scans == 0)
            .cloned()
            .collect(),
        unparsed,
    }
}

/// Shortens a statement for one line of text output.
pub fn short(query: &str, max: usize) -> String {
    let one: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        format!("{}...", one.chars().take(max).collect::<String>())
    }
}

impl Report {
    /// The report for a terminal.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let w = &self.statements_window;
        let _ = writeln!(
            o,
            "Statements: pg_stat_statements since {} ({}, {}); {} recorded: {} reads and writes, {} other, {} not parsed{}{}.",
            w.since,
            w.source,
            w.length(),
            self.counts.recorded,
            self.counts.reads_and_writes,
            self.counts.other,
            self.counts.unparsed,
            if self.counts.hidden > 0 { format!(", {} hidden from this role", self.counts.hidden) } else { String::new() },
            if self.counts.own > 0 { format!(", {} of Wesley's own left out", self.counts.own) } else { String::new() },
        );
        let a = &self.activity_window;
        let _ =
            writeln!(
            o,
            "Tables and indexes: pg_stat_user_tables and pg_stat_user_indexes since {} ({}, {}{}).",
            a.since,
            a.source,
            if a.source == "server start" { "at least " } else { "" },
            a.length()
        );
        let _ = writeln!(
            o,
            "Unused: no recorded statement names it. Confidence high needs at least {} of statistics, no `*` on the table and nothing unexplained.",
            stats::human(self.min_window_seconds)
        );
        for r in &self.reasons {
            let _ = writeln!(o, "  note ({}): {}", r.confidence.as_str(), r.text);
        }
        for t in &self.tables {
            let _ = writeln!(o);
            match &t.unused {
                Some(u) => {
                    let _ = writeln!(
                        o,
                        "{}: unused (confidence {})",
                        t.table,
                        u.confidence.as_str()
                    );
                }
                None => {
                    let _ = writeln!(
                        o,
                        "{}: {} statement(s), {} call(s){}",
                        t.table,
                        t.statements.len(),
                        t.calls,
                        if t.star_statements > 0 {
                            format!("; {} read every column with `*`", t.star_statements)
                        } else {
                            String::new()
                        }
                    );
                }
            }
            if let Some(act) = &t.activity {
                let _ = writeln!(
                    o,
                    "  activity: {} sequential and {} index scan(s), {} row write(s), {} live row(s)",
                    act.seq_scan, act.idx_scan, act.writes, act.live_rows
                );
            }
            if let Some(u) = &t.unused {
                for r in u.reasons.iter().filter(|r| !self.reasons.contains(r)) {
                    let _ = writeln!(o, "  {} because {}", r.confidence.as_str(), r.text);
                }
            }
            let width = t.columns.iter().map(|c| c.column.len()).max().unwrap_or(0);
            for c in &t.columns {
                match &c.unused {
                    None => {
                        let _ = writeln!(
                            o,
                            "  {:<width$}  used    {} statement(s), {} call(s), e.g. {}",
                            c.column,
                            c.statements.len(),
                            c.calls,
                            short(&c.statements[0].query, 80)
                        );
                    }
                    Some(u) => {
                        let _ = writeln!(
                            o,
                            "  {:<width$}  unused  confidence {}",
                            c.column,
                            u.confidence.as_str()
                        );
                        // The table's own reasons are printed once, above.
                        let shown = t.unused.as_ref().map_or(&[][..], |u| &u.reasons[..]);
                        for r in u
                            .reasons
                            .iter()
                            .filter(|r| !self.reasons.contains(r) && !shown.contains(r))
                        {
                            let _ = writeln!(
                                o,
                                "  {:<width$}          {}: {}",
                                "",
                                r.confidence.as_str(),
                                r.text
                            );
                        }
                    }
                }
            }
        }
        if !self.unused_indexes.is_empty() {
            let _ = writeln!(
                o,
                "\nIndexes never scanned since {} ({}):",
                a.since,
                a.length()
            );
            for i in &self.unused_indexes {
                let _ = writeln!(
                    o,
                    "  {} on {}{}",
                    i.index,
                    i.table,
                    if i.enforces {
                        " (enforces a key or unique constraint: keep it for that)"
                    } else {
                        ""
                    }
                );
            }
        }
        if !self.unparsed.is_empty() {
            let _ = writeln!(o, "\nStatements that could not be parsed (they lower the confidence of what they mention):");
            for u in &self.unparsed {
                let _ = writeln!(
                    o,
                    "  {} ({} calls): {}",
                    short(&u.query, 100),
                    u.calls,
                    u.error
                );
            }
        }
        o
    }
}

/// Tables of the report by name, for callers that look one up.
pub fn by_table(r: &Report) -> BTreeMap<&str, &TableUsage> {
    r.tables.iter().map(|t| (t.table.as_str(), t)).collect()
}
