//! A partition's base times, kept as a two-byte coarse *tick* and the
//! remainder below it: a row's time from the partition's earliest, split
//! at a power of two chosen so that the latest's tick fits in 16 bits (at
//! `large`, 180 days of history make a tick about 4 minutes and leave an
//! 18-bit remainder). The remainders are packed end to end at the width
//! the partition's span needs ([`Remainders`]): at `large` 4.25 bytes a
//! row in place of eight, and the ticks alone decide most rows of a
//! window.
//!
//! The row pass ([`crate::row_pass`]) decides every row of a partition,
//! and at `large` its reading of eight-byte times was half of
//! `failed_logins_30d` (5.4M `login` rows, 44 MB a run: memory bandwidth,
//! not work). A row whose tick is strictly between the window's ends'
//! ticks is in the window and one outside them is not; only a row on an
//! end's tick (a few in a thousand) has its exact time read. Other reads
//! (a contact's window, found by stepping back from its latest time or by
//! a binary search) compare by tick first as well ([`TimeKey`]): only a
//! row on a bound's tick has its remainder read.
//!
//! Times more than 2^48 ms (about 8,900 years) apart in one partition
//! would need a remainder wider than 32 bits; such a partition keeps its
//! times whole beside the ticks.

use std::ops::Range;

/// The times of a partition's base rows (see the module's documentation).
#[derive(Debug, Clone, Default)]
pub(crate) struct Ticks {
    /// The time of tick 0: the earliest base time.
    origin: i64,
    /// The latest base time.
    latest: i64,
    /// A tick is `(time - origin) >> shift`.
    shift: u32,
    ticks: Vec<u16>,
    /// Each row's `(time - origin)` below its tick, `shift` bits wide
    /// (when `shift` <= 32).
    rems: Remainders,
    /// Each row's time, when the remainders would not fit (`shift` > 32).
    whole: Vec<i64>,
}

/// A run of consecutive base rows' times, read in place: its ticks'
/// slice, and where its remainders start. (Holding only the partition's
/// times and a row range, so that each tick was read through them, made
/// sweeps such as `never_opened_90d` ~13% slower at `large`.)
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeRun<'a> {
    /// The rows' ticks (what most comparisons read).
    ticks: &'a [u16],
    /// Where the remainders are read, from `start`.
    times: &'a Ticks,
    start: usize,
}

impl<'a> TimeRun<'a> {
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.ticks.len()
    }

    /// The rows' ticks.
    #[inline(always)]
    pub(crate) fn ticks(&self) -> &'a [u16] {
        self.ticks
    }

    /// Row `i`'s time.
    #[inline(always)]
    pub(crate) fn at(&self, i: usize) -> i64 {
        debug_assert!(i < self.len());
        self.times.at_index(self.start + i)
    }

    /// The first `end` rows.
    #[inline(always)]
    pub(crate) fn head(&self, end: usize) -> Self {
        TimeRun {
            ticks: &self.ticks[..end],
            ..*self
        }
    }

    /// How many rows from the start satisfy `pred` (given a row's index;
    /// it holds for a prefix of the rows), as [`slice::partition_point`].
    #[inline(always)]
    pub(crate) fn partition_point(&self, pred: impl Fn(usize) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Time `t` as rows are compared with it: by tick first.
    #[inline(always)]
    pub(crate) fn key(&self, t: i64) -> TimeKey {
        self.times.key(t)
    }

    /// Whether row `i`'s time is at least `k`'s. A tick above or below
    /// `k`'s decides it (ticks never contradict times); only a row on
    /// `k`'s tick has its remainder read.
    #[inline(always)]
    pub(crate) fn at_least(&self, i: usize, k: TimeKey) -> bool {
        let tick = self.ticks[i];
        if tick == k.tick {
            self.at(i) >= k.time
        } else {
            tick > k.tick
        }
    }

    /// Whether row `i`'s time is at most `k`'s (as [`TimeRun::at_least`]).
    #[inline(always)]
    pub(crate) fn at_most(&self, i: usize, k: TimeKey) -> bool {
        let tick = self.ticks[i];
        if tick == k.tick {
            self.at(i) <= k.time
        } else {
            tick < k.tick
        }
    }
}

/// A time and its tick in one partition, for [`TimeRun::at_least`] and
/// [`TimeRun::at_most`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeKey {
    tick: u16,
    time: i64,
}

impl TimeKey {
    pub(crate) fn time(&self) -> i64 {
        self.time
    }

    /// The time's tick: a row on an earlier tick is earlier.
    pub(crate) fn tick(&self) -> u16 {
        self.tick
    }
}

/// A time window `lo..=hi` in ticks: a row is in it for sure if its tick
/// is above `lo` (or `lo` is open: every row is at or after the window's
/// start) and below `hi` (likewise), and must have its time read if its
/// tick is a closed end's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TickWindow {
    pub(crate) lo: u16,
    pub(crate) hi: u16,
    /// 1 when every row is at or after the window's start, else 0.
    pub(crate) lo_open: u8,
    /// 1 when every row is at or before the window's end, else 0.
    pub(crate) hi_open: u8,
}

