//! Number, date and text-code columns kept in the narrowest width that
//! holds every value exactly.
//!
//! A field scan over every contact reads its whole column from memory, so
//! its time follows the column's bytes: at `large` (1M contacts) two `f64`
//! columns are 16 MB per rule. Most fields are narrower than their type:
//! an age or a count is a small integer, an amount in cents or quarters is
//! exact in `f32`, a birthday is a plain date, a status or a city has a few
//! hundred distinct strings at most. Such a column is stored in
//! 1, 2 or 4 bytes per contact, and widened, once and exactly, the first time
//! a value does not fit. A test is translated to the stored width (integer
//! bounds for integers and days), so no verdict changes with the width.

use crate::instants::{Instants, NO_DATE};
use crate::scan::Selection;
use crate::snapshot::{Reader, Writer, invalid};
use flowseg_model::time::DAY_MS;
use flowseg_rules::plan::NumberTest;

/// "No value" in a 16-bit column; values use `-SMALL_MAX..=SMALL_MAX`.
const NO_SMALL: i16 = i16::MIN;
const SMALL_MAX: i16 = i16::MAX;
/// "No value" in a floating-point column.
const NO_NUMBER: f64 = f64::NAN;

/// A number column.
#[derive(Debug, Clone, PartialEq)]
pub enum Numbers {
    /// Every value an integer in `±32767` (and not `-0.0`).
    Small(Vec<i16>),
    /// Every value exact in `f32`; NaN is no value.
    Single(Vec<f32>),
    /// Any value; NaN is no value.
    Double(Vec<f64>),
}

impl Default for Numbers {
    fn default() -> Self {
        Numbers::Small(Vec::new())
    }
}

/// `x` as a 16-bit integer, if that is exact (the bits round-trip, so
/// `-0.0` and NaN do not fit).
fn as_small(x: f64) -> Option<i16> {
    let s = x as i16;
    (s != NO_SMALL && f64::from(s).to_bits() == x.to_bits()).then_some(s)
}

fn as_single(x: f64) -> Option<f32> {
    let s = x as f32;
    (f64::from(s).to_bits() == x.to_bits()).then_some(s)
}

impl Numbers {
    /// Sets (or clears, with `None` or NaN) the value at `i`, widening the
    /// column first if the value does not fit its width.
    pub fn set(&mut self, i: usize, value: Option<f64>) {
        let value = value.filter(|x| !x.is_nan());
        if let Some(x) = value {
            self.widen_for(x);
        }
        match self {
            Numbers::Small(v) => {
                grow(v, i, NO_SMALL);
                v[i] = value.and_then(as_small).unwrap_or(NO_SMALL);
            }
            Numbers::Single(v) => {
                grow(v, i, NO_NUMBER as f32);
                v[i] = value.map_or(NO_NUMBER as f32, |x| x as f32);
            }
            Numbers::Double(v) => {
                grow(v, i, NO_NUMBER);
                v[i] = value.unwrap_or(NO_NUMBER);
            }
        }
    }

    /// Makes the column wide enough for `x`. Each step is exact: an
    /// integer within `±32767` is exact in `f32`, and every `f32` in `f64`.
    fn widen_for(&mut self, x: f64) {
        if let Numbers::Small(v) = self
            && as_small(x).is_none()
        {
            let single = v
                .iter()
                .map(|s| {
                    if *s == NO_SMALL {
                        NO_NUMBER as f32
                    } else {
                        f32::from(*s)
                    }
                })
                .collect();
            *self = Numbers::Single(single);
        }
        if let Numbers::Single(v) = self
            && as_single(x).is_none()
        {
            *self = Numbers::Double(v.iter().map(|s| f64::from(*s)).collect());
        }
    }

    pub fn get(&self, i: usize) -> Option<f64> {
        let x = match self {
            Numbers::Small(v) => v.get(i).filter(|s| **s != NO_SMALL).map(|s| f64::from(*s)),
            Numbers::Single(v) => v.get(i).map(|s| f64::from(*s)),
            Numbers::Double(v) => v.get(i).copied(),
        };
        x.filter(|x| !x.is_nan())
    }

