//! Loader tests: positions, collected errors, the threshold extension.

use super::*;
use crate::rules::nodata::NoDataPolicy;

fn load(yaml: &str) -> Result<RuleFile, Vec<RuleFileError>> {
    parse_rule_file("r.yml", yaml, LoadOptions::default())
}

fn errors(yaml: &str) -> Vec<String> {
    load(yaml)
        .expect_err("file should be refused")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn loads_groups_and_merges_labels() {
    let f = load(
        "groups:\n- name: g\n  interval: 30s\n  query_offset: 1m\n  limit: 5\n  labels: {team: a, env: p}\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5m\n    keep_firing_for: 1m\n    labels: {team: b}\n    annotations: {z: '1', a: '2'}\n  - record: r:x\n    expr: sum(up)\n",
    )
    .unwrap();
    let g = &f.groups[0];
    assert_eq!(
        (g.interval_ms, g.query_offset_ms, g.limit),
        (Some(30_000), Some(60_000), 5)
    );
    let a = &g.rules[0];
    assert_eq!(
        (a.kind, a.for_ms, a.keep_firing_for_ms),
        (RuleKind::Alerting, 300_000, 60_000)
    );
    assert_eq!(
        a.labels,
        vec![("env".into(), "p".into()), ("team".into(), "b".into())]
    );
    assert_eq!(a.annotations[0].0, "a");
    assert_eq!(a.pos, Pos { line: 8, column: 5 });
    assert_eq!(g.rules[1].kind, RuleKind::Recording);
    assert_eq!(f.rule_count(), 2);
}

#[test]
fn collects_every_error_with_positions() {
    let e = errors(
        "groups:\n- name: g\n  rules:\n  - record: a{b}\n    expr: 1\n    for: 1m\n  - alert: B\n    expr: 'rate(x)'\n    labels: {__name__: x}\n  - alert: C\n    expr: 1\n    for: 5x\n- name: g\n",
    );
    let want = [
        "r.yml:4:13: group \"g\", rule 1, \"a{b}\": invalid field 'for' in recording rule",
        "r.yml:4:13: group \"g\", rule 1, \"a{b}\": braces present in the recording rule name; should it be in expr?: a{b}",
        "r.yml:8:11: group \"g\", rule 2, \"B\": could not parse expression",
        "r.yml:9:14: group \"g\", rule 2, \"B\": invalid label name: __name__",
        "r.yml:12:10: group \"g\", rule 3, \"C\": invalid 'for'",
        "r.yml:13:3: groupname: \"g\" is repeated in the same file",
    ];
    for w in want {
        assert!(
            e.iter().any(|x| x.starts_with(w)),
            "missing {w:?} in {e:#?}"
        );
    }
}

#[test]
fn yaml_errors_carry_positions() {
    let e = load("groups:\n- name: g\n  limit: many\n").unwrap_err();
    assert_eq!(
        e[0].pos,
        Some(Pos {
            line: 3,
            column: 10
        })
    );
    let e = load("groups:\n- name: g\n  rules:\n  - record: a\n    record: b\n").unwrap_err();
    assert!(e[0].message.contains("duplicate"), "{e:?}");
    let e = load("groups: [").unwrap_err();
    assert!(e[0].pos.is_some());
    let e = load("group: []\n").unwrap_err();
    assert!(
        e[0].to_string()
            .starts_with("r.yml:1:1: unknown field `group`"),
        "{e:?}"
    );
}

#[test]
fn unknown_fields_can_be_ignored() {
    let yaml =
        "groups:\n- name: g\n  owner: x\n  rules:\n  - record: a\n    expr: 1\n    team: y\n";
    let e = errors(yaml);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].contains("r.yml:3:3: field owner not found in type group"));
    let opts = LoadOptions {
        ignore_unknown_fields: true,
        ..Default::default()
    };
    assert!(parse_rule_file("r.yml", yaml, opts).is_ok());
}

#[test]
fn empty_and_multi_document_files() {
    assert!(load("").unwrap().groups.is_empty());
    assert!(load("# only a comment\n").unwrap().groups.is_empty());
    let f = load("groups:\n- name: a\n  rules: []\n---\ngroups: [oops\n").unwrap();
    assert_eq!(f.groups.len(), 1);
    assert_eq!(f.warnings.len(), 1);
}

