//! `wesley usage --schema S.graphql`: which tables, columns and indexes the database's
//! workload uses, from pg_stat_statements and the table and index statistics (see
//! `crate::usage`). Exit codes: 0 report printed, 1 the statistics cannot be read
//! (pg_stat_statements missing, not preloaded, not readable) or the connection failed,
//! 2 invalid input.

use super::source::{parse_and_report, SourceFile};
use crate::duration;
use crate::exit;
use crate::usage::{self, catalog::Catalog, stats};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The schema the statements are resolved against.
    #[arg(long)]
    pub schema: PathBuf,
    /// Connection URL or `key=value` string (default: $DATABASE_URL, then the PG* variables).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Statistics younger than this give at most low confidence that something is unused.
    #[arg(long, default_value = "7d", value_parser = duration::parse)]
    pub min_window: std::time::Duration,
    /// The report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `wesley usage`; the result is the exit code ([`crate::exit`]), and an `Err` is
/// reported by `main` with exit code 1.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let src = SourceFile::read(&args.schema)?;
    let Some(schema) = parse_and_report(&src) else {
        return Ok(exit::INVALID);
    };
    let catalog = Catalog::from_model(&schema);
    let reader = match super::Reader::connect(args.database_url.as_deref()) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let (c, conn) = (&reader.client, &reader.conn);
    reader.rt.block_on(async move {
        let statements = match stats::statements(c).await? {
            Ok(s) => s,
            Err(u) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({ "database": conn.to_string(), "available": false, "reason": u.reason, "fix": u.fix })
                    );
                } else {
                    eprintln!("error: cannot tell what {conn} uses: {}.\nTo fix: {}.\nNothing is reported unused without these statistics.", u.reason, u.fix);
                }
                return Ok(exit::FAILED);
            }
        };
        let activity = stats::activity(c).await?;
        let report = usage::report(&statements, &activity, &catalog, args.min_window);
        if args.json {
            let mut v = serde_json::to_value(&report)?;
            v["database"] = serde_json::Value::String(conn.to_string());
            v["available"] = serde_json::Value::Bool(true);
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            print!("{}", report.text());
        }
        Ok(exit::OK)
    })
}
