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
