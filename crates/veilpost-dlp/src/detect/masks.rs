//! Byte-class masks over blocks of up to 64 bytes: bit `j` set when byte `j` is in the
//! class. On x86-64 sixteen bytes at a time with SSE2 (part of every x86-64 processor,
//! through `safe_arch`, so no `unsafe` here); elsewhere eight at a time in a `u64`.

#[cfg(target_arch = "x86_64")]
use sse2 as imp;
#[cfg(not(target_arch = "x86_64"))]
use swar as imp;

/// Bytes a block holds.
pub(crate) const BLOCK: usize = 64;

/// Bytes that are not a space (in folded text: the bytes of words).
pub(crate) fn non_space(block: &[u8]) -> u64 {
    !imp::spaces(block)
}

/// Bytes that start a multi-byte UTF-8 character (their top two bits set).
pub(crate) fn lead_bytes(block: &[u8]) -> u64 {
    imp::lead_bytes(block)
}

/// ASCII digits.
pub(crate) fn digits(block: &[u8]) -> u64 {
    imp::digits(block)
}

/// The ASCII digits of a text in order, asked for from any offset: each 64-byte block's
/// mask is computed once however often the text is asked about it.
pub(crate) struct Digits<'a> {
    text: &'a [u8],
    /// The block the mask is of (its offset), and the digits in it.
    block: usize,
    mask: u64,
}

impl<'a> Digits<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Digits<'a> {
        Digits {
            text,
            block: 0,
            mask: digits(&text[..text.len().min(BLOCK)]),
        }
    }

    /// The first digit at or after `from`.
    #[inline]
    pub(crate) fn next_from(&mut self, from: usize) -> Option<usize> {
        let mut block = from - from % BLOCK;
        if block != self.block {
            self.load(block)?;
        }
        // The digits at or after `from` in this block.
        let mut rest = self.mask & (u64::MAX << (from % BLOCK));
        while rest == 0 {
            block += BLOCK;
            self.load(block)?;
            rest = self.mask;
        }
        Some(block + rest.trailing_zeros() as usize)
    }

    fn load(&mut self, block: usize) -> Option<()> {
        let end = self.text.len().min(block + BLOCK);
        if block >= end {
            return None;
        }
        self.block = block;
        self.mask = digits(&self.text[block..end]);
        Some(())
    }
}

