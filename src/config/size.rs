//! Byte sizes as Prometheus writes them (`body_size_limit: 10MB`).
//!
//! Prometheus uses `units.ParseBase2Bytes`: every unit is a power of 1024, whether written `KB`
//! or `KiB` (`B KB MB GB TB PB EB`, `KiB MiB GiB TiB PiB EiB`); a number may have a fraction
//! (`1.5MB`) and parts may be chained (`1GB512MB`); `0` alone needs no unit; any other number
//! without a unit is an error; SI `kB` is rejected.

use serde::{Serialize, Serializer};
use std::fmt;

/// A size in bytes; zero means "no limit" where used as a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

/// Why a size string was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SizeError {
    /// Not of the form `<number><unit>...`.
    #[error("invalid size {0:?}")]
    Invalid(String),
    /// A unit that is not a power-of-1024 byte unit.
    #[error("unknown unit {unit:?} in size {input:?} (expected B, KB, MB, GB, TB, PB, EB or KiB, MiB, ...)")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// Negative, or at least 2^63 bytes.
    #[error("size {0:?} is out of range")]
    OutOfRange(String),
}

const PREFIXES: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];

fn unit_size(unit: &str) -> Option<f64> {
    if unit == "B" {
        return Some(1.0);
    }
    let prefix = unit.strip_suffix("iB").or_else(|| unit.strip_suffix('B'))?;
    let power = PREFIXES.iter().skip(1).position(|p| *p == prefix)? + 1;
    Some(1024f64.powi(power as i32))
}

impl ByteSize {
    /// Parses Prometheus' base-2 byte syntax.
    pub fn parse(input: &str) -> Result<Self, SizeError> {
        if input == "0" {
            return Ok(ByteSize(0));
        }
        let invalid = || SizeError::Invalid(input.to_owned());
        if input.is_empty() {
            return Err(invalid());
        }
        if input.starts_with('-') {
            return Err(SizeError::OutOfRange(input.to_owned()));
        }
        let rest = input.strip_prefix('+').unwrap_or(input);
        if rest == "0" {
            return Ok(ByteSize(0));
        }
        let bytes = rest.as_bytes();
        let is_number = |b: u8| b == b'.' || b.is_ascii_digit();
        let mut i = 0;
        let mut total = 0f64;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && is_number(bytes[i]) {
                i += 1;
            }
            let number = &rest[start..i];
            if number.is_empty() || number == "." || number.matches('.').count() > 1 {
                return Err(invalid());
            }
            let value: f64 = number.parse().map_err(|_| invalid())?;
            let unit_start = i;
            while i < bytes.len() && !is_number(bytes[i]) {
                i += 1;
            }
            let unit = &rest[unit_start..i];
            let Some(size) = unit_size(unit) else {
                return Err(SizeError::UnknownUnit {
                    unit: unit.to_owned(),
                    input: input.to_owned(),
                });
            };
            total += value * size;
        }
        if !total.is_finite() || total >= 9_223_372_036_854_775_808f64 {
            return Err(SizeError::OutOfRange(input.to_owned()));
        }
        // Truncation toward zero, as Prometheus converts the float sum to int64.
        Ok(ByteSize(total as u64))
    }

    /// The number of bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }

    /// True for zero ("no limit").
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for ByteSize {
    /// Prints like Prometheus (`units.Base2Bytes.String`): `0B`, `512B`, `10MiB`, `1GiB512MiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut n = self.0;
        for (i, prefix) in PREFIXES.iter().enumerate() {
            if n % 1024 != 0 || (i == 0 && n == 0) {
                let suffix = if i == 0 { "B" } else { "iB" };
                parts.push(format!("{}{prefix}{suffix}", n % 1024));
            }
            n /= 1024;
            if n == 0 {
                break;
            }
        }
        parts.reverse();
        f.write_str(&parts.concat())
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> u64 {
        ByteSize::parse(s).unwrap().0
    }

    #[test]
    fn parses_base2_units() {
        assert_eq!(bytes("0"), 0);
        assert_eq!(bytes("0B"), 0);
        assert_eq!(bytes("512B"), 512);
        assert_eq!(bytes("1KB"), 1024);
        assert_eq!(bytes("1KiB"), 1024);
        assert_eq!(bytes("512KiB"), 512 * 1024);
        assert_eq!(bytes("10MB"), 10 << 20);
        assert_eq!(bytes("10MiB"), 10 << 20);
        assert_eq!(bytes("1GB"), 1 << 30);
        assert_eq!(bytes("2TiB"), 2 << 40);
        assert_eq!(bytes("1.5MB"), 3 << 19);
        assert_eq!(bytes("1GB512MB"), (1 << 30) + (512 << 20));
        assert_eq!(bytes(".5KB"), 512);
    }

    #[test]
    fn rejects_bad_sizes() {
        for bad in [
            "", "1024", "10kB", "10 MB", "MB", "1.2.3MB", "10mb", "-1MB", "8EB", ".KB",
        ] {
            assert!(ByteSize::parse(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(
            ByteSize::parse("1024").unwrap_err(),
            SizeError::UnknownUnit {
                unit: String::new(),
                input: "1024".into()
            }
        );
    }

    #[test]
    fn prints_like_prometheus() {
        assert_eq!(ByteSize(0).to_string(), "0B");
        assert_eq!(ByteSize(512).to_string(), "512B");
        assert_eq!(ByteSize(10 << 20).to_string(), "10MiB");
        assert_eq!(ByteSize((1 << 30) + (512 << 20)).to_string(), "1GiB512MiB");
        assert_eq!(ByteSize(1025).to_string(), "1KiB1B");
    }
}
