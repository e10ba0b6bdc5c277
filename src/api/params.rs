//! Request parameters as Prometheus reads them: from the query string and,
//! for POST, from a form-encoded body; repeated keys like `match[]` allowed.

use super::response::ApiError;
use chrono::DateTime;

/// All parameters of one request, in order.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parameters from a query string and an optional form body.
    pub fn parse(query: Option<&str>, form_body: Option<&[u8]>) -> Self {
        let mut v: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            v.extend(url::form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        if let Some(b) = form_body {
            v.extend(url::form_urlencoded::parse(b).into_owned());
        }
        Self(v)
    }

    /// Every parameter in request order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (for `match[]`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A required parameter.
    pub fn require(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key).filter(|v| !v.is_empty()).ok_or_else(|| {
            ApiError::bad_data(format!("invalid parameter \"{key}\": parameter is missing"))
        })
    }

    /// A time parameter (Unix seconds, possibly fractional, or RFC 3339) in
    /// milliseconds, or `default` when absent.
    pub fn time_ms(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => parse_time_ms(v).ok_or_else(|| {
                ApiError::bad_data(format!(
                    "invalid parameter \"{key}\": cannot parse \"{v}\" to a valid timestamp"
                ))
            }),
        }
    }

    /// A duration parameter (float seconds or a Prometheus duration) in
    /// milliseconds, when present.
    pub fn duration_ms(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_duration_ms(v).map(Some).ok_or_else(|| {
                ApiError::bad_data(format!(
                    "invalid parameter \"{key}\": cannot parse \"{v}\" to a valid duration"
                ))
            }),
        }
    }
}

/// Prometheus' min and max times for open-ended ranges (ms).
pub const MIN_TIME_MS: i64 = -9_223_372_036_854_775 + 62_135_596_801_000;
/// See [`MIN_TIME_MS`].
pub const MAX_TIME_MS: i64 = 9_223_372_036_854_775 - 62_135_596_801_000;

/// Unix seconds (float) or RFC 3339 to milliseconds.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() || f.abs() > 9.2e15 {
            return None;
        }
        return Some((f * 1000.0).round() as i64);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Float seconds or a Prometheus duration (`5m`, `1h30m`) to milliseconds.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() || !(0.0..=9.2e15).contains(&f) {
            return None;
        }
        return Some((f * 1000.0).round() as i64);
    }
    crate::config::PromDuration::parse(s)
        .ok()
        .map(|d| d.as_millis_i64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_notations() {
        assert_eq!(parse_time_ms("1700000000.5"), Some(1_700_000_000_500));
        assert_eq!(
            parse_time_ms("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_time_ms("yesterday"), None);
        assert_eq!(parse_time_ms("NaN"), None);
    }

    #[test]
    fn durations_in_both_notations() {
        assert_eq!(parse_duration_ms("15"), Some(15_000));
        assert_eq!(parse_duration_ms("1m30s"), Some(90_000));
        assert_eq!(parse_duration_ms("5x"), None);
        assert_eq!(parse_duration_ms(""), None);
        assert_eq!(parse_duration_ms("-1"), None);
    }

    #[test]
    fn repeated_keys_from_query_and_body() {
        let p = Params::parse(
            Some("match[]=up&match[]=a%7Bb%3D%22c%22%7D"),
            Some(b"start=1"),
        );
        assert_eq!(p.all("match[]"), vec!["up", "a{b=\"c\"}"]);
        assert_eq!(p.get("start"), Some("1"));
        assert!(p.require("end").is_err());
    }
}
