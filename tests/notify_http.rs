//! The notifier against real HTTP receivers on 127.0.0.1 that fail on purpose (connection
//! refused, 500, 429 with Retry-After, a hang longer than the timeout): retries keep the
//! idempotency key, a dead endpoint does not delay the others, undeliverable notifications go
//! to the fallback receiver and the dead-letter list, and a warning → critical → resolved
//! alert gives exactly three notifications, in order.

mod common;
mod notify_support;

use hmac::{Hmac, Mac};
use notify_support::{change_severity, firing, load_config, resolved, Behaviour, Recorder};
use sha2::Sha256;
use std::time::{Duration, Instant};
use watchfire::notify::{Notifier, NotifierBuilder};

fn config(rec: &Recorder, dead_port: u16) -> String {
    let fast = "min_backoff: 100ms, max_backoff: 400ms";
    format!(
        r#"
route:
  receiver: ok
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  routes:
    - {{matchers: [target=flaky], receiver: flaky}}
    - {{matchers: [target=hang], receiver: hang}}
    - {{matchers: [target=refused], receiver: refused}}
    - {{matchers: [target=slack], receiver: slack}}
receivers:
  - name: ok
    webhook_configs:
      - url: '{ok}'
        headers: {{X-Team: ops}}
        http_config: {{bearer_token: tok}}
        signing_secret_file: secret
        min_backoff: 100ms
  - name: flaky
    webhook_configs: [{{url: '{flaky}', max_attempts: 5, {fast}}}]
  - name: hang
    fallback_receiver: backup
    webhook_configs: [{{url: '{hang}', timeout: 1s, max_attempts: 2, {fast}}}]
  - name: refused
    fallback_receiver: backup
    webhook_configs: [{{url: "http://127.0.0.1:{dead_port}/x", max_attempts: 3, {fast}}}]
  - name: backup
    webhook_configs: [{{url: '{backup}'}}]
  - name: slack
    slack_configs:
      - {{api_url: '{slack}', channel: '#ops', send_resolved: true, {fast}}}
"#,
        ok = rec.url("/ok"),
        flaky = rec.url("/flaky"),
        hang = rec.url("/hang"),
        backup = rec.url("/backup"),
        slack = rec.url("/slack"),
    )
}

