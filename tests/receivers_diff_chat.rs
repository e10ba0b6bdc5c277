//! Chat receivers (msteams, msteamsv2, telegram, discord) against the real Alertmanager 0.33:
//! both load the same configuration, are sent the same alerts (a group of two firing, then one
//! resolved, then both), and deliver to recorders that answer as each service does; every
//! request must be the same: method, path, query, `content-type` and the body byte for byte
//! (after `without_times`, though none of these bodies carries a time).

mod common;
mod notify_support;

use notify_support::receiver_diff::{assert_same, firing, resolved, without_times, Pair};
use notify_support::{Behaviour, Recorder};
use serde_json::{json, Value};
use std::time::Duration;

const ROUTE: &str = "route:\n  receiver: team\n  group_by: [alertname]\n  group_wait: 1s\n  \
                     group_interval: 1s\n  repeat_interval: 1h\n";

/// What the Bot API answers to `sendMessage`: the message it posted (Alertmanager 0.33 crashes
/// on an answer without `result`).
const TELEGRAM_OK: &str = r#"{"ok":true,"result":{"message_id":4711,"from":{"id":123456,"is_bot":true,"first_name":"alerts","username":"alerts_bot"},"chat":{"id":-1001234567890,"title":"ops","type":"supergroup"},"date":1767225600,"text":"alert"}}"#;

const TOKEN: &str = "123456:ABC-def_ghi";

/// Each recorder answers as the real service: Teams connectors `200 1`, workflows
/// `202`, Telegram its message JSON, Discord `204`.
fn answer_as_the_services(pair: &Pair, paths: &[&str]) {
    for path in paths {
        let behaviour = if path.contains("/sendMessage") {
            Behaviour::Json(200, TELEGRAM_OK)
        } else if path.contains("msteamsv2") {
            Behaviour::Status(202, "")
        } else if path.contains("msteams") {
            Behaviour::Status(200, "1")
        } else {
            Behaviour::Status(204, "")
        };
        pair.always(path, behaviour);
    }
}

fn alerts() -> (Value, Value) {
    let db1 = firing(
        json!({"alertname": "DiskFull", "instance": "db1:9100", "job": "node", "severity": "critical"}),
        json!({"summary": "disk <full> & \"stuck\"", "runbook_url": "https://runbooks.example/disk?a=1+2"}),
    );
    let db2 = firing(
        json!({"alertname": "DiskFull", "instance": "db2:9100", "job": "node", "severity": "critical"}),
        json!({"summary": "disk 'nearly' full", "description": "ünïcödé ✓"}),
    );
    // Started now: Alertmanager flushes a new group at once when its first alert is older than
    // `group_wait`, which would split the pair between two notifications by chance.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (mut db1, mut db2) = (db1, db2);
    db1["startsAt"] = Value::String(now.clone());
    db2["startsAt"] = Value::String(now);
    (db1, db2)
}

