//! `wesley rollback PLAN.json`: undoes what the plan did on a database, before its contract
//! phase (see `crate::apply::rollback` and docs/plan-format.md, "Rollback"). Exit codes: 0
//! done (or already rolled back), 1 failed (the database is at a recorded inverse step:
//! run the same command again to resume), 2 invalid input, 3 refused (the plan never ran
//! there, a contract step ran, hazards not allowed, drift, another run holds the lock).

use super::apply::{execute, Target};
use crate::apply;

/// `wesley rollback`'s arguments: those of `wesley apply` but `--until`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
}

/// Runs `wesley rollback`; the result is the exit code ([`crate::exit`]), and an `Err` is
/// reported by `main` with exit code 1.
pub fn run(args: Args) -> anyhow::Result<u8> {
    execute(&args.target, |plan| plan.rollback.len(), apply::rollback)
}
