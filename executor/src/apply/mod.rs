//! `wesley apply`: runs a validated plan file against a database, safely and resumably.
//!
//! Order of business: refuse disallowed hazards (before connecting), connect, take the
//! advisory lock, set up the ledger, refuse a different half-applied plan, end orphaned
//! step sessions of a crashed run, detect drift, then run the pending steps — in plan
//! order with one job, or as a rolling frontier with several — and finally check that the
//! database hashes like the plan's target.

pub mod advisory;
pub mod backfill;
pub mod connect;
pub mod conninfo;
pub mod drift;
pub mod events;
pub mod exprs;
pub mod ledger;
pub mod pooler;
pub mod psql;
pub mod tls;

use connect::ConnInfo;
use events::{Event, Reporter};
use psql::{PsqlSession, SqlError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_postgres::types::Type;
use wesley_planner::plan::{StepKind, TimeoutClass};
use wesley_planner::planfile::ValidPlan;
use wesley_planner::policy::HazardPolicy;
use wesley_planner::sql::qualified;

/// Validated settings of one run.
#[derive(Debug, Clone)]
pub struct Options {
    pub conn: ConnInfo,
    pub jobs: usize,
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
    pub retries: u32,
    /// How long one step may keep retrying lock timeouts and deadlocks before the run
    /// fails (the overall retry budget).
    pub lock_retry_budget: Duration,
    /// `--allow` and `--deny`: which hazards refuse the run (the same policy as `wesley plan`).
    pub policy: HazardPolicy,
    pub allow_drift: bool,
    pub dry_run: bool,
    pub psql: String,
    pub checkpoint_dir: Option<PathBuf>,
    pub batch_size: Option<u32>,
    pub batch_delay: Duration,
    pub lock_wait: Duration,
}

/// How a run ended. Maps to the exit codes 0, 1 and 3.
#[derive(Debug)]
pub enum Outcome {
    Done,
    AlreadyApplied,
    DryRun,
    Failed(String),
    Refused(String),
}

/// The oldest PostgreSQL major version `wesley apply` runs against.
pub const MIN_SERVER_MAJOR: u32 = 14;

/// `application_name` of the sessions that run steps; a new run ends leftovers of a
/// crashed one (only after it holds the advisory lock, so no live run is touched).
pub const STEP_APP: &str = "wesley-step";
pub const LOCK_APP: &str = "wesley";

struct Ctx {
    plan: ValidPlan,
    opts: Options,
    rep: Reporter,
}

struct Worker {
    session: Option<PsqlSession>,
    client: Option<tokio_postgres::Client>,
}

pub async fn apply(plan: ValidPlan, opts: Options, rep: Reporter) -> Outcome {
    let refused: Vec<_> = plan
        .hazards()
        .filter(|(_, h)| opts.policy.blocks(h.kind, h.severity))
        .collect();
    if !refused.is_empty() {
        let mut kinds: Vec<&str> = refused.iter().map(|(_, h)| h.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        return Outcome::Refused(format!(
            "the plan has hazards that need a decision:\n{}\nreview them, then pass --allow {}",
            refused
                .iter()
                .map(|(s, h)| format!("  - {} ({}): {}", h.kind.as_str(), s.id, h.message))
                .collect::<Vec<_>>()
                .join("\n"),
            kinds.join(",")
        ));
    }
    // The first host that answers is the server of the whole run: every later
    // connection, psql or Rust, goes to that one.
    let mut opts = opts;
    let client = match opts.conn.connect_pinned(None).await {
        Ok((client, pinned)) => {
            opts.conn = pinned;
            client
        }
        Err(e) => return Outcome::Failed(e),
    };
    let ctx = Arc::new(Ctx { plan, opts, rep });
    match run(ctx.clone(), client).await {
        Ok(o) => o,
        Err(e) => Outcome::Failed(ctx.opts.conn.redact(&e)),
    }
}

async fn run(ctx: Arc<Ctx>, client: tokio_postgres::Client) -> Result<Outcome, String> {
    let opts = &ctx.opts;
    let rep = &ctx.rep;
    // The key comes from the database the server says we are in: through a pooler the
    // name in the URL may be an alias, and two runs must agree on one lock.
    let dbname: String = client
        .query_typed_one("SELECT current_database()::text", &[])
        .await
        .map_err(|e| connect::describe(&e))?
        .get(0);
    let key = advisory::key(&dbname);
    // The server version: older than 14 is refused; one the plan was not verified on is
    // named (its lock behaviour was not measured).
    let version: i32 = client
        .query_typed_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|e| connect::describe(&e))?
        .get(0);
    let major = (version / 10_000) as u32;
    if major < MIN_SERVER_MAJOR {
        return Ok(Outcome::Refused(format!(
            "{} runs PostgreSQL {major}; Wesley needs PostgreSQL {MIN_SERVER_MAJOR} or later",
            opts.conn
        )));
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
        return Ok(Outcome::Refused(why));
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
            return Ok(Outcome::Refused(format!("another `wesley apply` is running on {}{who}; it still held the lock after {} s. Try again when it has finished.", opts.conn, opts.lock_wait.as_secs())));
        }
    }
    let result = locked(&ctx, &client).await;
    if !opts.dry_run {
        advisory::release(&client, key).await;
    }
    result
}

