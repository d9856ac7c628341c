//! Row passes: an event condition's time window and attribute conditions
//! decided for a run of base rows at once, 64 rows at a time, reading the
//! columns in order, into one bit per row.
//!
//! Why: in a partition with a few rows per contact (`login`, `purchase`,
//! `review` at `large`), a sweep that decides each contact from its
//! own rows (find the window from the latest time back, test each row's
//! attributes) spends its time on branches that depend on the data — how
//! many rows, which pass — rather than on memory: every cache line of the
//! times is read either way, as a contact's rows share lines. Deciding
//! every row with straight-line code first leaves each contact a count of
//! set bits in its range. At `large` (`flowseg-bench eval`, alternating
//! runs), `did login where success is false at least 2 times in last 30d`
//! went from 12.8–13.4 to 6.8–10.4 ms, and `did purchase where
//! order_value > 200 and currency in ["pln", "eur"] at least 2 times in
//! last 30d` from 14.1–16.6 to 7.1–9.5 ms.

use crate::events::PreparedFilter;
use crate::ticks::{TickWindow, Ticks, TimeRun};

/// Average rows per contact up to which a partition suits the row pass
/// (and so keeps [`Ticks`]): with few rows, a contact's times share cache
/// lines, so reading all of them costs little more than reading its
/// window's; with many (`Visit`, ~42 at `large`), a recent window is a
/// small part of the rows.
pub(crate) const ROWS_PER_CONTACT: usize = 16;

/// Whether a partition of `rows` rows over `contacts` contacts suits the
/// row pass.
pub(crate) fn suits(rows: usize, contacts: usize) -> bool {
    rows / contacts.max(1) <= ROWS_PER_CONTACT
}

/// A run of base rows as the row pass reads them: their ticks, and their
/// times for the rows on a window's end ticks.
pub(crate) type RunTimes<'a> = TimeRun<'a>;

/// Bit `i` of the result (word `i / 64`, bit `i % 64`): whether row
/// `first + i` of `run` is within `lo..=hi` (`window` in ticks) and passes
/// every filter. A word with no row in the window skips the filters.
pub(crate) fn kept_rows(
    run: RunTimes<'_>,
    first: u32,
    (lo, hi, window): (i64, i64, TickWindow),
    filters: &[PreparedFilter<'_, '_>],
) -> Vec<u64> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has just been found to support AVX2.
        return unsafe { kept_rows_avx2(run, first, (lo, hi, window), filters) };
    }
    kept_rows_in::<false>(run, first, (lo, hi, window), filters)
}

/// [`kept_rows_in`] compiled with AVX2, its whole words of ticks and of
/// one-byte tests read 16 and 32 rows per instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn kept_rows_avx2(
    run: RunTimes<'_>,
    first: u32,
    bounds: (i64, i64, TickWindow),
    filters: &[PreparedFilter<'_, '_>],
) -> Vec<u64> {
    kept_rows_in::<true>(run, first, bounds, filters)
}

/// `AVX2`: whether the caller is compiled with AVX2 (only
/// [`kept_rows_avx2`] says so).
#[inline(always)]
fn kept_rows_in<const AVX2: bool>(
    run: RunTimes<'_>,
    first: u32,
    (lo, hi, w): (i64, i64, TickWindow),
    filters: &[PreparedFilter<'_, '_>],
) -> Vec<u64> {
    let mut words = Vec::with_capacity(run.ticks().len().div_ceil(64));
    for (k, ticks) in run.ticks().chunks(64).enumerate() {
        let (mut word, mut ends) = tick_words::<AVX2>(ticks, w);
        while ends != 0 {
            let i = ends.trailing_zeros() as usize;
            ends &= ends - 1;
            let t = run.at(k * 64 + i);
            word |= u64::from(lo <= t && t <= hi) << i;
        }
        if word != 0 {
            let row = first + (k * 64) as u32;
            for filter in filters {
                word = filter.and_word::<AVX2>(row, ticks.len(), word);
            }
        }
        words.push(word);
    }
    words
}

