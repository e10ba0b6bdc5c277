//! PagerDuty, Opsgenie and Webex receivers against the real Alertmanager 0.33: both load the
//! same configuration, are sent the same alerts (two in one group, firing and then resolved),
//! and deliver to recorders that answer as the real services do; the requests must be the same
//! (see `notify_support::receiver_diff`). Each integration is configured twice: with
//! Alertmanager's defaults and with templates in several fields.

mod common;
mod notify_support;

use notify_support::receiver_diff::{assert_same, firing, resolved, without_times, Pair};
use notify_support::{Behaviour, Recorded};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ROUTE: &str = "route:\n  receiver: team\n  group_by: [alertname]\n  group_wait: 1s\n  \
                     group_interval: 1s\n  repeat_interval: 1h\n";

/// Two alerts of one group: label values that read as numbers and an annotation that reads
/// as YAML, so the PagerDuty details go through Alertmanager's YAML re-reading. They start
/// now: Alertmanager flushes a group at once, without `group_wait`, for an alert that started
/// longer than `group_wait` ago, which would split the group by arrival order.
fn alerts() -> Vec<Value> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut list = vec![
        firing(
            json!({"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical", "code": "500"}),
            json!({"summary": "disk <full> & \"stuck\"", "description": "usage: 97%", "runbook_url": "https://runbooks.example/disk"}),
        ),
        firing(
            json!({"alertname": "DiskFull", "instance": "db2:9100", "severity": "critical", "code": "500"}),
            json!({"summary": "disk <full> & \"stuck\"", "runbook_url": "https://runbooks.example/disk"}),
        ),
    ];
    for a in &mut list {
        a["startsAt"] = Value::String(now.clone());
    }
    list
}

