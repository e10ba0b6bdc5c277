//! A decoded remote-write request into the buffer.

use super::proto::{RequestV2, Sample, WriteRequest};
use crate::model::{Labels, METRIC_NAME};
use crate::store::{AppendError, Store};

/// How far in the future a sample may be (Prometheus' `maxAheadTime`).
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// Error texts kept for the response; further ones are only counted.
const MAX_ERRORS_SHOWN: usize = 10;

/// What one request did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Float samples appended.
    pub samples_written: u64,
    /// Float samples refused: out of order, duplicate with another value, out of bounds, or
    /// of a series the buffer had no room for.
    pub samples_refused: u64,
    /// Samples of series with invalid labels (Prometheus'
    /// `prometheus_api_remote_write_invalid_labels_samples_total`).
    pub invalid_labels_samples: u64,
    /// Native histogram samples, which the buffer does not hold.
    pub histograms_refused: u64,
    /// Problems that make the answer a 400, first few as text.
    pub errors: Vec<String>,
    /// All such problems, shown or not.
    pub error_count: u64,
}

impl Outcome {
    /// The 400 message: the problems, one per line (Go's `errors.Join`), with a count of the
    /// ones left out; `None` when the request was fully taken.
    pub fn bad_request(&self) -> Option<String> {
        if self.error_count == 0 {
            return None;
        }
        let mut text = self.errors.join("\n");
        let hidden = self.error_count - self.errors.len() as u64;
        if hidden > 0 {
            text.push_str(&format!("\n… and {hidden} more"));
        }
        Some(text)
    }

    fn error(&mut self, message: impl FnOnce() -> String) {
        self.error_count += 1;
        if self.errors.len() < MAX_ERRORS_SHOWN {
            self.errors.push(message());
        }
    }
}

/// The label set of raw name/value pairs, or why it is invalid (no metric name, an empty
/// name, a name given twice).
fn series_labels<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Result<Labels, String> {
    let labels = Labels::from_pairs(pairs.clone());
    let mut names: Vec<&str> = pairs.clone().map(|(n, _)| n).collect();
    let shown = || {
        let parts: Vec<String> = pairs.clone().map(|(n, v)| format!("{n}={v:?}")).collect();
        format!("{{{}}}", parts.join(", "))
    };
    if labels.get(METRIC_NAME).is_none() || names.iter().any(|n| n.is_empty()) {
        return Err(format!("invalid metric name or labels, got {}", shown()));
    }
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!(
            "invalid labels for series, labels {}, duplicated label {}",
            shown(),
            w[0]
        ));
    }
    Ok(labels)
}

/// Appends `samples` of the series `labels`, oldest first; each refused one is reported.
fn append(store: &Store, labels: &Labels, samples: &[Sample], now_ms: i64, out: &mut Outcome) {
    if samples.is_empty() {
        return;
    }
    let series = match store.try_get_or_create(labels) {
        Ok((series, _)) => series,
        Err(e) => {
            out.samples_refused += samples.len() as u64;
            out.error(|| format!("{e} for series {labels}"));
            return;
        }
    };
    let oldest = store
        .options()
        .retention_ms
        .map_or(i64::MIN, |r| now_ms.saturating_sub(r));
    for s in samples {
        let problem = if s.timestamp > now_ms.saturating_add(MAX_AHEAD_MS) {
            Some("out of bounds: timestamp is too far in the future")
        } else if s.timestamp < oldest {
            Some("too old sample: older than the buffer's window")
        } else {
            match store.append(&series, s.timestamp, s.value) {
                Ok(()) => None,
                Err(AppendError::OutOfOrder) => Some("out of order sample"),
                Err(AppendError::DuplicateTimestamp) => Some("duplicate sample for timestamp"),
            }
        };
        match problem {
            None => out.samples_written += 1,
            Some(p) => {
                out.samples_refused += 1;
                out.error(|| format!("{p} for series {labels} at {}", s.timestamp));
            }
        }
    }
}

