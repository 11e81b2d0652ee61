//! Command-line definition and dispatch; the exit codes are in [`crate::exit`].

use crate::cmd;
use crate::exit;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "wesley",
    version,
    about = "Schema-first, zero-downtime PostgreSQL migrations from GraphQL SDL"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the complete DDL for a schema, for an empty database.
    Generate(cmd::generate::Args),
    /// Plan the migration from one schema to another and judge its hazards.
    Plan(cmd::plan::Args),
    /// Apply a plan file to a database: resumable, one run at a time, with retries.
    Apply(cmd::apply::Args),
    /// Undo a plan that ran (partly or fully) before its contract phase: inverse steps,
    /// resumable, with the same safety as apply.
    Rollback(cmd::rollback::Args),
    /// Show applied, pending and failed steps of a plan, and a rollback's progress.
    Status(cmd::status::Args),
    /// Compare a live database with a schema file.
    Drift(cmd::drift::Args),
    /// Write Wesley SDL describing an existing database.
    Introspect(cmd::introspect::Args),
    /// Watch a schema file and plan (or apply) every saved change against a database.
    Watch(cmd::watch::Args),
    /// Rehearse a migration on a throwaway local PostgreSQL cluster, with sample data.
    Rehearse(cmd::rehearse::Args),
    /// Which tables, columns and indexes the database's workload uses (pg_stat_statements).
    Usage(cmd::usage::Args),
}

/// Parses the command line, runs the command, and maps errors to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILED)
        }
    }
}

/// Runs the parsed command; the `u8` is the exit code ([`crate::exit`]).
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Generate(args) => cmd::generate::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Rehearse(args) => cmd::rehearse::run(args),
        Command::Apply(args) => cmd::apply::run(args),
        Command::Rollback(args) => cmd::rollback::run(args),
        Command::Status(args) => cmd::status::run(args),
        Command::Drift(args) => cmd::drift::run(args),
        Command::Introspect(args) => cmd::introspect::run(args),
        Command::Watch(args) => cmd::watch::run(args),
        Command::Usage(args) => cmd::usage::run(args),
    }
}
