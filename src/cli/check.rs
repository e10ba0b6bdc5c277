//! `watchfire check config FILE`: every problem printed, exit 0 or 1.

use std::path::Path;
use std::process::ExitCode;

/// Checks one configuration file.
pub fn config(file: &Path) -> ExitCode {
    println!("Checking {}", file.display());
    match crate::config::check_config(file) {
        Ok(summary) => {
            println!("  SUCCESS: {summary}");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("  FAILED: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
