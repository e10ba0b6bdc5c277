//! Values as people read them: Prometheus' humanize rules (the template module's), a unit
//! guessed from the metric name as Prometheus' naming conventions spell it (`_seconds`,
//! `_bytes`, `_ratio`), relative and absolute times, label sets.

use crate::model::Labels;
use crate::template::{humanize, humanize1024, humanize_duration};
use chrono::{DateTime, TimeZone, Utc};

/// How a rule's or series' values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Plain numbers: SI prefixes (`humanize`).
    Plain,
    /// Seconds: `humanizeDuration`.
    Seconds,
    /// Bytes: binary prefixes and `B` (`humanize1024`).
    Bytes,
    /// A 0–1 ratio: a percentage.
    Ratio,
}

impl Unit {
    /// The unit Prometheus' naming conventions give a metric or expression: the last of the
    /// base units named in it, `_seconds`, `_bytes` or `_ratio`, wins (`rate(x_bytes_total[5m])`
    /// is bytes; `x_seconds_bucket` seconds); anything else is plain. A comparison or an
    /// arithmetic between two units keeps the first.
    pub fn guess(text: &str) -> Unit {
        let mut best: Option<(usize, Unit)> = None;
        for (needle, unit) in [
            ("_seconds", Unit::Seconds),
            ("_bytes", Unit::Bytes),
            ("_ratio", Unit::Ratio),
        ] {
            if let Some(at) = text.find(needle) {
                if best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, unit));
                }
            }
        }
        best.map_or(Unit::Plain, |(_, u)| u)
    }

    /// `v` in this unit.
    pub fn format(self, v: f64) -> String {
        if v.is_nan() {
            return "NaN".to_owned();
        }
        match self {
            Unit::Plain => humanize(v),
            Unit::Seconds => humanize_duration(v),
            Unit::Bytes => format!("{}B", humanize1024(v)),
            Unit::Ratio if v.is_finite() => {
                format!("{} %", trim_float(format!("{:.2}", v * 100.0)))
            }
            Unit::Ratio => humanize(v),
        }
    }
}

/// `12.50` → `12.5`, `3.00` → `3`.
fn trim_float(s: String) -> String {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A time in ms as `2026-12-07 19:54:15 UTC`.
pub fn time_ms(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => time(t),
        None => "-".to_owned(),
    }
}

/// A UTC time as `2026-12-07 19:54:15 UTC`.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How long ago `then_ms` was at `now_ms`, coarsely: `12s`, `4m 3s`, `2h 5m`, `3d 4h`.
pub fn ago(then_ms: i64, now_ms: i64) -> String {
    span_ms(now_ms.saturating_sub(then_ms))
}

/// A span in ms, coarsely, two units at most (`in 5m` for negative spans is the caller's).
pub fn span_ms(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else if ms < 1000 && ms > 0 {
        format!("{ms}ms")
    } else {
        format!("{sec}s")
    }
}

/// A duration in ms as Prometheus writes durations (`5m`, `1h30m`, `0s`).
pub fn prom_duration_ms(ms: i64) -> String {
    if ms <= 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in [
        ("w", 604_800_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// Seconds with milliseconds, for evaluation and scrape durations (`0.012s`).
pub fn seconds(d: std::time::Duration) -> String {
    if d < std::time::Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

/// `name="value"` pairs of a label set, in order.
pub fn pairs(labels: &Labels) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

/// Matchers selecting exactly `labels` (`{a="x", b="y"}`), for a silence prefilled from an
/// alert or a group.
pub fn matchers_text(labels: &[(String, String)]) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(n, v)| format!("{n}={}", crate::gostd::text::quote(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// Matchers prefilled for silencing one alert: its labels without `severity`, so the silence
/// still holds when a threshold alert moves between warning and critical (the severity is
/// not part of its identity).
pub fn silence_matchers(labels: &Labels) -> String {
    let mut pairs = pairs(labels);
    pairs.retain(|(n, _)| n != "severity");
    matchers_text(&pairs)
}

/// Whether an annotation value is a link worth making clickable.
pub fn is_link(value: &str) -> bool {
    (value.starts_with("https://") || value.starts_with("http://"))
        && !value.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_prometheus_naming() {
        assert_eq!(
            Unit::guess("rate(http_request_duration_seconds_sum[5m])"),
            Unit::Seconds
        );
        assert_eq!(
            Unit::guess("node_filesystem_avail_bytes / node_filesystem_size_bytes"),
            Unit::Bytes
        );
        assert_eq!(Unit::guess("job:errors:ratio_rate5m"), Unit::Plain);
        assert_eq!(Unit::guess("cache_hit_ratio < 0.5"), Unit::Ratio);
        assert_eq!(Unit::guess("up == 0"), Unit::Plain);
    }

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(Unit::Ratio.format(0.156_691_933_476_637_65), "15.67 %");
        assert_eq!(Unit::Ratio.format(0.5), "50 %");
        assert_eq!(Unit::Plain.format(1234.0), "1.234k");
        assert_eq!(Unit::Plain.format(0.0), "0");
        assert_eq!(Unit::Seconds.format(90.0), "1m 30s");
        assert_eq!(Unit::Seconds.format(0.25), "250ms");
        assert_eq!(Unit::Bytes.format(1_048_576.0), "1MiB");
        assert_eq!(Unit::Plain.format(f64::NAN), "NaN");
    }

    #[test]
    fn spans_and_durations() {
        assert_eq!(span_ms(12_000), "12s");
        assert_eq!(span_ms(243_000), "4m 3s");
        assert_eq!(span_ms(2 * 3_600_000 + 5 * 60_000), "2h 5m");
        assert_eq!(span_ms(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
        assert_eq!(span_ms(-5), "0s");
        assert_eq!(prom_duration_ms(90 * 60_000), "1h30m");
        assert_eq!(prom_duration_ms(0), "0s");
        assert_eq!(time_ms(0), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn matchers_quote_values() {
        let m = matchers_text(&[
            ("alertname".into(), "Disk\"Full".into()),
            ("job".into(), "node".into()),
        ]);
        assert_eq!(m, r#"{alertname="Disk\"Full", job="node"}"#);
        let parsed = crate::model::matcher_text::parse_matchers(&m).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].value(), "Disk\"Full");
        let l = Labels::from_pairs([("alertname", "X"), ("severity", "critical")]);
        assert_eq!(silence_matchers(&l), r#"{alertname="X"}"#);
        assert!(is_link("https://runbooks.example/disk"));
        assert!(!is_link("javascript:alert(1)"));
    }
}
