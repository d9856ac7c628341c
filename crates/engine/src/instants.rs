//! A date field of instants (milliseconds since the epoch), with a
//! two-byte coarse copy of each value (its *tick*) for scans.
//!
//! Why: a date test over every contact (`LastOrderDate within_last 30d`)
//! read the whole eight-byte column, and such a scan is bound by memory
//! (at `large`, 8 MB, over half of `dates_and_booleans`). Ticks work as
//! the event partitions' ([`crate::ticks`]): a value whose tick is
//! strictly between the window's ends' ticks is in it, one outside them
//! is not, and only a value on an end's tick has its eight bytes read.
//!
//! Unlike an event partition's times, a field's values change one by one,
//! so the ticks' scale is set from the values there are (their earliest,
//! and twice their span, leaving room for later values) and a value
//! outside it is *clamped* to the lowest or the highest tick. Clamping
//! keeps ticks in the order of the values (a later value never has a
//! lower tick), which is all the window test needs, so a clamped value is
//! never misjudged, only read exactly more often; when clamped values pile
//! up, the scale is set again from all values.

use crate::narrow::grow;
use crate::scan::Selection;
use crate::ticks::TickWindow;

/// "No value".
pub(crate) const NO_DATE: i64 = i64::MIN;
/// The tick of "no value": above every value's, so never in a window.
const ABSENT_TICK: u16 = u16::MAX;
/// The highest tick a value has.
const TOP_TICK: u16 = u16::MAX - 1;

/// A date column of instants and their ticks.
#[derive(Debug, Clone, Default)]
pub struct Instants {
    values: Vec<i64>,
    /// Each value's tick: `(value - origin) >> shift`, clamped to
    /// `0..=TOP_TICK`; `ABSENT_TICK` for no value.
    ticks: Vec<u16>,
    origin: i64,
    shift: u32,
    /// Values set outside the scale since it was last set.
    clamped: usize,
}

/// The values decide equality; the ticks follow from them and from the
/// order they were set in.
impl PartialEq for Instants {
    fn eq(&self, other: &Instants) -> bool {
        self.values == other.values
    }
}

impl Instants {
    /// A column of `values` (`NO_DATE` for no value), its scale set from
    /// them.
    pub fn from_values(values: Vec<i64>) -> Instants {
        let mut column = Instants {
            values,
            ..Instants::default()
        };
        column.rescale();
        column
    }

    /// The stored values, `NO_DATE` for no value.
    pub fn values(&self) -> &[i64] {
        &self.values
    }

    /// Sets the scale from the values (the earliest at tick 0, twice
    /// their span across the ticks) and every tick again.
    fn rescale(&mut self) {
        let (earliest, latest) = self
            .values
            .iter()
            .filter(|t| **t != NO_DATE)
            .fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
        (self.origin, self.shift) = if earliest > latest {
            (0, 0)
        } else {
            let span = latest.abs_diff(earliest).saturating_mul(2);
            (
                earliest,
                (u64::BITS - span.leading_zeros()).saturating_sub(u16::BITS),
            )
        };
        self.ticks = self.values.iter().map(|t| self.value_tick(*t)).collect();
        self.clamped = 0;
    }

    /// The tick of a bound or a value, clamped to `0..=TOP_TICK`.
    fn tick(&self, t: i64) -> u16 {
        if t <= self.origin {
            return 0;
        }
        (t.abs_diff(self.origin) >> self.shift).min(u64::from(TOP_TICK)) as u16
    }

    fn value_tick(&self, t: i64) -> u16 {
        if t == NO_DATE {
            ABSENT_TICK
        } else {
            self.tick(t)
        }
    }

    /// Whether value `t` is outside the scale (its tick clamped).
    fn outside(&self, t: i64) -> bool {
        t < self.origin || (t.abs_diff(self.origin) >> self.shift) > u64::from(TOP_TICK)
    }

    /// Sets (or clears, with `None`) the value at `i`.
    pub fn set(&mut self, i: usize, value: Option<i64>) {
        let t = value.unwrap_or(NO_DATE);
        grow(&mut self.values, i, NO_DATE);
        grow(&mut self.ticks, i, ABSENT_TICK);
        self.values[i] = t;
        self.ticks[i] = self.value_tick(t);
        if t != NO_DATE && self.outside(t) {
            self.clamped += 1;
            // Rarely: after a number of clamped values that grows with
            // the column, so setting the scale again costs O(1) per value
            // over time.
            if self.clamped > self.values.len() / 8 + 64 {
                self.rescale();
            }
        }
    }

