//! Manager tests: loading and reloading, scheduling, events and history.

use super::*;
use crate::rules::alert::Transition;
use crate::rules::testutil::OwnedSelectorQuerier;
use crate::store::StoreOptions;
use std::io::Write;

fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> PathBuf {
    let p = dir.path().join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(body.as_bytes()).unwrap();
    p
}

fn manager() -> (Manager, Arc<Store>) {
    let store = Arc::new(Store::new(StoreOptions::default()));
    let q = Arc::new(OwnedSelectorQuerier(store.clone()));
    (
        Manager::with_querier(store.clone(), q, ManagerOptions::default()),
        store,
    )
}

fn put(store: &Store, name: &str, t: i64, v: f64) {
    let (s, _) = store.get_or_create(Labels::from_pairs([("__name__", name)]));
    store.append(&s, t, v).unwrap();
}

#[tokio::test]
async fn bad_reload_keeps_the_loaded_rules() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        &dir,
        "good.yml",
        "groups:\n- name: a\n  rules:\n  - record: r\n    expr: x\n",
    );
    let bad = write(
        &dir,
        "bad.yml",
        "groups:\n- name: b\n  rules:\n  - record: r\n",
    );
    let (m, _) = manager();
    let s = m
        .update(std::slice::from_ref(&good), RuleSettings::default())
        .await
        .unwrap();
    assert_eq!(s.started, 1);
    let errs = m
        .update(&[good.clone(), bad], RuleSettings::default())
        .await
        .unwrap_err();
    assert!(errs[0].to_string().contains("bad.yml:4:5"), "{errs:?}");
    assert_eq!(m.groups().len(), 1);
    let before = m.groups()[0].clone();
    let s = m.update(&[good], RuleSettings::default()).await.unwrap();
    assert_eq!((s.unchanged, s.started, s.removed), (1, 0, 0));
    assert!(Arc::ptr_eq(&before, &m.groups()[0]));
    let s = m.update(&[], RuleSettings::default()).await.unwrap();
    assert_eq!(s.removed, 1);
    assert!(m.groups().is_empty());
}

