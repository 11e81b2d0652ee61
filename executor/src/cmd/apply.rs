//! `wesley apply PLAN.json`: validates the plan file, then runs it (see `crate::apply`).
//! Exit codes: 0 done (or already applied), 1 failed (the database is at a recorded step),
//! 2 invalid input (plan file, arguments), 3 refused (hazards not allowed, drift, another
//! run holds the lock, another plan half-applied).

use crate::apply::{self, connect::ConnInfo, events::Reporter, Options, Outcome};
use crate::duration;
use crate::exit;
use std::path::PathBuf;
use std::time::Duration;
use wesley_planner::planfile;
use wesley_planner::policy::{self, HazardPolicy};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Run the steps of this phase and of the phases before it, then stop (exit 0, run
    /// `paused`): e.g. `--until expand`, deploy code for the new shape, then run again.
    #[arg(long, value_name = "PHASE", value_parser = parse_phase)]
    pub until: Option<wesley_planner::plan::Phase>,
}

/// What `wesley apply` and `wesley rollback` are given: a plan file, a database, how to
/// run, and what to report.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// The plan file (`wesley plan --format json`).
    pub plan: PathBuf,
    /// Connection URL or `key=value` string (default: $DATABASE_URL, then the PG* variables).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Run even when the database is not in the state the plan expects.
    #[arg(long)]
    pub allow_drift: bool,
    /// Validate, connect and check drift, then list the steps that would run.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON event per line on standard output.
    #[arg(long)]
    pub json: bool,
}

/// How a plan runs: the flags `wesley apply` and `wesley watch --apply` share, with one
/// set of defaults (also what `wesley rehearse` runs with, see [`RunArgs::defaults`]).
/// Durations are parsed by `crate::duration::parse` (`200ms`, `5s`, `10min`; `0` means no
/// limit where the flag says so).
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Steps run at once, as a rolling frontier (1: strictly in plan order; at most 64).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// How long one attempt of a step may wait for its lock before it gives up and is
    /// retried (`SET LOCAL lock_timeout`). While a step waits, application queries on the
    /// table queue behind it: this bounds how long they can stall.
    #[arg(long, default_value = "200ms", value_parser = duration::parse)]
    pub lock_timeout: Duration,
    /// Lock wait of CREATE/DROP INDEX CONCURRENTLY steps (their lock blocks no reads or
    /// writes; the build also waits for older transactions under this limit).
    #[arg(long, default_value = "10m", value_parser = duration::parse)]
    pub concurrent_lock_timeout: Duration,
    /// Limit for instant steps (`SET LOCAL statement_timeout`); must exceed --lock-timeout.
    #[arg(long, default_value = "1m", value_parser = duration::parse)]
    pub statement_timeout: Duration,
    /// Limit for index builds, validations and backfill batches (0: none).
    #[arg(long, default_value = "0", value_parser = duration::parse)]
    pub long_statement_timeout: Duration,
    /// At most this many retries of a step that timed out waiting for a lock (or hit a
    /// deadlock); attempts are spaced by a jittered exponential backoff (100 ms to 5 s).
    #[arg(long, default_value_t = 1000)]
    pub retries: u32,
    /// How long a step may keep retrying before the run fails with the lock's holder
    /// named (the overall retry budget).
    #[arg(long, default_value = "10min", value_parser = duration::parse)]
    pub lock_retry_budget: Duration,
    /// Refusal hazards to accept, comma-separated (e.g. `deletes_data,breaks_clients`).
    #[arg(long, value_name = "HAZARD,...", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Review hazards to treat as refusals, comma-separated (e.g. `long_running`).
    #[arg(long, value_name = "HAZARD,...", value_delimiter = ',')]
    pub deny: Vec<String>,
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
    pub batch_delay: Duration,
    /// How long to wait for another run's advisory lock.
    #[arg(long, default_value = "60s", value_parser = duration::parse)]
    pub lock_wait: Duration,
}

impl RunArgs {
    /// The defaults of every flag, exactly as `wesley apply --help` shows them.
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            run: RunArgs,
        }
        <Only as clap::Parser>::parse_from(["wesley"]).run
    }

    /// The hazard policy of `--allow` and `--deny`.
    ///
    /// # Errors
    /// An unknown hazard name, or one named in both flags.
    pub fn policy(&self) -> Result<HazardPolicy, String> {
        hazard_policy(&self.allow, &self.deny)
    }

    /// Checks that the flags make sense together, before anything is read or connected.
    ///
    /// # Errors
    /// A message naming the flag: `--lock-timeout` not below a statement timeout (lock
    /// waits would never be retried), `--concurrent-lock-timeout` not below
    /// `--long-statement-timeout`, `--jobs` outside 1 to 64, or a bad hazard name.
    pub fn check(&self) -> Result<(), String> {
        for (name, st) in [
            ("--statement-timeout", self.statement_timeout),
            ("--long-statement-timeout", self.long_statement_timeout),
        ] {
            if !st.is_zero() && !self.lock_timeout.is_zero() && self.lock_timeout >= st {
                return Err(format!("--lock-timeout ({:?}) must be lower than {name} ({st:?}), or lock waits would never be retried", self.lock_timeout));
            }
        }
        if !self.long_statement_timeout.is_zero()
            && !self.concurrent_lock_timeout.is_zero()
            && self.concurrent_lock_timeout >= self.long_statement_timeout
        {
            return Err(format!("--concurrent-lock-timeout ({:?}) must be lower than --long-statement-timeout ({:?})", self.concurrent_lock_timeout, self.long_statement_timeout));
        }
        if self.jobs == 0 || self.jobs > 64 {
            return Err("--jobs must be between 1 and 64".into());
        }
        self.policy().map(drop)
    }

    /// The executor's options for a connection.
    ///
    /// # Errors
    /// Those of [`RunArgs::check`].
    pub fn options(
        &self,
        conn: ConnInfo,
        allow_drift: bool,
        dry_run: bool,
    ) -> Result<Options, String> {
        self.check()?;
        Ok(Options {
            conn,
            jobs: self.jobs,
            lock_timeout: self.lock_timeout,
            concurrent_lock_timeout: self.concurrent_lock_timeout,
            statement_timeout: self.statement_timeout,
            long_statement_timeout: self.long_statement_timeout,
            retries: self.retries,
            lock_retry_budget: self.lock_retry_budget,
            policy: self.policy()?,
            allow_drift,
            dry_run,
            psql: self.psql.clone(),
            checkpoint_dir: Some(self.checkpoint_dir.clone()),
            batch_size: self.batch_size,
            batch_delay: self.batch_delay,
            lock_wait: self.lock_wait,
            until: None,
        })
    }
}

