//! PagerDuty, Opsgenie, Pushover and Webex receivers against the real Alertmanager 0.33: both load the
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
             nested: {{list: [a, '{{{{ .Status }}}}'], flag: 'yes'}}\n          firing: '{{{{ .Alerts.Firing | len }}}} firing'\n          \
             quirks: {{no: 'no', hex: '0x10', float: '1.50', tilde: '~', list: '[1, two]', map: 'a: b', octal: '010', \
             exp: '1e3', neg: '-7', big: '12345678901234567890', time: '2026-01-01T00:00:00Z', empty: '', comment: 'x # y', \
             quoted: '\"5\"', multi: \"a\\nb: c\", dash: '- x', under: '1_000', plus: '+3', dot: '.5', on: 'On'}}\n        \
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
    // Firing, then a mixed group (create and updates again), then resolved (close).
    let headers = ["content-type", "authorization"];
    let alerts = alerts();
    pair.post(&Value::Array(alerts.clone())).await;
    let steps = [
        (vec![], [1, 1, 1, 1, 0, 0]),
        (vec![resolved(&alerts[0])], [2, 2, 2, 2, 0, 0]),
        (
            vec![resolved(&alerts[0]), resolved(&alerts[1])],
            [2, 2, 2, 2, 1, 1],
        ),
    ];
    let paths = [
        "/og-default/v2/alerts",
        "/og-custom/v2/alerts",
        message.as_str(),
        description.as_str(),
        close.as_str(),
        custom_close.as_str(),
    ];
    for (list, counts) in steps {
        if !list.is_empty() {
            pair.post(&Value::Array(list)).await;
        }
        for (path, n) in paths.iter().zip(counts) {
            if n > 0 {
                let (ours, theirs) = pair.wait(path, n).await;
                compare(&ours, &theirs, &headers);
            }
        }
    }
    // Nothing more arrives (e.g. a second close).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for (path, n) in paths.iter().zip([2, 2, 2, 2, 1, 1]) {
        assert_eq!(pair.ours.requests(path).len(), n, "ours at {path}");
        assert_eq!(pair.theirs.requests(path).len(), n, "theirs at {path}");
    }
    let mixed = pair.ours.requests("/og-default/v2/alerts")[1].json();
    let text = mixed["description"].as_str().unwrap();
    assert!(
        text.contains("Alerts Firing") && text.contains("Alerts Resolved"),
        "{text}"
    );
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
    // Firing, then one of the two resolved (a mixed group), then both resolved.
    let headers = ["content-type", "authorization"];
    let alerts = alerts();
    pair.post(&Value::Array(alerts.clone())).await;
    for (step, list) in [
        (1, vec![]),
        (2, vec![resolved(&alerts[0])]),
        (3, vec![resolved(&alerts[0]), resolved(&alerts[1])]),
    ] {
        if !list.is_empty() {
            pair.post(&Value::Array(list)).await;
        }
        for path in ["/webex-default", "/webex-custom"] {
            let (ours, theirs) = pair.wait(path, step).await;
            compare(&ours, &theirs, &headers);
        }
    }
    let mixed = pair.ours.requests("/webex-default")[1].json();
    let text = mixed["markdown"].as_str().unwrap();
    assert!(
        text.contains("Alerts Firing") && text.contains("Alerts Resolved"),
        "{text}"
    );
    tokio::task::block_in_place(|| {
        check_original(&pair, dir.path(), &["bot-token", "other-token"])
    });
    assert_eq!(
        pair.ours.requests("/webex-default")[0].header("authorization"),
        "Bearer bot-token"
    );
}

