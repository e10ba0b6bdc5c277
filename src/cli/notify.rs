//! `watchfire test receivers` and `watchfire render`: try the configured
//! notification integrations without running the server.

use chrono::Utc;
use std::path::Path;
use std::process::ExitCode;
use watchfire::config;
use watchfire::model::Labels;
use watchfire::notify::{self, NotifyAlert};

fn load(file: &Path) -> Result<config::Config, ExitCode> {
    config::load(file).map_err(|errors| {
        for l in errors.lines() {
            eprintln!("  FAILED: {l}");
        }
        ExitCode::FAILURE
    })
}

/// Sends one test notification through every configured integration.
pub fn test_receivers(file: &Path, external_url: &str) -> ExitCode {
    let cfg = match load(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcomes = match rt.block_on(notify::test_receivers(&cfg, external_url)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for o in &outcomes {
        match &o.result {
            Ok(()) => println!("{}/{}: OK", o.receiver, o.integration),
            Err(e) => {
                failed = true;
                println!("{}/{}: FAILED: {e}", o.receiver, o.integration);
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints what each integration would send for one firing alert with `labels`
/// (`name=value` pairs).
pub fn render(file: &Path, labels: &[String], external_url: &str) -> ExitCode {
    let cfg = match load(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut pairs = Vec::new();
    for l in labels {
        let Some((k, v)) = l.split_once('=') else {
            eprintln!("error: --alert label {l:?} is not name=value");
            return ExitCode::FAILURE;
        };
        pairs.push((k.trim().to_string(), v.trim().trim_matches('"').to_string()));
    }
    if !pairs.iter().any(|(k, _)| k == "alertname") {
        pairs.push(("alertname".into(), "TestAlert".into()));
    }
    let alert = NotifyAlert::firing(Labels::from_pairs(pairs), Utc::now());
    match notify::render(&cfg, &[alert], external_url) {
        Ok(rendered) => {
            if rendered.is_empty() {
                println!("(no integration receives this alert)");
            }
            for r in rendered {
                println!("== {}/{}", r.receiver, r.integration);
                match r.output {
                    Ok(text) => println!("{text}"),
                    Err(e) => println!("error: {e}"),
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