/// A block of exactly 64 bytes: a shorter one is copied and padded with `pad` (a byte
/// outside the class asked about).
fn full(block: &[u8], pad: u8) -> [u8; BLOCK] {
    match <[u8; BLOCK]>::try_from(block) {
        Ok(whole) => whole,
        Err(_) => {
            let mut padded = [pad; BLOCK];
            let n = block.len().min(BLOCK);
            padded[..n].copy_from_slice(&block[..n]);
            padded
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use safe_arch::{
        bitand_m128i, cmp_eq_mask_i8_m128i, cmp_gt_mask_i8_m128i, cmp_lt_mask_i8_m128i, m128i,
        move_mask_i8_m128i, set_splat_i8_m128i,
    };

    use super::full;

    /// The mask of a block, sixteen bytes at a time: `class` gives 0xFF in each lane in
    /// the class.
    fn mask(block: &[u8], pad: u8, class: impl Fn(m128i) -> m128i) -> u64 {
        let bytes = full(block, pad);
        let mut m = 0u64;
        for (k, lanes) in bytes.chunks_exact(16).enumerate() {
            let lanes = <[u8; 16]>::try_from(lanes).unwrap_or([pad; 16]);
            // The sign bit of each of the sixteen lanes.
            let bits = move_mask_i8_m128i(class(m128i::from(lanes))) as u16;
            m |= u64::from(bits) << (16 * k);
        }
        m
    }

    pub(super) fn spaces(block: &[u8]) -> u64 {
        mask(block, b' ', |v| {
            cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(b' ' as i8))
        })
    }

    pub(super) fn lead_bytes(block: &[u8]) -> u64 {
        // 0xC0..=0xFF are -64..=-1 as signed bytes.
        mask(block, 0, |v| {
            bitand_m128i(
                cmp_gt_mask_i8_m128i(v, set_splat_i8_m128i(-65)),
                cmp_lt_mask_i8_m128i(v, set_splat_i8_m128i(0)),
            )
        })
    }

    pub(super) fn digits(block: &[u8]) -> u64 {
        // Bytes from 0x80 are negative as signed bytes: never above '/'.
        mask(block, 0, |v| {
            bitand_m128i(
                cmp_gt_mask_i8_m128i(v, set_splat_i8_m128i(b'/' as i8)),
                cmp_lt_mask_i8_m128i(v, set_splat_i8_m128i(b':' as i8)),
            )
        })
    }
}

// Also built for tests on x86-64, where they compare it with SSE2 and the definition.
#[cfg(any(test, not(target_arch = "x86_64")))]
mod swar {
    use super::full;

    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

    /// The mask of a block, eight bytes at a time: `flag` gives 0x80 in each lane in the
    /// class.
    fn mask(block: &[u8], pad: u8, flag: impl Fn(u64) -> u64) -> u64 {
        let bytes = full(block, pad);
        let mut m = 0u64;
        for (k, lanes) in bytes.chunks_exact(8).enumerate() {
            let lanes = <[u8; 8]>::try_from(lanes).unwrap_or([pad; 8]);
            let flags = flag(u64::from_le_bytes(lanes)) & HIGH;
            // The eight high bits gathered into eight bits.
            let bits = ((flags >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
            m |= bits << (8 * k);
        }
        m
    }

    /// 0x80 in each lane equal to `byte` (exact: no borrow between lanes).
    fn equal(lanes: u64, byte: u8) -> u64 {
        let x = lanes ^ (u64::from(byte) * 0x0101_0101_0101_0101);
        !((((x & LOW7) + LOW7) | x) & HIGH) & HIGH
    }

    pub(super) fn spaces(block: &[u8]) -> u64 {
        mask(block, b' ', |x| equal(x, b' '))
    }

    pub(super) fn lead_bytes(block: &[u8]) -> u64 {
        mask(block, 0, |x| x & (x << 1) & HIGH)
    }

    pub(super) fn digits(block: &[u8]) -> u64 {
        // Per lane: at least '0' and, with its top bit clear, below ':' (exact per lane).
        mask(block, 0, |x| {
            let ascii = !x & HIGH;
            let low = x & LOW7;
            let ge0 = (low + (0x80 - u64::from(b'0')) * 0x0101_0101_0101_0101) & HIGH;
            let lt10 = !((low + (0x80 - u64::from(b':')) * 0x0101_0101_0101_0101) & HIGH) & HIGH;
            ascii & ge0 & lt10
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(block: &[u8], class: impl Fn(u8) -> bool) -> u64 {
        block
            .iter()
            .enumerate()
            .filter(|&(_, &c)| class(c))
            .fold(0, |m, (j, _)| m | 1 << j)
    }

    #[test]
    fn every_byte_in_every_lane() {
        // Every byte value, at every position of full and short blocks.
        let all: Vec<u8> = (0..=255u8).cycle().take(BLOCK * 5 + 7).collect();
        for start in 0..BLOCK * 4 {
            for len in [BLOCK, 1, 15, 17, 63] {
                let block = &all[start..start + len];
                assert_eq!(non_space(block), reference(block, |c| c != b' '));
                assert_eq!(lead_bytes(block), reference(block, |c| c >= 0xC0));
                assert_eq!(digits(block), reference(block, |c| c.is_ascii_digit()));
                assert_eq!(!swar::spaces(block), non_space(block));
                assert_eq!(swar::lead_bytes(block), lead_bytes(block));
                assert_eq!(swar::digits(block), digits(block));
            }
        }
    }

    #[test]
    fn finds_the_next_digit() {
        let next = |text: &[u8], from: usize| Digits::new(text).next_from(from);
        let text = format!("{}7 x{}12", "a".repeat(100), "é".repeat(70));
        let text = text.as_bytes();
        assert_eq!(next(text, 0), Some(100));
        assert_eq!(next(text, 101), Some(text.len() - 2));
        assert_eq!(next(text, text.len()), None);
        assert_eq!(next(b"no digits here", 0), None);
        assert_eq!(next(b"", 0), None);
        assert_eq!(next(b"5", 1), None);
        assert_eq!(next(&[b'9'; 64], 63), Some(63));
        assert_eq!(next(&[b'9'; 64], 64), None);
        // Bytes just above and below the digits, and bytes from 0x80.
        assert_eq!(next(b"////:::://::\xff\xfe\xb0\xb9", 0), None);
        // One cursor asked forwards, backwards and again, over many blocks.
        let text: Vec<u8> = (0..1000u32)
            .map(|i| if i % 37 == 5 { b'1' } else { b'x' })
            .collect();
        let mut digits = Digits::new(&text);
        for from in (0..text.len()).chain((0..text.len()).rev()).step_by(3) {
            let want = (from..text.len()).find(|&k| text[k] == b'1');
            assert_eq!(digits.next_from(from), want, "{from}");
        }
    }
}
