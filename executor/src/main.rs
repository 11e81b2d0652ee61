//! The `wesley` binary: parses arguments and hands over to [`wesley::cli::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    wesley::cli::main()
}
