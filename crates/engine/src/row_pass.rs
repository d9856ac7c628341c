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

/// Bit `i` of the result (word `i / 64`, bit `i % 64`): whether row
/// `first + i`, whose time is `times[i]`, is within `lo..=hi` and passes
/// every filter. A word with no row in the window skips the filters.
pub(crate) fn kept_rows(
    times: &[i64],
    first: u32,
    lo: i64,
    hi: i64,
    filters: &[PreparedFilter<'_, '_>],
) -> Vec<u64> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has just been found to support AVX2.
        return unsafe { kept_rows_avx2(times, first, lo, hi, filters) };
    }
    kept_rows_in(times, first, lo, hi, filters)
}

/// [`kept_rows_in`] compiled with AVX2 (the time test then takes 4 rows
/// per instruction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn kept_rows_avx2(
    times: &[i64],
    first: u32,
    lo: i64,
    hi: i64,
    filters: &[PreparedFilter<'_, '_>],
) -> Vec<u64> {
    kept_rows_in(times, first, lo, hi, filters)
}

#[inline(always)]
fn kept_rows_in(
    times: &[i64],
    first: u32,
    lo: i64,
    hi: i64,
    filters: &[PreparedFilter<'_, '_>],
) -> Vec<u64> {
    let mut words = Vec::with_capacity(times.len().div_ceil(64));
    for (k, chunk) in times.chunks(64).enumerate() {
        let mut flags = [0u8; 64];
        for (f, t) in flags.iter_mut().zip(chunk) {
            *f = u8::from(*t >= lo) & u8::from(*t <= hi);
        }
        let mut word = crate::scan::pack_flags(&flags);
        if word != 0 && !filters.is_empty() {
            let row = first + (k * 64) as u32;
            for filter in filters {
                filter.and_flags(row, &mut flags[..chunk.len()]);
            }
            word = crate::scan::pack_flags(&flags);
        }
        words.push(word);
    }
    words
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
}

impl KeptRows {
    /// The rows `first..first + times.len()` kept by `lo..=hi` and
    /// `filters`.
    pub(crate) fn new(
        times: &[i64],
        first: u32,
        lo: i64,
        hi: i64,
        filters: &[PreparedFilter<'_, '_>],
    ) -> KeptRows {
        let mut words = kept_rows(times, first, lo, hi, filters);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_rows_before_any_row_are_counted_across_words() {
        let times: Vec<i64> = (0..300).map(|i| (i * i * 7919) % 1000).collect();
        for (lo, hi) in [(i64::MIN, i64::MAX), (100, 600), (600, 100), (999, 999)] {
            let kept = KeptRows::new(&times, 40, lo, hi, &[]);
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
    fn kept_rows_are_the_rows_in_the_window_across_word_edges() {
        for n in [0usize, 1, 63, 64, 65, 200] {
            let times: Vec<i64> = (0..n as i64).map(|i| (i * 37) % 101).collect();
            for (lo, hi) in [(i64::MIN, i64::MAX), (10, 50), (50, 10), (100, 100)] {
                let words = kept_rows(&times, 7, lo, hi, &[]);
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
}
