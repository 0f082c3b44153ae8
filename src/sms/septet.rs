//! Packing GSM septets eight-into-seven octets (TS 23.038 §6.1.2.1), with the fill bits
//! that align the first septet after a user data header (TS 23.040 §9.2.3.24).

use super::error::{DecodeError, PackError};

/// Fill bits needed after a user data header of `udh_len` octets (UDHL included) so that
/// the first character starts on a septet boundary: (7 - (8·udh_len mod 7)) mod 7.
pub fn fill_bits(udh_len: usize) -> u8 {
    // Result is in 0..7, so the cast cannot truncate.
    ((7 - (udh_len * 8) % 7) % 7) as u8
}

/// Packs unpacked septets into `out`, after `fill` zero bits (0..=6).
///
/// A value above 0x7F is an error naming its offset rather than being silently masked.
pub fn pack_into(septets: &[u8], fill: u8, out: &mut Vec<u8>) -> Result<(), PackError> {
    if fill > 6 {
        return Err(PackError::FillTooLarge { fill });
    }
    if let Some(offset) = septets.iter().position(|&s| s > 0x7F) {
        let value = septets.get(offset).copied().unwrap_or_default();
        return Err(PackError::SeptetOutOfRange { offset, value });
    }
    pack_valid_into(septets, fill, out);
    Ok(())
}

