//! Running totals over a pass of rows, for sums and averages of whole
//! units ([`crate::eval`]'s `sum_by_running_totals`): `sums[i + 1]` and
//! `counts[i + 1]` are the total and the number of the pass's first
//! `i + 1` rows that are kept and hold a number, so that a contact's sum
//! is the difference of two totals.
//!
//! Each row's add depends on the one before, so a plain loop takes a few
//! cycles a row. With AVX2, eight rows are totalled at once: their kept
//! bits and their numbers' presence become lane masks, and a prefix sum
//! within the eight lanes (two shifts and a carry across the halves) is
//! added to the total so far.

use crate::attr_column::{BYTE_NULL, INT_NULL};

/// A column of whole units as stored: numbers of `i16` (absent at or
/// below [`INT_NULL`]) or of `u8` (absent at or above [`BYTE_NULL`]).
#[derive(Clone, Copy)]
pub(crate) enum Units<'a> {
    Shorts(&'a [i16]),
    Bytes(&'a [u8]),
}

impl Units<'_> {
    /// Row `r`'s stored number, if it holds one.
    #[inline(always)]
    pub(crate) fn number(self, r: usize) -> Option<i32> {
        match self {
            Units::Shorts(v) => (v[r] > INT_NULL).then_some(i32::from(v[r])),
            Units::Bytes(v) => (v[r] < BYTE_NULL).then_some(i32::from(v[r])),
        }
    }
}

/// Fills `sums[1..=rows]` and `counts[1..=rows]` for the rows
/// `start..start + rows` of `units`, a row being kept if its bit is set
/// in `kept` (bit `i % 64` of word `i / 64` for row `start + i`).
/// `sums[0]` and `counts[0]` are left as they are (zero).
pub(crate) fn running_totals(
    units: Units<'_>,
    start: usize,
    rows: usize,
    kept: &[u64],
    sums: &mut [i32],
    counts: &mut [i32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has just been found to support AVX2.
        unsafe { running_totals_avx2(units, start, rows, kept, sums, counts) };
        return;
    }
    rest(units, start, 0..rows, kept, (0, 0), sums, counts);
}

