//! The `watchfire` binary: flags are parsed and dispatched by the library.

fn main() -> std::process::ExitCode {
    watchfire::cli::main()
}
