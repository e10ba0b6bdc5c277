//! Turns one scraped body into a batch of `(series, t, v)`: parse, resolve
//! each sample's series through the target's cache, merge target labels,
//! apply `metric_relabel_configs` (once per new series: the cache keeps the
//! outcome, a drop included), enforce limits, keep metric metadata. Nothing reaches the buffer here:
//! the loop commits the batch only when the whole body was good.

use super::cache::SeriesCache;
use super::exposition::{ContentTypeError, Entry, Format, ParseError, Parser, Sample};
use super::series_limit::Refusals;
use super::target::TargetSpec;
use crate::model::relabel;
use crate::model::{Labels, LabelsBuilder, METRIC_NAME};
use crate::store::{SeriesRef, Store};
use std::collections::HashMap;

/// Metric metadata as scraped (`# TYPE`, `# HELP`, `# UNIT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricMeta {
    /// `counter`, `gauge`, `histogram`, `summary`, `unknown`, …
    pub kind: String,
    /// Help text.
    pub help: String,
    /// Unit (OpenMetrics).
    pub unit: String,
}

/// Metadata of one target, by metric family name.
pub type Metadata = HashMap<String, MetricMeta>;

/// Why a body was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body is not valid exposition text.
    #[error("parse error at {0}")]
    Parse(#[from] ParseError),
    /// The `Content-Type` names no format watchfire reads and the job has no
    /// `fallback_scrape_protocol` (worded as Prometheus words it).
    #[error("{0}")]
    ContentType(String),
    /// More samples than `sample_limit` after metric relabeling (as in
    /// Prometheus); the rest of the body was still parsed to count them, as
    /// Prometheus does for `scrape_samples_scraped`.
    #[error("sample limit exceeded: {kept} samples after metric relabeling, limit is {limit}")]
    SampleLimit {
        /// The limit.
        limit: usize,
        /// Samples in the body.
        scraped: usize,
        /// Samples metric relabeling kept.
        kept: usize,
    },
    /// Metric relabeling removed `__name__` from a series it kept.
    #[error("missing metric name (__name__ label) after metric relabeling: series {series}")]
    MissingMetricName {
        /// The series after relabeling.
        series: String,
    },
    /// A series with more labels than `label_limit`.
    #[error("label limit exceeded: series {series} has {count} labels, limit is {limit}")]
    LabelLimit {
        /// The series.
        series: String,
        /// Its label count.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A label name or value longer than allowed.
    #[error("label {what} length limit exceeded: series {series}, label {name:?} is {len} bytes, limit is {limit}")]
    LabelLength {
        /// `name` or `value`.
        what: &'static str,
        /// The series.
        series: String,
        /// The label.
        name: String,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

impl IngestError {
    /// The short reason used in metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Parse(_) | IngestError::ContentType(_) => "parse",
            IngestError::SampleLimit { .. } => "sample_limit",
            IngestError::LabelLimit { .. } | IngestError::LabelLength { .. } => "label_limit",
            IngestError::MissingMetricName { .. } => "missing_metric_name",
        }
    }
}

/// Counts of one successful ingest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Samples in the body (`scrape_samples_scraped`).
    pub samples: usize,
    /// Samples metric relabeling kept (`scrape_samples_post_metric_relabeling`),
    /// including those of new series a series limit then refused.
    pub post_relabel: usize,
    /// Series seen for the first time by this target's cache.
    pub series_added: usize,
    /// Whether any HELP/TYPE/UNIT differed from the metadata passed in.
    pub metadata_changed: bool,
    /// New series a series limit refused; their samples are dropped, the
    /// rest of the scrape is kept.
    pub refused: Refusals,
}