/// The rows `from` of the pass, one at a time, continuing from the
/// totals `(sum, n)` of the rows before them.
#[inline(always)]
fn rest(
    units: Units<'_>,
    start: usize,
    from: std::ops::Range<usize>,
    kept: &[u64],
    (mut sum, mut n): (i32, i32),
    sums: &mut [i32],
    counts: &mut [i32],
) {
    for i in from {
        let taken = (kept[i / 64] >> (i % 64)) & 1 == 1;
        if let (true, Some(x)) = (taken, units.number(start + i)) {
            sum += x;
            n += 1;
        }
        (sums[i + 1], counts[i + 1]) = (sum, n);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn running_totals_avx2(
    units: Units<'_>,
    start: usize,
    rows: usize,
    kept: &[u64],
    sums: &mut [i32],
    counts: &mut [i32],
) {
    use std::arch::x86_64::*;

    /// Each lane's total of itself and the lanes below it.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn prefix(x: __m256i) -> __m256i {
        let x = _mm256_add_epi32(x, _mm256_slli_si256::<4>(x));
        let x = _mm256_add_epi32(x, _mm256_slli_si256::<8>(x));
        // The low half's total, carried into the high half.
        let low_total = _mm256_shuffle_epi32::<0xFF>(x);
        _mm256_add_epi32(x, _mm256_permute2x128_si256::<0x08>(low_total, low_total))
    }

    let lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    let last_lane = _mm256_set1_epi32(7);
    let (mut sum, mut n) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    let whole = rows / 8 * 8;
    assert!(sums.len() > whole && counts.len() > whole && kept.len() * 64 >= whole);
    for i in (0..whole).step_by(8) {
        let r = start + i;
        let (x, has) = match units {
            Units::Shorts(v) => {
                let eight: &[i16; 8] = v[r..r + 8].try_into().expect("8 numbers");
                // SAFETY: `eight` is 16 readable bytes; the load is
                // unaligned.
                let x = _mm256_cvtepi16_epi32(unsafe { _mm_loadu_si128(eight.as_ptr().cast()) });
                (
                    x,
                    _mm256_cmpgt_epi32(x, _mm256_set1_epi32(i32::from(INT_NULL))),
                )
            }
            Units::Bytes(v) => {
                let eight: &[u8; 8] = v[r..r + 8].try_into().expect("8 numbers");
                let x = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(i64::from_le_bytes(*eight)));
                (
                    x,
                    _mm256_cmpgt_epi32(_mm256_set1_epi32(i32::from(BYTE_NULL)), x),
                )
            }
        };
        let byte = ((kept[i / 64] >> (i % 64)) & 0xFF) as i32;
        let kept_lanes = _mm256_and_si256(_mm256_set1_epi32(byte), lane_bits);
        let taken = _mm256_and_si256(_mm256_cmpeq_epi32(kept_lanes, lane_bits), has);
        sum = _mm256_add_epi32(sum, prefix(_mm256_and_si256(x, taken)));
        n = _mm256_add_epi32(n, prefix(_mm256_srli_epi32::<31>(taken)));
        let (s, c): (&mut [i32; 8], &mut [i32; 8]) = (
            (&mut sums[i + 1..i + 9]).try_into().expect("8 sums"),
            (&mut counts[i + 1..i + 9]).try_into().expect("8 counts"),
        );
        // SAFETY: `s` and `c` are 32 writable bytes each; the stores are
        // unaligned.
        unsafe {
            _mm256_storeu_si256(s.as_mut_ptr().cast(), sum);
            _mm256_storeu_si256(c.as_mut_ptr().cast(), n);
        }
        // The totals so far, in every lane.
        sum = _mm256_permutevar8x32_epi32(sum, last_lane);
        n = _mm256_permutevar8x32_epi32(n, last_lane);
    }
    let so_far = (sums[whole], counts[whole]);
    let so_far = if whole == 0 { (0, 0) } else { so_far };
    rest(units, start, whole..rows, kept, so_far, sums, counts);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both forms give the plain loop's totals, across words of kept bits
    /// and with rows left over after the groups of eight.
    #[test]
    fn running_totals_match_a_plain_loop() {
        let mut seed = 7u64;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let shorts: Vec<i16> = (0..3000)
            .map(|_| match next(6) {
                0 => INT_NULL,
                1 => i16::MIN,
                _ => next(65_000) as i16,
            })
            .collect();
        let bytes: Vec<u8> = (0..3000).map(|_| next(256) as u8).collect();
        let kept: Vec<u64> = (0..50).map(|_| next(u64::MAX)).collect();
        for units in [Units::Shorts(&shorts), Units::Bytes(&bytes)] {
            for (start, rows) in [(0, 2048), (5, 7), (13, 1000), (100, 0), (1, 64), (3, 71)] {
                // The dispatched form (AVX2 here), and the plain one.
                let (mut sums, mut counts) = (vec![0; rows + 1], vec![0; rows + 1]);
                running_totals(units, start, rows, &kept, &mut sums, &mut counts);
                let (mut plain_sums, mut plain_counts) = (vec![0; rows + 1], vec![0; rows + 1]);
                let plain = (&mut plain_sums, &mut plain_counts);
                rest(units, start, 0..rows, &kept, (0, 0), plain.0, plain.1);
                let (mut sum, mut n) = (0, 0);
                for i in 0..rows {
                    if (kept[i / 64] >> (i % 64)) & 1 == 1
                        && let Some(x) = units.number(start + i)
                    {
                        sum += x;
                        n += 1;
                    }
                    assert_eq!((sums[i + 1], counts[i + 1]), (sum, n), "{start} {rows} {i}");
                    let plain = (plain_sums[i + 1], plain_counts[i + 1]);
                    assert_eq!(plain, (sum, n), "plain: {start} {rows} {i}");
                }
            }
        }
    }
}
