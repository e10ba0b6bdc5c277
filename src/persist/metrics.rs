//! Own metrics of the state database: whether it persists, writes and their
//! failures, write duration.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Metrics of one [`super::StateDb`] (clones share values).
#[derive(Clone)]
pub struct PersistMetrics {
    persistent: Gauge,
    writes: Counter,
    write_failures: Counter,
    write_duration: Histogram,
}

impl std::fmt::Debug for PersistMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersistMetrics")
    }
}

impl PersistMetrics {
    pub(crate) fn new(persistent: bool) -> Self {
        let m = Self {
            persistent: Gauge::default(),
            writes: Counter::default(),
            write_failures: Counter::default(),
            write_duration: Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
        };
        m.persistent.set(i64::from(persistent));
        m
    }

    pub(crate) fn observe_write(&self, took: Duration, ok: bool) {
        self.writes.inc();
        if !ok {
            self.write_failures.inc();
        }
        self.write_duration.observe(took.as_secs_f64());
    }

    /// Write transactions that failed so far.
    pub fn write_failures(&self) -> u64 {
        self.write_failures.get()
    }

    /// Registers the metrics (counter names without `_total`, which the encoder adds).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "watchfire_storage_persistent",
            "1 when alert state, silences and queues are written to the state directory, 0 when they live in memory only",
            self.persistent.clone(),
        );
        registry.register(
            "watchfire_storage_writes",
            "Write transactions to the state database",
            self.writes.clone(),
        );
        registry.register(
            "watchfire_storage_write_failures",
            "Write transactions to the state database that failed (state kept in memory only)",
            self.write_failures.clone(),
        );
        registry.register(
            "watchfire_storage_write_duration_seconds",
            "Duration of write transactions to the state database, including fsync",
            self.write_duration.clone(),
        );
    }
}
