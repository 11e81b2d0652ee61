//! What a run reports: one event type, rendered as JSON lines (`--json`), as a progress
//! display on a terminal, or as plain lines otherwise. Nothing here ever sees a password.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

/// One thing a run reports. With `--json` each is a line `{"event": "<snake_case
/// name>", ...fields}`; the names and fields are stable for scripts.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run starts changing the database (after every check passed).
    RunStarted {
        /// `sha256:...` of the plan file.
        plan_hash: String,
        /// The connection, without its password.
        database: String,
        /// Steps in the plan.
        steps: usize,
        /// Steps the ledger already records (a resumed run).
        already_applied: usize,
        /// `--jobs`.
        jobs: usize,
    },
    /// Another run holds the advisory lock; this one waits (`--lock-wait`).
    WaitingForLock {
        /// The holder's backend pid, when pg_locks shows it.
        holder_pid: Option<i32>,
        /// The holder's `application_name`.
        holder: Option<String>,
    },
    /// The database is not where the plan starts.
    Drift {
        /// The differences in words.
        differences: Vec<String>,
        /// `--allow-drift` was given: the run goes on.
        allowed: bool,
    },
    /// An attempt of a step begins.
    StepStarted {
        /// The step's id.
        step: String,
        /// Its phase.
        phase: String,
        /// Its one-line summary.
        summary: String,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// An attempt failed on a lock timeout (55P03) or deadlock (40P01); another follows.
    StepRetry {
        /// The step's id.
        step: String,
        /// The attempt that failed.
        attempt: u32,
        /// The backoff before the next attempt, in milliseconds (jittered).
        delay_ms: u64,
        /// The server's error, with its SQLSTATE.
        error: String,
    },
    /// A step a crashed run left behind was found done or cleaned up (e.g. a valid
    /// index kept, an invalid one dropped before the rebuild).
    StepRecovered {
        /// The step's id.
        step: String,
        /// What was done, in words.
        action: String,
    },
    /// A backfill's progress: every ten batches, every batch in its last second, and at
    /// its end (`eta_s` 0).
    BackfillProgress {
        /// The step's id.
        step: String,
        /// Rows updated so far, over every run of this plan.
        rows_done: i64,
        /// The table's estimated rows (`pg_class.reltuples`), when known.
        rows_total: Option<i64>,
        /// Batches committed so far, over every run of this plan.
        batches: i64,
        /// Estimated seconds left, from this run's rate and `rows_total`, when known.
        eta_s: Option<f64>,
        /// Rows per batch at this point: the keys the last batch's range was sized for
        /// (the final batch may walk fewer).
        batch_rows: i64,
        /// The longest batch transaction of this run so far, in milliseconds: from its
        /// `BEGIN` being sent to its `COMMIT` being acknowledged.
        longest_batch_ms: f64,
    },
    /// One committed backfill batch (JSON only: a terminal shows `backfill_progress`).
    BackfillBatch {
        /// The step's id.
        step: String,
        /// The batch's number, counted over every run of this plan (1 is the first).
        batch: i64,
        /// The keys the batch's range was sized for (the last batch may hold fewer).
        batch_rows: i64,
        /// Rows the batch's `UPDATE` changed (rows already converted are not counted).
        rows: i64,
        /// The batch transaction, in milliseconds: from its `BEGIN` being sent to its
        /// `COMMIT` being acknowledged.
        ms: f64,
        /// The keys the next batch is sized for (`null` after the last batch): the same
        /// as `batch_rows` with `--batch-size`, else adapted to the batch's duration.
        next_batch_rows: Option<i64>,
    },
    /// A step committed and is recorded in the ledger.
    StepDone {
        /// The step's id.
        step: String,
        /// Its duration over every attempt, in milliseconds.
        ms: u128,
    },
    /// A step failed for good; the run stops after the running steps end.
    StepFailed {
        /// The step's id.
        step: String,
        /// The error: the server's message and SQLSTATE, or why retries ended.
        error: String,
    },
    /// The run ended (an `outcome` line with the exit code and reason follows it).
    RunFinished {
        /// `done` or `failed`, as the ledger records it.
        status: String,
        /// Steps applied, over every run of this plan.
        applied: usize,
        /// Steps still to run.
        pending: usize,
        /// This run's duration, in milliseconds.
        ms: u128,
    },
    /// The restore point before the contract phase (`earlier`: taken by an earlier
    /// attempt of this run, found in the ledger).
    RestorePoint {
        /// `wesley_<first 12 hex digits of the plan hash>`.
        name: String,
        /// Its WAL position, e.g. `0/3000F28`.
        lsn: String,
        /// Found in the ledger rather than created now.
        earlier: bool,
    },
    /// Anything else worth saying (warnings start with `warning:`).
    Message {
        /// The text, possibly several lines.
        text: String,
    },
}

