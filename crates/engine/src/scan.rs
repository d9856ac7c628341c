//! Whole-column scans: a test applied to every value of a column, the
//! verdicts packed into a bitmap.
//!
//! The loop is written so the compiler can vectorise simple tests (a
//! comparison, a range, a few equalities), and it is compiled twice: for
//! the baseline x86-64 target (SSE2) and for AVX2, picked at run time. The
//! release build targets the baseline so that the binary runs on any
//! x86-64 machine; on one with AVX2 the scans process twice the lanes.
//! Measured on 1M values (2-core AMD EPYC): a range over `f64` 0.63 →
//! 0.24 ms, four code equalities 0.82 → 0.41 ms (both with the column in
//! the cache). From memory, a long column is split across the cores: at
//! `large`, two `f64` ranges over 1M contacts went from 1.73–1.83 to
//! 1.20–1.25 ms.

use std::ops::Range;

use roaring::RoaringBitmap;

use crate::ticks::TickWindow;

/// Values per part: a column is split into one part per core, each of at
/// least this many values. A part on a helper ([`crate::helpers`]) costs
/// a wake-up, up to ~25 µs when the helper sleeps; 2^18 `f64`
/// values read from memory take ~0.2 ms on one core (two 1M-value scans
/// took ~1.8 ms at `large`), and a scan from memory is bound by one core's
/// loads in flight, so a second core adds bandwidth.
const VALUES_PER_THREAD: usize = 1 << 18;

/// The positions (ordinals) of `values` whose value passes. A long column
/// is split into parts, one per core, each a whole number of 64-value
/// words, and the parts' words are joined in order.
pub fn scan<T: Sync>(values: &[T], pass: impl Fn(&T) -> bool + Sync) -> RoaringBitmap {
    bitmap_of_words(&scan_words(values, pass))
}

/// [`scan`]'s verdicts as words, bit `i % 64` of word `i / 64` for value
/// `i`, before they become a bitmap.
pub(crate) fn scan_words<T: Sync>(values: &[T], pass: impl Fn(&T) -> bool + Sync) -> Vec<u64> {
    words_of_parts(values, pass, scan_parts(values.len()))
}

/// How many parts, one per thread, a scan of `len` values is split into.
fn scan_parts(len: usize) -> usize {
    crate::cores::evaluation_threads()
        .min(len / VALUES_PER_THREAD)
        .max(1)
}

/// `part_words` over `0..len` in `parts` parts of whole words, the first
/// on the calling thread ([`words_in_parts`]).
fn words_in_n_parts(
    len: usize,
    parts: usize,
    part_words: impl Fn(Range<usize>) -> Vec<u64> + Sync,
) -> Vec<u64> {
    if parts <= 1 {
        return part_words(0..len);
    }
    let per_part = len.div_ceil(parts).next_multiple_of(64).max(64);
    words_in_parts(len, per_part, part_words)
}

/// Where a column test's verdicts go. A column's test picks its loop (the
/// stored width, the shape of the comparison) and hands it to a
/// selection, which runs it over the values it needs.
pub(crate) trait Selection: Sync {
    type Out;
    /// The verdicts of `pass` over `values`.
    fn apply<T: Sync>(&self, values: &[T], pass: impl Fn(&T) -> bool + Sync) -> Self::Out;
    /// No value passes.
    fn nothing(&self) -> Self::Out;
    /// The verdicts of `exact` over `values`, deciding most values by
    /// their coarse copies `ticks` in `window` ([`ticked_words`]).
    fn apply_ticked(
        &self,
        ticks: &[u16],
        window: TickWindow,
        values: &[i64],
        exact: impl Fn(i64) -> bool + Sync,
    ) -> Self::Out;
}

/// The members of a scope that pass ([`filter`]).
pub(crate) struct InScope<'s> {
    pub scope: &'s RoaringBitmap,
    /// Test member by member (a scope much smaller than the column)
    /// instead of scanning the whole column.
    pub by_member: bool,
}

impl Selection for InScope<'_> {
    type Out = RoaringBitmap;
    fn apply<T: Sync>(&self, values: &[T], pass: impl Fn(&T) -> bool + Sync) -> RoaringBitmap {
        filter(values, self.scope, self.by_member, pass)
    }
    fn nothing(&self) -> RoaringBitmap {
        RoaringBitmap::new()
    }
    fn apply_ticked(
        &self,
        ticks: &[u16],
        window: TickWindow,
        values: &[i64],
        exact: impl Fn(i64) -> bool + Sync,
    ) -> RoaringBitmap {
        if self.by_member {
            filter(values, self.scope, true, |t| exact(*t))
        } else {
            bitmap_of_words(&ticked_words(ticks, window, values, exact)) & self.scope
        }
    }
}