/// Reads and validates a plan file in one pass (`planfile::read`: the file is not held in
/// memory, its steps' SQL goes to a [`crate::spool::FileSpool`]); prints the problems and
/// returns None when it cannot be read or is invalid. Nothing later reads the file again.
pub fn load_plan(path: &std::path::Path) -> Option<planfile::ValidPlan> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot read plan file {}: {e}", path.display());
            return None;
        }
    };
    let spool = match crate::spool::FileSpool::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot create a temporary file for the plan's SQL: {e}");
            return None;
        }
    };
    match planfile::read(file, Box::new(spool)) {
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

/// Runs `wesley apply`; the result is the exit code ([`crate::exit`]).
pub fn run(args: Args) -> anyhow::Result<u8> {
    let until = args.until;
    execute(
        &args.target,
        |plan| plan.steps.len(),
        move |plan, mut opts, rep| {
            opts.until = until;
            apply::apply(plan, opts, rep)
        },
    )
}

/// `--until`'s value: a phase name (`expand`, `backfill`, `validate`, `switch`, `contract`).
fn parse_phase(s: &str) -> Result<wesley_planner::plan::Phase, String> {
    use wesley_planner::plan::Phase;
    Phase::parse(s).ok_or_else(|| {
        format!(
            "unknown phase `{s}` (one of: {})",
            Phase::ALL
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// What `wesley apply` and `wesley rollback` share: the flags checked before the plan file
/// is read or a connection made, the plan file loaded and validated (one with error
/// diagnostics is refused), the connection settings resolved, then `go` run on a tokio
/// runtime and its outcome reported. `total` is the progress bar's length.
pub fn execute<F, Fut>(
    target: &Target,
    total: fn(&planfile::ValidPlan) -> usize,
    go: F,
) -> anyhow::Result<u8>
where
    F: FnOnce(planfile::ValidPlan, Options, Reporter) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let (run, json) = (&target.run, target.json);
    if let Err(e) = run.check() {
        eprintln!("error: {e}");
        return Ok(exit::INVALID);
    }
    let Some(plan) = load_plan(&target.plan) else {
        return Ok(exit::INVALID);
    };
    if plan.has_errors() {
        eprintln!("error: the plan has error diagnostics and cannot be applied:");
        for d in plan.diagnostics() {
            eprintln!("  - {}: {}", d.code, d.message);
        }
        return Ok(exit::INVALID);
    }
    let conn = match ConnInfo::resolve(target.database_url.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let opts = match run.options(conn, target.allow_drift, target.dry_run) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let reporter = Reporter::new(json, total(&plan) as u64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = rt.block_on(go(plan, opts, reporter));
    Ok(report(outcome, json))
}

pub fn report(outcome: Outcome, json: bool) -> u8 {
    let code = outcome.exit_code();
    let text = match &outcome {
        Outcome::Done | Outcome::AlreadyApplied => None,
        Outcome::DryRun => Some("Dry run: nothing was changed.".to_string()),
        Outcome::Paused { until, pending } => Some(format!(
            "Paused after the {until} phase: {pending} step(s) left; run the same `wesley apply` without --until (or with a later phase) to go on."
        )),
        Outcome::Failed { message, .. } => Some(format!("error: {message}")),
        Outcome::Refused { message, .. } => Some(format!("refused: {message}")),
    };
    if json {
        let mut event = serde_json::json!({
            "event": "outcome",
            "exit_code": code,
            "reason": outcome.reason(),
        });
        if let Some(t) = &text {
            event["message"] = serde_json::Value::from(t.as_str());
        }
        println!("{event}");
    } else if let Some(t) = text {
        eprintln!("{t}");
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones_and_pass_their_own_checks() {
        let run = RunArgs::defaults();
        assert_eq!(run.lock_timeout, Duration::from_millis(200));
        assert_eq!(run.lock_retry_budget, Duration::from_secs(600));
        assert_eq!(run.retries, 1000);
        assert_eq!(run.jobs, 1);
        assert_eq!(run.check(), Ok(()));
    }

    #[test]
    fn flags_that_contradict_each_other_are_refused_by_name() {
        let mut run = RunArgs::defaults();
        run.lock_timeout = run.statement_timeout;
        assert!(run.check().unwrap_err().contains("--lock-timeout"));
        let mut run = RunArgs::defaults();
        run.jobs = 0;
        assert!(run.check().unwrap_err().contains("--jobs"));
        let mut run = RunArgs::defaults();
        run.allow = vec!["no_such_hazard".into()];
        assert!(run.check().unwrap_err().contains("no_such_hazard"));
    }
}