async fn locked(ctx: &Arc<Ctx>, client: &tokio_postgres::Client) -> Result<Outcome, String> {
    let plan = &ctx.plan;
    let opts = &ctx.opts;
    let rep = &ctx.rep;
    let ledger_exists = ledger::exists(client).await?;
    if !opts.dry_run {
        ledger::setup(client).await?;
    }
    // Leftover step sessions of a crashed run (we hold the lock, so none is live). Ended,
    // and gone, before the ledger is read: such a session may still commit a step.
    if !opts.dry_run {
        let ended: Vec<i32> = client
            .query_typed("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()", &[(&STEP_APP, Type::TEXT)])
            .await
            .map_err(|e| connect::describe(&e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !ended.is_empty() {
            rep.emit(Event::Message {
                text: format!(
                    "Ended {} session(s) left over from an interrupted run.",
                    ended.len()
                ),
            });
            for _ in 0..100 {
                let left: i64 = client
                    .query_typed_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                        &[(&ended, Type::INT4_ARRAY)],
                    )
                    .await
                    .map_err(|e| connect::describe(&e))?
                    .get(0);
                if left == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let runs = if ledger_exists || !opts.dry_run {
        ledger::runs(client).await?
    } else {
        vec![]
    };
    if let Some(other) = runs
        .iter()
        .find(|r| r.status != "done" && r.plan_hash != plan.plan_hash())
    {
        return Ok(Outcome::Refused(format!(
            "another plan ({}) is half-applied on {} ({} of {} steps); finish it first with `wesley apply` on that plan file, or resolve it by hand",
            other.plan_hash, opts.conn, other.done, other.steps
        )));
    }
    let mine = runs
        .iter()
        .find(|r| r.plan_hash == plan.plan_hash())
        .cloned();
    let applied = if ledger_exists || !opts.dry_run {
        ledger::applied(client, plan.plan_hash()).await?
    } else {
        BTreeMap::new()
    };
    for s in &plan.steps {
        if let Some((sum, _)) = applied.get(&s.id) {
            if *sum != ledger::checksum(&s.sql) {
                return Ok(Outcome::Refused(format!("step {} was applied with different SQL than this plan file holds; the plan file was modified after it was applied", s.id)));
            }
        }
    }
    if mine.as_ref().is_some_and(|r| r.status == "done")
        && plan.steps.iter().all(|s| applied.contains_key(&s.id))
    {
        rep.emit(Event::Message {
            text: format!(
                "Plan {} is already applied to {}; nothing to do.",
                plan.plan_hash(),
                opts.conn
            ),
        });
        return Ok(Outcome::AlreadyApplied);
    }

    // Drift.
    let live = drift::live(client).await?;
    let live_hash = live.hash();
    // A run of this plan was started before (even if it recorded no step: an interrupted
    // first index build leaves its index behind): check it as a partial application.
    if mine.is_none() {
        // Expressions are outside the hash; the server compares them.
        let expr_diffs = exprs::differences(
            client,
            plan.from().expressions.as_deref().unwrap_or_default(),
        )
        .await
        .map_err(|e| connect::describe(&e))?;
        if live_hash != plan.from().schema_hash || !expr_diffs.is_empty() {
            let mut differences = if live_hash != plan.from().schema_hash {
                drift::against(plan.from(), &live)
            } else {
                Vec::new()
            };
            differences.extend(expr_diffs);
            let at_target = live_hash == plan.to().schema_hash;
            if at_target {
                differences.insert(0, "the database already matches the plan's target schema (applied by other means?)".into());
            }
            rep.emit(Event::Drift {
                differences: differences.clone(),
                allowed: opts.allow_drift,
            });
            if !opts.allow_drift {
                return Ok(Outcome::Refused(format!("drift: {} does not match the schema this plan starts from ({} difference(s)); re-plan from the live schema, or pass --allow-drift", opts.conn, differences.len())));
            }
        }
    } else {
        // Resuming: tables the plan does not change must be exactly as expected, and no
        // table may exist that is in neither schema. The tables it changes may be anywhere
        // in between (renamed in part, an index built for a constraint not yet added, an
        // index dropped before its replacement is renamed); the steps and the final hash
        // check cover those.
        let changed: BTreeSet<String> = plan
            .steps
            .iter()
            .flat_map(|s| s.touches.iter().cloned())
            .collect();
        let mut differences = drift::partial(plan.from(), plan.to(), &live, &changed);
        // The expressions of tables the plan does not change must be as expected too.
        let untouched: Vec<wesley_planner::canon::TableExpressions> = plan
            .from()
            .expressions
            .iter()
            .flatten()
            .filter(|e| !changed.contains(&e.table))
            .cloned()
            .collect();
        differences.extend(
            exprs::differences(client, &untouched)
                .await
                .map_err(|e| connect::describe(&e))?,
        );
        if !differences.is_empty() {
            rep.emit(Event::Drift {
                differences: differences.clone(),
                allowed: opts.allow_drift,
            });
            if !opts.allow_drift {
                return Ok(Outcome::Refused(format!("drift: {} changed since the plan was partly applied ({} difference(s)); pass --allow-drift to continue anyway", opts.conn, differences.len())));
            }
        }
    }

    let pending: Vec<usize> = (0..plan.steps.len())
        .filter(|&i| !applied.contains_key(&plan.steps[i].id))
        .collect();
    // Drops of objects recent statements still use (pg_stat_statements), before anything runs.
    if let Some(why) =
        crate::usage::check::gate(client, plan, &pending, &live, &opts.policy, rep).await?
    {
        return Ok(Outcome::Refused(why));
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
            rep.emit(Event::Message {
                text: format!("  would run [{}] {} — {}", s.phase, s.summary, s.id),
            });
        }
        return Ok(Outcome::DryRun);
    }
    ledger::start_run(
        client,
        plan.plan_hash(),
        &plan.from().schema_hash,
        &plan.to().schema_hash,
        plan.steps.len(),
    )
    .await?;
    rep.set_position(applied.len() as u64);

    let mut state = Checkpoint::new(ctx, &applied);
    state.write(ctx, true);
    let failure = schedule(ctx, &pending, &mut state).await;
    let live_after = drift::live(client).await.ok();
    let live_hash = live_after.as_ref().map(|l| l.hash());
    let done = state.applied.len();
    let left = plan.steps.len() - done;
    match failure {
        Some((step, error)) => {
            let _ = ledger::finish_run(
                client,
                plan.plan_hash(),
                "failed",
                live_hash.as_deref(),
                Some(&error),
            )
            .await;
            state.status = "failed".into();
            state.write(ctx, true);
            rep.emit(Event::RunFinished {
                status: "failed".into(),
                applied: done,
                pending: left,
                ms: rep.elapsed_ms(),
            });
            Ok(Outcome::Failed(format!(
                "step {step} failed: {error}\nThe database is at a recorded step: {done} of {} steps applied (see `wesley status`). Fix the cause, then run the same `wesley apply` again to resume.",
                plan.steps.len()
            )))
        }
        None => {
            // The plan's claims hold on the server: its target's expressions, as the
            // server prints them, are what the database now has.
            let expr_diffs = if live_hash.as_deref() == Some(plan.to().schema_hash.as_str()) {
                exprs::differences(client, plan.to().expressions.as_deref().unwrap_or_default())
                    .await
                    .map_err(|e| connect::describe(&e))?
            } else {
                Vec::new()
            };
            match (&live_after, &live_hash) {
                (_, Some(h)) if *h == plan.to().schema_hash && expr_diffs.is_empty() => {}
                (_, Some(h)) if *h == plan.to().schema_hash && opts.allow_drift => {
                    rep.emit(Event::Drift {
                        differences: expr_diffs,
                        allowed: true,
                    })
                }
                (_, Some(h)) if *h == plan.to().schema_hash => {
                    let msg = format!(
                        "all steps ran, but expressions differ from the plan's target: {}",
                        expr_diffs.join("; ")
                    );
                    let _ =
                        ledger::finish_run(client, plan.plan_hash(), "failed", None, Some(&msg))
                            .await;
                    return Ok(Outcome::Failed(msg));
                }
                // Drift was allowed, so the target cannot be reached exactly: say where it
                // differs and finish (failing would leave a run that can never complete).
                (Some(live), _) if opts.allow_drift => rep.emit(Event::Drift {
                    differences: drift::against(plan.to(), live),
                    allowed: true,
                }),
                _ => {
                    let msg = format!("all steps ran, but the database does not hash like the plan's target ({} instead of {})", live_hash.unwrap_or_default(), plan.to().schema_hash);
                    let _ =
                        ledger::finish_run(client, plan.plan_hash(), "failed", None, Some(&msg))
                            .await;
                    return Ok(Outcome::Failed(msg));
                }
            }
            ledger::finish_run(client, plan.plan_hash(), "done", live_hash.as_deref(), None)
                .await?;
            state.status = "done".into();
            state.write(ctx, true);
            rep.emit(Event::RunFinished {
                status: "done".into(),
                applied: done,
                pending: 0,
                ms: rep.elapsed_ms(),
            });
            Ok(Outcome::Done)
        }
    }
}

/// The local mirror of progress, for `wesley status` without a connection.
struct Checkpoint {
    applied: BTreeSet<String>,
    failed: Option<String>,
    status: String,
    last_write: Instant,
}

impl Checkpoint {
    fn new(_ctx: &Ctx, applied: &BTreeMap<String, (String, String)>) -> Checkpoint {
        Checkpoint {
            applied: applied.keys().cloned().collect(),
            failed: None,
            status: "running".into(),
            last_write: Instant::now() - Duration::from_secs(10),
        }
    }

    /// Writes `<dir>/<plan hash>.json` atomically; at most twice a second unless forced.
    fn write(&mut self, ctx: &Ctx, force: bool) {
        let Some(dir) = &ctx.opts.checkpoint_dir else {
            return;
        };
        if !force && self.last_write.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.last_write = Instant::now();
        let steps: Vec<serde_json::Value> = ctx
            .plan
            .steps
            .iter()
            .map(|s| {
                let status = if self.applied.contains(&s.id) {
                    "applied"
                } else if self.failed.as_deref() == Some(s.id.as_str()) {
                    "failed"
                } else {
                    "pending"
                };
                serde_json::json!({ "id": s.id, "phase": s.phase.as_str(), "status": status })
            })
            .collect();
        let doc = serde_json::json!({
            "format": "wesley.checkpoint/v1",
            "plan_hash": ctx.plan.plan_hash(),
            "database": ctx.opts.conn.to_string(),
            "status": self.status,
            "applied": self.applied.len(),
            "total": ctx.plan.steps.len(),
            "steps": steps,
        });
        let _ = std::fs::create_dir_all(dir);
        let path = dir.join(format!(
            "{}.json",
            ctx.plan.plan_hash().trim_start_matches("sha256:")
        ));
        let _ = crate::output::write_atomic(
            &path,
            (serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n").as_bytes(),
        );
    }
}

/// Longest remaining cost from each step to the end of the plan (critical-path priority),
/// from the costs the plan file carries.
fn bottom_levels(plan: &ValidPlan) -> Vec<u64> {
    let index: BTreeMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); plan.steps.len()];
    for (i, s) in plan.steps.iter().enumerate() {
        for d in &s.depends_on {
            if let Some(&j) = index.get(d.as_str()) {
                dependents[j].push(i);
            }
        }
    }
    let mut level = vec![0u64; plan.steps.len()];
    for i in (0..plan.steps.len()).rev() {
        level[i] = plan.steps[i].cost + dependents[i].iter().map(|&j| level[j]).max().unwrap_or(0);
    }
    level
}

/// Runs the pending steps; returns the failed step and its error, if any.
async fn schedule(
    ctx: &Arc<Ctx>,
    pending: &[usize],
    state: &mut Checkpoint,
) -> Option<(String, String)> {
    let plan = &ctx.plan;
    let index: BTreeMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let priority = bottom_levels(plan);
    let mut waiting: Vec<usize> = pending.to_vec();
    let mut busy: BTreeSet<String> = BTreeSet::new();
    let mut running: JoinSet<(usize, Worker, Result<(), String>)> = JoinSet::new();
    let mut idle: Vec<Worker> = (0..ctx.opts.jobs.max(1))
        .map(|_| Worker {
            session: None,
            client: None,
        })
        .collect();
    let mut failure: Option<(String, String)> = None;
    loop {
        // Start what can start.
        while failure.is_none() && !idle.is_empty() {
            let ready = waiting.iter().enumerate().filter(|(_, &i)| {
                let s = &plan.steps[i];
                s.depends_on
                    .iter()
                    .all(|d| state.applied.contains(d) || !index.contains_key(d.as_str()))
                    && s.touches.iter().all(|t| !busy.contains(t))
            });
            let pick = if ctx.opts.jobs <= 1 {
                ready.map(|(k, _)| k).next()
            } else {
                ready
                    .max_by_key(|(k, &i)| (priority[i], std::cmp::Reverse(*k)))
                    .map(|(k, _)| k)
            };
            let Some(k) = pick else { break };
            if ctx.opts.jobs <= 1 && k != 0 {
                break; // one job: strictly in plan order
            }
            let i = waiting.remove(k);
            busy.extend(plan.steps[i].touches.iter().cloned());
            let worker = idle.pop().expect("idle worker");
            let ctx2 = ctx.clone();
            running.spawn(async move {
                let mut worker = worker;
                let r = execute(&ctx2, i, &mut worker).await;
                (i, worker, r)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, worker, result) = match joined {
            Ok(x) => x,
            Err(e) => {
                failure.get_or_insert(("(worker)".into(), format!("a worker task failed: {e}")));
                continue;
            }
        };
        for t in &plan.steps[i].touches {
            busy.remove(t);
        }
        idle.push(worker);
        match result {
            Ok(()) => {
                state.applied.insert(plan.steps[i].id.clone());
                ctx.rep.set_position(state.applied.len() as u64);
                state.write(ctx, false);
            }
            Err(e) => {
                state.failed = Some(plan.steps[i].id.clone());
                ctx.rep.emit(Event::StepFailed {
                    step: plan.steps[i].id.clone(),
                    error: e.clone(),
                });
                failure.get_or_insert((plan.steps[i].id.clone(), e));
            }
        }
        if waiting.is_empty() && running.is_empty() {
            break;
        }
        if failure.is_some() && running.is_empty() {
            break;
        }
    }
    for w in idle {
        if let Some(s) = w.session {
            s.close().await;
        }
    }
    failure
}

/// Delays between attempts of a step that timed out waiting for a lock or hit a deadlock:
/// exponential from 100 ms, doubling up to 5 s, with full jitter (so retries of parallel
/// runs or steps do not line up), for as long as the retry budget lasts. Short attempts
/// (`--lock-timeout`, 200 ms by default) retried often keep application writes, which
/// queue behind a waiting lock request, from stalling for more than one attempt.
pub fn lock_backoff() -> backon::ExponentialBackoff {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::new()
        .with_jitter()
        .with_factor(2.0)
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
        .build()
}

async fn session<'w>(ctx: &Ctx, w: &'w mut Worker) -> Result<&'w mut PsqlSession, SqlError> {
    if w.session.is_none() {
        w.session = Some(PsqlSession::start(&ctx.opts.psql, &ctx.opts.conn, STEP_APP).await?);
    }
    Ok(w.session.as_mut().expect("session"))
}

async fn client<'w>(
    ctx: &Ctx,
    w: &'w mut Worker,
) -> Result<&'w mut tokio_postgres::Client, String> {
    if w.client.as_ref().is_none_or(|c| c.is_closed()) {
        // The step application name is a startup parameter, not a SET: a pooler keeps
        // it with this client whichever server connection serves it.
        let (c, _) = ctx.opts.conn.connect_pinned(Some(STEP_APP)).await?;
        w.client = Some(c);
    }
    Ok(w.client.as_mut().expect("client"))
}