/// The verdict words of the whole column ([`scan_words`]); no words when
/// nothing passes. Conditions combined with `and` over most contacts are
/// joined word by word and made a bitmap once.
pub(crate) struct WholeColumn;

impl Selection for WholeColumn {
    type Out = Vec<u64>;
    fn apply<T: Sync>(&self, values: &[T], pass: impl Fn(&T) -> bool + Sync) -> Vec<u64> {
        scan_words(values, pass)
    }
    fn nothing(&self) -> Vec<u64> {
        Vec::new()
    }
    fn apply_ticked(
        &self,
        ticks: &[u16],
        window: TickWindow,
        values: &[i64],
        exact: impl Fn(i64) -> bool + Sync,
    ) -> Vec<u64> {
        ticked_words(ticks, window, values, exact)
    }
}

/// One verdict bit per value of `values`, decided by its tick in `ticks`
/// (a coarse copy in the values' order: [`crate::instants`]) when that is
/// strictly inside or outside `window`, and by `exact` on the value when
/// it is on one of the window's end ticks. Split across cores as
/// [`scan_words`] is.
pub(crate) fn ticked_words(
    ticks: &[u16],
    window: TickWindow,
    values: &[i64],
    exact: impl Fn(i64) -> bool + Sync,
) -> Vec<u64> {
    words_in_n_parts(ticks.len(), scan_parts(ticks.len()), |rows| {
        best_ticked_words(&ticks[rows.clone()], window, &values[rows], &exact)
    })
}

/// [`ticked_words`] on one part, with AVX2 when the CPU has it.
fn best_ticked_words(
    ticks: &[u16],
    window: TickWindow,
    values: &[i64],
    exact: &impl Fn(i64) -> bool,
) -> Vec<u64> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has just been found to support AVX2.
        return unsafe { ticked_words_avx2(ticks, window, values, exact) };
    }
    ticked_words_in::<false>(ticks, window, values, exact)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn ticked_words_avx2(
    ticks: &[u16],
    window: TickWindow,
    values: &[i64],
    exact: &impl Fn(i64) -> bool,
) -> Vec<u64> {
    ticked_words_in::<true>(ticks, window, values, exact)
}

/// `AVX2`: whether the caller is compiled with AVX2.
#[inline(always)]
fn ticked_words_in<const AVX2: bool>(
    ticks: &[u16],
    window: TickWindow,
    values: &[i64],
    exact: &impl Fn(i64) -> bool,
) -> Vec<u64> {
    let mut words = Vec::with_capacity(ticks.len().div_ceil(64));
    for (k, (chunk, values)) in ticks.chunks(64).zip(values.chunks(64)).enumerate() {
        prefetch_ahead(ticks, k * 64..k * 64 + 64);
        let (mut word, mut ends) = crate::row_pass::tick_words::<AVX2>(chunk, window);
        while ends != 0 {
            let i = ends.trailing_zeros() as usize;
            ends &= ends - 1;
            word |= u64::from(exact(values[i])) << i;
        }
        words.push(word);
    }
    words
}

/// The members of `scope` whose value passes: each member tested when
/// `by_member` (a scope much smaller than the column), else the whole
/// column scanned and intersected.
#[inline]
pub(crate) fn filter<T: Sync>(
    values: &[T],
    scope: &RoaringBitmap,
    by_member: bool,
    pass: impl Fn(&T) -> bool + Sync,
) -> RoaringBitmap {
    if by_member {
        let found: Vec<u32> = scope
            .iter()
            .filter(|o| values.get(*o as usize).is_some_and(&pass))
            .collect();
        RoaringBitmap::from_sorted_iter(found).unwrap_or_default()
    } else {
        scan(values, pass) & scope
    }
}

/// [`scan_words`] on `parts` threads (the calling one included).
fn words_of_parts<T: Sync>(
    values: &[T],
    pass: impl Fn(&T) -> bool + Sync,
    parts: usize,
) -> Vec<u64> {
    words_in_n_parts(values.len(), parts, |part| {
        best_verdict_words(&values[part], &pass)
    })
}

