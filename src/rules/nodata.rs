//! The no-data policy of alerting rules (watchfire's `no_data:` extension):
//! what an active alert does when the data behind it goes missing, and how
//! "missing" is told apart from "recovered".
//!
//! An active alert absent from its rule's result has *missing data* when:
//! - threshold rules: its series is absent from the expression's output (a
//!   recovered series still shows up, with a value past the levels);
//! - plain Prometheus rules: its target is known to be down, i.e. an `up`
//!   series with the alert's `job` and `instance` labels has a staleness
//!   marker as its latest sample (the target went away), or 0 as its latest
//!   sample within the lookback window (scrapes fail). Otherwise absence
//!   means recovered, exactly as in Prometheus.
//!
//! **Invariant:** [`target_down`] only reads the buffer; the policy itself is
//! applied by the pure state machine in [`alert`](super::alert).

use crate::model::{is_stale_nan, Labels, Matcher, METRIC_NAME};
use crate::store::Store;
use std::fmt;

/// Evaluations an alert is held by `keep_state` when `no_data_for` is not
/// set: the bound is this many times the group's evaluation interval.
pub const DEFAULT_NO_DATA_EVALUATIONS: i64 = 5;

/// How far back the latest `up` sample is looked for, ms (PromQL's default
/// lookback delta).
pub const UP_LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// What an active alert does while its data is missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum NoDataPolicy {
    /// Keep the alert's state and value for a bounded time (`no_data_for`),
    /// then resolve it with reason `data_missing`.
    #[default]
    KeepState,
    /// Resolve at once with reason `data_missing`.
    Resolve,
    /// Keep the alert active (a pending alert goes on to fire after `for`)
    /// until data returns.
    Alert,
}

impl NoDataPolicy {
    /// Parses `keep_state`, `resolve` or `alert`.
    pub fn parse(s: &str) -> Option<NoDataPolicy> {
        match s {
            "keep_state" => Some(NoDataPolicy::KeepState),
            "resolve" => Some(NoDataPolicy::Resolve),
            "alert" => Some(NoDataPolicy::Alert),
            _ => None,
        }
    }

    /// `keep_state`, `resolve` or `alert`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoDataPolicy::KeepState => "keep_state",
            NoDataPolicy::Resolve => "resolve",
            NoDataPolicy::Alert => "alert",
        }
    }

    /// Whether an alert whose data has been missing for `missing_ms` is
    /// still held, given the `keep_state` bound `bound_ms`.
    pub fn holds(self, missing_ms: i64, bound_ms: i64) -> bool {
        match self {
            NoDataPolicy::KeepState => missing_ms < bound_ms,
            NoDataPolicy::Resolve => false,
            NoDataPolicy::Alert => true,
        }
    }
}

impl fmt::Display for NoDataPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an alert resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResolveReason {
    /// The condition cleared (the series left the result while its data was
    /// still reported).
    Recovered,
    /// The data behind the alert went missing.
    DataMissing,
}

impl ResolveReason {
    /// `recovered` or `data_missing`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveReason::Recovered => "recovered",
            ResolveReason::DataMissing => "data_missing",
        }
    }
}