/// For up to 64 rows' ticks: the rows surely in window `w` (bit `i` for
/// row `i`), and those on a closed end's tick, which need their times.
#[inline(always)]
pub(crate) fn tick_words<const AVX2: bool>(ticks: &[u16], w: TickWindow) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    if AVX2 && let Ok(ticks) = <&[u16; 64]>::try_from(ticks) {
        // SAFETY: `AVX2` is true only in code compiled with AVX2, which
        // runs only once the CPU has been found to support it.
        return unsafe { tick_words_avx2(ticks, w) };
    }
    let (lo_closed, hi_closed) = (1 - w.lo_open, 1 - w.hi_open);
    let mut sure = [0u8; 64];
    let mut on_end = [0u8; 64];
    for ((f, e), c) in sure.iter_mut().zip(on_end.iter_mut()).zip(ticks) {
        *f = (u8::from(*c > w.lo) | w.lo_open) & (u8::from(*c < w.hi) | w.hi_open);
        *e = (u8::from(*c == w.lo) & lo_closed) | (u8::from(*c == w.hi) & hi_closed);
    }
    let sure = crate::scan::pack_flags(&sure);
    (sure, crate::scan::pack_flags(&on_end) & !sure)
}

/// [`tick_words`] for a whole word, 16 ticks per instruction: ticks are
/// unsigned, so each is compared as a signed number with its top bit
/// flipped.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn tick_words_avx2(ticks: &[u16; 64], w: TickWindow) -> (u64, u64) {
    use std::arch::x86_64::*;
    let signed = |t: u16| _mm256_set1_epi16((t ^ 0x8000) as i16);
    let all_if = |b: u8| _mm256_set1_epi16(-i16::from(b));
    let flip = _mm256_set1_epi16(i16::MIN);
    let (lo, hi) = (signed(w.lo), signed(w.hi));
    let (lo_eq, hi_eq) = (
        _mm256_set1_epi16(w.lo as i16),
        _mm256_set1_epi16(w.hi as i16),
    );
    let (lo_open, hi_open) = (all_if(w.lo_open), all_if(w.hi_open));
    let (mut sure, mut ends) = (0u64, 0u64);
    for half in 0..2 {
        let mut sure_v = [_mm256_setzero_si256(); 2];
        let mut ends_v = [_mm256_setzero_si256(); 2];
        for q in 0..2 {
            let at = half * 32 + q * 16;
            // SAFETY: `at + 16 <= 64`, so the 32 bytes read are `ticks`'.
            let v = unsafe { _mm256_loadu_si256(ticks[at..].as_ptr().cast()) };
            let s = _mm256_xor_si256(v, flip);
            let above = _mm256_or_si256(_mm256_cmpgt_epi16(s, lo), lo_open);
            let below = _mm256_or_si256(_mm256_cmpgt_epi16(hi, s), hi_open);
            sure_v[q] = _mm256_and_si256(above, below);
            let on_lo = _mm256_andnot_si256(lo_open, _mm256_cmpeq_epi16(v, lo_eq));
            let on_hi = _mm256_andnot_si256(hi_open, _mm256_cmpeq_epi16(v, hi_eq));
            ends_v[q] = _mm256_or_si256(on_lo, on_hi);
        }
        // Packing to bytes interleaves the two vectors' 128-bit halves;
        // the permutation puts the 32 rows back in order.
        let bits = |a, b| {
            let packed = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi16(a, b));
            u64::from(_mm256_movemask_epi8(packed) as u32)
        };
        sure |= bits(sure_v[0], sure_v[1]) << (32 * half);
        ends |= bits(ends_v[0], ends_v[1]) << (32 * half);
    }
    (sure, ends & !sure)
}

/// Which of a run of base rows an event condition keeps (in its window,
/// passing its attribute conditions), with the count of kept rows before
/// each word, so that a contact's count is two look-ups and a subtraction
/// whatever its number of rows.
pub(crate) struct KeptRows {
    /// The run's first row.
    first: u32,
    /// One bit per row ([`kept_rows`]), and a zero word past the last row.
    words: Vec<u64>,
    /// Kept rows before each word.
    before: Vec<u32>,
    /// The run's length in rows.
    rows: u32,
}

impl KeptRows {
    /// The rows `first..first + run.ticks().len()` kept by `lo..=hi` (with
    /// `ticks`, the partition's, to put it in ticks) and `filters`.
    pub(crate) fn new(
        run: RunTimes<'_>,
        first: u32,
        (lo, hi, ticks): (i64, i64, &Ticks),
        filters: &[PreparedFilter<'_, '_>],
    ) -> KeptRows {
        let mut words = kept_rows(run, first, (lo, hi, ticks.window(lo, hi)), filters);
        words.push(0);
        let mut before = Vec::with_capacity(words.len());
        let mut n = 0u32;
        for w in &words {
            before.push(n);
            n += w.count_ones();
        }
        KeptRows {
            first,
            words,
            before,
            rows: run.ticks().len() as u32,
        }
    }

