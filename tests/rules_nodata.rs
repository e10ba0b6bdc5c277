//! The `no_data:` policy through the promtool unit-test format and
//! `watchfire check rules`: a target stops answering (its series goes stale,
//! `up` drops to 0) and each policy holds or resolves its alert.

use std::path::Path;
use watchfire::rules::check::{check_rule_files, CheckOptions};
use watchfire::rules::unittest::{run_test_file, TestOptions};

const RULES: &str = r#"groups:
  - name: temperature
    rules:
      # Threshold rules: the series leaving the result is missing data.
      - alert: Hot
        expr: temp_celsius
        thresholds: {warning: 50}
      - alert: HotResolve
        expr: temp_celsius
        thresholds: {warning: 50}
        no_data: resolve
      - alert: HotAlert
        expr: temp_celsius
        thresholds: {warning: 50}
        no_data: alert
      # A plain rule: missing only while the target's `up` is 0.
      - alert: Overheat
        expr: temp_celsius > 50
        no_data_for: 3m
"#;

/// temp is 60 at 0 and 1m, then stale; up is 0 at 2m and 3m, then 1 again.
const TEST: &str = r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'temp_celsius{job="app", instance="a:1"}'
        values: "60 60 stale"
      - series: 'up{job="app", instance="a:1"}'
        values: "1 1 0 0 1x10"
    alert_rule_test:
      - eval_time: 1m
        alertname: Hot
        exp_alerts:
          - exp_labels: {job: app, instance: a:1, severity: warning}
      - eval_time: 1m
        alertname: Overheat
        exp_alerts:
          - exp_labels: {job: app, instance: a:1}
      # Data missing from 2m: keep_state holds (with the marker), resolve does not.
      - eval_time: 3m
        alertname: Hot
        exp_alerts:
          - exp_labels: {job: app, instance: a:1, severity: warning}
            exp_annotations: {data_missing: "true"}
      - eval_time: 2m
        alertname: HotResolve
        exp_alerts: []
      - eval_time: 3m
        alertname: Overheat
        exp_alerts:
          - exp_labels: {job: app, instance: a:1}
            exp_annotations: {data_missing: "true"}
      # The target answers again at 4m and the series is gone: recovered, as in
      # Prometheus. The threshold rule still holds: its series is still missing.
      - eval_time: 4m
        alertname: Overheat
        exp_alerts: []
      # keep_state's default bound: 5 evaluations (2m to 6m), resolved at 7m.
      - eval_time: 6m
        alertname: Hot
        exp_alerts:
          - exp_labels: {job: app, instance: a:1, severity: warning}
            exp_annotations: {data_missing: "true"}
      - eval_time: 7m
        alertname: Hot
        exp_alerts: []
      # `alert` holds until data returns.
      - eval_time: 12m
        alertname: HotAlert
        exp_alerts:
          - exp_labels: {job: app, instance: a:1, severity: warning}
            exp_annotations: {data_missing: "true"}
    promql_expr_test:
      - expr: count by (alertname) (ALERTS{alertstate="firing"})
        eval_time: 5m
        exp_samples:
          - labels: '{alertname="Hot"}'
            value: 1
          - labels: '{alertname="HotAlert"}'
            value: 1
"#;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn policies_in_the_unit_test_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = write(dir.path(), "rules.yml", RULES);
    let checked = check_rule_files(&[rules], CheckOptions::default());
    assert!(checked[0].result.is_ok(), "{:?}", checked[0].result);
    let test = write(dir.path(), "test.yml", TEST);
    let res = run_test_file(&test, &TestOptions::default());
    assert!(res.passed(), "{:#?}", res.errors);
}

#[test]
fn a_hold_past_the_bound_fails_the_unit_test() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "rules.yml", RULES);
    let wrong = TEST.replace("eval_time: 6m", "eval_time: 7m");
    let test = write(dir.path(), "test.yml", &wrong);
    let res = run_test_file(&test, &TestOptions::default());
    assert!(!res.passed());
    assert!(
        res.errors.iter().any(|e| e.contains("alertname: Hot")),
        "{:#?}",
        res.errors
    );
}

#[test]
fn check_rules_reports_bad_policies_with_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(
        dir.path(),
        "bad.yml",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        no_data: sometimes\n",
    );
    let checked = check_rule_files(&[bad], CheckOptions::default());
    let errs = checked[0].result.as_ref().expect_err("refused");
    let text = errs[0].to_string();
    assert!(
        text.ends_with(
            "bad.yml:6:18: group \"g\", rule 1, \"A\": invalid 'no_data': \"sometimes\" is not one of keep_state, resolve, alert"
        ),
        "{text}"
    );
}
