//! `wesley apply`: runs a validated plan file against a database, safely and resumably.
//!
//! Order of business, one module a stage:
//!
//! 1. here: refuse disallowed hazards (before connecting), connect, check the server's
//!    version and that sessions are kept (no pooler in transaction mode), take the
//!    advisory lock;
//! 2. `preflight`: set up the ledger, end orphaned step sessions of a crashed run, refuse
//!    a different half-applied plan or a modified one, detect drift;
//! 3. here: refuse drops of objects the workload still uses (`crate::usage::check`),
//!    then record a baseline and the run in the ledger;
//! 4. `schedule`: run the pending steps, in plan order with one job or as a rolling
//!    frontier with several, each one by `step` (attempts, timeouts, retries), progress
//!    mirrored by `checkpoint`; every other phase before contract, and `restore` takes a
//!    restore point in between;
//! 5. `finish`: check that the database hashes like the plan's target, and record how the
//!    run ended.
//!
//! How a run ends is an [`Outcome`] with a stable reason; errors talking to PostgreSQL
//! are [`DbError`]s.

pub mod advisory;
pub mod backfill;
pub mod checkpoint;
pub mod connect;
pub mod conninfo;
pub mod drift;
pub mod events;
pub mod exprs;
mod finish;
pub mod ledger;
pub mod pooler;
mod preflight;
pub mod psql;
pub mod restore;
mod rollback;
mod schedule;
pub mod step;
pub mod tls;

use crate::error::DbError;
use connect::ConnInfo;
use events::{Event, Reporter};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wesley_planner::plan::Hazard;
use wesley_planner::plan::Phase;
use wesley_planner::planfile::{ValidPlan, ValidStep};
use wesley_planner::policy::HazardPolicy;

pub use step::{lock_backoff, step_timeout};

/// Validated settings of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to connect (resolved like libpq: URL or `key=value`, `DATABASE_URL`, `PG*`);
    /// pinned to the first host that answers once the run has connected.
    pub conn: ConnInfo,
    /// `--jobs`: steps that may run at once (at least 1; 1 keeps plan order).
    pub jobs: usize,
    /// `--lock-timeout` (default 200 ms): `lock_timeout` of each attempt of a step, the
    /// longest any application query can queue behind it.
    pub lock_timeout: Duration,
    /// Lock budget of non-transactional CONCURRENTLY steps. Their SHARE UPDATE EXCLUSIVE
    /// lock never blocks application reads or writes, and CREATE INDEX CONCURRENTLY also
    /// waits for every older transaction under this timeout: a short one would cancel
    /// (and restart from scratch) builds that are merely waiting.
    pub concurrent_lock_timeout: Duration,
    /// For instant steps.
    pub statement_timeout: Duration,
    /// For steps that scan, build indexes or backfill (zero: no limit).
    pub long_statement_timeout: Duration,
    /// `--retries` (default 1000): attempts of one step after lock timeouts (55P03) or
    /// deadlocks (40P01) before the run fails.
    pub retries: u32,
    /// How long one step may keep retrying lock timeouts and deadlocks before the run
    /// fails (the overall retry budget).
    pub lock_retry_budget: Duration,
    /// `--allow` and `--deny`: which hazards refuse the run (the same policy as `wesley plan`).
    pub policy: HazardPolicy,
    /// `--allow-drift`: run even when the database is not where the plan starts.
    pub allow_drift: bool,
    /// `--dry-run`: check and list the pending steps, change nothing.
    pub dry_run: bool,
    /// The `psql` program that runs steps (a path or a name looked up in `PATH`).
    pub psql: String,
    /// `--checkpoint-dir` (default `.wesley/`): where the local progress file goes; `None`
    /// writes none.
    pub checkpoint_dir: Option<PathBuf>,
    /// `--batch-size`: rows per backfill batch; `None` uses the plan file's size.
    pub batch_size: Option<u32>,
    /// `--batch-delay`: pause between backfill batches (lets replicas and vacuum keep up).
    pub batch_delay: Duration,
    /// `--lock-wait` (default 60 s): how long to wait for another run's advisory lock
    /// before refusing with `lock_held`.
    pub lock_wait: Duration,
    /// `--until PHASE` (`wesley apply` only): run the steps of that phase and the ones
    /// before it, then stop ([`Outcome::Paused`]); a later run goes on from there.
    pub until: Option<Phase>,
}

