//! `watchfire test rules` over the promtool unit-test corpus: the same
//! pass/fail as `promtool test rules` (Prometheus 3.14, with `@` and
//! negative offsets enabled as its command line does). The expectations are
//! checked in below (from `conformance/promtool-test-format.md` §6.1); when
//! a promtool of major version 3 or later is installed, its verdict is
//! compared too.

use std::path::{Path, PathBuf};
use std::process::Command;
use watchfire::rules::unittest::{run_test_file, TestOptions};

/// (file, --run regexes, --ignore-unknown-fields, upstream passes)
const CASES: &[(&str, &[&str], bool, bool)] = &[
    ("unittest.yml", &[], false, true),
    ("long-period.yml", &[], false, true),
    ("no-test-group-interval.yml", &[], false, true),
    ("start-time-test.yml", &[], false, true),
    ("failing.yml", &[], false, false),
    ("bad-input-series.yml", &[], false, false),
    ("bad-promql.yml", &[], false, false),
    ("bad-rules-error-test.yml", &[], false, false),
    ("bad-rules-syntax-test.yml", &[], false, false),
    ("at-modifier-test.yml", &[], false, true),
    ("negative-offset-test.yml", &[], false, true),
    ("rules_run.yml", &[], false, false),
    ("rules_run.yml", &["correct"], false, true),
    ("rules_run.yml", &["wrong"], false, false),
    ("rules_run.yml", &["correct", "wrong"], false, false),
    ("rules_run_extrafields.yml", &[], true, true),
    ("rules_run_extrafields.yml", &[], false, false),
    ("rules_run_fuzzy.yml", &["correct"], false, true),
    ("rules_run_fuzzy.yml", &["wrong"], false, false),
    ("rules_run_no_fuzzy.yml", &[], false, false),
];

/// Files whose upstream result needs something watchfire does not have, with why.
const KNOWN_GAPS: &[(&str, &str)] = &[("unittest.yml", "native histogram input series")];

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/rules/promtool"
    ));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: conformance folder {} is absent", dir.display());
        None
    }
}

/// The installed promtool, when it is version 3 or later.
fn modern_promtool() -> Option<PathBuf> {
    let out = Command::new("promtool").arg("--version").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let version = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)?
        .to_string();
    let major: u32 = version.split('.').next()?.parse().ok()?;
    if major >= 3 {
        Some(PathBuf::from("promtool"))
    } else {
        eprintln!("note: installed promtool {version} predates this format (start_timestamp, fuzzy_compare, histograms); using the checked-in expectations");
        None
    }
}

fn promtool_passes(bin: &Path, dir: &Path, file: &str, run: &[&str], ignore_unknown: bool) -> bool {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir).args([
        "test",
        "rules",
        "--enable-feature=promql-at-modifier,promql-negative-offset",
    ]);
    for r in run {
        cmd.arg(format!("--run={r}"));
    }
    if ignore_unknown {
        cmd.arg("--ignore-unknown-fields");
    }
    cmd.arg(file);
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

/// Whether the PromQL evaluator is built (the interface returns errors until then).
fn evaluator_available() -> bool {
    let store = watchfire::store::Store::new(Default::default());
    let expr = watchfire::promql::parse("1").expect("parses");
    let ok = watchfire::promql::Engine::default()
        .instant_query(&store, &expr, 0)
        .is_ok();
    if !ok {
        eprintln!("skipping: the PromQL evaluator is not built on this branch yet");
    }
    ok
}

