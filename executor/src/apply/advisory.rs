//! One run at a time per database: a session-level advisory lock, taken by polling
//! `pg_try_advisory_lock` (a session blocked in `pg_advisory_lock` holds a snapshot that
//! `CREATE INDEX CONCURRENTLY` in another session waits for: a deadlock). The key is the
//! first 8 bytes of SHA-256("wesley:apply:" + database name), as a signed 64-bit integer.

use crate::error::DbError;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// What the database name is prefixed with before hashing, so that Wesley's key does not
/// collide with keys other tools derive from the same name.
pub const NAMESPACE: &str = "wesley:apply:";

/// The advisory lock key for a database.
pub fn key(dbname: &str) -> i64 {
    let d = Sha256::digest(format!("{NAMESPACE}{dbname}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

/// How [`acquire`] ended.
pub enum Acquired {
    /// This session holds the lock (until [`release`] or the session ends).
    Yes,
    /// Another session held it for the whole wait; its pid and application name.
    TimedOut {
        /// `(pid, application_name)` of the holder, when pg_locks shows it.
        holder: Option<(i32, String)>,
    },
}

/// Polls until the lock is taken or `wait` has passed. `on_wait` is told once that we wait.
pub async fn acquire(
    c: &Client,
    key: i64,
    wait: Duration,
    mut on_wait: impl FnMut(Option<(i32, String)>),
) -> Result<Acquired, DbError> {
    let started = Instant::now();
    let mut told = false;
    loop {
        let got: bool = c
            .query_typed_one("SELECT pg_try_advisory_lock($1)", &[(&key, Type::INT8)])
            .await?
            .get(0);
        if got {
            return Ok(Acquired::Yes);
        }
        let holder = holder(c, key).await;
        if !told {
            on_wait(holder.clone());
            told = true;
        }
        if started.elapsed() >= wait {
            return Ok(Acquired::TimedOut { holder });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn holder(c: &Client, key: i64) -> Option<(i32, String)> {
    let hi = (key >> 32) as i32;
    let lo = (key & 0xffff_ffff) as u32 as i64;
    let row = c
        .query_typed_opt(
            "SELECT l.pid, coalesce(a.application_name, '') FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = ($1::int::bigint & 4294967295) AND l.objid::bigint = $2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1",
            &[(&hi, Type::INT4), (&lo, Type::INT8)],
        )
        .await
        .ok()??;
    Some((row.get(0), row.get(1)))
}

/// Releases the lock. Errors are ignored: the lock is session-level, so it is freed when
/// the session ends anyway.
pub async fn release(c: &Client, key: i64) {
    let _ = c
        .query_typed_one("SELECT pg_advisory_unlock($1)", &[(&key, Type::INT8)])
        .await;
}

#[cfg(test)]
mod tests {
    /// The documented derivation: the first 8 bytes of SHA-256("wesley:apply:app"),
    /// big-endian, as a signed 64-bit integer. `printf 'wesley:apply:app' | sha256sum`
    /// starts with 7e0d1913218d221a.
    #[test]
    fn key_is_the_documented_hash() {
        assert_eq!(super::key("app"), 0x7e0d_1913_218d_221a);
        assert_eq!(super::key("app"), 9_082_943_593_434_128_922);
        assert_ne!(super::key("app"), super::key("app2"));
    }
}
