//! Zero downtime, measured: a table of (by default) 1,000,000 rows is migrated while
//! pgbench clients write to it and a reporting query keeps opening 1.5 s transactions on
//! it, once by `wesley apply` with its default settings and once by the same change as
//! plain DDL. Two changes (scenarios), each run both ways:
//!
//! - `columns`: a column type change (`integer` → `bigint`, on the column every write
//!   updates), a new index, a new foreign key, a new CHECK and a new NOT NULL column with
//!   a default;
//! - `keys`: the primary keys of `owner` and `account` become `bigint`, with the foreign
//!   keys that reference them (`account.owner_id`, and `audit.account_id`, which every
//!   write inserts), over three tables; `audit` starts with one row per account. After
//!   the run it also counts foreign keys left unvalidated and rows that point nowhere.
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
//! `WESLEY_BENCH_REPORT_MS` (1500: the reporting transaction's length),
//! `WESLEY_BENCH_SCENARIOS` (`columns,keys`). Run without `--bench` it only checks that
//! it works, on 20,000 rows.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env_num, Scratch, Writers, ACCOUNTS};
use wesley::cluster::{Cluster, ClusterOptions};

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

/// The `keys` scenario's schema before: [`common::ACCOUNTS`] with its foreign keys.
const KEYS_OLD: &str = r#"
type Owner @wes_table {
  id: Int! @wes_pk
}

type Account @wes_table {
  id: Int! @wes_pk
  balance: Int!
  ownerId: Int @wes_fk(ref: "Owner.id")
  note: String
  kind: String!
}

type Audit @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  accountId: Int! @wes_fk(ref: "Account.id")
}
"#;

/// The `keys` scenario's schema after: every key and foreign key `bigint`.
const KEYS_NEW: &str = r#"
type Owner @wes_table {
  id: BigInt! @wes_pk
}

type Account @wes_table {
  id: BigInt! @wes_pk
  balance: Int!
  ownerId: BigInt @wes_fk(ref: "Owner.id")
  note: String
  kind: String!
}

type Audit @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  accountId: BigInt! @wes_fk(ref: "Account.id")
}
"#;

/// The `keys` change written the naive way: each `ALTER COLUMN ... TYPE` rewrites its
/// table (and checks the foreign keys again) under ACCESS EXCLUSIVE.
const KEYS_NAIVE: &str = r#"
BEGIN;
ALTER TABLE public.owner ALTER COLUMN id TYPE bigint;
ALTER TABLE public.account ALTER COLUMN id TYPE bigint, ALTER COLUMN owner_id TYPE bigint;
ALTER TABLE public.audit ALTER COLUMN account_id TYPE bigint;
COMMIT;
"#;

/// The `keys` scenario's rows beyond [`common::setup`]'s: one audit row per account.
const KEYS_SEED: &str = "INSERT INTO public.audit (account_id) SELECT id FROM public.account;\n\
UPDATE public.account SET balance = 1;\n\
VACUUM ANALYZE;";

/// After the `keys` scenario: (foreign keys not validated, audit rows whose account is
/// missing, accounts whose owner is missing, columns among the five keys not `bigint`).
const KEYS_CHECK: &str = "SELECT (SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated AND connamespace = 'public'::regnamespace) || ' ' || \
(SELECT count(*) FROM public.audit a WHERE NOT EXISTS (SELECT 1 FROM public.account b WHERE b.id = a.account_id)) || ' ' || \
(SELECT count(*) FROM public.account a WHERE a.owner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public.owner o WHERE o.id = a.owner_id)) || ' ' || \
(SELECT count(*) FROM pg_attribute WHERE attrelid IN ('public.owner'::regclass, 'public.account'::regclass, 'public.audit'::regclass) AND attname IN ('id', 'owner_id', 'account_id') AND NOT attisdropped AND atttypid <> 'int8'::regtype AND NOT (attrelid = 'public.audit'::regclass AND attname = 'id'))";

/// The same change written the naive way, one statement after the other.
const NAIVE: &str = r#"
ALTER TABLE public.account ALTER COLUMN balance TYPE bigint;
CREATE INDEX account_note_idx ON public.account (note);
ALTER TABLE public.account ADD CONSTRAINT account_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.owner (id);
ALTER TABLE public.account ADD CONSTRAINT account_kind_check CHECK (kind <> '');
ALTER TABLE public.account ADD COLUMN active boolean NOT NULL DEFAULT true;
"#;

/// The load: table size, pgbench clients, reporting transaction length.
#[derive(Clone, Copy)]
struct Load {
    rows: u64,
    clients: u64,
    report_ms: u64,
}

/// One change to measure: the schemas before and after, the same change as plain DDL,
/// rows to add after setup, and a query to run after the migration.
struct Scenario {
    name: &'static str,
    what: &'static str,
    old: &'static str,
    new: &'static str,
    naive: &'static str,
    seed: Option<&'static str>,
    check: Option<(&'static str, &'static str)>,
}

const SCENARIOS: [Scenario; 2] = [
    Scenario {
        name: "columns",
        what: "integer → bigint on the written column, an index, a foreign key, a CHECK, a NOT NULL column with a default",
        old: ACCOUNTS,
        new: NEW,
        naive: NAIVE,
        seed: None,
        check: None,
    },
    Scenario {
        name: "keys",
        what: "the primary keys of owner and account integer → bigint, with the foreign keys from account and audit (every write inserts into audit)",
        old: KEYS_OLD,
        new: KEYS_NEW,
        naive: KEYS_NAIVE,
        seed: Some(KEYS_SEED),
        check: Some((
            KEYS_CHECK,
            "unvalidated foreign keys, audit rows without account, accounts without owner, keys not bigint",
        )),
    },
];

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
    /// The scenario's check query's answer after the run.
    checked: Option<String>,
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

