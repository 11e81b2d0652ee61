//! Backfill throughput, measured: `wesley apply` of the plan `wesley plan` makes for a
//! column type change (`integer` → `bigint` on `account.balance`: a shadow column, the
//! trigger that keeps it in sync, the batched backfill, the check that every value
//! converted, the swap), on tables of 100,000 and 1,000,000 rows by default.
//!
//! Each size runs twice on a fresh database: once with nothing else running, and once
//! while pgbench clients write to the table (every write updates a random account's
//! balance, the column being converted, or inserts one, and adds an audit row; 500 writes
//! per second by default). It prints, per run, the backfill step's rows per second (the
//! table's rows divided by the step's duration), its batches, the largest batch, the
//! longest batch transaction (from the executor's events: `BEGIN` sent to `COMMIT`
//! acknowledged), and, under load, the writes that ran during the backfill with the worst
//! and the 99.9th percentile latency, failed writes, and lost writes (after the run every
//! balance must equal its account's audit rows).
//!
//! In the same process and on the same cluster, each size also runs two comparisons
//! without writers: the same plan with a fixed batch size (`--batch-size`, the plan's own
//! batch size by default: what the backfill did before its batches adapted), and the
//! whole backfill as one `UPDATE` of the table (the plan's steps before the backfill run
//! first, so the same trigger fires; one transaction that holds every row's lock until
//! it commits). They are printed as ratios: adaptive rows/s over theirs, and the longest
//! transaction of each.
//!
//! pgroll's published figures (their backfill benchmark, PostgreSQL 14: 53,000 rows/s at
//! 10,000 rows, 20,800 at 100,000, 9,400 at 300,000) are printed next to the runs without
//! load, as a ratio: at the same size when they published one, otherwise against their
//! largest. Target: at 1,000,000 rows under the write load, ≥ 50,000 rows/s, no batch
//! transaction over 500 ms, writes flowing, none failed or lost.
//!
//! The cluster runs with PostgreSQL's durability defaults (`fsync`, `full_page_writes`
//! and `synchronous_commit` on), unlike the throwaway clusters of the tests.
//!
//! Run with `scripts/bench backfill` (`cargo bench -p wesley --bench backfill`).
//! Settings: `WESLEY_BENCH_BACKFILL_ROWS` (`100000,1000000`; add `5000000` for the large
//! table, about 3 more minutes), `WESLEY_BENCH_CLIENTS` (4 pgbench clients),
//! `WESLEY_BENCH_WRITE_RATE` (500 writes per second over all clients; 0: as fast as they
//! can), `WESLEY_BENCH_FIXED_BATCH` (the fixed batch sizes to compare with, e.g.
//! `1000,10000`; default the plan's). Run without `--bench` it only checks that it works,
//! on 20,000 rows.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{env_list, env_num, Scratch, Writers, ACCOUNTS};
use serde_json::Value;
use wesley::cluster::{Cluster, ClusterOptions};

/// pgroll's published backfill throughput: (rows in the table, rows per second).
const PGROLL: [(u64, f64); 3] = [(10_000, 53_000.0), (100_000, 20_800.0), (300_000, 9_400.0)];

/// The target at 1,000,000 rows under write load.
const TARGET_ROWS_PER_S: f64 = 50_000.0;
const TARGET_LONGEST_BATCH_MS: f64 = 500.0;

/// How a run backfills.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// `wesley apply` with its defaults: batches sized to a target duration.
    Adaptive,
    /// `wesley apply --batch-size N`.
    Fixed(u32),
    /// The plan's steps before the backfill, then its `UPDATE` on the whole table at once.
    OneUpdate,
}

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::Adaptive => "adaptive".into(),
            Mode::Fixed(n) => format!("fixed {}", thousands(f64::from(n))),
            Mode::OneUpdate => "1 UPDATE".into(),
        }
    }
}

/// What one run measured.
struct Outcome {
    ok: bool,
    /// The backfill step's duration as the executor reports it (`step_done`).
    backfill: Duration,
    /// From the backfill's `backfill_batch` events: their number, the longest `ms`, the
    /// largest `batch_rows`, and the rows their `UPDATE`s changed.
    batches: i64,
    longest_batch_ms: f64,
    largest_batch: i64,
    updated: i64,
    /// Writes that ran during the backfill (none without load).
    writes: common::Writes,
    /// Failed writes and aborted pgbench clients over the whole run.
    failed: usize,
    aborted: usize,
    lost: i64,
}

impl Outcome {
    fn rows_per_s(&self, rows: u64) -> f64 {
        rows as f64 / self.backfill.as_secs_f64().max(1e-9)
    }
}

