//! Planning speed against migra, measured in one run on the same schema pair: `wesley
//! plan --format json` on two SDL files (no database), and migra, which diffs two live
//! databases built from the same two schemas (`wesley generate`, applied with `psql`),
//! on a throwaway cluster. The pair: a synthetic schema of N tables
//! (`wesley_planner::synth`) and the same schema with 5% of its tables changed
//! (`synth::evolve`).
//!
//! Each command runs three times; the table shows the median of each, and migra's over
//! Wesley's as a ratio. Target: Wesley ≥ 30× faster at 1,000 tables.
//!
//! First, without a database: `wesley plan --format json` end to end (the release binary,
//! process start to exit) on pairs of 1,000 and 10,000 tables, the median of five runs,
//! against the targets of 100 ms and 1 s (`WESLEY_BENCH_CLI_SIZES`, e.g. `1000`).
//!
//! migra comes from PyPI into `.cache/migra` (`scripts/bench migra` installs it there
//! first; `WESLEY_MIGRA` names another migra executable). Settings: `WESLEY_BENCH_SIZES`
//! (`1000`; e.g. `100,1000`). Run with `scripts/bench migra` (`cargo bench -p wesley
//! --bench migra`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Scratch;
use wesley::cluster::{Cluster, ClusterOptions};
use wesley_planner::synth::{self, SynthOptions};

/// The median of `runs` timed runs of `cmd` (built afresh by `make`); each run must exit
/// with one of `ok` codes.
fn median_of(runs: usize, what: &str, ok: &[i32], make: &dyn Fn() -> Command) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let out = make().output().unwrap_or_else(|e| panic!("{what}: {e}"));
            let took = t.elapsed();
            assert!(
                out.status.code().is_some_and(|c| ok.contains(&c)),
                "{what} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            took
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// `wesley plan --format json` on `old` → `new`, writing `out`.
fn wesley_plan(wesley: &Path, old: &Path, new: &Path, out: &Path) -> Command {
    let mut c = Command::new(wesley);
    c.arg("plan")
        .arg("--from")
        .arg(old)
        .arg("--to")
        .arg(new)
        .args(["--format", "json", "-o"])
        .arg(out);
    c
}

/// The synthetic pair of `n` tables, 5% of them changed, as two files in `scratch`.
fn pair(scratch: &Scratch, n: u64) -> (PathBuf, PathBuf) {
    let opts = SynthOptions::new(n as usize);
    (
        scratch.file(&format!("old-{n}.graphql"), &synth::schema(&opts)),
        scratch.file(&format!("new-{n}.graphql"), &synth::evolve(&opts, 7, 5)),
    )
}

fn migra_program() -> PathBuf {
    if let Some(p) = std::env::var_os("WESLEY_MIGRA").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let p = root.join(".cache/migra/bin/migra");
    assert!(
        p.exists(),
        "migra is not installed: run `scripts/bench migra`, which installs it into .cache/migra, or set WESLEY_MIGRA"
    );
    p
}

/// The URL of `db` as SQLAlchemy (under migra) reads one: the socket directory as the
/// `host` query parameter, which it does not take percent-encoded in the host part.
fn sqlalchemy_url(cluster: &Cluster, db: &str) -> String {
    format!(
        "postgresql://postgres@/{db}?host={}&port={}",
        cluster.socket_dir().display(),
        cluster.port()
    )
}

fn main() {
    let sizes = common::env_list("WESLEY_BENCH_SIZES").unwrap_or_else(|| vec![1000]);
    let wesley = PathBuf::from(env!("CARGO_BIN_EXE_wesley"));
    let migra = migra_program();
    let scratch = Scratch::new("migra");
    let cli_sizes =
        common::env_list("WESLEY_BENCH_CLI_SIZES").unwrap_or_else(|| vec![1000, 10_000]);
    println!("wesley plan --format json, end to end (process start to exit), 5% of the tables changed; medians of 5 runs\n");
    println!("{:>7} {:>14} {:>10}", "tables", "wesley plan", "target");
    for &n in &cli_sizes {
        let (old, new) = pair(&scratch, n);
        let out = scratch.0.join(format!("cli-{n}.json"));
        let took = median_of(5, "wesley plan", &[0, 3], &|| {
            wesley_plan(&wesley, &old, &new, &out)
        });
        let target = if n <= 1000 { 0.1 } else { n as f64 / 10_000.0 };
        println!(
            "{n:>7} {:>12.1}ms {:>8.0}ms  {}",
            took.as_secs_f64() * 1000.0,
            target * 1000.0,
            if took.as_secs_f64() <= target {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    println!();
    let cluster = Cluster::start(&ClusterOptions::default()).expect("start a throwaway cluster");
    println!("planning: wesley plan (two SDL files) against migra (two live databases built from them), 5% of the tables changed; medians of 3 runs\n");
    println!(
        "{:>7} {:>14} {:>12} {:>9}",
        "tables", "wesley plan", "migra", "ratio"
    );
    let mut ratios = Vec::new();
    for n in sizes {
        let (old, new) = pair(&scratch, n);
        let out = scratch.0.join(format!("plan-{n}.json"));
        let plan = median_of(3, "wesley plan", &[0, 3], &|| {
            wesley_plan(&wesley, &old, &new, &out)
        });
        let (a, b) = (format!("migra_old_{n}"), format!("migra_new_{n}"));
        for (db, sdl) in [(&a, &old), (&b, &new)] {
            cluster.create_database(db).expect("database");
            common::generate_into(&cluster, db, &wesley, sdl);
        }
        let diff = median_of(3, "migra", &[0, 2], &|| {
            let mut c = Command::new(&migra);
            c.arg("--unsafe")
                .arg(sqlalchemy_url(&cluster, &a))
                .arg(sqlalchemy_url(&cluster, &b));
            c
        });
        let ratio = diff.as_secs_f64() / plan.as_secs_f64().max(1e-6);
        println!(
            "{n:>7} {:>12.1}ms {:>10.1}ms {:>8.1}×",
            plan.as_secs_f64() * 1000.0,
            diff.as_secs_f64() * 1000.0,
            ratio
        );
        ratios.push((n, ratio));
    }
    for (n, r) in ratios {
        println!(
            "\n{n} tables: wesley plan is {r:.1}× faster than migra; target ≥ 30×: {}",
            if r >= 30.0 { "met" } else { "NOT met" }
        );
    }
}
