//! `/api/v1/status/tsdb` and `/api/v1/status/runtimeinfo`, in Prometheus 3's shapes.
//!
//! The cardinality statistics are those of Prometheus' head block, computed from the buffer:
//! `headStats` (`numSeries`, `numLabelPairs` — distinct name/value pairs —, `chunkCount`,
//! `minTime`, `maxTime` of the visible samples), then the top `limit` (default 10) of series
//! per metric name, distinct values per label name, label bytes per label name (each pair's
//! length-prefixed name and value, times its series, as Prometheus counts them) and series
//! per `name=value` pair; ties are ordered by name. The walk runs on the query executor under
//! the query timeout and locks each series once, briefly; appends are never held up for
//! longer than one series' chunk scan.

use super::exec::QueryTicket;
use super::extract::Form;
use super::response::{ApiError, ApiOk};
use super::AppState;
use crate::model::Labels;
use crate::store::Store;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Counts gathered over the buffer's series.
#[derive(Debug, Default)]
pub struct Cardinality {
    series: u64,
    chunks: u64,
    min_time: Option<i64>,
    max_time: Option<i64>,
    /// Label name → value → series.
    pairs: HashMap<Arc<str>, HashMap<Arc<str>, u64>>,
}

impl Cardinality {
    /// Counts one series with `chunks` chunks and visible samples from `extent.0` to `extent.1`.
    pub fn add(&mut self, labels: &Labels, chunks: usize, extent: Option<(i64, i64)>) {
        self.series += 1;
        self.chunks += chunks as u64;
        if let Some((lo, hi)) = extent {
            self.min_time = Some(self.min_time.map_or(lo, |m| m.min(lo)));
            self.max_time = Some(self.max_time.map_or(hi, |m| m.max(hi)));
        }
        for l in labels.iter() {
            *self
                .pairs
                .entry(l.name.clone())
                .or_default()
                .entry(l.value.clone())
                .or_default() += 1;
        }
    }

    /// The head figures and the top `limit` of each list.
    pub fn summary(&self, limit: usize) -> HeadSummary {
        let mut by_metric = Vec::new();
        let mut values_by_name = Vec::new();
        let mut bytes_by_name = Vec::new();
        let mut by_pair = Vec::new();
        let mut label_pairs = 0u64;
        for (name, values) in &self.pairs {
            label_pairs += values.len() as u64;
            values_by_name.push((name.to_string(), values.len() as u64));
            let mut bytes = 0u64;
            for (value, series) in values {
                if &**name == "__name__" {
                    by_metric.push((value.to_string(), *series));
                }
                by_pair.push((format!("{name}={value}"), *series));
                bytes += (prefixed_len(name) + prefixed_len(value)) * series;
            }
            bytes_by_name.push((name.to_string(), bytes));
        }
        HeadSummary {
            series: self.series,
            label_pairs,
            chunks: self.chunks,
            min_time: self.min_time,
            max_time: self.max_time,
            series_by_metric: top(by_metric, limit),
            values_by_label: top(values_by_name, limit),
            bytes_by_label: top(bytes_by_name, limit),
            series_by_pair: top(by_pair, limit),
        }
    }

    /// The `data` of `/api/v1/status/tsdb` with the top `limit` of each list.
    pub fn to_json(&self, limit: usize) -> Value {
        let s = self.summary(limit);
        json!({
            "headStats": {
                "numSeries": s.series,
                "numLabelPairs": s.label_pairs,
                "chunkCount": s.chunks,
                // An empty head reports the extremes, as Prometheus' does.
                "minTime": s.min_time.unwrap_or(i64::MAX),
                "maxTime": s.max_time.unwrap_or(i64::MIN),
            },
            "seriesCountByMetricName": top_json(s.series_by_metric),
            "labelValueCountByLabelName": top_json(s.values_by_label),
            "memoryInBytesByLabelName": top_json(s.bytes_by_label),
            "seriesCountByLabelValuePair": top_json(s.series_by_pair),
        })
    }

    /// Counts every series of `store`, checking `ticket`'s deadline as it goes.
    pub fn of_store(store: &Store, ticket: &QueryTicket) -> Result<Self, ApiError> {
        let mut c = Cardinality::default();
        for (i, series) in store.all_series().into_iter().enumerate() {
            if i % 1024 == 1023 {
                ticket.check("head statistics")?;
            }
            let (chunks, extent) = series.extent();
            c.add(series.labels(), chunks, extent);
        }
        ticket.check("head statistics")?;
        Ok(c)
    }
}

/// The buffer's head statistics with their top lists (largest first, ties by name), as
/// `/api/v1/status/tsdb` answers them and `/status` shows them.
#[derive(Debug, Clone, Default)]
pub struct HeadSummary {
    pub series: u64,
    /// Distinct label name/value pairs.
    pub label_pairs: u64,
    pub chunks: u64,
    /// Oldest and newest visible sample, milliseconds; `None` when the buffer is empty.
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
    pub series_by_metric: Vec<(String, u64)>,
    pub values_by_label: Vec<(String, u64)>,
    /// Length-prefixed name and value bytes times series, as Prometheus counts them.
    pub bytes_by_label: Vec<(String, u64)>,
    pub series_by_pair: Vec<(String, u64)>,
}

