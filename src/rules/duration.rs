//! Prometheus durations (`1h30m`, `5m`, `0`) as used in rule files.
//!
//! Interim: replace with `config::PromDuration` once the config module is
//! merged; the parsing and formatting rules are the same as Prometheus'
//! `model.ParseDuration` / `model.Duration.String`.

const MS_PER_SECOND: i64 = 1000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;
const MS_PER_WEEK: i64 = 7 * MS_PER_DAY;
const MS_PER_YEAR: i64 = 365 * MS_PER_DAY;

/// Units in the order Prometheus requires them.
const UNITS: [(&str, i64); 7] = [
    ("y", MS_PER_YEAR),
    ("w", MS_PER_WEEK),
    ("d", MS_PER_DAY),
    ("h", MS_PER_HOUR),
    ("m", MS_PER_MINUTE),
    ("s", MS_PER_SECOND),
    ("ms", 1),
];

/// Parses a Prometheus duration into milliseconds.
///
/// Accepts `0` and unit sequences in decreasing order (`1y2w3d4h5m6s7ms`),
/// each unit at most once, integers only.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Err("empty duration string".to_string());
    }
    if s == "0" {
        return Ok(0);
    }
    let invalid = || format!("not a valid duration string: {s:?}");
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(invalid());
        }
        let digits = &s[start..i];
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let pos = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(invalid)?;
        let (_, mult) = UNITS[next_unit + pos];
        next_unit += pos + 1;
        let n: i64 = digits
            .parse()
            .map_err(|_| "duration out of range".to_string())?;
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(total)
}

/// Formats milliseconds as Prometheus does (`1d`, `1h30m`, `0s`); years and
/// weeks are used only when they divide the duration exactly.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = ms;
    if rest < 0 {
        out.push('-');
        rest = rest.checked_neg().unwrap_or(i64::MAX);
    }
    for (unit, mult) in UNITS {
        let exact_only = unit == "y" || unit == "w";
        if exact_only && rest % mult != 0 {
            continue;
        }
        let v = rest / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            rest -= v * mult;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("2m59s999ms"), Ok(179_999));
        assert_eq!(parse_duration("1y"), Ok(MS_PER_YEAR));
        assert_eq!(parse_duration("106700d"), Ok(106_700 * MS_PER_DAY));
    }

    #[test]
    fn rejects_bad_durations() {
        for s in ["", "5", "m", "1.5s", "5m1h", "1s1s", "-1s", "1 s", "1sm"] {
            assert!(parse_duration(s).is_err(), "{s:?} accepted");
        }
        assert!(parse_duration("999999999999y").is_err());
    }

    #[test]
    fn formats_like_prometheus() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(300_000), "5m");
        assert_eq!(format_duration(MS_PER_DAY), "1d");
        assert_eq!(format_duration(14 * MS_PER_DAY), "2w");
        assert_eq!(format_duration(10 * MS_PER_DAY), "10d");
        assert_eq!(format_duration(179_999), "2m59s999ms");
        assert_eq!(format_duration(MS_PER_YEAR + MS_PER_DAY), "366d");
    }
}
