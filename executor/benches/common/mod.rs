//! What the benchmarks that migrate a table under write load share: the `account`
//! workload (its schema, its rows, the pgbench scripts that write to it and the check that
//! no write was lost), pgbench runs with per-transaction logs and their latencies, and
//! `wesley apply --json` with the arrival time of every event.
//!
//! Every write is one transaction that updates (or inserts) an account and inserts an
//! audit row for it, so after a run every account's balance must equal its number of audit
//! rows: a write that was acknowledged and then lost would show as a difference.

// Each benchmark uses only part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use wesley::cluster::Cluster;

/// The `account` workload's schema before a migration: accounts with an `integer`
/// balance that every write updates, their owners, and an audit row per write.
pub const ACCOUNTS: &str = r#"
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
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A comma-separated list of numbers from the environment (`_` allowed as a digit
/// separator), or `None` when the variable is unset or empty.
pub fn env_list(name: &str) -> Option<Vec<u64>> {
    let v = std::env::var(name).ok().filter(|v| !v.trim().is_empty())?;
    Some(
        v.split(',')
            .filter_map(|s| s.trim().replace('_', "").parse().ok())
            .collect(),
    )
}

/// A number from the environment, or `default`.
pub fn env_num(name: &str, default: u64) -> u64 {
    env_list(name)
        .and_then(|v| v.first().copied())
        .unwrap_or(default)
}

/// A scratch directory for plans, pgbench scripts and logs, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// `<temp>/wesley-bench-<name>-<pid>`, empty.
    pub fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("wesley-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch directory");
        // pgbench runs as this process's user; the logs go here.
        Scratch(p)
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
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

/// The cluster's own pgbench, else Debian's newest, else the one on `PATH`.
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

/// `schema` (SDL) built by `wesley generate` in `db`, with 1,000 owners and `rows`
/// accounts (ids 1 to `rows`, balance 0), the sequence the insert script draws new ids
/// from, and `VACUUM ANALYZE`.
pub fn setup(
    cluster: &Cluster,
    db: &str,
    wesley: &Path,
    scratch: &Scratch,
    schema: &str,
    rows: u64,
) {
    generate_into(cluster, db, wesley, &scratch.file("setup.graphql", schema));
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

/// The schema in SDL file `sdl`, built by `wesley generate` in the existing database `db`.
pub fn generate_into(cluster: &Cluster, db: &str, wesley: &Path, sdl: &Path) {
    let ddl = Command::new(wesley)
        .arg("generate")
        .arg(sdl)
        .output()
        .expect("wesley generate");
    assert!(
        ddl.status.success(),
        "{}",
        String::from_utf8_lossy(&ddl.stderr)
    );
    cluster
        .psql(db, &String::from_utf8_lossy(&ddl.stdout))
        .expect("the schema's DDL");
}

/// Accounts whose balance is not their number of audit rows (every write adds one to
/// both, in one transaction).
pub fn lost_writes(cluster: &Cluster, db: &str) -> i64 {
    let out = cluster
        .psql(
            db,
            "SELECT count(*) FROM public.account a LEFT JOIN (SELECT account_id, count(*) AS n FROM public.audit GROUP BY account_id) w ON w.account_id = a.id WHERE a.balance <> coalesce(w.n, 0);",
        )
        .expect("count lost writes");
    out.trim().parse().unwrap_or(-1)
}

/// The write load on the `account` workload: pgbench clients, and an optional rate.
#[derive(Clone, Copy)]
pub struct Writers {
    /// pgbench clients (`-c`).
    pub clients: u64,
    /// Transactions per second over all clients (`-R`), or `None` for as many as they can.
    pub rate: Option<u64>,
}

/// Runs pgbench (update and insert scripts, 9 : 1) on `db`, whose accounts are numbered 1
/// to `rows`, in runs of five seconds, each logging every transaction to `<run>-<k>.*`
/// in the scratch directory, until `stop` is set; returns the number of runs and
/// pgbench's output. Short runs end on their own, so every log and summary is complete.
pub fn start_load(
    cluster: &Cluster,
    db: &str,
    scratch: &Scratch,
    run: &str,
    writers: Writers,
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
            let mut cmd = Command::new(&program);
            cmd.arg("-h")
                .arg(&socket)
                .args(["-p", &port, "-U", "postgres", "-n"])
                .args(["-c", &writers.clients.to_string(), "-j", "1", "-T", "5"])
                .args(["-D", &format!("rows={rows}")])
                .arg("-f")
                .arg(format!("{}@9", update.display()))
                .arg("-f")
                .arg(format!("{}@1", insert.display()))
                .args(["-l", "--log-prefix"])
                .arg(dir.join(format!("{run}-{k}")));
            if let Some(rate) = writers.rate {
                cmd.args(["-R", &rate.to_string()]);
            }
            let out = cmd
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

/// One logged write: start and end as Unix time in seconds, latency in milliseconds
/// (under a rate limit, counted from the time pgbench scheduled it).
#[derive(Clone, Copy, Debug)]
pub struct Write {
    pub start: f64,
    pub end: f64,
    pub ms: f64,
}

/// The writes of a run, from pgbench's per-transaction logs.
#[derive(Default)]
pub struct Writes {
    /// Completed writes, slowest first.
    pub done: Vec<Write>,
    /// Writes logged as failed or skipped.
    pub failed: usize,
}

impl Writes {
    /// The latency (ms) that the fraction `p` of the writes did not exceed.
    pub fn percentile(&self, p: f64) -> f64 {
        let n = self.done.len();
        if n == 0 {
            return 0.0;
        }
        // `done` is sorted slowest first.
        let rank = ((n as f64 * p) as usize).min(n - 1);
        self.done[n - 1 - rank].ms
    }

    /// The slowest write's latency (ms), 0 without writes.
    pub fn worst(&self) -> f64 {
        self.done.first().map_or(0.0, |w| w.ms)
    }

    /// The writes that were running at some moment between `from` and `to` (Unix
    /// seconds), slowest first.
    pub fn during(&self, from: f64, to: f64) -> Writes {
        Writes {
            done: self
                .done
                .iter()
                .filter(|w| w.start < to && w.end > from)
                .copied()
                .collect(),
            failed: 0,
        }
    }
}

/// The writes of `run` from pgbench's per-transaction logs `<run>-*.*`, whose lines are
/// `client transaction latency_us script epoch_s epoch_us [lag_us]`.
pub fn read_logs(scratch: &Scratch, run: &str) -> Writes {
    let mut done = Vec::new();
    let mut failed = 0;
    for e in std::fs::read_dir(&scratch.0).expect("scratch").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&format!("{run}-")) || !name.contains('.') || name.ends_with(".sql") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.get(2) {
                Some(&"failed") | Some(&"skipped") => failed += 1,
                Some(t) => {
                    let at = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
                    if let (Ok(us), Some(s), Some(u)) = (t.parse::<f64>(), at(4), at(5)) {
                        let end = s + u / 1e6;
                        done.push(Write {
                            start: end - us / 1e6,
                            end,
                            ms: us / 1000.0,
                        });
                    }
                }
                None => {}
            }
        }
    }
    done.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    Writes { done, failed }
}