/// Renders events as JSON lines (stdout), a progress bar (a terminal's stderr) or plain
/// lines (stderr), one writer at a time.
pub struct Reporter {
    json: bool,
    bar: Option<ProgressBar>,
    started: Instant,
    out: Mutex<()>,
}

impl Reporter {
    /// A reporter for a run of `total` steps; `json` chooses `--json` output.
    pub fn new(json: bool, total: u64) -> Reporter {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        Reporter {
            json,
            bar,
            started: Instant::now(),
            out: Mutex::new(()),
        }
    }

    /// Moves the progress bar to `done` steps (no output otherwise).
    pub fn set_position(&self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }

    /// Reports one event. Write errors are ignored: reporting never fails a run.
    pub fn emit(&self, e: Event) {
        let _guard = self.out.lock();
        if self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", serde_json::to_string(&e).unwrap_or_default());
            let _ = out.flush();
            return;
        }
        let line = match &e {
            Event::RunStarted {
                plan_hash,
                database,
                steps,
                already_applied,
                jobs,
            } => {
                let resume = if *already_applied > 0 {
                    format!(", resuming after {already_applied} applied")
                } else {
                    String::new()
                };
                format!(
                    "Applying plan {} to {database}: {steps} steps{resume}, {jobs} job(s)",
                    short(plan_hash)
                )
            }
            Event::WaitingForLock { holder_pid, holder } => match holder_pid {
                Some(pid) => format!(
                    "Another run holds the lock on this database (pid {pid}, {}); waiting...",
                    holder.clone().unwrap_or_default()
                ),
                None => "Another run holds the lock on this database; waiting...".into(),
            },
            Event::Drift {
                differences,
                allowed,
            } => format!(
                "{} the database is not in the state the plan expects:\n{}",
                if *allowed {
                    "Warning (--allow-drift):"
                } else {
                    "Drift:"
                },
                differences
                    .iter()
                    .map(|d| format!("  - {d}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            Event::StepStarted {
                step,
                phase,
                summary,
                attempt,
            } => {
                if let Some(b) = &self.bar {
                    b.set_message(format!("[{phase}] {summary}"));
                    return;
                }
                if *attempt > 1 {
                    format!("  [{phase}] {summary} (attempt {attempt}) — {step}")
                } else {
                    format!("  [{phase}] {summary} — {step}")
                }
            }
            Event::StepRetry {
                step,
                attempt,
                delay_ms,
                error,
            } => format!("  retry {attempt} of {step} in {delay_ms} ms: {error}"),
            Event::StepRecovered { step, action } => format!("  {step}: {action}"),
            Event::BackfillProgress {
                step,
                rows_done,
                rows_total,
                batches,
                eta_s,
                ..
            } => {
                let total = rows_total.map(|t| format!("/{t}")).unwrap_or_default();
                let eta = eta_s.map(|s| format!(", ETA {s:.0} s")).unwrap_or_default();
                if let Some(b) = &self.bar {
                    b.set_message(format!("backfill {step}: {rows_done}{total} rows{eta}"));
                    return;
                }
                format!("    backfill {step}: {rows_done}{total} rows in {batches} batches{eta}")
            }
            Event::BackfillBatch { .. } => return,
            Event::StepDone { step, ms } => {
                if let Some(b) = &self.bar {
                    b.inc(1);
                    let _ = step;
                    return;
                }
                format!("    done in {ms} ms")
            }
            Event::StepFailed { step, error } => format!("  FAILED {step}: {error}"),
            Event::RunFinished {
                status,
                applied,
                pending,
                ms,
            } => {
                if let Some(b) = &self.bar {
                    b.finish_and_clear();
                }
                format!(
                    "Run {status}: {applied} applied, {pending} pending ({:.1} s)",
                    *ms as f64 / 1000.0
                )
            }
            Event::RestorePoint { name, lsn, earlier } => format!(
                "{} restore point {name} at LSN {lsn}, before the contract phase (point-in-time recovery: recovery_target_name = '{name}')",
                if *earlier { "Using the" } else { "Created" }
            ),
            Event::Message { text } => text.clone(),
        };
        if let Some(b) = &self.bar {
            b.println(line);
        } else {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
        }
    }

    /// Milliseconds since the reporter was made (the run's start).
    pub fn elapsed_ms(&self) -> u128 {
        self.started.elapsed().as_millis()
    }
}

fn short(hash: &str) -> &str {
    let h = hash.strip_prefix("sha256:").unwrap_or(hash);
    &h[..h.len().min(12)]
}
