//! Grouping timing and notification decisions, with explicit clocks.

use super::*;
use crate::notify::alert::{AlertStatus, ResolveReason};
use chrono::TimeZone;

fn wall0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 8, 21, 14, 30, 0).unwrap()
}

fn route(yaml_route: &str) -> Route {
    let text = format!("{yaml_route}\nreceivers: [{{name: r}}]\n");
    let c = crate::config::parse_with_env(&text, std::path::Path::new("t.yml"), &|_| None).unwrap();
    Route::from_config(c.route.as_ref())
}

fn alert(name: &str, severity: &str, starts: DateTime<Utc>) -> NotifyAlert {
    let labels = Labels::from_pairs([("alertname", name), ("severity", severity)]);
    NotifyAlert::firing(labels, starts)
}

fn resolve(a: &NotifyAlert, at: DateTime<Utc>) -> NotifyAlert {
    let mut r = a.clone();
    r.status = AlertStatus::Resolved;
    r.ends_at = Some(at);
    r.seq += 1;
    r.transition = Transition::Resolved {
        reason: ResolveReason::ValueRecovered,
    };
    r
}

fn reasons(out: &[(usize, Notification)]) -> Vec<(usize, &'static str)> {
    out.iter().map(|(i, n)| (*i, n.reason.as_str())).collect()
}

const NEVER: &dyn Fn(&NotifyAlert) -> bool = &|_| false;

