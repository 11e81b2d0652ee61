//! The `wesley` binary: parses arguments and hands over to [`wesley::cli::run`].

use std::process::ExitCode;

/// mimalloc instead of the system allocator: planning a large schema allocates and frees
/// millions of small strings, and glibc's malloc took about a quarter of `wesley plan`'s
/// time on 10,000 tables (`perf record` of `wesley plan`; ARCHITECTURE.md, "Crates").
/// Built without transparent huge pages (feature `no_thp`): with them, `wesley apply`
/// of a 2,000-step plan peaked at 72 MiB instead of 37 MiB, for no measurable speed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    wesley::cli::main()
}
