//! The `watchfire` binary: the command line ([`cli`]) over the library.

mod cli;

/// jemalloc with its background purge thread instead of glibc malloc: see
/// ARCHITECTURE.md, "Dependencies and why" (measured with
/// `tests/hostile_churn.rs`).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
