//! Process metrics with the names Prometheus' client libraries use, read
//! from `/proc/self` on each scrape (absent on systems without procfs).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reports CPU time, memory, file descriptors and start time of this process.
#[derive(Debug)]
pub struct ProcessCollector {
    start_time_seconds: f64,
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessCollector {
    /// A collector; the start time is taken now.
    pub fn new() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Self {
            start_time_seconds: read_start_time().unwrap_or(now),
        }
    }
}

/// Kernel clock ticks per second; 100 on every Linux platform Rust targets.
const TICKS_PER_SECOND: f64 = 100.0;
/// Page size used to convert `statm` pages into bytes.
const PAGE_SIZE: f64 = 4096.0;

/// Fields of `/proc/self/stat` after the command name.
fn stat_fields() -> Option<Vec<String>> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn read_start_time() -> Option<f64> {
    let fields = stat_fields()?;
    // Field 22 of stat (index 19 after the command name): start time in ticks since boot.
    let start_ticks: f64 = fields.get(19)?.parse().ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let uptime: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(now - uptime + start_ticks / TICKS_PER_SECOND)
}

fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauge = |enc: &mut DescriptorEncoder, name: &str, help: &str, v: f64| {
            let g = ConstGauge::new(v);
            let m = enc.encode_descriptor(name, help, None, g.metric_type())?;
            g.encode(m)
        };
        if let Some(fields) = stat_fields() {
            let ticks = |i: usize| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            // utime and stime are fields 14 and 15 (indices 11 and 12 here).
            let cpu = ConstCounter::new((ticks(11) + ticks(12)) / TICKS_PER_SECOND);
            let m = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                cpu.metric_type(),
            )?;
            cpu.encode(m)?;
        }
        if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
            let mut it = statm
                .split_whitespace()
                .map(|f| f.parse::<f64>().unwrap_or(0.0));
            let (virt, res) = (it.next().unwrap_or(0.0), it.next().unwrap_or(0.0));
            gauge(
                &mut encoder,
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                virt * PAGE_SIZE,
            )?;
            gauge(
                &mut encoder,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                res * PAGE_SIZE,
            )?;
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            gauge(
                &mut encoder,
                "process_open_fds",
                "Number of open file descriptors.",
                dir.count() as f64,
            )?;
        }
        if let Some(max) = max_fds() {
            gauge(
                &mut encoder,
                "process_max_fds",
                "Maximum number of open file descriptors.",
                max,
            )?;
        }
        gauge(
            &mut encoder,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            self.start_time_seconds,
        )
    }
}
