//! Prometheus' template functions (`template/template.go` and
//! `common/helpers/templates`): `humanize*`, `query`, `first`, `label`,
//! `stripPort`, `graphLink`, and the rest, with Prometheus' exact number
//! formatting.

use std::cmp::Ordering;
use std::net::IpAddr;

use super::data::query_result;
use super::funcs::{arg_str, native, query_escape, wrong_type, CallCtx, Native};
use super::gofmt::write_value;
use super::gotime::GoTime;
use super::value::{ListKind, MapKind, TValue};
use crate::gostd::float::format_g;

/// Prometheus' functions, in `template.go` order.
pub(crate) static FUNCS: &[Native] = &[
    native("query", 1, Some(1), query),
    native("first", 1, Some(1), first),
    native("label", 2, Some(2), |_, a| {
        Ok(sample_label(&a[1], arg_str(a, 0)?))
    }),
    native("value", 1, Some(1), |_, a| sample_field(&a[0], "Value")),
    native("strvalue", 1, Some(1), |_, a| {
        Ok(sample_label(&a[0], "__value__"))
    }),
    native("args", 0, None, args),
    native("reReplaceAll", 3, Some(3), re_replace_all),
    native("safeHtml", 1, Some(1), |_, a| {
        Ok(TValue::Html(arg_str(a, 0)?.into()))
    }),
    native("match", 2, Some(2), re_match),
    native("title", 1, Some(1), |_, a| {
        Ok(TValue::from(title(arg_str(a, 0)?, false)))
    }),
    native("toUpper", 1, Some(1), |_, a| {
        Ok(TValue::from(arg_str(a, 0)?.to_uppercase()))
    }),
    native("toLower", 1, Some(1), |_, a| {
        Ok(TValue::from(arg_str(a, 0)?.to_lowercase()))
    }),
    native("graphLink", 1, Some(1), |_, a| {
        Ok(TValue::from(link(arg_str(a, 0)?, 0)))
    }),
    native("tableLink", 1, Some(1), |_, a| {
        Ok(TValue::from(link(arg_str(a, 0)?, 1)))
    }),
    native("sortByLabel", 2, Some(2), sort_by_label),
    native("stripPort", 1, Some(1), |_, a| {
        Ok(TValue::from(strip_port(arg_str(a, 0)?)))
    }),
    native("stripDomain", 1, Some(1), |_, a| {
        Ok(TValue::from(strip_domain(arg_str(a, 0)?)))
    }),
    native("humanize", 1, Some(1), |_, a| {
        Ok(TValue::from(humanize(to_float(&a[0])?)))
    }),
    native("humanize1024", 1, Some(1), |_, a| {
        Ok(TValue::from(humanize1024(to_float(&a[0])?)))
    }),
    native("humanizeDuration", 1, Some(1), |_, a| {
        Ok(TValue::from(humanize_duration(to_float(&a[0])?)))
    }),
    native("humanizePercentage", 1, Some(1), |_, a| {
        Ok(TValue::from(format!(
            "{}%",
            format_g(to_float(&a[0])? * 100.0, Some(4), false)
        )))
    }),
    native("humanizeTimestamp", 1, Some(1), humanize_timestamp),
    native("toTime", 1, Some(1), |_, a| {
        Ok(TValue::Time(float_to_time(to_float(&a[0])?)?))
    }),
    native("toDuration", 1, Some(1), |_, a| {
        Ok(TValue::Duration((to_float(&a[0])? * 1e9) as i64))
    }),
    native("now", 0, Some(0), |c, _| {
        Ok(TValue::Float(c.data.now_ms as f64 / 1000.0))
    }),
    native("pathPrefix", 0, Some(0), |c, _| {
        Ok(TValue::from(path_prefix(&c.data.external_url)))
    }),
    native("externalURL", 0, Some(0), |c, _| {
        Ok(TValue::Str(c.data.external_url.clone()))
    }),
    native("parseDuration", 1, Some(1), |_, a| {
        Ok(TValue::Float(parse_duration(arg_str(a, 0)?)?))
    }),
    native("urlQueryEscape", 1, Some(1), |_, a| {
        Ok(TValue::from(query_escape(arg_str(a, 0)?)))
    }),
];

