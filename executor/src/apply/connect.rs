//! Connection settings from `--database-url`, `DATABASE_URL` or the standard `PG*`
//! variables, with libpq's meaning, for both of Wesley's connections:
//!
//! - psql child processes get every setting in their environment (`PGHOST`,
//!   `PGSSLMODE`, `PGSSLROOTCERT`, `PGOPTIONS`, `PGCONNECT_TIMEOUT`, ...; a service from
//!   pg_service.conf already resolved), so libpq itself applies them; the few keywords without a variable (`keepalives*`, `tcp_user_timeout`) go in
//!   a `-d` connection string, which holds nothing secret.
//! - The Rust connection (tokio-postgres) gets the same settings, TLS through OpenSSL
//!   with libpq's rules (`tls.rs`), and libpq's connection loop: every host in turn,
//!   `sslmode` fallbacks (`allow`: plain, then TLS; `prefer`: TLS, then plain),
//!   `connect_timeout` per host and `target_session_attrs`.
//!
//! Once a host has answered, a run keeps to it ([`ConnInfo::pinned`]): every later
//! connection of the run, psql or Rust, goes to that same server.
//!
//! The password is kept out of every message, log line and process argument list (psql
//! receives it in `PGPASSWORD`).

use super::conninfo::{self, Env, Params, ProcessEnv};
use super::tls::{self, SslMode};
use crate::error::{DbError, SettingsError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::config::{ChannelBinding, SslNegotiation};
use tokio_postgres::Config;

/// One server to try: a host name or socket directory, an optional numeric address,
/// and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `host`: a name, an address, or a Unix-socket directory (starts with `/`).
    pub host: String,
    /// `hostaddr`: the numeric address to connect to (no DNS lookup).
    pub hostaddr: Option<String>,
    /// `port` (default 5432).
    pub port: u16,
}

impl Target {
    fn is_socket(&self) -> bool {
        self.hostaddr.is_none() && self.host.starts_with('/')
    }

    fn display_host(&self) -> String {
        let h = if self.host.is_empty() {
            self.hostaddr.clone().unwrap_or_default()
        } else {
            self.host.clone()
        };
        if h.starts_with('/') {
            h.replace('/', "%2F")
        } else if h.contains(':') {
            format!("[{h}]")
        } else {
            h
        }
    }
}

/// `target_session_attrs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SessionAttrs {
    Any,
    ReadWrite,
    ReadOnly,
    Primary,
    Standby,
    PreferStandby,
}

/// Where and how to connect.
#[derive(Clone)]
pub struct ConnInfo {
    /// Every libpq parameter given (URL or string, then environment), without the password.
    params: Params,
    password: Option<String>,
    /// The servers to try, in order (shuffled with `load_balance_hosts=random`).
    pub targets: Vec<Target>,
    /// `user` (default: the operating-system user, as in libpq).
    pub user: String,
    /// `dbname` (default: the user name).
    pub dbname: String,
    tls: tls::Settings,
    home: Option<PathBuf>,
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnInfo({self})")
    }
}

/// The connection as a URL without the password.
impl fmt::Display for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts: Vec<String> = self
            .targets
            .iter()
            .map(|t| format!("{}:{}", t.display_host(), t.port))
            .collect();
        write!(
            f,
            "postgresql://{}@{}/{}",
            self.user,
            hosts.join(","),
            self.dbname
        )
    }
}

fn os_user(env: &dyn Env) -> String {
    env.var("USER")
        .or_else(|| env.var("LOGNAME"))
        .unwrap_or_else(|| "postgres".into())
}

fn default_host() -> String {
    if Path::new(conninfo::DEFAULT_SOCKET_DIR).exists() {
        conninfo::DEFAULT_SOCKET_DIR.into()
    } else {
        "localhost".into()
    }
}

/// Keywords Wesley accepts but cannot honour for its own connection: refused with the
/// reason rather than silently ignored.
fn unsupported(p: &Params) -> Result<(), SettingsError> {
    let set = |k: &str| p.get(k).is_some_and(|v| !v.is_empty());
    if set("sslpassword") {
        return Err("sslpassword (an encrypted client key) is not supported: psql could only receive it on its command line; use an unencrypted key file readable only by the deploy user".into());
    }
    if set("requirepeer") {
        return Err("requirepeer is not supported by Wesley's own connection".into());
    }
    if set("require_auth") {
        return Err("require_auth is not supported by Wesley's own connection".into());
    }
    if p.get("replication")
        .is_some_and(|v| !matches!(v.as_str(), "" | "0" | "false" | "off" | "no"))
    {
        return Err("replication connections cannot apply migrations".into());
    }
    if p.get("gssencmode").is_some_and(|v| v == "require") {
        return Err("gssencmode=require is not supported by Wesley's own connection (no GSSAPI encryption); use TLS".into());
    }
    Ok(())
}