    pub fn get(&self, i: usize) -> Option<i64> {
        self.values.get(i).copied().filter(|t| *t != NO_DATE)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn heap_bytes(&self) -> usize {
        self.values.len() * 8 + self.ticks.len() * 2
    }

    /// The contacts with a value, as `sel` collects them (from the ticks:
    /// a quarter of the bytes).
    pub(crate) fn with_value<S: Selection>(&self, sel: &S) -> S::Out {
        sel.apply(&self.ticks, |t| *t != ABSENT_TICK)
    }

    /// The values within `lo..=hi` (inclusive milliseconds), as `sel`
    /// collects them.
    pub(crate) fn select<S: Selection>(&self, lo: i64, hi: i64, sel: &S) -> S::Out {
        if lo > hi {
            return sel.nothing();
        }
        let window = TickWindow {
            lo: self.tick(lo),
            hi: self.tick(hi),
            lo_open: 0,
            hi_open: 0,
        };
        sel.apply_ticked(&self.ticks, window, &self.values, |t| {
            (t != NO_DATE) & (lo <= t) & (t <= hi)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{InScope, WholeColumn, bitmap_of_words};
    use roaring::RoaringBitmap;

    fn plain(values: &[i64], lo: i64, hi: i64) -> RoaringBitmap {
        (0..values.len() as u32)
            .filter(|i| {
                let t = values[*i as usize];
                t != NO_DATE && lo <= t && t <= hi
            })
            .collect()
    }

    /// Every selection (member by member, a scan intersected with a
    /// scope, whole-column words) against a plain comparison, for bounds
    /// at, just before and just after sampled values, and open ends.
    fn check(column: &Instants, what: &str) {
        let values = column.values().to_vec();
        let n = values.len() as u32;
        let live: RoaringBitmap = (0..n).collect();
        let few: RoaringBitmap = (0..n).step_by(29).collect();
        let bounds: Vec<i64> = values
            .iter()
            .filter(|t| **t != NO_DATE)
            .step_by(41)
            .flat_map(|t| [t.saturating_sub(1), *t, t.saturating_add(1)])
            .chain([i64::MIN, i64::MIN + 1, 0, i64::MAX])
            .collect();
        for &lo in &bounds {
            for &hi in bounds.iter().step_by(3) {
                let want = plain(&values, lo, hi);
                let at = format!("{what}: {lo}..={hi}");
                let scan = InScope {
                    scope: &live,
                    by_member: false,
                };
                assert_eq!(column.select(lo, hi, &scan), want, "{at}, scan");
                let by_member = InScope {
                    scope: &few,
                    by_member: true,
                };
                assert_eq!(
                    column.select(lo, hi, &by_member),
                    &want & &few,
                    "{at}, by member"
                );
                let words = column.select(lo, hi, &WholeColumn);
                assert_eq!(bitmap_of_words(&words), want, "{at}, whole column");
            }
        }
        let with_value: RoaringBitmap = (0..n).filter(|i| values[*i as usize] != NO_DATE).collect();
        let scan = InScope {
            scope: &live,
            by_member: false,
        };
        assert_eq!(column.with_value(&scan), with_value, "{what}: with a value");
    }

    fn spread(n: i64, first: i64, step: i64) -> Vec<i64> {
        (0..n)
            .map(|i| {
                if i % 11 == 0 {
                    NO_DATE
                } else {
                    first + (i * 7919 % n) * step + i % 3
                }
            })
            .collect()
    }

    #[test]
    fn ticks_select_what_a_plain_comparison_selects() {
        // Two years of order dates, across more than a word per part.
        let year = 365 * 86_400_000;
        let column = Instants::from_values(spread(3000, 1_735_689_600_000, 2 * year / 3000));
        check(&column, "two years");
        // One instant, no instant, the whole range of `i64`.
        check(&Instants::from_values(vec![5, NO_DATE, 5]), "one value");
        check(&Instants::from_values(vec![NO_DATE; 70]), "no value");
        check(
            &Instants::from_values(vec![i64::MIN + 1, -1, 0, 1, i64::MAX, NO_DATE]),
            "the whole range",
        );
    }

    /// A column long enough to be scanned in parts, one per core.
    #[test]
    fn a_long_column_scanned_in_parts_joins_them_in_order() {
        let n = (1 << 19) + 100;
        let values = spread(n, 1_700_000_000_000, 60_000);
        let column = Instants::from_values(values.clone());
        let t = |i: usize| values[i * 7 + 1];
        for (lo, hi) in [
            (t(10), t(60_000)),
            (t(3), t(3)),
            (i64::MIN, t(9)),
            (t(5), i64::MAX),
        ] {
            let words = column.select(lo, hi, &WholeColumn);
            assert_eq!(
                bitmap_of_words(&words),
                plain(&values, lo, hi),
                "{lo}..={hi}"
            );
        }
    }

    #[test]
    fn values_set_outside_the_scale_are_clamped_then_rescaled() {
        let day = 86_400_000;
        let mut column = Instants::from_values(spread(2000, 1_700_000_000_000, day / 10));
        let (origin, shift) = (column.origin, column.shift);
        // Far before, far after, and just past the scale's top; then
        // cleared values.
        let outliers = [-5 * 365 * day, 1_800_000_000_000, i64::MAX, i64::MIN + 1];
        for (k, t) in outliers.iter().enumerate() {
            column.set(k * 7, Some(*t));
        }
        let inside = 1_700_000_000_000 + 1000 * (day / 10) + 3;
        column.set(2100, Some(inside));
        column.set(3, None);
        assert_eq!(
            (column.origin, column.shift),
            (origin, shift),
            "few clamped"
        );
        assert_eq!(column.clamped, 4, "the four outliers");
        check(&column, "clamped");
        // Enough values past the top set the scale again from all values.
        for i in 0..400 {
            column.set(2200 + i, Some(1_900_000_000_000 + i as i64));
        }
        assert_ne!((column.origin, column.shift), (origin, shift));
        assert!(column.clamped < 400);
        check(&column, "rescaled");
        assert_eq!(column.get(3), None);
        assert_eq!(column.get(2100), Some(inside));
        assert_eq!(column.len(), 2600);
        assert_eq!(column.get(2150), None, "grown slots have no value");
    }
}
