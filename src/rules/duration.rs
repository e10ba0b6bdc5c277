//! Prometheus durations for rule files, in milliseconds, through the
//! config module's [`PromDuration`] (same grammar and printing as
//! Prometheus' `model.ParseDuration` / `model.Duration.String`).

use crate::config::PromDuration;

/// Parses a Prometheus duration (`0`, `5m`, `1h30m`) into milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    PromDuration::parse(s)
        .map(PromDuration::as_millis_i64)
        .map_err(|e| e.to_string())
}

/// Formats milliseconds as Prometheus does (`1d`, `1h30m`, `0s`); negative
/// values get a leading `-`.
pub fn format_duration(ms: i64) -> String {
    let d = PromDuration::from_millis(ms.unsigned_abs());
    if ms < 0 {
        format!("-{d}")
    } else {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_like_prometheus() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("2m59s999ms"), Ok(179_999));
        for s in ["", "5", "1.5s", "5m1h", "-1s"] {
            assert!(parse_duration(s).is_err(), "{s:?} accepted");
        }
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(10 * 86_400_000), "10d");
        assert_eq!(format_duration(179_999), "2m59s999ms");
    }
}