/// Whether an index exists and is valid: None = missing.
async fn index_valid(
    c: &tokio_postgres::Client,
    schema: &str,
    name: &str,
) -> Result<Option<bool>, String> {
    let row = c
        .query_typed_opt(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            &[(&schema, Type::TEXT), (&name, Type::TEXT)],
        )
        .await
        .map_err(|e| connect::describe(&e))?;
    Ok(row.map(|r| r.get(0)))
}

async fn execute(ctx: &Ctx, i: usize, w: &mut Worker) -> Result<(), String> {
    let step = &ctx.plan.steps[i];
    let opts = &ctx.opts;
    let started_clock = Instant::now();
    let statement_timeout = step_timeout(step.timeout, opts);
    let mut attempt = 0u32;
    let mut delays = lock_backoff();
    let mut retrying_since: Option<Instant> = None;
    loop {
        attempt += 1;
        ctx.rep.emit(Event::StepStarted {
            step: step.id.clone(),
            phase: step.phase.to_string(),
            summary: step.summary.clone(),
            attempt,
        });
        let started_at = now_text(w, ctx).await;
        let result: Result<(), SqlError> = async {
            if let Some(b) = &step.backfill {
                // The step as a whole has no limit; each batch is a short transaction.
                let limits = backfill::Limits { batch_size: opts.batch_size.unwrap_or(b.batch_size).max(1), batch_delay: opts.batch_delay, lock_timeout: opts.lock_timeout, statement_timeout: opts.statement_timeout };
                let c = client(ctx, w).await.map_err(|m| SqlError { code: None, message: m })?;
                backfill::run(c, ctx.plan.plan_hash(), &step.id, b, &limits, &ctx.rep).await.map_err(|e| SqlError { code: e.code, message: e.message })?;
                let c = client(ctx, w).await.map_err(|m| SqlError { code: None, message: m })?;
                return ledger::record(c, ctx.plan.plan_hash(), &step.id, &step.sql, attempt, &started_at).await.map_err(|m| SqlError { code: None, message: m });
            }
            if step.transactional {
                let script = format!(
                    "BEGIN;\nSET LOCAL lock_timeout = '{}';\nSET LOCAL statement_timeout = '{}';\n{}{}COMMIT;\n",
                    crate::duration::to_pg(opts.lock_timeout),
                    crate::duration::to_pg(statement_timeout),
                    ensure_newline(&step.sql),
                    ledger::record_sql(ctx.plan.plan_hash(), &step.id, &step.sql, attempt, &started_at)
                );
                return session(ctx, w).await?.run(&script).await;
            }
            // Non-transactional (CONCURRENTLY): idempotent and verified.
            let index = step.index.as_ref().map(|i| (i.schema.clone(), i.name.clone()));
            let creating = step.kind == StepKind::CreateIndex;
            if let Some((schema, name)) = &index {
                let c = client(ctx, w).await.map_err(|m| SqlError { code: None, message: m })?;
                match (creating, index_valid(c, schema, name).await.map_err(|m| SqlError { code: None, message: m })?) {
                    (true, Some(true)) => {
                        ctx.rep.emit(Event::StepRecovered { step: step.id.clone(), action: format!("index {name} already exists and is valid (built by an interrupted run)") });
                        return ledger::record(c, ctx.plan.plan_hash(), &step.id, &step.sql, attempt, &started_at).await.map_err(|m| SqlError { code: None, message: m });
                    }
                    (true, Some(false)) => {
                        ctx.rep.emit(Event::StepRecovered { step: step.id.clone(), action: format!("dropping the INVALID index {name} left by an interrupted build, then rebuilding") });
                        let drop = format!("SET lock_timeout = '{}';\nDROP INDEX CONCURRENTLY IF EXISTS {};\nRESET lock_timeout;\n", crate::duration::to_pg(opts.lock_timeout), qualified(schema, name));
                        session(ctx, w).await?.run(&drop).await?;
                    }
                    (false, None) => {
                        let c = client(ctx, w).await.map_err(|m| SqlError { code: None, message: m })?;
                        ctx.rep.emit(Event::StepRecovered { step: step.id.clone(), action: format!("index {name} is already gone") });
                        return ledger::record(c, ctx.plan.plan_hash(), &step.id, &step.sql, attempt, &started_at).await.map_err(|m| SqlError { code: None, message: m });
                    }
                    _ => {}
                }
            }
            let script = format!(
                "SET lock_timeout = '{}';\nSET statement_timeout = '{}';\n{}RESET lock_timeout;\nRESET statement_timeout;\n",
                crate::duration::to_pg(if index.is_some() { opts.concurrent_lock_timeout } else { opts.lock_timeout }),
                crate::duration::to_pg(statement_timeout),
                ensure_newline(&step.sql)
            );
            let ran = session(ctx, w).await?.run(&script).await;
            if let (Err(e), Some((schema, name)), true) = (&ran, &index, creating) {
                // A failed concurrent build leaves an INVALID index: remove it now.
                w.session = None;
                if let Ok(c) = client(ctx, w).await {
                    if let Ok(Some(false)) = index_valid(c, schema, name).await {
                        let _ = c.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", qualified(schema, name))).await;
                    }
                }
                return Err(e.clone());
            }
            ran?;
            let c = client(ctx, w).await.map_err(|m| SqlError { code: None, message: m })?;
            if let (Some((schema, name)), true) = (&index, creating) {
                if index_valid(c, schema, name).await.map_err(|m| SqlError { code: None, message: m })? != Some(true) {
                    let _ = c.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", qualified(schema, name))).await;
                    return Err(SqlError { code: None, message: format!("index {name} was built but is not valid; it was dropped") });
                }
            }
            ledger::record(c, ctx.plan.plan_hash(), &step.id, &step.sql, attempt, &started_at).await.map_err(|m| SqlError { code: None, message: m })
        }
        .await;
        match result {
            Ok(()) => {
                ctx.rep.emit(Event::StepDone {
                    step: step.id.clone(),
                    ms: started_clock.elapsed().as_millis(),
                });
                return Ok(());
            }
            Err(e) => {
                w.session = None; // psql exits on the first error
                let since = *retrying_since.get_or_insert_with(Instant::now);
                let within_budget = since.elapsed() < opts.lock_retry_budget;
                if e.is_retryable() && attempt <= opts.retries && within_budget {
                    let delay = delays.next().unwrap_or(Duration::from_secs(5));
                    ctx.rep.emit(Event::StepRetry {
                        step: step.id.clone(),
                        attempt,
                        delay_ms: delay.as_millis() as u64,
                        error: e.to_string(),
                    });
                    tokio::time::sleep(delay).await;
                    continue;
                }
                let advice = if e.is_retryable() {
                    format!(" (gave up after {attempt} attempts in {:.1} s, the retry budget being --retries {} and --lock-retry-budget {}; something holds a conflicting lock: find it in pg_locks and pg_stat_activity, or apply when it is gone)", since.elapsed().as_secs_f64(), opts.retries, crate::duration::display(opts.lock_retry_budget))
                } else {
                    String::new()
                };
                return Err(format!("{e}{advice}"));
            }
        }
    }
}

