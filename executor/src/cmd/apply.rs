//! `wesley apply PLAN.json`: validates the plan file, then runs it (see `crate::apply`).
//! Exit codes: 0 done (or already applied), 1 failed (the database is at a recorded step),
//! 2 invalid input (plan file, arguments), 3 refused (hazards not allowed, drift, another
//! run holds the lock, another plan half-applied).

use crate::apply::{self, connect::ConnInfo, events::Reporter, Options, Outcome};
use crate::cli::exit;
use crate::duration;
use std::path::PathBuf;
use wesley_planner::planfile;
use wesley_planner::policy::{self, HazardPolicy};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plan file (`wesley plan --format json`).
    pub plan: PathBuf,
    /// Connection URL or `key=value` string (default: $DATABASE_URL, then the PG* variables).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Steps run at once, as a rolling frontier (1: strictly in plan order).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// How long one attempt of a step may wait for its lock before it gives up and is
    /// retried (`SET LOCAL lock_timeout`). While a step waits, application queries on the
    /// table queue behind it: this bounds how long they can stall.
    #[arg(long, default_value = "200ms", value_parser = duration::parse)]
    pub lock_timeout: std::time::Duration,
    /// Lock wait of CREATE/DROP INDEX CONCURRENTLY steps (their lock blocks no reads or
    /// writes; the build also waits for older transactions under this limit).
    #[arg(long, default_value = "10m", value_parser = duration::parse)]
    pub concurrent_lock_timeout: std::time::Duration,
    /// Limit for instant steps (`SET LOCAL statement_timeout`); must exceed --lock-timeout.
    #[arg(long, default_value = "1m", value_parser = duration::parse)]
    pub statement_timeout: std::time::Duration,
    /// Limit for index builds, validations and backfill batches (0: none).
    #[arg(long, default_value = "0", value_parser = duration::parse)]
    pub long_statement_timeout: std::time::Duration,
    /// At most this many retries of a step that timed out waiting for a lock (or hit a
    /// deadlock); attempts are spaced by a jittered exponential backoff (100 ms to 5 s).
    #[arg(long, default_value_t = 1000)]
    pub retries: u32,
    /// How long a step may keep retrying before the run fails with the lock's holder
    /// named (the overall retry budget).
    #[arg(long, default_value = "10min", value_parser = duration::parse)]
    pub lock_retry_budget: std::time::Duration,
    /// Refusal hazards to accept, comma-separated (e.g. `deletes_data,breaks_clients`).
    #[arg(long, value_name = "HAZARD,...", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Review hazards to treat as refusals, comma-separated (e.g. `long_running`).
    #[arg(long, value_name = "HAZARD,...", value_delimiter = ',')]
    pub deny: Vec<String>,
    /// Run even when the database is not in the state the plan expects.
    #[arg(long)]
    pub allow_drift: bool,
    /// Validate, connect and check drift, then list the steps that would run.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON event per line on standard output.
    #[arg(long)]
    pub json: bool,
    /// The psql program.
    #[arg(long, default_value = "psql")]
    pub psql: String,
    /// Directory for the local checkpoint file read by `wesley status`.
    #[arg(long, default_value = ".wesley")]
    pub checkpoint_dir: PathBuf,
    /// Rows per backfill batch (default: the plan's).
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// Pause between backfill batches.
    #[arg(long, default_value = "0", value_parser = duration::parse)]
    pub batch_delay: std::time::Duration,
    /// How long to wait for another run's advisory lock.
    #[arg(long, default_value = "60s", value_parser = duration::parse)]
    pub lock_wait: std::time::Duration,
}

/// Reads and validates a plan file; prints the problems and returns None when invalid.
pub fn load_plan(path: &std::path::Path) -> Option<planfile::ValidPlan> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read plan file {}: {e}", path.display());
            return None;
        }
    };
    match planfile::parse(&text) {
        Ok(p) => Some(p),
        Err(errors) => {
            eprintln!("error: {} is not a valid plan file:", path.display());
            for e in errors {
                eprintln!("  - {e}");
            }
            None
        }
    }
}

/// `--allow` and `--deny` as a policy; an unknown name, or one in both, is an error.
pub fn hazard_policy(allow: &[String], deny: &[String]) -> Result<HazardPolicy, String> {
    HazardPolicy::new(
        policy::parse_kinds("--allow", allow)?,
        policy::parse_kinds("--deny", deny)?,
    )
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let policy = match hazard_policy(&args.allow, &args.deny) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    for (name, st) in [
        ("--statement-timeout", args.statement_timeout),
        ("--long-statement-timeout", args.long_statement_timeout),
    ] {
        if !st.is_zero() && !args.lock_timeout.is_zero() && args.lock_timeout >= st {
            eprintln!("error: --lock-timeout ({:?}) must be lower than {name} ({st:?}), or lock waits would never be retried", args.lock_timeout);
            return Ok(exit::INVALID);
        }
    }
    if !args.long_statement_timeout.is_zero()
        && !args.concurrent_lock_timeout.is_zero()
        && args.concurrent_lock_timeout >= args.long_statement_timeout
    {
        eprintln!("error: --concurrent-lock-timeout ({:?}) must be lower than --long-statement-timeout ({:?})", args.concurrent_lock_timeout, args.long_statement_timeout);
        return Ok(exit::INVALID);
    }
    if args.jobs == 0 || args.jobs > 64 {
        eprintln!("error: --jobs must be between 1 and 64");
        return Ok(exit::INVALID);
    }
    let Some(plan) = load_plan(&args.plan) else {
        return Ok(exit::INVALID);
    };
    if plan.has_errors() {
        eprintln!("error: the plan has error diagnostics and cannot be applied:");
        for d in &plan.file().diagnostics {
            eprintln!("  - {}: {}", d.code, d.message);
        }
        return Ok(exit::INVALID);
    }
    let conn = match ConnInfo::resolve(args.database_url.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let opts = Options {
        conn,
        jobs: args.jobs,
        lock_timeout: args.lock_timeout,
        concurrent_lock_timeout: args.concurrent_lock_timeout,
        statement_timeout: args.statement_timeout,
        long_statement_timeout: args.long_statement_timeout,
        retries: args.retries,
        lock_retry_budget: args.lock_retry_budget,
        policy,
        allow_drift: args.allow_drift,
        dry_run: args.dry_run,
        psql: args.psql,
        checkpoint_dir: Some(args.checkpoint_dir),
        batch_size: args.batch_size,
        batch_delay: args.batch_delay,
        lock_wait: args.lock_wait,
    };
    let reporter = Reporter::new(args.json, plan.steps.len() as u64);
    let json = args.json;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = rt.block_on(apply::apply(plan, opts, reporter));
    Ok(report(outcome, json))
}

/// Prints how the run ended and returns its exit code.
pub fn report(outcome: Outcome, json: bool) -> u8 {
    let (code, text) = match outcome {
        Outcome::Done => (exit::OK, None),
        Outcome::AlreadyApplied => (exit::OK, None),
        Outcome::DryRun => (exit::OK, Some("Dry run: nothing was changed.".to_string())),
        Outcome::Failed(m) => (exit::FAILED, Some(format!("error: {m}"))),
        Outcome::Refused(m) => (exit::REFUSED, Some(format!("refused: {m}"))),
    };
    if let Some(t) = text {
        if json {
            println!(
                "{}",
                serde_json::json!({ "event": "outcome", "exit_code": code, "message": t })
            );
        } else {
            eprintln!("{t}");
        }
    }
    code
}