#[test]
fn group_wait_then_group_interval_then_repeat() {
    let r = route("route: {receiver: r, group_by: [alertname], repeat_interval: 1h}");
    let t0 = Instant::now();
    let w0 = wall0();
    let a = alert("A", "warning", w0);
    let group_labels = r.group_labels(&a.labels);
    let mut g = AggrGroup::new(&r, group_labels, a, t0, w0);
    assert_eq!(g.key, r#"{}:{alertname="A"}"#);
    assert_eq!(g.next_flush(), t0 + Duration::from_secs(30));

    let t1 = g.next_flush();
    let out = g.flush(t1, w0, &[true], NEVER, "http://wf");
    assert_eq!(reasons(&out), [(0, "first notification")]);
    assert_eq!(g.next_flush(), t1 + Duration::from_secs(300));

    let t2 = g.next_flush();
    assert!(g.flush(t2, w0, &[true], NEVER, "").is_empty());

    let mut b = alert("A", "warning", w0);
    b.labels = Labels::from_pairs([("alertname", "A"), ("instance", "x")]);
    b.fingerprint = crate::notify::alert::alert_fingerprint(&b.labels);
    g.insert(b, t2);
    let t3 = g.next_flush();
    let out = g.flush(t3, w0, &[true], NEVER, "");
    assert_eq!(reasons(&out), [(0, "new alerts added")]);
    assert_eq!(out[0].1.alerts.len(), 2);

    // Nothing changes until the repeat interval has passed since the last notification.
    let mut t;
    loop {
        t = g.next_flush();
        let out = g.flush(t, w0, &[true], NEVER, "");
        if !out.is_empty() {
            assert_eq!(reasons(&out), [(0, "repeat interval elapsed")]);
            break;
        }
    }
    assert!(t >= t3 + Duration::from_secs(3600) && t < t3 + Duration::from_secs(3900));
}

#[test]
fn critical_alerts_flush_at_once_unless_group_wait_is_set() {
    let fast = route("route: {receiver: r}");
    let t0 = Instant::now();
    let g = AggrGroup::new(
        &fast,
        Labels::empty(),
        alert("A", "critical", wall0()),
        t0,
        wall0(),
    );
    assert_eq!(g.next_flush(), t0);

    let mut g = AggrGroup::new(
        &fast,
        Labels::empty(),
        alert("A", "warning", wall0()),
        t0,
        wall0(),
    );
    let later = t0 + Duration::from_secs(3);
    g.insert(alert("B", "critical", wall0()), later);
    assert_eq!(g.next_flush(), later);

    let slow = route("route: {receiver: r, group_wait: 10s}");
    let g = AggrGroup::new(
        &slow,
        Labels::empty(),
        alert("A", "critical", wall0()),
        t0,
        wall0(),
    );
    assert_eq!(g.next_flush(), t0 + Duration::from_secs(10));
}

#[test]
fn old_alerts_flush_at_once() {
    let r = route("route: {receiver: r}");
    let t0 = Instant::now();
    let started = wall0() - chrono::Duration::minutes(5);
    let g = AggrGroup::new(
        &r,
        Labels::empty(),
        alert("A", "warning", started),
        t0,
        wall0(),
    );
    assert_eq!(g.next_flush(), t0);
}

#[test]
fn escalation_is_one_notification_not_a_resolve() {
    let r = route("route: {receiver: r, group_wait: 0s}");
    let t0 = Instant::now();
    let a = alert("A", "warning", wall0());
    let mut g = AggrGroup::new(&r, Labels::empty(), a.clone(), t0, wall0());
    let out = g.flush(t0, wall0(), &[true], NEVER, "");
    assert_eq!(reasons(&out), [(0, "first notification")]);

    let mut up = a.clone();
    up.seq = 2;
    up.severity = Some("critical".into());
    up.transition = Transition::Escalated {
        from: "warning".into(),
        to: "critical".into(),
    };
    g.insert(up, t0);
    let t1 = g.next_flush();
    let out = g.flush(t1, wall0(), &[true], NEVER, "");
    assert_eq!(reasons(&out), [(0, "severity changed")]);
    assert_eq!(out[0].1.alerts[0].seq, 2);

    // A stale event (lower sequence) does not undo it.
    g.insert(a, t1);
    assert_eq!(g.alerts().next().unwrap().seq, 2);
}

#[test]
fn resolution_follows_send_resolved() {
    let r = route("route: {receiver: r, group_wait: 0s}");
    let t0 = Instant::now();
    let a = alert("A", "warning", wall0());
    let b = alert("B", "warning", wall0());
    let mut g = AggrGroup::new(&r, Labels::empty(), a.clone(), t0, wall0());
    g.insert(b.clone(), t0);
    let out = g.flush(t0, wall0(), &[true, false], NEVER, "");
    assert_eq!(
        reasons(&out),
        [(0, "first notification"), (1, "first notification")]
    );

    let w1 = wall0() + chrono::Duration::minutes(1);
    g.insert(resolve(&a, w1), t0);
    let t1 = g.next_flush();
    let out = g.flush(t1, w1, &[true, false], NEVER, "");
    assert_eq!(reasons(&out), [(0, "some alerts resolved")]);
    assert_eq!(out[0].1.resolved().count(), 1);
    assert_eq!(
        g.alerts().count(),
        1,
        "the resolved alert is dropped after the flush"
    );

    g.insert(resolve(&b, w1), t1);
    let t2 = g.next_flush();
    let out = g.flush(t2, w1, &[true, false], NEVER, "");
    assert_eq!(reasons(&out), [(0, "all alerts resolved")]);
    assert!(g.is_empty());
}

#[test]
fn alerts_resolved_before_the_first_flush_are_never_notified() {
    let r = route("route: {receiver: r}");
    let t0 = Instant::now();
    let a = alert("A", "warning", wall0());
    let mut g = AggrGroup::new(&r, Labels::empty(), a.clone(), t0, wall0());
    g.insert(resolve(&a, wall0()), t0);
    let out = g.flush(g.next_flush(), wall0(), &[true], NEVER, "");
    assert!(out.is_empty());
    assert!(g.is_empty());
}

#[test]
fn muted_alerts_are_left_out() {
    let r = route("route: {receiver: r, group_wait: 0s}");
    let t0 = Instant::now();
    let mut g = AggrGroup::new(
        &r,
        Labels::empty(),
        alert("A", "warning", wall0()),
        t0,
        wall0(),
    );
    g.insert(alert("B", "warning", wall0()), t0);
    let mute_a: &dyn Fn(&NotifyAlert) -> bool = &|a| a.name() == "A";
    let out = g.flush(t0, wall0(), &[true], mute_a, "");
    assert_eq!(out[0].1.alerts.len(), 1);
    assert_eq!(out[0].1.alerts[0].name(), "B");
    // Unmuting A is a new firing alert for the receiver.
    let out = g.flush(g.next_flush(), wall0(), &[true], NEVER, "");
    assert_eq!(reasons(&out), [(0, "new alerts added")]);
}

#[test]
fn a_restored_group_does_not_repeat_early_and_still_resolves() {
    let r = route("route: {receiver: r, group_wait: 0s, group_interval: 10s, repeat_interval: 1h}");
    let t0 = Instant::now();
    let a = alert("A", "warning", wall0());
    let mut g = AggrGroup::new(&r, Labels::empty(), a.clone(), t0, wall0());
    assert!(g.take_dirty(), "a new group is saved");
    assert_eq!(
        reasons(&g.flush(t0, wall0(), &[true], NEVER, "")),
        [(0, "first notification")]
    );
    assert!(g.take_dirty(), "a notification changes the log");
    assert!(g
        .flush(t0 + Duration::from_secs(10), wall0(), &[true], NEVER, "")
        .is_empty());
    assert!(
        !g.take_dirty(),
        "a flush that changes nothing saves nothing"
    );
    let saved = g.snapshot();
    assert!(saved.has_flushed);
    assert_eq!(saved.notified[0].as_ref().unwrap().at, wall0());

    // Restarted half an hour later: flushes at once, says nothing new.
    let half = Duration::from_secs(1800);
    let (t1, w1) = (
        Instant::now() + half,
        wall0() + chrono::Duration::minutes(30),
    );
    let mut g = AggrGroup::restore(&r, saved.clone(), t1, w1).unwrap();
    assert_eq!(g.next_flush(), t1);
    assert!(g.flush(t1, w1, &[true], NEVER, "").is_empty());
    let (t2, w2) = (t1 + half, w1 + chrono::Duration::minutes(30));
    let out = g.flush(t2, w2, &[true], NEVER, "");
    assert_eq!(reasons(&out), [(0, "repeat interval elapsed")]);

    // The restored group keeps its alert: the resolve is notified.
    g.insert(resolve(&a, w2), t2);
    let out = g.flush(t2 + Duration::from_secs(10), w2, &[true], NEVER, "");
    assert_eq!(reasons(&out), [(0, "all alerts resolved")]);

    // Restarted a month later: the calendar says the repeat is due, whatever the monotonic
    // clock can still represent.
    let w3 = wall0() + chrono::Duration::days(30);
    let t3 = Instant::now();
    let mut g = AggrGroup::restore(&r, saved, t3, w3).unwrap();
    let out = g.flush(t3, w3, &[true], NEVER, "");
    assert_eq!(reasons(&out), [(0, "repeat interval elapsed")]);
}

#[test]
fn a_group_restored_before_its_first_flush_waits_group_wait() {
    let r = route("route: {receiver: r, group_wait: 30s}");
    let t0 = Instant::now();
    let g = AggrGroup::new(
        &r,
        Labels::empty(),
        alert("A", "warning", wall0()),
        t0,
        wall0(),
    );
    let saved = g.snapshot();
    assert!(!saved.has_flushed);
    assert!(saved.notified.is_empty());
    let w1 = wall0() + chrono::Duration::seconds(10);
    let g = AggrGroup::restore(&r, saved.clone(), t0, w1).unwrap();
    assert_eq!(g.next_flush(), t0 + Duration::from_secs(30));
    let empty = GroupState {
        alerts: Vec::new(),
        ..saved
    };
    assert!(AggrGroup::restore(&r, empty, t0, w1).is_none());
}

#[test]
fn a_replicated_log_entry_stands_for_what_another_replica_sent() {
    let r = route("route: {receiver: r, group_by: [alertname], group_wait: 0s}");
    let t0 = Instant::now();
    let w0 = wall0();
    let a = alert("A", "warning", w0);
    let fp = a.fingerprint;
    let mut g = AggrGroup::new(&r, r.group_labels(&a.labels), a.clone(), t0, w0);
    // The other replica notified the same alert; its sequence is its own evaluation time.
    let sent = NotifiedState {
        firing: BTreeMap::from([(fp, a.seq + 1234)]),
        resolved: BTreeSet::new(),
        at: w0,
    };
    let severity = BTreeMap::from([(fp, "warning".to_owned())]);
    assert!(g.set_notified(0, Some(sent.clone()), &severity, t0, w0));
    assert_eq!(g.notified(0).unwrap().firing[&fp], a.seq);
    assert!(g.flush(t0, w0, &[true], NEVER, "").is_empty());
    // Sent at another severity: this replica's alert changed since, and is notified.
    let other = BTreeMap::from([(fp, "critical".to_owned())]);
    assert!(g.set_notified(0, Some(sent), &other, t0, w0));
    assert_eq!(g.notified(0).unwrap().firing[&fp], a.seq + 1234);
    let t1 = g.next_flush();
    assert_eq!(
        reasons(&g.flush(t1, w0, &[true], NEVER, "")),
        [(0, "new alerts added")]
    );
    // No entry: as if nothing had been sent.
    assert!(g.set_notified(0, None, &BTreeMap::new(), t1, w0));
    let t2 = g.next_flush();
    assert_eq!(
        reasons(&g.flush(t2, w0, &[true], NEVER, "")),
        [(0, "first notification")]
    );
    assert!(!g.set_notified(5000, None, &BTreeMap::new(), t2, w0));
    // A group that has flushed is brought forward (a takeover).
    g.flush_by(t2);
    assert_eq!(g.next_flush(), t2);
}