/// The backfill step's window (arrival times of its `step_started` and `step_done`), its
/// duration in ms as reported, and its batches.
struct BackfillEvents<'a> {
    from: f64,
    to: f64,
    ms: u128,
    batches: Vec<&'a Value>,
}

fn backfill_events(events: &[(f64, Value)]) -> Option<BackfillEvents<'_>> {
    let is_backfill = |v: &Value| {
        v["step"]
            .as_str()
            .is_some_and(|s| s.starts_with("backfill:"))
    };
    let from = events
        .iter()
        .find(|(_, v)| v["event"] == "step_started" && is_backfill(v))?
        .0;
    let (to, done) = events
        .iter()
        .find(|(_, v)| v["event"] == "step_done" && is_backfill(v))?;
    Some(BackfillEvents {
        from,
        to: *to,
        ms: done["ms"].as_u64()? as u128,
        batches: events
            .iter()
            .filter(|(_, v)| v["event"] == "backfill_batch")
            .map(|(_, v)| v)
            .collect(),
    })
}

/// The whole backfill as one statement: the plan's steps before its backfill step (the
/// shadow column, the conversion, the trigger), then the backfill's `UPDATE` without
/// batches, timed by the server's clock. Returns the `UPDATE`'s duration and the rows it
/// changed.
fn one_update(cluster: &Cluster, db: &str, plan: &Value) -> (Duration, i64) {
    let steps = plan["steps"].as_array().expect("the plan's steps");
    let at = steps
        .iter()
        .position(|s| s["backfill"].is_object())
        .expect("a backfill step");
    for s in &steps[..at] {
        cluster
            .psql(db, s["sql"].as_str().expect("a step's SQL"))
            .expect("a step before the backfill");
    }
    let b = &steps[at]["backfill"];
    let table = format!(
        "{}.{}",
        wesley_planner::sql::ident(b["schema"].as_str().unwrap()),
        wesley_planner::sql::ident(b["table"].as_str().unwrap())
    );
    let out = cluster
        .psql(
            db,
            &format!(
                "CREATE TEMP TABLE t AS SELECT clock_timestamp() AS at;
                 WITH u AS (UPDATE {table} SET {} WHERE ({}) RETURNING 1) SELECT count(*) FROM u \\gset
                 SELECT :count || ' ' || extract(epoch FROM clock_timestamp() - at) * 1000 FROM t;",
                b["set"].as_str().unwrap(),
                b["predicate"].as_str().unwrap()
            ),
        )
        .expect("the backfill as one UPDATE");
    let mut f = out.split_whitespace();
    let n = f.next().and_then(|v| v.parse().ok()).unwrap_or(-1);
    let ms: f64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    (Duration::from_secs_f64(ms / 1000.0), n)
}

