//! Tests of the alert state machine (cases modelled on Prometheus'
//! `TestAlertingRuleState`, `TestKeepFiringFor`, `TestPendingAndKeepFiringFor`,
//! `TestAlertingRuleLimit`, plus the threshold extension).

use super::*;
use crate::rules::threshold::{Direction, Levels, Thresholds};

const M: i64 = 60_000;

fn cand(instance: &str, v: f64) -> Candidate {
    Candidate {
        labels: Labels::from_pairs([("alertname", "A"), ("instance", instance)]),
        annotations: vec![],
        value: v,
        crossing: None,
    }
}

fn params(hold: i64, kff: i64) -> StateParams {
    StateParams {
        hold_ms: hold,
        keep_firing_for_ms: kff,
        limit: 0,
        ..StateParams::default()
    }
}

fn kinds(ch: &[Change]) -> Vec<(AlertState, Transition)> {
    ch.iter().map(|c| (c.from, c.to)).collect()
}

fn state(s: &AlertSet, instance: &str) -> Option<AlertState> {
    let fp = cand(instance, 0.0).labels.fingerprint();
    s.get(fp).map(|a| a.state)
}

#[test]
fn pending_then_firing_then_resolved() {
    let mut s = AlertSet::new();
    let p = params(5 * M, 0);
    let ch = s.update(vec![cand("a", 1.0)], 0, &p).unwrap();
    assert_eq!(
        kinds(&ch),
        vec![(AlertState::Inactive, Transition::Pending)]
    );
    assert!(s
        .update(vec![cand("a", 1.0)], 4 * M, &p)
        .unwrap()
        .is_empty());
    assert_eq!(state(&s, "a"), Some(AlertState::Pending));
    let ch = s.update(vec![cand("a", 2.0)], 5 * M, &p).unwrap();
    assert_eq!(kinds(&ch), vec![(AlertState::Pending, Transition::Firing)]);
    assert_eq!(ch[0].alert.value, 2.0);
    assert_eq!(ch[0].alert.active_at, 0);
    let ch = s.update(vec![], 6 * M, &p).unwrap();
    assert_eq!(kinds(&ch), vec![(AlertState::Firing, Transition::Resolved)]);
    assert_eq!(state(&s, "a"), Some(AlertState::Inactive));
    // Kept 15 minutes after resolving, then dropped.
    s.update(vec![], 6 * M + RESOLVED_RETENTION_MS, &p).unwrap();
    assert_eq!(s.len(), 1);
    s.update(vec![], 6 * M + RESOLVED_RETENTION_MS + 1, &p)
        .unwrap();
    assert!(s.is_empty());
}

#[test]
fn zero_for_fires_at_once_and_pending_drop_is_inactive() {
    let mut s = AlertSet::new();
    let ch = s.update(vec![cand("a", 1.0)], 0, &params(0, 0)).unwrap();
    assert_eq!(kinds(&ch), vec![(AlertState::Inactive, Transition::Firing)]);
    let mut s = AlertSet::new();
    let p = params(M, 0);
    s.update(vec![cand("a", 1.0)], 0, &p).unwrap();
    let ch = s.update(vec![], 30_000, &p).unwrap();
    assert_eq!(
        kinds(&ch),
        vec![(AlertState::Pending, Transition::Inactive)]
    );
    assert!(s.is_empty(), "a pending alert is dropped at once");
}

#[test]
fn resolved_alert_that_returns_starts_over() {
    let mut s = AlertSet::new();
    let p = params(M, 0);
    s.update(vec![cand("a", 1.0)], 0, &p).unwrap();
    s.update(vec![cand("a", 1.0)], M, &p).unwrap();
    s.update(vec![], 2 * M, &p).unwrap();
    let ch = s.update(vec![cand("a", 1.0)], 3 * M, &p).unwrap();
    assert_eq!(
        kinds(&ch),
        vec![(AlertState::Inactive, Transition::Pending)]
    );
    assert_eq!(s.get(ch[0].fingerprint).unwrap().active_at, 3 * M);
}

#[test]
fn keep_firing_for_holds_then_resolves() {
    let mut s = AlertSet::new();
    let p = params(0, 2 * M);
    s.update(vec![cand("a", 1.0)], 0, &p).unwrap();
    assert!(s.update(vec![], M, &p).unwrap().is_empty());
    assert_eq!(state(&s, "a"), Some(AlertState::Firing));
    assert!(s.update(vec![], 2 * M + 59_000, &p).unwrap().is_empty());
    let ch = s.update(vec![], 3 * M, &p).unwrap();
    assert_eq!(kinds(&ch), vec![(AlertState::Firing, Transition::Resolved)]);
}

