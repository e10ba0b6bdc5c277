//! watchfire's own health: the metrics registry behind `/metrics`, process
//! and build metrics, and logging setup.
//!
//! Each stage registers its own metric families here at start-up (see
//! [`Telemetry::registry_mut`]); the HTTP server only encodes.

mod buffer;
mod logging;
mod process;

pub use buffer::BufferCollector;
pub use logging::{init_logging, LogFormat};
pub use process::ProcessCollector;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The metrics registry, built once at start-up and then only read.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// A registry holding process and build metrics.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ProcessCollector::new()));
        let build_info = Family::<Vec<(String, String)>, Gauge>::default();
        build_info
            .get_or_create(&vec![
                ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
                (
                    "revision".to_string(),
                    option_env!("WATCHFIRE_REVISION")
                        .unwrap_or("unknown")
                        .to_string(),
                ),
                (
                    "branch".to_string(),
                    option_env!("WATCHFIRE_BRANCH")
                        .unwrap_or("unknown")
                        .to_string(),
                ),
            ])
            .set(1);
        registry.register(
            "watchfire_build_info",
            "A metric with a constant '1' value labeled by version, revision and branch from which watchfire was built",
            build_info,
        );
        Self { registry }
    }

    /// The registry, for stages to register their metric families before serving starts.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Encodes every registered metric in the Prometheus text format 0.0.4.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail; an encoder error would be a bug in a collector.
        if let Err(e) = prometheus_text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding own metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_build_and_process_metrics() {
        let text = Telemetry::new().encode();
        assert!(text.contains("# TYPE watchfire_build_info gauge"), "{text}");
        assert!(text.contains("watchfire_build_info{version=\""), "{text}");
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
        assert!(text.contains("process_start_time_seconds "), "{text}");
    }
}
