//! One module per subcommand.

pub mod apply;
pub mod drift;
pub mod generate;
pub mod introspect;
pub mod plan;
pub mod rehearse;
pub mod rollback;
pub mod source;
pub mod status;
pub mod usage;
pub mod watch;

use crate::apply::connect::ConnInfo;

/// A connection for a command that reads a database: the settings resolved like libpq's
/// (the URL or `key=value` string, else `DATABASE_URL`, then the `PG*` variables), a
/// current-thread runtime, and the connected client (driven whenever the runtime runs).
pub struct Reader {
    /// The runtime to `block_on` the command's queries with.
    pub rt: tokio::runtime::Runtime,
    /// The settings (displayed without the password).
    pub conn: ConnInfo,
    /// The connected client.
    pub client: tokio_postgres::Client,
    /// The settings narrowed to the host that answered, for more connections to the same
    /// server.
    pub pinned: ConnInfo,
}

impl Reader {
    /// Connects, or prints why not and gives the exit code: [`crate::exit::INVALID`] for
    /// settings that describe no connection, [`crate::exit::FAILED`] when no server
    /// answers (the message never holds the password).
    pub fn connect(database_url: Option<&str>) -> Result<Reader, u8> {
        let conn = ConnInfo::resolve(database_url).map_err(|e| {
            eprintln!("error: {e}");
            crate::exit::INVALID
        })?;
        let failed = |e: &dyn std::fmt::Display| {
            eprintln!("error: {e}");
            crate::exit::FAILED
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| failed(&e))?;
        let (client, pinned) = rt
            .block_on(conn.connect_pinned(None))
            .map_err(|e| failed(&e))?;
        Ok(Reader {
            rt,
            conn,
            client,
            pinned,
        })
    }
}