    pub fn len(&self) -> usize {
        match self {
            Numbers::Small(v) => v.len(),
            Numbers::Single(v) => v.len(),
            Numbers::Double(v) => v.len(),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Numbers::Small(v) => v.len() * 2,
            Numbers::Single(v) => v.len() * 4,
            Numbers::Double(v) => v.len() * 8,
        }
    }

    /// The values that exist, as `sel` collects them.
    pub(crate) fn with_value<S: Selection>(&self, sel: &S) -> S::Out {
        match self {
            Numbers::Small(v) => sel.apply(v, |s| *s != NO_SMALL),
            Numbers::Single(v) => sel.apply(v, |x| !x.is_nan()),
            Numbers::Double(v) => sel.apply(v, |x| !x.is_nan()),
        }
    }

    /// The values that pass `test`, as `sel` collects them. NaN ("no
    /// value") fails every comparison; in a 16-bit column the bounds become
    /// integer bounds that the no-value marker is always below.
    pub(crate) fn select<S: Selection>(&self, test: &NumberTest, sel: &S) -> S::Out {
        match (self, test) {
            (Numbers::Small(v), NumberTest::Range { .. }) => match integer_bounds(test) {
                Some((lo, hi)) => sel.apply(v, |s| (*s >= lo) & (*s <= hi)),
                None => sel.nothing(),
            },
            (Numbers::Small(v), NumberTest::In(items)) => {
                sel.apply(v, |s| *s != NO_SMALL && items.contains(&f64::from(*s)))
            }
            (Numbers::Single(v), _) => select_floats(v, test, sel),
            (Numbers::Double(v), _) => select_floats(v, test, sel),
        }
    }
}

/// The whole numbers `lo ≤ k ≤ hi` (or `<` where an end is open) as an
/// inclusive range of whole numbers, still as f64 (infinite ends stay
/// infinite; an empty range comes out with its low end above its high).
pub(crate) fn whole_bounds(lo: f64, lo_closed: bool, hi: f64, hi_closed: bool) -> (f64, f64) {
    let lo = if lo_closed {
        lo.ceil()
    } else {
        lo.floor() + 1.0
    };
    let hi = if hi_closed {
        hi.floor()
    } else {
        hi.ceil() - 1.0
    };
    (lo, hi)
}

/// The bounds `lo..=hi` (within `-32767..=32767`) that an integer passes
/// `test`'s range exactly within, or `None` when no integer of the column
/// can pass. Works in `f64`, where the bounds and every integer of the
/// column are exact, and only then narrows.
fn integer_bounds(test: &NumberTest) -> Option<(i16, i16)> {
    let NumberTest::Range {
        lo,
        lo_inclusive,
        hi,
        hi_inclusive,
    } = *test
    else {
        return None;
    };
    let (lo, hi) = whole_bounds(lo, lo_inclusive, hi, hi_inclusive);
    let max = f64::from(SMALL_MAX);
    // A NaN bound passes nothing.
    if lo.is_nan() || hi.is_nan() || lo > hi || lo > max || hi < -max {
        return None;
    }
    Some((lo.max(-max) as i16, hi.min(max) as i16))
}

/// A float column's test, its variant and bounds' inclusiveness decided
/// once, outside the loop. Each value is widened to `f64`, exactly.
fn select_floats<T: Copy + Into<f64> + Sync, S: Selection>(
    values: &[T],
    test: &NumberTest,
    sel: &S,
) -> S::Out {
    let x = |v: &T| -> f64 { (*v).into() };
    match *test {
        NumberTest::Range {
            lo,
            lo_inclusive,
            hi,
            hi_inclusive,
        } => match (lo_inclusive, hi_inclusive) {
            (true, true) => sel.apply(values, |v| (x(v) >= lo) & (x(v) <= hi)),
            (true, false) => sel.apply(values, |v| (x(v) >= lo) & (x(v) < hi)),
            (false, true) => sel.apply(values, |v| (x(v) > lo) & (x(v) <= hi)),
            (false, false) => sel.apply(values, |v| (x(v) > lo) & (x(v) < hi)),
        },
        NumberTest::In(ref items) => sel.apply(values, |v| items.contains(&x(v))),
    }
}

