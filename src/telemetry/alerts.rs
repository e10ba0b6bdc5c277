//! `ALERTS` in own metrics: one series per pending or firing alert, with
//! `alertname`, `alertstate`, `severity` and the alert's labels, as the
//! `ALERTS` series Prometheus writes into its TSDB.

use crate::rules::alert::AlertState;
use crate::rules::manager::Manager;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads the rule manager's alerts on each scrape of `/metrics`.
#[derive(Debug)]
pub struct AlertsCollector {
    rules: Manager,
}

impl AlertsCollector {
    /// A collector over `rules`.
    pub fn new(rules: Manager) -> Self {
        Self { rules }
    }
}

impl Collector for AlertsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut rows: Vec<Vec<(String, String)>> = Vec::new();
        for g in self.rules.groups() {
            g.with_state(|st| {
                for r in &st.rules {
                    for a in r.alerts.iter().filter(|a| a.state != AlertState::Inactive) {
                        let mut labels: Vec<(String, String)> = a
                            .public_labels()
                            .iter()
                            .map(|l| (l.name.to_string(), l.value.to_string()))
                            .collect();
                        labels.push(("alertstate".to_string(), a.state.as_str().to_string()));
                        labels.sort();
                        rows.push(labels);
                    }
                }
            });
        }
        if rows.is_empty() {
            return Ok(());
        }
        rows.sort();
        let one = ConstGauge::new(1i64);
        let mut family = encoder.encode_descriptor(
            "ALERTS",
            "Pending and firing alerts, with their labels and severity.",
            None,
            one.metric_type(),
        )?;
        for labels in &rows {
            let m = family.encode_family(labels)?;
            one.encode(m)?;
        }
        Ok(())
    }
}
