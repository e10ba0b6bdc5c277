//! JSON written as Go's `encoding/json` writes it, so payloads are byte-exact with
//! Alertmanager's: `<`, `>`, `&`, U+2028 and U+2029 escaped as `\uXXXX`; `\b`, `\f`, `\n`,
//! `\r`, `\t` short escapes; other control characters as `\u00XX`; times in RFC 3339 with
//! nanoseconds and trailing zeros trimmed.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Appends `s` as a JSON string.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `"key":` to an object.
pub fn key(out: &mut String, k: &str) {
    string(out, k);
    out.push(':');
}

/// Appends a string-to-string object with keys in the iterator's (sorted) order.
pub fn map<'a>(out: &mut String, entries: impl IntoIterator<Item = (&'a str, &'a str)>) {
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        key(out, k);
        string(out, v);
    }
    out.push('}');
}

/// Appends a `BTreeMap` as an object.
pub fn btree(out: &mut String, m: &BTreeMap<String, String>) {
    map(out, m.iter().map(|(k, v)| (k.as_str(), v.as_str())));
}

/// A time as Go's `time.Time` marshals it (RFC 3339, nanoseconds trimmed).
pub fn time_text(t: DateTime<Utc>) -> String {
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// A time in ms as Go's `time.Time` marshals it; `None`, or a time out of range, is Go's
/// zero time.
pub fn time_ms_text(ms: Option<i64>) -> String {
    ms.and_then(DateTime::from_timestamp_millis)
        .map_or_else(|| ZERO_TIME.to_string(), time_text)
}

/// Go's zero time, which Alertmanager sends as the end of firing alerts.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Go's `regexp.QuoteMeta`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn escapes_like_go() {
        let mut out = String::new();
        string(&mut out, "a<b>&c\"d\\e\nf\u{1}\u{2028}é");
        assert_eq!(out, r#""a\u003cb\u003e\u0026c\"d\\e\nf\u0001\u2028é""#);
    }

    #[test]
    fn times_trim_trailing_zeros() {
        let t = Utc.with_ymd_and_hms(2026, 8, 21, 14, 30, 0).unwrap();
        assert_eq!(time_text(t), "2026-08-21T14:30:00Z");
        let t = t + chrono::Duration::milliseconds(500);
        assert_eq!(time_text(t), "2026-08-21T14:30:00.5Z");
        let t = t + chrono::Duration::nanoseconds(123);
        assert_eq!(time_text(t), "2026-08-21T14:30:00.500000123Z");
    }

    #[test]
    fn quote_meta_as_go() {
        assert_eq!(quote_meta("team.ops"), r"team\.ops");
        assert_eq!(quote_meta("a+b(c)"), r"a\+b\(c\)");
    }
}
