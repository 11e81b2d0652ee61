//! A long-lived `psql` child process that runs steps streamed over its stdin.
//!
//! Errors are recognised by their SQLSTATE, never by words, so the server's language
//! (`lc_messages`) does not matter. psql runs without `ON_ERROR_STOP`; a step's SQL is
//! split into the statements psql sends one by one (with the planner's psql lexer), and
//! after each statement Wesley writes
//!
//! ```text
//! \if :ERROR
//! \echo WESLEY-ERR-<pid>-<n> :LAST_ERROR_SQLSTATE
//! \echo :LAST_ERROR_MESSAGE
//! \q
//! \endif
//! ```
//!
//! so the first failing statement reports its SQLSTATE and the server's own message on
//! stdout and ends the session (an open transaction is rolled back with it). Wesley's own
//! statements around a step (`BEGIN` and its `SET LOCAL`s; the ledger row and `COMMIT`)
//! go as one request each, joined by psql's `\;` ([`Part::Own`]): one round trip to the
//! server instead of one per statement: a transactional step costs two requests besides
//! its own statements, ledger row included, where `psql -f` of the plan's SQL script
//! spends four (`BEGIN`, two `SET LOCAL`s, `COMMIT`) and records nothing. After the
//! last statement Wesley writes its `\echo` success marker and waits for one of the two.
//! psql's stderr is only read for the DETAIL and HINT of that error (psql labels them in
//! English: its locale is set to C by `ConnInfo::psql`), and, when psql dies without a
//! marker (connection lost, or never made), for whatever it said.
//!
//! The only psql meta-commands sent are Wesley's own (`\set`, `\pset`, `\echo`, `\if`,
//! `\endif`, `\q`, `\;`); plan SQL has been checked to contain none before it gets here.

use super::connect::ConnInfo;
use crate::error::DbError;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;
use wesley_planner::planfile::psql::split_statements;

/// A piece of what [`PsqlSession::run_parts`] sends.
pub enum Part<'a> {
    /// Wesley's own statements, each without its `;` (no psql meta-command, no `;`
    /// outside quotes): sent together as one request (`a \; b;`).
    Own(Vec<String>),
    /// SQL from the plan: whole statements, each ended by `;`, sent one by one.
    Sql(&'a str),
}

/// A long-lived `psql` process fed over stdin: the plan's statements are sent one at a
/// time (Wesley's own in groups, [`Part::Own`]), and each request is checked for an error
/// by SQLSTATE before the next.
pub struct PsqlSession {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
    stderr_done: Option<JoinHandle<()>>,
    conn: ConnInfo,
    marker: u64,
}

const STDERR_KEEP: usize = 64 * 1024;

impl PsqlSession {
    /// Starts psql and checks that it connected.
    pub async fn start(program: &str, conn: &ConnInfo, app: &str) -> Result<PsqlSession, DbError> {
        let mut cmd = tokio::process::Command::from(conn.psql(program));
        cmd.env("PGAPPNAME", app)
            .args(["-X", "-q", "--no-psqlrc"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| DbError::Psql(format!("cannot start `{program}`: {e} (install the PostgreSQL client, or pass --psql PATH)")))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        let stderr_done = tokio::spawn(async move {
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
            stderr_done: Some(stderr_done),
            conn: conn.clone(),
            marker: 0,
        };
        session
            // String literals in plan files (comments, defaults, ledger rows) are
            // standard: a backslash is an ordinary character. A database or role set to
            // `standard_conforming_strings = off` would read them otherwise.
            .exchange(
                "\\set VERBOSITY verbose\n\\pset pager off\nSET standard_conforming_strings = on;\n",
            )
            .await?;
        Ok(session)
    }

    /// Runs `sql` (whole statements, each ended by `;`) and waits until psql has run it.
    /// The first statement that fails ends the session with its error: start a new one
    /// to continue.
    pub async fn run(&mut self, sql: &str) -> Result<(), DbError> {
        self.run_parts(&[Part::Sql(sql)]).await
    }

    /// Runs the parts in order, as [`PsqlSession::run`] runs SQL: each of Wesley's own
    /// groups as one request, the plan's SQL statement by statement. Errors: the first
    /// statement that fails ([`DbError::Server`] with its SQLSTATE; the session is over),
    /// SQL that cannot be split into statements, or psql gone ([`DbError::Psql`]).
    pub async fn run_parts(&mut self, parts: &[Part<'_>]) -> Result<(), DbError> {
        let err_mark = self.err_mark(self.marker + 1);
        let check = format!(
            "\n\\if :ERROR\n\\echo {err_mark} :LAST_ERROR_SQLSTATE\n\\echo :LAST_ERROR_MESSAGE\n\\q\n\\endif\n"
        );
        let mut script = String::new();
        for part in parts {
            match part {
                Part::Own(statements) if statements.is_empty() => {}
                Part::Own(statements) => {
                    // `a \; b;` is one request: psql sends `a; b;` in one Query message,
                    // and the server stops at the first statement that fails.
                    script.push_str(&statements.join(" \\; "));
                    script.push(';');
                    script.push_str(&check);
                }
                Part::Sql(sql) => {
                    let statements = split_statements(sql).map_err(|e| {
                        DbError::Psql(format!(
                            "cannot split the SQL into statements: {}",
                            e.message
                        ))
                    })?;
                    script.reserve(sql.len() + statements.len() * check.len());
                    for s in statements {
                        script.push_str(s);
                        if s.trim_end().ends_with(';') {
                            script.push_str(&check);
                        }
                    }
                    if !script.ends_with('\n') {
                        script.push('\n');
                    }
                }
            }
        }
        self.exchange(&script).await
    }

    fn err_mark(&self, n: u64) -> String {
        format!("WESLEY-ERR-{}-{n}", std::process::id())
    }

    /// Streams `script` to psql followed by a marker, and waits for the marker, or for
    /// the error marker of [`PsqlSession::run`].
    async fn exchange(&mut self, script: &str) -> Result<(), DbError> {
        self.marker += 1;
        let mark = format!("WESLEY-MARK-{}-{}", std::process::id(), self.marker);
        let err_mark = format!("{} ", self.err_mark(self.marker));
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
                Ok(_) => {
                    if let Some(code) = line.trim_end().strip_prefix(&err_mark) {
                        let code = code.trim().to_string();
                        return Err(self.statement_failure(code).await);
                    }
                }
            }
        }
    }

    /// psql has reported a failed statement and is quitting: its message is the rest of
    /// stdout; DETAIL and HINT come from stderr.
    async fn statement_failure(&mut self, code: String) -> DbError {
        let mut rest = String::new();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            self.stdout.read_to_string(&mut rest),
        )
        .await;
        let stderr = self.finish().await;
        let mut message = one_line(&rest);
        for extra in details(&stderr, &code) {
            message.push_str(" — ");
            message.push_str(&extra);
        }
        DbError::from_psql(Some(code), self.conn.redact(&message))
    }