/// How a run ended. Maps to the exit codes 0 (done, already applied, dry run), 1
/// (failed) and 3 (refused); `--json` reports [`Outcome::reason`] for scripts to match on.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every step is applied and the database is the plan's target.
    Done,
    /// The ledger says this plan was applied before; nothing ran.
    AlreadyApplied,
    /// `--dry-run`: checked and listed, nothing changed.
    DryRun,
    /// `--until PHASE`: every step up to that phase ran; `pending` steps are left for a
    /// later run. The run stays recorded as `paused` (another plan is refused meanwhile).
    Paused {
        /// The last phase that ran.
        until: Phase,
        /// Steps not yet run.
        pending: usize,
    },
    /// The run failed; the database is at a recorded step (for a step failure) or was
    /// not changed. `message` says what to do.
    Failed {
        /// Why, as a stable name.
        reason: FailReason,
        /// What happened and what to do, without passwords.
        message: String,
    },
    /// The run was refused before it changed anything.
    Refused {
        /// Why, as a stable name.
        reason: RefuseReason,
        /// What to decide or fix, without passwords.
        message: String,
    },
}

/// Why a run failed (exit code 1). The names are stable (`--json`'s `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum FailReason {
    /// No server could be reached.
    Connection,
    /// One of Wesley's own queries (ledger, catalog) failed.
    Database,
    /// A step failed (the database refused it).
    Step,
    /// A step's lock stayed taken through every retry (`--retries`, `--lock-retry-budget`).
    LockRetriesExhausted,
    /// Every step ran, but the database does not hash like the plan's target.
    TargetMismatch,
    /// Every step ran, but the server prints the target's expressions differently.
    ExpressionsDiffer,
}

/// Why a run was refused (exit code 3). The names are stable (`--json`'s `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum RefuseReason {
    /// The plan has hazards the policy (`--allow`, `--deny`) refuses.
    Hazards,
    /// The server is older than [`MIN_SERVER_MAJOR`], or than every version the plan is
    /// verified on (its schema needs a newer one).
    ServerVersion,
    /// Connections are not kept on one server session (a pooler in transaction mode).
    Pooler,
    /// Another `wesley apply` held the advisory lock for all of `--lock-wait`.
    LockHeld,
    /// Another plan is half-applied on the database.
    OtherPlan,
    /// Steps of this plan were applied with other SQL than the file holds.
    ModifiedPlan,
    /// The database is not where the plan starts (or resumes) from.
    Drift,
    /// The plan drops a table or column that statements recorded by pg_stat_statements
    /// still use, and `--allow still_in_use` was not given.
    StillInUse,
    /// `wesley rollback`: the plan never ran on this database, so there is nothing to undo.
    NotApplied,
    /// `wesley rollback`: a step that cannot be undone has run (a contract step).
    CannotUndo,
}

impl Outcome {
    fn failed(reason: FailReason, message: String) -> Outcome {
        Outcome::Failed { reason, message }
    }

    fn refused(reason: RefuseReason, message: String) -> Outcome {
        Outcome::Refused { reason, message }
    }

    /// A stable snake_case name: `done`, `already_applied`, `dry_run`, or a
    /// [`FailReason`] or [`RefuseReason`].
    pub fn reason(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::AlreadyApplied => "already_applied",
            Outcome::DryRun => "dry_run",
            Outcome::Paused { .. } => "paused",
            Outcome::Failed { reason, .. } => reason.into(),
            Outcome::Refused { reason, .. } => reason.into(),
        }
    }

    /// The message of a failure or refusal.
    pub fn message(&self) -> Option<&str> {
        match self {
            Outcome::Failed { message, .. } | Outcome::Refused { message, .. } => Some(message),
            _ => None,
        }
    }

    /// `wesley apply`'s exit code for this outcome ([`crate::exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Done | Outcome::AlreadyApplied | Outcome::DryRun | Outcome::Paused { .. } => {
                crate::exit::OK
            }
            Outcome::Failed { .. } => crate::exit::FAILED,
            Outcome::Refused { .. } => crate::exit::REFUSED,
        }
    }
}