fn split_list(v: Option<&String>) -> Vec<String> {
    match v {
        None => vec![],
        Some(v) => v.split(',').map(|s| s.trim().to_string()).collect(),
    }
}

impl ConnInfo {
    /// From an explicit URL or `key=value` string, else `DATABASE_URL`; the `PG*`
    /// variables fill in whatever the string leaves out, as for libpq.
    pub fn resolve(url: Option<&str>) -> Result<ConnInfo, SettingsError> {
        let url = url
            .map(str::to_string)
            .or_else(|| ProcessEnv.var("DATABASE_URL"));
        let given = match url {
            Some(u) => conninfo::parse(&u)?,
            None => Params::new(),
        };
        ConnInfo::from_params(given, &ProcessEnv)
    }

    /// A URL or `key=value` string, completed from the environment.
    pub fn parse(url: &str) -> Result<ConnInfo, SettingsError> {
        ConnInfo::from_params(conninfo::parse(url)?, &ProcessEnv)
    }

    /// Settings from parsed parameters completed from `env` (`PG*` variables, the
    /// passfile, the service file), as libpq does.
    ///
    /// # Errors
    /// A parameter Wesley does not support (`sslpassword`, `requirepeer`,
    /// `require_auth`, `replication`), or an invalid value.
    pub fn from_params(given: Params, env: &dyn Env) -> Result<ConnInfo, SettingsError> {
        let mut params = conninfo::with_env(given, env)?;
        unsupported(&params)?;
        let password = params.remove("password");
        let user = params
            .get("user")
            .filter(|u| !u.is_empty())
            .cloned()
            .unwrap_or_else(|| os_user(env));
        let dbname = params
            .get("dbname")
            .filter(|d| !d.is_empty())
            .cloned()
            .unwrap_or_else(|| user.clone());
        let hosts = split_list(params.get("host"));
        let addrs = split_list(params.get("hostaddr"));
        let ports = split_list(params.get("port"));
        let n = hosts.len().max(addrs.len()).max(1);
        if !hosts.is_empty() && !addrs.is_empty() && hosts.len() != addrs.len() {
            return Err(SettingsError(format!(
                "could not match {} host names to {} hostaddr values",
                hosts.len(),
                addrs.len()
            )));
        }
        if ports.len() > 1 && ports.len() != n {
            return Err(SettingsError(format!(
                "could not match {} port numbers to {n} hosts",
                ports.len()
            )));
        }
        let mut targets = Vec::new();
        for i in 0..n {
            let hostaddr = addrs.get(i).filter(|a| !a.is_empty()).cloned();
            if let Some(a) = &hostaddr {
                a.parse::<std::net::IpAddr>()
                    .map_err(|_| format!("could not parse network address \"{a}\" (hostaddr)"))?;
            }
            let host = match hosts.get(i).filter(|h| !h.is_empty()) {
                Some(h) => h.clone(),
                None if hostaddr.is_some() => String::new(),
                None => default_host(),
            };
            let port = match ports.get(i).or(ports.first()).filter(|p| !p.is_empty()) {
                Some(p) => p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("invalid port number: \"{p}\""))?,
                None => 5432,
            };
            targets.push(Target {
                host,
                hostaddr,
                port,
            });
        }
        let home = conninfo::home(env);
        let tls = tls::Settings::from_params(&params, home.as_deref())?;
        // Checked now so that a bad value fails before anything runs.
        session_attrs(&params)?;
        connect_timeout(&params)?;
        Ok(ConnInfo {
            params,
            password,
            targets,
            user,
            dbname,
            tls,
            home,
        })
    }

    /// The same settings, but only the `i`-th host: what a run uses once a host answered.
    fn pinned(&self, i: usize) -> ConnInfo {
        let mut c = self.clone();
        c.targets = vec![self.targets[i].clone()];
        c.params.remove("load_balance_hosts");
        c
    }

    /// The resolved `sslmode`.
    pub fn sslmode(&self) -> SslMode {
        self.tls.mode
    }

    /// The application name of Wesley's own (non-step) connections: the one given, else
    /// `fallback_application_name`, else `fallback`.
    pub fn application_name(&self, fallback: &str) -> String {
        self.params
            .get("application_name")
            .or_else(|| self.params.get("fallback_application_name"))
            .filter(|a| !a.is_empty())
            .cloned()
            .unwrap_or_else(|| fallback.to_string())
    }

    /// A `psql` command for this connection: every setting in its environment (the
    /// caller's `PG*` variables are replaced, so psql sees exactly these), the password
    /// in `PGPASSWORD`, and psql's own messages in English.
    pub fn psql(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        for k in conninfo::KEYWORDS {
            if let Some(e) = k.env {
                cmd.env_remove(e);
            }
        }
        cmd.env_remove("PGSERVICEFILE").env_remove("PGSYSCONFDIR");
        let join = |f: &dyn Fn(&Target) -> String| {
            self.targets.iter().map(f).collect::<Vec<_>>().join(",")
        };
        cmd.env("PGHOST", join(&|t| t.host.clone()));
        if self.targets.iter().any(|t| t.hostaddr.is_some()) {
            cmd.env(
                "PGHOSTADDR",
                join(&|t| t.hostaddr.clone().unwrap_or_default()),
            );
        }
        cmd.env("PGPORT", join(&|t| t.port.to_string()))
            .env("PGUSER", &self.user)
            .env("PGDATABASE", &self.dbname)
            .env("PGAPPNAME", self.application_name("wesley"))
            // Wesley reads psql's output as UTF-8, whatever the caller's locale.
            .env("PGCLIENTENCODING", "UTF8");
        if let Some(p) = &self.password {
            cmd.env("PGPASSWORD", p);
        }
        for k in conninfo::KEYWORDS {
            let Some(e) = k.env else { continue };
            if matches!(
                k.name,
                "host"
                    | "hostaddr"
                    | "port"
                    | "user"
                    | "dbname"
                    | "password"
                    | "application_name"
                    | "client_encoding"
                    | "service"
                    | "requiressl"
            ) {
                continue;
            }
            if let Some(v) = self.params.get(k.name) {
                cmd.env(e, v);
            }
        }
        // The explicit mode (the default `prefer`, or `verify-full` implied by
        // sslrootcert=system), so that psql and Wesley agree.
        cmd.env("PGSSLMODE", self.tls.mode.as_str());
        let extra: Vec<String> = [
            "keepalives",
            "keepalives_idle",
            "keepalives_interval",
            "keepalives_count",
            "tcp_user_timeout",
        ]
        .iter()
        .filter_map(|k| {
            self.params
                .get(*k)
                .map(|v| format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
        })
        .collect();
        if !extra.is_empty() {
            cmd.arg("-d").arg(extra.join(" "));
        }
        // psql's and libpq's own words in English (the server's language is the server's
        // business: errors are recognised by their SQLSTATE).
        cmd.env_remove("LC_ALL")
            .env_remove("LANGUAGE")
            .env("LC_MESSAGES", "C");
        cmd
    }

    /// Connects (see [`ConnInfo::connect_pinned`]) and forgets which host answered.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, DbError> {
        self.connect_pinned(None).await.map(|(c, _)| c)
    }

    /// Connects like libpq: each host in turn (twice with `prefer-standby`: standbys
    /// first), with the `sslmode` fallbacks, `connect_timeout` per host and
    /// `target_session_attrs`. Returns the client, driven in the background, and these
    /// settings narrowed to the host that answered. `app` overrides the application name.
    pub async fn connect_pinned(
        &self,
        app: Option<&str>,
    ) -> Result<(tokio_postgres::Client, ConnInfo), DbError> {
        // Both were checked when these settings were made (`from_params`).
        let settled = |e: SettingsError| DbError::Connection(e.0);
        let attrs = session_attrs(&self.params).map_err(settled)?;
        let timeout = connect_timeout(&self.params).map_err(settled)?;
        let passes: &[SessionAttrs] = match attrs {
            SessionAttrs::PreferStandby => &[SessionAttrs::Standby, SessionAttrs::Any],
            _ => std::slice::from_ref(&attrs),
        };
        let mut order: Vec<usize> = (0..self.targets.len()).collect();
        if self
            .params
            .get("load_balance_hosts")
            .is_some_and(|v| v == "random")
        {
            // `load_balance_hosts=random` (no security purpose).
            fastrand::shuffle(&mut order);
        }
        let mut errors: Vec<String> = Vec::new();
        for &pass in passes {
            for &i in &order {
                let t = &self.targets[i];
                let at = format!("{}:{}", t.display_host(), t.port);
                let attempt = self.connect_target(t, app);
                let result = match timeout {
                    Some(d) => tokio::time::timeout(d, attempt).await.unwrap_or_else(|_| {
                        Err(format!("timeout expired after {} s", d.as_secs()))
                    }),
                    None => attempt.await,
                };
                match result {
                    Ok(client) => match check_attrs(&client, pass).await {
                        Ok(true) => return Ok((client, self.pinned(i))),
                        Ok(false) => {
                            errors.push(format!("{at}: server is not {}", attrs_name(pass)))
                        }
                        Err(e) => errors.push(format!("{at}: {e}")),
                    },
                    Err(e) => errors.push(if self.targets.len() > 1 {
                        format!("{at}: {e}")
                    } else {
                        e
                    }),
                }
            }
        }
        Err(DbError::Connection(self.redact(&format!(
            "cannot connect to {self}: {}",
            errors.join("; ")
        ))))
    }

    fn config(&self, t: &Target, app: Option<&str>) -> Config {
        let mut c = Config::new();
        if t.is_socket() {
            c.host_path(PathBuf::from(&t.host));
        } else if !t.host.is_empty() {
            c.host(&t.host);
        }
        if let Some(a) = t.hostaddr.as_ref().and_then(|a| a.parse().ok()) {
            c.hostaddr(a);
            if t.host.is_empty() {
                c.host(t.hostaddr.as_deref().unwrap_or_default());
            }
        }
        c.port(t.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(
                app.map(str::to_string)
                    .unwrap_or_else(|| self.application_name("wesley")),
            );
        if let Some(o) = self.params.get("options").filter(|o| !o.is_empty()) {
            c.options(o);
        }
        let password = self.password.clone().or_else(|| self.pgpass(t));
        if let Some(p) = password {
            c.password(p);
        }
        let secs = |k: &str| {
            self.params
                .get(k)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|v| *v > 0)
        };
        if self
            .params
            .get("keepalives")
            .is_some_and(|v| v.trim() == "0")
        {
            c.keepalives(false);
        }
        if let Some(s) = secs("keepalives_idle") {
            c.keepalives_idle(Duration::from_secs(s));
        }
        if let Some(s) = secs("keepalives_interval") {
            c.keepalives_interval(Duration::from_secs(s));
        }
        if let Some(n) = secs("keepalives_count") {
            c.keepalives_retries(n as u32);
        }
        if let Some(ms) = secs("tcp_user_timeout") {
            c.tcp_user_timeout(Duration::from_millis(ms));
        }
        match self.params.get("channel_binding").map(String::as_str) {
            Some("disable") => c.channel_binding(ChannelBinding::Disable),
            Some("require") => c.channel_binding(ChannelBinding::Require),
            _ => c.channel_binding(ChannelBinding::Prefer),
        };
        if self.tls.direct {
            c.ssl_negotiation(SslNegotiation::Direct);
        }
        c
    }

    /// The password from the password file for this host, as libpq looks it up.
    fn pgpass(&self, t: &Target) -> Option<String> {
        let file = match self.params.get("passfile").filter(|f| !f.is_empty()) {
            Some(f) => PathBuf::from(f),
            None => self.home.as_ref()?.join(".pgpass"),
        };
        let host = if t.host.is_empty() {
            t.hostaddr.clone().unwrap_or_default()
        } else {
            t.host.clone()
        };
        conninfo::pgpass_lookup(&file, &host, t.port, &self.dbname, &self.user)
    }

    /// One host, with the `sslmode` fallbacks of libpq.
    async fn connect_target(
        &self,
        t: &Target,
        app: Option<&str>,
    ) -> Result<tokio_postgres::Client, String> {
        let cfg = self.config(t, app);
        // libpq never asks for TLS over a Unix-domain socket, whatever sslmode says.
        if t.is_socket() || self.tls.mode == SslMode::Disable {
            return self
                .once(cfg, tokio_postgres::config::SslMode::Disable)
                .await
                .map_err(|(e, _)| e);
        }
        match self.tls.mode {
            SslMode::Allow => match self
                .once(cfg.clone(), tokio_postgres::config::SslMode::Disable)
                .await
            {
                Ok(c) => Ok(c),
                // The server refused the plain connection: try again with TLS.
                Err((e, true)) => self
                    .once(cfg, tokio_postgres::config::SslMode::Require)
                    .await
                    .map_err(|(e2, _)| format!("{e}; then with TLS: {e2}")),
                Err((e, false)) => Err(e),
            },
            SslMode::Prefer => {
                let attempted = Arc::new(AtomicBool::new(false));
                match self
                    .once_with(
                        cfg.clone(),
                        tokio_postgres::config::SslMode::Prefer,
                        attempted.clone(),
                    )
                    .await
                {
                    Ok(c) => Ok(c),
                    // TLS was tried and failed (handshake, or refused while encrypted):
                    // one more try without it, as libpq does.
                    Err((e, _)) if attempted.load(std::sync::atomic::Ordering::SeqCst) => self
                        .once(cfg, tokio_postgres::config::SslMode::Disable)
                        .await
                        .map_err(|(e2, _)| format!("{e}; then without TLS: {e2}")),
                    Err((e, _)) => Err(e),
                }
            }
            _ => self
                .once(cfg, tokio_postgres::config::SslMode::Require)
                .await
                .map_err(|(e, _)| e),
        }
    }

    async fn once(
        &self,
        cfg: Config,
        mode: tokio_postgres::config::SslMode,
    ) -> Result<tokio_postgres::Client, (String, bool)> {
        self.once_with(cfg, mode, Arc::new(AtomicBool::new(false)))
            .await
    }

    /// One attempt; the error says whether the server itself refused (a `DbError`).
    async fn once_with(
        &self,
        mut cfg: Config,
        mode: tokio_postgres::config::SslMode,
        attempted: Arc<AtomicBool>,
    ) -> Result<tokio_postgres::Client, (String, bool)> {
        cfg.ssl_mode(mode);
        let connected = if mode == tokio_postgres::config::SslMode::Disable {
            cfg.connect(tokio_postgres::NoTls)
                .await
                .map(|(client, conn)| {
                    tokio::spawn(conn);
                    client
                })
        } else {
            let tls = self
                .tls
                .connector(attempted)
                .map_err(|e| (e.to_string(), false))?;
            cfg.connect(tls).await.map(|(client, conn)| {
                tokio::spawn(conn);
                client
            })
        };
        match connected {
            Ok(client) => Ok(client),
            Err(e) => {
                let by_server = e.as_db_error().is_some();
                let mut text = DbError::from(&e).to_string();
                if text.contains("certificate verify failed") {
                    let reason = text.rsplit(": ").next().unwrap_or_default().to_string();
                    text = format!(
                        "the server's certificate was not accepted (sslmode={}, sslrootcert={}): {reason}",
                        self.tls.mode.as_str(),
                        self.tls
                            .rootcert
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_else(|| "system".into())
                    );
                }
                Err((self.redact(&text), by_server))
            }
        }
    }

    /// Removes the password from a message, should a library ever echo it.
    pub fn redact(&self, text: &str) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.as_str(), "********"),
            _ => text.to_string(),
        }
    }
}

