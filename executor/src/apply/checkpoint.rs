//! The local checkpoint file: a mirror of a run's progress (`<dir>/<plan hash>.json`,
//! format `wesley.checkpoint/v1`) that `wesley status` reads without a connection. The
//! ledger in the database is the truth; this file only says where a run stopped.

use super::Ctx;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The local mirror of progress, for `wesley status` without a connection.
pub(super) struct Checkpoint {
    /// Ids of the steps applied so far (from the ledger, then as steps finish).
    pub applied: BTreeSet<String>,
    /// The step that failed, if one did.
    pub failed: Option<String>,
    /// `running`, `failed` or `done`.
    pub status: String,
    last_write: Instant,
    /// How long the last write took: a plan of many steps makes a large file, written
    /// less often (see [`Checkpoint::write`]).
    last_cost: Duration,
}

impl Checkpoint {
    /// A running run's checkpoint, starting from the ledger's applied steps.
    pub fn new(applied: &BTreeMap<String, (String, String)>) -> Checkpoint {
        Checkpoint {
            applied: applied.keys().cloned().collect(),
            failed: None,
            status: "running".into(),
            last_write: Instant::now() - Duration::from_secs(10),
            last_cost: Duration::ZERO,
        }
    }

    /// Writes `<dir>/<plan hash>.json` atomically. Unless forced, at most twice a second,
    /// and at most 5% of the time: after a write that took 40 ms (a plan of about 20,000
    /// steps), the next one waits 800 ms; never more than 5 s (one slow disk write does
    /// not stop the file from following the run).
    pub fn write(&mut self, ctx: &Ctx, force: bool) {
        let Some(dir) = &ctx.opts.checkpoint_dir else {
            return;
        };
        let wait = (self.last_cost * 20).clamp(Duration::from_millis(500), Duration::from_secs(5));
        if !force && self.last_write.elapsed() < wait {
            return;
        }
        self.last_write = Instant::now();
        /// The steps with their status, serialised one at a time (no copy of the plan).
        struct Steps<'a>(&'a Ctx, &'a Checkpoint);
        impl serde::Serialize for Steps<'_> {
            fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
                let Steps(ctx, cp) = self;
                #[derive(serde::Serialize)]
                struct Step<'a> {
                    id: &'a str,
                    phase: &'a str,
                    status: &'a str,
                }
                ser.collect_seq(ctx.plan.steps.iter().map(|s| {
                    let status = if cp.applied.contains(&s.id) {
                        "applied"
                    } else if cp.failed.as_deref() == Some(s.id.as_str()) {
                        "failed"
                    } else {
                        "pending"
                    };
                    Step {
                        id: &s.id,
                        phase: s.phase.as_str(),
                        status,
                    }
                }))
            }
        }
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            format: &'a str,
            plan_hash: &'a str,
            database: String,
            status: &'a str,
            applied: usize,
            total: usize,
            steps: Steps<'a>,
        }
        let doc = Doc {
            format: "wesley.checkpoint/v1",
            plan_hash: ctx.plan.plan_hash(),
            database: ctx.opts.conn.to_string(),
            status: &self.status,
            applied: self.applied.len(),
            total: ctx.plan.steps.len(),
            steps: Steps(ctx, self),
        };
        let _ = std::fs::create_dir_all(dir);
        let path = dir.join(file_name(ctx.plan.plan_hash()));
        let mut text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        text.push(b'\n');
        let _ = crate::output::write_atomic(&path, &text);
        self.last_cost = self.last_write.elapsed();
    }
}

/// The checkpoint file of a run, in `--checkpoint-dir`: the plan hash's hex digits,
/// `rollback-<hex>.json` for a rollback.
pub fn file_name(plan_hash: &str) -> String {
    let hex = plan_hash.replace("sha256:", "");
    format!("{}.json", hex.trim_end_matches(':').replace(':', "-"))
}
