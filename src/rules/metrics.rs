//! The rule engine's own metrics, named as Prometheus' `prometheus_rule_*`
//! with the `watchfire_` prefix.

use super::alert::{AlertState, AlertTransition};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type L = Vec<(String, String)>;
type FGauge = Gauge<f64, AtomicU64>;

/// Metric families of the rule manager (cheap to clone: families are shared).
#[derive(Debug, Clone, Default)]
pub struct RuleMetrics {
    pub(crate) evaluations: Family<L, Counter>,
    pub(crate) failures: Family<L, Counter>,
    pub(crate) last_duration: Family<L, FGauge>,
    pub(crate) iterations_missed: Family<L, Counter>,
    pub(crate) iterations: Family<L, Counter>,
    pub(crate) rules: Family<L, Gauge>,
    pub(crate) interval: Family<L, FGauge>,
    pub(crate) last_eval_ts: Family<L, FGauge>,
    pub(crate) last_samples: Family<L, Gauge>,
    pub(crate) transitions: Family<L, Counter>,
    pub(crate) alerts: Family<L, Gauge>,
    pub(crate) datasource_failures: Family<L, Counter>,
}

fn group_label(key: &str) -> L {
    vec![("rule_group".to_string(), key.to_string())]
}

impl RuleMetrics {
    /// Registers every family.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "watchfire_rule_evaluations",
            "The total number of rule evaluations",
            self.evaluations.clone(),
        );
        r.register(
            "watchfire_rule_datasource_query_failures",
            "The total number of failed queries on a remote datasource (by datasource name)",
            self.datasource_failures.clone(),
        );
        r.register(
            "watchfire_rule_evaluation_failures",
            "The total number of rule evaluation failures",
            self.failures.clone(),
        );
        r.register(
            "watchfire_rule_group_last_duration_seconds",
            "The duration of the last rule group evaluation",
            self.last_duration.clone(),
        );
        r.register(
            "watchfire_rule_group_iterations_missed",
            "The total number of rule group evaluations missed due to slow rule group evaluation",
            self.iterations_missed.clone(),
        );
        r.register(
            "watchfire_rule_group_iterations",
            "The total number of scheduled rule group evaluations, whether executed or missed",
            self.iterations.clone(),
        );
        r.register(
            "watchfire_rule_group_rules",
            "The number of rules",
            self.rules.clone(),
        );
        r.register(
            "watchfire_rule_group_interval_seconds",
            "The interval of a rule group",
            self.interval.clone(),
        );
        r.register(
            "watchfire_rule_group_last_evaluation_timestamp_seconds",
            "The timestamp of the last rule group evaluation in seconds",
            self.last_eval_ts.clone(),
        );
        r.register(
            "watchfire_rule_group_last_evaluation_samples",
            "The number of samples returned during the last rule group evaluation",
            self.last_samples.clone(),
        );
        r.register(
            "watchfire_alert_transitions",
            "The total number of alert transitions, by alert name and transition",
            self.transitions.clone(),
        );
        r.register(
            "watchfire_alerts",
            "The number of pending and firing alerts, by state and severity",
            self.alerts.clone(),
        );
    }

    /// Creates a group's series (so they exist before the first evaluation).
    pub(crate) fn add_group(&self, key: &str, rules: usize, interval_ms: i64) {
        let l = group_label(key);
        let _ = self.evaluations.get_or_create(&l);
        let _ = self.failures.get_or_create(&l);
        let _ = self.iterations_missed.get_or_create(&l);
        let _ = self.iterations.get_or_create(&l);
        let _ = self.last_duration.get_or_create(&l);
        let _ = self.last_eval_ts.get_or_create(&l);
        let _ = self.last_samples.get_or_create(&l);
        self.rules.get_or_create(&l).set(rules as i64);
        self.interval
            .get_or_create(&l)
            .set(interval_ms as f64 / 1000.0);
    }

    /// Drops a removed group's series.
    pub(crate) fn remove_group(&self, key: &str) {
        let l = group_label(key);
        self.evaluations.remove(&l);
        self.failures.remove(&l);
        self.iterations_missed.remove(&l);
        self.iterations.remove(&l);
        self.last_duration.remove(&l);
        self.last_eval_ts.remove(&l);
        self.last_samples.remove(&l);
        self.rules.remove(&l);
        self.interval.remove(&l);
    }

    /// Records one scheduled iteration and the ones missed before it.
    pub(crate) fn iteration(&self, key: &str, missed: u64) {
        let l = group_label(key);
        self.iterations.get_or_create(&l).inc_by(missed + 1);
        if missed > 0 {
            self.iterations_missed.get_or_create(&l).inc_by(missed);
        }
    }

    /// Records a finished group evaluation.
    pub(crate) fn evaluated(
        &self,
        key: &str,
        out: &super::group::EvalOutcome,
        ts_ms: i64,
        secs: f64,
    ) {
        let l = group_label(key);
        self.evaluations.get_or_create(&l).inc_by(out.evaluations);
        self.failures.get_or_create(&l).inc_by(out.failures);
        self.last_duration.get_or_create(&l).set(secs);
        self.last_eval_ts
            .get_or_create(&l)
            .set(ts_ms as f64 / 1000.0);
        self.last_samples.get_or_create(&l).set(out.samples as i64);
    }

    /// Counts a transition.
    pub(crate) fn transition(&self, t: &AlertTransition) {
        let l = vec![
            ("alertname".to_string(), t.rule.to_string()),
            ("to".to_string(), t.to.as_str().to_string()),
        ];
        self.transitions.get_or_create(&l).inc();
    }

    /// Sets the active alert gauges from (state, severity) counts.
    pub(crate) fn set_active(&self, counts: &[((AlertState, String), i64)]) {
        self.alerts.clear();
        for ((state, severity), n) in counts {
            let l = vec![
                ("state".to_string(), state.as_str().to_string()),
                ("severity".to_string(), severity.clone()),
            ];
            self.alerts.get_or_create(&l).set(*n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn names_match_prometheus_with_our_prefix() {
        let m = RuleMetrics::default();
        m.add_group("f.yml;g", 3, 30_000);
        m.iteration("f.yml;g", 2);
        let mut r = Registry::default();
        m.register(&mut r);
        let mut text = String::new();
        encode(&mut text, &r).unwrap();
        for want in [
            "watchfire_rule_evaluations_total{rule_group=\"f.yml;g\"} 0",
            "watchfire_rule_group_iterations_missed_total{rule_group=\"f.yml;g\"} 2",
            "watchfire_rule_group_iterations_total{rule_group=\"f.yml;g\"} 3",
            "watchfire_rule_group_rules{rule_group=\"f.yml;g\"} 3",
            "watchfire_rule_group_interval_seconds{rule_group=\"f.yml;g\"} 30.0",
            "# TYPE watchfire_rule_group_last_duration_seconds gauge",
            "# HELP watchfire_rule_group_rules The number of rules.\n",
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
        m.remove_group("f.yml;g");
        let mut text = String::new();
        encode(&mut text, &r).unwrap();
        assert!(!text.contains("rule_group=\"f.yml;g\""));
    }
}