fn query(c: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    let q = arg_str(a, 0)?;
    let Some(run) = c.data.query else {
        return Err("no query engine available to templates here".to_string());
    };
    Ok(query_result(run(q)?))
}

fn first(_: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    match &a[0] {
        TValue::List(l) => l
            .items
            .first()
            .cloned()
            .ok_or_else(|| "first() called on vector with no elements".to_string()),
        v => Err(wrong_type("template.queryResult", v)),
    }
}

fn sample_field(s: &TValue, field: &str) -> Result<TValue, String> {
    match s {
        TValue::Record(r) => Ok(r.get(field).cloned().unwrap_or_default()),
        v => Err(wrong_type("*template.sample", v)),
    }
}

fn sample_label(s: &TValue, name: &str) -> TValue {
    match sample_field(s, "Labels") {
        Ok(TValue::Map(m)) => m
            .entries
            .get(name)
            .cloned()
            .unwrap_or_else(|| TValue::str("")),
        _ => TValue::str(""),
    }
}

fn args(_: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    let entries = a
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("arg{i}").into(), v.clone()))
        .collect();
    Ok(TValue::map(MapKind::Any, entries))
}

pub(crate) fn re_replace_all(c: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    let (pattern, repl, text) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_str(a, 2)?);
    let re = c.regexes.get(pattern)?;
    Ok(TValue::from(re.replace_all(text, repl).into_owned()))
}

pub(crate) fn re_match(c: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    let (pattern, text) = (arg_str(a, 0)?, arg_str(a, 1)?);
    Ok(TValue::Bool(c.regexes.get(pattern)?.is_match(text)))
}