fn run(
    cluster: &Cluster,
    wesley: &Path,
    scratch: &Scratch,
    plan: &Path,
    rows: u64,
    writers: Option<Writers>,
    mode: Mode,
) -> Outcome {
    let name = format!(
        "backfill_{rows}_{}_{}",
        if writers.is_some() { "load" } else { "idle" },
        mode.label().replace([' ', ','], "").to_lowercase()
    );
    cluster.create_database(&name).expect("database");
    common::setup(cluster, &name, wesley, scratch, ACCOUNTS, rows);
    if mode == Mode::OneUpdate {
        let text = std::fs::read_to_string(plan).expect("the plan");
        let plan: Value = serde_json::from_str(&text).expect("the plan's JSON");
        let (took, updated) = one_update(cluster, &name, &plan);
        cluster
            .psql("postgres", &format!("DROP DATABASE {name}"))
            .expect("drop the database");
        return Outcome {
            ok: updated == rows as i64,
            backfill: took,
            batches: 1,
            longest_batch_ms: took.as_secs_f64() * 1000.0,
            largest_batch: rows as i64,
            updated,
            writes: common::Writes::default(),
            failed: 0,
            aborted: 0,
            lost: 0,
        };
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load = writers.map(|w| {
        let load = common::start_load(cluster, &name, scratch, &name, w, rows, stop.clone());
        std::thread::sleep(Duration::from_secs(2));
        load
    });
    let fixed = match mode {
        Mode::Fixed(n) => n.to_string(),
        _ => String::new(),
    };
    let mut args = vec!["--allow", "breaks_clients"];
    if !fixed.is_empty() {
        args.extend(["--batch-size", &fixed]);
    }
    let (ok, events) = common::apply(wesley, cluster, scratch, plan, &name, &args);
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let aborted = load
        .map(|l| l.join().expect("the load").1.matches("aborted").count())
        .unwrap_or(0);
    let all = common::read_logs(scratch, &name);
    let b = backfill_events(&events);
    let batches: Vec<&Value> = b.as_ref().map(|b| b.batches.clone()).unwrap_or_default();
    let outcome = Outcome {
        ok: ok && b.is_some(),
        backfill: Duration::from_millis(b.as_ref().map_or(0, |b| b.ms) as u64),
        batches: batches.len() as i64,
        longest_batch_ms: batches
            .iter()
            .filter_map(|v| v["ms"].as_f64())
            .fold(0.0, f64::max),
        largest_batch: batches
            .iter()
            .filter_map(|v| v["batch_rows"].as_i64())
            .max()
            .unwrap_or(0),
        updated: batches.iter().filter_map(|v| v["rows"].as_i64()).sum(),
        writes: b
            .as_ref()
            .map_or_else(|| all.during(0.0, 0.0), |b| all.during(b.from, b.to)),
        failed: all.failed,
        aborted,
        lost: common::lost_writes(cluster, &name),
    };
    // The next size needs the disk more than this database does.
    cluster
        .psql("postgres", &format!("DROP DATABASE {name}"))
        .expect("drop the database");
    outcome
}

/// pgroll's figure to compare `rows` with: the one at that size, else their largest.
fn pgroll_for(rows: u64) -> (u64, f64) {
    PGROLL
        .iter()
        .copied()
        .find(|&(n, _)| n == rows)
        .unwrap_or(PGROLL[PGROLL.len() - 1])
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes = env_list("WESLEY_BENCH_BACKFILL_ROWS").unwrap_or_else(|| {
        if bench {
            vec![100_000, 1_000_000]
        } else {
            vec![20_000]
        }
    });
    let clients = env_num("WESLEY_BENCH_CLIENTS", 4);
    let rate = env_num("WESLEY_BENCH_WRITE_RATE", 500);
    let writers = Writers {
        clients,
        rate: (rate > 0).then_some(rate),
    };
    let wesley = PathBuf::from(env!("CARGO_BIN_EXE_wesley"));
    let scratch = Scratch::new("backfill");
    let cluster = Cluster::start(&ClusterOptions {
        settings: vec![
            "max_connections = 50".into(),
            "shared_buffers = 256MB".into(),
            // PostgreSQL's defaults, which the throwaway cluster turns off.
            "fsync = on".into(),
            "full_page_writes = on".into(),
        ],
        ..ClusterOptions::default()
    })
    .expect("start a throwaway cluster");
    let version = cluster
        .psql("postgres", "SHOW server_version")
        .unwrap_or_default();
    let new = ACCOUNTS.replace("balance: Int!", "balance: BigInt!");
    let plan = common::plan(&wesley, &scratch, ACCOUNTS, &new, "plan.json");
    println!(
        "backfill: integer → bigint on public.account through a shadow column, its sync trigger and a batched backfill (the plan of `wesley plan`), PostgreSQL {}",
        version.trim()
    );
    println!(
        "writers: {clients} pgbench clients, {} (9 updates of the converted column : 1 insert); fsync and full_page_writes on\n",
        match writers.rate {
            Some(r) => format!("{r} writes/s"),
            None => "as fast as they can".into(),
        }
    );

    let plan_json: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).expect("the plan")).expect("JSON");
    let plan_batch = plan_json["steps"]
        .as_array()
        .and_then(|s| s.iter().find_map(|s| s["backfill"]["batch_size"].as_u64()))
        .expect("the plan's batch size") as u32;
    let fixed: Vec<u32> = env_list("WESLEY_BENCH_FIXED_BATCH")
        .map(|v| v.into_iter().map(|n| n as u32).collect())
        .unwrap_or_else(|| vec![plan_batch]);
    let mut runs = vec![(Mode::Adaptive, None), (Mode::Adaptive, Some(writers))];
    runs.extend(fixed.iter().map(|&n| (Mode::Fixed(n), None)));
    runs.push((Mode::OneUpdate, None));

    let mut results = Vec::new();
    println!(
        "{:>10} {:>10} {:>8} {:>9} {:>9} {:>8} {:>9} {:>10} {:>8} {:>10} {:>10} {:>6} {:>5}",
        "rows",
        "run",
        "writers",
        "backfill",
        "rows/s",
        "batches",
        "max rows",
        "max batch",
        "writes",
        "worst",
        "p99.9",
        "failed",
        "lost"
    );
    for &rows in &sizes {
        for &(mode, w) in &runs {
            let r = run(&cluster, &wesley, &scratch, &plan, rows, w, mode);
            println!(
                "{:>10} {:>10} {:>8} {:>8.2}s {:>9} {:>8} {:>9} {:>8.0}ms {:>8} {:>8.1}ms {:>8.1}ms {:>6} {:>5}{}",
                thousands(rows as f64),
                mode.label(),
                if w.is_some() { "load" } else { "none" },
                r.backfill.as_secs_f64(),
                thousands(r.rows_per_s(rows)),
                r.batches,
                r.largest_batch,
                r.longest_batch_ms,
                r.writes.done.len(),
                r.writes.worst(),
                r.writes.percentile(0.999),
                r.failed + r.aborted,
                r.lost,
                if !r.ok {
                    "  (failed)".to_string()
                } else if w.is_none() && r.updated != rows as i64 {
                    format!("  ({} rows updated)", r.updated)
                } else {
                    String::new()
                }
            );
            results.push((rows, mode, w.is_some(), r));
        }
    }

    println!("\nadaptive batches against the comparisons, measured in this run (no writers):");
    println!(
        "{:>10} {:>10} {:>16} {:>16}",
        "rows", "against", "rows/s ratio", "longest tx ratio"
    );
    for &rows in &sizes {
        let of = |m: Mode| {
            results
                .iter()
                .find(|(n, mode, loaded, _)| *n == rows && *mode == m && !*loaded)
                .map(|(_, _, _, r)| r)
        };
        let Some(ours) = of(Mode::Adaptive) else {
            continue;
        };
        for &(mode, w) in &runs {
            if mode == Mode::Adaptive || w.is_some() {
                continue;
            }
            let Some(theirs) = of(mode) else { continue };
            println!(
                "{:>10} {:>10} {:>15.2}× {:>15.3}×",
                thousands(rows as f64),
                mode.label(),
                ours.rows_per_s(rows) / theirs.rows_per_s(rows),
                ours.longest_batch_ms / theirs.longest_batch_ms.max(1e-9),
            );
        }
    }

    println!("\nagainst pgroll's published figures (their benchmark, PostgreSQL 14; no writers):");
    println!(
        "{:>10} {:>14} {:>14} {:>12}  compared with",
        "rows", "wesley rows/s", "pgroll rows/s", "ratio"
    );
    for (rows, _, _, r) in results
        .iter()
        .filter(|(_, mode, loaded, _)| *mode == Mode::Adaptive && !*loaded)
    {
        let (at, theirs) = pgroll_for(*rows);
        let ours = r.rows_per_s(*rows);
        println!(
            "{:>10} {:>14} {:>14} {:>11.2}×  {}",
            thousands(*rows as f64),
            thousands(ours),
            thousands(theirs),
            ours / theirs,
            if at == *rows {
                "pgroll at the same size".to_string()
            } else {
                format!(
                    "pgroll at {} rows, their largest (their rate falls as tables grow)",
                    thousands(at as f64)
                )
            }
        );
    }

    if let Some((_, _, _, r)) = results
        .iter()
        .find(|(rows, _, loaded, _)| *rows == 1_000_000 && *loaded)
    {
        let rps = r.rows_per_s(1_000_000);
        let met = r.ok
            && rps >= TARGET_ROWS_PER_S
            && r.longest_batch_ms <= TARGET_LONGEST_BATCH_MS
            && !r.writes.done.is_empty()
            && r.failed + r.aborted == 0
            && r.lost == 0;
        println!(
            "\ntarget at 1,000,000 rows under load: ≥ {} rows/s ({} measured, {:.2}×), longest batch ≤ {TARGET_LONGEST_BATCH_MS:.0} ms ({:.0} ms), writes flowing ({} during the backfill, worst {:.0} ms), none failed or lost: {}",
            thousands(TARGET_ROWS_PER_S),
            thousands(rps),
            rps / TARGET_ROWS_PER_S,
            r.longest_batch_ms,
            r.writes.done.len(),
            r.writes.worst(),
            if met { "met" } else { "NOT met" }
        );
    }
    for (rows, mode, loaded, r) in &results {
        let mode = mode.label();
        assert!(r.ok, "{mode} failed on {rows} rows (load: {loaded})");
        if !*loaded {
            // With writers, the trigger converts some rows first and inserts add rows.
            assert_eq!(r.updated, *rows as i64, "{mode}: rows updated of {rows}");
        }
        assert_eq!(r.lost, 0, "writes were lost on {rows} rows");
        if *loaded {
            assert!(
                !r.writes.done.is_empty(),
                "no write completed during the backfill of {rows} rows"
            );
        }
    }
}
