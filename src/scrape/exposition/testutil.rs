//! Test helper: renders a parse as text, one entry a line, for
//! expect-style comparisons.

use std::fmt::Write;

use super::{Entry, Format, Parser};

/// Renders every entry of `input` (and the error that ends it, if any).
pub(super) fn render(input: &[u8], format: Format) -> String {
    let mut out = String::new();
    for entry in Parser::new(input, format) {
        match entry {
            Ok(Entry::Sample(s)) => {
                let ts = s.timestamp.map(|t| format!(" @{t}")).unwrap_or_default();
                let labels = s.to_labels();
                let name = labels.metric_name().unwrap_or_default();
                let _ = write!(out, "{}: {name:?}", s.line);
                let pairs = labels.iter().map(|l| (&*l.name, &*l.value));
                pairs.filter(|(n, _)| *n != "__name__").for_each(|(n, v)| {
                    let _ = write!(out, " {n:?}={v:?}");
                });
                let _ = writeln!(out, " = {:?}{ts}", s.value);
            }
            Ok(Entry::Help { name, help, line }) => {
                let _ = writeln!(out, "{line}: help {name:?} {help:?}");
            }
            Ok(Entry::Type {
                name,
                metric_type,
                line,
            }) => {
                let _ = writeln!(out, "{line}: type {name:?} {}", metric_type.as_str());
            }
            Ok(Entry::Unit { name, unit, line }) => {
                let _ = writeln!(out, "{line}: unit {name:?} {unit:?}");
            }
            Ok(Entry::Comment { text, line }) => {
                let _ = writeln!(out, "{line}: comment {:?}", String::from_utf8_lossy(text));
            }
            Err(e) => {
                let _ = writeln!(out, "error: {e}");
            }
        }
    }
    out
}

/// Renders a text-format payload.
pub(super) fn text(input: &str) -> String {
    render(input.as_bytes(), Format::PrometheusText)
}

/// Renders an OpenMetrics payload.
pub(super) fn om(input: &str) -> String {
    render(input.as_bytes(), Format::OpenMetrics)
}

/// The error that ends a text-format payload, or `ok`.
pub(super) fn text_error(input: &[u8]) -> String {
    last_error(input, Format::PrometheusText)
}

/// The error that ends an OpenMetrics payload, or `ok`.
pub(super) fn om_error(input: &[u8]) -> String {
    last_error(input, Format::OpenMetrics)
}

fn last_error(input: &[u8], format: Format) -> String {
    match Parser::new(input, format).find_map(Result::err) {
        Some(e) => e.to_string(),
        None => "ok".to_string(),
    }
}