/// The grammar for a response's content type, as Prometheus 3's `textparse.New`
/// chooses it: a missing, unparseable or unknown `Content-Type` takes the job's
/// `fallback_scrape_protocol`, and fails the scrape without one.
pub fn format_for(content_type: &str, fallback: Option<Format>) -> Result<Format, IngestError> {
    let e = match Format::from_content_type(content_type) {
        Ok(format) => return Ok(format),
        Err(e) => e,
    };
    if let Some(format) = fallback {
        return Ok(format);
    }
    let ct = content_type.trim();
    Err(IngestError::ContentType(match e {
        ContentTypeError::Blank => "non-compliant scrape target sending blank Content-Type and \
                                    no fallback_scrape_protocol specified for target"
            .to_owned(),
        ContentTypeError::Malformed(_) => {
            format!("cannot parse Content-Type {ct:?} and no fallback_scrape_protocol for target")
        }
        _ => format!(
            "received unsupported Content-Type {ct:?} and no fallback_scrape_protocol specified \
             for target"
        ),
    }))
}

/// Parses `body` into `batch` (cleared first). On error the batch is
/// incomplete and must be discarded; the cache may hold new series, which
/// is harmless (they are looked up again next time).
#[allow(clippy::too_many_arguments)]
pub fn ingest(
    body: &[u8],
    content_type: &str,
    scrape_ts: i64,
    spec: &TargetSpec,
    store: &Store,
    cache: &mut SeriesCache,
    batch: &mut Vec<(SeriesRef, i64, f64)>,
    metadata: &mut Metadata,
) -> Result<IngestOutcome, IngestError> {
    batch.clear();
    let mut out = IngestOutcome::default();
    let limit = spec.limits.sample_limit;
    let format = format_for(content_type, spec.negotiation.fallback)?;
    // Series with their own timestamps get no staleness marker when they go,
    // unless the job tracks them (Prometheus' `track_timestamps_staleness`).
    let untracked = !spec.track_timestamps_staleness;
    for entry in Parser::new(body, format) {
        let entry = entry?;
        match entry {
            Entry::Sample(s) => {
                out.samples += 1;
                // At (or over) the limit: only count what follows. No series
                // is created past the limit; the scrape fails after the body.
                let over = limit > 0 && out.post_relabel >= limit;
                let explicit_ts = spec.honor_timestamps && s.timestamp.is_some();
                let t = if explicit_ts {
                    s.timestamp.unwrap_or(scrape_ts)
                } else {
                    scrape_ts
                };
                let series = match cache.lookup(s.series.as_bytes()) {
                    Some(Some(series)) => series.clone(),
                    // Dropped by metric relabeling when first seen.
                    Some(None) => continue,
                    None => {
                        let Some(labels) = series_labels(&s, spec)? else {
                            cache.insert_dropped(s.series.as_bytes());
                            continue;
                        };
                        if over {
                            out.post_relabel += 1;
                            continue;
                        }
                        match cache.admit(store, labels) {
                            Ok(series) => {
                                let no_markers = explicit_ts && untracked;
                                cache.insert(s.series.as_bytes(), series.clone(), no_markers);
                                out.series_added += 1;
                                series
                            }
                            Err(refused) => {
                                // Not cached: tried again next scrape, when
                                // gc may have made room.
                                out.post_relabel += 1;
                                out.refused.note(refused);
                                continue;
                            }
                        }
                    }
                };
                out.post_relabel += 1;
                if !over {
                    batch.push((series, t, s.value));
                }
            }
            Entry::Help { name, help, .. } => {
                if metadata.get(name.as_ref()).is_none_or(|m| m.help != help) {
                    metadata.entry(name.into_owned()).or_default().help = help.into_owned();
                    out.metadata_changed = true;
                }
            }
            Entry::Type {
                name, metric_type, ..
            } => {
                let kind = metric_type.as_str();
                if metadata.get(name.as_ref()).is_none_or(|m| m.kind != kind) {
                    metadata.entry(name.into_owned()).or_default().kind = kind.to_string();
                    out.metadata_changed = true;
                }
            }
            Entry::Unit { name, unit, .. } => {
                if metadata.get(name.as_ref()).is_none_or(|m| m.unit != unit) {
                    metadata.entry(name.into_owned()).or_default().unit = unit.to_string();
                    out.metadata_changed = true;
                }
            }
            Entry::Comment { .. } => {}
        }
    }
    if limit > 0 && out.post_relabel > limit {
        return Err(IngestError::SampleLimit {
            limit,
            scraped: out.samples,
            kept: out.post_relabel,
        });
    }
    Ok(out)
}

