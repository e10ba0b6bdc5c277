//! The value codec inside a chunk: Gorilla's XOR encoding, plus a decimal
//! path for values that are short decimals (integers, `45.37`, `12.5`).
//!
//! After the first value (64 raw bits), each value is one of:
//! - `0`: the same bits as the previous value;
//! - `10` + scale + delta: the value is `m / 10^s` with an integer `m`
//!   (`|m| < 2^53`, `s <= 4`) and the previous value was decimal too; the
//!   scale is `0` (unchanged) or `1` + 3 bits, then `m - m_prev` (with
//!   `m_prev` rescaled to `s`) as `0` + 8 bits, `10` + 16, `110` + 28 or
//!   `111` + 55 bits, two's complement;
//! - `11` + XOR: `0` + the XOR's bits inside the previous window, or `1` +
//!   5 bits leading zeros + 6 bits length (64 as 0) + the bits.
//!
//! The encoder takes the decimal path only when it is shorter, and only when
//! decoding `m / 10^s` gives back the exact bits, so every value (NaN
//! payloads, the staleness marker, -0.0) round-trips bit for bit. After an
//! XOR value both sides derive its decimal form from its bits, lazily (only
//! when the next value is not an XOR one), so no state is written.

use super::bits::{BitReader, BitWriter};

const MAX_SCALE: u8 = 4;
const NO_SCALE: u8 = 0xff;
/// The previous value came through the XOR path; its decimal form is
/// computed only if the next value wants it.
const UNKNOWN_SCALE: u8 = 0xfe;
const NO_WINDOW: u8 = 0xff;
const POW10: [f64; 5] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];
const POW10_I: [i64; 5] = [1, 10, 100, 1_000, 10_000];
/// 2^53: integers below it are exact in an f64.
const EXACT: f64 = 9_007_199_254_740_992.0;
const EXACT_I: i64 = 1 << 53;
/// Payload widths of the `0`, `10`, `110`, `111` delta buckets.
const DELTA_WIDTHS: [u32; 4] = [8, 16, 28, 55];

/// Decodes `m / 10^s`; the encoder checks it gives the original bits.
fn from_decimal(m: i64, s: u8) -> f64 {
    if s == 0 {
        m as f64
    } else {
        m as f64 / POW10[usize::from(s)]
    }
}

/// The smallest scale `s` and integer `m` with `m / 10^s` equal to `v`
/// bit for bit.
fn decimal(v: f64) -> Option<(u8, i64)> {
    if !v.is_finite() {
        return None;
    }
    for s in 0..=MAX_SCALE {
        let x = v * POW10[usize::from(s)];
        if x.abs() >= EXACT {
            return None;
        }
        let m = x.round() as i64;
        if from_decimal(m, s).to_bits() == v.to_bits() {
            return Some((s, m));
        }
    }
    None
}

fn fits(x: i64, width: u32) -> bool {
    let lim = 1i64 << (width - 1);
    (-lim..lim).contains(&x)
}

fn sign_extend(raw: u64, width: u32) -> i64 {
    let shift = 64 - width;
    ((raw << shift) as i64) >> shift
}

/// Bucket index for a decimal delta, if any bucket holds it.
fn delta_bucket(d: i64) -> Option<usize> {
    DELTA_WIDTHS.iter().position(|&w| fits(d, w))
}

/// Encoder and decoder state: previous bits, XOR window, decimal form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueCodec {
    last: u64,
    leading: u8,
    trailing: u8,
    scale: u8,
    m: i64,
}

impl ValueCodec {
    /// State after the first value (written or read as 64 raw bits).
    pub(crate) fn first(v: u64) -> Self {
        Self {
            last: v,
            leading: NO_WINDOW,
            trailing: 0,
            scale: UNKNOWN_SCALE,
            m: 0,
        }
    }

    /// The previous value's bits.
    pub(crate) fn last(&self) -> u64 {
        self.last
    }