/// A date column (milliseconds since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub enum Dates {
    /// Every value a plain date (00:00 UTC) within `±32767` days of
    /// 1970-01-01, i.e. 1880–2059: stored as days.
    Days(Vec<i16>),
    /// Any instant, with a coarse copy for scans ([`Instants`]).
    Instants(Instants),
}

impl Default for Dates {
    fn default() -> Self {
        Dates::Days(Vec::new())
    }
}

fn as_days(ms: i64) -> Option<i16> {
    if ms.rem_euclid(DAY_MS) != 0 {
        return None;
    }
    i16::try_from(ms.div_euclid(DAY_MS))
        .ok()
        .filter(|d| *d != NO_SMALL)
}

impl Dates {
    /// Sets (or clears, with `None`) the value at `i`, widening the column
    /// to instants first if the value is not a plain date in range.
    pub fn set(&mut self, i: usize, value: Option<i64>) {
        let value = value.filter(|t| *t != NO_DATE);
        if let (Dates::Days(v), Some(t)) = (&*self, value)
            && as_days(t).is_none()
        {
            let instants = v
                .iter()
                .map(|d| {
                    if *d == NO_SMALL {
                        NO_DATE
                    } else {
                        i64::from(*d) * DAY_MS
                    }
                })
                .collect();
            *self = Dates::Instants(Instants::from_values(instants));
        }
        match self {
            Dates::Days(v) => {
                grow(v, i, NO_SMALL);
                v[i] = value.and_then(as_days).unwrap_or(NO_SMALL);
            }
            Dates::Instants(v) => v.set(i, value),
        }
    }

    pub fn get(&self, i: usize) -> Option<i64> {
        match self {
            Dates::Days(v) => v
                .get(i)
                .filter(|d| **d != NO_SMALL)
                .map(|d| i64::from(*d) * DAY_MS),
            Dates::Instants(v) => v.get(i),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Dates::Days(v) => v.len(),
            Dates::Instants(v) => v.len(),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Dates::Days(v) => v.len() * 2,
            Dates::Instants(v) => v.heap_bytes(),
        }
    }

    pub(crate) fn with_value<S: Selection>(&self, sel: &S) -> S::Out {
        match self {
            Dates::Days(v) => sel.apply(v, |d| *d != NO_SMALL),
            Dates::Instants(v) => v.with_value(sel),
        }
    }

    /// The dates within `lo..=hi` (inclusive milliseconds), as `sel`
    /// collects them. `&` rather than `&&`: no branches, so the scan
    /// vectorises.
    pub(crate) fn select<S: Selection>(&self, lo: i64, hi: i64, sel: &S) -> S::Out {
        match self {
            Dates::Days(v) => {
                // The days whose midnight is within the range.
                let first = lo.div_euclid(DAY_MS) + i64::from(lo.rem_euclid(DAY_MS) != 0);
                let last = hi.div_euclid(DAY_MS);
                let max = i64::from(SMALL_MAX);
                if first > last || first > max || last < -max {
                    return sel.nothing();
                }
                let (first, last) = (first.max(-max) as i16, last.min(max) as i16);
                sel.apply(v, |d| (*d >= first) & (*d <= last))
            }
            Dates::Instants(v) => v.select(lo, hi, sel),
        }
    }
}

/// A dictionary code in one width. The largest value of each width is
/// "absent" (a field's "no value") and the one below it `null` (event
/// attributes only); codes use the rest.
pub(crate) trait Code:
    Copy + Sync + PartialOrd + Into<u32> + TryFrom<u32> + From<u8> + bytemuck::Pod
{
    const ABSENT: Self;
    const NULL: Self;
}

macro_rules! code_width {
    ($t:ty) => {
        impl Code for $t {
            const ABSENT: $t = <$t>::MAX;
            const NULL: $t = <$t>::MAX - 1;
        }
    };
}
code_width!(u8);
code_width!(u16);
code_width!(u32);

/// Width-independent reserved codes (as [`Codes::get`] returns them).
pub(crate) const CODE_ABSENT: u32 = u32::MAX;
pub(crate) const CODE_NULL: u32 = u32::MAX - 1;

