//! Prometheus durations: `90s`, `1m30s`, `1h`, `1d`, `1w`, `1y`, `100ms`.
//!
//! The grammar is Prometheus' `model.ParseDuration`: one or more `<digits><unit>` pairs with units
//! from biggest to smallest, each at most once (`1h30m` is fine, `30m1h` and `1m1m` are not); `0`
//! alone is allowed without a unit; no sign, no fraction, no spaces. A day is 24h, a week 7d and
//! a year 365d. Printing follows `model.Duration.String`: `0s` for zero, years and weeks only when
//! they divide the value exactly (`90d`, not `12w6d`), then days down to milliseconds.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

const MS_PER_SECOND: u64 = 1_000;
const MS_PER_MINUTE: u64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: u64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: u64 = 24 * MS_PER_HOUR;
const MS_PER_WEEK: u64 = 7 * MS_PER_DAY;
const MS_PER_YEAR: u64 = 365 * MS_PER_DAY;

/// Units from biggest to smallest, with their size in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", MS_PER_YEAR),
    ("w", MS_PER_WEEK),
    ("d", MS_PER_DAY),
    ("h", MS_PER_HOUR),
    ("m", MS_PER_MINUTE),
    ("s", MS_PER_SECOND),
    ("ms", 1),
];

/// Largest duration Prometheus accepts: Go's `time.Duration` is an i64 count of nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

/// A duration written the Prometheus way; parses and prints exactly as Prometheus does.
///
/// Resolution is one millisecond, the finest unit the syntax has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(pub Duration);

/// Why a duration string was rejected; the messages are Prometheus' own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// The input was empty.
    #[error("empty duration string")]
    Empty,
    /// The input does not follow the `<digits><unit>...` grammar, or units are out of order.
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    /// A unit other than `y w d h m s ms`.
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// The value does not fit in 2^63-1 nanoseconds (about 292 years).
    #[error("duration out of range")]
    OutOfRange,
}

impl PromDuration {
    /// Zero, printed as `0s`.
    pub const ZERO: PromDuration = PromDuration(Duration::ZERO);

    /// A duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        PromDuration(Duration::from_secs(secs))
    }

    /// A duration of whole milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        PromDuration(Duration::from_millis(ms))
    }

    /// The standard-library duration.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// Whole milliseconds, saturating at `i64::MAX`; the unit timestamps use.
    pub fn as_millis_i64(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }

    /// True for a zero duration.
    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Parses Prometheus duration syntax.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        match input {
            "0" => return Ok(PromDuration::ZERO),
            "" => return Err(DurationError::Empty),
            _ => {}
        }
        let invalid = || DurationError::Invalid(input.to_owned());
        let bytes = input.as_bytes();
        let mut i = 0;
        // Index into UNITS of the next unit allowed; units must strictly decrease.
        let mut next_unit = 0;
        let mut total_ms: u128 = 0;
        while i < bytes.len() {
            let digits_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i == digits_start {
                return Err(invalid());
            }
            let number: u64 = input[digits_start..i].parse().map_err(|_| invalid())?;
            let unit_start = i;
            while i < bytes.len() && !bytes[i].is_ascii_digit() {
                i += 1;
            }
            let unit = &input[unit_start..i];
            if unit.is_empty() {
                return Err(invalid());
            }
            let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
                return Err(DurationError::UnknownUnit {
                    unit: unit.to_owned(),
                    input: input.to_owned(),
                });
            };
            if index < next_unit {
                return Err(invalid());
            }
            next_unit = index + 1;
            total_ms += u128::from(number) * u128::from(UNITS[index].1);
            if total_ms * 1_000_000 > MAX_NANOS {
                return Err(DurationError::OutOfRange);
            }
        }
        let ms = u64::try_from(total_ms).map_err(|_| DurationError::OutOfRange)?;
        Ok(PromDuration::from_millis(ms))
    }
}

impl From<PromDuration> for Duration {
    fn from(d: PromDuration) -> Duration {
        d.0
    }
}

impl From<Duration> for PromDuration {
    fn from(d: Duration) -> PromDuration {
        PromDuration(d)
    }
}

