//! Buffer size in own metrics, read from the store on each scrape of `/metrics`.

use crate::store::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use std::sync::Arc;

/// Reports series, samples and bytes held by the buffer.
#[derive(Debug)]
pub struct BufferCollector {
    store: Arc<Store>,
}

impl BufferCollector {
    /// A collector reading `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }
}

impl Collector for BufferCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.store.stats();
        let rows: [(&str, &str, i64); 3] = [
            (
                "watchfire_buffer_series",
                "Series held in the time-window buffer.",
                stats.series as i64,
            ),
            (
                "watchfire_buffer_samples",
                "Samples held in the time-window buffer.",
                stats.samples as i64,
            ),
            (
                "watchfire_buffer_bytes",
                "Approximate bytes used by the time-window buffer's series and samples.",
                stats.bytes as i64,
            ),
        ];
        for (name, help, v) in rows {
            let g = ConstGauge::new(v);
            let m = encoder.encode_descriptor(name, help, None, g.metric_type())?;
            g.encode(m)?;
        }
        Ok(())
    }
}