#[test]
fn null_values_read_as_empty() {
    let f = load("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: 1\n    for:\n    labels:\n    annotations: {x: }\n").unwrap();
    let r = &f.groups[0].rules[0];
    assert_eq!(r.for_ms, 0);
    assert_eq!(r.annotations, vec![("x".to_string(), String::new())]);
}

#[test]
fn legacy_name_validation() {
    let yaml = "groups:\n- name: g\n  rules:\n  - record: a-b\n    expr: 1\n    labels: {x-y: z}\n";
    assert!(load(yaml).is_ok());
    let opts = LoadOptions {
        name_validation: NameValidation::Legacy,
        ..Default::default()
    };
    let e = parse_rule_file("r.yml", yaml, opts).unwrap_err();
    let text: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("invalid recording rule name: a-b")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("invalid label name: x-y")),
        "{text:?}"
    );
}

#[test]
fn thresholds_are_validated_at_load() {
    let ok = load(
        "groups:\n- name: g\n  rules:\n  - alert: L\n    expr: x\n    thresholds:\n      warning: 2s\n      critical: 5s\n      clear: 1.8s\n      overrides:\n      - matchers: ['module=~\"batch-.*\"']\n        warning: 10s\n        critical: 30s\n",
    )
    .unwrap();
    let t = ok.groups[0].rules[0].thresholds.as_ref().unwrap();
    assert_eq!(
        (t.levels.warning, t.levels.critical, t.levels.clear),
        (Some(2.0), Some(5.0), Some(1.8))
    );
    assert_eq!(t.overrides[0].levels.critical, Some(30.0));
    let below = load("groups:\n- name: g\n  rules:\n  - alert: T\n    expr: x\n    thresholds: {warning: 100, critical: 50, direction: below}\n");
    assert!(below.is_ok());
    let e = errors(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    labels: {severity: page}\n    thresholds: {warning: 5, critical: 2}\n  - alert: B\n    expr: x\n    thresholds: {warning: 5, clear: 6}\n  - alert: C\n    expr: x\n    thresholds: {direction: sideways, critical: 1}\n  - alert: D\n    expr: x\n    thresholds: {clear: 1}\n  - alert: E\n    expr: x\n    thresholds: {warning: 1, overrides: [{matchers: ['a=~\"(\"'], warning: 2}]}\n  - alert: F\n    expr: x\n    thresholds: {warning: soon}\n  - record: G\n    expr: x\n    thresholds: {warning: 1}",
    );
    let want = [
        "r.yml:7:17: group \"g\", rule 1, \"A\": a rule with thresholds must not set the label 'severity'",
        "rule 1, \"A\": thresholds: critical (2) must be above warning (5)",
        "rule 2, \"B\": thresholds: clear (6) must be below the warning level (5)",
        "r.yml:13:29: group \"g\", rule 3, \"C\": invalid direction \"sideways\"",
        "rule 4, \"D\": thresholds: at least one of 'warning' and 'critical' must be set",
        "rule 5, \"E\": thresholds override 1: invalid matcher",
        "rule 6, \"F\": invalid level \"soon\"",
        "rule 7, \"G\": invalid field 'thresholds' in recording rule",
    ];
    for w in want {
        assert!(e.iter().any(|x| x.contains(w)), "missing {w:?} in {e:#?}");
    }
}

#[test]
fn no_data_policy_loads_with_defaults() {
    let f = load("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n  - alert: B\n    expr: x\n    no_data: resolve\n  - alert: C\n    expr: x\n    thresholds: {warning: 1}\n    no_data: keep_state\n    no_data_for: 10m\n  - alert: D\n    expr: x\n    no_data: alert\n").unwrap();
    let r = &f.groups[0].rules;
    let got: Vec<_> = r.iter().map(|r| (r.no_data, r.no_data_for_ms)).collect();
    assert_eq!(
        got,
        [
            (NoDataPolicy::KeepState, None),
            (NoDataPolicy::Resolve, None),
            (NoDataPolicy::KeepState, Some(600_000)),
            (NoDataPolicy::Alert, None),
        ]
    );
    let b = load("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    no_data: resolve\n")
        .unwrap();
    assert!(!r[0].same_definition(&b.groups[0].rules[0]));
}

