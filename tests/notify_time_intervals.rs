//! Time intervals end to end (issue 13): one configuration whose routes mute on today's
//! weekday or on another day, or are active only on one of them. watchfire sends the alerts
//! whose route is not muted now to a webhook and holds back the others, shows which intervals
//! mute a group in `/api/v2/alerts/groups` and counts them; after a reload that moves the
//! intervals off today, the held-back groups notify at their next flush. The real
//! Alertmanager 0.33 (from the peer programs; skipped without them outside CI) runs the same
//! file and makes the same decisions.

mod common;
mod notify_support;

use chrono::{Datelike, Timelike, Utc};
use common::{free_port, http, spawn_watchfire, wait_for, wait_listening};
use notify_support::Recorder;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

/// An Alertmanager configuration file (which watchfire reads as it is): four routes muted or active
/// on `today` (a weekday name) or `other` (a weekday that is not today, from the older
/// `mute_time_intervals` block). With `moved`, the two routes held back today are pointed at
/// the intervals that let them through.
fn config(hook: &str, today: &str, other: &str, moved: bool) -> String {
    let (mute, active) = if moved {
        ("other_day", "today")
    } else {
        ("today", "other_day")
    };
    format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n  \
         repeat_interval: 1h\n  routes:\n    \
         - matchers: [alertname=MuteNow]\n      mute_time_intervals: [{mute}]\n    \
         - matchers: [alertname=MuteOther]\n      mute_time_intervals: [other_day]\n    \
         - matchers: [alertname=ActiveNow]\n      active_time_intervals: [today]\n    \
         - matchers: [alertname=ActiveOther]\n      active_time_intervals: [{active}]\n\
         receivers:\n  - name: hook\n    webhook_configs: [{{url: '{hook}'}}]\n\
         time_intervals:\n  - name: today\n    time_intervals:\n      \
         - weekdays: ['{today}']\n        times: [{{start_time: '00:00', end_time: '24:00'}}]\n\
         mute_time_intervals:\n  - name: other_day\n    time_intervals: [{{weekdays: ['{other}']}}]\n"
    )
}

/// Today's weekday and one that is not today, in UTC, after waiting out the last 90 seconds
/// of a day so that the test does not straddle midnight.
fn weekdays() -> (&'static str, &'static str) {
    let now = Utc::now();
    let left = 86_400 - i64::from(now.num_seconds_from_midnight());
    if left < 90 {
        std::thread::sleep(Duration::from_secs(u64::try_from(left).unwrap_or(0) + 2));
    }
    let today = Utc::now().weekday().num_days_from_sunday() as usize;
    (WEEKDAYS[today], WEEKDAYS[(today + 3) % 7])
}

const ALERTS: [&str; 4] = ["MuteNow", "MuteOther", "ActiveNow", "ActiveOther"];

fn post_alerts(base: &str) {
    let body: Vec<Value> = ALERTS
        .iter()
        .map(|name| json!({"labels": {"alertname": name}}))
        .collect();
    let resp = http()
        .post(format!("{base}/api/v2/alerts"))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{base}");
}