/// Title-cases each word's first letter; `lower_rest` also lowercases the
/// rest of the word (Alertmanager's `title`), otherwise leaves it
/// (Prometheus' `cases.NoLower`).
pub(crate) fn title(s: &str, lower_rest: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    let mut prev_letter = false;
    for c in s.chars() {
        let word_char = c.is_alphanumeric() || c == '_' || (c == '\'' && prev_letter);
        if word_char && !in_word {
            out.extend(c.to_uppercase());
        } else if word_char && lower_rest {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        in_word = word_char;
        prev_letter = c.is_alphabetic();
    }
    out
}

fn link(expr: &str, tab: u8) -> String {
    format!("/graph?g0.expr={}&g0.tab={tab}", query_escape(expr))
}

fn sort_by_label(_: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    let label = arg_str(a, 0)?;
    let TValue::List(l) = &a[1] else {
        return Err(wrong_type("template.queryResult", &a[1]));
    };
    let mut items = l.items.clone();
    let key = |v: &TValue| {
        sample_label(v, label)
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    items.sort_by(|x, y| key(x).cmp(&key(y)).then(Ordering::Equal));
    Ok(TValue::list(ListKind::QueryResult, items))
}

/// Go's `net.SplitHostPort`.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    let i = hp.rfind(':')?;
    let (host, j, k) = if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 != i {
            return None;
        }
        (&hp[1..end], 1, end + 1)
    } else {
        let host = &hp[..i];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if hp[j..].contains('[') || hp[k..].contains(']') {
        return None;
    }
    Some((host, &hp[i + 1..]))
}

fn strip_port(hp: &str) -> String {
    split_host_port(hp).map_or(hp, |(h, _)| h).to_string()
}

fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if host.parse::<IpAddr>().is_ok() {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or_default();
    match (port, host.contains(':')) {
        ("", _) => host.to_string(),
        (p, true) => format!("[{host}]:{p}"),
        (p, false) => format!("{host}:{p}"),
    }
}

/// Go's `ConvertToFloat`: numbers, numeric strings and durations (seconds).
pub(crate) fn to_float(v: &TValue) -> Result<f64, String> {
    match v {
        TValue::Float(f) => Ok(*f),
        TValue::Int(i) => Ok(*i as f64),
        TValue::Duration(d) => Ok(*d as f64 / 1e9),
        TValue::Str(s) => parse_float(s),
        v => Err(format!("can't convert {} to float", v.type_name())),
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal input.
fn parse_float(s: &str) -> Result<f64, String> {
    let bad = |why: &str| format!("strconv.ParseFloat: parsing {s:?}: {why}");
    let lower = s.to_ascii_lowercase();
    let named = lower.trim_start_matches(['+', '-']);
    let textual = matches!(named, "inf" | "infinity" | "nan");
    if !textual
        && !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return Err(bad("invalid syntax"));
    }
    let f: f64 = s.parse().map_err(|_| bad("invalid syntax"))?;
    if f.is_infinite() && !textual {
        return Err(bad("value out of range"));
    }
    Ok(f)
}

fn with_prefix(mut v: f64, up: bool, base: f64, prefixes: &[&str]) -> String {
    let mut prefix = "";
    for p in prefixes {
        if (up && v.abs() < base) || (!up && v.abs() >= 1.0) {
            break;
        }
        prefix = p;
        if up {
            v /= base;
        } else {
            v *= base;
        }
    }
    format!("{}{prefix}", format_g(v, Some(4), false))
}

/// Prometheus' `humanize`: SI prefixes with 4 significant digits.
pub(crate) fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_g(v, Some(4), false);
    }
    if v.abs() >= 1.0 {
        with_prefix(v, true, 1000.0, &["k", "M", "G", "T", "P", "E", "Z", "Y"])
    } else {
        with_prefix(v, false, 1000.0, &["m", "u", "n", "p", "f", "a", "z", "y"])
    }
}

/// Prometheus' `humanize1024`: binary prefixes.
pub(crate) fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return format_g(v, Some(4), false);
    }
    with_prefix(
        v,
        true,
        1024.0,
        &["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"],
    )
}

/// Prometheus' `humanizeDuration`: `1d 2h 3m 4s`, or SI-prefixed seconds
/// below one second.
pub(crate) fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return format_g(v, Some(4), false);
    }
    if v == 0.0 {
        return format!("{}s", format_g(v, Some(4), false));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        let d = v as i64;
        let (s, m, h, days) = (d % 60, d / 60 % 60, d / 3600 % 24, d / 86400);
        return if days != 0 {
            format!("{sign}{days}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", format_g(v, Some(4), false))
        };
    }
    let s = with_prefix(v, false, 1000.0, &["m", "u", "n", "p", "f", "a", "z", "y"]);
    format!("{s}s")
}

/// Prometheus' `floatToTime`: Unix seconds to a UTC time.
pub(crate) fn float_to_time(v: f64) -> Result<GoTime, String> {
    if !v.is_finite() {
        return Err("value is NaN or Inf".to_string());
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        let mut shown = String::new();
        write_value(&mut shown, &TValue::Float(v), 'v', 64);
        return Err(format!(
            "{shown} cannot be represented as a nanoseconds timestamp since it overflows int64"
        ));
    }
    Ok(GoTime::from_unix_nanos(ns as i64 as i128))
}

fn humanize_timestamp(_: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    let v = to_float(&a[0])?;
    if !v.is_finite() {
        return Ok(TValue::from(format_g(v, Some(4), false)));
    }
    Ok(TValue::from(float_to_time(v)?.go_string()))
}

/// The path of an external URL (`""` when it has none), as Go's `URL.Path`.
fn path_prefix(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let Some(slash) = after_scheme.find('/') else {
        return String::new();
    };
    let path = &after_scheme[slash..];
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path[..end].to_string()
}

