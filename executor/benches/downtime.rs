//! Zero downtime, measured: a table of (by default) 1,000,000 rows is migrated while
//! pgbench clients write to it and a reporting query keeps opening 1.5 s transactions on
//! it, once by `wesley apply` with its default settings and once by the same change as
//! plain DDL. The change: a column type change (`integer` → `bigint`, on the column every
//! write updates), a new index, a new foreign key, a new CHECK and a new NOT NULL column
//! with a default.
//!
//! Every write is one transaction that updates (or inserts) an account and inserts an
//! audit row for it, so after the run every account's balance must equal its number of
//! audit rows: a write that was acknowledged and then lost would show as a difference.
//!
//! It prints, for each run: the worst and the 99.9th percentile write latency (from
//! pgbench's per-transaction log), failed and aborted writes, lost writes, and how long
//! the migration took. Target with `wesley apply`'s defaults: worst write ≤ 250 ms, no
//! failed and no lost write.
//!
//! Run with `scripts/bench-downtime` (`cargo bench -p wesley --bench downtime`).
//! Settings: `WESLEY_BENCH_ROWS` (1000000), `WESLEY_BENCH_CLIENTS` (4 pgbench clients),
//! `WESLEY_BENCH_REPORT_MS` (1500: the reporting transaction's length). Run without
//! `--bench` it only checks that it works, on 20,000 rows.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wesley::cluster::{Cluster, ClusterOptions};

const OLD: &str = r#"
type Owner @wes_table {
  id: Int! @wes_pk
}

type Account @wes_table {
  id: Int! @wes_pk
  balance: Int!
  ownerId: Int
  note: String
  kind: String!
}

type Audit @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  accountId: Int!
}
"#;

const NEW: &str = r#"
type Owner @wes_table {
  id: Int! @wes_pk
}

type Account @wes_table {
  id: Int! @wes_pk
  balance: BigInt!
  ownerId: Int @wes_fk(ref: "Owner.id")
  note: String @wes_index
  kind: String! @wes_check(expr: "kind <> ''")
  active: Boolean! @wes_default(value: true)
}

type Audit @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  accountId: Int!
}
"#;

/// The same change written the naive way, one statement after the other.
const NAIVE: &str = r#"
ALTER TABLE public.account ALTER COLUMN balance TYPE bigint;
CREATE INDEX account_note_idx ON public.account (note);
ALTER TABLE public.account ADD CONSTRAINT account_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.owner (id);
ALTER TABLE public.account ADD CONSTRAINT account_kind_check CHECK (kind <> '');
ALTER TABLE public.account ADD COLUMN active boolean NOT NULL DEFAULT true;
"#;

/// One write: an update of a random account, with its audit row.
const UPDATE_SCRIPT: &str = "\\set aid random(1, :rows)\n\
BEGIN;\n\
UPDATE public.account SET balance = balance + 1 WHERE id = :aid;\n\
INSERT INTO public.audit (account_id) VALUES (:aid);\n\
COMMIT;\n";

/// One write: a new account with a balance of 1, and its audit row.
const INSERT_SCRIPT: &str = "BEGIN;\n\
INSERT INTO public.account (id, balance, owner_id, note, kind) VALUES (nextval('public.bench_ids'), 1, 1, 'new', 'b') RETURNING id AS nid \\gset\n\
INSERT INTO public.audit (account_id) VALUES (:nid);\n\
COMMIT;\n";