/// The statement timeout that bounds a whole step of this timeout class (zero: none), from
/// the class the plan file gives it; `wesley plan --format sql` maps classes the same way
/// (`render::sql::SqlOptions::statement_timeout_for`). Backfill batches each run under
/// `statement_timeout`.
pub fn step_timeout(class: TimeoutClass, opts: &Options) -> Duration {
    match class {
        TimeoutClass::Instant => opts.statement_timeout,
        TimeoutClass::Long => opts.long_statement_timeout,
        TimeoutClass::Unbounded => Duration::ZERO,
    }
}

fn ensure_newline(sql: &str) -> String {
    if sql.ends_with('\n') {
        sql.to_string()
    } else {
        format!("{sql}\n")
    }
}

/// The server's clock as text (for the ledger); the local clock when unavailable.
async fn now_text(w: &mut Worker, ctx: &Ctx) -> String {
    if let Ok(c) = client(ctx, w).await {
        if let Ok(row) = c
            .query_typed_one("SELECT clock_timestamp()::text", &[])
            .await
        {
            return row.get(0);
        }
    }
    "now".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_backoff_grows_with_jitter_and_is_capped() {
        let first: Vec<Duration> = lock_backoff().take(12).collect();
        assert_eq!(first.len(), 12, "the budget, not a count, ends retries");
        assert!(
            first.iter().all(|d| *d <= Duration::from_secs(10)),
            "{first:?}"
        );
        // Later delays are longer on the whole than the first ones.
        let early: Duration = first[..3].iter().sum();
        let late: Duration = first[9..].iter().sum();
        assert!(late > early, "{first:?}");
        // Jitter: two sequences differ.
        let other: Vec<Duration> = lock_backoff().take(12).collect();
        assert_ne!(first, other);
    }
}