/// Packs septets already known to be <= 0x7F after `fill` (<= 6) bits; excess bits are
/// masked off, never panics.
pub(crate) fn pack_valid_into(septets: &[u8], fill: u8, out: &mut Vec<u8>) {
    let fill = u32::from(fill % 7);
    let start = out.len();
    let total = (septets.len() * 7 + fill as usize).div_ceil(8);
    out.resize(start + total, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    let mut chunks = septets.chunks_exact(8);
    let mut written = 0;
    if fill == 0 {
        // Eight septets make exactly seven octets: one 56-bit word per chunk, written
        // straight into the sized output.
        for (src, d) in chunks.by_ref().zip(dst.chunks_exact_mut(7)) {
            let word = pack8(src);
            d.copy_from_slice(word.to_le_bytes().get(..7).unwrap_or_default());
            written += 7;
        }
    }
    let rest = if fill == 0 {
        chunks.remainder()
    } else {
        septets
    };
    let mut acc: u32 = 0;
    let mut bits = fill;
    let mut tail = dst.get_mut(written..).unwrap_or_default().iter_mut();
    for &s in rest {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            if let Some(d) = tail.next() {
                *d = acc as u8;
            }
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        if let Some(d) = tail.next() {
            *d = acc as u8;
        }
    }
}

/// Eight septets (the low seven bits of each of the eight octets of `src`) as one 56-bit
/// little-endian word, by halving the gaps between lanes three times (SWAR) instead of
/// shifting each septet alone.
#[inline(always)]
fn pack8(src: &[u8]) -> u64 {
    // Callers pass exactly eight; anything else packs as zeros rather than panicking.
    let lanes: [u8; 8] = src.try_into().unwrap_or([0; 8]);
    let x = u64::from_le_bytes(lanes) & 0x7F7F_7F7F_7F7F_7F7F;
    let x = (x & 0x007F_007F_007F_007F) | ((x & 0x7F00_7F00_7F00_7F00) >> 1);
    let x = (x & 0x0000_3FFF_0000_3FFF) | ((x & 0x3FFF_0000_3FFF_0000) >> 2);
    (x & 0x0000_0000_0FFF_FFFF) | ((x & 0x0FFF_FFFF_0000_0000) >> 4)
}

/// Packs unpacked septets after `fill` zero bits.
pub fn pack(septets: &[u8], fill: u8) -> Result<Vec<u8>, PackError> {
    let mut out = Vec::with_capacity((septets.len() * 7 + usize::from(fill)).div_ceil(8));
    pack_into(septets, fill, &mut out)?;
    Ok(out)
}

/// Unpacks `count` septets from `packed`, skipping `fill` leading bits.
///
/// The count is needed because it cannot be recovered from the octets alone: seven
/// trailing zero bits are either padding or an '@'. Too few octets for `count` septets is
/// an error giving how many octets were needed.
pub fn unpack(packed: &[u8], fill: u8, count: usize) -> Result<Vec<u8>, DecodeError> {
    if fill > 6 {
        return Err(DecodeError::FillTooLarge { fill });
    }
    let needed = (count * 7 + usize::from(fill)).div_ceil(8);
    if packed.len() < needed {
        return Err(DecodeError::PackedTooShort {
            needed,
            available: packed.len(),
        });
    }
    let mut out = Vec::with_capacity(count);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut octets = packed.iter();
    let mut skip = u32::from(fill);
    while out.len() < count {
        while bits < 7 + skip {
            // `needed` above guarantees enough octets; stop defensively anyway.
            let Some(&b) = octets.next() else {
                return Err(DecodeError::PackedTooShort {
                    needed,
                    available: packed.len(),
                });
            };
            acc |= u32::from(b) << bits;
            bits += 8;
        }
        acc >>= skip;
        bits -= skip;
        skip = 0;
        out.push((acc & 0x7F) as u8);
        acc >>= 7;
        bits -= 7;
    }
    Ok(out)
}

/// How many septets fit in `octets` octets after `fill` bits: what a receiver assumes when
/// it knows only the octet length.
pub fn septets_in(octets: usize, fill: u8) -> usize {
    (octets * 8).saturating_sub(usize::from(fill)) / 7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_bits_follow_ts_23_040() {
        assert_eq!(fill_bits(0), 0);
        assert_eq!(fill_bits(6), 1, "8-bit concatenation UDH");
        assert_eq!(fill_bits(7), 0, "16-bit concatenation UDH");
        assert_eq!(fill_bits(5), 2);
    }

    #[test]
    fn packs_the_classic_example() {
        // "hellohello" from TS 23.038 examples: E8 32 9B FD 46 97 D9 EC 37.
        let septets = crate::sms::gsm7::encode("hellohello").unwrap();
        assert_eq!(
            pack(&septets, 0).unwrap(),
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
    }

    #[test]
    fn one_fill_bit_after_a_six_octet_udh() {
        // 'A' (0x41) shifted left by one bit.
        assert_eq!(pack(&[0x41], 1).unwrap(), [0x82]);
        assert_eq!(unpack(&[0x82], 1, 1).unwrap(), [0x41]);
    }

    #[test]
    fn rejects_bad_septets_and_short_input() {
        assert_eq!(
            pack(&[1, 2, 3, 4, 5, 6, 7, 8, 0x80], 0),
            Err(PackError::SeptetOutOfRange {
                offset: 8,
                value: 0x80
            })
        );
        assert_eq!(
            pack(&[1, 0x90], 3),
            Err(PackError::SeptetOutOfRange {
                offset: 1,
                value: 0x90
            })
        );
        assert_eq!(
            unpack(&[0x41], 0, 2),
            Err(DecodeError::PackedTooShort {
                needed: 2,
                available: 1
            })
        );
        assert_eq!(pack(&[1], 7), Err(PackError::FillTooLarge { fill: 7 }));
    }

    #[test]
    fn swar_packing_matches_septet_by_septet() {
        let src = [0x7F, 0x00, 0x55, 0x2A, 0x01, 0x40, 0x7E, 0x33];
        let slow = src
            .iter()
            .enumerate()
            .fold(0u64, |w, (j, &s)| w | (u64::from(s) << (7 * j)));
        assert_eq!(pack8(&src), slow);
    }

    #[test]
    fn septets_in_counts_whole_septets() {
        assert_eq!(septets_in(140, 0), 160);
        assert_eq!(septets_in(134, 1), 153);
    }
}