/// The SHA-256 of the one group's key, as both send it (alias, dedup key).
fn group_hash() -> String {
    let digest = Sha256::digest(br#"{}:{alertname="DiskFull"}"#);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Posts the alerts firing, waits for `firing` requests at each of `paths`, posts them
/// resolved and waits for `total`; compares each path.
async fn run(pair: &Pair, paths: &[(&str, usize, usize)], headers: &[&str]) {
    let alerts = alerts();
    pair.post(&Value::Array(alerts.clone())).await;
    for (path, n, _) in paths {
        if *n > 0 {
            let (ours, theirs) = pair.wait(path, *n).await;
            compare(&ours, &theirs, headers);
        }
    }
    let done: Vec<Value> = alerts.iter().map(resolved).collect();
    pair.post(&Value::Array(done)).await;
    for (path, _, total) in paths {
        if *total > 0 {
            let (ours, theirs) = pair.wait(path, *total).await;
            compare(&ours, &theirs, headers);
        }
    }
    // Nothing more arrives at any path (e.g. a second close).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for (path, _, total) in paths {
        assert_eq!(pair.ours.requests(path).len(), *total, "ours at {path}");
        assert_eq!(pair.theirs.requests(path).len(), *total, "theirs at {path}");
    }
}

/// watchfire's `/api/v2/status` `config.original` passes `amtool check-config`, shows
/// `<secret>` and none of `secrets`.
fn check_original(pair: &Pair, dir: &std::path::Path, secrets: &[&str]) {
    let (_, status) = common::get_json(&format!("{}/api/v2/status", pair.wf)).unwrap();
    let original = status["config"]["original"].as_str().unwrap().to_owned();
    assert!(original.contains("<secret>"), "{original}");
    for s in secrets {
        assert!(!original.contains(s), "{s} in {original}");
    }
    let Some(amtool) = common::peers::peer("amtool") else {
        return;
    };
    let file = dir.join("original.yml");
    std::fs::write(&file, &original).unwrap();
    let out = std::process::Command::new(amtool)
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}\n{original}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn compare(ours: &[Recorded], theirs: &[Recorded], headers: &[&str]) {
    assert_same(ours, theirs, headers, without_times);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_requests_match_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pair) = Pair::start(dir.path(), |base| {
        format!(
            "{ROUTE}receivers:\n  - name: team\n    pagerduty_configs:\n      \
             - routing_key: 0123456789abcdef0123456789abcdef\n        url: '{base}/pd-default'\n      \
             - routing_key: '{{{{ .CommonLabels.severity }}}}-key'\n        url: '{base}/pd-custom'\n        \
             description: '{{{{ .CommonLabels.alertname }}}} on {{{{ len .Alerts.Firing }}}} hosts'\n        \
             severity: '{{{{ .CommonLabels.severity }}}}'\n        class: disk\n        \
             component: '{{{{ .GroupLabels.alertname }}}}'\n        group: storage\n        \
             client: watch\n        client_url: 'http://client.example/{{{{ .Receiver }}}}'\n        \
             details:\n          count: '{{{{ len .Alerts }}}}'\n          team: storage\n          \
             nested: {{list: [a, '{{{{ .Status }}}}'], flag: 'yes'}}\n          firing: '{{{{ .Alerts.Firing | len }}}} firing'\n        \
             links:\n          - href: 'http://runbooks.example/{{{{ .GroupLabels.alertname }}}}'\n            text: runbook\n          \
             - text: no link\n        \
             images:\n          - src: 'http://graph.example/{{{{ .CommonLabels.instance }}}}.png'\n            alt: graph\n            href: 'http://graph.example'\n"
        )
    })
    .await
    else {
        return;
    };
    let answer = r#"{"status":"success","message":"Event processed","dedup_key":"x"}"#;
    pair.always("/pd-default", Behaviour::Json(202, answer));
    pair.always("/pd-custom", Behaviour::Json(202, answer));
    run(
        &pair,
        &[("/pd-default", 1, 2), ("/pd-custom", 1, 2)],
        &["content-type", "authorization"],
    )
    .await;
    tokio::task::block_in_place(|| {
        check_original(&pair, dir.path(), &["0123456789abcdef0123456789abcdef"])
    });
    let body = pair.ours.requests("/pd-default")[0].json();
    assert_eq!(body["dedup_key"], group_hash());
    assert_eq!(body["payload"]["custom_details"]["num_firing"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opsgenie_requests_match_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pair) = Pair::start(dir.path(), |base| {
        format!(
            "global:\n  opsgenie_api_key: global-key\n  opsgenie_api_url: '{base}/og-default'\n\
             {ROUTE}receivers:\n  - name: team\n    opsgenie_configs:\n      - {{}}\n      \
             - api_key: '{{{{ .CommonLabels.severity }}}}-key'\n        api_url: '{base}/og-custom/'\n        \
             update_alerts: true\n        message: '{{{{ .CommonLabels.alertname }}}} x{{{{ len .Alerts }}}}'\n        \
             description: '{{{{ range .Alerts }}}}{{{{ .Labels.instance }}}} {{{{ end }}}}'\n        \
             source: watch\n        entity: '{{{{ .GroupLabels.alertname }}}}'\n        \
             tags: 'disk,{{{{ .CommonLabels.severity }}}}, team ,'\n        actions: 'restart,page'\n        \
             note: '{{{{ .Status }}}}'\n        priority: P1\n        \
             details:\n          severity: overridden\n          hosts: '{{{{ len .Alerts }}}}'\n        \
             responders:\n          - name: 'ops,dba'\n            type: teams\n          \
             - username: oncall@example.com\n            type: user\n          \
             - id: '{{{{ .CommonLabels.nothing }}}}'\n            type: '{{{{ .CommonLabels.nothing }}}}'\n"
        )
    })
    .await
    else {
        return;
    };
    let hash = group_hash();
    let created = r#"{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}"#;
    let close = format!("/og-default/v2/alerts/{hash}/close");
    let custom_close = format!("/og-custom/v2/alerts/{hash}/close");
    let message = format!("/og-custom/v2/alerts/{hash}/message");
    let description = format!("/og-custom/v2/alerts/{hash}/description");
    for path in [
        "/og-default/v2/alerts",
        "/og-custom/v2/alerts",
        &close,
        &custom_close,
        &message,
        &description,
    ] {
        pair.always(path, Behaviour::Json(202, created));
    }
    run(
        &pair,
        &[
            ("/og-default/v2/alerts", 1, 1),
            ("/og-custom/v2/alerts", 1, 1),
            (&message, 1, 1),
            (&description, 1, 1),
            (&close, 0, 1),
            (&custom_close, 0, 1),
        ],
        &["content-type", "authorization"],
    )
    .await;
    tokio::task::block_in_place(|| check_original(&pair, dir.path(), &["global-key"]));
    let ours = pair.ours.requests("/og-custom/v2/alerts")[0].clone();
    assert_eq!(ours.header("authorization"), "GenieKey critical-key");
    assert_eq!(
        pair.ours.requests("/og-default/v2/alerts")[0].header("authorization"),
        "GenieKey global-key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webex_requests_match_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pair) = Pair::start(dir.path(), |base| {
        format!(
            "global:\n  webex_api_url: '{base}/webex-default'\n\
             {ROUTE}receivers:\n  - name: team\n    webex_configs:\n      \
             - room_id: room-1\n        http_config: {{authorization: {{credentials: bot-token}}}}\n      \
             - room_id: '{{{{ .CommonLabels.severity }}}}-room'\n        api_url: '{base}/webex-custom'\n        \
             http_config: {{bearer_token: other-token}}\n        \
             message: '**{{{{ .Status | toUpper }}}}** {{{{ range .Alerts }}}}{{{{ .Annotations.summary }}}} {{{{ end }}}}'\n"
        )
    })
    .await
    else {
        return;
    };
    let answer = r#"{"id":"Y2lzY29zcGFyazovL3VzL01FU1NBR0UvOTJkYjNiZTAtNDNiZC0xMWU2LThhZTktZGQ1YjNkZmM1NjVk","roomId":"room-1","roomType":"group","text":"x","personId":"p","personEmail":"bot@webex.bot","markdown":"x","created":"2026-01-01T00:00:00.000Z"}"#;
    pair.always("/webex-default", Behaviour::Json(200, answer));
    pair.always("/webex-custom", Behaviour::Json(200, answer));
    run(
        &pair,
        &[("/webex-default", 1, 2), ("/webex-custom", 1, 2)],
        &["content-type", "authorization"],
    )
    .await;
    tokio::task::block_in_place(|| {
        check_original(&pair, dir.path(), &["bot-token", "other-token"])
    });
    assert_eq!(
        pair.ours.requests("/webex-default")[0].header("authorization"),
        "Bearer bot-token"
    );
}
