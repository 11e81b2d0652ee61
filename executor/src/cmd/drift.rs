//! `wesley drift --schema S.graphql`: compares a live database with an SDL file and exits
//! 3 when they differ (0 when they match).

use super::source::{parse_and_report, SourceFile};
use crate::apply::{drift, exprs};
use crate::exit;
use std::path::PathBuf;
use wesley_planner::canon;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The schema the database should have.
    #[arg(long)]
    pub schema: PathBuf,
    /// Connection URL or `key=value` string (default: $DATABASE_URL, then the PG* variables).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Print one JSON object: both hashes and the differences in words.
    #[arg(long)]
    pub json: bool,
}

/// Runs `wesley drift`; the result is the exit code ([`crate::exit`]), and an `Err` is
/// reported by `main` with exit code 1.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let src = SourceFile::read(&args.schema)?;
    let Some(schema) = parse_and_report(&src) else {
        return Ok(exit::INVALID);
    };
    let want = canon::canonical(&schema);
    let reader = match super::Reader::connect(args.database_url.as_deref()) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let (c, conn) = (&reader.client, &reader.conn);
    reader.rt.block_on(async move {
        let expected = canon::expressions(&schema);
        let (live, expr_diffs) = exprs::alongside(
            &reader.pinned,
            None,
            c,
            &expected,
            &exprs::Known::default(),
            drift::live(c),
        ).await;
        let live = live?.as_expected_by(&want.extensions);
        let mut diffs = drift::describe(&want, &live);
        let expr_diffs = expr_diffs?.0;
        let matches = live.hash() == want.hash() && expr_diffs.is_empty();
        diffs.extend(expr_diffs);
        if args.json {
            println!("{}", serde_json::json!({ "database": conn.to_string(), "schema": args.schema.display().to_string(), "expected_hash": want.hash(), "live_hash": live.hash(), "differences": diffs }));
        } else if matches {
            println!("{conn} matches {} ({})", args.schema.display(), want.hash());
        } else {
            println!("{conn} differs from {}:", args.schema.display());
            for d in &diffs {
                println!("  - {d}");
            }
            if diffs.is_empty() {
                println!("  - the catalog hashes to {} instead of {}", live.hash(), want.hash());
            }
        }
        Ok(if matches { exit::OK } else { exit::REFUSED })
    })
}
