//! Connection settings from `--database-url`, `DATABASE_URL` or the standard `PG*`
//! variables, usable by both tokio-postgres and psql. The password is kept out of every
//! message, log line and process argument list (psql receives it in `PGPASSWORD`).

use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::Config;

/// Where and how to connect.
#[derive(Clone)]
pub struct ConnInfo {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    password: Option<String>,
    pub sslmode: Option<String>,
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnInfo({self})")
    }
}

/// The connection as a URL without the password.
impl fmt::Display for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.starts_with('/') {
            self.host.replace('/', "%2F")
        } else {
            self.host.clone()
        };
        write!(
            f,
            "postgresql://{}@{}:{}/{}",
            self.user, host, self.port, self.dbname
        )
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn os_user() -> String {
    env("USER")
        .or_else(|| env("LOGNAME"))
        .unwrap_or_else(|| "postgres".into())
}

impl ConnInfo {
    /// From an explicit URL or `key=value` string, else `DATABASE_URL`, else `PG*`.
    pub fn resolve(url: Option<&str>) -> Result<ConnInfo, String> {
        match url.map(str::to_string).or_else(|| env("DATABASE_URL")) {
            Some(u) => ConnInfo::parse(&u),
            None => Ok(ConnInfo::from_pg_env()),
        }
    }

    pub fn parse(url: &str) -> Result<ConnInfo, String> {
        // The error text describes the URL's syntax; the URL itself (which may hold a
        // password) is never echoed.
        let cfg: Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| format!("invalid database URL: {e}"))?;
        let host = match cfg.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => env("PGHOST").unwrap_or_else(default_host),
        };
        let port = cfg
            .get_ports()
            .first()
            .copied()
            .or_else(|| env("PGPORT").and_then(|p| p.parse().ok()))
            .unwrap_or(5432);
        let user = cfg
            .get_user()
            .map(str::to_string)
            .or_else(|| env("PGUSER"))
            .unwrap_or_else(os_user);
        let dbname = cfg
            .get_dbname()
            .map(str::to_string)
            .or_else(|| env("PGDATABASE"))
            .unwrap_or_else(|| user.clone());
        let password = cfg
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .or_else(|| env("PGPASSWORD"));
        let sslmode = match cfg.get_ssl_mode() {
            SslMode::Disable => Some("disable".to_string()),
            SslMode::Require => Some("require".to_string()),
            _ => env("PGSSLMODE"),
        };
        Ok(ConnInfo {
            host,
            port,
            user,
            dbname,
            password,
            sslmode,
        })
    }

    pub fn from_pg_env() -> ConnInfo {
        let user = env("PGUSER").unwrap_or_else(os_user);
        ConnInfo {
            host: env("PGHOST").unwrap_or_else(default_host),
            port: env("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(5432),
            dbname: env("PGDATABASE").unwrap_or_else(|| user.clone()),
            user,
            password: env("PGPASSWORD"),
            sslmode: env("PGSSLMODE"),
        }
    }

    /// tokio-postgres configuration (TLS is not used: `sslmode=require` is refused by
    /// `connect`, since this build carries no TLS stack).
    pub fn config(&self) -> Config {
        let mut c = Config::new();
        if self.host.starts_with('/') {
            c.host_path(PathBuf::from(&self.host));
        } else {
            c.host(&self.host);
        }
        c.port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("wesley");
        if let Some(p) = &self.password {
            c.password(p);
        }
        c
    }

    /// A `psql` command for this connection. The password travels in the environment.
    pub fn psql(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        for v in [
            "PGSERVICE",
            "PGSERVICEFILE",
            "PGHOSTADDR",
            "PGOPTIONS",
            "PGCONNECT_TIMEOUT",
        ] {
            cmd.env_remove(v);
        }
        cmd.env("PGHOST", &self.host)
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", &self.user)
            .env("PGDATABASE", &self.dbname)
            .env("PGAPPNAME", "wesley");
        match &self.password {
            Some(p) => cmd.env("PGPASSWORD", p),
            None => cmd.env_remove("PGPASSWORD"),
        };
        if let Some(m) = &self.sslmode {
            cmd.env("PGSSLMODE", m);
        }
        cmd
    }

    /// Connects with tokio-postgres and drives the connection in the background.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, String> {
        if matches!(
            self.sslmode.as_deref(),
            Some("require" | "verify-ca" | "verify-full")
        ) {
            return Err(format!(
                "cannot connect to {self}: sslmode={} needs TLS, which this build does not include",
                self.sslmode.as_deref().unwrap_or_default()
            ));
        }
        let (client, conn) = self
            .config()
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to {self}: {}", self.redact(&describe(&e))))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// Removes the password from a message, should a library ever echo it.
    pub fn redact(&self, text: &str) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.as_str(), "********"),
            _ => text.to_string(),
        }
    }
}

fn default_host() -> String {
    if std::path::Path::new("/var/run/postgresql").exists() {
        "/var/run/postgresql".into()
    } else {
        "localhost".into()
    }
}

/// A readable description of a tokio-postgres error, with the server's message and code.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(&format!(": {inner}"));
                src = inner.source();
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_never_shows_the_password() {
        let c = ConnInfo::parse("postgresql://app:s3cret-pw@db.example:6543/prod").unwrap();
        assert_eq!(c.to_string(), "postgresql://app@db.example:6543/prod");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.redact("failed for s3cret-pw"), "failed for ********");
        let s = ConnInfo::parse("postgresql://postgres@%2Ftmp%2Fpg.1:5433/x").unwrap();
        assert_eq!(s.host, "/tmp/pg.1");
        assert_eq!(s.to_string(), "postgresql://postgres@%2Ftmp%2Fpg.1:5433/x");
    }
}