fn run(
    cluster: &Cluster,
    wesley: &Path,
    scratch: &Scratch,
    (scenario, name): (&Scenario, &str),
    load: Load,
    migrate: &dyn Fn(&str) -> bool,
) -> Outcome {
    let Load {
        rows,
        clients,
        report_ms,
    } = load;
    let name = format!("{}_{name}", scenario.name);
    let name = name.as_str();
    let db = format!("downtime_{name}");
    cluster.create_database(&db).expect("database");
    common::setup(cluster, &db, wesley, scratch, scenario.old, rows);
    if let Some(seed) = scenario.seed {
        cluster.psql(&db, seed).expect("the scenario's rows");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers = Writers {
        clients,
        rate: None,
    };
    let pgbench_load = common::start_load(cluster, &db, scratch, name, writers, rows, stop.clone());
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
    let writes = common::read_logs(scratch, name);
    Outcome {
        migration,
        migration_ok: ok,
        writes: writes.done.len(),
        worst_ms: writes.worst(),
        p999_ms: writes.percentile(0.999),
        failed: writes.failed,
        aborted,
        lost: common::lost_writes(cluster, &db),
        checked: scenario
            .check
            .map(|(q, _)| cluster.psql(&db, q).expect("check").trim().to_string()),
        slowest: writes
            .done
            .iter()
            .take(10)
            .map(|w| (w.start, w.end, w.ms))
            .collect(),
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rows = env_num("WESLEY_BENCH_ROWS", if bench { 1_000_000 } else { 20_000 });
    let clients = env_num("WESLEY_BENCH_CLIENTS", 4);
    let report_ms = env_num("WESLEY_BENCH_REPORT_MS", 1500);
    let selected =
        std::env::var("WESLEY_BENCH_SCENARIOS").unwrap_or_else(|_| "columns,keys".into());
    let wesley = PathBuf::from(env!("CARGO_BIN_EXE_wesley"));
    let load = Load {
        rows,
        clients,
        report_ms,
    };
    let scratch = Scratch::new("downtime");
    let cluster = Cluster::start(&ClusterOptions {
        settings: vec![
            "max_connections = 50".into(),
            "shared_buffers = 256MB".into(),
        ],
        ..ClusterOptions::default()
    })
    .expect("start a throwaway cluster");
    println!("zero downtime: {rows} rows, {clients} pgbench clients (9 updates : 1 insert), a {report_ms} ms reporting transaction every {} ms", report_ms + 300);
    let mut failures = Vec::new();
    for scenario in SCENARIOS
        .iter()
        .filter(|s| selected.split(',').any(|n| n.trim() == s.name))
    {
        failures.extend(measure(&cluster, &wesley, &scratch, load, scenario));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs `scenario` with `wesley apply` and as plain DDL and prints what they measured;
/// returns what went wrong with `wesley apply` (failed, lost writes, a failed check).
fn measure(
    cluster: &Cluster,
    wesley: &Path,
    scratch: &Scratch,
    load: Load,
    scenario: &Scenario,
) -> Vec<String> {
    println!("\n--- {}: {}\n", scenario.name, scenario.what);
    let plan = common::plan(
        wesley,
        scratch,
        scenario.old,
        scenario.new,
        &format!("{}.plan.json", scenario.name),
    );

    // The run's events (`--json`), each with the Unix time it arrived, to tell which
    // step the slowest writes waited for.
    let events: std::sync::Mutex<Vec<(f64, serde_json::Value)>> = Default::default();
    let apply = |db: &str| {
        let (ok, got) = common::apply(
            wesley,
            cluster,
            scratch,
            &plan,
            db,
            &["--allow", "breaks_clients"],
        );
        events.lock().unwrap().extend(got);
        ok
    };
    let naive = |db: &str| cluster.psql(db, scenario.naive).is_ok();

    let results = [
        (
            "wesley apply (defaults)",
            run(cluster, wesley, scratch, (scenario, "wesley"), load, &apply),
        ),
        (
            "plain DDL",
            run(cluster, wesley, scratch, (scenario, "naive"), load, &naive),
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
    if let Some((_, what)) = scenario.check {
        for (name, r) in &results {
            println!("{name}: {what}: {}", r.checked.as_deref().unwrap_or("?"));
        }
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
            common::steps_during(&events, start, end).join(", ")
        );
    }
    println!("\nlongest steps under wesley apply:");
    for (step, ms, retries) in common::longest_steps(&events).iter().take(5) {
        println!("  {ms:>8} ms  {step} ({retries} retries)");
    }
    let mut failures = Vec::new();
    if !w.migration_ok {
        failures.push(format!("{}: wesley apply failed under load", scenario.name));
    }
    if w.lost != 0 {
        failures.push(format!("{}: {} writes were lost", scenario.name, w.lost));
    }
    if let Some(c) = &w.checked {
        if c.split_whitespace().any(|n| n != "0") {
            failures.push(format!("{}: check after the run: {c}", scenario.name));
        }
    }
    failures
}
