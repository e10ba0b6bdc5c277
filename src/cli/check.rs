//! `watchfire check config`, `check rules`, `check web-config` and `test rules`: every problem
//! printed, exit 0 or 1, output shaped like promtool's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Checks one configuration file, or a Prometheus file with its Alertmanager file.
pub fn config(file: &Path, alertmanager: Option<&Path>, syntax_only: bool) -> ExitCode {
    println!("Checking {}", file.display());
    if let Some(am) = alertmanager {
        println!("Checking {}", am.display());
    }
    let options = watchfire::config::CheckOptions { syntax_only };
    match watchfire::config::check_config_with(file, alertmanager, options) {
        Ok(summary) => {
            // Rule groups naming a datasource the configuration does not have.
            let unknown = watchfire::config::load_files(file, alertmanager)
                .map(|c| watchfire::rules::datasource::check_rule_files(&c, &summary.rule_files))
                .unwrap_or_default();
            if !unknown.is_empty() {
                for e in &unknown {
                    eprintln!("  FAILED: {e}");
                }
                return ExitCode::FAILURE;
            }
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

/// Checks rule files as `promtool check rules` does.
pub fn rules(files: &[PathBuf]) -> ExitCode {
    let code = watchfire::rules::check::check_rules_command(
        files,
        Default::default(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    exit_code(code)
}

/// Runs rule unit-test files as `promtool test rules` does.
pub fn test_rules(files: &[PathBuf], run: Vec<String>) -> ExitCode {
    let opts = watchfire::rules::unittest::TestOptions {
        run,
        ..Default::default()
    };
    let code = watchfire::rules::unittest::test_rules_command(
        files,
        &opts,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    exit_code(code)
}

fn exit_code(code: std::io::Result<i32>) -> ExitCode {
    match code {
        Ok(0) => ExitCode::SUCCESS,
        Ok(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `watchfire check web-config`: each file loaded as the server would, certificates and keys
/// parsed; prints `FILE SUCCESS` or the problems, as `promtool check web-config` does.
pub fn web_config(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for file in files {
        match watchfire::engine::check_web_config(file) {
            Ok(()) => println!("{} SUCCESS", file.display()),
            Err(e) => {
                failed = true;
                eprintln!("{} FAILED: {e}", file.display());
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
