//! The check before a drop: a plan that drops a table or column is held against the same
//! statistics as `wesley usage`. A recorded statement that still names the object raises
//! a `still_in_use` hazard (severity refuse) naming the statement and its calls. The
//! planner cannot know this (it never sees a database), so the executor computes these
//! hazards at apply time and judges them with the same policy as the plan's own.
//!
//! Without pg_stat_statements the check reports that it could not run; it never says an
//! object is safe to drop.

use super::catalog::{Catalog, TableName};
use super::refs::Parsed;
use super::stats::{self, Statements, Window};
use super::{analyse_all, global_reasons, object_reasons, Cited, Reason, Unused};
use crate::error::DbError;
use std::time::Duration;
use tokio_postgres::Client;
use wesley_planner::plan::{Hazard, HazardKind, StepKind};
use wesley_planner::planfile::{ValidPlan, ValidStep};

/// What a drop step removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// A dropped table.
    Table(TableName),
    /// A dropped column: its table and name.
    Column(TableName, String),
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Object::Table(t) => write!(f, "table {t}"),
            Object::Column(t, c) => write!(f, "column {t}.{c}"),
        }
    }
}

/// One drop step and what the statistics say about its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropUse {
    /// The drop step's id.
    pub step: String,
    /// What it drops.
    pub object: Object,
    /// Statements that name it, most called first: the step would make them fail.
    pub statements: Vec<Cited>,
    /// Set when no statement names it: how much that is worth.
    pub unused: Option<Unused>,
}

/// The outcome of the check.
#[derive(Debug, Clone, PartialEq)]
pub enum DropCheck {
    /// The plan drops no table or column (none still to run).
    NothingDropped,
    /// The statistics could not be read: nothing is known about the objects' use.
    NotRun {
        /// Why, and what would make the check possible.
        reason: String,
    },
    /// The statistics were read.
    Ran {
        /// What they cover.
        window: Window,
        /// Each drop step still to run, and what the statistics say about its object.
        drops: Vec<DropUse>,
    },
}

/// The object a drop step removes, if it is a table or column drop. A column's name is
/// the rest of the step id after `drop_column:<schema.table>.` (the planner's id scheme),
/// with a `#n` uniqueness suffix removed when the column has no such name.
pub fn dropped(step: &ValidStep, catalog: &Catalog) -> Option<Object> {
    let table = step.table.as_deref()?;
    let (s, n) = table.split_once('.')?;
    let t = TableName::new(s, n);
    match step.kind {
        StepKind::DropTable => Some(Object::Table(t)),
        StepKind::DropColumn => {
            let rest = step
                .id
                .strip_prefix(&format!("{}:{table}.", StepKind::DropColumn.as_str()))?;
            let column = if catalog.has_column(&t, rest) {
                rest
            } else {
                rest.rsplit_once('#')
                    .filter(|(_, n)| n.chars().all(|c| c.is_ascii_digit()))
                    .map_or(rest, |(c, _)| c)
            };
            Some(Object::Column(t, column.to_string()))
        }
        _ => None,
    }
}

/// Checks every table and column drop of `plan` against pg_stat_statements. `catalog` is
/// the schema the statements are resolved against: the live database's (apply) or the
/// plan's old schema (`wesley plan` with a database at hand).
pub async fn check_drops(
    c: &Client,
    plan: &ValidPlan,
    catalog: &Catalog,
    min_window: Duration,
) -> Result<DropCheck, DbError> {
    check_steps(c, &plan.steps, catalog, min_window).await
}

/// [`check_drops`] for some of a plan's steps (those still to run).
pub async fn check_steps<'a>(
    c: &Client,
    steps: impl IntoIterator<Item = &'a ValidStep>,
    catalog: &Catalog,
    min_window: Duration,
) -> Result<DropCheck, DbError> {
    let targets: Vec<(&ValidStep, Object)> = steps
        .into_iter()
        .filter_map(|s| dropped(s, catalog).map(|o| (s, o)))
        .collect();
    if targets.is_empty() {
        return Ok(DropCheck::NothingDropped);
    }
    let statements = match stats::statements(c).await? {
        Ok(s) => s,
        Err(u) => {
            return Ok(DropCheck::NotRun {
                reason: u.to_string(),
            })
        }
    };
    let activity = stats::activity(c).await?;
    Ok(judge(&statements, &activity, catalog, &targets, min_window))
}

