//! The `wesley` binary: parses arguments and hands over to [`wesley::cli::run`].

use std::process::ExitCode;

/// mimalloc instead of the system allocator: planning a large schema allocates and frees
/// millions of small strings, and glibc's malloc took about a quarter of `wesley plan`'s
/// time on 10,000 tables (`perf record` of `wesley plan`; ARCHITECTURE.md, "Crates").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    wesley::cli::main()
}