impl fmt::Display for ResolveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the target behind `labels` (its `job` and `instance`) is known to
/// be down at `t_ms`: the latest sample at or before `t_ms` of some `up`
/// series of that target is a staleness marker (of any age still in the
/// buffer), or 0 within `(t_ms - UP_LOOKBACK_MS, t_ms]`. False when either
/// label is missing or there is no such `up` series.
pub fn target_down(store: &Store, labels: &Labels, t_ms: i64) -> bool {
    let (Some(job), Some(instance)) = (labels.get("job"), labels.get("instance")) else {
        return false;
    };
    let matchers = [
        Matcher::equal(METRIC_NAME, "up"),
        Matcher::equal("job", job),
        Matcher::equal("instance", instance),
    ];
    store.select_unsorted(&matchers).iter().any(|s| {
        let latest = match s.last() {
            Some(x) if x.t <= t_ms => Some((x.t, x.v)),
            _ => {
                let mut latest = None;
                s.for_each_sample_in(i64::MIN, t_ms, |t, v| latest = Some((t, v)));
                latest
            }
        };
        latest.is_some_and(|(t, v)| is_stale_nan(v) || (v == 0.0 && t > t_ms - UP_LOOKBACK_MS))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STALE_NAN;
    use crate::rules::alert::{
        Alert, AlertSet, AlertState, Candidate, Change, StateParams, Transition,
    };
    use crate::store::StoreOptions;

    fn store_with_up(values: &[(i64, f64)]) -> Store {
        let store = Store::new(StoreOptions { retention_ms: None });
        let (s, _) = store.get_or_create(Labels::from_pairs([
            ("__name__", "up"),
            ("instance", "h:1"),
            ("job", "app"),
        ]));
        for (t, v) in values {
            store.append(&s, *t, *v).unwrap();
        }
        store
    }

    fn alert_labels(job: &str) -> Labels {
        Labels::from_pairs([("alertname", "A"), ("instance", "h:1"), ("job", job)])
    }

    #[test]
    fn up_zero_or_stale_means_down() {
        let s = store_with_up(&[(1_000, 1.0), (2_000, 0.0)]);
        assert!(target_down(&s, &alert_labels("app"), 2_000));
        assert!(!target_down(&s, &alert_labels("app"), 1_500));
        assert!(!target_down(&s, &alert_labels("other"), 2_000));
        let s = store_with_up(&[(1_000, 1.0), (2_000, STALE_NAN), (3_000, 1.0)]);
        assert!(target_down(&s, &alert_labels("app"), 2_500));
        assert!(!target_down(&s, &alert_labels("app"), 3_000));
        // A target that went away stays down past the lookback window.
        let s = store_with_up(&[(1_000, 1.0), (2_000, STALE_NAN)]);
        assert!(target_down(
            &s,
            &alert_labels("app"),
            2_000 + 2 * UP_LOOKBACK_MS
        ));
    }

    #[test]
    fn no_recent_up_sample_or_labels_means_not_known_down() {
        let s = store_with_up(&[(1_000, 0.0)]);
        assert!(!target_down(
            &s,
            &alert_labels("app"),
            1_000 + UP_LOOKBACK_MS
        ));
        assert!(target_down(&s, &alert_labels("app"), UP_LOOKBACK_MS));
        let no_instance = Labels::from_pairs([("alertname", "A"), ("job", "app")]);
        assert!(!target_down(&s, &no_instance, 1_000));
    }

    const M: i64 = 60_000;

    fn cand(v: f64) -> Candidate {
        Candidate {
            labels: alert_labels("app"),
            annotations: vec![("summary".into(), "s".into())],
            value: v,
            crossing: None,
        }
    }

    fn params(no_data: NoDataPolicy, hold_ms: i64) -> StateParams {
        StateParams {
            hold_ms,
            keep_firing_for_ms: 0,
            limit: 0,
            no_data,
            no_data_for_ms: 5 * M,
        }
    }

    fn kinds(ch: &[Change]) -> Vec<(Transition, Option<ResolveReason>)> {
        ch.iter().map(|c| (c.to, c.alert.resolve_reason)).collect()
    }

    /// An alert set with one alert firing since `0`.
    fn firing(p: &StateParams) -> AlertSet {
        let mut s = AlertSet::new();
        s.update(vec![cand(7.0)], 0, p).unwrap();
        assert_eq!(s.max_state(), AlertState::Firing);
        s
    }

    const MISSING: &dyn Fn(&Labels) -> bool = &|_| true;
    const REPORTING: &dyn Fn(&Labels) -> bool = &|_| false;

    fn the_alert(s: &AlertSet) -> &Alert {
        s.iter().next().unwrap()
    }

    #[test]
    fn keep_state_holds_for_the_bound_then_resolves_data_missing() {
        let p = params(NoDataPolicy::KeepState, 0);
        let mut s = firing(&p);
        for i in 1..=5 {
            let ch = s.update_with(vec![], MISSING, i * M, &p).unwrap();
            assert!(ch.is_empty(), "{ch:?}");
            let a = the_alert(&s);
            assert_eq!((a.state, a.value), (AlertState::Firing, 7.0));
            assert_eq!(a.data_missing_since, Some(M));
            assert!(a
                .annotations
                .contains(&("data_missing".into(), "true".into())));
        }
        let ch = s.update_with(vec![], MISSING, 6 * M, &p).unwrap();
        assert_eq!(
            kinds(&ch),
            [(Transition::Resolved, Some(ResolveReason::DataMissing))]
        );
        assert_eq!(the_alert(&s).resolved_at, Some(6 * M));
    }

    #[test]
    fn data_returning_clears_the_hold_and_a_later_absence_is_recovery() {
        let p = params(NoDataPolicy::KeepState, 0);
        let mut s = firing(&p);
        s.update_with(vec![], MISSING, M, &p).unwrap();
        let ch = s.update(vec![cand(8.0)], 2 * M, &p).unwrap();
        assert!(ch.is_empty());
        let a = the_alert(&s);
        assert_eq!((a.data_missing_since, a.value), (None, 8.0));
        assert_eq!(a.annotations, [("summary".to_string(), "s".to_string())]);
        // Missing again: the bound counts from the new start.
        for t in 3..=7 {
            assert!(s
                .update_with(vec![], MISSING, t * M, &p)
                .unwrap()
                .is_empty());
        }
        let ch = s.update_with(vec![], REPORTING, 8 * M, &p).unwrap();
        assert_eq!(
            kinds(&ch),
            [(Transition::Resolved, Some(ResolveReason::Recovered))]
        );
        // A recovery does not carry the missing-data marker.
        assert_eq!(ch[0].alert.annotations.len(), 1);
    }

    #[test]
    fn resolve_policy_resolves_at_once_despite_keep_firing_for() {
        let p = StateParams {
            keep_firing_for_ms: 10 * M,
            ..params(NoDataPolicy::Resolve, 0)
        };
        let mut s = firing(&p);
        let ch = s.update_with(vec![], MISSING, M, &p).unwrap();
        assert_eq!(
            kinds(&ch),
            [(Transition::Resolved, Some(ResolveReason::DataMissing))]
        );
    }

    #[test]
    fn alert_policy_keeps_firing_until_data_returns_and_pending_goes_on_to_fire() {
        let p = params(NoDataPolicy::Alert, 2 * M);
        let mut s = AlertSet::new();
        s.update(vec![cand(7.0)], 0, &p).unwrap();
        assert!(s.update_with(vec![], MISSING, M, &p).unwrap().is_empty());
        assert_eq!(the_alert(&s).state, AlertState::Pending);
        let ch = s.update_with(vec![], MISSING, 2 * M, &p).unwrap();
        assert_eq!(kinds(&ch), [(Transition::Firing, None)]);
        assert!(s
            .update_with(vec![], MISSING, 1_000 * M, &p)
            .unwrap()
            .is_empty());
        assert_eq!(the_alert(&s).state, AlertState::Firing);
        assert!(s.update(vec![cand(7.0)], 1_001 * M, &p).unwrap().is_empty());
        assert_eq!(the_alert(&s).data_missing_since, None);
    }

    #[test]
    fn keep_state_freezes_a_pending_alert_then_drops_it() {
        let p = params(NoDataPolicy::KeepState, 2 * M);
        let mut s = AlertSet::new();
        s.update(vec![cand(7.0)], 0, &p).unwrap();
        for t in 1..=5 {
            assert!(s
                .update_with(vec![], MISSING, t * M, &p)
                .unwrap()
                .is_empty());
            assert_eq!(the_alert(&s).state, AlertState::Pending);
        }
        let ch = s.update_with(vec![], MISSING, 6 * M, &p).unwrap();
        assert_eq!(
            kinds(&ch),
            [(Transition::Inactive, Some(ResolveReason::DataMissing))]
        );
        assert!(s.is_empty());
    }

    #[test]
    fn plain_update_means_recovered() {
        let p = params(NoDataPolicy::KeepState, 0);
        let mut s = firing(&p);
        let ch = s.update(vec![], M, &p).unwrap();
        assert_eq!(
            kinds(&ch),
            [(Transition::Resolved, Some(ResolveReason::Recovered))]
        );
    }

    #[test]
    fn policy_bounds() {
        assert_eq!(
            NoDataPolicy::parse("keep_state"),
            Some(NoDataPolicy::KeepState)
        );
        assert_eq!(NoDataPolicy::parse("Resolve"), None);
        assert!(NoDataPolicy::KeepState.holds(4, 5));
        assert!(!NoDataPolicy::KeepState.holds(5, 5));
        assert!(!NoDataPolicy::Resolve.holds(0, 5));
        assert!(NoDataPolicy::Alert.holds(i64::MAX, 5));
        assert_eq!(ResolveReason::DataMissing.to_string(), "data_missing");
    }
}
