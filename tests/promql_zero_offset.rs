//! Zero offsets (`offset 0s`, `offset -0s`, `offset 0`, `@ 0`) as Prometheus 3.5 takes them:
//! valid and meaning no offset, while a zero range (`[0s]`) and a second offset stay errors
//! (issue 14: 26 of 1,580 differential evaluations failed on `offset 0s`). The same promtool
//! unit-test files go through `watchfire test rules` and, when the peer is there
//! (`common::peers`), through promtool 3.5: both must give the same verdict.

mod common;

use std::path::Path;
use std::process::Command;
use watchfire::rules::unittest::{run_test_file, TestOptions};

const RULES: &str = r#"groups:
  - name: zero
    rules:
      - record: m:offset0
        expr: m offset 0s
"#;

/// Cases both programs pass.
const PASSING: &str = r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'm{k="a"}'
        values: "0 10 20 30 40"
    promql_expr_test:
      - expr: m offset 0s
        eval_time: 2m
        exp_samples: [{labels: 'm{k="a"}', value: 20}]
      - expr: m offset -0s
        eval_time: 2m
        exp_samples: [{labels: 'm{k="a"}', value: 20}]
      - expr: m offset 0
        eval_time: 2m
        exp_samples: [{labels: 'm{k="a"}', value: 20}]
      - expr: m offset 0m0s
        eval_time: 2m
        exp_samples: [{labels: 'm{k="a"}', value: 20}]
      - expr: m @ 0
        eval_time: 3m
        exp_samples: [{labels: 'm{k="a"}', value: 0}]
      - expr: m @ 0 offset 0s
        eval_time: 3m
        exp_samples: [{labels: 'm{k="a"}', value: 0}]
      - expr: increase(m[2m] offset 0s)
        eval_time: 4m
        exp_samples: [{labels: '{k="a"}', value: 20}]
      - expr: count_over_time(m[2m:1m] offset 0s)
        eval_time: 4m
        exp_samples: [{labels: '{k="a"}', value: 2}]
      - expr: m:offset0
        eval_time: 3m
        exp_samples: [{labels: 'm:offset0{k="a"}', value: 30}]
"#;

/// Each of these fails in both: the query is refused.
const REFUSED: &[&str] = &["m[0s]", "m offset 1m offset 0s", "m offset 0s offset 1m"];

fn refused_case(expr: &str) -> String {
    format!(
        r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'm{{k="a"}}'
        values: "0 10 20 30 40"
    promql_expr_test:
      - expr: '{expr}'
        eval_time: 2m
        exp_samples: []
"#
    )
}

fn promtool_passes(bin: &Path, dir: &Path, file: &str) -> bool {
    Command::new(bin)
        .current_dir(dir)
        .args(["test", "rules", file])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn zero_offsets_as_prometheus_takes_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let mut files = vec![("passing.yml".to_string(), PASSING.to_string(), true)];
    for (i, q) in REFUSED.iter().enumerate() {
        files.push((format!("refused{i}.yml"), refused_case(q), false));
    }
    let promtool = common::peers::peer("promtool");
    for (name, text, passes) in &files {
        std::fs::write(dir.path().join(name), text).unwrap();
        let ours = run_test_file(&dir.path().join(name), &TestOptions::default());
        assert_eq!(ours.passed(), *passes, "{name}: {:?}", ours.errors);
        if !passes {
            assert!(
                ours.errors.iter().any(|e| e.contains("parse error")),
                "{name}: {:?}",
                ours.errors
            );
        }
        if let Some(bin) = &promtool {
            assert_eq!(
                promtool_passes(bin, dir.path(), name),
                *passes,
                "promtool's verdict on {name}"
            );
        }
    }
}