/// [`check_drops`] on statistics already read.
pub fn judge(
    statements: &Statements,
    activity: &stats::Activity,
    catalog: &Catalog,
    targets: &[(&ValidStep, Object)],
    min_window: Duration,
) -> DropCheck {
    let analysed = analyse_all(statements, catalog);
    let global = global_reasons(statements, min_window);
    let mut drops = Vec::new();
    for (step, object) in targets {
        let (table, column) = match object {
            Object::Table(t) => (t, None),
            Object::Column(t, c) => (t, Some(c.as_str())),
        };
        let naming = analysed.iter().filter(|a| match &a.parsed {
            Parsed::Statement { refs, .. } => match column {
                None => refs.tables.contains(table),
                Some(c) => refs.columns.contains(&(table.clone(), c.to_string())),
            },
            Parsed::Unparsed(_) => false,
        });
        let statements = super::cite(naming.map(|a| &a.stat));
        let unused = statements.is_empty().then(|| {
            let mut r: Vec<Reason> = global.clone();
            r.extend(object_reasons(
                &analysed,
                table,
                column,
                activity.table(table),
            ));
            Unused::from(r)
        });
        drops.push(DropUse {
            step: step.id.clone(),
            object: object.clone(),
            statements,
            unused,
        });
    }
    DropCheck::Ran {
        window: statements.window.clone(),
        drops,
    }
}

impl DropCheck {
    /// The `still_in_use` hazards: one per dropped object that recorded statements still
    /// name, with the step id it belongs to.
    pub fn hazards(&self) -> Vec<(String, Hazard)> {
        let DropCheck::Ran { window, drops } = self else {
            return Vec::new();
        };
        drops
            .iter()
            .filter(|d| !d.statements.is_empty())
            .map(|d| {
                let shown: Vec<String> = d
                    .statements
                    .iter()
                    .take(3)
                    .map(|s| format!("`{}` ({} calls)", super::short(&s.query, 160), s.calls))
                    .collect();
                let more = d.statements.len().saturating_sub(3);
                let message = format!(
                    "{} is still used: pg_stat_statements recorded {} statement(s) naming it since {} ({}): {}{}. They fail once the step runs. Deploy code that no longer uses it, let the statistics show that (or reset them with pg_stat_statements_reset() after the deploy), or accept with --allow still_in_use.",
                    d.object,
                    d.statements.len(),
                    window.since,
                    window.length(),
                    shown.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                );
                (
                    d.step.clone(),
                    Hazard {
                        kind: HazardKind::StillInUse,
                        severity: HazardKind::StillInUse.default_severity(),
                        message,
                    },
                )
            })
            .collect()
    }

    /// Lines for people about what the check could not rule out.
    pub fn notes(&self) -> Vec<String> {
        match self {
            DropCheck::NothingDropped => Vec::new(),
            DropCheck::NotRun { reason } => vec![format!(
                "warning: could not check whether the objects this plan drops are still used: {reason}. Nothing is known about their use."
            )],
            DropCheck::Ran { window, drops } => drops
                .iter()
                .filter_map(|d| {
                    let u = d.unused.as_ref()?;
                    let mut line = format!(
                        "{}: no statement recorded since {} ({}) names it; confidence {}",
                        d.object,
                        window.since,
                        window.length(),
                        u.confidence.as_str()
                    );
                    for r in &u.reasons {
                        line.push_str(&format!("; {}", r.text));
                    }
                    Some(line)
                })
                .collect(),
        }
    }
}

/// The check as `wesley apply` runs it, before anything is changed: the drops among the
/// pending steps, resolved against the live schema (`live`, which the drift check has
/// just compared with the plan). Notes go to the reporter; returns the refusal when a
/// `still_in_use` hazard is not allowed by the policy.
pub async fn gate(
    c: &Client,
    plan: &ValidPlan,
    pending: &[usize],
    live: &crate::apply::drift::Live,
    policy: &wesley_planner::policy::HazardPolicy,
    rep: &crate::apply::events::Reporter,
) -> Result<Option<String>, DbError> {
    let catalog = Catalog::from_live(live);
    let check = check_steps(
        c,
        pending.iter().map(|&i| &plan.steps[i]),
        &catalog,
        super::DEFAULT_MIN_WINDOW,
    )
    .await?;
    for text in check.notes() {
        rep.emit(crate::apply::events::Event::Message { text });
    }
    let hazards = check.hazards();
    let blocked: Vec<&(String, Hazard)> = hazards
        .iter()
        .filter(|(_, h)| policy.blocks(h.kind, h.severity))
        .collect();
    if blocked.is_empty() {
        for (step, h) in &hazards {
            rep.emit(crate::apply::events::Event::Message {
                text: format!("accepted with --allow still_in_use ({step}): {}", h.message),
            });
        }
        return Ok(None);
    }
    Ok(Some(format!(
        "the plan drops objects that are still in use:\n{}\nreview them, then pass --allow still_in_use",
        blocked
            .iter()
            .map(|(s, h)| format!("  - {} ({s}): {}", h.kind.as_str(), h.message))
            .collect::<Vec<_>>()
            .join("\n")
    )))
}
