//! Alert state across a restart: a second manager on the same state
//! database plays the restarted process.

use super::*;
use crate::model::{Labels, Matcher};
use crate::rules::manager::{Manager, ManagerOptions, RuleSettings};
use crate::rules::testutil::OwnedSelectorQuerier;
use crate::rules::HistoryQuery;
use crate::store::StoreOptions;
use std::path::PathBuf;

const RULES: &str = "groups:
- name: g
  rules:
  - alert: Hot
    expr: temp
    for: 1m
  - alert: Slow
    expr: temp
    for: 1h
";

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn rules_file(dir: &tempfile::TempDir, body: &str) -> PathBuf {
    let p = dir.path().join("r.yml");
    std::fs::write(&p, body).unwrap();
    p
}

fn put(store: &Store, t: i64, v: f64) {
    let (s, _) = store.get_or_create(Labels::from_pairs([("__name__", "temp")]));
    store.append(&s, t, v).unwrap();
}

/// A manager on a fresh store, persisting to `db`, with `file` loaded.
async fn start(db: &Arc<StateDb>, opts: RestoreOptions, file: &PathBuf) -> (Manager, Arc<Store>) {
    let store = Arc::new(Store::new(StoreOptions::default()));
    let q = Arc::new(OwnedSelectorQuerier(store.clone()));
    let m = Manager::with_querier(store.clone(), q, ManagerOptions::default());
    m.set_state(db.clone(), opts);
    m.update(std::slice::from_ref(file), RuleSettings::default())
        .await
        .unwrap();
    (m, store)
}

/// Evaluates the only group at each time with `temp` present.
fn run(m: &Manager, store: &Store, times: &[i64]) {
    let g = m.groups()[0].clone();
    for &t in times {
        put(store, t, 50.0);
        m.eval_group(&g, t);
    }
}

fn held(m: &Manager, rule: &str) -> Vec<Alert> {
    m.alerts_snapshot()
        .into_iter()
        .filter(|h| &*h.rule == rule)
        .map(|h| h.alert)
        .collect()
}

use crate::rules::Alert;

#[tokio::test]
async fn firing_stays_firing_and_pending_keeps_its_progress() {
    let dir = tempfile::tempdir().unwrap();
    let file = rules_file(&dir, RULES);
    let db = StateDb::open(&dir.path().join("data")).unwrap();
    let t0 = now() - 300_000;
    {
        let (m, store) = start(&db, RestoreOptions::default(), &file).await;
        run(&m, &store, &[t0, t0 + 60_000, t0 + 120_000]);
        assert_eq!(held(&m, "Hot")[0].state, AlertState::Firing);
        assert_eq!(m.history(&HistoryQuery::default()).len(), 3);
    }
    // Restart: a new manager on the same file (no clean shutdown needed).
    drop(db);
    let db = StateDb::open(&dir.path().join("data")).unwrap();
    let (m, store) = start(&db, RestoreOptions::default(), &file).await;
    let hot = held(&m, "Hot");
    assert_eq!(hot.len(), 1);
    assert_eq!(hot[0].state, AlertState::Firing);
    assert_eq!(hot[0].active_at, t0);
    assert_eq!(hot[0].fired_at, Some(t0 + 60_000));
    let slow = held(&m, "Slow");
    assert_eq!(
        (slow[0].state, slow[0].active_at),
        (AlertState::Pending, t0)
    );
    // Visible as ALERTS before any evaluation.
    let firing = store.select(&[
        Matcher::equal("__name__", "ALERTS"),
        Matcher::equal("alertname", "Hot"),
        Matcher::equal("alertstate", "firing"),
    ]);
    assert_eq!(firing.len(), 1);
    // The saved transitions are back in the history.
    let h = m.history(&HistoryQuery::default());
    assert_eq!(
        h.iter().map(|t| t.to.as_str()).collect::<Vec<_>>(),
        vec!["pending", "pending", "firing"]
    );
    // The first evaluation after the restart emits nothing for them.
    let mut rx = m.subscribe();
    run(&m, &store, &[now() + 1_000]);
    assert!(rx.try_recv().is_err(), "restored alerts emit no transition");
    let g = m.groups()[0].snapshot();
    assert!(g.rules.iter().all(|r| r.last_error.is_none()), "{g:?}");
    assert_eq!(held(&m, "Hot")[0].active_at, t0);
}

#[tokio::test]
async fn nothing_is_restored_after_a_longer_outage() {
    let dir = tempfile::tempdir().unwrap();
    let file = rules_file(&dir, RULES);
    let db = StateDb::memory();
    let t0 = now() - 3 * 3_600_000;
    {
        let (m, store) = start(&db, RestoreOptions::default(), &file).await;
        run(&m, &store, &[t0, t0 + 60_000]);
        assert_eq!(db.count(Table::Alerts).unwrap(), 2);
    }
    let (m, _) = start(&db, RestoreOptions::default(), &file).await;
    assert!(m.alerts_snapshot().is_empty());
    assert_eq!(db.count(Table::Alerts).unwrap(), 0);
    // With a longer tolerance the same state would have come back.
    let long = RestoreOptions {
        outage_tolerance: Duration::from_secs(4 * 3600),
        ..Default::default()
    };
    let db = StateDb::memory();
    {
        let (m, store) = start(&db, long, &file).await;
        run(&m, &store, &[t0, t0 + 60_000]);
    }
    let (m, _) = start(&db, long, &file).await;
    assert_eq!(m.alerts_snapshot().len(), 2);
}

