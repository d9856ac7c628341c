//! Ticks: a two-byte coarse copy of a partition's base times, read by the
//! row pass ([`crate::row_pass`]) to decide which rows are in a time window.
//!
//! Why: the row pass decides every row of a partition, and at `large` its
//! reading of the eight-byte times was half of `failed_logins_30d` (5.4M
//! `login` rows, 44 MB a run: memory bandwidth, not work). A tick is a
//! row's time from the partition's earliest, divided by a power of two
//! chosen so that the latest fits in 16 bits (at `large`, 180 days of
//! history make a tick about 4 minutes). A row whose tick is strictly
//! between the window's ends' ticks is in the window and one outside them
//! is not; only a row on an end's tick (a few in a thousand) has its exact
//! time read. The ticks cost two bytes per row, so only partitions the row
//! pass reads have them ([`crate::row_pass::suits`]).

use std::ops::Range;

/// The ticks of a partition's base rows (empty where the partition has
/// none: see the module's documentation).
#[derive(Debug, Clone, Default)]
pub(crate) struct Ticks {
    /// The time of tick 0: the earliest base time.
    origin: i64,
    /// The latest base time.
    latest: i64,
    /// A tick is `(time - origin) >> shift`.
    shift: u32,
    ticks: Vec<u16>,
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
    /// The ticks of `times` (a partition's base times, in row order).
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
        Ticks {
            origin,
            latest,
            shift,
            ticks,
        }
    }

    /// How many rows have ticks.
    pub(crate) fn len(&self) -> usize {
        self.ticks.len()
    }

    /// The ticks of a run of rows.
    #[inline]
    pub(crate) fn of_rows(&self, rows: Range<u32>) -> &[u16] {
        &self.ticks[rows.start as usize..rows.end as usize]
    }

    /// The tick of time `t`, clamped to the ticks' range: never above the
    /// tick of a later time, so comparing ticks never contradicts
    /// comparing times.
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

    pub(crate) fn heap_bytes(&self) -> usize {
        self.ticks.capacity() * 2
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
        let spans: [(i64, i64); 5] = [
            (0, 0),
            (1_700_000_000_000, 1_700_000_000_900),
            (1_767_225_600_000, 1_767_225_600_000 + 180 * 86_400_000),
            (-5_000_000_000_000, 5_000_000_000_000),
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
}