    /// Waits for psql to exit and its stderr to close; returns what it wrote there.
    async fn finish(&mut self) -> String {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        if let Some(task) = self.stderr_done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// psql ended without a marker: the error is whatever it wrote on stderr.
    async fn failure(&mut self, fallback: Option<String>) -> DbError {
        let text = self.finish().await;
        let text = self.conn.redact(&text);
        parse_error(&text).unwrap_or_else(|| {
            DbError::Psql(fallback.unwrap_or_else(|| {
                if text.trim().is_empty() {
                    "psql exited unexpectedly".into()
                } else {
                    one_line(&text)
                }
            }))
        })
    }

    /// Ends the session politely.
    pub async fn close(mut self) {
        let _ = self.stdin.write_all(b"\\q\n").await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The DETAIL and HINT lines that follow the report of `code` in psql's verbose stderr
/// (`<severity>:  <code>: <message>`, in the server's language; the labels are psql's,
/// in English).
fn details(stderr: &str, code: &str) -> Vec<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    let needle = format!(":  {code}: ");
    let Some(start) = lines.iter().rposition(|l| l.contains(&needle)) else {
        return vec![];
    };
    let mut out = Vec::new();
    for l in &lines[start + 1..] {
        let t = l.trim();
        if let Some(rest) = t
            .strip_prefix("DETAIL:")
            .or_else(|| t.strip_prefix("HINT:"))
        {
            out.push(rest.trim().to_string());
        } else if !(t.starts_with("LOCATION:")
            || t.starts_with("CONTEXT:")
            || t.starts_with("QUERY:")
            || t.starts_with("LINE ")
            || t.starts_with('^')
            || l.starts_with(' ')
            || l.starts_with('\t'))
        {
            break;
        }
    }
    out
}

/// The last error in psql's verbose stderr, found by its shape, not its words:
/// `<severity>:  <SQLSTATE>: <message>` (the severity is in the server's language), with
/// the DETAIL and HINT after it.
pub fn parse_error(stderr: &str) -> Option<DbError> {
    let lines: Vec<&str> = stderr.lines().collect();
    let (start, code, msg) = lines.iter().enumerate().rev().find_map(|(i, l)| {
        let (_, rest) = l.split_once(":  ")?;
        let (code, msg) = rest.split_once(": ")?;
        (code.len() == 5
            && code
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()))
        .then(|| (i, code.to_string(), msg.trim().to_string()))
    })?;
    let mut message = msg;
    for extra in details(&lines[start..].join("\n"), &code) {
        message.push_str(" — ");
        message.push_str(&extra);
    }
    Some(DbError::Server {
        sqlstate: code,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_verbose_errors_in_any_language() {
        let e = parse_error("psql:<stdin>:3: ERROR:  55P03: canceling statement due to lock timeout\nLOCATION:  ProcessInterrupts, postgres.c:3320\n").unwrap();
        assert_eq!(e.sqlstate(), Some("55P03"));
        assert!(e.is_retryable());
        let e = parse_error("psql:<stdin>:3: FEHLER:  55P03: Abbruch des Befehls wegen Zeitüberschreitung einer Sperre\nORT:  ProcessInterrupts, postgres.c:3320\n").unwrap();
        assert_eq!(e.sqlstate(), Some("55P03"));
        assert!(e.is_retryable());
        let e = parse_error("psql:<stdin>:9: ERREUR:  23505: n'a pas pu créer l'index unique « x »\nDETAIL:  La clé (a)=(1) est dupliquée.\nLOCATION:  x.c:1\n").unwrap();
        assert_eq!(e.sqlstate(), Some("23505"));
        assert_eq!(
            e.to_string(),
            "n'a pas pu créer l'index unique « x » — La clé (a)=(1) est dupliquée. (SQLSTATE 23505)"
        );
        assert!(!e.is_retryable());
        assert!(parse_error("psql: error: connection to server failed: no such file").is_none());
    }

    #[test]
    fn details_follow_the_reported_error_only() {
        let err = "psql:<stdin>:1: WARNING:  01000: x\nDETAIL:  not this\npsql:<stdin>:2: FEHLER:  23505: konnte Unique Index nicht erstellen\nDETAIL:  Schlüssel (a)=(1) ist doppelt vorhanden.\nHINT:  h\nLOCATION:  l\n";
        assert_eq!(
            details(err, "23505"),
            vec!["Schlüssel (a)=(1) ist doppelt vorhanden.", "h"]
        );
        assert!(details(err, "55P03").is_empty());
        assert_eq!(one_line("a\n  b\r\n\nc "), "a b c");
    }
}
