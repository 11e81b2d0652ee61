//! PgBouncer in front of a throwaway cluster, for the tests through a connection pooler.
//! It listens on a free TCP port on 127.0.0.1 and reaches the cluster over its Unix
//! socket; it runs as the server's user (PgBouncer refuses to run as root). It is stopped
//! when dropped, and a small watchdog stops it should the test process die first.

use crate::TestDb;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wesley::cluster::Cluster;

/// Where Debian installs it.
pub fn pgbouncer_program() -> PathBuf {
    for p in ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!("pgbouncer is not installed: run scripts/install-deps (apt-get install pgbouncer)")
}

pub struct Pgbouncer {
    child: Child,
    pidfile: PathBuf,
    pub port: u16,
    pub log: PathBuf,
}

impl Pgbouncer {
    /// Starts PgBouncer with `pool_mode` and more `[pgbouncer]` settings.
    pub fn start(cluster: &Cluster, name: &str, pool_mode: &str, extra: &str) -> Pgbouncer {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let dir = cluster.socket_dir();
        let log = dir.join(format!("{name}.log"));
        let pidfile = dir.join(format!("{name}.pid"));
        let userlist = cluster
            .install_file(&format!("{name}.users"), b"\"postgres\" \"\"\n")
            .expect("userlist");
        let ini = format!(
            "[databases]\n* = host={} port={}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {}\npool_mode = {pool_mode}\ndefault_pool_size = 20\nmax_client_conn = 200\n\
             logfile = {}\npidfile = {}\n{extra}\n",
            dir.display(),
            cluster.port(),
            userlist.display(),
            log.display(),
            pidfile.display()
        );
        let conf = cluster
            .install_file(&format!("{name}.ini"), ini.as_bytes())
            .expect("pgbouncer.ini");
        let child = cluster
            .command_as_server_user(&pgbouncer_program())
            .arg(&conf)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || !pidfile.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "pgbouncer did not start; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let b = Pgbouncer {
            child,
            pidfile,
            port,
            log,
        };
        b.watchdog();
        b
    }

    fn pid(&self) -> Option<String> {
        std::fs::read_to_string(&self.pidfile)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
    }

    /// Stops PgBouncer (by its pid) once this process has gone.
    fn watchdog(&self) {
        let Some(pid) = self.pid() else { return };
        let _ = Command::new("/bin/sh")
            .arg("-c")
            .arg("while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 1; done; kill \"$2\" 2>/dev/null")
            .arg("wesley-pgbouncer-watchdog")
            .arg(std::process::id().to_string())
            .arg(pid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// A URL for `db` through PgBouncer.
    pub fn url(&self, db: &TestDb) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{}", self.port, db.name)
    }
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").arg(&pid).status();
        }
        let _ = self.child.wait();
    }
}