/// A proxy that answers `CONNECT` and ends the TLS itself (a self-signed certificate made with
/// openssl), passing the plain HTTP on to `target`: Alertmanager has no setting for the
/// Pushover endpoint, so it reaches the recorder through `http_config.proxy_url`.
async fn tls_proxy(
    dir: &std::path::Path,
    target: std::sync::Arc<parking_lot::Mutex<String>>,
) -> Option<u16> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (cert, key) = (dir.join("proxy.crt"), dir.join("proxy.key"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=api.pushover.net", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .ok()?;
    assert!(made.status.success(), "{made:?}");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let target = target.lock().clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if conn.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                if conn
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let Ok(mut tls) = acceptor.accept(conn).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    Some(port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushover_requests_match_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let target = std::sync::Arc::new(parking_lot::Mutex::new(String::new()));
    let Some(proxy) = tls_proxy(dir.path(), target.clone()).await else {
        return;
    };
    // Pair::start writes Alertmanager's configuration first: it goes through the proxy to its
    // recorder, watchfire posts to its recorder directly. The entries are otherwise the same.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let Some(pair) = Pair::start(dir.path(), |base| {
        let reach = if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            *target.lock() = base.trim_start_matches("http://").to_owned();
            format!(
                "http_config: {{proxy_url: 'http://127.0.0.1:{proxy}', tls_config: {{insecure_skip_verify: true}}}}"
            )
        } else {
            format!("api_url: '{base}/1/messages.json'")
        };
        format!(
            "{ROUTE}receivers:\n  - name: team\n    pushover_configs:\n      \
             - {{user_key: user-1, token: 'app token', {reach}}}\n      \
             - {{user_key: '{{{{ .CommonLabels.severity }}}}-user', token: t2, {reach}, \
             title: '{{{{ .CommonLabels.alertname }}}} ({{{{ len .Alerts }}}})', \
             message: '{{{{ range .Alerts }}}}{{{{ .Labels.instance }}}} {{{{ end }}}}', url: 'http://x.example/{{{{ .Receiver }}}}', \
             url_title: runbook, device: phone, sound: siren, priority: '{{{{ if eq .Status \"firing\" }}}}1{{{{ else }}}}-1{{{{ end }}}}', \
             retry: 2m, expire: 3h, ttl: 1h}}\n      \
             - {{user_key: u3, token: t3, html: true, {reach}}}\n"
        )
    })
    .await
    else {
        return;
    };
    let answer = r#"{"status":1,"request":"647d2300-702c-4b38-8b2f-d56326ae460b"}"#;
    pair.always("/1/messages.json", Behaviour::Json(200, answer));
    // Three entries, firing then resolved; one path, so order by the query's token.
    let alerts = alerts();
    pair.post(&Value::Array(alerts.clone())).await;
    let (ours, theirs) = pair.wait("/1/messages.json", 3).await;
    compare(&by_token(ours), &by_token(theirs), &["content-type"]);
    let done: Vec<Value> = alerts.iter().map(resolved).collect();
    pair.post(&Value::Array(done)).await;
    let (ours, theirs) = pair.wait("/1/messages.json", 6).await;
    compare(
        &by_token(ours[3..].to_vec()),
        &by_token(theirs[3..].to_vec()),
        &["content-type"],
    );
    assert_eq!(ours[0].body, "");
    tokio::task::block_in_place(|| check_original(&pair, dir.path(), &["app token", "user-1"]));
}

/// Requests ordered by their `token` parameter (entries deliver concurrently).
fn by_token(mut list: Vec<Recorded>) -> Vec<Recorded> {
    list.sort_by_key(|r| {
        r.query
            .split('&')
            .find(|p| p.starts_with("token="))
            .unwrap_or("")
            .to_owned()
    });
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_v1_requests_match_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let target = std::sync::Arc::new(parking_lot::Mutex::new(String::new()));
    let Some(proxy) = tls_proxy(dir.path(), target.clone()).await else {
        return;
    };
    // Alertmanager sends v1 events to PagerDuty's fixed endpoint: through the proxy to its
    // recorder; watchfire's entries name the same path on its recorder with `url`.
    const V1: &str = "/generic/2010-04-15/create_event.json";
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let Some(pair) = Pair::start(dir.path(), |base| {
        let reach = if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            *target.lock() = base.trim_start_matches("http://").to_owned();
            format!(
                "http_config: {{proxy_url: 'http://127.0.0.1:{proxy}', tls_config: {{insecure_skip_verify: true}}}}"
            )
        } else {
            format!("url: '{base}{V1}'")
        };
        format!(
            "{ROUTE}receivers:\n  - name: team\n    pagerduty_configs:\n      \
             - {{service_key: key-a, {reach}}}\n      \
             - {{service_key: 'key-b-{{{{ .CommonLabels.severity }}}}', {reach}, client: watch, \
             client_url: 'http://c.example/{{{{ .Receiver }}}}', description: '{{{{ len .Alerts }}}} on {{{{ .GroupLabels.alertname }}}}', \
             details: {{hosts: '{{{{ range .Alerts }}}}{{{{ .Labels.instance }}}},{{{{ end }}}}', n: '{{{{ len .Alerts }}}}'}}}}\n"
        )
    })
    .await
    else {
        return;
    };
    let answer = r#"{"status":"success","message":"Event processed","incident_key":"x"}"#;
    pair.always(V1, Behaviour::Json(200, answer));
    let by_key = |mut list: Vec<Recorded>| {
        list.sort_by_key(|r| r.json()["service_key"].as_str().unwrap_or("").to_owned());
        list
    };
    let alerts = alerts();
    pair.post(&Value::Array(alerts.clone())).await;
    let (ours, theirs) = pair.wait(V1, 2).await;
    compare(&by_key(ours), &by_key(theirs), &["content-type"]);
    let done: Vec<Value> = alerts.iter().map(resolved).collect();
    pair.post(&Value::Array(done)).await;
    let (ours, theirs) = pair.wait(V1, 4).await;
    compare(
        &by_key(ours[2..].to_vec()),
        &by_key(theirs[2..].to_vec()),
        &["content-type"],
    );
    assert_eq!(ours[3].json()["event_type"], "resolve");
}
