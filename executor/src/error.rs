//! The executor's error types, one per layer (thiserror):
//!
//! - [`SettingsError`]: connection settings (URL, `key=value` string, `PG*` variables,
//!   TLS files) that cannot describe a connection. The user's input: exit code 2.
//! - [`DbError`]: talking to PostgreSQL, through tokio-postgres or psql. Carries the
//!   SQLSTATE when the server reported one, so callers decide by code, never by the
//!   message (which is in the server's language).
//!
//! How a whole run ends is not an error but an [`crate::apply::Outcome`], with a stable
//! reason. No message here ever holds a password: connection errors pass through
//! [`crate::apply::connect::ConnInfo::redact`] where they are made.

/// Connection settings that cannot describe a connection, in words that name the
/// setting (`sslmode`, `port`, `hostaddr`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

impl From<String> for SettingsError {
    fn from(s: String) -> Self {
        SettingsError(s)
    }
}

impl From<&str> for SettingsError {
    fn from(s: &str) -> Self {
        SettingsError(s.to_string())
    }
}

/// An error talking to PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// The server reported an error: its five-character SQLSTATE and its message, with
    /// DETAIL and HINT appended when there are any.
    #[error("{message} (SQLSTATE {sqlstate})")]
    Server {
        /// Five characters, e.g. `55P03` (lock_not_available).
        sqlstate: String,
        /// The server's message (in its `lc_messages` language).
        message: String,
    },
    /// No server could be reached or kept: refused, timed out, TLS, or the connection
    /// was lost. For several hosts, every host's reason.
    #[error("{0}")]
    Connection(String),
    /// psql could not run the script: not installed, exited, or reported an error
    /// without a SQLSTATE.
    #[error("{0}")]
    Psql(String),
    /// The server answered, but not as it must: a catalog Wesley cannot read, an index
    /// built but left invalid.
    #[error("{0}")]
    Unexpected(String),
}

impl DbError {
    /// The SQLSTATE the server reported, if it did.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            DbError::Server { sqlstate, .. } => Some(sqlstate),
            _ => None,
        }
    }

    /// Lock timeout (SQLSTATE 55P03, `lock_not_available`) or deadlock (40P01,
    /// `deadlock_detected`): the step is worth retrying.
    pub fn is_retryable(&self) -> bool {
        matches!(self.sqlstate(), Some("55P03" | "40P01"))
    }

    /// The connection is gone: a [`DbError::Connection`], SQLSTATE class 08
    /// (`connection_exception`), or 57P01 (`admin_shutdown`: the session was ended). The
    /// work can go on over another connection.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, DbError::Connection(_))
            || self
                .sqlstate()
                .is_some_and(|s| s.starts_with("08") || s == "57P01")
    }

    /// The same error with `what` (e.g. "cannot create Wesley's ledger") said first; the
    /// SQLSTATE is kept.
    pub fn context(self, what: &str) -> DbError {
        match self {
            DbError::Server { sqlstate, message } => DbError::Server {
                sqlstate,
                message: format!("{what}: {message}"),
            },
            DbError::Connection(m) => DbError::Connection(format!("{what}: {m}")),
            DbError::Psql(m) => DbError::Psql(format!("{what}: {m}")),
            DbError::Unexpected(m) => DbError::Unexpected(format!("{what}: {m}")),
        }
    }

    /// The error from a SQLSTATE as psql reports it (empty or malformed: no code).
    pub fn from_psql(code: Option<String>, message: String) -> DbError {
        match code {
            Some(sqlstate) if sqlstate.len() == 5 => DbError::Server { sqlstate, message },
            _ => DbError::Psql(message),
        }
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::from(&e)
    }
}

impl From<&tokio_postgres::Error> for DbError {
    /// A server error keeps its SQLSTATE and message; anything else becomes a connection
    /// error whose text follows the chain of causes (each said once).
    fn from(e: &tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            return DbError::Server {
                sqlstate: db.code().code().to_string(),
                message: db.message().to_string(),
            };
        }
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            let t = inner.to_string();
            if !s.contains(&t) {
                s.push_str(&format!(": {t}"));
            }
            src = inner.source();
        }
        DbError::Connection(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_by_sqlstate_only() {
        let lock = DbError::from_psql(Some("55P03".into()), "anything at all".into());
        assert!(lock.is_retryable());
        assert_eq!(lock.to_string(), "anything at all (SQLSTATE 55P03)");
        assert!(DbError::from_psql(Some("40P01".into()), "x".into()).is_retryable());
        assert!(!DbError::from_psql(Some("23505".into()), "x".into()).is_retryable());
        // Lost connections, by variant or SQLSTATE; a lock timeout is not one.
        assert!(DbError::Connection("closed".into()).is_connection_lost());
        assert!(DbError::from_psql(Some("08006".into()), "x".into()).is_connection_lost());
        assert!(DbError::from_psql(Some("57P01".into()), "x".into()).is_connection_lost());
        assert!(!lock.is_connection_lost());
        // A message that reads like a lock timeout, without the code, is not one.
        let words = DbError::from_psql(None, "canceling statement due to lock timeout".into());
        assert!(!words.is_retryable());
        assert_eq!(words.sqlstate(), None);
        assert_eq!(
            DbError::from_psql(Some("".into()), "m".into()),
            DbError::Psql("m".into())
        );
    }
}
