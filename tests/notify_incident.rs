//! PagerDuty and Opsgenie deliveries through the durable queue against local receivers that
//! fail on purpose: a 500 and then a 429 with `Retry-After` are retried until PagerDuty
//! accepts the event (same body each time), and an Opsgenie 422 is not retried.

mod common;
mod notify_support;

use notify_support::{firing, load_config, Behaviour, Recorder};
use std::time::Duration;
use watchfire::notify::NotifierBuilder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_retries_500_and_429_then_delivers_and_opsgenie_4xx_is_final() {
    let rec = Recorder::start().await;
    rec.script(
        "/pd",
        vec![Behaviour::Status(500, "boom"), Behaviour::TooMany(1)],
    );
    rec.always(
        "/pd",
        Behaviour::Json(202, r#"{"status":"success","message":"Event processed"}"#),
    );
    rec.always(
        "/og/v2/alerts",
        Behaviour::Json(422, r#"{"message":"Request body is not processable"}"#),
    );
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "route:\n  receiver: pd\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n  \
         routes: [{{matchers: [team=og], receiver: og}}]\n\
         receivers:\n  - name: pd\n    pagerduty_configs:\n      \
         - {{routing_key: k, url: '{pd}', min_backoff: 100ms, max_backoff: 400ms}}\n  \
         - name: og\n    opsgenie_configs:\n      \
         - {{api_key: k, api_url: '{og}', min_backoff: 100ms, max_backoff: 400ms}}\n",
        pd = rec.url("/pd"),
        og = rec.url("/og/"),
    );
    let cfg = load_config(dir.path(), &text);
    let notifier = NotifierBuilder::new(&cfg)
        .external_url("http://wf.example:9711")
        .start()
        .unwrap();
    notifier
        .send(firing(&[
            ("alertname", "DiskFull"),
            ("severity", "critical"),
        ]))
        .await;
    notifier
        .send(firing(&[("alertname", "Og"), ("team", "og")]))
        .await;
    let pd = rec.wait_for("/pd", 3, Duration::from_secs(10)).await;
    for r in &pd {
        assert_eq!(r.body, pd[0].body);
        assert_eq!(r.header("content-type"), "application/json");
    }
    assert_eq!(pd[0].json()["event_action"], "trigger");
    // The 429 asked for one second.
    assert!(
        pd[2].at - pd[1].at >= Duration::from_millis(950),
        "{:?}",
        pd[2].at - pd[1].at
    );
    let og = rec
        .wait_for("/og/v2/alerts", 1, Duration::from_secs(5))
        .await;
    assert_eq!(og[0].header("authorization"), "GenieKey k");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        rec.requests("/og/v2/alerts").len(),
        1,
        "a 422 is not retried"
    );
    assert_eq!(rec.requests("/pd").len(), 3, "delivered once accepted");
}

/// `watchfire test receivers` sends one test notification through each of the four
/// integrations (and reports a failing one); `watchfire render` shows their bodies without
/// the keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_receivers_and_render_cover_the_incident_integrations() {
    let rec = Recorder::start().await;
    rec.always("/webex", Behaviour::Status(401, "bad token"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("watchfire.yml");
    std::fs::write(
        &file,
        format!(
            "route: {{receiver: all}}\nreceivers:\n  - name: all\n    \
             pagerduty_configs: [{{routing_key: secret-rk, url: '{pd}'}}]\n    \
             opsgenie_configs: [{{api_key: secret-og, api_url: '{og}'}}]\n    \
             pushover_configs: [{{user_key: u, token: secret-po, api_url: '{po}'}}, \
             {{user_key: u, token: secret-po, api_url: 'http://127.0.0.1:1/po'}}]\n    \
             webex_configs: [{{room_id: r, api_url: '{wx}', http_config: {{bearer_token: t}}}}]\n",
            pd = rec.url("/pd"),
            og = rec.url("/og/"),
            po = rec.url("/po"),
            wx = rec.url("/webex"),
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_watchfire");
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(bin)
            .args(["test", "receivers", "--config"])
            .arg(&file)
            .output()
            .unwrap()
    });
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    for line in ["all/pagerduty: OK", "all/opsgenie: OK", "all/pushover: OK"] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert!(
        text.contains("all/webex: FAILED: unexpected status code 401: bad token"),
        "{text}"
    );
    // A transport error does not show the URL, which holds the token.
    assert!(text.contains("all/pushover: FAILED"), "{text}");
    assert!(!text.contains("secret-po"), "{text}");
    for path in ["/pd", "/og/v2/alerts", "/po", "/webex"] {
        assert_eq!(rec.requests(path).len(), 1, "{path}");
    }
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(bin)
            .args(["render", "--config"])
            .arg(&file)
            .args([
                "--alert",
                "alertname=DiskFull",
                "--alert",
                "severity=critical",
            ])
            .output()
            .unwrap()
    });
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("\"event_action\":\"trigger\""), "{text}");
    assert!(text.contains("Alerts Firing"), "{text}");
    for secret in ["secret-rk", "secret-og", "secret-po"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