async fn start(rec: &Recorder) -> (Notifier, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "s3cret\n").unwrap();
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = load_config(dir.path(), &config(rec, dead_port));
    let notifier = NotifierBuilder::new(&cfg)
        .external_url("http://wf.example:9711")
        .start()
        .unwrap();
    (notifier, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_isolated_and_fall_back() {
    let rec = Recorder::start().await;
    rec.script(
        "/flaky",
        vec![Behaviour::Status(500, "boom"), Behaviour::Status(503, "")],
    );
    rec.always("/hang", Behaviour::Hang(Duration::from_secs(30)));
    rec.script("/slack", vec![Behaviour::TooMany(1)]);
    let (notifier, _dir) = start(&rec).await;

    // The dead endpoints first, then the healthy one: it must not wait for them.
    let t0 = Instant::now();
    notifier
        .send(firing(&[
            ("alertname", "H"),
            ("target", "hang"),
            ("severity", "critical"),
        ]))
        .await;
    notifier
        .send(firing(&[
            ("alertname", "R"),
            ("target", "refused"),
            ("severity", "critical"),
        ]))
        .await;
    notifier
        .send(firing(&[
            ("alertname", "F"),
            ("target", "flaky"),
            ("severity", "critical"),
        ]))
        .await;
    notifier
        .send(firing(&[
            ("alertname", "S"),
            ("target", "slack"),
            ("severity", "warning"),
        ]))
        .await;
    notifier
        .send(firing(&[("alertname", "Ok"), ("severity", "critical")]))
        .await;
    let ok = rec.wait_for("/ok", 1, Duration::from_secs(5)).await;
    assert!(
        ok[0].at - t0 < Duration::from_millis(800),
        "healthy receiver delayed: {:?}",
        ok[0].at - t0
    );

    // 500, 503, then success: three identical attempts.
    let flaky = rec.wait_for("/flaky", 3, Duration::from_secs(5)).await;
    let key = flaky[0].header("idempotency-key").to_owned();
    assert_eq!(key.len(), 32);
    for r in &flaky {
        assert_eq!(r.header("idempotency-key"), key);
        assert_eq!(r.body, flaky[0].body);
        assert_eq!(r.json()["idempotencyKey"], key.as_str());
    }

    // 429 with Retry-After: 1 is honoured.
    let slack = rec.wait_for("/slack", 2, Duration::from_secs(5)).await;
    assert!(slack[1].at - slack[0].at >= Duration::from_millis(950));
    let body = slack[1].json();
    assert_eq!(body["channel"], "#ops");
    assert_eq!(body["attachments"][0]["color"], "warning");
    assert_eq!(
        body["attachments"][0]["title"],
        "[FIRING:1] S (warning slack)"
    );

    // Refused three times, then the fallback receiver gets the same notification.
    // The hang times out twice (1s each), then falls back too.
    let backup = rec.wait_for("/backup", 2, Duration::from_secs(10)).await;
    let names: Vec<String> = backup
        .iter()
        .map(|r| {
            r.json()["alerts"][0]["labels"]["alertname"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["R", "H"]);
    assert_eq!(backup[0].json()["receiver"], "backup");
    assert_eq!(rec.requests("/hang").len(), 2);

    let dead = notifier.dead_letters().to_json();
    let dead = dead.as_array().unwrap();
    assert_eq!(dead.len(), 2, "{dead:?}");
    let reasons: Vec<&str> = dead.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["timeout", "connect"]);
    assert_eq!(dead[0]["fallbackReceiver"], "backup");
    assert_eq!(dead[1]["attempts"], 3);
    assert_eq!(
        dead[0]["idempotencyKey"],
        backup[1].header("idempotency-key"),
        "the fallback keeps the key"
    );

    let mut registry = prometheus_client::registry::Registry::default();
    notifier.register_metrics(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(
            r#"watchfire_notification_retries_total{receiver="flaky",integration="webhook"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"watchfire_notifications_failed_total{receiver="hang",integration="webhook",reason="timeout"} 1"#), "{text}");
    notifier.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_and_resolution_are_three_notifications_in_order() {
    let rec = Recorder::start().await;
    let (notifier, _dir) = start(&rec).await;
    let warning = firing(&[
        ("alertname", "Degraded"),
        ("module", "m1"),
        ("severity", "warning"),
    ]);
    notifier.send(warning.clone()).await;
    rec.wait_for("/ok", 1, Duration::from_secs(3)).await;
    let critical = change_severity(&warning, "critical");
    notifier.send(critical.clone()).await;
    rec.wait_for("/ok", 2, Duration::from_secs(3)).await;
    notifier.send(resolved(&critical)).await;
    let got = rec.wait_for("/ok", 3, Duration::from_secs(3)).await;
    // Nothing more arrives (no repeat, no duplicate).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let got_later = rec.requests("/ok");
    assert_eq!(got_later.len(), 3, "{got_later:#?}");

    let bodies: Vec<serde_json::Value> = got.iter().map(|r| r.json()).collect();
    let summary: Vec<(&str, &str, &str)> = bodies
        .iter()
        .map(|b| {
            (
                b["status"].as_str().unwrap(),
                b["notification_reason"].as_str().unwrap(),
                b["transitions"][0]["transition"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("firing", "first notification", "firing"),
            ("firing", "severity changed", "escalated"),
            ("resolved", "all alerts resolved", "resolved"),
        ]
    );
    assert_eq!(bodies[1]["transitions"][0]["from"], "warning");
    assert_eq!(bodies[1]["transitions"][0]["to"], "critical");
    assert_eq!(bodies[1]["alerts"][0]["labels"]["severity"], "critical");
    assert_eq!(bodies[2]["alerts"][0]["status"], "resolved");
    assert_ne!(bodies[2]["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    let keys: std::collections::HashSet<&str> =
        got.iter().map(|r| r.header("idempotency-key")).collect();
    assert_eq!(keys.len(), 3);

    // Headers: custom, bearer token, and an HMAC-SHA256 signature over the exact body.
    let first = &got[0];
    assert_eq!(first.header("x-team"), "ops");
    assert_eq!(first.header("authorization"), "Bearer tok");
    assert_eq!(first.header("content-type"), "application/json");
    assert!(first.header("user-agent").starts_with("watchfire/"));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"s3cret").unwrap();
    mac.update(first.body.as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        first.header("x-watchfire-signature"),
        format!("sha256={expected}")
    );
    assert!(first.body.ends_with("}\n"));
    assert_eq!(bodies[0]["groupKey"], "{}:{alertname=\"Degraded\"}");
    assert_eq!(bodies[0]["externalURL"], "http://wf.example:9711");
    notifier.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silenced_alerts_are_not_notified() {
    let rec = Recorder::start().await;
    let (notifier, _dir) = start(&rec).await;
    let now = chrono::Utc::now();
    let silence = watchfire::notify::Silence {
        id: String::new(),
        matchers: watchfire::model::matcher_text::parse_matchers("alertname=Quiet").unwrap(),
        starts_at: now,
        ends_at: now + chrono::Duration::hours(1),
        updated_at: now,
        created_by: "test".into(),
        comment: "maintenance".into(),
    };
    notifier.silences().upsert(silence, now).unwrap();
    notifier
        .send(firing(&[("alertname", "Quiet"), ("severity", "critical")]))
        .await;
    notifier
        .send(firing(&[("alertname", "Loud"), ("severity", "critical")]))
        .await;
    let got = rec.wait_for("/ok", 1, Duration::from_secs(3)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_later = rec.requests("/ok");
    assert_eq!(got_later.len(), 1);
    assert_eq!(got[0].json()["alerts"][0]["labels"]["alertname"], "Loud");
    assert_eq!(
        notifier
            .silenced_by(&firing(&[("alertname", "Quiet")]).labels)
            .len(),
        1
    );
    notifier.shutdown().await;
}
