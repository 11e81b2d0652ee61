//! Throwaway local PostgreSQL clusters.
//!
//! A [`Cluster`] is a private PostgreSQL instance living in a short temporary
//! directory (`/tmp/wesley-pg.XXXXXX`, or under [`ClusterOptions::parent`]). It listens only on a Unix socket inside
//! that directory (no TCP), trusts every local connection, and runs with
//! protection against *operating system* crashes switched off (`fsync`,
//! `full_page_writes`) because nothing in it is meant to survive a reboot. It
//! is used by `wesley rehearse` and by the end-to-end tests.
//!
//! `synchronous_commit` deliberately stays `on`: with `fsync = off` it costs
//! nothing measurable, and it keeps the guarantee that a committed transaction
//! survives a *server* crash, which [`Cluster::restart`] (an immediate
//! shutdown) exists to test. With `synchronous_commit = off` the commits of
//! the last ~200 ms are lost on such a restart.
//!
//! When the current process runs as root, `initdb`, `pg_ctl` and the server
//! run as the `postgres` system user (created if missing) through `runuser`,
//! since PostgreSQL refuses to run as root. Otherwise they run directly.
//!
//! Every cluster is shadowed by a small detached watchdog shell process that
//! polls the parent process; once the parent is gone it stops the server and
//! removes the directory. So a cluster never outlives its process, even when
//! that process is killed or never drops the [`Cluster`] (a `static`, say).

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};

/// Environment variable naming a directory that holds `initdb`, `pg_ctl` and `postgres`.
pub const BINDIR_ENV: &str = "WESLEY_PG_BINDIR";

/// The OS user the server runs as when the current process is root, and the
/// database superuser every connection uses.
const SUPERUSER: &str = "postgres";

/// Where the temporary directories go. Deliberately not `$TMPDIR`: the path
/// must stay short (Unix socket paths are limited to 107 bytes) and, when
/// running as root, traversable by the `postgres` user.
const TMP_PARENT: &str = "/tmp";

/// Programs a directory must contain to be usable as the server bin dir.
const SERVER_PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// libpq environment variables that would redirect or alter connections made
/// by [`Cluster::psql_command`]; they are removed from its environment.
const CONFLICTING_PG_ENV: [&str; 6] = [
    "PGHOSTADDR",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSSLMODE",
    "PGREQUIRESSL",
    "PGTARGETSESSIONATTRS",
];

/// How a [`Cluster`] is started.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Keep the directory (data, server log) after the cluster is stopped or
    /// dropped. The server itself is always stopped.
    pub keep: bool,
    /// Log every statement to the server log (`log_statement = 'all'`).
    pub log_statements: bool,
    /// Also listen on TCP at 127.0.0.1, on a free port ([`Cluster::port`]; the Unix
    /// socket keeps the same number).
    pub tcp: bool,
    /// More `postgresql.conf` lines (e.g. `ssl = on`, `lc_messages = 'de_DE.UTF-8'`).
    pub settings: Vec<String>,
    /// A `pg_hba.conf` to use instead of initdb's (which trusts every local connection).
    pub hba: Option<String>,
    /// Files written into the cluster directory before the server starts, as (name,
    /// contents), owned by the server's user and readable only by it (keys,
    /// certificates). Settings can name them by [`Cluster::socket_dir`]`/name`.
    pub files: Vec<(String, Vec<u8>)>,
    /// The directory the cluster's own directory is made in (data, socket, log), instead
    /// of `/tmp`; its path must stay short (Unix socket paths are limited to 107 bytes)
    /// and, when running as root, traversable by the `postgres` user. Benchmarks give
    /// `/dev/shm`, where a run's times spread less (no disk writes).
    pub parent: Option<PathBuf>,
}