/// Now as Unix time in seconds (pgbench logs its transactions' times this way).
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The steps of a run (its `--json` events with their arrival times) that were running
/// at some moment between `start` and `end` (Unix seconds), each with its attempt.
fn steps_during(events: &[(f64, serde_json::Value)], start: f64, end: f64) -> Vec<String> {
    let mut running: Vec<(String, f64, String)> = Vec::new();
    let mut found = Vec::new();
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    for (at, v) in events {
        let step = field(v, "step");
        match v["event"].as_str() {
            Some("step_started") => {
                let what = format!("{step} (attempt {})", v["attempt"]);
                running.push((step, *at, what));
            }
            Some("step_done" | "step_retry" | "step_failed") => {
                if let Some(i) = running.iter().position(|r| r.0 == step) {
                    let (_, from, what) = running.remove(i);
                    if from < end && *at > start {
                        found.push(what);
                    }
                }
            }
            _ => {}
        }
    }
    found.extend(running.into_iter().filter(|r| r.1 < end).map(|r| r.2));
    if found.is_empty() {
        found.push("(no step)".into());
    }
    found
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let p = std::env::temp_dir().join(format!("wesley-bench-downtime-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch directory");
        // pgbench runs as this process's user; the logs go here.
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

fn pgbench(cluster: &Cluster) -> PathBuf {
    let own = cluster.bin_dir().join("pgbench");
    if own.is_file() {
        return own;
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/pgbench"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| PathBuf::from("pgbench"))
}

/// The load: table size, pgbench clients, reporting transaction length.
#[derive(Clone, Copy)]
struct Load {
    rows: u64,
    clients: u64,
    report_ms: u64,
}

/// What one run measured.
struct Outcome {
    migration: Duration,
    migration_ok: bool,
    writes: usize,
    worst_ms: f64,
    p999_ms: f64,
    failed: usize,
    aborted: usize,
    lost: i64,
    /// The slowest writes: (start, end) as Unix time in seconds, and latency in ms.
    slowest: Vec<(f64, f64, f64)>,
}

/// Runs pgbench (update and insert scripts, `clients` clients) in runs of five seconds,
/// each logging every transaction to `<run>-<k>.*`, until `stop` is set; returns the
/// number of runs and pgbench's output. Short runs end on their own, so every log and
/// summary is complete.
fn start_load(
    cluster: &Cluster,
    db: &str,
    scratch: &Scratch,
    run: &str,
    clients: u64,
    rows: u64,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, String)> {
    let update = scratch.file(&format!("{run}-update.sql"), UPDATE_SCRIPT);
    let insert = scratch.file(&format!("{run}-insert.sql"), INSERT_SCRIPT);
    let program = pgbench(cluster);
    let socket = cluster.socket_dir().to_path_buf();
    let port = cluster.port().to_string();
    let dir = scratch.0.clone();
    let (db, run) = (db.to_string(), run.to_string());
    std::thread::spawn(move || {
        let mut k = 0;
        let mut text = String::new();
        while !stop.load(Ordering::Relaxed) {
            k += 1;
            let out = Command::new(&program)
                .arg("-h")
                .arg(&socket)
                .args(["-p", &port, "-U", "postgres", "-n"])
                .args(["-c", &clients.to_string(), "-j", "1", "-T", "5"])
                .args(["-D", &format!("rows={rows}")])
                .arg("-f")
                .arg(format!("{}@9", update.display()))
                .arg("-f")
                .arg(format!("{}@1", insert.display()))
                .args(["-l", "--log-prefix"])
                .arg(dir.join(format!("{run}-{k}")))
                .arg(&db)
                .current_dir(&dir)
                .output()
                .expect("run pgbench");
            text.push_str(&String::from_utf8_lossy(&out.stdout));
            text.push_str(&String::from_utf8_lossy(&out.stderr));
        }
        (k, text)
    })
}

/// A reporting session: a transaction that reads the table and stays open for
/// `report_ms`, again and again, until `stop`.
fn start_reports(
    cluster: &Cluster,
    db: &str,
    report_ms: u64,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    let mut cmd = cluster.psql_command(db);
    std::thread::spawn(move || {
        let mut child = cmd
            .args(["-X", "-q"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the reporting session");
        let mut stdin = child.stdin.take().expect("stdin");
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            use std::io::Write;
            let q = format!(
                "BEGIN; SELECT count(*), sum(balance) FROM public.account WHERE id % 97 = 0; SELECT pg_sleep({}); COMMIT;\n",
                report_ms as f64 / 1000.0
            );
            if stdin
                .write_all(q.as_bytes())
                .and_then(|_| stdin.flush())
                .is_err()
            {
                break;
            }
            n += 1;
            std::thread::sleep(Duration::from_millis(report_ms + 300));
        }
        drop(stdin);
        let _ = child.wait();
        n
    })
}

/// Latencies (ms, sorted), failures and the ten slowest writes (start and end as Unix time
/// in seconds, latency in ms) from pgbench's per-transaction logs `prefix.*`, whose lines
/// are `client transaction latency_us script epoch_s epoch_us`.
type Logs = (Vec<f64>, usize, Vec<(f64, f64, f64)>);

fn read_logs(scratch: &Scratch, run: &str) -> Logs {
    let mut lat = Vec::new();
    let mut timed = Vec::new();
    let mut failed = 0;
    for e in std::fs::read_dir(&scratch.0).expect("scratch").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&format!("{run}-")) || !name.contains(".") || name.ends_with(".sql") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.get(2) {
                Some(&"failed") | Some(&"skipped") => failed += 1,
                Some(t) => {
                    if let Ok(us) = t.parse::<f64>() {
                        lat.push(us / 1000.0);
                        let at = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
                        if let (Some(s), Some(u)) = (at(4), at(5)) {
                            let end = s + u / 1e6;
                            timed.push((end - us / 1e6, end, us / 1000.0));
                        }
                    }
                }
                None => {}
            }
        }
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    timed.sort_by(|a, b| b.2.partial_cmp(&a.2).unwrap());
    timed.truncate(10);
    (lat, failed, timed)
}

fn setup(cluster: &Cluster, db: &str, wesley: &Path, scratch: &Scratch, rows: u64) {
    let old = scratch.file("old.graphql", OLD);
    let ddl = Command::new(wesley)
        .arg("generate")
        .arg(&old)
        .output()
        .expect("wesley generate");
    assert!(
        ddl.status.success(),
        "{}",
        String::from_utf8_lossy(&ddl.stderr)
    );
    cluster
        .psql(db, &String::from_utf8_lossy(&ddl.stdout))
        .expect("old schema");
    cluster
        .psql(
            db,
            &format!(
                "INSERT INTO public.owner SELECT g FROM generate_series(1, 1000) g;\n\
                 INSERT INTO public.account (id, balance, owner_id, note, kind) SELECT g, 0, g % 1000 + 1, 'n' || (g % 5000), 'a' FROM generate_series(1, {rows}) g;\n\
                 CREATE SEQUENCE public.bench_ids START {};\n\
                 VACUUM ANALYZE;",
                rows + 1
            ),
        )
        .expect("rows");
}

/// Accounts whose balance is not their number of audit rows (every write adds one to
/// both, in one transaction).
fn lost_writes(cluster: &Cluster, db: &str) -> i64 {
    let out = cluster
        .psql(
            db,
            "SELECT count(*) FROM public.account a LEFT JOIN (SELECT account_id, count(*) AS n FROM public.audit GROUP BY account_id) w ON w.account_id = a.id WHERE a.balance <> coalesce(w.n, 0);",
        )
        .expect("count lost writes");
    out.trim().parse().unwrap_or(-1)
}

fn run(
    cluster: &Cluster,
    wesley: &Path,
    scratch: &Scratch,
    name: &str,
    load: Load,
    migrate: &dyn Fn(&str) -> bool,
) -> Outcome {
    let Load {
        rows,
        clients,
        report_ms,
    } = load;
    let db = format!("downtime_{name}");
    cluster.create_database(&db).expect("database");
    setup(cluster, &db, wesley, scratch, rows);
    let stop = Arc::new(AtomicBool::new(false));
    let pgbench_load = start_load(cluster, &db, scratch, name, clients, rows, stop.clone());
    let reports = start_reports(cluster, &db, report_ms, stop.clone());
    std::thread::sleep(Duration::from_secs(3));
    let t = Instant::now();
    let ok = migrate(&db);
    let migration = t.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let (_, text) = pgbench_load.join().expect("the load");
    let _ = reports.join();
    let aborted = text.matches("aborted").count();
    let (lat, failed, slowest) = read_logs(scratch, name);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Outcome {
        migration,
        migration_ok: ok,
        writes: lat.len(),
        worst_ms: lat.last().copied().unwrap_or(0.0),
        p999_ms: pct(0.999),
        failed,
        aborted,
        lost: lost_writes(cluster, &db),
        slowest,
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rows = env_num("WESLEY_BENCH_ROWS", if bench { 1_000_000 } else { 20_000 });
    let clients = env_num("WESLEY_BENCH_CLIENTS", 4);
    let report_ms = env_num("WESLEY_BENCH_REPORT_MS", 1500);
    let wesley = PathBuf::from(env!("CARGO_BIN_EXE_wesley"));
    let load = Load {
        rows,
        clients,
        report_ms,
    };
    let scratch = Scratch::new();
    let cluster = Cluster::start(&ClusterOptions {
        settings: vec![
            "max_connections = 50".into(),
            "shared_buffers = 256MB".into(),
        ],
        ..ClusterOptions::default()
    })
    .expect("start a throwaway cluster");
    println!("zero downtime: {rows} rows, {clients} pgbench clients (9 updates : 1 insert), a {report_ms} ms reporting transaction every {} ms", report_ms + 300);
    println!("change: integer → bigint on the written column, an index, a foreign key, a CHECK, a NOT NULL column with a default\n");

    let old = scratch.file("old.graphql", OLD);
    let new = scratch.file("new.graphql", NEW);
    let plan = scratch.0.join("plan.json");
    let planned = Command::new(&wesley)
        .arg("plan")
        .arg("--from")
        .arg(&old)
        .arg("--to")
        .arg(&new)
        .args(["--format", "json", "-o"])
        .arg(&plan)
        .output()
        .expect("wesley plan");
    assert!(
        matches!(planned.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );

    // The run's events (`--json`), each with the Unix time it arrived, to tell which
    // step the slowest writes waited for.
    let events: std::sync::Mutex<Vec<(f64, serde_json::Value)>> = Default::default();
    let apply = |db: &str| {
        use std::io::BufRead;
        let mut child = Command::new(&wesley)
            .arg("apply")
            .arg(&plan)
            .arg("--database-url")
            .arg(cluster.url(db))
            .args(["--json", "--allow", "breaks_clients", "--checkpoint-dir"])
            .arg(scratch.0.join("checkpoints"))
            .current_dir(&scratch.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wesley apply");
        let stdout = child.stdout.take().expect("stdout");
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str(&line) {
                events.lock().unwrap().push((unix_now(), v));
            }
        }
        let out = child.wait_with_output().expect("wesley apply");
        if !out.status.success() {
            eprintln!(
                "wesley apply failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.status.success()
    };
    let naive = |db: &str| cluster.psql(db, NAIVE).is_ok();

    let results = [
        (
            "wesley apply (defaults)",
            run(&cluster, &wesley, &scratch, "wesley", load, &apply),
        ),
        (
            "plain DDL",
            run(&cluster, &wesley, &scratch, "naive", load, &naive),
        ),
    ];
    println!(
        "{:<24} {:>10} {:>9} {:>12} {:>12} {:>7} {:>8} {:>5}",
        "", "migration", "writes", "worst write", "p99.9 write", "failed", "aborted", "lost"
    );
    for (name, r) in &results {
        println!(
            "{:<24} {:>9.1}s {:>9} {:>10.1}ms {:>10.1}ms {:>7} {:>8} {:>5}{}",
            name,
            r.migration.as_secs_f64(),
            r.writes,
            r.worst_ms,
            r.p999_ms,
            r.failed,
            r.aborted,
            r.lost,
            if r.migration_ok {
                ""
            } else {
                "  (migration failed)"
            }
        );
    }
    let w = &results[0].1;
    println!(
        "\nworst write with wesley: {:.0} ms ({:.2}× the plain DDL's {:.0} ms); target ≤ 250 ms, 0 failed, 0 lost: {}",
        w.worst_ms,
        w.worst_ms / results[1].1.worst_ms.max(0.001),
        results[1].1.worst_ms,
        if w.migration_ok && w.worst_ms <= 250.0 && w.failed == 0 && w.aborted == 0 && w.lost == 0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!("\nslowest writes under wesley apply, and the steps running while they waited:");
    let events = events.into_inner().unwrap();
    for &(start, end, ms) in w.slowest.iter().take(5) {
        println!(
            "  {ms:>8.1} ms  {}",
            steps_during(&events, start, end).join(", ")
        );
    }
    assert!(w.migration_ok, "wesley apply failed under load");
    assert_eq!(w.lost, 0, "writes were lost");
}