/// The alert names a recorder path has received in webhook notifications.
fn notified(rec: &Recorder, path: &str) -> BTreeSet<String> {
    rec.requests(path)
        .iter()
        .flat_map(|r| {
            r.json()["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["labels"]["alertname"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `/api/v2/alerts/groups` as `alertname → (mutedBy, state)` of its one alert.
fn groups(base: &str, query: &str) -> Vec<(String, Value, Value)> {
    let (status, v) = common::get_json(&format!("{base}/api/v2/alerts/groups{query}")).unwrap();
    assert_eq!(status, 200, "{v}");
    let mut out: Vec<(String, Value, Value)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let a = &g["alerts"][0];
            (
                g["labels"]["alertname"].as_str().unwrap().to_owned(),
                a["status"]["mutedBy"].clone(),
                a["status"]["state"].clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn reload(base: &str) {
    let resp = http().post(format!("{base}/-/reload")).send().unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{base}/-/reload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_and_active_intervals_decide_what_is_sent() {
    let rec = Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (today, other) = weekdays();
    // watchfire reads the Alertmanager file as it is, next to an empty Prometheus file.
    std::fs::write(dir.path().join("watchfire.yml"), "").unwrap();
    let file = dir.path().join("alertmanager.yml");
    std::fs::write(&file, config(&rec.url("/wf"), today, other, false)).unwrap();
    let port = free_port();
    let am_flag = file.to_str().unwrap();
    let _wf = spawn_watchfire(
        dir.path(),
        port,
        "watchfire",
        &["--alertmanager.config.file", am_flag],
    );
    let wf = format!("http://127.0.0.1:{port}");
    assert!(wait_listening(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(30)
    ));
    // The same file for the real Alertmanager, notifying another path.
    let am_file = dir.path().join("am.yml");
    std::fs::write(&am_file, config(&rec.url("/am"), today, other, false)).unwrap();
    let am = tokio::task::block_in_place(|| common::alertmanager::start(dir.path(), &am_file, &[]));

    tokio::task::block_in_place(|| post_alerts(&wf));
    if let Some((_, base)) = &am {
        tokio::task::block_in_place(|| post_alerts(base));
    }
    let sent = names(&["ActiveNow", "MuteOther"]);
    rec.wait_for("/wf", 2, Duration::from_secs(20)).await;
    // A few more flushes (group_interval 1s) in which the muted groups stay quiet.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(notified(&rec, "/wf"), sent);

    tokio::task::block_in_place(|| {
        let all = groups(&wf, "");
        assert_eq!(
            all,
            [
                ("ActiveNow".into(), json!([]), json!("active")),
                (
                    "ActiveOther".into(),
                    json!(["other_day"]),
                    json!("suppressed")
                ),
                ("MuteNow".into(), json!(["today"]), json!("suppressed")),
                ("MuteOther".into(), json!([]), json!("active")),
            ]
        );
        let unmuted: Vec<String> = groups(&wf, "?muted=false")
            .into_iter()
            .map(|g| g.0)
            .collect();
        assert_eq!(unmuted, ["ActiveNow", "MuteOther"]);
        // `/api/v2/alerts` does not report `mutedBy`, as in Alertmanager 0.33.
        let (_, listed) = common::get_json(&format!("{wf}/api/v2/alerts")).unwrap();
        for a in listed.as_array().unwrap() {
            assert_eq!(a["status"]["mutedBy"], json!([]), "{a}");
            assert_eq!(a["status"]["state"], "active", "{a}");
        }
        let (_, metrics) = common::get_text(&format!("{wf}/metrics")).unwrap();
        for reason in ["mute_time_interval", "active_time_interval"] {
            let line = format!("watchfire_notifications_suppressed_total{{reason=\"{reason}\"}} ");
            let count: f64 = metrics
                .lines()
                .find_map(|l| l.strip_prefix(&line))
                .unwrap_or_else(|| panic!("{line} missing"))
                .parse()
                .unwrap();
            assert!(
                count >= 2.0,
                "{reason}: {count} (one alert per flush, several flushes)"
            );
        }
    });

    if let Some((_, base)) = &am {
        rec.wait_for("/am", 2, Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(notified(&rec, "/am"), sent, "Alertmanager decides the same");
        tokio::task::block_in_place(|| {
            assert_eq!(groups(base, ""), groups(&wf, ""), "groups and mutedBy");
            assert_eq!(groups(base, "?muted=false"), groups(&wf, "?muted=false"));
        });
    }

    // The intervals move off today: the groups held back notify at their next flush.
    std::fs::write(&file, config(&rec.url("/wf"), today, other, true)).unwrap();
    tokio::task::block_in_place(|| reload(&wf));
    rec.wait_for("/wf", 4, Duration::from_secs(20)).await;
    assert_eq!(notified(&rec, "/wf"), names(&ALERTS));
    tokio::task::block_in_place(|| {
        let cleared = wait_for(Duration::from_secs(10), || {
            let g = groups(&wf, "?muted=false");
            (g.len() == 4).then_some(g)
        });
        assert!(cleared.is_some(), "no group is muted after the reload");
    });
    if let Some((_, base)) = &am {
        std::fs::write(&am_file, config(&rec.url("/am"), today, other, true)).unwrap();
        tokio::task::block_in_place(|| reload(base));
        rec.wait_for("/am", 4, Duration::from_secs(20)).await;
        assert_eq!(notified(&rec, "/am"), names(&ALERTS));
    }
    // The groups notified before the reload did not notify again (repeat_interval is 1h).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let per_alert = |path: &str| {
        let mut count = std::collections::BTreeMap::<String, usize>::new();
        for r in rec.requests(path) {
            for a in r.json()["alerts"].as_array().unwrap() {
                *count
                    .entry(a["labels"]["alertname"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        count
    };
    let once: std::collections::BTreeMap<String, usize> =
        ALERTS.iter().map(|a| (a.to_string(), 1)).collect();
    assert_eq!(per_alert("/wf"), once);
    if am.is_some() {
        assert_eq!(per_alert("/am"), once);
    }
}

#[test]
fn watchfire_check_config_reports_interval_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    std::fs::write(
        &file,
        "route:\n  receiver: r\n  routes:\n    - receiver: r\n      mute_time_intervals: [nope]\n\
         receivers: [{name: r}]\ntime_intervals:\n  - name: t\n    time_intervals:\n      \
         - weekdays: ['friday:monday']\n        location: Nowhere/Town\n",
    )
    .unwrap();
    let out = std::process::Command::new(common::watchfire_bin())
        .args(["check", "config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let path = file.display();
    for want in [
        format!(
            "{path}:5:29: route.routes[0].mute_time_intervals: undefined time interval \"nope\" used in route"
        ),
        format!(
            "{path}:10:20: time_intervals[0].time_intervals[0].weekdays[0]: start day cannot be before end day"
        ),
        format!(
            "{path}:11:19: time_intervals[0].time_intervals[0].location: unknown time zone Nowhere/Town"
        ),
    ] {
        assert!(text.contains(&want), "{want}\nnot in\n{text}");
    }
}