#[tokio::test]
async fn transitions_reach_subscribers_history_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(&dir, "a.yml", "groups:\n- name: a\n  rules:\n  - alert: Hot\n    expr: temp\n    thresholds: {warning: 30, critical: 40}\n");
    let (m, store) = manager();
    m.update(&[f], RuleSettings::default()).await.unwrap();
    let mut rx = m.subscribe();
    let g = m.groups()[0].clone();
    put(&store, "temp", 0, 35.0);
    m.eval_group(&g, 0);
    put(&store, "temp", 60_000, 45.0);
    m.eval_group(&g, 60_000);
    let a = rx.try_recv().unwrap();
    assert_eq!(
        (a.to, a.severity.map(|s| s.as_str())),
        (Transition::Firing, Some("warning"))
    );
    assert_eq!(rx.try_recv().unwrap().to, Transition::Escalated);
    let h = m.history(&HistoryQuery::default());
    assert_eq!(h.len(), 2);
    let held = m.alerts_snapshot();
    assert_eq!(held.len(), 1);
    assert_eq!(
        (&*held[0].rule, held[0].alert.state),
        ("Hot", AlertState::Firing)
    );
    let mut reg = prometheus_client::registry::Registry::default();
    m.register(&mut reg);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
    assert!(
        text.contains("watchfire_alert_transitions_total{alertname=\"Hot\",to=\"escalated\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("watchfire_alerts{state=\"firing\",severity=\"critical\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn groups_run_on_schedule_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "a.yml",
        "groups:\n- name: fast\n  interval: 20ms\n  rules:\n  - record: one\n    expr: 1\n",
    );
    let (m, store) = manager();
    m.update(&[f], RuleSettings::default()).await.unwrap();
    m.start();
    let deadline = Instant::now() + Duration::from_secs(5);
    let series = Labels::from_pairs([("__name__", "one")]);
    loop {
        let (s, _) = store.get_or_create(series.clone());
        let mut buf = Vec::new();
        s.samples_in(i64::MIN, i64::MAX, &mut buf);
        if buf.len() >= 3 {
            let steps: Vec<i64> = buf.windows(2).map(|w| w[1].t - w[0].t).collect();
            assert!(
                steps.iter().all(|d| d % 20 == 0),
                "slots are aligned: {steps:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "group did not run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    m.stop().await;
    let g = m.groups()[0].clone();
    let last = g.snapshot().last_eval_ms.unwrap();
    assert_eq!(
        eval_slot(&g, last),
        last,
        "evaluations happen at the group's slots"
    );
}

#[test]
fn eval_slot_is_stable_and_aligned() {
    let spec = crate::rules::parse_rule_file(
        "f",
        "groups:\n- name: g\n  rules: []\n",
        LoadOptions::default(),
    )
    .unwrap()
    .groups
    .remove(0);
    let g = Group::new(spec, 60_000);
    let a = eval_slot(&g, 1_000_000);
    assert!(a <= 1_000_000 && 1_000_000 - a < 60_000);
    assert_eq!(eval_slot(&g, a + 59_999), a);
    assert_eq!(eval_slot(&g, a + 60_000), a + 60_000);
}

#[test]
fn settings_from_config() {
    let cfg = crate::config::Config::default();
    let s = RuleSettings::from_config(&cfg, "http://wf:9090");
    assert_eq!(
        s.evaluation_interval_ms,
        cfg.global.evaluation_interval.as_millis_i64()
    );
    assert_eq!(s.external_url, "http://wf:9090");
}

#[tokio::test]
async fn on_scrape_groups_evaluate_when_a_scrape_they_read_lands() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "a.yml",
        "groups:\n- name: fast-path\n  interval: 1h\n  evaluation: on_scrape\n  rules:\n  - alert: Hot\n    expr: temp > 10\n",
    );
    let store = Arc::new(Store::new(StoreOptions::default()));
    let m = Manager::new(
        store.clone(),
        Arc::new(Engine::new(Default::default())),
        ManagerOptions::default(),
    );
    let feed = crate::scrape::landed_channel();
    m.set_scrape_feed(feed.clone());
    m.update(&[f], RuleSettings::default()).await.unwrap();
    let mut events = m.subscribe();
    m.start();
    let labels =
        |job: &str| Labels::from_pairs([("__name__", "temp"), ("job", job), ("instance", "i:1")]);
    let landed = |job: &str| crate::scrape::ScrapeLanded {
        job: Arc::from(job),
        instance: Arc::from("i:1"),
        at_ms: now_ms(),
        up: true,
    };
    // A scrape of an unrelated target does not evaluate the group.
    let (s, _) = store.get_or_create(Labels::from_pairs([
        ("__name__", "other"),
        ("job", "x"),
        ("instance", "i:1"),
    ]));
    store.append(&s, now_ms(), 50.0).unwrap();
    feed.send(landed("x")).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(m.groups()[0].snapshot().last_eval_ms.is_none());
    // The target the rule reads from lands a hot value: the alert fires at once.
    let (s, _) = store.get_or_create(labels("oven"));
    store.append(&s, now_ms(), 42.0).unwrap();
    let sent = Instant::now();
    feed.send(landed("oven")).unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("evaluated after the scrape landed")
        .unwrap();
    assert_eq!(ev.to, Transition::Firing);
    assert_eq!(ev.labels.get("job"), Some("oven"));
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    m.stop().await;
}

#[tokio::test]
async fn unknown_datasource_refuses_the_load_and_known_ones_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "ds.yml",
        "groups:\n- name: g\n  datasource: central\n  rules:\n  - record: r\n    expr: x\n",
    );
    let (m, _) = manager();
    let errs = m
        .update(std::slice::from_ref(&f), RuleSettings::default())
        .await
        .unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        format!(
            "{}:3:15: group \"g\", unknown datasource \"central\" (not in the datasources section)",
            f.display()
        )
    );
    assert!(m.groups().is_empty());
    let cfg = crate::config::parse(
        "datasources:\n- {name: central, url: 'http://127.0.0.1:1'}\n",
        "c.yml",
    )
    .unwrap();
    let settings = RuleSettings::from_config(&cfg, "");
    let s = m.update(std::slice::from_ref(&f), settings).await.unwrap();
    assert_eq!(s.started, 1);
    assert_eq!(
        m.groups()[0]
            .spec()
            .datasource
            .as_ref()
            .map(|d| d.0.as_str()),
        Some("central")
    );
}
