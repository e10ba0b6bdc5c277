//! Golden tests of the webhook payload against the example of
//! `../shared/conformance/notification-payloads.md` (fingerprints computed independently).

use super::*;
use crate::model::Labels;
use crate::notify::alert::{NotifyAlert, ResolveReason};
use crate::notify::notification::NotificationReason;
use chrono::{TimeZone, Utc};

fn example() -> Notification {
    let url = "http://prom.example:9090/graph?g0.expr=disk_used_ratio+%3E+0.95&g0.tab=1";
    let t = |h, m, s, ms| {
        Utc.with_ymd_and_hms(2026, 8, 21, h, m, s).unwrap() + chrono::Duration::milliseconds(ms)
    };
    let labels = |inst: &str| {
        Labels::from_pairs([
            ("alertname", "DiskFull"),
            ("cluster", "eu1"),
            ("instance", inst),
            ("severity", "page"),
        ])
    };
    let mut firing = NotifyAlert::firing(labels("db1:9100"), t(14, 30, 0, 123));
    firing
        .annotations
        .insert("summary".into(), "Disk on db1:9100 is 97% full".into());
    firing.generator_url = url.into();
    let mut resolved = NotifyAlert::firing(labels("db2:9100"), t(13, 0, 0, 0));
    resolved
        .annotations
        .insert("summary".into(), "Disk on db2:9100 is 96% full".into());
    resolved.generator_url = url.into();
    resolved.status = crate::notify::alert::AlertStatus::Resolved;
    resolved.ends_at = Some(t(14, 29, 0, 0));
    resolved.seq = 2;
    resolved.transition = Transition::Resolved {
        reason: ResolveReason::ValueRecovered,
    };
    Notification::new(
        "db-team",
        r#"{}/{team="db"}:{alertname="DiskFull", cluster="eu1"}"#,
        Labels::from_pairs([("alertname", "DiskFull"), ("cluster", "eu1")]),
        NotificationReason::SomeAlertsResolved,
        vec![resolved, firing],
        "http://alertmanager.example:9093",
        t(14, 31, 0, 0),
    )
}

#[test]
fn payload_matches_alertmanager_byte_for_byte() {
    let n = example();
    let body = payload(&n, 0);
    let standard = concat!(
        r#"{"receiver":"db-team","status":"firing","alerts":["#,
        r#"{"status":"firing","labels":{"alertname":"DiskFull","cluster":"eu1","instance":"db1:9100","severity":"page"},"#,
        r#""annotations":{"summary":"Disk on db1:9100 is 97% full"},"startsAt":"2026-08-21T14:30:00.123Z","#,
        r#""endsAt":"0001-01-01T00:00:00Z","#,
        r#""generatorURL":"http://prom.example:9090/graph?g0.expr=disk_used_ratio+%3E+0.95\u0026g0.tab=1","#,
        r#""fingerprint":"cab226155786dbdd"},"#,
        r#"{"status":"resolved","labels":{"alertname":"DiskFull","cluster":"eu1","instance":"db2:9100","severity":"page"},"#,
        r#""annotations":{"summary":"Disk on db2:9100 is 96% full"},"startsAt":"2026-08-21T13:00:00Z","#,
        r#""endsAt":"2026-08-21T14:29:00Z","#,
        r#""generatorURL":"http://prom.example:9090/graph?g0.expr=disk_used_ratio+%3E+0.95\u0026g0.tab=1","#,
        r#""fingerprint":"d68c11650bdb6e80"}],"#,
        r#""notification_reason":"some alerts resolved","#,
        r#""groupLabels":{"alertname":"DiskFull","cluster":"eu1"},"#,
        r#""commonLabels":{"alertname":"DiskFull","cluster":"eu1","severity":"page"},"#,
        r#""commonAnnotations":{},"routeLabels":{},"externalURL":"http://alertmanager.example:9093","#,
        r#""version":"4","groupKey":"{}/{team=\"db\"}:{alertname=\"DiskFull\", cluster=\"eu1\"}","#,
        r#""truncatedAlerts":0,"#
    );
    assert!(body.starts_with(standard), "{body}");
    let extension = format!(
        concat!(
            r#""idempotencyKey":"{}","transitions":["#,
            r#"{{"fingerprint":"cab226155786dbdd","alertId":"cab226155786dbdd","seq":1,"transition":"firing","severity":"page"}},"#,
            r#"{{"fingerprint":"d68c11650bdb6e80","alertId":"d68c11650bdb6e80","seq":2,"transition":"resolved","severity":"page","resolveReason":"recovered"}}]}}"#,
            "\n"
        ),
        n.idempotency_key
    );
    assert_eq!(&body[standard.len()..], extension);
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed["alerts"].as_array().unwrap().len(), 2);
}

#[test]
fn max_alerts_truncates_before_common_labels() {
    let n = example();
    let body = payload(&n, 1);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["truncatedAlerts"], 1);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(v["commonLabels"]["instance"], "db1:9100");
    assert_eq!(v["idempotencyKey"], n.idempotency_key.as_str());
}

#[test]
fn receiver_is_regex_quoted_and_escalations_are_described() {
    let mut n = example();
    n.receiver = "team.ops".into();
    n.alerts[0].transition = Transition::Escalated {
        from: "warning".into(),
        to: "critical".into(),
    };
    let body = payload(&n, 0);
    assert!(body.starts_with(r#"{"receiver":"team\\.ops","#), "{body}");
    assert!(body.contains(
        r#""transition":"escalated","severity":"page","from":"warning","to":"critical""#
    ));
}

#[test]
fn signature_is_hmac_sha256_hex() {
    assert_eq!(
        signature(b"key", b"body\n"),
        "sha256=cc2a061663c6af153b5a8130316b31025d68117b3df49ba18fd01d3f2771941a"
    );
}