/// One bit per position of `0..len`, computed in parts of `per_part`
/// positions (a multiple of 64, so that each part is whole words):
/// `part_words` gives a part's words, the parts are run by the calling
/// thread and the evaluation's helpers ([`crate::helpers`]), and joined in
/// order.
pub(crate) fn words_in_parts(
    len: usize,
    per_part: usize,
    part_words: impl Fn(Range<usize>) -> Vec<u64> + Sync,
) -> Vec<u64> {
    assert!(
        per_part > 0 && per_part.is_multiple_of(64),
        "parts are whole words: {per_part}"
    );
    let parts = len.div_ceil(per_part).max(1);
    let words = crate::helpers::in_parts(parts, |i| {
        part_words(i * per_part..((i + 1) * per_part).min(len))
    });
    words.concat()
}

/// [`verdict_words`] with the widest vectors the CPU has.
fn best_verdict_words<T>(values: &[T], pass: &impl Fn(&T) -> bool) -> Vec<u64> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has just been found to support AVX2.
        return unsafe { verdict_words_avx2(values, pass) };
    }
    verdict_words::<false, T>(values, pass)
}

/// [`verdict_words`] compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn verdict_words_avx2<T>(values: &[T], pass: &impl Fn(&T) -> bool) -> Vec<u64> {
    verdict_words::<true, T>(values, pass)
}

/// One bit per value, 64 values to a word. Full chunks of 64 have a fixed
/// trip count, which lets the compiler unroll and vectorise the test.
///
/// The verdicts of a chunk go to 64 bytes first, then are packed 8 at a
/// time ([`pack_flags`]). Shifting each verdict into the word directly
/// made the compiler widen every lane to 64 bits and shift it: 4 values
/// per step whatever their width, which was most of a scan's time (61% of
/// `negations`' samples at `large`, over `u8` codes).
#[inline(always)]
fn verdict_words<const AVX2: bool, T>(values: &[T], pass: &impl Fn(&T) -> bool) -> Vec<u64> {
    let mut words = Vec::with_capacity(values.len().div_ceil(64));
    let mut chunks = values.chunks_exact(64);
    for (k, chunk) in (&mut chunks).enumerate() {
        prefetch_ahead(values, k * 64..k * 64 + 64);
        let mut flags = [0u8; 64];
        for (f, v) in flags.iter_mut().zip(chunk) {
            *f = u8::from(pass(v));
        }
        words.push(pack_flags_in::<AVX2>(&flags));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = 0u64;
        for (j, v) in rest.iter().enumerate() {
            word |= u64::from(pass(v)) << j;
        }
        words.push(word);
    }
    words
}

/// How far ahead of a scan its values are asked for, in bytes.
const PREFETCH_BYTES: usize = 4096;

/// Asks the CPU for the cache lines of `values` [`PREFETCH_BYTES`] beyond
/// `at` (the values about to be read), one request per line. The
/// hardware's own prefetcher follows a stream only within a 4 KiB page, so
/// each new page of a scan started with a wait; asking a page ahead made
/// whole-column scans at `large` 8–15% faster (`age_value_range`
/// 0.81–0.85 → 0.65–0.79 ms, `dates_and_booleans` 1.17–1.29 → 1.01–1.18,
/// alternating runs; 2 and 8 KiB ahead were no better).
#[inline(always)]
pub(crate) fn prefetch_ahead<T>(values: &[T], at: Range<usize>) {
    let size = std::mem::size_of::<T>().max(1);
    let (ahead, per_line) = (PREFETCH_BYTES / size, (64 / size).max(1));
    let mut i = at.start + ahead;
    while i < at.end + ahead {
        if let Some(v) = values.get(i) {
            crate::events::prefetch(v);
        }
        i += per_line;
    }
}

/// [`pack_flags`], or [`pack_flags_avx2`] in code compiled with AVX2
/// (`AVX2`).
#[inline(always)]
fn pack_flags_in<const AVX2: bool>(flags: &[u8; 64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        // SAFETY: `AVX2` is true only in code compiled with AVX2, which
        // runs only once the CPU has been found to support it.
        return unsafe { pack_flags_avx2(flags) };
    }
    pack_flags(flags)
}

/// [`pack_flags`] 32 flags per instruction: each flag's bit 0 is shifted
/// to its byte's top bit, which `movemask` gathers. The multiply-and-shift
/// form moved every eight flags through a scalar register, which was most
/// of a text scan's time (`negations` at `large`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn pack_flags_avx2(flags: &[u8; 64]) -> u64 {
    use std::arch::x86_64::*;
    let half = |at: usize| {
        // SAFETY: `at` is 0 or 32, so 32 bytes from it are inside `flags`.
        let bytes = unsafe { _mm256_loadu_si256(flags.as_ptr().add(at).cast()) };
        // Flags are 0 or 1: shifting each 16-bit lane left by 7 moves each
        // byte's bit 0 to its bit 7, and nothing crosses into the next byte.
        _mm256_movemask_epi8(_mm256_slli_epi16::<7>(bytes)) as u32
    };
    u64::from(half(0)) | (u64::from(half(32)) << 32)
}

