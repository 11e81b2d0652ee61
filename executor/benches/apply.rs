//! `wesley apply` against a throwaway PostgreSQL cluster, driven through the release
//! `wesley` binary:
//!
//! 1. **Overhead**: a plan of about 2,000 small steps (an empty schema to synthetic
//!    tables with indexes and foreign keys) applied by `wesley apply` on one fresh
//!    database, and the plan's SQL rendering (`wesley plan --format sql`) run by
//!    `psql -X -v ON_ERROR_STOP=1 -f` on another database of the same server. The
//!    difference is the price of the ledger, the per-step sessions and checks.
//! 2. **Memory**: the executor's peak resident memory (`VmHWM` of the `wesley` process,
//!    polled from `/proc`) for plans of about 2,000 and 20,000 steps.
//! 3. **Parallel index builds**: `--jobs 4` against `--jobs 1` on a plan of independent
//!    `CREATE INDEX CONCURRENTLY` steps, one per table, each table large enough that a
//!    build takes a noticeable time; once with PostgreSQL's own parallel index build (by
//!    default a build may use two more workers, so one build can already keep every core
//!    busy) and once with `max_parallel_maintenance_workers = 0`.
//!
//! The cluster's data directory is on `/dev/shm` when it has 8 GiB free (tmpfs: no disk
//! writes, so both sides' times spread less; both run on the same cluster), or in
//! `WESLEY_BENCH_DIR`.
//!
//! Run with `cargo bench -p wesley --bench apply` (or `scripts/bench apply`). Settings:
//! `WESLEY_BENCH_STEPS=2000,20000` (plan sizes; the first is also the overhead
//! comparison, run as `WESLEY_BENCH_PAIRS=3` pairs of `wesley apply` and `psql -f`),
//! `WESLEY_BENCH_INDEX_TABLES=8`, `WESLEY_BENCH_INDEX_ROWS=200000`. Run without `--bench`
//! (as `cargo test --all-targets` does) it only checks that it works, on small sizes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wesley::cluster::{Cluster, ClusterOptions};
use wesley_planner::model::Schema;
use wesley_planner::synth::{self, SynthOptions};
use wesley_planner::{plan, sdl};

const ALL_HAZARDS: &str = "deletes_data,breaks_clients,blocks_reads,blocks_writes,table_rewrite,long_running,authz_change,needs_backfill,still_in_use";

fn env_list(name: &str) -> Option<Vec<usize>> {
    let v = std::env::var(name).ok().filter(|v| !v.trim().is_empty())?;
    Some(
        v.split(',')
            .filter_map(|s| s.trim().replace('_', "").parse().ok())
            .collect(),
    )
}

