//! Helpers for Wesley's end-to-end tests.
//!
//! All tests in one test binary share a single throwaway PostgreSQL cluster
//! ([`cluster`]); each test gets its own database from [`fresh_db`]. The
//! cluster is never dropped: its watchdog stops it and removes its directory
//! about a second after the test process exits.
//!
//! Set `WESLEY_KEEP_TEST_CLUSTER=1` to keep the cluster directory (data and
//! server log, with every statement logged) for inspection; its path is printed
//! to stderr.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use wesley::cluster::{Cluster, ClusterOptions};

/// Environment variable that keeps the shared test cluster's directory.
pub const KEEP_ENV: &str = "WESLEY_KEEP_TEST_CLUSTER";

/// The process-wide shared cluster, started on first use.
///
/// Panics with the start-up error (e.g. how to install PostgreSQL) if the
/// cluster cannot be started; later calls panic with the same message without
/// trying again.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    let result = CLUSTER.get_or_init(|| {
        let keep = std::env::var_os(KEEP_ENV).is_some_and(|v| !v.is_empty() && v != "0");
        let opts = ClusterOptions {
            keep,
            log_statements: keep,
            ..ClusterOptions::default()
        };
        let cluster = Cluster::start(&opts).map_err(|e| e.to_string())?;
        if keep {
            eprintln!(
                "test cluster kept in {} (log: {})",
                cluster.socket_dir().display(),
                cluster.log_file().display()
            );
        }
        Ok(cluster)
    });
    match result {
        Ok(cluster) => cluster,
        Err(e) => panic!("could not start the throwaway PostgreSQL test cluster: {e}"),
    }
}

/// A database of its own in the shared cluster (or in another of the test's own).
#[derive(Debug, Clone)]
pub struct TestDb {
    /// The cluster it lives in.
    pub cluster: &'static Cluster,
    /// The database name.
    pub name: String,
    /// `postgresql://` URL (socket directory as percent-encoded host).
    pub url: String,
    /// libpq key/value connection string.
    pub conninfo: String,
}

impl TestDb {
    /// Runs `f` on a single-threaded runtime with this database's settings (Wesley's own
    /// `ConnInfo`) and a client connected through them; its output is `f`'s.
    pub fn with_client<T, F, Fut>(&self, f: F) -> T
    where
        F: FnOnce(wesley::apply::connect::ConnInfo, tokio_postgres::Client) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let conn = wesley::apply::connect::ConnInfo::resolve(Some(&self.url)).expect("conn");
            let (client, _) = conn.connect_pinned(None).await.expect("connect");
            f(conn, client).await
        })
    }

    /// Runs `sql` through psql (`ON_ERROR_STOP`, unaligned tuples-only
    /// output) and returns its stdout; panics with psql's stderr on failure.
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql)
            .unwrap_or_else(|e| panic!("psql on database {} failed:\n{e}\nSQL:\n{sql}", self.name))
    }

    /// Like [`TestDb::psql`], but returns psql's error output as `Err`.
    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        self.cluster
            .psql(&self.name, sql)
            .map_err(|e| e.to_string())
    }

    /// A psql command for this database for callers that stream input/output
    /// (see [`Cluster::psql_command`]).
    pub fn psql_command(&self) -> Command {
        self.cluster.psql_command(&self.name)
    }

    /// The server's major version (14, 15, ...).
    pub fn server_major(&self) -> u32 {
        let num: u32 = self
            .psql("SHOW server_version_num;")
            .trim()
            .parse()
            .expect("server_version_num");
        num / 10_000
    }

    /// Whether this server is older than the newest of `schemas` needs
    /// (`CanonSchema::min_server_major`: PostgreSQL 14 has no `NULLS NOT DISTINCT`). When it
    /// is, checks that it refuses such a schema clearly: its DDL, run in one transaction,
    /// fails with PostgreSQL's syntax error at `NULLS`. The caller then has nothing more to
    /// check on this server; a test that passes this way has still checked something.
    pub fn refuses_as_too_old(&self, schemas: &[&wesley_planner::model::Schema]) -> bool {
        use wesley_planner::{canon, ddl};
        let major = self.server_major();
        let Some(needy) = schemas
            .iter()
            .find(|s| canon::canonical(s).min_server_major() > major)
        else {
            return false;
        };
        let probe = fresh_db_in(self.cluster, "too_old");
        let sql = format!("BEGIN;\n{}COMMIT;\n", ddl::generate(needy));
        match probe.try_psql(&sql) {
            Ok(_) => panic!("PostgreSQL {major} accepted DDL that needs a newer server:\n{sql}"),
            Err(e) => assert!(
                e.contains("syntax error at or near \"NULLS\""),
                "PostgreSQL {major} should refuse NULLS NOT DISTINCT with a syntax error, got: {e}"
            ),
        }
        true
    }
}

/// Creates a uniquely named database `<prefix>_<pid>_<n>` in the shared cluster.
/// `prefix` is lower-cased and anything but ASCII letters, digits and `_`
/// becomes `_`.
pub fn fresh_db(prefix: &str) -> TestDb {
    fresh_db_in(cluster(), prefix)
}

/// Like [`fresh_db`], in a cluster of the test's own.
pub fn fresh_db_in(cluster: &'static Cluster, prefix: &str) -> TestDb {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("_{}_{n}", std::process::id());
    let mut clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        clean.push_str("db");
    }
    // PostgreSQL names are at most 63 bytes; the prefix is ASCII by now.
    clean.truncate(63 - suffix.len());
    let name = format!("{clean}{suffix}");

    if let Err(e) = cluster.create_database(&name) {
        panic!("could not create test database {name}: {e}");
    }
    TestDb {
        cluster,
        url: cluster.url(&name),
        conninfo: cluster.conninfo(&name),
        name,
    }
}

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The cargo target directory: `$CARGO_TARGET_DIR` (relative paths are taken
/// from the workspace root) or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// Path of the `wesley` binary (debug profile) in [`target_dir`].
///
/// The first call in a process runs `cargo build --quiet -p wesley --bin
/// wesley` (a no-op taking a fraction of a second when it is up to date), so
/// `cargo test -p wesley-e2e` never runs a stale or missing binary. Set
/// `WESLEY_BIN` to use a prebuilt binary instead.
pub fn wesley_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("WESLEY_BIN").filter(|b| !b.is_empty()) {
            return PathBuf::from(bin);
        }
        let target = target_dir();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "wesley", "--bin", "wesley"])
            .arg("--target-dir")
            .arg(&target)
            .current_dir(workspace_root())
            .status()
            .unwrap_or_else(|e| panic!("could not run cargo build -p wesley: {e}"));
        assert!(status.success(), "cargo build -p wesley failed ({status})");
        let bin = target.join("debug").join("wesley");
        assert!(
            bin.is_file(),
            "cargo build -p wesley succeeded but {} does not exist",
            bin.display()
        );
        bin
    })
    .clone()
}

pub use wesley::seed;

pub mod exec;
pub mod pki;
pub mod pooler;
