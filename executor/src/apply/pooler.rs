//! Is every connection of this run kept on one server session? A run relies on it: the
//! one-run-at-a-time advisory lock is held by the lock connection's session, and a
//! `CREATE INDEX CONCURRENTLY` step (which cannot run in a transaction, so cannot use
//! `SET LOCAL`) gets its lock and statement timeouts from session-level `SET`s sent just
//! before it. Behind a pooler in transaction or statement mode, consecutive statements
//! of one client may run on different server connections: the lock would be held by a
//! server connection that then serves other clients, the timeouts would miss the index
//! build and linger on a connection the application uses.
//!
//! The probe is deterministic: it ends the server session behind a fresh connection and
//! looks at what that does to the connection.
//!
//! 1. A probe connection, made like every other connection of the run, asks for its
//!    `pg_backend_pid()`.
//! 2. The lock connection terminates that backend (`pg_terminate_backend`) and waits
//!    until it is gone from `pg_stat_activity`.
//! 3. A connection bound to its session (direct, or a pooler in session mode) loses it
//!    with the backend: the server or the pooler closes it, and any further statement
//!    fails. A pooler in transaction or statement mode has merely lost an idle server
//!    connection: the probe stays open and its next statement runs, on another backend.
//!
//! Neither outcome depends on timing or on which server connection a pooler picks; the
//! probe is refused in the second case before anything is locked or changed. (Should the
//! lock connection itself be served by the probe's backend, which only a transaction
//! pooler can do, terminating it fails that statement: refused as well.)

use super::connect::ConnInfo;
use crate::error::DbError;
use std::time::{Duration, Instant};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// `application_name` of the probe connection.
pub const PROBE_APP: &str = "wesley-probe";

/// Ok(None) when sessions are kept; Ok(Some(why)) when they are not.
pub async fn sessions_are_kept(conn: &ConnInfo, lock: &Client) -> Result<Option<String>, DbError> {
    let (probe, _) = conn.connect_pinned(Some(PROBE_APP)).await?;
    let pid: i32 = probe
        .query_typed_one("SELECT pg_backend_pid()", &[])
        .await?
        .get(0);
    let not_kept = |detail: &str| {
        Some(format!(
            "connections to {conn} are not kept on one server session between transactions ({detail}): a connection pooler in transaction or statement mode? \
             Wesley needs each connection to stay on its session: its one-run-at-a-time advisory lock lives in one, and so do the lock and statement timeouts of CREATE INDEX CONCURRENTLY steps. \
             Connect to PostgreSQL directly, or through a pool in session mode for the migration user (PgBouncer: pool_mode = session, e.g. `[users] <user> = pool_mode=session`, or a [databases] entry with pool_mode=session)."
        ))
    };
    if lock
        .query_typed_one("SELECT pg_terminate_backend($1)", &[(&pid, Type::INT4)])
        .await
        .is_err()
    {
        return Ok(not_kept(
            "the lock connection was served by the probe's server session",
        ));
    }
    let started = Instant::now();
    loop {
        let left: i64 = lock
            .query_typed_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[(&pid, Type::INT4)],
            )
            .await?
            .get(0);
        if left == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(DbError::Unexpected(format!(
                "checking for a connection pooler: server process {pid} did not end"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Bound to its session: the connection is closed (at once, normally).
    let started = Instant::now();
    while !probe.is_closed() && started.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if probe.is_closed() {
        return Ok(None);
    }
    match probe.query_typed_one("SELECT pg_backend_pid()", &[]).await {
        Err(_) => Ok(None),
        Ok(row) => {
            let now: i32 = row.get(0);
            Ok(not_kept(&format!(
                "after its server process {pid} was ended, a connection went on in server process {now}"
            )))
        }
    }
}