#[test]
fn promtool_corpus_same_pass_fail() {
    let Some(dir) = corpus() else { return };
    if !evaluator_available() {
        return;
    }
    let promtool = modern_promtool();
    let mut mismatches = Vec::new();
    for (file, run, ignore_unknown, upstream) in CASES {
        let opts = TestOptions {
            run: run.iter().map(|s| s.to_string()).collect(),
            ignore_unknown_fields: *ignore_unknown,
            ..Default::default()
        };
        let res = run_test_file(&dir.join(file), &opts);
        if let Some(bin) = &promtool {
            let theirs = promtool_passes(bin, &dir, file, run, *ignore_unknown);
            assert_eq!(
                theirs, *upstream,
                "installed promtool disagrees with the expectation for {file} {run:?}"
            );
        }
        if res.passed() == *upstream {
            continue;
        }
        if let Some((_, why)) = KNOWN_GAPS.iter().find(|(f, _)| f == file) {
            eprintln!("known gap: {file} {run:?}: {why}: {:?}", res.errors);
            continue;
        }
        mismatches.push(format!(
            "{file} {run:?}: upstream passes={upstream}, ours={:?}",
            res.errors
        ));
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn failure_messages_look_like_promtool() {
    let Some(dir) = corpus() else { return };
    let res = run_test_file(
        &dir.join("bad-rules-syntax-test.yml"),
        &TestOptions::default(),
    );
    assert!(res.errors.iter().any(|e| e.contains("bad-rules-syntax.yml:7:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression")), "{:?}", res.errors);
    let res = run_test_file(&dir.join("bad-input-series.yml"), &TestOptions::default());
    assert!(!res.passed());
}

#[test]
fn threshold_rules_carry_severity_in_exp_labels() {
    if !evaluator_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        r#"groups:
  - name: latency
    rules:
      - alert: HighLatency
        expr: latency_seconds
        for: 1m
        thresholds:
          warning: 2s
          critical: 5s
          clear: 1.8s
          overrides:
            - matchers: ['module=~"batch-.*"']
              warning: 10s
              critical: 30s
        annotations:
          summary: "{{ $labels.module }} is {{ $severity }}: {{ $value }}s over {{ $threshold }}s"
"#,
    )
    .unwrap();
    let test = r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'latency_seconds{module="web"}'
        values: "1 3 3 6 6 1.9 1"
      - series: 'latency_seconds{module="batch-1"}'
        values: "6x6"
    alert_rule_test:
      - eval_time: 1m
        alertname: HighLatency
        exp_alerts: []
      - eval_time: 2m
        alertname: HighLatency
        exp_alerts:
          - exp_labels: {module: web, severity: warning}
            exp_annotations: {summary: "web is warning: 3s over 2s"}
      - eval_time: 4m
        alertname: HighLatency
        exp_alerts:
          - exp_labels: {module: web, severity: critical}
            exp_annotations: {summary: "web is critical: 6s over 5s"}
      - eval_time: 5m
        alertname: HighLatency
        exp_alerts:
          - exp_labels: {module: web, severity: warning}
            exp_annotations: {summary: "web is warning: 1.9s over 2s"}
      - eval_time: 6m
        alertname: HighLatency
        exp_alerts: []
    promql_expr_test:
      - expr: ALERTS{alertstate="firing"}
        eval_time: 4m
        exp_samples:
          - labels: 'ALERTS{alertname="HighLatency", alertstate="firing", module="web", severity="critical"}'
            value: 1
"#;
    let path = dir.path().join("test.yml");
    std::fs::write(&path, test).unwrap();
    let res = run_test_file(&path, &TestOptions::default());
    assert!(res.passed(), "{:#?}", res.errors);
    std::fs::write(
        &path,
        test.replace(
            "{module: web, severity: critical}",
            "{module: web, severity: warning}",
        ),
    )
    .unwrap();
    let res = run_test_file(&path, &TestOptions::default());
    assert_eq!(res.errors.len(), 1, "{:#?}", res.errors);
    assert!(
        res.errors[0].starts_with("    alertname: HighLatency, time: 4m, \n        exp:[\n"),
        "{}",
        res.errors[0]
    );
    assert!(
        res.errors[0]
            .contains("Labels:{alertname=\"HighLatency\", module=\"web\", severity=\"critical\"}"),
        "{}",
        res.errors[0]
    );
}