/// The stored label set of a scraped series: scraped labels plus target
/// labels, then `metric_relabel_configs`. On a clash the target label wins and
/// the scraped one is kept as `exported_<name>`, unless `honor_labels` is set,
/// as in Prometheus. `None` when relabeling dropped the series (or left no
/// label at all); label limits apply to the relabeled set.
fn series_labels(s: &Sample<'_>, spec: &TargetSpec) -> Result<Option<Labels>, IngestError> {
    let scraped = s.to_labels();
    let mut b = LabelsBuilder::new(&scraped);
    for l in &spec.labels {
        match scraped.get(&l.name) {
            None => {
                b.set_shared(l.name.clone(), l.value.clone());
            }
            Some(_) if spec.honor_labels => {}
            Some(v) => {
                let mut exported = format!("exported_{}", l.name);
                while scraped.contains(&exported) {
                    exported = format!("exported_{exported}");
                }
                b.set(&exported, v);
                b.set_shared(l.name.clone(), l.value.clone());
            }
        }
    }
    if !relabel::process_builder(&mut b, &spec.metric_relabel) {
        return Ok(None);
    }
    let labels = b.labels();
    if labels.is_empty() {
        return Ok(None);
    }
    if !labels.contains(METRIC_NAME) {
        return Err(IngestError::MissingMetricName {
            series: labels.to_string(),
        });
    }
    check_label_limits(&labels, spec)?;
    Ok(Some(labels))
}