/// A string's bytes with its varint length prefix.
fn prefixed_len(s: &str) -> u64 {
    let n = s.len() as u64;
    let mut prefix = 1;
    let mut rest = n >> 7;
    while rest > 0 {
        prefix += 1;
        rest >>= 7;
    }
    n + prefix
}

/// The `limit` largest counts, largest first (ties by name).
fn top(mut items: Vec<(String, u64)>, limit: usize) -> Vec<(String, u64)> {
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    items.truncate(limit);
    items
}

/// A top list as `{name, value}` objects.
fn top_json(items: Vec<(String, u64)>) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect(),
    )
}

/// `GET /api/v1/status/tsdb`.
pub async fn tsdb(State(s): State<AppState>, Form(p): Form) -> Result<Response, ApiError> {
    let limit = match p.get("limit").filter(|l| !l.is_empty()) {
        None => 10,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return Err(ApiError::bad_data("limit must be a positive number")),
        },
    };
    let timeout = s.queries.timeout();
    let ex = s.queries.clone();
    ex.run(timeout, move |t| {
        let c = Cardinality::of_store(&s.store, t)?;
        Ok(ApiOk::new(c.to_json(limit)).into_response())
    })
    .await
}

/// `GET /api/v1/status/runtimeinfo`: Prometheus' fields. The Go runtime's become their
/// nearest analogues: `goroutineCount` is the tokio tasks alive, `GOMAXPROCS` the cores
/// available, `GOMEMLIMIT` Go's "no limit" (`math.MaxInt64`), `GOGC` and `GODEBUG` the
/// environment's values (empty when unset); `storageRetention` is the buffer's retention.
pub async fn runtimeinfo(State(s): State<AppState>) -> Result<Response, ApiError> {
    use crate::gostd::json::time_text;
    let (reload_ok, last_config) = s.status.reload_state();
    let last_config =
        chrono::DateTime::from_timestamp(last_config.timestamp(), 0).unwrap_or(last_config);
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|e| format!("<error retrieving current working directory: {e}>"));
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    Ok(ApiOk::new(json!({
        "startTime": time_text(s.status.started()),
        "CWD": cwd,
        "hostname": hostname,
        "serverTime": time_text(chrono::Utc::now()),
        "reloadConfigSuccess": reload_ok,
        "lastConfigTime": time_text(last_config),
        "corruptionCount": 0,
        "goroutineCount": tasks,
        "GOMAXPROCS": cores,
        "GOMEMLIMIT": i64::MAX,
        "GOGC": std::env::var("GOGC").unwrap_or_default(),
        "GODEBUG": std::env::var("GODEBUG").unwrap_or_default(),
        "storageRetention": s.status.retention(),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_statistics_count_series_pairs_and_bytes() {
        let mut c = Cardinality::default();
        let series = [
            [("__name__", "up"), ("job", "node"), ("instance", "a:1")],
            [("__name__", "up"), ("job", "node"), ("instance", "b:1")],
            [("__name__", "x"), ("job", "api"), ("instance", "a:1")],
        ];
        for (i, s) in series.iter().enumerate() {
            let t = i as i64 * 10;
            c.add(&Labels::from_pairs(s.iter().copied()), 2, Some((t, t + 5)));
        }
        let got = c.to_json(2);
        assert_eq!(
            got["headStats"],
            json!({"numSeries": 3, "numLabelPairs": 6, "chunkCount": 6,
                   "minTime": 0, "maxTime": 25})
        );
        assert_eq!(
            got["seriesCountByMetricName"],
            json!([{"name": "up", "value": 2}, {"name": "x", "value": 1}])
        );
        assert_eq!(
            got["labelValueCountByLabelName"],
            json!([{"name": "__name__", "value": 2}, {"name": "instance", "value": 2}])
        );
        // instance: (1 + 8 + 1 + 3) bytes × 3 series; __name__: (9 + 3) × 2 + (9 + 2) × 1.
        assert_eq!(
            got["memoryInBytesByLabelName"],
            json!([{"name": "instance", "value": 39}, {"name": "__name__", "value": 35}])
        );
        assert_eq!(
            got["seriesCountByLabelValuePair"],
            json!([{"name": "__name__=up", "value": 2}, {"name": "instance=a:1", "value": 2}])
        );
        let empty = Cardinality::default().to_json(10);
        assert_eq!(empty["headStats"]["minTime"], i64::MAX);
        assert_eq!(empty["seriesCountByMetricName"], json!([]));
    }

    #[test]
    fn length_prefixes_are_varints() {
        assert_eq!(prefixed_len(""), 1);
        assert_eq!(prefixed_len(&"a".repeat(127)), 128);
        assert_eq!(prefixed_len(&"a".repeat(128)), 130);
    }
}