    /// The previous value's decimal form, derived on first use.
    fn prev_decimal(&mut self) -> Option<(u8, i64)> {
        if self.scale == UNKNOWN_SCALE {
            match decimal(f64::from_bits(self.last)) {
                Some((s, m)) => {
                    self.scale = s;
                    self.m = m;
                }
                None => self.scale = NO_SCALE,
            }
        }
        (self.scale != NO_SCALE).then_some((self.scale, self.m))
    }

    /// `(scale, m, delta)` for the decimal path, if `v` can take it.
    fn decimal_step(&mut self, v: u64) -> Option<(u8, i64, i64)> {
        self.prev_decimal()?;
        let (k, m) = decimal(f64::from_bits(v))?;
        let s = k.max(self.scale);
        let mv = m.checked_mul(POW10_I[usize::from(s - k)])?;
        if mv.abs() >= EXACT_I || from_decimal(mv, s).to_bits() != v {
            return None;
        }
        let mp = self.m.checked_mul(POW10_I[usize::from(s - self.scale)])?;
        let d = mv.checked_sub(mp)?;
        delta_bucket(d)?;
        Some((s, mv, d))
    }

    /// Whether the XOR should reuse the window, and its cost in bits.
    fn xor_plan(&self, xor: u64) -> (bool, u32) {
        let lead = xor.leading_zeros().min(31);
        let trail = xor.trailing_zeros();
        let new_sig = 64 - lead - trail;
        if self.leading != NO_WINDOW
            && lead >= u32::from(self.leading)
            && trail >= u32::from(self.trailing)
        {
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            // Reuse the window unless a fresh, narrower one is cheaper overall.
            if sig <= new_sig + 11 {
                return (true, 1 + sig);
            }
        }
        (false, 12 + new_sig)
    }

    /// Writes `v` (not the first value of the chunk).
    pub(crate) fn write(&mut self, w: &mut BitWriter, v: u64) {
        if v == self.last {
            w.write_bit(false);
            return;
        }
        let xor = self.last ^ v;
        let (reuse, xor_cost) = self.xor_plan(xor);
        if let Some((s, mv, d)) = self.decimal_step(v) {
            let b = delta_bucket(d).unwrap_or(3);
            let scale_cost = if s == self.scale { 1 } else { 4 };
            let cost = scale_cost + (b as u32 + 1).min(3) + DELTA_WIDTHS[b];
            if cost <= xor_cost {
                w.write_bits(0b10, 2);
                if s == self.scale {
                    w.write_bit(false);
                } else {
                    w.write_bit(true);
                    w.write_bits(u64::from(s), 3);
                }
                let prefix_len = (b as u32 + 1).min(3);
                w.write_bits((1u64 << prefix_len) - 1 - u64::from(b < 3), prefix_len);
                w.write_bits(d as u64, DELTA_WIDTHS[b]);
                self.scale = s;
                self.m = mv;
                self.last = v;
                return;
            }
        }
        w.write_bits(0b11, 2);
        if reuse {
            w.write_bit(false);
            w.write_bits(
                xor >> self.trailing,
                64 - u32::from(self.leading) - u32::from(self.trailing),
            );
        } else {
            let lead = xor.leading_zeros().min(31);
            let trail = xor.trailing_zeros();
            let sig = 64 - lead - trail;
            w.write_bit(true);
            w.write_bits(u64::from(lead), 5);
            w.write_bits(u64::from(sig & 63), 6);
            w.write_bits(xor >> trail, sig);
            self.leading = lead as u8;
            self.trailing = trail as u8;
        }
        self.last = v;
        self.scale = UNKNOWN_SCALE;
    }