/// Errors from starting, using or stopping a [`Cluster`].
#[derive(Debug)]
pub enum ClusterError {
    /// No PostgreSQL server binaries were found.
    NotFound {
        /// The places that were looked at, for the message.
        searched: Vec<String>,
    },
    /// An I/O operation (creating a directory, spawning a program, ...) failed.
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// A program ran but exited unsuccessfully.
    Command {
        /// Which program or step, e.g. `initdb` or `psql`.
        what: String,
        /// How it exited.
        status: ExitStatus,
        /// Its standard error (plus, for server start-up failures, the server log).
        stderr: String,
    },
    /// A database name PostgreSQL cannot accept.
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::NotFound { searched } => {
                write!(
                    f,
                    "PostgreSQL server programs (initdb, pg_ctl, postgres) not found; \
                     install them with `apt-get install postgresql-15` (Debian/Ubuntu) \
                     or point {BINDIR_ENV} at the directory that contains them"
                )?;
                if !searched.is_empty() {
                    write!(f, " (looked in: {})", searched.join(", "))?;
                }
                Ok(())
            }
            ClusterError::Io { context, source } => write!(f, "{context}: {source}"),
            ClusterError::Command {
                what,
                status,
                stderr,
            } => {
                let stderr = stderr.trim_end();
                if stderr.is_empty() {
                    write!(f, "{what} failed ({status})")
                } else {
                    write!(f, "{what} failed ({status}):\n{stderr}")
                }
            }
            ClusterError::InvalidName { name, reason } => {
                write!(f, "invalid database name {name:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for ClusterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClusterError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// A running throwaway PostgreSQL cluster. Stopped (and its directory removed,
/// unless [`ClusterOptions::keep`]) on [`Cluster::stop`] or drop.
#[derive(Debug)]
pub struct Cluster {
    /// `/tmp/wesley-pg.XXXXXX` (or under [`ClusterOptions::parent`]): holds `data/`,
    /// `server.log` and the socket.
    root: PathBuf,
    data_dir: PathBuf,
    bin_dir: PathBuf,
    /// The psql client: the bin dir's, or another one ([`find_psql`]).
    psql: PathBuf,
    port: u16,
    /// `Some("postgres")` when server programs run through `runuser`.
    run_as: Option<String>,
    keep: bool,
    watchdog: Option<Child>,
    stopped: bool,
}

impl Cluster {
    /// Creates a new cluster with `initdb` and starts it. Takes about a second.
    pub fn start(opts: &ClusterOptions) -> Result<Cluster, ClusterError> {
        let bin_dir = find_bin_dir()?;
        let psql = find_psql(&bin_dir);
        let run_as = if is_root() {
            ensure_system_user(SUPERUSER)?;
            Some(SUPERUSER.to_owned())
        } else {
            None
        };
        // Absolute: the server's programs run from inside the directory.
        let parent = std::path::absolute(opts.parent.as_deref().unwrap_or(Path::new(TMP_PARENT)))
            .map_err(io_err(
            "resolving the cluster directory's parent".to_string(),
        ))?;
        let root = make_temp_dir(&parent)?;
        let mut cluster = Cluster {
            data_dir: root.join("data"),
            root,
            bin_dir,
            psql,
            port: if opts.tcp {
                free_tcp_port()?
            } else {
                pick_port()
            },
            run_as,
            keep: opts.keep,
            watchdog: None,
            stopped: false,
        };
        // From here on, dropping `cluster` on an error path cleans up.
        if let Some(user) = &cluster.run_as {
            let mut chown = Command::new(system_program("chown"));
            chown.arg(format!("{user}:")).arg(&cluster.root);
            run(&mut chown, "chown of the cluster directory")?;
        }
        cluster.watchdog = Some(cluster.spawn_watchdog()?);
        cluster.initdb()?;
        cluster.write_config(opts)?;
        for (name, contents) in &opts.files {
            cluster.install_file(name, contents)?;
        }
        if let Some(hba) = &opts.hba {
            let path = cluster.data_dir.join("pg_hba.conf");
            fs::write(&path, hba).map_err(io_err(format!("writing {}", path.display())))?;
        }
        cluster.pg_ctl_start("pg_ctl start", &["start"])?;
        Ok(cluster)
    }

    /// The directory holding the server's Unix socket (the `host` to connect to).
    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    /// The directory with the PostgreSQL programs this cluster uses.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The psql client [`Cluster::psql_command`] runs (see [`find_psql`]).
    pub fn psql_program(&self) -> &Path {
        &self.psql
    }

    /// The data directory (`PGDATA`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log file.
    pub fn log_file(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// The port number: it names the socket file and, with [`ClusterOptions::tcp`], the
    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `postgresql://` URL for `dbname`, with the socket directory as the
    /// percent-encoded host, e.g. `postgresql://postgres@%2Ftmp%2Fwesley-pg.ab12cd:41234/app`.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@{}:{}/{}",
            percent_encode(&self.root.to_string_lossy()),
            self.port,
            percent_encode(dbname)
        )
    }

    /// A libpq key/value connection string for `dbname`,
    /// e.g. `host=/tmp/wesley-pg.ab12cd port=41234 user=postgres dbname=app`.
    pub fn conninfo(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user={SUPERUSER} dbname={}",
            conninfo_value(&self.root.to_string_lossy()),
            self.port,
            conninfo_value(dbname)
        )
    }

    /// `CREATE DATABASE "name" TEMPLATE template0`.
    pub fn create_database(&self, name: &str) -> Result<(), ClusterError> {
        validate_db_name(name)?;
        let sql = format!(
            "CREATE DATABASE {} TEMPLATE template0;\n",
            wesley_planner::sql::ident(name)
        );
        self.psql("postgres", &sql).map(drop)
    }

    /// Runs `sql` (fed on standard input) with
    /// `psql -X -v ON_ERROR_STOP=1 -q -At` against `dbname` and returns its
    /// standard output. Stops at the first error, which is returned with
    /// psql's standard error.
    pub fn psql(&self, dbname: &str, sql: &str) -> Result<String, ClusterError> {
        let mut cmd = self.psql_command(dbname);
        cmd.args(["-v", "ON_ERROR_STOP=1", "-q", "-A", "-t"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(io_err(format!(
            "running {}",
            cmd.get_program().to_string_lossy()
        )))?;
        let stdin = child.stdin.take();
        // Feed stdin from a second thread so a large input cannot deadlock
        // against a large output.
        let output = std::thread::scope(|scope| {
            if let Some(mut stdin) = stdin {
                scope.spawn(move || {
                    // A write error means psql exited early; its status and
                    // stderr say why.
                    let _ = stdin.write_all(sql.as_bytes());
                });
            }
            child.wait_with_output()
        })
        .map_err(io_err("waiting for psql"))?;
        if !output.status.success() {
            return Err(command_error("psql", &output));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A `psql -X` command for `dbname` with `PGHOST`, `PGPORT`, `PGUSER` and
    /// `PGDATABASE` set (and conflicting libpq variables removed), for callers
    /// that add their own arguments or stream input and output.
    pub fn psql_command(&self, dbname: &str) -> Command {
        let mut cmd = Command::new(&self.psql);
        for var in CONFLICTING_PG_ENV {
            cmd.env_remove(var);
        }
        cmd.env("PGHOST", &self.root)
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", SUPERUSER)
            .env("PGDATABASE", dbname)
            .arg("-X");
        cmd
    }

    /// Restarts the server with an immediate (crash-like) shutdown; the
    /// server runs crash recovery on the way back up.
    pub fn restart(&self) -> Result<(), ClusterError> {
        self.pg_ctl_start("pg_ctl restart", &["-m", "immediate", "restart"])
    }

    /// Stops the server (immediate mode) and removes the directory unless
    /// [`ClusterOptions::keep`] was set.
    pub fn stop(mut self) -> Result<(), ClusterError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), ClusterError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let mut result = Ok(());
        if self.data_dir.join("postmaster.pid").exists() {
            let mut cmd = self.server_command("pg_ctl");
            cmd.arg("-D")
                .arg(&self.data_dir)
                .args(["-m", "immediate", "-w", "-t", "60", "stop"]);
            result = run(&mut cmd, "pg_ctl stop").map(drop);
        }
        if !self.keep {
            if let Err(e) = fs::remove_dir_all(&self.root) {
                if e.kind() != io::ErrorKind::NotFound && result.is_ok() {
                    result = Err(ClusterError::Io {
                        context: format!("removing {}", self.root.display()),
                        source: e,
                    });
                }
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        result
    }

    /// A command running a server-side program from the bin dir, as the
    /// `postgres` user when we are root.
    fn server_command(&self, program: &str) -> Command {
        let exe = self.bin_dir.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut cmd = Command::new(system_program("runuser"));
                cmd.arg("-u").arg(user).arg("--").arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        // The caller's working directory may not be readable by `postgres`.
        cmd.current_dir(&self.root).env_remove("PGDATA");
        cmd
    }

    fn initdb(&self) -> Result<(), ClusterError> {
        let attempt = |locale: &str| {
            let mut cmd = self.server_command("initdb");
            cmd.arg("-D")
                .arg(&self.data_dir)
                .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8"])
                .arg(format!("--locale={locale}"))
                .args(["--no-sync", "--no-instructions"]);
            run(&mut cmd, "initdb")
        };
        match attempt("C.UTF-8") {
            Ok(_) => Ok(()),
            // Platforms without a C.UTF-8 locale: fall back to plain C.
            Err(ClusterError::Command { stderr, .. })
                if stderr.contains("locale") && !self.data_dir.join("PG_VERSION").exists() =>
            {
                let _ = fs::remove_dir_all(&self.data_dir);
                attempt("C").map(drop)
            }
            Err(e) => Err(e),
        }
    }

    fn write_config(&self, opts: &ClusterOptions) -> Result<(), ClusterError> {
        let root = self.root.to_string_lossy().replace('\'', "''");
        let listen = if opts.tcp { "127.0.0.1" } else { "" };
        let mut conf = format!(
            "\n# Throwaway cluster settings added by wesley\n\
             listen_addresses = '{listen}'\n\
             unix_socket_directories = '{root}'\n\
             port = {port}\n\
             fsync = off\n\
             synchronous_commit = on\n\
             full_page_writes = off\n",
            port = self.port
        );
        if opts.log_statements {
            conf.push_str("log_statement = 'all'\n");
        }
        for line in &opts.settings {
            conf.push_str(line);
            conf.push('\n');
        }
        let path = self.data_dir.join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .map_err(io_err(format!("writing {}", path.display())))
    }

    /// Writes `contents` to `name` in the cluster directory, mode 0600, owned by the
    /// server's user.
    pub fn install_file(&self, name: &str, contents: &[u8]) -> Result<PathBuf, ClusterError> {
        let path = self.root.join(name);
        fs::write(&path, contents).map_err(io_err(format!("writing {}", path.display())))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .map_err(io_err(format!("setting permissions of {}", path.display())))?;
        if let Some(user) = &self.run_as {
            let mut chown = Command::new(system_program("chown"));
            chown.arg(format!("{user}:")).arg(&path);
            run(&mut chown, "chown of a cluster file")?;
        }
        Ok(path)
    }

    /// A command that runs `program` as the server's user (through `runuser` when the
    /// current process is root), e.g. a connection pooler in front of the cluster.
    pub fn command_as_server_user(&self, program: &Path) -> Command {
        match &self.run_as {
            Some(user) => {
                let mut cmd = Command::new(system_program("runuser"));
                cmd.arg("-u").arg(user).arg("--").arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }

    /// Reloads the server's configuration (`pg_hba.conf` included).
    pub fn reload(&self) -> Result<(), ClusterError> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D").arg(&self.data_dir).arg("reload");
        run(&mut cmd, "pg_ctl reload").map(drop)
    }

    /// Runs `pg_ctl -w <args>`, attaching the tail of the server log on failure.
    fn pg_ctl_start(&self, what: &str, args: &[&str]) -> Result<(), ClusterError> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60"])
            .args(args);
        match run(&mut cmd, what) {
            Ok(_) => Ok(()),
            Err(ClusterError::Command {
                what,
                status,
                mut stderr,
            }) => {
                if let Ok(log) = fs::read_to_string(self.log_file()) {
                    let lines: Vec<&str> = log.lines().collect();
                    let tail = &lines[lines.len().saturating_sub(30)..];
                    stderr.push_str(&format!(
                        "\n--- {} (last {} lines) ---\n{}",
                        self.log_file().display(),
                        tail.len(),
                        tail.join("\n")
                    ));
                }
                Err(ClusterError::Command {
                    what,
                    status,
                    stderr,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Spawns the detached watchdog: `sh` polls this process once a second
    /// and, once it is gone, stops the server and removes the directory.
    /// It also exits by itself once the directory has been removed.
    fn spawn_watchdog(&self) -> Result<Child, ClusterError> {
        const SCRIPT: &str = r#"
trap '' HUP INT
parent=$1 pg_ctl=$2 data=$3 root=$4 keep=$5
shift 5
while kill -0 "$parent" 2>/dev/null && [ -d "$root" ]; do sleep 1; done
[ -d "$root" ] || exit 0
if [ -f "$data/postmaster.pid" ]; then
  "$@" "$pg_ctl" -D "$data" -m immediate -w -t 60 stop >/dev/null 2>&1
fi
[ "$keep" = 1 ] || rm -rf "$root"
"#;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("wesley-pg-watchdog")
            .arg(std::process::id().to_string())
            .arg(self.bin_dir.join("pg_ctl"))
            .arg(&self.data_dir)
            .arg(&self.root)
            .arg(if self.keep { "1" } else { "0" });
        if let Some(user) = &self.run_as {
            cmd.arg(system_program("runuser"))
                .arg("-u")
                .arg(user)
                .arg("--");
        }
        cmd.current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Own process group: a Ctrl-C aimed at the test run must not kill
            // the watchdog before it has cleaned up.
            .process_group(0);
        cmd.spawn().map_err(io_err("spawning the cluster watchdog"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Finds the directory holding `initdb`, `pg_ctl` and `postgres`:
/// `$WESLEY_PG_BINDIR`, then `pg_config --bindir`, then the highest
/// `/usr/lib/postgresql/<version>/bin`, then `$PATH` (following symlinks, so
/// `/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb` resolves to
/// the real directory).
pub fn find_bin_dir() -> Result<PathBuf, ClusterError> {
    let mut searched = Vec::new();

    if let Some(dir) = std::env::var_os(BINDIR_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if let Some(found) = usable_bin_dir(&dir) {
            return Ok(found);
        }
        // An explicit setting that does not work is an error, not a hint.
        return Err(ClusterError::NotFound {
            searched: vec![format!("{BINDIR_ENV}={}", dir.display())],
        });
    }

    searched.push("pg_config --bindir".to_owned());
    if let Ok(out) = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if let Some(found) = usable_bin_dir(&dir) {
                return Ok(found);
            }
        }
    }

    searched.push(format!("{DEBIAN_ROOT}/*/bin"));
    for dir in debian_bin_dirs().iter().rev() {
        if let Some(found) = usable_bin_dir(dir) {
            return Ok(found);
        }
    }

    searched.push("$PATH".to_owned());
    if let Ok(initdb) = which::which("initdb") {
        // Prefer the directory the program really lives in.
        for dir in [fs::canonicalize(&initdb).ok(), Some(initdb)]
            .into_iter()
            .flatten()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
        {
            if let Some(found) = usable_bin_dir(&dir) {
                return Ok(found);
            }
        }
    }

    Err(ClusterError::NotFound { searched })
}

/// The psql client to use with the server programs in `bin_dir`: the one in `bin_dir`
/// when there is one, else the newest Debian client (`/usr/lib/postgresql/<version>/bin`),
/// else `psql` from `$PATH`. Server-only builds (such as the ones
/// `scripts/install-pg-versions` installs) ship no psql; psql talks to servers of other
/// major versions, older and newer.
pub fn find_psql(bin_dir: &Path) -> PathBuf {
    std::iter::once(bin_dir.to_path_buf())
        .chain(debian_bin_dirs().into_iter().rev())
        .map(|dir| dir.join("psql"))
        .find(|psql| psql.is_file())
        .unwrap_or_else(|| PathBuf::from("psql"))
}

/// Where Debian's packages install each PostgreSQL version's programs.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// `/usr/lib/postgresql/<version>/bin` for every version directory there, oldest first.
fn debian_bin_dirs() -> Vec<PathBuf> {
    let mut versions: Vec<(Vec<u64>, PathBuf)> = fs::read_dir(DEBIAN_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let key: Option<Vec<u64>> = name.split('.').map(|p| p.parse().ok()).collect();
            Some((key?, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// `dir` (canonicalized) if it contains all of [`SERVER_PROGRAMS`].
fn usable_bin_dir(dir: &Path) -> Option<PathBuf> {
    if SERVER_PROGRAMS.iter().all(|p| dir.join(p).is_file()) {
        Some(fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
    } else {
        None
    }
}

fn is_root() -> bool {
    // /proc/self is owned by the effective uid.
    if let Ok(meta) = fs::metadata("/proc/self") {
        return meta.uid() == 0;
    }
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn user_exists(user: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(user)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn ensure_system_user(user: &str) -> Result<(), ClusterError> {
    if user_exists(user) {
        return Ok(());
    }
    let mut cmd = Command::new(system_program("useradd"));
    cmd.args(["--system", "--no-create-home", user]);
    match run(&mut cmd, "useradd") {
        Ok(_) => Ok(()),
        // Another process may have created it in the meantime.
        Err(_) if user_exists(user) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Full path of an administration program, which may live in an `sbin`
/// directory missing from `$PATH`.
fn system_program(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let path = Path::new(dir).join(name);
        if path.is_file() {
            return path;
        }
    }
    PathBuf::from(name)
}

/// A port number in 20000..60000. Nothing listens on TCP; the number only
/// names the socket file in the private socket directory.
fn pick_port() -> u16 {
    fastrand::u16(20000..60000)
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
fn free_tcp_port() -> Result<u16, ClusterError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(io_err("finding a free TCP port"))
}

/// Creates `<parent>/wesley-pg.XXXXXX` with mode 0700 (tempfile), kept after this
/// process: the cluster's watchdog removes it.
fn make_temp_dir(parent: &Path) -> Result<PathBuf, ClusterError> {
    tempfile::Builder::new()
        .prefix("wesley-pg.")
        .rand_bytes(6)
        .tempdir_in(parent)
        .map(|d| d.keep())
        .map_err(io_err(format!(
            "creating a temporary directory in {}",
            parent.display()
        )))
}

/// Runs `cmd` to completion with stdin closed; non-zero exit is an error
/// carrying stderr (and stdout, where some programs report).
fn run(cmd: &mut Command, what: &str) -> Result<Output, ClusterError> {
    let output = cmd.stdin(Stdio::null()).output().map_err(io_err(format!(
        "running {what} ({})",
        cmd.get_program().to_string_lossy()
    )))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(command_error(what, &output))
    }
}

fn command_error(what: &str, output: &Output) -> ClusterError {
    let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if stderr.trim().is_empty() {
        stderr = String::from_utf8_lossy(&output.stdout).into_owned();
    }
    ClusterError::Command {
        what: what.to_owned(),
        status: output.status,
        stderr,
    }
}

fn validate_db_name(name: &str) -> Result<(), ClusterError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.contains('\0') {
        "contains a NUL byte"
    } else if name.len() > 63 {
        "longer than 63 bytes"
    } else {
        return Ok(());
    };
    Err(ClusterError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, RESERVED).to_string()
}

/// A conninfo value, single-quoted (with `\` escapes) only when needed.
fn conninfo_value(s: &str) -> String {
    if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_of_socket_dir() {
        assert_eq!(
            percent_encode("/tmp/wesley-pg.ab12cd"),
            "%2Ftmp%2Fwesley-pg.ab12cd"
        );
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn conninfo_quoting() {
        assert_eq!(conninfo_value("app_1"), "app_1");
        assert_eq!(conninfo_value("my db"), "'my db'");
        assert_eq!(conninfo_value("it's"), r"'it\'s'");
        assert_eq!(conninfo_value(""), "''");
    }

    #[test]
    fn db_name_validation() {
        assert!(validate_db_name("ok").is_ok());
        assert!(validate_db_name("").is_err());
        assert!(validate_db_name("a\0b").is_err());
        assert!(validate_db_name(&"x".repeat(64)).is_err());
    }

    #[test]
    fn psql_comes_from_the_bin_dir_when_it_has_one() {
        let dir = std::env::temp_dir().join(format!("wesley-psql-test-{}", fastrand::u64(..)));
        fs::create_dir(&dir).unwrap();
        // A server-only bin dir: psql comes from elsewhere.
        let other = find_psql(&dir);
        assert!(!other.starts_with(&dir), "{}", other.display());
        assert!(
            other == Path::new("psql") || other.is_file(),
            "{}",
            other.display()
        );
        fs::write(dir.join("psql"), "").unwrap();
        assert_eq!(find_psql(&dir), dir.join("psql"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn not_found_message_says_how_to_install() {
        let msg = ClusterError::NotFound { searched: vec![] }.to_string();
        assert!(msg.contains("apt-get install postgresql-15"), "{msg}");
        assert!(msg.contains(BINDIR_ENV), "{msg}");
    }
}