    /// Whether `row` (a row of the run) is kept.
    #[inline(always)]
    pub(crate) fn get(&self, row: u32) -> bool {
        let i = (row - self.first) as usize;
        (self.words[i / 64] >> (i % 64)) & 1 == 1
    }

    /// How many rows of the run before `row` (a row of the run, or the one
    /// just past it) are kept.
    #[inline(always)]
    pub(crate) fn before(&self, row: u32) -> u32 {
        let i = (row - self.first) as usize;
        let below = (1u64 << (i % 64)) - 1;
        self.before[i / 64] + (self.words[i / 64] & below).count_ones()
    }

    /// The kept bits of the rows from `row` (a row of the run) on, for
    /// reading in order.
    #[inline(always)]
    pub(crate) fn bits_from(&self, row: u32) -> KeptBits<'_> {
        let i = (row - self.first) as usize;
        KeptBits {
            words: &self.words,
            i,
            bits: self.words[i / 64] >> (i % 64),
        }
    }

    /// The kept bits of the 64 rows from `row` (a row of the run): bit `i`
    /// is row `row + i`'s, 0 past the run's end.
    #[inline(always)]
    pub(crate) fn bits64_at(&self, row: u32) -> u64 {
        let i = (row - self.first) as usize;
        let (w, shift) = (i / 64, i % 64);
        let low = self.words[w] >> shift;
        match shift {
            0 => low,
            _ => low | self.words.get(w + 1).map_or(0, |next| next << (64 - shift)),
        }
    }

    /// Whether at least three rows in four of the run are kept (a window
    /// over most of the partition's time, conditions most rows pass).
    pub(crate) fn mostly_kept(&self) -> bool {
        let kept = self.before.last().copied().unwrap_or(0);
        u64::from(kept) * 4 >= u64::from(self.rows) * 3
    }

    /// The rows of `rows` from the first kept one to the last (empty, at
    /// `rows.start`, when none is kept).
    pub(crate) fn span_in(&self, rows: std::ops::Range<u32>) -> std::ops::Range<u32> {
        let (mut first, mut last) = (None, rows.start);
        self.each_in(rows.clone(), |row| {
            first.get_or_insert(row);
            last = row;
        });
        first.map_or(rows.start..rows.start, |first| first..last + 1)
    }

    /// Calls `f` on each kept row of `rows` (rows of the run), ascending,
    /// visiting only the kept ones: the bits of each word are taken one
    /// by one, so rows out of the window cost nothing and the loop has no
    /// branch on whether a row is kept.
    #[inline(always)]
    pub(crate) fn each_in(&self, rows: std::ops::Range<u32>, mut f: impl FnMut(u32)) {
        if rows.start >= rows.end {
            return;
        }
        let (a, b) = (
            (rows.start - self.first) as usize,
            (rows.end - self.first) as usize,
        );
        let (first_word, last_word) = (a / 64, (b - 1) / 64);
        let from_a = !0u64 << (a % 64);
        let to_b = !0u64 >> (63 - (b - 1) % 64);
        for w in first_word..=last_word {
            let mut bits = self.words[w];
            if w == first_word {
                bits &= from_a;
            }
            if w == last_word {
                bits &= to_b;
            }
            let row0 = self.first + (w * 64) as u32;
            while bits != 0 {
                f(row0 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
    }
}

/// Kept bits read one row after another ([`KeptRows::bits_from`]): a
/// word is loaded once for its 64 rows.
pub(crate) struct KeptBits<'a> {
    words: &'a [u64],
    /// The next row's index in the run.
    i: usize,
    /// Its word, shifted so that its bit is the lowest.
    bits: u64,
}

impl KeptBits<'_> {
    /// Whether the next row is kept.
    #[inline(always)]
    pub(crate) fn next_kept(&mut self) -> bool {
        let kept = self.bits & 1 == 1;
        self.i += 1;
        self.bits = if self.i.is_multiple_of(64) {
            self.words.get(self.i / 64).copied().unwrap_or(0)
        } else {
            self.bits >> 1
        };
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_rows_before_any_row_are_counted_across_words() {
        let times: Vec<i64> = (0..300).map(|i| (i * i * 7919) % 1000).collect();
        for (lo, hi) in [(i64::MIN, i64::MAX), (100, 600), (600, 100), (999, 999)] {
            let ticks = Ticks::of(&times);
            let run = ticks.run(0..times.len() as u32);
            let kept = KeptRows::new(run, 40, (lo, hi, &ticks), &[]);
            for row in 40..=340u32 {
                let want = times[..(row - 40) as usize]
                    .iter()
                    .filter(|t| lo <= **t && **t <= hi)
                    .count();
                assert_eq!(kept.before(row) as usize, want, "row {row}, {lo}..={hi}");
            }
        }
    }

    #[test]
    fn each_kept_row_of_any_range_is_visited_once_in_order() {
        let times: Vec<i64> = (0..300).map(|i| (i * i * 7919) % 1000).collect();
        let ticks = Ticks::of(&times);
        let run = ticks.run(0..times.len() as u32);
        for (lo, hi, mostly) in [
            (i64::MIN, i64::MAX, true),
            (0, 776, true),
            (0, 775, false),
            (100, 600, false),
            (600, 100, false),
        ] {
            let kept = KeptRows::new(run, 40, (lo, hi, &ticks), &[]);
            assert_eq!(kept.mostly_kept(), mostly, "{lo}..={hi}");
            // (776 keeps exactly 225 of the 300 rows, 775 one fewer.)
            // Ranges within a word, across one edge and across several,
            // empty, and at the run's ends.
            for (a, b) in [
                (0, 300),
                (3, 9),
                (60, 70),
                (63, 64),
                (64, 128),
                (5, 250),
                (299, 300),
                (7, 7),
            ] {
                let mut seen = Vec::new();
                kept.each_in(40 + a..40 + b, |row| seen.push(row));
                let want: Vec<u32> = (a..b)
                    .filter(|&i| (lo..=hi).contains(&times[i as usize]))
                    .map(|i| 40 + i)
                    .collect();
                assert_eq!(seen, want, "rows {a}..{b}, {lo}..={hi}");
                assert!(want.iter().all(|&r| kept.get(r)));
                let mut bits = kept.bits_from(40 + a);
                let read: Vec<u32> = (40 + a..40 + b).filter(|_| bits.next_kept()).collect();
                assert_eq!(read, want, "bits from {a} to {b}, {lo}..={hi}");
            }
        }
    }

    /// `times`' kept rows under `lo..=hi`, through their ticks.
    fn kept_words(times: &[i64], lo: i64, hi: i64) -> Vec<u64> {
        let ticks = Ticks::of(times);
        let run = ticks.run(0..times.len() as u32);
        kept_rows(run, 7, (lo, hi, ticks.window(lo, hi)), &[])
    }

    #[test]
    fn kept_rows_are_the_rows_in_the_window_across_word_edges() {
        for n in [0usize, 1, 63, 64, 65, 200] {
            let times: Vec<i64> = (0..n as i64).map(|i| (i * 37) % 101).collect();
            for (lo, hi) in [(i64::MIN, i64::MAX), (10, 50), (50, 10), (100, 100)] {
                let words = kept_words(&times, lo, hi);
                assert_eq!(words.len(), n.div_ceil(64));
                for (i, t) in times.iter().enumerate() {
                    let kept = (words[i / 64] >> (i % 64)) & 1 == 1;
                    assert_eq!(kept, lo <= *t && *t <= hi, "n {n}, row {i}, {lo}..={hi}");
                }
                if n % 64 != 0 {
                    assert_eq!(words[n / 64] >> (n % 64), 0, "no bit past the rows");
                }
            }
        }
    }

    /// Times over 180 days make ticks of about 4 minutes: rows sharing a
    /// window end's tick are decided by their times.
    #[test]
    fn kept_rows_decide_rows_on_a_windows_end_ticks_by_their_times() {
        let day = 86_400_000i64;
        let origin = 1_767_225_600_000i64;
        let mut times: Vec<i64> = (0..3000i64)
            .map(|i| origin + (i * i * 7919 + i * 104_729) % (180 * day))
            .collect();
        // Rows a millisecond apart, so that ends fall between rows of a tick.
        times.extend((0..40).map(|i| origin + 90 * day + i));
        let bounds: Vec<i64> = times
            .iter()
            .step_by(61)
            .flat_map(|t| [t - 1, *t, t + 1])
            .chain([i64::MIN, i64::MAX, origin, origin + 180 * day])
            .collect();
        for &lo in &bounds {
            for &hi in bounds.iter().step_by(5) {
                let words = kept_words(&times, lo, hi);
                for (i, t) in times.iter().enumerate() {
                    let kept = (words[i / 64] >> (i % 64)) & 1 == 1;
                    assert_eq!(kept, lo <= *t && *t <= hi, "row {i} at {t}, {lo}..={hi}");
                }
            }
        }
    }
}
