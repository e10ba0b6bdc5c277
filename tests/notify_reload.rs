//! The notifier across configuration reloads (`NotifierHandle::reload`), with real webhook
//! receivers on 127.0.0.1:
//!
//! - a notification queued for a receiver that is down before the reload is delivered after
//!   it, once, under its idempotency key; new alerts follow the new routing tree;
//! - silences and the dead-letter list are the same objects before and after;
//! - a configuration whose receivers cannot be built is refused and the running notifier
//!   keeps delivering.

mod common;
mod notify_support;

use notify_support::{firing, load_config, resolved, Recorder};
use std::time::{Duration, Instant};
use watchfire::notify::{NotifierBuilder, NotifierHandle, Silence};
use watchfire::persist::StateDb;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Routes `team=new` to `/new` of `new_url` when given, everything else to `/hook` at `port`.
fn config(port: u16, new_url: Option<&str>) -> String {
    let mut text = String::from(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n",
    );
    if new_url.is_some() {
        text.push_str("  routes:\n    - receiver: new\n      matchers: ['team=\"new\"']\n");
    }
    text.push_str(&format!(
        "receivers:\n  - name: hook\n    webhook_configs:\n      - {{url: 'http://127.0.0.1:{port}/hook', min_backoff: 100ms, max_backoff: 500ms}}\n"
    ));
    if let Some(url) = new_url {
        text.push_str(&format!(
            "  - name: new\n    webhook_configs:\n      - {{url: '{url}'}}\n"
        ));
    }
    text
}

async fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_queued_notifications_silences_and_follows_the_new_routes() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(&dir.path().join("data")).unwrap();
    let port = free_port(); // nothing listens yet: the receiver is down
    let cfg = load_config(dir.path(), &config(port, None));
    let handle = NotifierHandle::new(
        NotifierBuilder::new(&cfg)
            .state(db.clone())
            .start()
            .unwrap(),
    );
    let silences = handle.silences();
    let dead = handle.dead_letters();
    let now = chrono::Utc::now();
    silences
        .upsert(
            Silence {
                id: String::new(),
                matchers: watchfire::rules::selector::parse_matchers("alertname=\"Muted\"")
                    .unwrap(),
                starts_at: now - chrono::Duration::minutes(1),
                ends_at: now + chrono::Duration::hours(1),
                created_by: "test".into(),
                comment: "quiet".into(),
                updated_at: now,
            },
            now,
        )
        .unwrap();

    // Queued while the receiver refuses connections.
    let down = firing(&[("alertname", "Down"), ("job", "x")]);
    handle.send(down.clone()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;

    // Reload: a new route for team=new; the old receiver unchanged.
    let fresh = Recorder::start().await;
    let cfg2 = load_config(dir.path(), &config(port, Some(&fresh.url("/new"))));
    handle
        .reload(NotifierBuilder::new(&cfg2).state(db.clone()))
        .await
        .expect("reload");
    assert!(std::sync::Arc::ptr_eq(&silences, &handle.silences()));
    assert!(std::sync::Arc::ptr_eq(&dead, &handle.dead_letters()));

    // The receiver comes back: the queued notification arrives once.
    let old = Recorder::start_on(port).await;
    wait_until(Duration::from_secs(10), "the queued notification", || {
        !old.requests("/hook").is_empty()
    })
    .await;
    // New routing: team=new goes to the new receiver; a silenced alert goes nowhere.
    handle
        .send(firing(&[("alertname", "Fresh"), ("team", "new")]))
        .await;
    handle.send(firing(&[("alertname", "Muted")])).await;
    wait_until(Duration::from_secs(10), "the new route", || {
        !fresh.requests("/new").is_empty()
    })
    .await;
    // The restored group still holds Down: its resolve is sent too.
    handle.send(resolved(&down)).await;
    wait_until(Duration::from_secs(10), "the resolve", || {
        old.requests("/hook").len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let hook = old.requests("/hook");
    let statuses: Vec<String> = hook
        .iter()
        .map(|r| r.json()["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(statuses, ["firing", "resolved"], "{statuses:?}");
    let keys: std::collections::BTreeSet<&str> =
        hook.iter().map(|r| r.header("idempotency-key")).collect();
    assert_eq!(keys.len(), 2, "each notification under its own key, once");
    let new = fresh.requests("/new");
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].json()["commonLabels"]["alertname"], "Fresh");
    assert!(
        hook.iter()
            .chain(new.iter())
            .all(|r| r.json()["commonLabels"]["alertname"] != "Muted"),
        "the silence made before the reload still mutes"
    );
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_cannot_be_built_keeps_the_running_notifier() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::start().await;
    let good = format!(
        "route: {{receiver: hook, group_wait: 0s, group_interval: 1s}}\nreceivers:\n- name: hook\n  webhook_configs: [{{url: '{}'}}]\n",
        rec.url("/hook")
    );
    let cfg = load_config(dir.path(), &good);
    let handle = NotifierHandle::new(
        NotifierBuilder::new(&cfg)
            .state(StateDb::memory())
            .start()
            .unwrap(),
    );
    // A template file that does not parse: the config loads, the notifier cannot be built.
    std::fs::write(dir.path().join("bad.tmpl"), "{{ define \"x\" }}{{ .Nope ").unwrap();
    let bad = load_config(dir.path(), &format!("templates: ['bad.tmpl']\n{good}"));
    let err = handle
        .reload(NotifierBuilder::new(&bad).state(StateDb::memory()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("templates"), "{err}");
    handle.send(firing(&[("alertname", "StillHere")])).await;
    let got = rec.wait_for("/hook", 1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json()["commonLabels"]["alertname"], "StillHere");
    handle.shutdown().await;
}