/// Posts the group of two, then resolves one, then the other; after each step every path
/// must have seen one more request on both sides, and all must be the same.
async fn run_steps(pair: &Pair, paths: &[&str]) {
    let (db1, db2) = alerts();
    let steps = [
        json!([db1, db2]),
        json!([resolved(&db1), db2]),
        json!([resolved(&db1), resolved(&db2)]),
    ];
    for (i, alerts) in steps.iter().enumerate() {
        pair.post(alerts).await;
        for path in paths {
            let (ours, theirs) = pair.wait(path, i + 1).await;
            assert_same(&ours, &theirs, &["content-type"], without_times);
        }
    }
    // Nothing else arrives: both sides sent exactly one notification per step.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for path in paths {
        let (ours, theirs) = (pair.ours.requests(path), pair.theirs.requests(path));
        assert_eq!(ours.len(), steps.len(), "{path}: watchfire's requests");
        assert_eq!(theirs.len(), steps.len(), "{path}: Alertmanager's requests");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_texts_match_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pair) = Pair::start(dir.path(), |base| {
        format!(
            "{ROUTE}receivers:\n  - name: team\n    \
             msteams_configs:\n      - webhook_url: '{base}/msteams'\n    \
             msteamsv2_configs:\n      - webhook_url: '{base}/msteamsv2'\n    \
             telegram_configs:\n      - api_url: '{base}/tg'\n        bot_token: '{TOKEN}'\n        \
             chat_id: -1001234567890\n    \
             discord_configs:\n      - webhook_url: '{base}/discord'\n"
        )
    })
    .await
    else {
        return;
    };
    let telegram = format!("/tg/bot{TOKEN}/sendMessage");
    let paths = ["/msteams", "/msteamsv2", telegram.as_str(), "/discord"];
    answer_as_the_services(&pair, &paths);
    run_steps(&pair, &paths).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_texts_and_options_match_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("chat.tmpl");
    std::fs::write(
        &templates,
        "{{ define \"chat.title\" }}{{ .Status | toUpper }} {{ .GroupLabels.alertname }} \
         ({{ len .Alerts.Firing }} of {{ len .Alerts }}){{ end }}\n\
         {{ define \"chat.list\" }}{{ range .Alerts }}* {{ .Labels.instance }}: \
         {{ .Annotations.summary }}\n{{ end }}{{ end }}\n",
    )
    .unwrap();
    let tmpl = templates.display().to_string();
    let title = "'{{ template \"chat.title\" . }}'";
    let list = "'{{ template \"chat.list\" . }}'";
    let Some(pair) = Pair::start(dir.path(), |base| {
        format!(
            "{ROUTE}templates: ['{tmpl}']\nreceivers:\n  - name: team\n    \
             msteams_configs:\n      - webhook_url: '{base}/msteams'\n        title: {title}\n        \
             summary: '{{{{ .CommonLabels.job }}}} <{{{{ .Receiver }}}}>'\n        text: {list}\n    \
             msteamsv2_configs:\n      - webhook_url: '{base}/msteamsv2'\n        title: {title}\n        \
             text: {list}\n    \
             telegram_configs:\n      - api_url: '{base}/tg'\n        bot_token: '{TOKEN}'\n        \
             chat_id: 42\n        message: '<b>{{{{ template \"chat.title\" . }}}}</b> {list_inline}'\n      \
             - api_url: '{base}/tg2'\n        bot_token: '{TOKEN}'\n        chat_id: -7\n        \
             parse_mode: ''\n        disable_notifications: true\n        message_thread_id: 99\n        \
             message: {list}\n      \
             - api_url: '{base}/tg3'\n        bot_token: '{TOKEN}'\n        chat_id: 5\n        \
             parse_mode: MarkdownV2\n    \
             discord_configs:\n      - webhook_url: '{base}/discord'\n        title: {title}\n        \
             message: {list}\n        content: '{{{{ .Status }}}} <@&123>'\n        username: watch & fire\n        \
             avatar_url: 'https://example.com/a.png?s=1&t=2'\n",
            list_inline = "{{ template \"chat.list\" . }}",
        )
    })
    .await
    else {
        return;
    };
    let tg = |base: &str| format!("/{base}/bot{TOKEN}/sendMessage");
    let (tg1, tg2, tg3) = (tg("tg"), tg("tg2"), tg("tg3"));
    let paths = [
        "/msteams",
        "/msteamsv2",
        tg1.as_str(),
        tg2.as_str(),
        tg3.as_str(),
        "/discord",
    ];
    answer_as_the_services(&pair, &paths);
    run_steps(&pair, &paths).await;
    original_config_passes_amtool(&pair, dir.path());
}

/// Texts over each service's limit are cut (Telegram plain text 4,096, Discord title 256,
/// description 4,096, content 2,000 characters, ending in `…`) or, for Telegram's HTML, replaced
/// by Alertmanager's notice, exactly where Alertmanager does it; Teams texts are not cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_texts_are_cut_as_alertmanager_cuts_them() {
    let dir = tempfile::tempdir().unwrap();
    let summary = "{{ .CommonAnnotations.summary }}";
    let Some(pair) = Pair::start(dir.path(), |base| {
        format!(
            "{ROUTE}receivers:\n  - name: team\n    \
             msteams_configs:\n      - webhook_url: '{base}/msteams'\n    \
             telegram_configs:\n      - api_url: '{base}/tg'\n        bot_token: '{TOKEN}'\n        \
             chat_id: 1\n      - api_url: '{base}/tg2'\n        bot_token: '{TOKEN}'\n        \
             chat_id: 2\n        parse_mode: ''\n    \
             discord_configs:\n      - webhook_url: '{base}/discord'\n        title: '{summary}'\n        \
             content: '{summary}'\n"
        )
    })
    .await
    else {
        return;
    };
    let tg1 = format!("/tg/bot{TOKEN}/sendMessage");
    let tg2 = format!("/tg2/bot{TOKEN}/sendMessage");
    let paths = ["/msteams", tg1.as_str(), tg2.as_str(), "/discord"];
    answer_as_the_services(&pair, &paths);
    let (mut alert, _) = alerts();
    alert["annotations"]["summary"] = Value::String("ä<b>&".repeat(1500));
    pair.post(&json!([alert])).await;
    for path in paths {
        let (ours, theirs) = pair.wait(path, 1).await;
        assert_same(&ours, &theirs, &["content-type"], without_times);
    }
    let text = pair.ours.requests(&tg2)[0].json()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(text.chars().count(), 4096);
    assert!(text.ends_with('…'));
}