    /// Reads a value written by [`ValueCodec::write`]; `None` on a short or
    /// inconsistent stream.
    pub(crate) fn read(&mut self, r: &mut BitReader<'_>) -> Option<u64> {
        if !r.read_bit()? {
            return Some(self.last);
        }
        if !r.read_bit()? {
            self.prev_decimal()?;
            let s = if r.read_bit()? {
                r.read_bits(3)? as u8
            } else {
                self.scale
            };
            if s > MAX_SCALE || s < self.scale {
                return None;
            }
            let width = DELTA_WIDTHS[r.read_unary(3)? as usize];
            let d = sign_extend(r.read_bits(width)?, width);
            let mp = self.m.wrapping_mul(POW10_I[usize::from(s - self.scale)]);
            let mv = mp.wrapping_add(d);
            let v = from_decimal(mv, s).to_bits();
            self.scale = s;
            self.m = mv;
            self.last = v;
            return Some(v);
        }
        if r.read_bit()? {
            let lead = r.read_bits(5)? as u32;
            let mut sig = r.read_bits(6)? as u32;
            if sig == 0 {
                sig = 64;
            }
            if lead + sig > 64 {
                return None;
            }
            self.leading = lead as u8;
            self.trailing = (64 - lead - sig) as u8;
        } else if self.leading == NO_WINDOW {
            return None;
        }
        let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
        let v = self.last ^ (r.read_bits(sig)? << self.trailing);
        self.last = v;
        self.scale = UNKNOWN_SCALE;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STALE_NAN;

    fn round_trip(values: &[f64]) -> usize {
        let mut w = BitWriter::default();
        w.write_bits(values[0].to_bits(), 64);
        let mut enc = ValueCodec::first(values[0].to_bits());
        for v in &values[1..] {
            enc.write(&mut w, v.to_bits());
        }
        let len = w.bytes().len();
        let bytes = w.into_boxed();
        let mut r = BitReader::new(&bytes);
        let first = r.read_bits(64).expect("first");
        assert_eq!(first, values[0].to_bits());
        let mut dec = ValueCodec::first(first);
        for (i, v) in values[1..].iter().enumerate() {
            assert_eq!(dec.read(&mut r), Some(v.to_bits()), "value {} ({v})", i + 1);
        }
        len
    }

    #[test]
    fn decimal_forms_are_exact() {
        assert_eq!(decimal(45.37), Some((2, 4537)));
        assert_eq!(decimal(12.0), Some((0, 12)));
        assert_eq!(decimal(-0.5), Some((1, -5)));
        assert_eq!(decimal(-0.0), None);
        assert_eq!(decimal(0.1 + 0.2), None);
        assert_eq!(decimal(1e300), None);
        assert_eq!(decimal(f64::NAN), None);
    }

    #[test]
    fn mixed_values_round_trip() {
        round_trip(&[
            1.0,
            2.0,
            2.0,
            45.37,
            45.38,
            0.1 + 0.2,
            STALE_NAN,
            3.0,
            f64::NAN,
            7.5,
            -0.0,
            0.0,
            1e300,
            1e300 + 1e285,
            f64::INFINITY,
            9_007_199_254_740_991.0,
            -9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            0.0001,
            1234.5678,
            5e-324,
        ]);
    }

    #[test]
    fn decimal_path_beats_xor_on_exporter_like_values() {
        let gauge: Vec<f64> = (0..120)
            .map(|i| 40.0 + ((i * 37) % 200) as f64 / 100.0)
            .collect();
        assert!(round_trip(&gauge) < 120 * 3, "{}", round_trip(&gauge));
        let counter: Vec<f64> = (0..120).map(|i| 1e9 + (i * i * 31) as f64).collect();
        assert!(round_trip(&counter) < 120 * 3, "{}", round_trip(&counter));
        let seconds: Vec<f64> = (0..120).map(|i| 12_345.67 + i as f64 * 14.93).collect();
        let seconds: Vec<f64> = seconds
            .iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect();
        assert!(round_trip(&seconds) < 120 * 3, "{}", round_trip(&seconds));
    }

    #[test]
    fn corrupt_streams_give_none() {
        let mut dec = ValueCodec::first(f64::NAN.to_bits());
        // Decimal path without a decimal previous value.
        assert_eq!(dec.read(&mut BitReader::new(&[0b1000_0000])), None);
        let mut dec = ValueCodec::first(1.0f64.to_bits());
        // Window reuse before any window.
        assert_eq!(dec.read(&mut BitReader::new(&[0b1100_0000])), None);
    }
}
