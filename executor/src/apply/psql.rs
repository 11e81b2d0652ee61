//! A long-lived `psql` child process that runs steps streamed over its stdin. After each
//! step Wesley writes its own `\echo` marker and waits for it on stdout, so it always knows
//! which step finished; with `ON_ERROR_STOP` a failing statement ends the process, and the
//! error (with its SQLSTATE, thanks to `VERBOSITY verbose`) is read from stderr.
//!
//! The only psql meta-commands sent are Wesley's own (`\set`, `\echo`); plan SQL has been
//! checked to contain none before it gets here.

use super::connect::ConnInfo;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// An error reported by psql or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlError {
    /// SQLSTATE, when PostgreSQL reported one.
    pub code: Option<String>,
    pub message: String,
}

impl SqlError {
    /// Lock timeout (55P03) or deadlock (40P01): worth retrying.
    pub fn is_retryable(&self) -> bool {
        matches!(self.code.as_deref(), Some("55P03" | "40P01"))
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(c) => write!(f, "{} (SQLSTATE {c})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

pub struct PsqlSession {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
    conn: ConnInfo,
    marker: u64,
}

const STDERR_KEEP: usize = 64 * 1024;

impl PsqlSession {
    /// Starts psql and checks that it connected.
    pub async fn start(program: &str, conn: &ConnInfo, app: &str) -> Result<PsqlSession, SqlError> {
        let mut cmd = tokio::process::Command::from(conn.psql(program));
        cmd.env("PGAPPNAME", app)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-psqlrc"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| SqlError { code: None, message: format!("cannot start `{program}`: {e} (install the PostgreSQL client, or pass --psql PATH)") })?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().expect("stderr buffer");
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
                if s.len() > STDERR_KEEP {
                    let cut = s.len() - STDERR_KEEP;
                    let cut = (cut..s.len())
                        .find(|i| s.is_char_boundary(*i))
                        .unwrap_or(s.len());
                    s.drain(..cut);
                }
            }
        });
        let mut session = PsqlSession {
            child,
            stdin,
            stdout,
            stderr,
            conn: conn.clone(),
            marker: 0,
        };
        session
            .run("\\set VERBOSITY verbose\n\\pset pager off\n")
            .await?;
        Ok(session)
    }

    /// Streams `script` to psql followed by a marker, and waits for the marker. Errors end
    /// the session (psql exits on the first error): start a new one to continue.
    pub async fn run(&mut self, script: &str) -> Result<(), SqlError> {
        self.marker += 1;
        let mark = format!("WESLEY-MARK-{}-{}", std::process::id(), self.marker);
        let write = async {
            self.stdin.write_all(script.as_bytes()).await?;
            if !script.ends_with('\n') {
                self.stdin.write_all(b"\n").await?;
            }
            self.stdin
                .write_all(format!("\\echo {mark}\n").as_bytes())
                .await?;
            self.stdin.flush().await
        };
        if let Err(e) = write.await {
            return Err(self
                .failure(Some(format!("psql stopped accepting input: {e}")))
                .await);
        }
        let mut line = String::new();
        loop {
            line.clear();
            match self.stdout.read_line(&mut line).await {
                Ok(0) | Err(_) => return Err(self.failure(None).await),
                Ok(_) if line.trim_end() == mark => return Ok(()),
                Ok(_) => {}
            }
        }
    }

    /// The error that ended the session, from psql's stderr.
    async fn failure(&mut self, fallback: Option<String>) -> SqlError {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.child.wait()).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let text = self
            .conn
            .redact(&self.stderr.lock().expect("stderr buffer").clone());
        parse_error(&text).unwrap_or_else(|| SqlError {
            code: None,
            message: fallback.unwrap_or_else(|| {
                if text.trim().is_empty() {
                    "psql exited unexpectedly".into()
                } else {
                    text.trim().to_string()
                }
            }),
        })
    }

    /// Ends the session politely.
    pub async fn close(mut self) {
        let _ = self.stdin.write_all(b"\\q\n").await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.child.wait()).await;
    }
}

/// Extracts the last `ERROR:` (or `FATAL:`) from psql's verbose stderr output:
/// `ERROR:  55P03: canceling statement due to lock timeout`, plus DETAIL/CONTEXT lines.
pub fn parse_error(stderr: &str) -> Option<SqlError> {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains("ERROR:") || l.contains("FATAL:"))?;
    let head = lines[start];
    let after = head
        .split_once("ERROR:")
        .or_else(|| head.split_once("FATAL:"))
        .map(|(_, r)| r.trim())?;
    let (code, msg) = match after.split_once(": ") {
        Some((c, m)) if c.len() == 5 && c.chars().all(|ch| ch.is_ascii_alphanumeric()) => {
            (Some(c.to_string()), m.to_string())
        }
        _ => (None, after.to_string()),
    };
    let mut message = msg;
    for l in &lines[start + 1..] {
        let t = l.trim();
        if let Some(rest) = t
            .strip_prefix("DETAIL:")
            .or_else(|| t.strip_prefix("HINT:"))
        {
            message.push_str(&format!(" — {}", rest.trim()));
        }
    }
    Some(SqlError { code, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_verbose_errors() {
        let e = parse_error("psql:<stdin>:3: ERROR:  55P03: canceling statement due to lock timeout\nLOCATION:  ProcessInterrupts, postgres.c:3320\n").unwrap();
        assert_eq!(e.code.as_deref(), Some("55P03"));
        assert!(e.is_retryable());
        let e = parse_error("psql:<stdin>:9: ERROR:  23505: could not create unique index \"x\"\nDETAIL:  Key (a)=(1) is duplicated.\n").unwrap();
        assert_eq!(e.code.as_deref(), Some("23505"));
        assert!(e.message.contains("duplicated"));
        assert!(!e.is_retryable());
        let e = parse_error("psql: error: connection to server on socket \"/tmp/x/.s.PGSQL.1\" failed: FATAL:  28P01: password authentication failed for user \"app\"").unwrap();
        assert_eq!(e.code.as_deref(), Some("28P01"));
    }
}