/// A reserved or dictionary code in width `C`.
fn to_width<C: Code>(code: u32) -> C {
    match code {
        CODE_ABSENT => C::ABSENT,
        CODE_NULL => C::NULL,
        // `set` widened the column first, so the code fits.
        c => C::try_from(c).unwrap_or(C::ABSENT),
    }
}

fn from_width<C: Code>(v: C) -> u32 {
    if v == C::ABSENT {
        CODE_ABSENT
    } else if v == C::NULL {
        CODE_NULL
    } else {
        v.into()
    }
}

fn rewidth<A: Code, B: Code>(v: &[A]) -> Vec<B> {
    v.iter().map(|x| to_width::<B>(from_width(*x))).collect()
}

/// Dictionary codes (of a text field or a string event attribute) in the
/// narrowest of three widths. Codes are handed out in order, so a column
/// widens when its dictionary outgrows 253, then 65,533 strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Codes {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Default for Codes {
    fn default() -> Self {
        Codes::U8(Vec::new())
    }
}

impl Codes {
    pub fn len(&self) -> usize {
        match self {
            Codes::U8(v) => v.len(),
            Codes::U16(v) => v.len(),
            Codes::U32(v) => v.len(),
        }
    }

    /// The code at `row`, or [`CODE_ABSENT`] / [`CODE_NULL`].
    #[inline]
    pub fn get(&self, row: usize) -> u32 {
        match self {
            Codes::U8(v) => from_width(v[row]),
            Codes::U16(v) => from_width(v[row]),
            Codes::U32(v) => from_width(v[row]),
        }
    }

    /// Makes room for `code` (widening when a dictionary code does not fit).
    fn fit(&mut self, code: u32) {
        let fits = |absent: u32| code >= CODE_NULL || code < absent - 1;
        if let Codes::U8(v) = self
            && !fits(u8::ABSENT.into())
        {
            *self = Codes::U16(rewidth(v));
        }
        if let Codes::U16(v) = self
            && !fits(u16::ABSENT.into())
        {
            *self = Codes::U32(rewidth(v));
        }
    }

    pub fn push(&mut self, code: u32) {
        self.fit(code);
        match self {
            Codes::U8(v) => v.push(to_width(code)),
            Codes::U16(v) => v.push(to_width(code)),
            Codes::U32(v) => v.push(to_width(code)),
        }
    }

    /// Sets the code at `row`, growing the column with absent codes when
    /// `row` is past its end.
    pub fn set(&mut self, row: usize, code: u32) {
        self.fit(code);
        match self {
            Codes::U8(v) => put(v, row, code),
            Codes::U16(v) => put(v, row, code),
            Codes::U32(v) => put(v, row, code),
        }
    }

    pub fn permute(&self, order: &[u32]) -> Codes {
        use crate::attr_column::permute;
        match self {
            Codes::U8(v) => Codes::U8(permute(v, order)),
            Codes::U16(v) => Codes::U16(permute(v, order)),
            Codes::U32(v) => Codes::U32(permute(v, order)),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Codes::U8(v) => v.capacity(),
            Codes::U16(v) => v.capacity() * 2,
            Codes::U32(v) => v.capacity() * 4,
        }
    }

    /// The largest dictionary code held, if any (to check a snapshot
    /// against its dictionary).
    pub fn max_code(&self) -> Option<u32> {
        fn max<C: Code>(v: &[C]) -> Option<u32> {
            v.iter()
                .filter(|c| **c < C::NULL)
                .map(|c| (*c).into())
                .max()
        }
        match self {
            Codes::U8(v) => max(v),
            Codes::U16(v) => max(v),
            Codes::U32(v) => max(v),
        }
    }

    /// The snapshot layout (text fields and string attributes alike): a
    /// width tag, then the codes.
    pub fn write_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        match self {
            Codes::U8(v) => {
                w.u8(1)?;
                w.slice(v)
            }
            Codes::U16(v) => {
                w.u8(2)?;
                w.slice(v)
            }
            Codes::U32(v) => {
                w.u8(4)?;
                w.slice(v)
            }
        }
    }

    pub fn read_from<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<Codes> {
        Ok(match r.u8()? {
            1 => Codes::U8(r.vec()?),
            2 => Codes::U16(r.vec()?),
            4 => Codes::U32(r.vec()?),
            _ => return Err(invalid("an unknown text code width")),
        })
    }
}

