//! Tests of the notification sections (`route`, `receivers`, `inhibit_rules`, `alerting`).

use super::*;
use crate::config::{parse_with_env, Config};
use std::path::Path;

fn no_env(_: &str) -> Option<String> {
    None
}

fn load(text: &str) -> Result<Config, Vec<String>> {
    parse_with_env(text, Path::new("c.yml"), &no_env).map_err(|e| e.lines())
}

const FULL: &str = r#"
route:
  receiver: ops
  group_by: [alertname, cluster]
  routes:
    - matchers: ['team="db"', 'severity=~"critical|page"']
      receiver: db
      group_wait: 10s
      continue: true
    - match: {team: web}
      match_re: {env: "prod|staging"}
      group_by: ['...']
      receiver: ops
receivers:
  - name: ops
    webhook_configs:
      - url: http://127.0.0.1:9/hook
        headers: {X-Team: ops}
        max_alerts: 5
        http_config:
          bearer_token: abc
    log_configs:
      - send_resolved: false
  - name: db
    fallback_receiver: ops
    slack_configs:
      - api_url: https://hooks.slack.example/T1
        channel: '#db'
        fields:
          - {title: Summary, value: x, short: true}
    email_configs:
      - to: db@example.org
        from: wf@example.org
        smarthost: mail.example.org:465
        max_attempts: 3
        max_age: 10m
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:9093"]}]
      path_prefix: /am
"#;

#[test]
fn loads_a_full_example() {
    let c = load(FULL).unwrap();
    let route = c.route.as_ref().unwrap();
    assert_eq!(route.receiver.as_deref(), Some("ops"));
    assert_eq!(
        route.group_by,
        Some(GroupBy::Labels(vec!["alertname".into(), "cluster".into()]))
    );
    let db = &route.routes[0];
    assert_eq!(
        db.matchers.strings(),
        [r#"severity=~"critical|page""#, r#"team="db""#]
    );
    assert_eq!(db.group_wait, Some(PromDuration::from_secs(10)));
    assert!(db.continue_matching);
    let web = &route.routes[1];
    assert_eq!(
        web.matchers.strings(),
        [r#"env=~"prod|staging""#, r#"team="web""#]
    );
    assert_eq!(web.group_by, Some(GroupBy::All));
    assert_eq!(c.receivers.len(), 2);
    let hook = &c.receivers[0].webhook_configs[0];
    assert!(hook.send_resolved);
    assert_eq!(hook.max_alerts, 5);
    assert_eq!(hook.headers["X-Team"], "ops");
    assert_eq!(
        hook.http_config.authorization.as_ref().unwrap().kind,
        "Bearer"
    );
    assert!(!c.receivers[0].log_configs[0].send_resolved);
    let db = &c.receivers[1];
    assert_eq!(db.fallback_receiver.as_deref(), Some("ops"));
    assert!(!db.slack_configs[0].send_resolved);
    assert_eq!(db.slack_configs[0].fields[0].short, Some(true));
    let mail = &db.email_configs[0];
    assert_eq!(
        (mail.smarthost_host.as_str(), mail.smarthost_port),
        ("mail.example.org", 465)
    );
    assert!(mail.require_tls);
    assert_eq!(mail.delivery.max_attempts, 3);
    assert_eq!(mail.delivery.max_age, PromDuration::from_secs(600));
    assert_eq!(c.inhibit_rules[0].equal, ["alertname"]);
    let am = &c.alerting.alertmanagers[0];
    assert_eq!(
        am.alerts_url(&am.targets[0]),
        "http://127.0.0.1:9093/am/api/v2/alerts"
    );
    assert_eq!(am.timeout, AlertmanagerConfig::DEFAULT_TIMEOUT);
    let yaml = c.redacted_yaml();
    assert!(yaml.contains("<secret>") && !yaml.contains("abc"), "{yaml}");
}

#[test]
fn empty_file_has_no_route() {
    let c = load("").unwrap();
    assert!(c.route.is_none() && c.receivers.is_empty());
}

#[test]
fn reports_every_problem_with_its_line() {
    let text = r#"route:
  matchers: [a="b"]
  group_interval: 0s
  group_by: ['...', job, "bad-name"]
  routes:
    - receiver: nobody
      matchers: ['a="x"y"']
receivers:
  - name: x
    webhook_configs:
      - max_alerts: 1
    slack_configs:
      - api_url: ftp://x
  - name: x
    fallback_receiver: ghost
inhibit_rules:
  - equal: [ok, "1bad"]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["http://am:9093"]}]
      api_version: v1
"#;
    let errors = load(text).unwrap_err();
    let expected = [
        "c.yml:2:3: route.receiver is required",
        "c.yml:2:13: route.matchers: root route must not have any matchers",
        "c.yml:3:19: route.group_interval: cannot be zero",
        "c.yml:4:13: route.group_by: cannot have wildcard",
        "c.yml:4:26: route.group_by: invalid label name \"bad-name\"",
        "c.yml:6:17: route.routes[0].receiver: undefined receiver \"nobody\"",
        "c.yml:7:18: route.routes[0].matchers: matcher value contains unescaped double quote",
        "c.yml:11:9: receiver \"x\": one of url or url_file must be configured",
        "c.yml:13:18: receiver \"x\": invalid api_url URL",
        "c.yml:14:5: receivers: receiver name \"x\" is not unique",
        "c.yml:15:24: receiver \"x\": undefined fallback_receiver \"ghost\"",
        "c.yml:17:17: inhibit_rules[0].equal: invalid label name \"1bad\"",
        "c.yml:20:35: invalid target \"http://am:9093\"",
        "c.yml:21:20: alerting.alertmanagers[0].api_version: \"v1\" is not supported",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (got, want) in errors.iter().zip(expected) {
        assert!(got.starts_with(want), "got {got:?}, want {want:?}");
    }
}

#[test]
fn receivers_need_a_route() {
    let errors = load("receivers:\n  - name: a\n").unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("c.yml:2:5: route: receivers are defined but there is no route"));
}

