//! A big-endian bit stream: the writer appends to a growable byte vector, the
//! reader never panics on short input (it returns `None`).

/// Appends bits, most significant first, to a byte vector.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Unused low bits in the last byte (0 when the last byte is full).
    free: u8,
}

impl BitWriter {
    /// An empty stream with room for `cap` bytes.
    pub(crate) fn with_capacity(cap: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(cap),
            free: 0,
        }
    }

    /// The bytes written so far (the last one possibly partly used).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Bytes allocated for the stream.
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Appends a byte, growing by a quarter (at least 16 bytes) rather than
    /// doubling: heads are many and small, so slack matters more than copies.
    #[inline]
    fn push(&mut self, b: u8) {
        if self.bytes.len() == self.bytes.capacity() {
            self.bytes.reserve_exact((self.bytes.len() / 4).max(16));
        }
        self.bytes.push(b);
    }

    /// Writes one bit.
    #[inline]
    pub(crate) fn write_bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.push(0);
            self.free = 8;
        }
        self.free -= 1;
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 1 << self.free;
            }
        }
    }

    /// Writes the low `n` bits of `value` (`n <= 64`), most significant first.
    #[inline]
    pub(crate) fn write_bits(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 64);
        let mut n = n;
        while n > 0 {
            if self.free == 0 {
                // Whole bytes when aligned.
                if n >= 8 {
                    n -= 8;
                    self.push((value >> n) as u8);
                    continue;
                }
                self.push(0);
                self.free = 8;
            }
            let take = n.min(u32::from(self.free));
            n -= take;
            let bits = ((value >> n) & ((1u64 << take) - 1)) as u8;
            self.free -= take as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= bits << self.free;
            }
        }
    }

    /// The finished stream, trimmed to its length.
    pub(crate) fn into_boxed(self) -> Box<[u8]> {
        self.bytes.into_boxed_slice()
    }
}

/// Reads bits, most significant first, from a byte slice, through a 64-bit
/// buffer refilled with one unaligned load where possible.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Next byte to load into the buffer.
    next: usize,
    /// Unread bits, left-aligned; bits below `avail` are either zero or the
    /// stream's next bits.
    buf: u64,
    /// Valid bits at the top of `buf`.
    avail: u32,
}