/// The oldest PostgreSQL major version `wesley apply` runs against.
pub const MIN_SERVER_MAJOR: u32 = 14;

/// `application_name` of the sessions that run steps; a new run ends leftovers of a
/// crashed one (only after it holds the advisory lock, so no live run is touched).
pub const STEP_APP: &str = "wesley-step";
/// `application_name` of the session that holds the advisory lock (shown to a second run
/// that waits for it).
pub const LOCK_APP: &str = "wesley";

struct Ctx {
    /// The plan the run executes: the plan file's, or for a rollback the inverse steps
    /// ([`ValidPlan::rollback_plan`]) once they are known.
    plan: ValidPlan,
    opts: Options,
    rep: Arc<Reporter>,
    mode: Mode,
}

/// What a run does.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    /// `wesley apply`.
    Apply,
    /// `wesley rollback`, before the inverse steps are known (`plan` is the plan file's).
    Rollback,
    /// `wesley rollback` running the inverse steps of plan `forward` (its `plan_hash`);
    /// `stays` is what cannot be undone and stays; `touched`, every table the plan's
    /// steps touch (whether or not they ran: drift allows those anywhere in between).
    Undo {
        forward: String,
        stays: Vec<String>,
        touched: std::collections::BTreeSet<String>,
    },
}

/// Runs a validated plan against the database of `opts.conn` (see the module's order of
/// business), reporting progress through `rep`. Never fails as a function: how the run
/// ended, including every error, is the [`Outcome`]; no message holds a password.
pub async fn apply(plan: ValidPlan, opts: Options, rep: Reporter) -> Outcome {
    let refused: Vec<_> = plan
        .hazards()
        .filter(|(_, h)| opts.policy.blocks(h.kind, h.severity))
        .collect();
    if !refused.is_empty() {
        return hazards_refused(&refused);
    }
    start(plan, opts, rep, Mode::Apply).await
}

/// `wesley rollback`: undoes what a plan did on the database of `opts.conn`, before its
/// contract phase, with everything [`apply`] has (ledger, advisory lock, timeouts,
/// retries, resume). Refused when the plan never ran there ([`RefuseReason::NotApplied`])
/// or a step that cannot be undone ran ([`RefuseReason::CannotUndo`]); otherwise the run
/// of the inverse steps ends like an apply, and when it is done the plan's run is marked
/// `rolled_back` and its steps leave the ledger. Never fails as a function.
pub async fn rollback(plan: ValidPlan, opts: Options, rep: Reporter) -> Outcome {
    start(plan, opts, rep, Mode::Rollback).await
}

/// Connects and runs: the first host that answers is the server of the whole run (every
/// later connection, psql or Rust, goes to that one). Every error becomes an [`Outcome`]
/// without a password in it.
async fn start(plan: ValidPlan, opts: Options, rep: Reporter, mode: Mode) -> Outcome {
    let mut opts = opts;
    let client = match opts.conn.connect_pinned(None).await {
        Ok((client, pinned)) => {
            opts.conn = pinned;
            client
        }
        Err(e) => return Outcome::failed(FailReason::Connection, e.to_string()),
    };
    let ctx = Arc::new(Ctx {
        plan,
        opts,
        rep: Arc::new(rep),
        mode,
    });
    match run(ctx.clone(), client).await {
        Ok(o) => o,
        Err(e) => {
            let reason = match e {
                DbError::Connection(_) => FailReason::Connection,
                _ => FailReason::Database,
            };
            Outcome::failed(reason, ctx.opts.conn.redact(&e.to_string()))
        }
    }
}

