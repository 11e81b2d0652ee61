//! `wesley generate SCHEMA.graphql [-o FILE] [--format sql|json]`.

use super::source::{parse_and_report, SourceFile};
use crate::exit;
use anyhow::Context;
use std::path::PathBuf;
use wesley_planner::{canon, ddl};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The SDL file (`-` reads standard input).
    pub schema: PathBuf,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// `sql`: DDL for an empty database; `json`: the model, its canonical form and hash.
    #[arg(long, value_enum, default_value = "sql")]
    pub format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    Sql,
    Json,
}

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
    };
    crate::output::write(args.output.as_deref(), &text).context("writing output")?;
    Ok(exit::OK)
}