fn session_attrs(p: &Params) -> Result<SessionAttrs, SettingsError> {
    Ok(
        match p
            .get("target_session_attrs")
            .map(String::as_str)
            .unwrap_or("any")
        {
            "" | "any" => SessionAttrs::Any,
            "read-write" => SessionAttrs::ReadWrite,
            "read-only" => SessionAttrs::ReadOnly,
            "primary" => SessionAttrs::Primary,
            "standby" => SessionAttrs::Standby,
            "prefer-standby" => SessionAttrs::PreferStandby,
            other => {
                return Err(SettingsError(format!(
                    "invalid target_session_attrs value: \"{other}\""
                )))
            }
        },
    )
}

fn attrs_name(a: SessionAttrs) -> &'static str {
    match a {
        SessionAttrs::Any => "any",
        SessionAttrs::ReadWrite => "read-write",
        SessionAttrs::ReadOnly => "read-only",
        SessionAttrs::Primary => "a primary",
        SessionAttrs::Standby | SessionAttrs::PreferStandby => "a standby",
    }
}

/// libpq's `connect_timeout`: whole seconds, at least 2; zero or less waits forever.
fn connect_timeout(p: &Params) -> Result<Option<Duration>, SettingsError> {
    let Some(v) = p
        .get("connect_timeout")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let n: i64 = v.parse().map_err(|_| {
        format!("invalid integer value \"{v}\" for connection option \"connect_timeout\"")
    })?;
    Ok((n > 0).then(|| Duration::from_secs(n.max(2) as u64)))
}