#[test]
fn secrets_and_url_files_resolve_against_the_config_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("url"), "http://127.0.0.1:1/x\n").unwrap();
    std::fs::write(dir.path().join("key"), "s3cret\n").unwrap();
    let text = "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n      \
                - url_file: url\n        signing_secret_file: key\n";
    let c = parse_with_env(text, dir.path().join("c.yml"), &no_env).unwrap();
    let hook = &c.receivers[0].webhook_configs[0];
    assert_eq!(
        hook.url_file.as_deref(),
        Some(dir.path().join("url").as_path())
    );
    assert_eq!(
        hook.signing_secret.as_ref().unwrap().secret().expose(),
        "s3cret"
    );
    let errors = parse_with_env(text, Path::new("/nonexistent/c.yml"), &no_env).unwrap_err();
    assert_eq!(errors.errors().len(), 2, "{errors}");
}

#[test]
fn alertmanager_sets_take_every_discovery_mechanism() {
    let text = "alerting:\n  alertmanagers:\n  - static_configs: [{targets: ['a:1'], labels: {dc: x}}]\n    \
                file_sd_configs: [{files: [am/*.json]}]\n    http_sd_configs: [{url: 'http://sd:1/am'}]\n    \
                dns_sd_configs: [{names: [_am._tcp.example.org]}]\n    \
                relabel_configs: [{source_labels: [dc], regex: x, action: keep}]\n    \
                alert_relabel_configs: [{regex: replica, action: labeldrop}]\n    \
                tls_config: {insecure_skip_verify: true}\n  \
                - static_configs: [{targets: ['http://not-an-address']}]\n    \
                relabel_configs: [{target_label: __address__, replacement: 'b:2'}]\n";
    let c = load(text).unwrap_or_else(|e| panic!("{e:?}"));
    let am = &c.alerting.alertmanagers[0];
    assert_eq!(am.targets, ["a:1"]);
    assert_eq!(am.static_configs[0].labels["dc"], "x");
    assert_eq!(am.file_sd_configs.len(), 1);
    assert_eq!(am.http_sd_configs[0].url, "http://sd:1/am");
    assert_eq!(am.dns_sd_configs[0].names, ["_am._tcp.example.org"]);
    assert_eq!(am.relabel_configs.len(), 1);
    assert_eq!(am.alert_relabel_configs.len(), 1);
    assert!(am.tls_config.insecure_skip_verify);
    // With relabel_configs a static target is not checked (relabeling may rewrite it).
    assert_eq!(
        c.alerting.alertmanagers[1].targets,
        ["http://not-an-address"]
    );
    let errors = load(
        "alerting:\n  alertmanagers:\n  - dns_sd_configs: [{names: [x], type: A}]\n    \
         static_configs: [{targets: ['http://x']}]\n",
    )
    .unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("alerting.alertmanagers[0].dns_sd_configs[0]: a port is required"));
    assert!(errors[1].contains("http://x"), "{errors:?}");
}
