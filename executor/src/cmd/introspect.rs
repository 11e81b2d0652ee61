//! `wesley introspect [--database-url URL] [--schema public,...] [-o schema.graphql]`:
//! writes Wesley SDL describing an existing database (see [`crate::sdl_writer`]). What the
//! dialect cannot express is listed at the top of the file and on stderr; that is a
//! warning, not a failure (exit 0).

use crate::apply::connect::ConnInfo;
use crate::exit;
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Connection URL or `key=value` string (default: $DATABASE_URL, then the PG* variables).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The PostgreSQL schemas to describe, comma-separated (default: every schema but the
    /// system ones and Wesley's ledger `wesley`).
    #[arg(long, value_name = "SCHEMA,...", value_delimiter = ',')]
    pub schema: Vec<String>,
    /// Write the SDL to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Runs `wesley introspect`; the result is the exit code ([`crate::exit`]), and an `Err` is
/// reported by `main` with exit code 1.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let conn = match ConnInfo::resolve(args.database_url.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let schemas: Vec<String> = args
        .schema
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let got = rt.block_on(async {
        let c = conn.connect().await?;
        crate::live::introspect(&c, &schemas).await
    });
    let got = match got {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {}", conn.redact(&e.to_string()));
            return Ok(exit::FAILED);
        }
    };
    crate::output::write(args.output.as_deref(), &got.text).context("writing output")?;
    let target = args
        .output
        .as_ref()
        .filter(|p| p.as_os_str() != "-")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the output".into());
    if !got.notes.is_empty() {
        eprintln!(
            "warning: {} object(s) are not in the dialect and not described by {target} (listed at its top):",
            got.notes.len()
        );
        for n in &got.notes {
            eprintln!("  - {n}");
        }
    }
    if !got.differences.is_empty() {
        eprintln!(
            "warning: {target} differs from {conn} in {} way(s):",
            got.differences.len()
        );
        for d in &got.differences {
            eprintln!("  - {d}");
        }
    }
    Ok(exit::OK)
}