fn env_num(name: &str, default: usize) -> usize {
    env_list(name)
        .and_then(|v| v.first().copied())
        .unwrap_or(default)
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p =
            std::env::temp_dir().join(format!("wesley-bench-apply-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("scratch directory");
        Scratch(p)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write scratch file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parse(src: &str) -> Schema {
    sdl::parse("bench.graphql", src)
        .0
        .expect("the synthetic schema is valid")
}

/// Steps of the plan from an empty schema to `tables` synthetic tables.
fn steps_for(tables: usize) -> usize {
    let to = parse(&synth::schema(&SynthOptions::new(tables)));
    let from = parse("");
    plan::plan(&from, &to).steps.len()
}

/// About how many tables make a plan of `steps` steps from the empty schema (measured on
/// a sample of up to 1,000 tables; the plan written by `wesley plan` says how many steps
/// it has exactly).
fn tables_for(steps: usize) -> usize {
    let sample = (steps / 2).clamp(10, 1_000);
    let per = steps_for(sample).max(1) as f64 / sample as f64;
    ((steps as f64 / per).round() as usize).max(1)
}

/// The number of steps in a plan file.
fn steps_in(plan: &Path) -> usize {
    let text = std::fs::read_to_string(plan).expect("read the plan file");
    let v: serde_json::Value = serde_json::from_str(&text).expect("plan file is JSON");
    v["steps"].as_array().map_or(0, Vec::len)
}

/// Runs a command, polling the peak resident memory of its process; panics on failure.
fn run_measured(cmd: &mut Command, what: &str) -> (Duration, u64) {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let err = child.stderr.take().expect("stderr");
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut { err }, &mut s);
        s
    });
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let stderr = err.join().unwrap_or_default();
    assert!(
        status.success(),
        "{what} failed ({status}):\n{}",
        stderr
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    (elapsed, peak)
}

struct Bench {
    cluster: Cluster,
    wesley: PathBuf,
    scratch: Scratch,
    dbs: usize,
}

impl Bench {
    fn database(&mut self, prefix: &str) -> String {
        self.dbs += 1;
        let name = format!("{prefix}_{}", self.dbs);
        self.cluster
            .create_database(&name)
            .expect("create database");
        name
    }

    fn wesley(&self) -> Command {
        let mut cmd = Command::new(&self.wesley);
        for v in ["DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] {
            cmd.env_remove(v);
        }
        cmd.current_dir(&self.scratch.0);
        cmd
    }

    /// `wesley plan` into `name.json` and `name.sql`.
    fn plan(&self, old: &Path, new: &Path, name: &str) -> (PathBuf, PathBuf) {
        let mut out = Vec::new();
        for format in ["json", "sql"] {
            let path = self.scratch.0.join(format!("{name}.{format}"));
            let status = self
                .wesley()
                .args(["plan", "--from"])
                .arg(old)
                .arg("--to")
                .arg(new)
                .args(["--format", format, "--allow", ALL_HAZARDS, "-o"])
                .arg(&path)
                .stderr(Stdio::null())
                .status()
                .expect("wesley plan");
            assert!(status.success(), "wesley plan --format {format}: {status}");
            out.push(path);
        }
        (out.remove(0), out.remove(0))
    }

    fn apply(&mut self, plan: &Path, db: &str, jobs: usize) -> (Duration, u64) {
        let url = self.cluster.url(db);
        let checkpoints = self.scratch.0.join("checkpoints");
        let mut cmd = self.wesley();
        cmd.arg("apply")
            .arg(plan)
            .args(["--database-url", &url, "--allow", ALL_HAZARDS])
            .args(["--jobs", &jobs.to_string()])
            .arg("--checkpoint-dir")
            .arg(checkpoints);
        run_measured(&mut cmd, "wesley apply")
    }

    fn psql_file(&self, sql: &Path, db: &str) -> Duration {
        let mut cmd = self.cluster.psql_command(db);
        cmd.args(["-q", "-v", "ON_ERROR_STOP=1", "-f"]).arg(sql);
        run_measured(&mut cmd, "psql -f").0
    }

    fn sql(&self, db: &str, sql: &str) -> String {
        self.cluster
            .psql(db, sql)
            .unwrap_or_else(|e| panic!("psql on {db}: {e}"))
    }
}

/// Where the cluster goes: `WESLEY_BENCH_DIR` when set; else `/dev/shm` when it has room
/// (tmpfs: both sides of each comparison run on this cluster, and without disk writes
/// their times spread less); else the default (`/tmp`). A container's `/dev/shm` is often
/// 64 MB, far too small for the 20,000-step plan.
fn cluster_parent() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WESLEY_BENCH_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let avail = Command::new("df")
        .args(["--output=avail", "-B1", "/dev/shm"])
        .output()
        .ok()?;
    let bytes: u64 = String::from_utf8_lossy(&avail.stdout)
        .lines()
        .nth(1)?
        .trim()
        .parse()
        .ok()?;
    (bytes >= 8 << 30).then(|| PathBuf::from("/dev/shm"))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs us without it.
    let smoke = !std::env::args().skip(1).any(|a| a == "--bench");
    let sizes = env_list("WESLEY_BENCH_STEPS").unwrap_or_else(|| {
        if smoke {
            vec![100]
        } else {
            vec![2_000, 20_000]
        }
    });
    let index_tables = env_num("WESLEY_BENCH_INDEX_TABLES", if smoke { 2 } else { 8 });
    let pair_runs = env_num("WESLEY_BENCH_PAIRS", if smoke { 1 } else { 3 }).max(1);
    let index_rows = env_num(
        "WESLEY_BENCH_INDEX_ROWS",
        if smoke { 1_000 } else { 200_000 },
    );
    if smoke {
        println!("(smoke run on small sizes; use `cargo bench -p wesley --bench apply` for real numbers)");
    }

    let cluster = Cluster::start(&ClusterOptions {
        parent: cluster_parent(),
        ..ClusterOptions::default()
    })
    .unwrap_or_else(|e| {
        eprintln!("cannot start a PostgreSQL cluster: {e}");
        std::process::exit(1);
    });
    let mut b = Bench {
        cluster,
        wesley: PathBuf::from(env!("CARGO_BIN_EXE_wesley")),
        scratch: Scratch::new(),
        dbs: 0,
    };
    let empty = b.scratch.file("empty.graphql", "");

    // 1 and 2: plans of many small steps.
    println!(
        "cluster data directory: {}\n",
        b.cluster.data_dir().display()
    );
    println!("wesley apply: plans from an empty schema to synthetic tables (10 columns, 2 indexes, 1 foreign key each)\n");
    println!(
        "{:>7} {:>7} | {:>12} {:>12} {:>10} {:>9} | {:>12}",
        "steps", "tables", "wesley apply", "psql -f", "ratio", "ms/step", "apply peak"
    );
    println!("{}", "-".repeat(84));
    let mut overhead = None;
    for (k, &want) in sizes.iter().enumerate() {
        let tables = tables_for(want);
        let new = b.scratch.file(
            &format!("synth{tables}.graphql"),
            &synth::schema(&SynthOptions::new(tables)),
        );
        let (json, sql) = b.plan(&empty, &new, &format!("synth{tables}"));
        let steps = steps_in(&json);
        let db = b.database("apply");
        let (apply_time, peak) = b.apply(&json, &db, 1);
        let applied = b.sql(&db, "SELECT count(*) FROM wesley.applied_steps");
        assert_eq!(applied.trim(), steps.to_string(), "every step recorded");
        // The psql comparison for the first size only (the 20,000-step plan is there for
        // the memory figure).
        let (psql_cell, ratio_cell) = if k == 0 {
            // Pairs of runs, each on fresh databases, apply then psql: the ratio of each
            // pair, and their median (the machine's speed drifts between pairs).
            let mut pairs = Vec::new();
            for p in 0..pair_runs {
                let apply = if p == 0 {
                    apply_time
                } else {
                    let db = b.database("apply");
                    b.apply(&json, &db, 1).0
                };
                let db2 = b.database("psql");
                let psql = b.psql_file(&sql, &db2);
                pairs.push((apply.as_secs_f64() / psql.as_secs_f64().max(1e-9), psql));
            }
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (ratio, psql_time) = pairs[pairs.len() / 2];
            overhead = Some((ratio, pairs[0].0, pairs[pairs.len() - 1].0, pairs.len()));
            (secs(psql_time), format!("{ratio:.2}x"))
        } else {
            ("-".into(), "-".into())
        };
        println!(
            "{:>7} {:>7} | {:>12} {:>12} {:>10} {:>9.2} | {:>12}",
            steps,
            tables,
            secs(apply_time),
            psql_cell,
            ratio_cell,
            apply_time.as_secs_f64() * 1000.0 / steps as f64,
            mib(peak)
        );
    }

    if let Some((median, low, high, n)) = overhead {
        println!(
            "\nwesley apply against psql -f on the first plan: median {median:.2}x of {n} pairs (each on fresh databases), from {low:.2}x to {high:.2}x; target <= 1.10x: {}\n",
            if median <= 1.10 { "met" } else { "NOT met" }
        );
    }

    // 3: independent concurrent index builds.
    let mut old = String::new();
    let mut new = String::new();
    for t in 0..index_tables {
        old.push_str(&format!(
            "type Big{t} @wes_table {{\n  id: BigInt! @wes_pk\n  a: Int!\n  b: String!\n}}\n\n"
        ));
        new.push_str(&format!(
            "type Big{t} @wes_table {{\n  id: BigInt! @wes_pk\n  a: Int! @wes_index\n  b: String!\n}}\n\n"
        ));
    }
    let old_path = b.scratch.file("big_old.graphql", &old);
    let new_path = b.scratch.file("big_new.graphql", &new);
    let (json, _) = b.plan(&old_path, &new_path, "big");
    let template = b.database("big_template");
    let ddl = b
        .wesley()
        .arg("generate")
        .arg(&old_path)
        .stderr(Stdio::null())
        .output()
        .expect("wesley generate");
    b.sql(&template, &String::from_utf8_lossy(&ddl.stdout));
    let mut seed = String::new();
    for t in 0..index_tables {
        seed.push_str(&format!(
            "INSERT INTO public.big{t} SELECT g, (g * 7919) % 1000003, md5(g::text) FROM generate_series(1, {index_rows}) g;\n"
        ));
    }
    seed.push_str("VACUUM ANALYZE;\n");
    b.sql(&template, &seed);
    // With PostgreSQL's own parallel index build (max_parallel_maintenance_workers, 2 by
    // default), and without it: one build alone may already use every core.
    let mut times = Vec::new();
    for workers in [None, Some(0)] {
        for jobs in [1usize, 4] {
            b.dbs += 1;
            let db = format!("big_jobs{jobs}_{}", b.dbs);
            b.sql(
                "postgres",
                &format!("CREATE DATABASE {db} TEMPLATE {template};"),
            );
            if let Some(w) = workers {
                b.sql(
                    "postgres",
                    &format!("ALTER DATABASE {db} SET max_parallel_maintenance_workers = {w};"),
                );
            }
            let (t, _) = b.apply(&json, &db, jobs);
            times.push((workers, jobs, t));
        }
    }
    // One build alone, for scale.
    b.dbs += 1;
    let db = format!("big_one_{}", b.dbs);
    b.sql(
        "postgres",
        &format!("CREATE DATABASE {db} TEMPLATE {template};"),
    );
    let t0 = Instant::now();
    b.sql(&db, "CREATE INDEX CONCURRENTLY one ON public.big0 (a);");
    let one = t0.elapsed();

    println!(
        "\nwesley apply --jobs: {index_tables} independent CREATE INDEX CONCURRENTLY steps ({index_rows} rows per table; one build alone: {:.0} ms; {} CPU cores)\n",
        one.as_secs_f64() * 1000.0,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:>6} {:>26} | {:>10} {:>9}",
        "jobs", "parallel workers per build", "time", "speed-up"
    );
    println!("{}", "-".repeat(57));
    for (workers, jobs, t) in &times {
        let base = times
            .iter()
            .find(|(w, j, _)| w == workers && *j == 1)
            .map(|(_, _, t)| t.as_secs_f64())
            .unwrap_or(1.0);
        println!(
            "{:>6} {:>26} | {:>10} {:>8.2}x",
            jobs,
            workers.map_or("default (2)".to_string(), |w| w.to_string()),
            secs(*t),
            base / t.as_secs_f64().max(1e-9)
        );
    }
}
