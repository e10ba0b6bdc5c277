//! Alertmanager's v2 API on the real binary: posted alerts are validated as Alertmanager
//! does, listed with their status and filters, delivered through the notifier to a webhook and
//! resolved after `resolve_timeout`; `amtool` 0.33 and a real Prometheus 3.5 talk to watchfire
//! as to an Alertmanager. The peer programs come from `../shared/tools/fetch-peers.sh`: set
//! `PEERS_BIN` to its `usr/bin` (default `/opt/peers/usr/bin`); without them those parts are
//! skipped with a message (outside CI; under `CI` a missing one fails).

mod common;
mod notify_support;

use common::{free_port, http, spawn_watchfire, wait_for, wait_listening, Proc};
use notify_support::Recorder;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use watchfire::model::Labels;
use watchfire::notify::alert_fingerprint;

fn post(base: &str, body: &Value) -> (u16, Value) {
    let resp = http()
        .post(format!("{base}/api/v2/alerts"))
        .json(body)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn alerts(base: &str, query: &str) -> Vec<Value> {
    let (status, v) = common::get_json(&format!("{base}/api/v2/alerts?{query}")).unwrap();
    assert_eq!(status, 200, "{v}");
    v.as_array().unwrap().clone()
}

fn write_config(dir: &Path, hook: &str, resolve_timeout: &str) {
    std::fs::write(
        dir.join("watchfire.yml"),
        format!(
            "global:\n  resolve_timeout: {resolve_timeout}\n\
             route:\n  receiver: web\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n  \
             repeat_interval: 1h\n  routes:\n    - matchers: [team=\"db\"]\n      receiver: db\n\
             \x20   - matchers: [team=\"nobody\"]\n      receiver: db\n      mute_time_intervals: [workdays]\n      \
             active_time_intervals: [never]\n\
             receivers:\n  - name: web\n    webhook_configs: [{{url: '{hook}'}}]\n  - name: db\n\
             inhibit_rules:\n  - source_matchers: [alertname=DiskFull]\n    target_matchers: [alertname=Cpu]\n    \
             equal: [instance]\n\
             time_intervals:\n  - name: workdays\n    time_intervals:\n      - weekdays: ['monday:friday']\n        \
             times: [{{start_time: '00:00', end_time: '24:00'}}]\n        days_of_month: ['1:7', '-1']\n        \
             months: ['january:march', '12']\n        years: ['2020:2099']\n        location: Europe/Berlin\n\
             mute_time_intervals:\n  - name: never\n    time_intervals: [{{years: ['1999']}}]\n"
        ),
    )
    .unwrap();
}

/// watchfire with a webhook receiver at `hook` and a 3s `resolve_timeout`.
fn start(dir: &Path, hook: &str) -> (Proc, String) {
    start_with(dir, hook, "3s")
}

fn start_with(dir: &Path, hook: &str, resolve_timeout: &str) -> (Proc, String) {
    write_config(dir, hook, resolve_timeout);
    let port = free_port();
    let wf = spawn_watchfire(dir, port, "watchfire", &[]);
    assert!(
        wait_listening(&format!("127.0.0.1:{port}"), Duration::from_secs(30)),
        "watchfire did not start"
    );
    (wf, format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posted_alerts_are_validated_listed_delivered_and_resolved() {
    let rec = Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (_wf, base) = start(dir.path(), &rec.url("/hook"));
    tokio::task::block_in_place(|| {
        // Alertmanager's validation and error shapes.
        let (s, v) = post(&base, &json!([{"labels": {}}]));
        assert_eq!((s, v), (400, json!("at least one label pair required")));
        let (s, v) = post(&base, &json!([{}]));
        assert_eq!(s, 422);
        assert_eq!(
            v,
            json!({"code": 602, "message": "0.labels in body is required"})
        );
        let (s, v) = post(
            &base,
            &json!([{"labels": {"alertname": "Backwards"},
                     "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2020-01-01T00:00:00Z"}]),
        );
        assert_eq!((s, v), (400, json!("start time must be before end time")));
        let (s, v) = post(&base, &json!({"labels": {"a": "b"}}));
        assert_eq!(s, 400);
        assert_eq!(v["code"], 400, "{v}");
        // An alert that already ended is taken but not listed.
        let (s, _) = post(
            &base,
            &json!([{"labels": {"alertname": "Ended"},
                     "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2020-01-01T00:05:00Z"}]),
        );
        assert_eq!(s, 200);
        // Valid alerts are taken even when a sibling in the batch is not.
        let (s, v) = post(
            &base,
            &json!([
                {"labels": {"alertname": "DiskFull", "instance": "db1", "empty": ""},
                 "annotations": {"summary": "disk full"}, "generatorURL": "http://prom/graph"},
                {"labels": {"alertname": "DbDown", "team": "db"}},
                {"labels": {"": "x"}}
            ]),
        );
        assert_eq!((s, v), (400, json!("invalid label set: invalid name \"\"")));

        let all = alerts(&base, "");
        assert_eq!(all.len(), 2, "{all:?}");
        let disk = all
            .iter()
            .find(|a| a["labels"]["alertname"] == "DiskFull")
            .unwrap();
        let fp = alert_fingerprint(&Labels::from_pairs([
            ("alertname", "DiskFull"),
            ("instance", "db1"),
        ]));
        assert_eq!(disk["fingerprint"], format!("{fp:016x}"));
        assert_eq!(
            disk["labels"],
            json!({"alertname": "DiskFull", "instance": "db1"})
        );
        assert_eq!(disk["annotations"], json!({"summary": "disk full"}));
        assert_eq!(disk["generatorURL"], "http://prom/graph");
        assert_eq!(disk["receivers"], json!([{"name": "web"}]));
        assert_eq!(
            disk["status"],
            json!({"state": "active", "silencedBy": [], "inhibitedBy": [], "mutedBy": []})
        );
        for key in ["startsAt", "endsAt", "updatedAt"] {
            assert!(disk[key].as_str().unwrap().ends_with('Z'), "{disk}");
        }

        // Filters.
        assert_eq!(alerts(&base, "filter=alertname%3D%22DiskFull%22").len(), 1);
        assert_eq!(alerts(&base, "filter=team%3Ddb").len(), 1);
        assert_eq!(
            alerts(&base, "receiver=db")[0]["labels"]["alertname"],
            "DbDown"
        );
        assert!(alerts(&base, "receiver=nobody").is_empty());
        assert!(alerts(&base, "active=false").is_empty());
        let (s, v) = common::get_json(&format!("{base}/api/v2/alerts?receiver=(")).unwrap();
        assert_eq!(s, 400);
        assert!(v
            .as_str()
            .unwrap()
            .starts_with("failed to parse receiver param"));

        // A silence suppresses; silenced=false hides.
        let silence = http()
            .post(format!("{base}/api/v2/silences"))
            .json(
                &json!({"matchers": [{"name": "team", "value": "db", "isRegex": false}],
                "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
                "createdBy": "test", "comment": "maintenance"}),
            )
            .send()
            .unwrap()
            .json::<Value>()
            .unwrap();
        let id = silence["silenceID"].as_str().unwrap().to_owned();
        let db = alerts(&base, "filter=team%3Ddb");
        assert_eq!(db[0]["status"]["state"], "suppressed");
        assert_eq!(db[0]["status"]["silencedBy"], json!([id]));
        let visible = alerts(&base, "silenced=false");
        assert_eq!(visible.len(), 1);
        assert_eq!(visible[0]["labels"]["alertname"], "DiskFull");

        // Groups, receivers, status.
        let (s, groups) = common::get_json(&format!("{base}/api/v2/alerts/groups")).unwrap();
        assert_eq!(s, 200);
        let groups = groups.as_array().unwrap();
        assert_eq!(groups.len(), 2, "{groups:?}");
        let web = groups
            .iter()
            .find(|g| g["receiver"]["name"] == "web")
            .unwrap();
        assert_eq!(web["labels"], json!({"alertname": "DiskFull"}));
        assert_eq!(web["alerts"][0]["fingerprint"], format!("{fp:016x}"));
        let (_, receivers) = common::get_json(&format!("{base}/api/v2/receivers")).unwrap();
        assert_eq!(
            receivers,
            json!([{"name": "web", "labels": {"name": "web"}}, {"name": "db", "labels": {"name": "db"}}])
        );
        let (s, status) = common::get_json(&format!("{base}/api/v2/status")).unwrap();
        assert_eq!(s, 200);
        assert_eq!(status["cluster"]["status"], "disabled");
        assert_eq!(status["cluster"]["peers"], json!([]));
        let original = status["config"]["original"].as_str().unwrap();
        assert!(original.contains("resolve_timeout: 3s"), "{original}");
        assert!(!original.contains("scrape_configs"), "{original}");
        assert!(status["versionInfo"]["version"].is_string());
        assert!(status["uptime"].as_str().unwrap().ends_with('Z'));
        let (s, _) = common::get_text(&format!("{base}/alertmanager/api/v2/status")).unwrap();
        assert_eq!(s, 404, "Grafana must not take watchfire for Mimir");
    });

    // The webhook hears of DiskFull firing, then resolved once re-sends stop (3s timeout).
    let got = rec.wait_for("/hook", 2, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 2, "firing and resolved");
    let first = got[0].json();
    assert_eq!(first["status"], "firing");
    assert_eq!(first["alerts"][0]["labels"]["alertname"], "DiskFull");
    assert_eq!(
        first["alerts"][0]["fingerprint"],
        format!(
            "{:016x}",
            alert_fingerprint(&Labels::from_pairs([
                ("alertname", "DiskFull"),
                ("instance", "db1")
            ]))
        )
    );
    let second = got[1].json();
    assert_eq!(second["status"], "resolved", "{second}");
    tokio::task::block_in_place(|| {
        assert!(alerts(&base, "")
            .iter()
            .all(|a| a["labels"]["alertname"] != "DiskFull"));
    });
}

#[test]
fn amtool_talks_to_watchfire() {
    let Some(amtool) = common::peers::peer("amtool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_wf, base) = start(dir.path(), "http://127.0.0.1:9/hook");
    let (s, _) = post(
        &base,
        &json!([{"labels": {"alertname": "DiskFull", "instance": "db1"}},
                {"labels": {"alertname": "Cpu", "instance": "db1"}},
                {"labels": {"alertname": "DbDown", "team": "db"}}]),
    );
    assert_eq!(s, 200);
    let run = |args: &[&str]| -> String {
        let out = Command::new(&amtool)
            .args(args)
            .arg(format!("--alertmanager.url={base}"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "amtool {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let q = run(&["alert", "query"]);
    assert!(q.contains("DiskFull") && q.contains("DbDown"), "{q}");
    assert!(
        !q.contains("Cpu"),
        "inhibited alerts are hidden by default: {q}"
    );
    let q = run(&["alert", "query", "alertname=DiskFull"]);
    assert!(q.contains("DiskFull") && !q.contains("DbDown"), "{q}");
    run(&[
        "silence",
        "add",
        "team=db",
        "--comment=maintenance",
        "--duration=1h",
    ]);
    let q = run(&["alert", "query"]);
    assert!(
        !q.contains("DbDown"),
        "silenced alerts are hidden by default: {q}"
    );
    // amtool asks for only the kinds named.
    let q = run(&["alert", "query", "-s"]);
    assert!(
        q.contains("DbDown") && !q.contains("DiskFull") && !q.contains("Cpu"),
        "{q}"
    );
    let q = run(&["alert", "query", "-i"]);
    assert!(
        q.contains("Cpu") && !q.contains("DbDown") && !q.contains("DiskFull"),
        "{q}"
    );
    let q = run(&["alert", "query", "-a", "-s", "-i"]);
    assert!(
        q.contains("Cpu") && q.contains("DbDown") && q.contains("DiskFull"),
        "{q}"
    );
    let c = run(&["cluster", "show"]);
    assert!(c.contains("disabled"), "{c}");
    let r = run(&["config", "routes", "show"]);
    assert!(r.contains("web") && r.contains("db"), "{r}");
    let r = run(&["config", "routes", "test", "team=db"]);
    assert!(r.trim() == "db", "{r}");
    // config.original is an Alertmanager configuration amtool accepts.
    let (_, status) = common::get_json(&format!("{base}/api/v2/status")).unwrap();
    let file = dir.path().join("original.yml");
    let original = status["config"]["original"].as_str().unwrap();
    for part in [
        "time_intervals:",
        "mute_time_intervals:",
        "monday:friday",
        "Europe/Berlin",
    ] {
        assert!(original.contains(part), "{part} missing from {original}");
    }
    std::fs::write(&file, original).unwrap();
    let out = Command::new(&amtool)
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_delivers_its_alert_through_watchfire() {
    let Some(prometheus) = common::peers::peer("prometheus") else {
        return;
    };
    let rec = Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (_wf, base) = start(dir.path(), &rec.url("/hook"));
    let wf_addr = base.trim_start_matches("http://").to_owned();
    let prom_port = free_port();
    std::fs::write(
        dir.path().join("prom-rules.yml"),
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: AlwaysOn\n    expr: vector(1)\n    \
         labels: {severity: page}\n    annotations: {summary: always}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{evaluation_interval: 1s}}\nrule_files: [prom-rules.yml]\n\
             alerting:\n  alertmanagers:\n  - static_configs: [{{targets: ['{wf_addr}']}}]\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(&prometheus);
    cmd.arg(format!(
        "--config.file={}",
        dir.path().join("prometheus.yml").display()
    ))
    .arg(format!(
        "--storage.tsdb.path={}",
        dir.path().join("prom-data").display()
    ))
    .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
    .arg("--rules.alert.resend-delay=1s");
    let _prom = Proc::spawn("prometheus", cmd, dir.path());
    let got = rec.wait_for("/hook", 1, Duration::from_secs(60)).await;
    assert!(!got.is_empty(), "no notification from Prometheus' alert");
    let body = got[0].json();
    assert_eq!(body["status"], "firing");
    assert_eq!(body["alerts"][0]["labels"]["alertname"], "AlwaysOn");
    assert_eq!(body["alerts"][0]["labels"]["severity"], "page");
    assert_eq!(body["alerts"][0]["annotations"]["summary"], "always");
    tokio::task::block_in_place(|| {
        let listed = wait_for(Duration::from_secs(10), || {
            let a = alerts(&base, "filter=alertname%3DAlwaysOn");
            (!a.is_empty()).then_some(a)
        })
        .unwrap();
        assert!(
            listed[0]["generatorURL"]
                .as_str()
                .unwrap()
                .contains("AlwaysOn")
                || listed[0]["generatorURL"]
                    .as_str()
                    .unwrap()
                    .contains("vector")
        );
    });
}

#[test]
fn posted_alerts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wf, base) = start(dir.path(), "http://127.0.0.1:9/hook");
    let (s, _) = post(
        &base,
        &json!([{"labels": {"alertname": "DiskFull", "instance": "db1"},
                 "startsAt": "2026-01-01T00:00:00Z", "annotations": {"summary": "full"}}]),
    );
    assert_eq!(s, 200);
    // kill -9: nothing gets a chance to be written at shutdown.
    wf.child.kill().unwrap();
    wf.child.wait().unwrap();
    let port = base.rsplit(':').next().unwrap().to_owned();
    let _wf = spawn_watchfire(dir.path(), port.parse().unwrap(), "watchfire2", &[]);
    assert!(wait_listening(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(30)
    ));
    let back = wait_for(Duration::from_secs(10), || {
        let a = common::get_json(&format!("{base}/api/v2/alerts"))
            .filter(|(s, _)| *s == 200)?
            .1;
        (a.as_array()?.len() == 1).then_some(a)
    })
    .expect("the posted alert is listed again after the restart");
    assert_eq!(back[0]["startsAt"], "2026-01-01T00:00:00.000Z");
    assert_eq!(back[0]["annotations"], json!({"summary": "full"}));
}

#[test]
fn an_escalating_rule_alert_keeps_its_fingerprint() {
    use common::target::{Behaviour, TestTarget};
    let target = TestTarget::start(Behaviour::Text("temp_celsius 60\n".into()));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: heat\n    interval: 1s\n    rules:\n      - alert: Hot\n        \
         expr: temp_celsius\n        thresholds: {warning: 50, critical: 80}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("watchfire.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: t\n    static_configs: [{{targets: ['{}']}}]\n\
             route: {{receiver: none, group_wait: 0s}}\nreceivers: [{{name: none}}]\n",
            target.addr
        ),
    )
    .unwrap();
    let port = free_port();
    let _wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");
    let hot = |severity: &'static str| {
        let base = base.clone();
        move || {
            let (s, v) = common::get_json(&format!("{base}/api/v2/alerts?filter=alertname%3DHot"))?;
            let a = v.as_array().filter(|_| s == 200)?.first()?.clone();
            (a["labels"]["severity"] == severity).then_some(a)
        }
    };
    let warning = wait_for(Duration::from_secs(30), hot("warning")).expect("Hot fires as warning");
    target.set(Behaviour::Text("temp_celsius 90\n".into()));
    let critical = wait_for(Duration::from_secs(30), hot("critical")).expect("Hot escalates");
    assert_eq!(critical["fingerprint"], warning["fingerprint"]);
    assert_eq!(critical["startsAt"], warning["startsAt"]);
    assert_eq!(critical["receivers"], json!([{"name": "none"}]));
    let all = alerts(&base, "");
    assert_eq!(
        all.len(),
        1,
        "one alert, not a warning and a critical: {all:?}"
    );
}

#[test]
fn big_posts_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (_wf, base) = start_with(dir.path(), "http://127.0.0.1:9/hook", "5m");
    // 10,000 alerts in one POST (under the 1 MiB body limit) are all taken.
    let many: Vec<Value> = (0..10_000)
        .map(|i| json!({"labels": {"alertname": "Many", "i": i.to_string()}}))
        .collect();
    let (s, v) = post(&base, &Value::Array(many));
    assert_eq!(s, 200, "{v}");
    assert_eq!(alerts(&base, "filter=alertname%3DMany").len(), 10_000);
    // A 5 MB body is refused with 413 and a JSON string; nothing already taken is lost.
    let huge = format!(
        "[{{\"labels\":{{\"alertname\":\"Huge\"}},\"annotations\":{{\"x\":\"{}\"}}}}]",
        "a".repeat(5 << 20)
    );
    // As sent: the server answers 413 as soon as the limit is passed and may close the
    // connection while the client still writes.
    match http()
        .post(format!("{base}/api/v2/alerts"))
        .header("Content-Type", "application/json")
        .body(huge.clone())
        .send()
    {
        Ok(resp) => assert_eq!(resp.status().as_u16(), 413),
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    // Gzip-compressed (5 MB decoded): read whole, refused after 1 MiB of output.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, huge.as_bytes()).unwrap();
    let resp = http()
        .post(format!("{base}/api/v2/alerts"))
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(enc.finish().unwrap())
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    assert!(resp.json::<Value>().unwrap().is_string());
    assert_eq!(alerts(&base, "filter=alertname%3DMany").len(), 10_000);
    assert!(alerts(&base, "filter=alertname%3DHuge").is_empty());
}

/// The alert without the times each server sets itself.
fn normalised(mut alerts: Vec<Value>) -> Vec<Value> {
    for a in &mut alerts {
        let o = a.as_object_mut().unwrap();
        for key in ["startsAt", "endsAt", "updatedAt"] {
            assert!(o.remove(key).is_some(), "{key} missing");
        }
    }
    alerts
}

#[test]
fn answers_as_the_real_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let (_wf, wf) = start_with(dir.path(), "http://127.0.0.1:9/hook", "5m");
    // Alertmanager runs on watchfire's own `config.original`.
    let (_, status) = common::get_json(&format!("{wf}/api/v2/status")).unwrap();
    let am_config = dir.path().join("am.yml");
    std::fs::write(&am_config, status["config"]["original"].as_str().unwrap()).unwrap();
    let Some((_am, am)) = common::alertmanager::start(dir.path(), &am_config, &[]) else {
        return;
    };
    let batches = [
        json!([{"labels": {}}]),
        json!([{}]),
        json!({"labels": {"a": "b"}}),
        json!([{"labels": {"a": 1}}]),
        json!([{"labels": {"alertname": "X"}, "startsAt": "2030-01-01T00:00:00Z",
                "endsAt": "2020-01-01T00:00:00Z"}]),
        json!([{"labels": {"alertname": "Ended"}, "startsAt": "2020-01-01T00:00:00Z",
                "endsAt": "2020-01-01T00:05:00Z"}]),
        json!([
            {"labels": {"alertname": "DiskFull", "instance": "db1", "empty": ""},
             "annotations": {"summary": "disk full"}, "generatorURL": "http://prom/graph"},
            {"labels": {"alertname": "Cpu", "instance": "db1"}},
            {"labels": {"alertname": "DbDown", "team": "db", "ünïcode name": "v"}},
            {"labels": {"": "x"}},
            {"labels": {"alertname": "Y"}, "annotations": {"": "y"}}
        ]),
    ];
    for b in &batches {
        assert_eq!(post(&wf, b), post(&am, b), "POST {b}");
    }
    let silence = json!({"matchers": [{"name": "team", "value": "db", "isRegex": false}],
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "test", "comment": "maintenance"});
    let mut ids = Vec::new();
    for base in [&wf, &am] {
        let v: Value = http()
            .post(format!("{base}/api/v2/silences"))
            .json(&silence)
            .send()
            .unwrap()
            .json()
            .unwrap();
        ids.push(v["silenceID"].as_str().unwrap().to_owned());
    }
    for query in [
        "",
        "silenced=false",
        "inhibited=false",
        "active=false",
        "active=false&silenced=false",
        "filter=instance%3Ddb1",
        "filter=alertname%3D~%22D.%2A%22&filter=team!%3Ddb",
        "receiver=db",
        "receiver=w.%2A",
        "receiver_matchers=name%3Dweb",
    ] {
        let mut ours = serde_json::to_string(&normalised(alerts(&wf, query))).unwrap();
        ours = ours.replace(&ids[0], "SILENCE");
        let theirs = serde_json::to_string(&normalised(alerts(&am, query)))
            .unwrap()
            .replace(&ids[1], "SILENCE");
        let (ours, theirs): (Value, Value) = (
            serde_json::from_str(&ours).unwrap(),
            serde_json::from_str(&theirs).unwrap(),
        );
        assert_eq!(ours, theirs, "GET /api/v2/alerts?{query}");
    }
    let groups = |base: &str| {
        let (_, v) = common::get_json(&format!("{base}/api/v2/alerts/groups")).unwrap();
        let mut groups: Vec<Value> = v.as_array().unwrap().clone();
        for g in &mut groups {
            let alerts = g["alerts"].as_array().unwrap().clone();
            g["alerts"] = Value::Array(normalised(alerts));
        }
        groups.sort_by_key(|g| g.to_string());
        let text = serde_json::to_string(&groups).unwrap();
        text.replace(&ids[0], "SILENCE").replace(&ids[1], "SILENCE")
    };
    assert_eq!(groups(&wf), groups(&am), "GET /api/v2/alerts/groups");
    let receivers = |base: &str| common::get_json(&format!("{base}/api/v2/receivers")).unwrap();
    assert_eq!(receivers(&wf), receivers(&am));
}