impl Ticks {
    /// `times` (a partition's base times, in row order) as ticks and
    /// remainders.
    pub(crate) fn of(times: &[i64]) -> Ticks {
        let (Some(&origin), Some(&latest)) = (times.iter().min(), times.iter().max()) else {
            return Ticks::default();
        };
        let span = latest.abs_diff(origin);
        let shift = (u64::BITS - span.leading_zeros()).saturating_sub(u16::BITS);
        let ticks = times
            .iter()
            .map(|t| (t.abs_diff(origin) >> shift) as u16)
            .collect();
        let (rems, whole) = if shift <= u32::BITS {
            let rems = Remainders::of(shift, times.iter().map(|t| t.abs_diff(origin)));
            (rems, Vec::new())
        } else {
            (Remainders::default(), times.to_vec())
        };
        Ticks {
            origin,
            latest,
            shift,
            ticks,
            rems,
            whole,
        }
    }

    /// How many rows there are.
    pub(crate) fn len(&self) -> usize {
        self.ticks.len()
    }

    /// The times of a run of rows.
    #[inline(always)]
    pub(crate) fn run(&self, rows: Range<u32>) -> TimeRun<'_> {
        TimeRun {
            ticks: &self.ticks[rows.start as usize..rows.end as usize],
            times: self,
            start: rows.start as usize,
        }
    }

    /// Row `row`'s time.
    #[inline(always)]
    pub(crate) fn at(&self, row: u32) -> i64 {
        self.at_index(row as usize)
    }

    #[inline(always)]
    fn at_index(&self, i: usize) -> i64 {
        if self.whole.is_empty() {
            let from_origin = (u64::from(self.ticks[i]) << self.shift) | self.rems.get(i);
            self.origin.wrapping_add(from_origin as i64)
        } else {
            self.whole[i]
        }
    }

    /// Time `t` as these rows are compared with it: by tick first.
    #[inline(always)]
    pub(crate) fn key(&self, t: i64) -> TimeKey {
        TimeKey {
            tick: self.tick(t),
            time: t,
        }
    }

    /// Whether row `row`'s time is at most `k`'s (as
    /// [`TimeRun::at_most`]).
    #[inline(always)]
    pub(crate) fn row_at_most(&self, row: u32, k: TimeKey) -> bool {
        self.run(row..row + 1).at_most(0, k)
    }

    /// Asks the CPU to start loading row `row`'s tick (what a window's
    /// search reads first); a row past the end is ignored.
    #[inline]
    pub(crate) fn prefetch(&self, row: usize) {
        if let Some(t) = self.ticks.get(row) {
            crate::events::prefetch(t);
        }
    }

    /// Asks the CPU to start loading row `row`'s tick and what else its
    /// time is read from; a row past the end is ignored.
    #[inline]
    pub(crate) fn prefetch_time(&self, row: usize) {
        self.prefetch(row);
        if let Some(t) = self.whole.get(row) {
            crate::events::prefetch(t);
        } else {
            self.rems.prefetch(row);
        }
    }

    /// Every row's time, in row order.
    pub(crate) fn to_vec(&self) -> Vec<i64> {
        let run = self.run(0..self.len() as u32);
        (0..run.len()).map(|i| run.at(i)).collect()
    }

    /// The tick of time `t`, clamped to the ticks' range: never above the
    /// tick of a later time, so comparing ticks never contradicts
    /// comparing times.
    #[inline(always)]
    fn tick(&self, t: i64) -> u16 {
        if t <= self.origin {
            return 0;
        }
        (t.abs_diff(self.origin) >> self.shift).min(u64::from(u16::MAX)) as u16
    }

    /// The window `lo..=hi` in ticks.
    pub(crate) fn window(&self, lo: i64, hi: i64) -> TickWindow {
        TickWindow {
            lo: self.tick(lo),
            hi: self.tick(hi),
            lo_open: u8::from(lo <= self.origin),
            hi_open: u8::from(hi >= self.latest),
        }
    }

    /// Heap bytes of the ticks.
    pub(crate) fn ticks_heap_bytes(&self) -> usize {
        self.ticks.capacity() * 2
    }

    /// Heap bytes of the rest: the remainders, or the whole times.
    pub(crate) fn rest_heap_bytes(&self) -> usize {
        self.rems.heap_bytes() + self.whole.capacity() * 8
    }
}

/// Numbers below `2^width` (`width` at most 32), packed end to end at
/// `width` bits each: a partition's remainders need only as many bits as
/// its span leaves below the tick (18 for 180 days of milliseconds), and a
/// `u32` each would spend 14 more on every row.
#[derive(Debug, Clone, Default)]
struct Remainders {
    width: u32,
    /// The packed bits, little-endian, and then 8 bytes of zeros so that
    /// every number is read with one unaligned 8-byte load.
    bytes: Vec<u8>,
}