#[test]
fn no_data_policy_errors_have_positions() {
    let e = errors("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    no_data: fire\n  - alert: B\n    expr: x\n    no_data: resolve\n    no_data_for: 5m\n  - alert: C\n    expr: x\n    no_data_for: 0s\n  - alert: D\n    expr: x\n    no_data_for: soon\n  - record: E\n    expr: x\n    no_data: resolve\n    no_data_for: 1m\n");
    let want = [
        "r.yml:6:14: group \"g\", rule 1, \"A\": invalid 'no_data': \"fire\" is not one of keep_state, resolve, alert",
        "r.yml:10:18: group \"g\", rule 2, \"B\": 'no_data_for' applies only to 'no_data: keep_state', not resolve",
        "r.yml:13:18: group \"g\", rule 3, \"C\": invalid 'no_data_for': must be greater than 0",
        "r.yml:16:18: group \"g\", rule 4, \"D\": invalid 'no_data_for':",
        "rule 5, \"E\": invalid field 'no_data' in recording rule",
        "rule 5, \"E\": invalid field 'no_data_for' in recording rule",
    ];
    for w in want {
        assert!(e.iter().any(|x| x.contains(w)), "missing {w:?} in {e:#?}");
    }
    // A rule key, not a threshold key.
    let e = errors("groups:\n- name: g\n  rules:\n  - alert: H\n    expr: x\n    thresholds: {warning: 1, no_data: alert}\n");
    assert!(
        e[0].starts_with("r.yml:6:30: unknown field `no_data`"),
        "{e:?}"
    );
}

#[test]
fn alert_templates_are_checked_at_load() {
    let e = errors(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    labels: {l: '{{ $nope }}'}\n",
    );
    assert!(e[0].contains("r.yml:6:14: group \"g\", rule 1, \"A\": label \"l\": template: __alert_A:1:4: undefined variable \"$nope\""), "{e:?}");
}

#[test]
fn same_definition_compares_everything_but_position() {
    let a = load("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n").unwrap();
    let b = load("groups:\n- name: g\n  rules:\n\n  - alert: A\n    expr: x\n").unwrap();
    let c = load("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    for: 1m\n").unwrap();
    assert!(a.groups[0].rules[0].same_definition(&b.groups[0].rules[0]));
    assert!(!a.groups[0].rules[0].same_definition(&c.groups[0].rules[0]));
}

#[test]
fn evaluation_mode_is_read_and_checked() {
    let f = load(
        "groups:\n- name: g\n  evaluation: on_scrape\n  rules:\n  - alert: A\n    expr: up == 0\n",
    )
    .unwrap();
    assert_eq!(f.groups[0].evaluation, EvaluationMode::OnScrape);
    let f = load("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n").unwrap();
    assert_eq!(f.groups[0].evaluation, EvaluationMode::Interval);
    let e = errors(
        "groups:\n- name: g\n  evaluation: sometimes\n  rules:\n  - alert: A\n    expr: up == 0\n",
    );
    assert!(
        e[0].contains("r.yml:3:15") && e[0].contains("invalid 'evaluation': \"sometimes\""),
        "{e:?}"
    );
}

/// Issue 10: nesting beyond the limits is refused with a position, never overflows.
#[test]
fn too_deep_yaml_and_expressions_are_refused() {
    let deep_yaml = format!(
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        labels: {}{}\n",
        "{a: ".repeat(10_000),
        "}".repeat(10_000)
    );
    let e = errors(&deep_yaml).join("\n");
    assert!(e.starts_with("r.yml:6:"), "{e}");
    let deep_expr = format!(
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: {}\n",
        vec!["up"; 600].join(" or ")
    );
    let e = errors(&deep_expr).join("\n");
    assert!(
        e.starts_with("r.yml:5:15: ")
            && e.contains("could not parse expression: 1:")
            && e.ends_with("expression nested too deeply (limit 512)"),
        "{e}"
    );
}