#[test]
fn keep_firing_since_resets_when_back() {
    let mut s = AlertSet::new();
    let p = params(0, 2 * M);
    s.update(vec![cand("a", 1.0)], 0, &p).unwrap();
    s.update(vec![], M, &p).unwrap();
    s.update(vec![cand("a", 1.0)], 2 * M, &p).unwrap();
    let fp = cand("a", 0.0).labels.fingerprint();
    assert_eq!(s.get(fp).unwrap().keep_firing_since, None);
    s.update(vec![], 3 * M, &p).unwrap();
    assert_eq!(state(&s, "a"), Some(AlertState::Firing));
}

#[test]
fn pending_is_not_kept_by_keep_firing_for() {
    let mut s = AlertSet::new();
    let p = params(5 * M, 10 * M);
    s.update(vec![cand("a", 1.0)], 0, &p).unwrap();
    s.update(vec![], M, &p).unwrap();
    assert!(s.is_empty());
}

#[test]
fn firing_goes_back_to_pending_when_for_grows() {
    let mut s = AlertSet::new();
    s.update(vec![cand("a", 1.0)], 0, &params(0, 0)).unwrap();
    let ch = s
        .update(vec![cand("a", 1.0)], M, &params(10 * M, 0))
        .unwrap();
    assert_eq!(kinds(&ch), vec![(AlertState::Firing, Transition::Pending)]);
}

#[test]
fn duplicate_labelsets_and_limit() {
    let mut s = AlertSet::new();
    let e = s.update(vec![cand("a", 1.0), cand("a", 2.0)], 0, &params(0, 0));
    assert_eq!(e, Err(UpdateError::DuplicateLabelset));
    let p = StateParams {
        limit: 1,
        ..params(0, 0)
    };
    let e = s
        .update(vec![cand("a", 1.0), cand("b", 1.0)], 0, &p)
        .unwrap_err();
    assert_eq!(e.to_string(), "exceeded limit of 1 with 2 alerts");
    assert!(s.is_empty());
    assert!(s.update(vec![cand("a", 1.0)], M, &p).is_ok());
}

fn threshold_cand(t: &Thresholds, set: &AlertSet, v: f64) -> Vec<Candidate> {
    let mut c = cand("a", v);
    let active = set.is_active(c.labels.fingerprint());
    c.crossing = t.classify(t.levels_for(&c.labels), v, active);
    if c.crossing.is_some() {
        vec![c]
    } else {
        vec![]
    }
}

#[test]
fn escalates_and_deescalates_on_the_same_alert_with_hysteresis() {
    let t = Thresholds {
        direction: Direction::Above,
        levels: Levels {
            warning: Some(2.0),
            critical: Some(5.0),
            clear: Some(1.8),
        },
        overrides: vec![],
    };
    let p = params(0, 0);
    let mut s = AlertSet::new();
    let mut step = |v: f64, ts: i64| {
        let c = threshold_cand(&t, &s, v);
        let ch = s.update(c, ts, &p).unwrap();
        (kinds(&ch), ch.first().and_then(|c| c.alert.severity))
    };
    assert_eq!(step(1.0, 0), (vec![], None));
    assert_eq!(
        step(3.0, M),
        (
            vec![(AlertState::Inactive, Transition::Firing)],
            Some(Severity::Warning)
        )
    );
    let (k, sev) = step(6.0, 2 * M);
    assert_eq!(k, vec![(AlertState::Firing, Transition::Escalated)]);
    assert_eq!(sev, Some(Severity::Critical));
    let (k, sev) = step(3.0, 3 * M);
    assert_eq!(k, vec![(AlertState::Firing, Transition::Deescalated)]);
    assert_eq!(sev, Some(Severity::Warning));
    // Below warning but above clear: still firing as warning.
    assert_eq!(step(1.9, 4 * M), (vec![], None));
    let (k, _) = step(1.7, 5 * M);
    assert_eq!(k, vec![(AlertState::Firing, Transition::Resolved)]);
    // Not active any more: 1.9 is below warning, no new alert.
    assert_eq!(step(1.9, 6 * M), (vec![], None));
}

#[test]
fn below_direction_only_critical() {
    let t = Thresholds {
        direction: Direction::Below,
        levels: Levels {
            warning: None,
            critical: Some(50.0),
            clear: None,
        },
        overrides: vec![],
    };
    let p = params(M, 0);
    let mut s = AlertSet::new();
    let c = threshold_cand(&t, &s, 40.0);
    let ch = s.update(c, 0, &p).unwrap();
    assert_eq!(ch[0].alert.severity, Some(Severity::Critical));
    assert_eq!(
        ch[0].alert.public_labels().get("severity"),
        Some("critical")
    );
    assert_eq!(ch[0].alert.labels.get("severity"), None);
    let c = threshold_cand(&t, &s, 60.0);
    let ch = s.update(c, M, &p).unwrap();
    assert_eq!(
        kinds(&ch),
        vec![(AlertState::Pending, Transition::Inactive)]
    );
}