/// Writes a Remote Write 1.0 request. Series with invalid labels are skipped and counted,
/// as Prometheus does for 1.0 (not an error for the sender).
pub fn write_v1(store: &Store, req: &WriteRequest, now_ms: i64) -> Outcome {
    let mut out = Outcome::default();
    for ts in &req.timeseries {
        out.histograms_refused += ts.histograms.len() as u64;
        let pairs = ts
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()));
        match series_labels(pairs) {
            Ok(labels) => append(store, &labels, &ts.samples, now_ms, &mut out),
            Err(e) => {
                tracing::warn!(error = %e, "remote write: series skipped");
                out.invalid_labels_samples += ts.samples.len() as u64;
            }
        }
    }
    out
}

/// Writes a Remote Write 2.0 request: labels resolved through `symbols`; invalid references
/// or labels are errors for that series (a 400), the other series are still written.
pub fn write_v2(store: &Store, req: &RequestV2, now_ms: i64) -> Outcome {
    let mut out = Outcome::default();
    let symbol = |r: u32| req.symbols.get(r as usize).map(String::as_str);
    for ts in &req.timeseries {
        out.histograms_refused += ts.histograms.len() as u64;
        if ts.labels_refs.len() % 2 != 0 {
            out.invalid_labels_samples += ts.samples.len() as u64;
            out.error(|| {
                format!(
                    "parsing labels for series {:?}: odd number of label references",
                    ts.labels_refs
                )
            });
            continue;
        }
        let pairs: Option<Vec<(&str, &str)>> = ts
            .labels_refs
            .chunks_exact(2)
            .map(|p| Some((symbol(p[0])?, symbol(p[1])?)))
            .collect();
        let Some(pairs) = pairs else {
            out.invalid_labels_samples += ts.samples.len() as u64;
            out.error(|| {
                format!(
                    "parsing labels for series {:?}: reference out of range of {} symbols",
                    ts.labels_refs,
                    req.symbols.len()
                )
            });
            continue;
        };
        let labels = match series_labels(pairs.iter().copied()) {
            Ok(labels) => labels,
            Err(e) => {
                out.invalid_labels_samples += ts.samples.len() as u64;
                out.error(|| e);
                continue;
            }
        };
        if ts.samples.is_empty() && ts.histograms.is_empty() {
            out.error(|| {
                format!(
                    "TimeSeries must contain at least one sample or histogram for series {labels}"
                )
            });
            continue;
        }
        append(store, &labels, &ts.samples, now_ms, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::proto::{Label, TimeSeries, TimeSeriesV2};
    use super::*;
    use crate::store::StoreOptions;

    const NOW: i64 = 1_700_000_000_000;

    fn store() -> Store {
        Store::new(StoreOptions {
            retention_ms: Some(15 * 60 * 1000),
        })
    }

    fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: pairs
                .iter()
                .map(|(n, v)| Label {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..Default::default()
        }
    }

    fn values(store: &Store, labels: &Labels) -> Vec<(i64, f64)> {
        let s = store.get(labels).expect("series");
        let mut out = Vec::new();
        s.samples_in(i64::MIN, i64::MAX, &mut out);
        out.into_iter().map(|s| (s.t, s.v)).collect()
    }

    #[test]
    fn v1_writes_samples_and_skips_invalid_series() {
        let store = store();
        let req = WriteRequest {
            timeseries: vec![
                series(
                    &[("__name__", "up"), ("job", "a")],
                    &[(NOW - 2000, 1.0), (NOW - 1000, 0.0)],
                ),
                series(&[("job", "nameless")], &[(NOW, 1.0)]),
                series(&[("__name__", "x"), ("a", "1"), ("a", "2")], &[(NOW, 1.0)]),
            ],
        };
        let out = write_v1(&store, &req, NOW);
        assert_eq!(out.samples_written, 2);
        assert_eq!(out.invalid_labels_samples, 2);
        assert_eq!(out.bad_request(), None);
        let up = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        assert_eq!(
            values(&store, &up),
            vec![(NOW - 2000, 1.0), (NOW - 1000, 0.0)]
        );
    }

    #[test]
    fn refused_samples_are_reported_and_the_rest_is_kept() {
        let store = store();
        let up = [("__name__", "up")];
        write_v1(
            &store,
            &WriteRequest {
                timeseries: vec![series(&up, &[(NOW, 1.0)])],
            },
            NOW,
        );
        let req = WriteRequest {
            timeseries: vec![
                series(
                    &up,
                    &[(NOW - 1, 5.0), (NOW, 1.0), (NOW, 2.0), (NOW + 1000, 3.0)],
                ),
                series(&[("__name__", "future")], &[(NOW + MAX_AHEAD_MS + 1, 1.0)]),
                series(&[("__name__", "old")], &[(NOW - 86_400_000, 1.0)]),
            ],
        };
        let out = write_v1(&store, &req, NOW);
        // The same sample again is not an error; another value at the same time is.
        assert_eq!(out.samples_written, 2);
        assert_eq!(out.samples_refused, 4);
        let text = out.bad_request().unwrap();
        assert!(
            text.contains("out of order sample for series up at"),
            "{text}"
        );
        assert!(text.contains("duplicate sample for timestamp"), "{text}");
        assert!(text.contains("too far in the future"), "{text}");
        assert!(text.contains("too old sample"), "{text}");
        let labels = Labels::from_pairs(up);
        assert_eq!(values(&store, &labels), vec![(NOW, 1.0), (NOW + 1000, 3.0)]);
    }

    #[test]
    fn v2_resolves_symbols_and_reports_bad_series() {
        let store = store();
        let symbols = ["", "__name__", "up", "job", "a", "le"]
            .map(String::from)
            .to_vec();
        let good = TimeSeriesV2 {
            labels_refs: vec![1, 2, 3, 4],
            samples: vec![Sample {
                value: 1.0,
                timestamp: NOW,
            }],
            ..Default::default()
        };
        let odd = TimeSeriesV2 {
            labels_refs: vec![1],
            ..good.clone()
        };
        let out_of_range = TimeSeriesV2 {
            labels_refs: vec![1, 99],
            ..good.clone()
        };
        let nameless = TimeSeriesV2 {
            labels_refs: vec![3, 4],
            ..good.clone()
        };
        let empty = TimeSeriesV2 {
            samples: vec![],
            ..good.clone()
        };
        let req = RequestV2 {
            symbols,
            timeseries: vec![good, odd, out_of_range, nameless, empty],
        };
        let out = write_v2(&store, &req, NOW);
        assert_eq!(out.samples_written, 1);
        assert_eq!(out.error_count, 4);
        let text = out.bad_request().unwrap();
        assert!(text.contains("odd number"), "{text}");
        assert!(text.contains("out of range of 6 symbols"), "{text}");
        assert!(text.contains("invalid metric name or labels"), "{text}");
        assert!(text.contains("at least one sample"), "{text}");
        let up = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        assert_eq!(values(&store, &up), vec![(NOW, 1.0)]);
    }

    #[test]
    fn the_series_limit_refuses_new_series_only() {
        let store = store();
        store.set_max_series(1);
        let req = WriteRequest {
            timeseries: vec![
                series(&[("__name__", "a")], &[(NOW, 1.0)]),
                series(&[("__name__", "b")], &[(NOW, 1.0)]),
            ],
        };
        let out = write_v1(&store, &req, NOW);
        assert_eq!(out.samples_written, 1);
        assert!(out.bad_request().unwrap().contains("series limit"));
    }

    #[test]
    fn errors_shown_are_capped() {
        let store = store();
        let timeseries = (0..50)
            .map(|i| {
                series(
                    &[("__name__", "f"), ("i", &i.to_string())],
                    &[(NOW + MAX_AHEAD_MS + 1, 1.0)],
                )
            })
            .collect();
        let out = write_v1(&store, &WriteRequest { timeseries }, NOW);
        assert_eq!(out.error_count, 50);
        assert_eq!(out.errors.len(), MAX_ERRORS_SHOWN);
        assert!(out.bad_request().unwrap().ends_with("… and 40 more"));
    }
}
