//! Receivers against the real Alertmanager 0.33: both load the same configuration, are sent the
//! same alerts, firing and then resolved, and deliver to recorders; the requests must be the
//! same (see `notify_support::receiver_diff`). Integrations with their own file:
//! `receivers_diff_*.rs`.

mod common;
mod notify_support;

use notify_support::receiver_diff::{assert_same, firing, resolved, without_times, Pair};
use serde_json::json;

const ROUTE: &str = "route:\n  receiver: team\n  group_by: [alertname]\n  group_wait: 0s\n  \
                     group_interval: 1s\n  repeat_interval: 1h\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_requests_match_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pair) = Pair::start(dir.path(), |base| {
        format!(
            "{ROUTE}receivers:\n  - name: team\n    webhook_configs:\n      - url: '{base}/hook'\n"
        )
    })
    .await
    else {
        return;
    };
    let alert = firing(
        json!({"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"}),
        json!({"summary": "disk <full> & \"stuck\"", "runbook_url": "https://runbooks.example/disk"}),
    );
    pair.post(&json!([alert])).await;
    let (ours, theirs) = pair.wait("/hook", 1).await;
    assert_same(&ours, &theirs, &["content-type"], without_extensions);
    pair.post(&json!([resolved(&alert)])).await;
    let (ours, theirs) = pair.wait("/hook", 2).await;
    assert_same(&ours, &theirs, &["content-type"], without_extensions);
}

/// A webhook body without watchfire's documented additions (`idempotencyKey`, `routeLabels`,
/// `transitions`; README "Notifications"), re-encoded so both sides compare as JSON values.
fn without_extensions(body: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&without_times(body)).unwrap();
    let o = v.as_object_mut().unwrap();
    for key in ["idempotencyKey", "routeLabels", "transitions"] {
        o.remove(key);
    }
    v.to_string()
}