/// Whether a fresh connection has the asked-for `target_session_attrs`.
async fn check_attrs(c: &tokio_postgres::Client, a: SessionAttrs) -> Result<bool, DbError> {
    if a == SessionAttrs::Any {
        return Ok(true);
    }
    let rows = c
        .simple_query("SELECT pg_is_in_recovery()::text, current_setting('transaction_read_only')")
        .await?;
    let (recovery, read_only) = rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((r.get(0) == Some("true"), r.get(1) == Some("on")))
            }
            _ => None,
        })
        .unwrap_or((false, false));
    Ok(match a {
        SessionAttrs::Any => true,
        SessionAttrs::ReadWrite => !read_only,
        SessionAttrs::ReadOnly => read_only,
        SessionAttrs::Primary => !recovery,
        SessionAttrs::Standby | SessionAttrs::PreferStandby => recovery,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn info(url: &str, e: &[(&str, &str)]) -> ConnInfo {
        ConnInfo::from_params(conninfo::parse(url).unwrap(), &env(e)).unwrap()
    }

    #[test]
    fn display_never_shows_the_password() {
        let c = info("postgresql://app:s3cret-pw@db.example:6543/prod", &[]);
        assert_eq!(c.to_string(), "postgresql://app@db.example:6543/prod");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.redact("failed for s3cret-pw"), "failed for ********");
        let s = info("postgresql://postgres@%2Ftmp%2Fpg.1:5433/x", &[]);
        assert_eq!(s.targets[0].host, "/tmp/pg.1");
        assert_eq!(s.to_string(), "postgresql://postgres@%2Ftmp%2Fpg.1:5433/x");
    }

    #[test]
    fn tls_parameters_are_accepted_from_the_url() {
        let dir = std::env::temp_dir().join(format!("wesley-connect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let c = info(
            &format!(
                "postgresql://u@db:5432/d?sslmode=verify-full&sslrootcert={}",
                ca.display()
            ),
            &[],
        );
        assert_eq!(c.sslmode(), SslMode::VerifyFull);
        let cmd = c.psql("psql");
        let envs: BTreeMap<String, Option<String>> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert_eq!(envs["PGSSLMODE"].as_deref(), Some("verify-full"));
        assert_eq!(envs["PGSSLROOTCERT"].as_deref(), Some(ca.to_str().unwrap()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn psql_gets_every_setting_and_no_secret_in_its_arguments() {
        let c = info(
            "host=h1,h2 port=5433,5434 user=app password=s3cret dbname=prod options='-c x=1' connect_timeout=4 target_session_attrs=read-write keepalives_idle=30 sslmode=disable",
            &[("PGSSLMODE", "require"), ("PGAPPNAME", "deployer")],
        );
        assert_eq!(c.targets.len(), 2);
        assert_eq!(c.targets[1].port, 5434);
        let cmd = c.psql("psql");
        let get = |k: &str| {
            cmd.get_envs()
                .find(|(n, _)| *n == k)
                .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
        };
        assert_eq!(get("PGHOST").as_deref(), Some("h1,h2"));
        assert_eq!(get("PGPORT").as_deref(), Some("5433,5434"));
        assert_eq!(get("PGOPTIONS").as_deref(), Some("-c x=1"));
        assert_eq!(get("PGCONNECT_TIMEOUT").as_deref(), Some("4"));
        assert_eq!(get("PGTARGETSESSIONATTRS").as_deref(), Some("read-write"));
        assert_eq!(get("PGSSLMODE").as_deref(), Some("disable"));
        assert_eq!(get("PGPASSWORD").as_deref(), Some("s3cret"));
        assert_eq!(get("PGAPPNAME").as_deref(), Some("deployer"));
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args, vec!["-d".to_string(), "keepalives_idle='30'".into()]);
        assert!(!args.iter().any(|a| a.contains("s3cret")));
        // The pinned form keeps one host.
        assert_eq!(c.pinned(1).to_string(), "postgresql://app@h2:5434/prod");
    }

    #[test]
    fn bad_values_fail_before_connecting() {
        let p = |s: &str| ConnInfo::from_params(conninfo::parse(s).unwrap(), &env(&[]));
        assert!(p("host=a,b port=1,2,3").is_err());
        assert!(p("host=a port=x").is_err());
        assert!(p("host=a target_session_attrs=sometimes").is_err());
        assert!(p("host=a connect_timeout=soon").is_err());
        assert!(p("host=a hostaddr=not-an-ip").is_err());
        assert!(p("service=no-such-service")
            .unwrap_err()
            .to_string()
            .contains("service"));
        assert!(p("sslpassword=x")
            .unwrap_err()
            .to_string()
            .contains("sslpassword"));
    }
}