impl Remainders {
    /// Each value's low `width` bits, in order.
    fn of(width: u32, values: impl ExactSizeIterator<Item = u64>) -> Remainders {
        debug_assert!(width <= u32::BITS);
        let mut bytes = Vec::with_capacity((values.len() * width as usize).div_ceil(8) + 8);
        let below = (1u64 << width) - 1;
        // Bits not yet written, lowest first: fewer than 8 between values.
        let (mut pending, mut held) = (0u64, 0u32);
        for v in values {
            pending |= (v & below) << held;
            held += width;
            while held >= 8 {
                bytes.push(pending as u8);
                pending >>= 8;
                held -= 8;
            }
        }
        if held > 0 {
            bytes.push(pending as u8);
        }
        bytes.extend_from_slice(&[0; 8]);
        Remainders { width, bytes }
    }

    /// Number `i`. Its bits start at most 7 bits into the byte it starts
    /// in, so one 8-byte load holds all of its at most 32.
    #[inline(always)]
    fn get(&self, i: usize) -> u64 {
        let at = i * self.width as usize;
        let word = u64::from_le_bytes(self.bytes[at / 8..at / 8 + 8].try_into().unwrap());
        (word >> (at % 8)) & ((1u64 << self.width) - 1)
    }

    /// Asks the CPU to start loading number `i`'s first byte.
    #[inline]
    fn prefetch(&self, i: usize) {
        if let Some(b) = self.bytes.get(i * self.width as usize / 8) {
            crate::events::prefetch(b);
        }
    }

    fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a tick test is certain (`Some(verdict)`) or needs the time.
    fn by_tick(w: TickWindow, c: u16) -> Option<bool> {
        let sure_in = (c > w.lo || w.lo_open == 1) && (c < w.hi || w.hi_open == 1);
        let edge = (c == w.lo && w.lo_open == 0) || (c == w.hi && w.hi_open == 0);
        match (sure_in, edge) {
            (true, _) => Some(true),
            (false, true) => None,
            (false, false) => Some(false),
        }
    }

    #[test]
    fn ticks_never_contradict_times_and_leave_few_rows_to_read() {
        // Year 0000 to 9999 (what an ISO date can say) is just over 2^48
        // ms; the one before it just under.
        let (year_0, year_10000) = (-62_167_219_200_000, 253_402_300_800_000);
        let spans: [(i64, i64); 8] = [
            (0, 0),
            (1_700_000_000_000, 1_700_000_000_900),
            (1_767_225_600_000, 1_767_225_600_000 + 180 * 86_400_000),
            (-5_000_000_000_000, 5_000_000_000_000),
            (year_0, year_10000),
            (year_0, year_0 + (1 << 48) - 1),
            (year_0, year_0 + (1 << 48)),
            (i64::MIN, i64::MAX),
        ];
        for (first, last) in spans {
            let n = 2_000i64;
            let step = (last / n).wrapping_sub(first / n);
            let times: Vec<i64> = (0..=n)
                .map(|i| first.wrapping_add(step.wrapping_mul(i)))
                .chain([first, last])
                .collect();
            let ticks = Ticks::of(&times);
            assert_eq!(ticks.len(), times.len());
            // Ticks and remainders (or whole times, past 2^48 ms) give
            // every time back exactly, read whole or a run at a time.
            assert_eq!(ticks.to_vec(), times);
            assert_eq!(ticks.whole.is_empty(), last.abs_diff(first) < 1 << 48);
            for (i, t) in times.iter().enumerate() {
                assert_eq!(ticks.at(i as u32), *t);
                let run = ticks.run(i as u32..times.len() as u32);
                assert_eq!(run.at(0), *t);
                assert_eq!(run.head(1).at(0), *t);
            }
            let bounds: Vec<i64> = times
                .iter()
                .step_by(97)
                .flat_map(|t| [t.saturating_sub(1), *t, t.saturating_add(1)])
                .chain([i64::MIN, i64::MAX])
                .collect();
            for &lo in &bounds {
                for &hi in bounds.iter().step_by(3) {
                    let w = ticks.window(lo, hi);
                    let mut read = 0;
                    for (t, c) in times.iter().zip(&ticks.ticks) {
                        let exact = lo <= *t && *t <= hi;
                        match by_tick(w, *c) {
                            Some(verdict) => assert_eq!(verdict, exact, "{t} in {lo}..={hi}"),
                            None => read += 1,
                        }
                    }
                    if (first, last) == spans[2] {
                        // 180 days of rows: an end's tick holds a few.
                        assert!(read <= 6, "{read} rows read for {lo}..={hi}");
                    }
                }
            }
        }
        assert_eq!(Ticks::of(&[]).len(), 0);
    }

    #[test]
    fn remainders_read_back_at_every_width() {
        for width in 0..=32u32 {
            let below = (1u64 << width) - 1;
            // Extremes and a spread between, with bits above the width
            // that must be dropped.
            let values: Vec<u64> = (0..301u64)
                .map(|i| match i % 5 {
                    0 => 0,
                    1 => below,
                    2 => u64::MAX,
                    _ => i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                })
                .collect();
            let rems = Remainders::of(width, values.iter().copied());
            for (i, v) in values.iter().enumerate() {
                assert_eq!(rems.get(i), v & below, "width {width}, number {i}");
            }
            assert!(rems.heap_bytes() <= (values.len() * width as usize).div_ceil(8) + 8);
        }
    }
}