fn put<C: Code>(v: &mut Vec<C>, row: usize, code: u32) {
    grow(v, row, C::ABSENT);
    v[row] = to_width(code);
}

/// Extends `v` with `fill` (no value) up to index `i`.
pub(crate) fn grow<T: Copy>(v: &mut Vec<T>, i: usize, fill: T) {
    if v.len() <= i {
        v.resize(i + 1, fill);
    }
}

/// Snapshot layout: a width tag, then the raw values.
impl Numbers {
    pub fn write_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        match self {
            Numbers::Small(v) => {
                w.u8(2)?;
                w.slice(v)
            }
            Numbers::Single(v) => {
                w.u8(4)?;
                w.slice(v)
            }
            Numbers::Double(v) => {
                w.u8(8)?;
                w.slice(v)
            }
        }
    }

    pub fn read_from<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<Numbers> {
        Ok(match r.u8()? {
            2 => Numbers::Small(r.vec()?),
            4 => Numbers::Single(r.vec()?),
            8 => Numbers::Double(r.vec()?),
            _ => return Err(invalid("an unknown number column width")),
        })
    }
}

impl Dates {
    pub fn write_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        match self {
            Dates::Days(v) => {
                w.u8(2)?;
                w.slice(v)
            }
            Dates::Instants(v) => {
                w.u8(8)?;
                w.slice(v.values())
            }
        }
    }

    pub fn read_from<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<Dates> {
        Ok(match r.u8()? {
            2 => Dates::Days(r.vec()?),
            8 => Dates::Instants(Instants::from_values(r.vec()?)),
            _ => return Err(invalid("an unknown date column width")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{InScope, WholeColumn, bitmap_of_words};
    use roaring::RoaringBitmap;

    fn in_scope(scope: &RoaringBitmap, by_member: bool) -> InScope<'_> {
        InScope { scope, by_member }
    }

    fn numbers(values: &[Option<f64>]) -> Numbers {
        let mut column = Numbers::default();
        for (i, v) in values.iter().enumerate() {
            column.set(i, *v);
        }
        column
    }

    fn width(column: &Numbers) -> &'static str {
        match column {
            Numbers::Small(_) => "small",
            Numbers::Single(_) => "single",
            Numbers::Double(_) => "double",
        }
    }

    fn range(lo: f64, lo_inclusive: bool, hi: f64, hi_inclusive: bool) -> NumberTest {
        NumberTest::Range {
            lo,
            lo_inclusive,
            hi,
            hi_inclusive,
        }
    }

    /// Every width answers every test as the plain `f64` comparison does,
    /// whole-column and member by member, including bounds between
    /// integers, on them, beyond the 16-bit range and infinite.
    #[test]
    fn every_width_selects_what_a_plain_comparison_selects() {
        let sets: [(&str, Vec<Option<f64>>); 3] = [
            (
                "small",
                (0..3000)
                    .map(|i| (i % 11 != 0).then(|| f64::from(i % 201 - 100)))
                    .chain([Some(32767.0), Some(-32767.0)])
                    .collect(),
            ),
            (
                "single",
                (0..3000)
                    .map(|i| (i % 11 != 0).then(|| f64::from(i % 201 - 100) * 0.25))
                    .chain([Some(1e9)])
                    .collect(),
            ),
            (
                "double",
                (0..3000)
                    .map(|i| (i % 11 != 0).then(|| f64::from(i % 201 - 100) * 0.1))
                    .collect(),
            ),
        ];
        let mut tests = vec![
            NumberTest::In(vec![3.0, -7.0, 2.5, 0.1 * 3.0]),
            NumberTest::equals(25.0),
            NumberTest::equals(2.5),
            range(f64::NEG_INFINITY, true, f64::INFINITY, true),
            range(40000.0, true, f64::INFINITY, true),
            range(f64::NEG_INFINITY, true, -40000.0, false),
            range(10.0, true, 5.0, true),
        ];
        for lo in [-100.5, -3.0, 0.0, 2.25, 7.0, 32767.0] {
            for hi in [-2.0, 7.0, 7.75, 99.0, 1e6, f64::INFINITY] {
                for (a, b) in [(true, true), (true, false), (false, true), (false, false)] {
                    tests.push(range(lo, a, hi, b));
                }
            }
        }
        let live: RoaringBitmap = (0..3002).collect();
        let few: RoaringBitmap = (0..3002).step_by(37).collect();
        for (name, values) in sets {
            let column = numbers(&values);
            assert_eq!(width(&column), name);
            for (i, v) in values.iter().enumerate() {
                assert_eq!(column.get(i), *v, "{name} value {i}");
            }
            let with_value: RoaringBitmap = (0..values.len() as u32)
                .filter(|i| values[*i as usize].is_some())
                .collect();
            assert_eq!(
                column.with_value(&in_scope(&live, false)),
                with_value,
                "{name}"
            );
            for test in &tests {
                for (scope, by_member) in [(&live, false), (&few, true)] {
                    let want: RoaringBitmap = scope
                        .iter()
                        .filter(|i| {
                            values
                                .get(*i as usize)
                                .copied()
                                .flatten()
                                .is_some_and(|x| test.matches(x))
                        })
                        .collect();
                    let got = column.select(test, &in_scope(scope, by_member));
                    assert_eq!(got, want, "{name}: {test:?}, by member {by_member}");
                }
                // The whole column's verdict words say the same.
                let whole = bitmap_of_words(&column.select(test, &WholeColumn));
                let every = column.select(test, &in_scope(&live, false));
                assert_eq!(whole, every, "{name}: {test:?}, whole column");
            }
        }
    }

    /// A value that does not fit widens the column once, keeping every
    /// earlier value and every "no value" exactly.
    #[test]
    fn a_value_that_does_not_fit_widens_the_column_exactly() {
        let mut column = Numbers::default();
        column.set(0, Some(42.0));
        column.set(2, Some(-32767.0));
        assert_eq!(width(&column), "small");
        column.set(3, Some(-0.0));
        assert_eq!(width(&column), "single", "-0.0 keeps its sign");
        column.set(4, Some(0.1));
        assert_eq!(width(&column), "double");
        column.set(0, None);
        column.set(5, Some(f64::NAN));
        assert_eq!(column.get(0), None);
        assert_eq!(column.get(1), None);
        assert_eq!(column.get(2), Some(-32767.0));
        assert_eq!(column.get(3).map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(column.get(4), Some(0.1));
        assert_eq!(column.get(5), None, "NaN is no value");
        assert_eq!(column.len(), 6);
    }

    /// Plain dates are kept as days and answer ranges that start or end
    /// inside a day, on midnight, or open, as instants do; an instant
    /// widens the column.
    #[test]
    fn dates_as_days_select_what_instants_select() {
        // Spread days, and the days on either side of each edge below.
        let near_edges = [
            -20001, -20000, -19999, -6, -5, -4, -1, 0, 1, 299, 300, 19999,
        ];
        let values: Vec<Option<i64>> = (0..1988i64)
            .map(|i| (i % 13 != 0).then(|| (i * 37 % 40000 - 20000) * DAY_MS))
            .chain(near_edges.iter().map(|d| Some(d * DAY_MS)))
            .collect();
        let mut days = Dates::default();
        let mut instants = Dates::Instants(Instants::default());
        for (i, v) in values.iter().enumerate() {
            days.set(i, *v);
            instants.set(i, *v);
        }
        assert!(matches!(days, Dates::Days(_)));
        assert_eq!(days.heap_bytes(), 2 * values.len());
        let live: RoaringBitmap = (0..2000).collect();
        let few: RoaringBitmap = (0..2000).step_by(29).collect();
        let edges = [
            i64::MIN,
            -40000 * DAY_MS,
            -20000 * DAY_MS + 1,
            -5 * DAY_MS,
            -5 * DAY_MS - 1,
            0,
            1,
            300 * DAY_MS - 1,
            19999 * DAY_MS,
            40000 * DAY_MS,
            i64::MAX,
        ];
        for lo in edges {
            for hi in edges {
                for (scope, by_member) in [(&live, false), (&few, true)] {
                    assert_eq!(
                        days.select(lo, hi, &in_scope(scope, by_member)),
                        instants.select(lo, hi, &in_scope(scope, by_member)),
                        "{lo}..={hi}, by member {by_member}"
                    );
                }
                assert_eq!(
                    bitmap_of_words(&days.select(lo, hi, &WholeColumn)),
                    instants.select(lo, hi, &in_scope(&live, false)),
                    "{lo}..={hi}, whole column"
                );
            }
        }
        assert_eq!(
            days.with_value(&in_scope(&live, false)),
            instants.with_value(&in_scope(&live, false))
        );
        days.set(7, Some(DAY_MS + 1));
        assert!(matches!(days, Dates::Instants(_)));
        for (i, v) in values.iter().enumerate().filter(|(i, _)| *i != 7) {
            assert_eq!(days.get(i), *v, "value {i}");
        }
        assert_eq!(days.get(7), Some(DAY_MS + 1));
    }

    /// Text codes widen as the dictionary grows past 253, then 65,533
    /// strings; absent and `null` stay what they are and every code is
    /// kept.
    #[test]
    fn text_codes_widen_with_their_dictionary() {
        let mut codes = Codes::default();
        let want: Vec<u32> = (0..70_000u32)
            // 253, 254, 65533 and 65534 (each width's edges) are codes.
            .map(|c| match c % 11 {
                9 => CODE_ABSENT,
                10 => CODE_NULL,
                _ => c,
            })
            .collect();
        for (i, c) in want.iter().enumerate() {
            codes.set(i, *c);
            let expected = match i {
                0..=253 => "u8",
                254..=65533 => "u16",
                _ => "u32",
            };
            let got = match codes {
                Codes::U8(_) => "u8",
                Codes::U16(_) => "u16",
                Codes::U32(_) => "u32",
            };
            // A reserved code does not widen the column.
            if *c < CODE_NULL {
                assert_eq!(got, expected, "after code {i}");
            }
        }
        assert!((0..want.len()).all(|i| codes.get(i) == want[i]));
        assert_eq!(codes.max_code(), Some(69_999));
        assert!(codes.heap_bytes() >= 4 * want.len(), "capacity in u32s");
        let mut bytes = Vec::new();
        codes.write_to(&mut Writer(&mut bytes)).unwrap();
        assert_eq!(Codes::read_from(&mut Reader(&bytes[..])).unwrap(), codes);
        let mut small = Codes::default();
        small.set(3, 7);
        assert_eq!(
            small,
            Codes::U8(vec![u8::ABSENT, u8::ABSENT, u8::ABSENT, 7])
        );
        assert_eq!(small.max_code(), Some(7));
        small.push(CODE_NULL);
        assert_eq!(small.get(4), CODE_NULL);
        assert_eq!(small.len(), 5);
    }

    #[test]
    fn each_width_survives_a_snapshot() {
        let columns = [
            numbers(&[Some(1.0), None, Some(-3.0)]),
            numbers(&[Some(1.25), None]),
            numbers(&[Some(0.1), None]),
        ];
        for column in columns {
            let mut bytes = Vec::new();
            column.write_to(&mut Writer(&mut bytes)).unwrap();
            let back = Numbers::read_from(&mut Reader(&bytes[..])).unwrap();
            assert_eq!(width(&back), width(&column));
            assert_eq!(
                (0..3).map(|i| back.get(i)).collect::<Vec<_>>(),
                (0..3).map(|i| column.get(i)).collect::<Vec<_>>()
            );
        }
        for column in [
            Dates::Days(vec![3, NO_SMALL]),
            Dates::Instants(Instants::from_values(vec![5, NO_DATE])),
        ] {
            let mut bytes = Vec::new();
            column.write_to(&mut Writer(&mut bytes)).unwrap();
            assert_eq!(Dates::read_from(&mut Reader(&bytes[..])).unwrap(), column);
        }
    }
}
