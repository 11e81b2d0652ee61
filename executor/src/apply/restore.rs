//! The restore point taken before the first contract step: until contract runs, no
//! table, column or data of the old shape has been dropped (indexes, checks and foreign
//! keys may have been replaced by equivalent ones), so this is the last point in the WAL
//! from which point-in-time recovery gets every row and column of the old shape back.
//!
//! `pg_create_restore_point(name)` needs superuser or an `EXECUTE` grant, `wal_level`
//! `replica` or higher, and a primary (not a standby). When the server refuses (SQLSTATE
//! 42501 without the privilege, 55000 for `wal_level = minimal` or a standby) the run
//! says so once and continues: a restore point helps recovery, it does not make a step
//! safer. The name and the LSN are recorded in the ledger (`wesley.runs.restore_point`,
//! `restore_lsn`) and reported, so a resumed run does not take a second one.

use super::events::Event;
use super::ledger;
use super::Ctx;
use crate::error::DbError;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// `wesley_` and the first 12 hex digits of the plan hash: 19 bytes, well under the
/// server's 63-byte limit for restore point names (MAXFNAMELEN − 1).
pub fn name(plan_hash: &str) -> String {
    let hex = plan_hash.strip_prefix("sha256:").unwrap_or(plan_hash);
    let prefix: String = hex
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    format!("wesley_{prefix}")
}

/// Takes (or finds, for a resumed run) the plan's restore point and reports it. Server
/// errors of `pg_create_restore_point` become a warning; only failures to reach the
/// server or to read and write the ledger are errors.
///
/// `contract_started`: contract steps of this plan were applied by an earlier attempt
/// (that could not take a restore point). None is taken then: it would not be before
/// the contract phase, and recovering to it would not bring back what was dropped.
pub(super) async fn before_contract(
    ctx: &Ctx,
    client: &Client,
    contract_started: bool,
) -> Result<Option<(String, String)>, DbError> {
    let plan_hash = ctx.plan.plan_hash();
    if let Some((name, lsn)) = ledger::restore_point(client, plan_hash).await? {
        ctx.rep.emit(Event::RestorePoint {
            name: name.clone(),
            lsn: lsn.clone(),
            earlier: true,
        });
        return Ok(Some((name, lsn)));
    }
    if contract_started {
        ctx.rep.emit(Event::Message {
            text: "warning: no restore point: contract steps of this plan already ran (an earlier attempt could not take one), so a restore point now would not be before the contract phase.".into(),
        });
        return Ok(None);
    }
    let name = name(plan_hash);
    let created = client
        .query_typed_one(
            "SELECT pg_create_restore_point($1)::text",
            &[(&name, Type::TEXT)],
        )
        .await
        .map_err(DbError::from);
    match created {
        Ok(row) => {
            let lsn: String = row.get(0);
            ledger::record_restore_point(client, plan_hash, &name, &lsn).await?;
            ctx.rep.emit(Event::RestorePoint {
                name: name.clone(),
                lsn: lsn.clone(),
                earlier: false,
            });
            Ok(Some((name, lsn)))
        }
        Err(DbError::Server { sqlstate, message }) => {
            ctx.rep.emit(Event::Message {
                text: format!(
                    "warning: no restore point before the contract phase: {message} (SQLSTATE {sqlstate}). Continuing; make sure a backup covers this point if you may need to recover the dropped objects."
                ),
            });
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::name;

    #[test]
    fn names_are_short_and_safe() {
        assert_eq!(
            name("sha256:0123456789abcdef0123456789abcdef"),
            "wesley_0123456789ab"
        );
        // Untrusted plan files: only letters and digits reach the name.
        assert_eq!(name("sha256:ab'; --"), "wesley_ab");
    }
}