/// 64 flags (each byte 0 or 1) as the bits of a word, flag `i` at bit `i`.
/// Multiplying 8 flags by `0x0102_0408_1020_4080` moves flag `k` to bit
/// `56 + k` of the product (byte `j` of the constant is `2^(7-j)`, and no
/// two partial products share a bit, so nothing carries).
#[inline(always)]
pub(crate) fn pack_flags(flags: &[u8; 64]) -> u64 {
    let mut word = 0u64;
    for (i, eight) in flags.chunks_exact(8).enumerate() {
        let eight = u64::from_le_bytes(eight.try_into().unwrap_or([0; 8]));
        word |= (eight.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
    }
    word
}

/// The bitmap of `members`, ascending. Past about one member per 64
/// ordinals it is built through a plain bit set, which roaring takes in
/// bulk: pushing 588k ascending members one by one took ~3 ms at `large`
/// (a fifth of a windowed count over every contact).
pub fn from_ascending(members: &[u32]) -> RoaringBitmap {
    let Some(&last) = members.last() else {
        return RoaringBitmap::new();
    };
    let words_needed = last as usize / 64 + 1;
    if members.len() < words_needed {
        // Bitmap iteration ascends, so `members` is sorted; the fallback
        // only keeps a broken invariant from losing members.
        return RoaringBitmap::from_sorted_iter(members.iter().copied())
            .unwrap_or_else(|_| members.iter().copied().collect());
    }
    let mut words = vec![0u64; words_needed];
    for &m in members {
        words[m as usize / 64] |= 1 << (m % 64);
    }
    bitmap_of_words(&words)
}

/// Roaring takes a plain bit set in bulk (pushing members one by one cost
/// ~100 ns each).
pub(crate) fn bitmap_of_words(words: &[u64]) -> RoaringBitmap {
    #[cfg(target_endian = "little")]
    let bytes: &[u8] = bytemuck::cast_slice(words);
    #[cfg(not(target_endian = "little"))]
    let bytes: &[u8] = &words
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect::<Vec<u8>>();
    RoaringBitmap::from_lsb0_bytes(0, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_passing_position_and_no_other_across_chunk_edges() {
        for n in [0usize, 1, 63, 64, 65, 128, 1000] {
            let values: Vec<u32> = (0..n as u32).collect();
            let got = scan(&values, |v| v % 3 == 0 || *v == 64);
            let want: RoaringBitmap = (0..n as u32).filter(|v| v % 3 == 0 || *v == 64).collect();
            assert_eq!(got, want, "n = {n}");
        }
    }

    /// Every pattern of 8 flags, in each byte position of the word.
    #[test]
    fn packed_flags_put_flag_i_at_bit_i() {
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        fn avx2_packer(f: &[u8; 64]) -> u64 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: used only once the CPU is found to have AVX2.
            return unsafe { pack_flags_avx2(f) };
            #[cfg(not(target_arch = "x86_64"))]
            pack_flags(f)
        }
        type Packer = fn(&[u8; 64]) -> u64;
        let packers: [(&str, Packer); 2] = [("plain", pack_flags), ("avx2", avx2_packer)];
        for (name, pack) in packers {
            if name == "avx2" && !avx2 {
                continue;
            }
            for pattern in 0..=255u8 {
                for byte in 0..8 {
                    let mut flags = [0u8; 64];
                    for k in 0..8 {
                        flags[byte * 8 + k] = (pattern >> k) & 1;
                    }
                    assert_eq!(pack(&flags), u64::from(pattern) << (8 * byte), "{name}");
                }
            }
            let mut all = [1u8; 64];
            assert_eq!(pack(&all), u64::MAX, "{name}");
            all[63] = 0;
            assert_eq!(pack(&all), u64::MAX >> 1, "{name}");
        }
    }

    #[test]
    fn a_scan_split_across_threads_joins_the_parts_in_order() {
        for n in [0usize, 1, 64, 130, 1000, 4097] {
            let values: Vec<u32> = (0..n as u32).collect();
            let want: RoaringBitmap = (0..n as u32).filter(|v| v % 7 < 3).collect();
            for parts in 1..=5 {
                let got = bitmap_of_words(&words_of_parts(&values, |v| v % 7 < 3, parts));
                assert_eq!(got, want, "n = {n}, parts = {parts}");
            }
        }
    }
}
