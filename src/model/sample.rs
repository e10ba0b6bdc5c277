//! One float sample and Prometheus' staleness marker.

/// The bit pattern Prometheus writes as a staleness marker: a NaN that no
/// arithmetic produces, so it can be told apart from a scraped `NaN`.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a float (compare with [`is_stale_nan`], never `==`).
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is the staleness marker (and not an ordinary NaN).
#[inline]
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// A float sample: milliseconds since the Unix epoch, and the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Timestamp in milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; may be the staleness marker.
    pub v: f64,
}

impl Sample {
    /// A sample at `t` (ms) with value `v`.
    pub fn new(t: i64, v: f64) -> Self {
        Self { t, v }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_a_distinct_nan() {
        assert!(STALE_NAN.is_nan());
        assert!(is_stale_nan(STALE_NAN));
        assert!(!is_stale_nan(f64::NAN));
        assert!(!is_stale_nan(1.0));
    }
}
