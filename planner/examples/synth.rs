//! Prints a synthetic schema (see `wesley_planner::synth`) for benchmarks outside Rust,
//! such as the browser benchmark (web/bench/bench.mjs).
//!
//!   cargo run -q -p wesley-planner --features synth --example synth -- TABLES [SEED] [PERCENT]
//!
//! With PERCENT, the schema's next version instead (`synth::evolve` with that percentage of
//! the tables changed), for benchmarks of `wesley plan`. Exits 2 with a usage line when an
//! argument is not a number.

use std::process::ExitCode;
use wesley_planner::synth::{self, SynthOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: Option<u64>| match args.get(i) {
        Some(a) => a.parse::<u64>().ok(),
        None => default,
    };
    let (Some(tables), Some(seed)) = (number(0, None), number(1, Some(1))) else {
        eprintln!("usage: synth TABLES [SEED] [PERCENT]");
        return ExitCode::from(2);
    };
    let Ok(tables) = usize::try_from(tables) else {
        eprintln!("synth: {tables} tables is too many");
        return ExitCode::from(2);
    };
    let mut opts = SynthOptions::new(tables);
    opts.seed = seed;
    match number(2, None).map(u32::try_from) {
        None => print!("{}", synth::schema(&opts)),
        Some(Ok(percent)) if percent <= 100 => print!("{}", synth::evolve(&opts, 7, percent)),
        Some(_) => {
            eprintln!("usage: synth TABLES [SEED] [PERCENT]: PERCENT is 0 to 100");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