impl FromStr for PromDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PromDuration::parse(s)
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return f.write_str("0s");
        }
        for (index, (unit, size)) in UNITS.iter().enumerate() {
            // Years and weeks only when exact: `90d` reads better than `12w6d`.
            let exact_only = index < 2;
            if exact_only && ms % size != 0 {
                continue;
            }
            let count = ms / size;
            if count > 0 {
                write!(f, "{count}{unit}")?;
                ms -= count * size;
            }
        }
        Ok(())
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = PromDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Prometheus duration such as 30s, 1m30s or 1h")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<PromDuration, E> {
        PromDuration::parse(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PromDuration, E> {
        // YAML reads a bare `0` as an integer; Prometheus accepts `0` without a unit.
        if v == 0 {
            Ok(PromDuration::ZERO)
        } else {
            Err(E::custom(DurationError::Invalid(v.to_string())))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PromDuration, E> {
        if v == 0 {
            Ok(PromDuration::ZERO)
        } else {
            Err(E::custom(DurationError::Invalid(v.to_string())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> u64 {
        PromDuration::parse(s).unwrap().0.as_millis() as u64
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("0s"), 0);
        assert_eq!(ms("100ms"), 100);
        assert_eq!(ms("90s"), 90_000);
        assert_eq!(ms("1m30s"), 90_000);
        assert_eq!(ms("5m"), 300_000);
        assert_eq!(ms("1h"), 3_600_000);
        assert_eq!(ms("1d"), 86_400_000);
        assert_eq!(ms("1w"), 7 * 86_400_000);
        assert_eq!(ms("1y"), 365 * 86_400_000);
        assert_eq!(
            ms("1y2w3d4h5m6s7ms"),
            MS_PER_YEAR
                + 2 * MS_PER_WEEK
                + 3 * MS_PER_DAY
                + 4 * MS_PER_HOUR
                + 5 * MS_PER_MINUTE
                + 6 * MS_PER_SECOND
                + 7
        );
        assert_eq!(ms("007s"), 7_000);
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        let invalid = |s: &str| DurationError::Invalid(s.to_owned());
        assert_eq!(PromDuration::parse(""), Err(DurationError::Empty));
        for bad in [
            "5", "s", "1.5s", "-1s", "+1s", "1m1h", "1s1s", "1ms1s", " 1s", "1s ", "1 s",
        ] {
            let err = PromDuration::parse(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    DurationError::Invalid(_) | DurationError::UnknownUnit { .. }
                ),
                "{bad}: {err}"
            );
        }
        assert_eq!(PromDuration::parse("30m1h"), Err(invalid("30m1h")));
        assert_eq!(
            PromDuration::parse("5x").unwrap_err().to_string(),
            r#"unknown unit "x" in duration "5x""#
        );
        assert_eq!(
            PromDuration::parse("1m1m").unwrap_err().to_string(),
            r#"not a valid duration string: "1m1m""#
        );
        assert_eq!(PromDuration::parse("293y"), Err(DurationError::OutOfRange));
        assert_eq!(
            PromDuration::parse("99999999999999999999s"),
            Err(invalid("99999999999999999999s"))
        );
        assert!(PromDuration::parse("292y").is_ok());
    }

    #[test]
    fn prints_as_prometheus() {
        let show = |s: &str| PromDuration::parse(s).unwrap().to_string();
        assert_eq!(show("0"), "0s");
        assert_eq!(show("90s"), "1m30s");
        assert_eq!(show("300s"), "5m");
        assert_eq!(show("3600s"), "1h");
        assert_eq!(show("90d"), "90d");
        assert_eq!(show("14d"), "2w");
        assert_eq!(show("365d"), "1y");
        assert_eq!(show("366d"), "366d");
        assert_eq!(show("1d1ms"), "1d1ms");
        assert_eq!(show("1y1ms"), "365d1ms");
        assert_eq!(show("2w1d"), "15d");
        assert_eq!(show("1500ms"), "1s500ms");
        assert_eq!(PromDuration(Duration::from_micros(1500)).to_string(), "1ms");
    }

    #[test]
    fn round_trips() {
        for s in ["0s", "1ms", "1m30s", "5m", "1h", "1d", "1w", "1y", "3d4h"] {
            assert_eq!(PromDuration::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn serde_reads_strings_and_zero() {
        let d: PromDuration = serde_saphyr::from_str("1m30s").unwrap();
        assert_eq!(d, PromDuration::from_secs(90));
        let d: PromDuration = serde_saphyr::from_str("0").unwrap();
        assert_eq!(d, PromDuration::ZERO);
        let err = serde_saphyr::from_str::<PromDuration>("5").unwrap_err();
        assert!(
            err.to_string().contains("not a valid duration string"),
            "{err}"
        );
        assert_eq!(
            serde_json::to_string(&PromDuration::from_secs(90)).unwrap(),
            "\"1m30s\""
        );
    }
}