/// `wesley plan --from old --to new --format json` into `<scratch>/<name>`; the plan is
/// written whatever its hazards (exit code 0 or 3).
pub fn plan(wesley: &Path, scratch: &Scratch, old: &str, new: &str, name: &str) -> PathBuf {
    let old = scratch.file(&format!("{name}.old.graphql"), old);
    let new = scratch.file(&format!("{name}.new.graphql"), new);
    let plan = scratch.0.join(name);
    let planned = Command::new(wesley)
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
    plan
}

/// `wesley apply PLAN --json` on `db` with `extra` arguments: whether it succeeded, and
/// its events, each with the Unix time it arrived.
pub fn apply(
    wesley: &Path,
    cluster: &Cluster,
    scratch: &Scratch,
    plan: &Path,
    db: &str,
    extra: &[&str],
) -> (bool, Vec<(f64, serde_json::Value)>) {
    use std::io::BufRead;
    let mut child = Command::new(wesley)
        .arg("apply")
        .arg(plan)
        .arg("--database-url")
        .arg(cluster.url(db))
        .args(["--json", "--checkpoint-dir"])
        .arg(scratch.0.join("checkpoints"))
        .args(extra)
        .current_dir(&scratch.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wesley apply");
    let stdout = child.stdout.take().expect("stdout");
    let mut events = Vec::new();
    for line in std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
    {
        if let Ok(v) = serde_json::from_str(&line) {
            events.push((unix_now(), v));
        }
    }
    let out = child.wait_with_output().expect("wesley apply");
    if !out.status.success() {
        eprintln!(
            "wesley apply failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (out.status.success(), events)
}

/// The steps of a run (its `--json` events with their arrival times) that were running
/// at some moment between `start` and `end` (Unix seconds), each with its attempt.
pub fn steps_during(events: &[(f64, serde_json::Value)], start: f64, end: f64) -> Vec<String> {
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

/// The steps of a run (its `--json` events), longest first: id, duration over every
/// attempt in milliseconds, and retries (lock timeouts and deadlocks).
pub fn longest_steps(events: &[(f64, serde_json::Value)]) -> Vec<(String, u64, usize)> {
    let mut steps: Vec<(String, u64, usize)> = events
        .iter()
        .filter(|(_, v)| v["event"] == "step_done")
        .map(|(_, v)| {
            let step = v["step"].as_str().unwrap_or("").to_string();
            let retries = events
                .iter()
                .filter(|(_, r)| r["event"] == "step_retry" && r["step"] == v["step"])
                .count();
            (step, v["ms"].as_u64().unwrap_or(0), retries)
        })
        .collect();
    steps.sort_by_key(|s| std::cmp::Reverse(s.1));
    steps
}
