//! `wesley generate SCHEMA.graphql [-o FILE] [--format sql|json|typescript] [--ts-dates date|string]`.

use super::source::{parse_and_report, SourceFile};
use crate::exit;
use anyhow::Context;
use std::path::PathBuf;
use wesley_planner::{canon, ddl, typescript};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The SDL file (`-` reads standard input).
    pub schema: PathBuf,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// `sql`: DDL for an empty database; `json`: the model, its canonical form and hash;
    /// `typescript`: row, insert and update types for node-postgres (docs/typescript.md).
    #[arg(long, value_enum, default_value = "sql")]
    pub format: Format,
    /// With `--format typescript`: `date` types date and time stamp columns as `Date`
    /// (node-postgres' default), `string` as text (the file's header shows the parsers
    /// that make node-postgres return text).
    #[arg(long, value_enum, default_value = "date")]
    pub ts_dates: TsDates,
}

/// `--ts-dates`: how `date`, `timestamp` and `timestamptz` columns are typed.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum TsDates {
    /// `Date` objects (node-postgres's default)
    Date,
    /// The server's text (register the type parsers the file's header names)
    String,
}

/// `--format`: what `wesley generate` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    /// The DDL of the whole schema, for psql
    Sql,
    /// The validated model, with its canonical hash
    Json,
    /// TypeScript types for node-postgres (docs/typescript.md)
    Typescript,
}

/// Runs `wesley generate`; the result is the exit code ([`crate::exit`]), and an `Err` is
/// reported by `main` with exit code 1.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let src = SourceFile::read(&args.schema)?;
    let Some(schema) = parse_and_report(&src) else {
        return Ok(exit::INVALID);
    };
    let text = match args.format {
        Format::Sql => ddl::generate(&schema),
        Format::Json => {
            let canonical = canon::canonical(&schema);
            let doc = serde_json::json!({
                "schema_hash": canonical.hash(),
                "model": schema,
                "canonical": canonical,
            });
            serde_json::to_string_pretty(&doc)? + "\n"
        }
        Format::Typescript => {
            let dates = match args.ts_dates {
                TsDates::Date => typescript::Dates::Date,
                TsDates::String => typescript::Dates::String,
            };
            typescript::generate(&schema, &typescript::Options { dates })
        }
    };
    crate::output::write(args.output.as_deref(), &text).context("writing output")?;
    Ok(exit::OK)
}
