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

/// Reads bits, most significant first, from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Reads one bit.
    #[inline]
    pub(crate) fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos >> 3)?;
        let bit = (byte >> (7 - (self.pos & 7))) & 1;
        self.pos += 1;
        Some(bit == 1)
    }

    /// Reads `n` bits (`n <= 64`) as the low bits of the result.
    #[inline]
    pub(crate) fn read_bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        if self.pos + n as usize > self.bytes.len() * 8 {
            return None;
        }
        let mut out = 0u64;
        let mut need = n;
        while need > 0 {
            let byte = self.bytes[self.pos >> 3];
            let off = (self.pos & 7) as u32;
            let avail = 8 - off;
            if off == 0 && need >= 8 {
                out = (out << 8) | u64::from(byte);
                need -= 8;
                self.pos += 8;
                continue;
            }
            let take = avail.min(need);
            let bits = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            out = (out << take) | bits;
            need -= take;
            self.pos += take as usize;
        }
        Some(out)
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
        for &(v, n) in &items {
            w.write_bits(v, n);
            w.write_bit(n % 2 == 0);
        }
        let bytes = w.into_boxed();
        let mut r = BitReader::new(&bytes);
        for &(v, n) in &items {
            let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            assert_eq!(r.read_bits(n), Some(v & mask), "width {n}");
            assert_eq!(r.read_bit(), Some(n % 2 == 0));
        }
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