impl<'a> BitReader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            next: 0,
            buf: 0,
            avail: 0,
        }
    }

    /// A reader at bit `bit` of `bytes` (as [`BitReader::position`] gave it).
    pub(crate) fn at(bytes: &'a [u8], bit: usize) -> Self {
        let mut r = Self {
            bytes,
            next: bit / 8,
            buf: 0,
            avail: 0,
        };
        let skip = (bit % 8) as u32;
        if skip > 0 {
            // A missing byte leaves the reader empty: reads then give `None`.
            let _ = r.take(skip);
        }
        r
    }

    /// Bits consumed from the start of the stream.
    pub(crate) fn position(&self) -> usize {
        self.next * 8 - self.avail as usize
    }

    /// Tops the buffer up to at least 57 bits, or to the end of the stream.
    #[inline]
    fn refill(&mut self) {
        if let Some(chunk) = self.bytes.get(self.next..self.next + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            // Whole bytes that fit; a partly fitting byte is loaded again
            // next time at the same place, which ORs in the same bits.
            let take = (64 - self.avail) / 8;
            self.buf |= u64::from_be_bytes(word) >> self.avail;
            self.next += take as usize;
            self.avail += take * 8;
            return;
        }
        while self.avail <= 56 {
            let Some(&b) = self.bytes.get(self.next) else {
                return;
            };
            self.buf |= u64::from(b) << (56 - self.avail);
            self.next += 1;
            self.avail += 8;
        }
    }

    /// Consumes `n` (1..=56) buffered bits.
    #[inline]
    fn take(&mut self, n: u32) -> Option<u64> {
        if self.avail < n {
            self.refill();
            if self.avail < n {
                return None;
            }
        }
        let out = self.buf >> (64 - n);
        self.buf <<= n;
        self.avail -= n;
        Some(out)
    }

    /// Reads one bit.
    #[inline]
    pub(crate) fn read_bit(&mut self) -> Option<bool> {
        self.take(1).map(|b| b == 1)
    }

    /// Reads a prefix code of up to `max` one bits (`max <= 8`) ended by a
    /// zero bit (not read when `max` ones were seen); returns the ones.
    #[inline]
    pub(crate) fn read_unary(&mut self, max: u32) -> Option<u32> {
        debug_assert!(max <= 8);
        if self.avail < max + 1 {
            self.refill();
        }
        let ones = self.buf.leading_ones().min(max).min(self.avail);
        let used = ones + u32::from(ones < max);
        if used > self.avail {
            return None;
        }
        self.buf <<= used;
        self.avail -= used;
        Some(ones)
    }

    /// Reads `n` bits (`n <= 64`) as the low bits of the result.
    #[inline]
    pub(crate) fn read_bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        match n {
            0 => Some(0),
            1..=56 => self.take(n),
            _ => {
                let hi = self.take(n - 32)?;
                let lo = self.take(32)?;
                Some((hi << 32) | lo)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_widths_round_trip() {
        let items: Vec<(u64, u32)> = vec![
            (1, 1),
            (0b101, 3),
            (u64::MAX, 64),
            (0, 0),
            (0x1234, 13),
            (0xdead_beef, 32),
            (0, 7),
            (0xff, 8),
            (1 << 63, 64),
            (5, 9),
        ];
        let mut w = BitWriter::default();
        for _ in 0..3 {
            for &(v, n) in &items {
                w.write_bits(v, n);
                w.write_bit(n % 2 == 0);
            }
        }
        let bytes = w.into_boxed();
        let mut r = BitReader::new(&bytes);
        for _ in 0..3 {
            for &(v, n) in &items {
                let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                assert_eq!(r.read_bits(n), Some(v & mask), "width {n}");
                assert_eq!(r.read_bit(), Some(n % 2 == 0));
            }
        }
        assert_eq!(r.read_bits(8), None);
    }

    #[test]
    fn a_reader_resumes_at_any_position() {
        let mut w = BitWriter::default();
        for i in 0..40u64 {
            w.write_bits(i * 7919, (i % 60 + 1) as u32);
        }
        let bytes = w.into_boxed();
        let mut r = BitReader::new(&bytes);
        for i in 0..40u64 {
            let mut again = BitReader::at(&bytes, r.position());
            let n = (i % 60 + 1) as u32;
            let want = r.read_bits(n);
            assert_eq!(again.read_bits(n), want, "item {i}");
            assert_eq!(again.position(), r.position());
        }
    }

    #[test]
    fn unary_prefixes() {
        let mut w = BitWriter::default();
        for (code, len) in [(0b0, 1), (0b10, 2), (0b110, 3), (0b1110, 4), (0b1111, 4)] {
            w.write_bits(code, len);
        }
        let bytes = w.into_boxed();
        let mut r = BitReader::new(&bytes);
        let got: Vec<u32> = (0..5).map(|_| r.read_unary(4).unwrap()).collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert_eq!(BitReader::new(&[0xff]).read_unary(8), Some(8));
        assert_eq!(BitReader::new(&[0xf0]).read_unary(8), Some(4));
        assert_eq!(BitReader::new(&[]).read_unary(3), None);
    }

    #[test]
    fn short_input_is_none_not_a_panic() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.read_bits(4), Some(0xf));
        assert_eq!(r.read_bits(5), None);
        assert_eq!(r.read_bits(4), Some(0xf));
        assert_eq!(r.read_bit(), None);
        assert_eq!(BitReader::new(&[]).read_bits(64), None);
    }
}