/// Prometheus' `model.ParseDurationAllowNegative`, in seconds.
pub(crate) fn parse_duration(s: &str) -> Result<f64, String> {
    let invalid = || format!("not a valid duration string: {s:?}");
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if body == "0" {
        return Ok(0.0);
    }
    if body.is_empty() {
        return Err(invalid());
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = body;
    let mut next_unit = 0;
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| "duration out of range".to_string())?;
        rest = &rest[digits..];
        let (idx, (unit, ms)) = UNITS
            .iter()
            .enumerate()
            .skip(next_unit)
            .filter(|(_, (u, _))| rest.starts_with(u))
            .max_by_key(|(_, (u, _))| u.len())
            .ok_or_else(invalid)?;
        rest = &rest[unit.len()..];
        next_unit = idx + 1;
        total_ms = n
            .checked_mul(*ms)
            .and_then(|v| total_ms.checked_add(v))
            .filter(|v| *v <= i64::MAX as u64 / 1_000_000)
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    let secs = total_ms as f64 / 1000.0;
    Ok(if neg { -secs } else { secs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_matches_prometheus() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.12), "120m");
        assert_eq!(humanize(i64::MAX as f64), "9.223E");
        assert_eq!(humanize(-1.0), "-1");
        assert_eq!(humanize(f64::NAN), "NaN");
        assert_eq!(humanize1024(1048576.0), "1Mi");
        assert_eq!(humanize1024(1234567.0), "1.177Mi");
        assert_eq!(humanize1024(0.12), "0.12");
        assert_eq!(humanize_duration(90.0), "1m 30s");
        assert_eq!(
            humanize_duration(-(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0)),
            "-2d 3h 4m 5s"
        );
        assert_eq!(humanize_duration(0.0001), "100us");
        assert_eq!(humanize_duration(0.12345), "123.5ms");
        assert_eq!(humanize_duration(12.345), "12.35s");
        assert_eq!(humanize_duration(899.99), "14m 59s");
    }

    #[test]
    fn host_helpers_match_go() {
        assert_eq!(strip_port("foo.example.com:12345"), "foo.example.com");
        assert_eq!(strip_port("[2001:0DB8::1]:12345"), "2001:0DB8::1");
        assert_eq!(strip_port("2001:0DB8::1"), "2001:0DB8::1");
        assert_eq!(strip_port("[2001:0DB8::1]::12345"), "[2001:0DB8::1]::12345");
        assert_eq!(strip_domain("foo.example.com:12345"), "foo:12345");
        assert_eq!(strip_domain("192.0.2.1:12345"), "192.0.2.1:12345");
        assert_eq!(strip_domain("[2001:0DB8::1]:12345"), "[2001:0DB8::1]:12345");
    }

    #[test]
    fn parsing_helpers() {
        assert_eq!(parse_duration("1h2m10ms"), Ok(3720.01));
        assert_eq!(parse_duration("-1h2m10ms"), Ok(-3720.01));
        assert_eq!(parse_duration("1y1w"), Ok((365.0 + 7.0) * 86400.0));
        assert!(parse_duration("1m1h").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("99999999999999999999y").is_err());
        assert_eq!(
            parse_float("one").unwrap_err(),
            "strconv.ParseFloat: parsing \"one\": invalid syntax"
        );
        assert_eq!(parse_float("+Inf"), Ok(f64::INFINITY));
        assert!(parse_float("1e400")
            .unwrap_err()
            .ends_with("value out of range"));
        assert_eq!(
            path_prefix("http://testhost:9090/path/prefix"),
            "/path/prefix"
        );
        assert_eq!(path_prefix("http://testhost:9090"), "");
        assert_eq!(title("aa bb CC", false), "Aa Bb CC");
        assert_eq!(title("aa bb CC", true), "Aa Bb Cc");
        assert_eq!(title("don't stop-me", false), "Don't Stop-Me");
    }
}
