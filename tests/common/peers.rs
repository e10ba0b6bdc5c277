//! The peer programs the differential tests run: Prometheus 3.5, promtool, Alertmanager 0.33
//! and amtool from `../shared/tools/fetch-peers.sh`, which `.ci/run` unpacks into `/opt/peers`.
//! `PEERS_BIN` names another `usr/bin` of theirs.
//!
//! Outside CI a missing peer skips the comparison with a message; under CI (`CI` set) it fails
//! the test, so a broken install step cannot hide behind a green run.

use std::path::PathBuf;
use std::process::Command;

/// The directory the peers are taken from.
pub fn dir() -> PathBuf {
    std::env::var_os("PEERS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/peers/usr/bin"))
}

/// `name` from [`dir`], when it is there and (for the Prometheus programs) version 3 or
/// later; otherwise `None` after saying why, and a failure under CI.
pub fn peer(name: &str) -> Option<PathBuf> {
    let bin = dir().join(name);
    let problem = if !bin.is_file() {
        Some("absent".to_string())
    } else if matches!(name, "prometheus" | "promtool") {
        major_version(&bin)
            .filter(|major| *major < 3)
            .map(|major| format!("version {major}, older than 3"))
    } else {
        None
    };
    let Some(problem) = problem else {
        return Some(bin);
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is {problem} in CI: .ci/run's fetch-peers step should provide it",
        bin.display()
    );
    eprintln!(
        "skipped: {} is {problem} (run ../shared/tools/fetch-peers.sh or set PEERS_BIN)",
        bin.display()
    );
    None
}

/// The major version a program prints for `--version`.
fn major_version(bin: &std::path::Path) -> Option<u32> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let version = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)?;
    version.split('.').next()?.parse().ok()
}
