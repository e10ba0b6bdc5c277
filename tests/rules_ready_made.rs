//! The ready-made rule files in `rules/` load without errors and their unit
//! tests (`rules/tests/*.test.yml`) pass.

use std::path::PathBuf;
use watchfire::rules::check::{check_rule_files, CheckOptions};
use watchfire::rules::unittest::{run_test_file, TestOptions};

fn files(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/")).join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(suffix));
    v.sort();
    v
}

#[test]
fn ready_made_rule_files_load() {
    let rule_files = files("rules", ".yml");
    assert!(!rule_files.is_empty(), "no rule files in rules/");
    for fc in check_rule_files(&rule_files, CheckOptions::default()) {
        assert!(fc.result.is_ok(), "{}: {:#?}", fc.path, fc.result.err());
    }
}

#[test]
fn ready_made_rule_tests_pass() {
    let tests = files("rules/tests", ".test.yml");
    assert!(!tests.is_empty(), "no unit tests in rules/tests/");
    for t in tests {
        let res = run_test_file(&t, &TestOptions::default());
        assert!(res.passed(), "{}:\n{}", res.path, res.errors.join("\n"));
    }
}