/// The refusal of a plan with hazards the policy refuses (`refused`: step and hazard).
fn hazards_refused(refused: &[(&ValidStep, &Hazard)]) -> Outcome {
    let mut kinds: Vec<&str> = refused.iter().map(|(_, h)| h.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    Outcome::refused(
        RefuseReason::Hazards,
        format!(
            "the plan has hazards that need a decision:\n{}\nreview them, then pass --allow {}",
            refused
                .iter()
                .map(|(s, h)| format!("  - {} ({}): {}", h.kind.as_str(), s.id, h.message))
                .collect::<Vec<_>>()
                .join("\n"),
            kinds.join(",")
        ),
    )
}

/// Checks the server, takes the advisory lock, runs, releases the lock.
async fn run(ctx: Arc<Ctx>, client: tokio_postgres::Client) -> Result<Outcome, DbError> {
    let opts = &ctx.opts;
    let rep = &ctx.rep;
    // The key comes from the database the server says we are in: through a pooler the
    // name in the URL may be an alias, and two runs must agree on one lock.
    let dbname: String = client
        .query_typed_one("SELECT current_database()::text", &[])
        .await?
        .get(0);
    let key = advisory::key(&dbname);
    // The server version: older than 14 is refused; one the plan was not verified on is
    // named (its lock behaviour was not measured).
    let version: i32 = client
        .query_typed_one("SELECT current_setting('server_version_num')::int", &[])
        .await?
        .get(0);
    let major = (version / 10_000) as u32;
    if major < MIN_SERVER_MAJOR {
        return Ok(Outcome::refused(
            RefuseReason::ServerVersion,
            format!(
                "{} runs PostgreSQL {major}; Wesley needs PostgreSQL {MIN_SERVER_MAJOR} or later",
                opts.conn
            ),
        ));
    }
    // A plan whose schemas need a newer server (e.g. NULLS NOT DISTINCT, 15+) is verified
    // only on versions that have what it uses: older ones are refused before any change.
    if let Some(&oldest) = ctx.plan.verified_on().iter().min() {
        if major < oldest {
            return Ok(Outcome::refused(
                RefuseReason::ServerVersion,
                format!(
                    "{} runs PostgreSQL {major}; this plan needs PostgreSQL {oldest} or later (its schema uses what older versions lack, such as NULLS NOT DISTINCT)",
                    opts.conn
                ),
            ));
        }
    }
    if !ctx.plan.verified_on().contains(&major) {
        rep.emit(Event::Message {
            text: format!(
                "warning: PostgreSQL {major} is not among the versions this plan's locks and strategies are verified on ({}); watch the first runs closely",
                ctx.plan
                    .verified_on()
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    // Before anything is locked or changed: every connection must keep its session.
    if let Some(why) = pooler::sessions_are_kept(&opts.conn, &client).await? {
        return Ok(Outcome::refused(RefuseReason::Pooler, why));
    }
    if !opts.dry_run {
        let got = advisory::acquire(&client, key, opts.lock_wait, |h| {
            rep.emit(Event::WaitingForLock {
                holder_pid: h.as_ref().map(|x| x.0),
                holder: h.map(|x| x.1),
            })
        })
        .await?;
        if let advisory::Acquired::TimedOut { holder } = got {
            let who = holder
                .map(|(pid, app)| format!(" (pid {pid}, {app})"))
                .unwrap_or_default();
            return Ok(Outcome::refused(
                RefuseReason::LockHeld,
                format!("another `wesley apply` is running on {}{who}; it still held the lock after {} s. Try again when it has finished.", opts.conn, opts.lock_wait.as_secs()),
            ));
        }
    }
    let result = locked(&ctx, &client).await;
    if !opts.dry_run {
        advisory::release(&client, key).await;
    }
    result
}

/// Everything done under the advisory lock.
async fn locked(ctx: &Arc<Ctx>, client: &tokio_postgres::Client) -> Result<Outcome, DbError> {
    if ctx.mode == Mode::Rollback {
        return match rollback::inverse(ctx, client).await? {
            Ok(undo) => run_steps(&undo, client).await,
            Err(outcome) => Ok(outcome),
        };
    }
    run_steps(ctx, client).await
}

/// Preflight, the steps, and the end of the run.
async fn run_steps(ctx: &Arc<Ctx>, client: &tokio_postgres::Client) -> Result<Outcome, DbError> {
    let (plan, opts, rep) = (&ctx.plan, &ctx.opts, &ctx.rep);
    let start = match preflight::check(ctx, client).await? {
        ControlFlow::Break(outcome) => return Ok(outcome),
        ControlFlow::Continue(start) => start,
    };
    let applied = &start.applied;
    let mut pending: Vec<usize> = (0..plan.steps.len())
        .filter(|&i| !applied.contains_key(&plan.steps[i].id))
        .collect();
    // `--until`: the steps of the phases up to it, and not one whose dependency waits.
    let mut held = 0;
    if let Some(until) = opts.until {
        let mut kept: std::collections::BTreeSet<&str> =
            applied.keys().map(String::as_str).collect();
        pending.retain(|&i| {
            let s = &plan.steps[i];
            let run = s.phase <= until && s.depends_on.iter().all(|d| kept.contains(d.as_str()));
            if run {
                kept.insert(&s.id);
            } else {
                held += 1;
            }
            run
        });
    }
    // Drops of objects recent statements still use (pg_stat_statements), before anything runs.
    if ctx.mode == Mode::Apply {
        if let Some(why) =
            crate::usage::check::gate(client, plan, &pending, &start.live, &opts.policy, rep)
                .await?
        {
            return Ok(Outcome::refused(RefuseReason::StillInUse, why));
        }
    }
    rep.emit(Event::RunStarted {
        plan_hash: plan.plan_hash().to_string(),
        database: opts.conn.to_string(),
        steps: plan.steps.len(),
        already_applied: applied.len(),
        jobs: opts.jobs,
    });
    if opts.dry_run {
        for &i in &pending {
            let s = &plan.steps[i];
            let summary = plan.text(s).map_err(DbError::Unexpected)?.summary;
            rep.emit(Event::Message {
                text: format!("  would run [{}] {summary} — {}", s.phase, s.id),
            });
        }
        return Ok(Outcome::DryRun);
    }
    // A database Wesley never migrated: its history starts at the schema it has (when it
    // has the plan's starting schema: not after --allow-drift).
    if ctx.mode == Mode::Apply
        && start.runs.is_empty()
        && start.live_hash == plan.from().schema_hash
        && ledger::record_baseline(client, &plan.from().schema_hash, plan.from().sdl.as_deref())
            .await?
    {
        rep.emit(Event::Message {
            text: format!(
                "Recorded a baseline run: the history of {} starts at {}.",
                opts.conn,
                plan.from().schema_hash
            ),
        });
    }
    ledger::start_run(
        client,
        plan.plan_hash(),
        &plan.from().schema_hash,
        &plan.to().schema_hash,
        plan.steps.len(),
        plan.to().sdl.as_deref(),
    )
    .await?;
    rep.set_position(applied.len() as u64);

    let mut state = checkpoint::Checkpoint::new(applied);
    state.write(ctx, true);
    // Everything before contract first, then a restore point, then contract (and any
    // step an untrusted plan file makes depend on a contract step).
    // A rollback runs its inverse steps in the order listed, with no restore point.
    let before: Vec<usize> = pending
        .iter()
        .copied()
        .filter(|&i| plan.steps[i].phase != Phase::Contract || ctx.mode != Mode::Apply)
        .collect();
    let mut failure = schedule::schedule(ctx, &before, &mut state).await;
    let rest: Vec<usize> = pending
        .iter()
        .copied()
        .filter(|&i| !state.applied.contains(&plan.steps[i].id))
        .collect();
    if failure.is_none() && !rest.is_empty() {
        let contract = |i: &usize| plan.steps[*i].phase == Phase::Contract;
        let started = (0..plan.steps.len())
            .filter(contract)
            .any(|i| state.applied.contains(&plan.steps[i].id));
        let taken = if rest.iter().any(contract) {
            restore::before_contract(ctx, client, started).await
        } else {
            Ok(None)
        };
        failure = match taken {
            // A ledger error: recorded by `finish` like a step's.
            Err(e) => Some(("(restore point)".into(), step::StepError::Db(e))),
            Ok(_) => schedule::schedule(ctx, &rest, &mut state).await,
        };
    }
    finish::finish(ctx, client, &mut state, failure, held, start.known).await
}