fn check_label_limits(labels: &Labels, spec: &TargetSpec) -> Result<(), IngestError> {
    let lim = &spec.limits;
    if lim.label_limit > 0 && labels.len() > lim.label_limit {
        return Err(IngestError::LabelLimit {
            series: labels.to_string(),
            count: labels.len(),
            limit: lim.label_limit,
        });
    }
    for l in labels {
        let checks = [
            ("name", l.name.len(), lim.label_name_length_limit),
            ("value", l.value.len(), lim.label_value_length_limit),
        ];
        for (what, len, limit) in checks {
            if limit > 0 && len > limit {
                let mut series = labels.to_string();
                series.truncate(200);
                return Err(IngestError::LabelLength {
                    what,
                    series,
                    name: l.name.to_string(),
                    len,
                    limit,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::target::ScrapeLimits;
    use std::time::Duration;

    fn spec(honor_labels: bool, limits: ScrapeLimits) -> TargetSpec {
        TargetSpec {
            job: "node".into(),
            url: "http://h:1/metrics".into(),
            labels: Labels::from_pairs([("job", "node"), ("instance", "h:1"), ("env", "prod")]),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            honor_labels,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            negotiation: Default::default(),
            forced_error: None,
            limits,
            authorization: None,
            metric_relabel: std::sync::Arc::from([]),
        }
    }

    type Ingested = (Vec<(Labels, i64, f64)>, IngestOutcome);

    fn run(body: &str, spec: &TargetSpec) -> Result<Ingested, IngestError> {
        let store = Store::new(Default::default());
        let mut cache = SeriesCache::default();
        let mut batch = Vec::new();
        let mut meta = Metadata::default();
        cache.begin_round();
        let out = ingest(
            body.as_bytes(),
            "text/plain",
            1000,
            spec,
            &store,
            &mut cache,
            &mut batch,
            &mut meta,
        )?;
        Ok((
            batch
                .into_iter()
                .map(|(s, t, v)| (s.labels().clone(), t, v))
                .collect(),
            out,
        ))
    }

    #[test]
    fn target_labels_win_and_clashes_are_exported() {
        let (batch, out) = run(
            "m{job=\"app\",x=\"1\"} 5\nn 1 500\n",
            &spec(false, Default::default()),
        )
        .unwrap();
        assert_eq!(
            out,
            IngestOutcome {
                samples: 2,
                post_relabel: 2,
                series_added: 2,
                metadata_changed: false,
                refused: Refusals::default(),
            }
        );
        assert_eq!(
            batch[0].0.to_string(),
            r#"m{env="prod", exported_job="app", instance="h:1", job="node", x="1"}"#
        );
        assert_eq!((batch[0].1, batch[0].2), (1000, 5.0));
        assert_eq!(batch[1].1, 500, "explicit timestamps are honoured");
    }

    #[test]
    fn honor_labels_keeps_scraped_values() {
        let (batch, _) = run("m{job=\"app\"} 5\n", &spec(true, Default::default())).unwrap();
        assert_eq!(batch[0].0.get("job"), Some("app"));
        assert_eq!(batch[0].0.get("exported_job"), None);
    }

    #[test]
    fn limits_fail_the_scrape() {
        let lim = ScrapeLimits {
            sample_limit: 1,
            ..Default::default()
        };
        assert!(matches!(
            run("a 1\nb 2\n# TYPE c gauge\nc 3\n", &spec(false, lim)),
            Err(IngestError::SampleLimit {
                limit: 1,
                scraped: 3,
                kept: 3
            })
        ));
        // Exactly at the limit is fine; a parse error after the limit wins.
        assert_eq!(run("a 1\n", &spec(false, lim)).unwrap().1.samples, 1);
        assert!(matches!(
            run("a 1\nb 2\nbroken{\n", &spec(false, lim)),
            Err(IngestError::Parse(_))
        ));
        let lim = ScrapeLimits {
            label_limit: 4,
            ..Default::default()
        };
        let e = run("a{x=\"1\",y=\"2\"} 1\n", &spec(false, lim)).unwrap_err();
        assert!(e.to_string().contains("label limit exceeded"), "{e}");
        let lim = ScrapeLimits {
            label_value_length_limit: 3,
            ..Default::default()
        };
        let e = run("a{x=\"long\"} 1\n", &spec(false, lim)).unwrap_err();
        assert!(e.to_string().contains("value length limit"), "{e}");
    }

    #[test]
    fn series_limit_drops_new_series_and_keeps_the_scrape() {
        let lim = ScrapeLimits {
            series_limit: 2,
            ..Default::default()
        };
        let spec = spec(false, lim);
        let store = Store::new(Default::default());
        let mut cache = SeriesCache::with_series_limit(2);
        let (mut batch, mut meta) = (Vec::new(), Metadata::default());
        let mut scrape = |body: &str, cache: &mut SeriesCache| {
            cache.begin_round();
            let out = ingest(
                body.as_bytes(),
                "text/plain",
                1000,
                &spec,
                &store,
                cache,
                &mut batch,
                &mut meta,
            )
            .unwrap();
            let names: Vec<String> = batch
                .iter()
                .map(|(s, _, _)| s.labels().metric_name().unwrap_or("").to_string())
                .collect();
            (out, names)
        };
        let (out, names) = scrape("a 1\nb 2\nc 3\n", &mut cache);
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            (out.samples, out.series_added, out.refused.by_target),
            (3, 2, 1)
        );
        assert!(out.refused.example.as_deref().unwrap().starts_with("c{"));
        // Next scrape: existing series go on, the new one is refused again.
        let (out, names) = scrape("a 1\nb 2\nc 3\nd 4\n", &mut cache);
        assert_eq!(names, ["a", "b"]);
        assert_eq!((out.series_added, out.refused.by_target), (0, 2));
        // Without a limit every series is admitted.
        let mut free = SeriesCache::default();
        let (out, names) = scrape("a 1\nb 2\nc 3\n", &mut free);
        assert_eq!((names.len(), out.refused.total()), (3, 0));
        // The buffer's limit applies to every target.
        store.set_max_series(3);
        let (out, names) = scrape("e 1\na 2\n", &mut free);
        assert_eq!(names, ["a"]);
        assert_eq!(out.refused.by_buffer, 1);
        assert!(out
            .refused
            .message()
            .unwrap()
            .contains("storage.max_series"));
    }

    fn rules(yaml: &str) -> std::sync::Arc<[relabel::RelabelConfig]> {
        let text = format!("scrape_configs:\n- job_name: node\n  metric_relabel_configs:\n{yaml}");
        let config = crate::config::parse_with_env(&text, "c.yml", &|_| None).unwrap();
        std::sync::Arc::from(config.scrape_configs[0].metric_relabel_configs.as_slice())
    }

    #[test]
    fn metric_relabeling_drops_keeps_and_rewrites() {
        let mut spec = spec(false, Default::default());
        spec.metric_relabel = rules(
            "  - {source_labels: [__name__], regex: 'go_.*', action: drop}\n  \
             - {source_labels: [__name__, job], regex: '(.*);node', target_label: from, \
             replacement: 'n_$1'}\n  - {regex: env, action: labeldrop}\n",
        );
        let (batch, out) = run("go_x 1\nup_x 2\ngo_y 3\n", &spec).unwrap();
        assert_eq!((out.samples, out.post_relabel, out.series_added), (3, 1, 1));
        assert_eq!(batch.len(), 1);
        assert_eq!(
            batch[0].0.to_string(),
            r#"up_x{from="n_up_x", instance="h:1", job="node"}"#
        );
    }

    #[test]
    fn sample_limit_counts_samples_after_relabeling() {
        let mut spec = spec(
            false,
            ScrapeLimits {
                sample_limit: 1,
                ..Default::default()
            },
        );
        spec.metric_relabel =
            rules("  - {source_labels: [__name__], regex: 'drop_.*', action: drop}\n");
        let (_, out) = run("drop_a 1\nkeep 2\ndrop_b 3\n", &spec).unwrap();
        assert_eq!((out.samples, out.post_relabel), (3, 1));
        let e = run("drop_a 1\nkeep 2\nkeep2 3\n", &spec).unwrap_err();
        assert!(matches!(
            e,
            IngestError::SampleLimit {
                scraped: 3,
                kept: 2,
                ..
            }
        ));
    }

    #[test]
    fn relabeling_away_the_name_fails_and_an_empty_set_is_dropped() {
        let mut spec = spec(false, Default::default());
        spec.metric_relabel = rules("  - {regex: __name__, action: labeldrop}\n");
        let e = run("m 1\n", &spec).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("missing metric name (__name__ label)"),
            "{e}"
        );
        spec.metric_relabel = rules("  - {regex: nothing, action: labelkeep}\n");
        let (batch, out) = run("m 1\n", &spec).unwrap();
        assert!(batch.is_empty());
        assert_eq!(out.post_relabel, 0);
    }

    #[test]
    fn label_limits_apply_after_relabeling() {
        let mut spec = spec(
            false,
            ScrapeLimits {
                label_limit: 3,
                ..Default::default()
            },
        );
        // Four labels as scraped (with the target's), three after labeldrop.
        spec.metric_relabel = rules("  - {regex: env, action: labeldrop}\n");
        assert!(run("m 1\n", &spec).is_ok());
    }

    #[test]
    fn cached_outcomes_are_not_relabeled_again() {
        let store = Store::new(Default::default());
        let mut cache = SeriesCache::default();
        let (mut batch, mut meta) = (Vec::new(), Metadata::default());
        let mut first = spec(false, Default::default());
        first.metric_relabel = rules(
            "  - {source_labels: [__name__], regex: 'gone', action: drop}\n  \
             - {target_label: stage, replacement: first}\n",
        );
        // Rules that would give other results: a cache hit must not run them.
        let mut second = first.clone();
        second.metric_relabel = rules("  - {target_label: stage, replacement: second}\n");
        let body = b"kept 1\ngone 2\n";
        for (round, spec) in [(1, &first), (2, &second), (3, &second)] {
            cache.begin_round();
            let out = ingest(
                body,
                "text/plain",
                1000,
                spec,
                &store,
                &mut cache,
                &mut batch,
                &mut meta,
            )
            .unwrap();
            assert_eq!(out.samples, 2);
            assert_eq!(out.post_relabel, 1, "round {round}");
            assert_eq!(out.series_added, usize::from(round == 1));
            assert_eq!(batch.len(), 1);
            assert_eq!(batch[0].0.labels().get("stage"), Some("first"));
        }
        assert_eq!(cache.len(), 2, "the drop is cached too");
        // A raw series not seen before is relabeled with the rules in force.
        cache.begin_round();
        ingest(
            b"new 1\n",
            "text/plain",
            1000,
            &second,
            &store,
            &mut cache,
            &mut batch,
            &mut meta,
        )
        .unwrap();
        assert_eq!(batch[0].0.labels().get("stage"), Some("second"));
    }

    #[test]
    fn parse_errors_name_the_line() {
        let e = run("ok 1\nbroken{ 1\n", &spec(false, Default::default())).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn metadata_changes_are_reported_once() {
        let store = Store::new(Default::default());
        let spec = spec(false, Default::default());
        let (mut cache, mut batch, mut meta) =
            (SeriesCache::default(), Vec::new(), Metadata::default());
        let body = b"# HELP m Things.\n# TYPE m counter\nm 1\n";
        let mut run = |meta: &mut Metadata| {
            cache.begin_round();
            ingest(
                body,
                "text/plain",
                1000,
                &spec,
                &store,
                &mut cache,
                &mut batch,
                meta,
            )
            .unwrap()
        };
        assert!(run(&mut meta).metadata_changed);
        assert_eq!(meta["m"].kind, "counter");
        assert_eq!(meta["m"].help, "Things.");
        assert!(
            !run(&mut meta).metadata_changed,
            "same metadata again is no change"
        );
    }

    #[test]
    fn the_format_comes_from_the_content_type_else_the_fallback() {
        let om = Some(Format::OpenMetrics);
        let ok = |ct: &str, fallback| format_for(ct, fallback).ok();
        assert_eq!(
            ok("application/openmetrics-text; version=1.0.0", None),
            Some(Format::OpenMetrics)
        );
        assert_eq!(
            ok("text/plain; version=0.0.4", om),
            Some(Format::PrometheusText)
        );
        for ct in ["", "text", "application/json"] {
            assert_eq!(ok(ct, om), Some(Format::OpenMetrics), "{ct:?}");
        }
        let message = |ct: &str| format_for(ct, None).unwrap_err().to_string();
        assert_eq!(
            message(" "),
            "non-compliant scrape target sending blank Content-Type and no \
             fallback_scrape_protocol specified for target"
        );
        assert_eq!(
            message("text"),
            "cannot parse Content-Type \"text\" and no fallback_scrape_protocol for target"
        );
        assert_eq!(
            message("application/json"),
            "received unsupported Content-Type \"application/json\" and no \
             fallback_scrape_protocol specified for target"
        );
    }

    #[test]
    fn explicit_timestamps_get_staleness_markers_only_when_tracked() {
        for track in [false, true] {
            let mut spec = spec(false, ScrapeLimits::default());
            spec.track_timestamps_staleness = track;
            let store = Store::new(Default::default());
            let mut cache = SeriesCache::default();
            let (mut batch, mut meta) = (Vec::new(), Metadata::default());
            let mut scrape = |body: &[u8], cache: &mut SeriesCache| {
                cache.begin_round();
                ingest(
                    body,
                    "text/plain",
                    5000,
                    &spec,
                    &store,
                    cache,
                    &mut batch,
                    &mut meta,
                )
                .unwrap();
            };
            scrape(b"with_ts 1 1000\nwithout 2\n", &mut cache);
            scrape(b"", &mut cache);
            let mut stale = Vec::new();
            cache.sweep_unseen(&mut stale);
            let names: Vec<String> = stale
                .iter()
                .map(|s| s.labels().get("__name__").unwrap_or("").to_owned())
                .collect();
            let mut names = names;
            names.sort();
            let want: &[&str] = if track {
                &["with_ts", "without"]
            } else {
                &["without"]
            };
            assert_eq!(names, want, "track_timestamps_staleness: {track}");
        }
    }
}
