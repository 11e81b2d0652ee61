//! Planner throughput on synthetic schemas of 100, 1,000 and 10,000 tables (about 10
//! columns, 2 indexes and 1 foreign key each): parse and validate (`sdl::parse`), DDL
//! generation (`ddl::generate`) and hashing (`canon::schema_hash`), each timed
//! separately and in total (medians over several runs), plus the peak resident memory.
//!
//! Each size runs in a child process of this benchmark (the same executable, started
//! again with `WESLEY_BENCH_SIZE` set), so each size's peak memory (`VmHWM`) is its own.
//!
//! Run with `cargo bench -p wesley-planner --bench generate` (or `scripts/bench`).
//! `WESLEY_BENCH_SIZES=100,1000` limits the sizes. Run without `--bench` (as `cargo test
//! --all-targets` does), it only checks that it works: 100 tables, one run.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use wesley_planner::synth::{self, SynthOptions};
use wesley_planner::{canon, ddl, sdl};

/// Set in the child: the number of tables to benchmark.
const SIZE_ENV: &str = "WESLEY_BENCH_SIZE";
/// Optional, in the parent: comma-separated sizes instead of the default ones.
const SIZES_ENV: &str = "WESLEY_BENCH_SIZES";
/// Set in the child: the number of runs, instead of [`runs_for`].
const RUNS_ENV: &str = "WESLEY_BENCH_RUNS";
const SIZES: &[usize] = &[100, 1_000, 10_000];

/// Fewer runs for the bigger schemas.
fn runs_for(tables: usize) -> usize {
    match tables {
        0..=500 => 15,
        501..=5_000 => 7,
        _ => 3,
    }
}

/// One size's results, as the child reports them on one line of `key=value` pairs.
#[derive(Debug, Default)]
struct Report {
    tables: usize,
    runs: usize,
    sdl_bytes: usize,
    ddl_bytes: usize,
    synth_us: u128,
    parse_us: u128,
    generate_us: u128,
    hash_us: u128,
    total_us: u128,
    peak_kib: u64,
}

impl Report {
    fn to_line(&self) -> String {
        format!(
            "BENCH tables={} runs={} sdl_bytes={} ddl_bytes={} synth_us={} parse_us={} generate_us={} hash_us={} total_us={} peak_kib={}",
            self.tables,
            self.runs,
            self.sdl_bytes,
            self.ddl_bytes,
            self.synth_us,
            self.parse_us,
            self.generate_us,
            self.hash_us,
            self.total_us,
            self.peak_kib
        )
    }

    fn from_line(line: &str) -> Option<Report> {
        let rest = line.strip_prefix("BENCH ")?;
        let mut r = Report::default();
        for pair in rest.split_whitespace() {
            let (k, v) = pair.split_once('=')?;
            match k {
                "tables" => r.tables = v.parse().ok()?,
                "runs" => r.runs = v.parse().ok()?,
                "sdl_bytes" => r.sdl_bytes = v.parse().ok()?,
                "ddl_bytes" => r.ddl_bytes = v.parse().ok()?,
                "synth_us" => r.synth_us = v.parse().ok()?,
                "parse_us" => r.parse_us = v.parse().ok()?,
                "generate_us" => r.generate_us = v.parse().ok()?,
                "hash_us" => r.hash_us = v.parse().ok()?,
                "total_us" => r.total_us = v.parse().ok()?,
                "peak_kib" => r.peak_kib = v.parse().ok()?,
                _ => {}
            }
        }
        Some(r)
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    let n = xs.len();
    if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2
    }
}

/// Peak resident set size of this process in KiB (`VmHWM` in `/proc/self/status`); 0
/// where that file does not exist.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The child: benchmarks one size and prints its report line.
fn run_child(tables: usize) {
    let opts = SynthOptions::new(tables);
    let t = Instant::now();
    let src = synth::schema(&opts);
    let synth_time = t.elapsed();
    let runs = std::env::var(RUNS_ENV)
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| runs_for(tables));
    let (mut parse, mut generate, mut hash, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut ddl_bytes = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let (model, diags) = sdl::parse("synthetic.graphql", black_box(&src));
        let t1 = Instant::now();
        let Some(model) = model else {
            eprintln!("synthetic schema of {tables} tables does not parse: {diags:#?}");
            std::process::exit(1);
        };
        let sql = ddl::generate(black_box(&model));
        let t2 = Instant::now();
        let h = canon::schema_hash(black_box(&model));
        let t3 = Instant::now();
        black_box(&h);
        ddl_bytes = sql.len();
        parse.push(t1 - t0);
        generate.push(t2 - t1);
        hash.push(t3 - t2);
        total.push(t3 - t0);
        drop((model, diags, sql, h));
    }
    let report = Report {
        tables,
        runs,
        sdl_bytes: src.len(),
        ddl_bytes,
        synth_us: synth_time.as_micros(),
        parse_us: median(parse).as_micros(),
        generate_us: median(generate).as_micros(),
        hash_us: median(hash).as_micros(),
        total_us: median(total).as_micros(),
        peak_kib: peak_kib(),
    };
    println!("{}", report.to_line());
}

fn ms(us: u128) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn main() {
    if let Some(size) = std::env::var(SIZE_ENV).ok().filter(|s| !s.is_empty()) {
        match size.parse() {
            Ok(tables) => run_child(tables),
            Err(_) => {
                eprintln!("{SIZE_ENV}={size} is not a number");
                std::process::exit(2);
            }
        }
        return;
    }

    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs us without it.
    let smoke = !std::env::args().skip(1).any(|a| a == "--bench");
    let sizes: Vec<usize> = match std::env::var(SIZES_ENV) {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .filter_map(|s| s.trim().replace('_', "").parse().ok())
            .collect(),
        _ if smoke => vec![SIZES[0]],
        _ => SIZES.to_vec(),
    };
    let exe = std::env::current_exe().expect("path of the benchmark executable");
    if smoke {
        println!("(smoke run: one run per size; use `cargo bench` for real numbers)");
    }
    println!("planner: parse+validate, generate and hash of synthetic schemas");
    println!("(about 10 columns, 2 indexes and 1 foreign key per table; medians; one process per size)\n");
    let header = format!(
        "{:>7} {:>5} {:>9} {:>9} {:>15} {:>11} {:>11} {:>11} {:>10}",
        "tables", "runs", "SDL", "DDL", "parse+validate", "generate", "hash", "total", "peak RSS"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let mut failed = false;
    for tables in sizes {
        let mut child = Command::new(&exe);
        child.env(SIZE_ENV, tables.to_string());
        if smoke {
            child.env(RUNS_ENV, "1");
        }
        let out = child.output();
        let report = match &out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(Report::from_line),
            _ => None,
        };
        let Some(r) = report else {
            failed = true;
            match out {
                Ok(o) => eprintln!(
                    "size {tables}: child failed ({}):\n{}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                ),
                Err(e) => eprintln!("size {tables}: could not start {}: {e}", exe.display()),
            }
            continue;
        };
        println!(
            "{:>7} {:>5} {:>9} {:>9} {:>15} {:>11} {:>11} {:>11} {:>10}",
            r.tables,
            r.runs,
            format!("{} KiB", r.sdl_bytes / 1024),
            format!("{} KiB", r.ddl_bytes / 1024),
            ms(r.parse_us),
            ms(r.generate_us),
            ms(r.hash_us),
            ms(r.total_us),
            mib(r.peak_kib)
        );
    }
    if failed {
        std::process::exit(1);
    }
}