#[tokio::test]
async fn records_of_removed_rules_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let file = rules_file(&dir, RULES);
    let db = StateDb::memory();
    let t0 = now() - 120_000;
    {
        let (m, store) = start(&db, RestoreOptions::default(), &file).await;
        run(&m, &store, &[t0, t0 + 60_000]);
    }
    // Hot is gone; Slow moved to the first position.
    let file = rules_file(
        &dir,
        "groups:\n- name: g\n  rules:\n  - alert: Slow\n    expr: temp\n    for: 1h\n",
    );
    let (m, store) = start(&db, RestoreOptions::default(), &file).await;
    let all = m.alerts_snapshot();
    assert_eq!(all.len(), 1);
    assert_eq!((&*all[0].rule, all[0].alert.active_at), ("Slow", t0));
    assert_eq!(db.count(Table::Alerts).unwrap(), 0, "old positions deleted");
    run(&m, &store, &[now() + 1_000]);
    let (left, _) = db.load_json::<AlertRecord>(Table::Alerts).unwrap();
    let keys: Vec<AlertKey> = left
        .iter()
        .map(|(k, _)| AlertKey::decode(k).unwrap())
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0].rule.as_str(), keys[0].index), ("Slow", 0));
    // A reload removing the group deletes its records.
    let empty = rules_file(&dir, "groups: []\n");
    m.update(&[empty], RuleSettings::default()).await.unwrap();
    assert_eq!(db.count(Table::Alerts).unwrap(), 0);
}

#[tokio::test]
async fn history_older_than_the_retention_is_cut_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = rules_file(&dir, RULES);
    let db = StateDb::memory();
    let old = now() - 10 * 24 * 3_600_000;
    {
        let (m, store) = start(&db, RestoreOptions::default(), &file).await;
        run(&m, &store, &[old, old + 60_000]);
        // Recently: Slow fires, and a second series makes two pending alerts.
        let (s, _) = store.get_or_create(Labels::from_pairs([("__name__", "temp"), ("x", "1")]));
        store.append(&s, now() - 1_000, 1.0).unwrap();
        run(&m, &store, &[now() - 1_000]);
        assert_eq!(m.history(&HistoryQuery::default()).len(), 6);
    }
    let (m, _) = start(&db, RestoreOptions::default(), &file).await;
    let h = m.history(&HistoryQuery::default());
    assert_eq!(h.len(), 3, "{h:?}");
    assert!(h.iter().all(|t| t.at > old + 60_000));
    assert_eq!(db.count(Table::History).unwrap(), 3);
}

#[tokio::test]
async fn value_updates_alone_are_written_at_most_once_per_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let file = rules_file(
        &dir,
        "groups:\n- name: g\n  rules:\n  - alert: Hot\n    expr: temp\n",
    );
    let db = StateDb::memory();
    let (m, store) = start(&db, RestoreOptions::default(), &file).await;
    let g = m.groups()[0].clone();
    let stored_value = || {
        let (r, _) = db.load_json::<AlertRecord>(Table::Alerts).unwrap();
        r[0].1.value.clone()
    };
    let t0 = now();
    for (i, t) in [t0, t0 + 10_000, t0 + 20_000].into_iter().enumerate() {
        put(&store, t, i as f64);
        m.eval_group(&g, t);
    }
    assert_eq!(stored_value(), "0", "value changes alone are not written");
    put(&store, t0 + REFRESH_MS, 7.0);
    m.eval_group(&g, t0 + REFRESH_MS);
    assert_eq!(stored_value(), "7", "refreshed after REFRESH_MS");
}

#[tokio::test]
async fn an_empty_buffer_after_the_restart_does_not_resolve_restored_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let file = rules_file(&dir, RULES);
    let db = StateDb::memory();
    let t0 = now() - 300_000;
    {
        let (m, store) = start(&db, RestoreOptions::default(), &file).await;
        run(&m, &store, &[t0, t0 + 60_000]);
    }
    let opts = RestoreOptions {
        resolve_grace: Duration::from_secs(30),
        ..Default::default()
    };
    let (m, _) = start(&db, opts, &file).await;
    let g = m.groups()[0].clone();
    let mut rx = m.subscribe();
    let t1 = now() + 1_000;
    // No data yet: both alerts are held as they were.
    m.eval_group(&g, t1);
    assert!(rx.try_recv().is_err());
    assert_eq!(held(&m, "Hot")[0].state, AlertState::Firing);
    assert_eq!(held(&m, "Slow")[0].state, AlertState::Pending);
    // Still no data after the grace (two 1m intervals): now they go.
    m.eval_group(&g, t1 + 121_000);
    let mut to: Vec<&str> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|t| t.to.as_str())
        .collect();
    to.sort();
    assert_eq!(to, vec!["inactive", "resolved"]);
}

#[tokio::test]
async fn the_history_ring_is_refilled_with_the_newest_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let file = rules_file(&dir, RULES);
    let db = StateDb::memory();
    let t0 = now() - 120_000;
    {
        let (m, store) = start(&db, RestoreOptions::default(), &file).await;
        run(&m, &store, &[t0, t0 + 60_000]);
    }
    let store = Arc::new(Store::new(StoreOptions::default()));
    let q = Arc::new(OwnedSelectorQuerier(store.clone()));
    let opts = ManagerOptions {
        history_capacity: 2,
        ..Default::default()
    };
    let m = Manager::with_querier(store, q, opts);
    m.set_state(db.clone(), RestoreOptions::default());
    let h = m.history(&HistoryQuery::default());
    assert_eq!(
        h.iter()
            .map(|t| (&*t.rule, t.to.as_str()))
            .collect::<Vec<_>>(),
        vec![("Slow", "pending"), ("Hot", "firing")]
    );
}
