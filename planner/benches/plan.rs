//! Migration planning time for synthetic schemas of 1,000 and 10,000 tables with about 5 %
//! of the tables changed (`synth::evolve`): diff + strategies + dependency graph
//! (`plan::plan`), then the plan file (`planfile::to_plan_file` + `to_json`). Parsing the
//! two SDL files is reported separately. Medians over several runs, plus peak memory per
//! size (each size runs in its own child process, as in the `generate` benchmark).
//!
//! Run with `cargo bench -p wesley-planner --bench plan` (or `scripts/bench plan`).
//! `WESLEY_BENCH_SIZES=1000` limits the sizes. Without `--bench` (as `cargo test
//! --all-targets` runs it) it only checks that it works, at 100 tables.

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use wesley_planner::synth::{self, SynthOptions};
use wesley_planner::{plan, planfile, sdl};

const SIZE_ENV: &str = "WESLEY_BENCH_SIZE";
const SIZES_ENV: &str = "WESLEY_BENCH_SIZES";
const SIZES: &[usize] = &[1_000, 10_000];
const CHANGED_PERCENT: u32 = 5;

fn median(mut v: Vec<u128>) -> u128 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs one size in this process and prints one `BENCH ...` line.
fn child(tables: usize, runs: usize) {
    let opts = SynthOptions::new(tables);
    let old_src = synth::schema(&opts);
    let new_src = synth::evolve(&opts, 7, CHANGED_PERCENT);
    let mut parse = Vec::new();
    let mut planning = Vec::new();
    let mut file = Vec::new();
    let mut steps = 0;
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let old = sdl::parse("old.graphql", &old_src).0.expect("old parses");
        let new = sdl::parse("new.graphql", &new_src).0.expect("new parses");
        parse.push(t.elapsed().as_micros());
        let t = Instant::now();
        let p = plan::plan(black_box(&old), black_box(&new));
        planning.push(t.elapsed().as_micros());
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
        let t = Instant::now();
        let json = planfile::to_json(&planfile::to_plan_file(&p));
        file.push(t.elapsed().as_micros());
        steps = p.steps.len();
        bytes = json.len();
    }
    println!(
        "BENCH tables={tables} runs={runs} steps={steps} json_bytes={bytes} parse_us={} plan_us={} file_us={} peak_kib={}",
        median(parse),
        median(planning),
        median(file),
        peak_kib()
    );
}

fn field(line: &str, key: &str) -> u128 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}="))?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    if let Ok(size) = std::env::var(SIZE_ENV) {
        let tables: usize = size.parse().expect("size");
        child(tables, if tables > 5_000 { 3 } else { 7 });
        return;
    }
    let benching = std::env::args().any(|a| a == "--bench");
    if !benching {
        child(100, 1);
        return;
    }
    let sizes: Vec<usize> = std::env::var(SIZES_ENV)
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| SIZES.to_vec());
    println!("Planning synthetic schemas with {CHANGED_PERCENT}% of tables changed (medians; release build)");
    println!(
        "{:>8} {:>7} {:>10} {:>12} {:>12} {:>14} {:>11}",
        "tables", "steps", "plan file", "parse both", "plan", "plan file out", "peak mem"
    );
    let exe = std::env::current_exe().expect("current exe");
    for tables in sizes {
        let out = Command::new(&exe)
            .env(SIZE_ENV, tables.to_string())
            .output()
            .expect("child runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with("BENCH ")) else {
            eprintln!(
                "size {tables} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        };
        println!(
            "{:>8} {:>7} {:>8} KB {:>9.1} ms {:>9.1} ms {:>11.1} ms {:>8.1} MB",
            tables,
            field(line, "steps"),
            field(line, "json_bytes") / 1024,
            field(line, "parse_us") as f64 / 1000.0,
            field(line, "plan_us") as f64 / 1000.0,
            field(line, "file_us") as f64 / 1000.0,
            field(line, "peak_kib") as f64 / 1024.0
        );
    }
}