/// `config.original` of `/api/v2/status` hides the token and the webhook URLs and is a
/// configuration `amtool check-config` accepts.
fn original_config_passes_amtool(pair: &Pair, dir: &std::path::Path) {
    let Some(amtool) = common::peers::peer("amtool") else {
        return;
    };
    let (_, status) = tokio::task::block_in_place(|| {
        common::get_json(&format!("{}/api/v2/status", pair.wf)).unwrap()
    });
    let original = status["config"]["original"].as_str().unwrap();
    for kind in [
        "msteams_configs",
        "msteamsv2_configs",
        "telegram_configs",
        "discord_configs",
    ] {
        assert!(original.contains(kind), "{kind} missing:\n{original}");
    }
    assert!(
        !original.contains(TOKEN) && !original.contains("/msteams'"),
        "{original}"
    );
    assert!(original.contains("bot_token: <secret>"), "{original}");
    assert!(original.contains("webhook_url: <secret>"), "{original}");
    let file = dir.join("original.yml");
    std::fs::write(&file, original).unwrap();
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

/// Discord rate limits with 429 and `Retry-After`, and fails with 500: watchfire waits as
/// asked, retries, and delivers once the service answers 204.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_500_and_429_are_retried_until_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start().await;
    recorder.script(
        "/discord",
        vec![
            Behaviour::Status(500, "upstream error"),
            Behaviour::TooMany(2),
            Behaviour::Status(204, ""),
        ],
    );
    let config = format!(
        "{ROUTE}receivers:\n  - name: team\n    discord_configs:\n      - webhook_url: '{}'\n        \
         min_backoff: 100ms\n        max_backoff: 200ms\n",
        recorder.url("/discord")
    );
    std::fs::write(dir.path().join("watchfire.yml"), config).unwrap();
    let port = common::free_port();
    let _wf = common::spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        tokio::task::block_in_place(|| common::wait_listening(
            &format!("127.0.0.1:{port}"),
            Duration::from_secs(30)
        )),
        "watchfire did not start"
    );
    let (db1, _) = alerts();
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v2/alerts"))
        .json(&json!([db1]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let got = recorder
        .wait_for("/discord", 3, Duration::from_secs(30))
        .await;
    // The same body each time; the 429's Retry-After (2 s) was honoured.
    assert!(got.iter().all(|r| r.body == got[0].body));
    let waited = got[2].at.duration_since(got[1].at);
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}"
    );
    assert!(got[0].json()["embeds"][0]["title"]
        .as_str()
        .unwrap()
        .starts_with("[FIRING:1] DiskFull"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(recorder.requests("/discord").len(), 3, "delivered once");
}

/// Telegram's flood control (`429` with `parameters.retry_after`) is waited out, then the
/// message is delivered; an error Telegram keeps answering (`400 chat not found`) is retried,
/// as Alertmanager retries every Telegram failure, until `max_attempts`, and then kept as a
/// dead letter with Telegram's description.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_flood_control_is_waited_out_and_failures_end_as_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start().await;
    let ok_path = format!("/ok/bot{TOKEN}/sendMessage");
    let bad_path = format!("/bad/bot{TOKEN}/sendMessage");
    recorder.script(
        &ok_path,
        vec![
            Behaviour::Json(
                429,
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2","parameters":{"retry_after":2}}"#,
            ),
            Behaviour::Json(200, TELEGRAM_OK),
        ],
    );
    recorder.always(
        &bad_path,
        Behaviour::Json(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
        ),
    );
    let base = recorder.url("");
    let config = format!(
        "{ROUTE}receivers:\n  - name: team\n    telegram_configs:\n      \
         - {{api_url: '{base}/ok', bot_token: '{TOKEN}', chat_id: 1, min_backoff: 100ms, max_backoff: 200ms}}\n      \
         - {{api_url: '{base}/bad', bot_token: '{TOKEN}', chat_id: 2, max_attempts: 3, min_backoff: 100ms, \
         max_backoff: 200ms}}\n"
    );
    std::fs::write(dir.path().join("watchfire.yml"), config).unwrap();
    let port = common::free_port();
    let _wf = common::spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let wf = format!("http://127.0.0.1:{port}");
    assert!(
        tokio::task::block_in_place(|| common::wait_listening(
            &format!("127.0.0.1:{port}"),
            Duration::from_secs(30)
        )),
        "watchfire did not start"
    );
    let (db1, _) = alerts();
    let resp = reqwest::Client::new()
        .post(format!("{wf}/api/v2/alerts"))
        .json(&json!([db1]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let got = recorder
        .wait_for(&ok_path, 2, Duration::from_secs(30))
        .await;
    let waited = got[1].at.duration_since(got[0].at);
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}"
    );
    assert_eq!(got[0].body, got[1].body);
    recorder
        .wait_for(&bad_path, 3, Duration::from_secs(30))
        .await;
    let dead = tokio::task::block_in_place(|| {
        common::wait_for(Duration::from_secs(10), || {
            let (_, v) = common::get_json(&format!("{wf}/api/v1/notifications/failed"))?;
            v["data"].as_array().filter(|d| !d.is_empty()).cloned()
        })
    })
    .expect("no dead letter");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["integration"], "telegram");
    assert_eq!(dead[0]["attempts"], 3);
    assert_eq!(dead[0]["reason"], "http_4xx");
    assert_eq!(
        dead[0]["error"],
        "telegram: Bad Request: chat not found (400)"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        recorder.requests(&bad_path).len(),
        3,
        "no attempt after the last"
    );
    assert_eq!(recorder.requests(&ok_path).len(), 2, "delivered once");
}
