//! One event attribute's values across a partition's rows, stored by type.
//!
//! An attribute almost always carries one JSON type, so a column is typed
//! by the values it has seen: strings as dictionary codes in the narrowest
//! width the dictionary allows (1, 2 or 4 bytes), numbers as `i16` while
//! every one is an integer within ±32766 (a rating, a quantity, a count of
//! results), else as `i32` cents while every one is a whole number of
//! hundredths (a price, an order value), else as `f64`, booleans as one
//! byte. "Absent" and `null` are reserved values of each encoding. A
//! column that meets a second type becomes [`AttrData::Mixed`] (16-byte
//! cells), which is what every column used to be.

use flowseg_model::AttrValue;
use roaring::RoaringBitmap;

use crate::dict::Dictionary;
use crate::narrow::{CODE_ABSENT, CODE_NULL, Code, Codes};
use crate::snapshot::{Reader, Writer, invalid};

/// One attribute value of one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    Absent,
    Null,
    Str(u32),
    Num(f64),
    Bool(bool),
}

/// Number-column bit patterns for "absent" and `null`: quiet NaNs with
/// payloads no JSON number can produce (JSON has no NaN).
pub(crate) const NUM_ABSENT: u64 = 0x7ff8_f10e_0000_0001;
pub(crate) const NUM_NULL: u64 = 0x7ff8_f10e_0000_0002;
/// Integer-column values for "absent" and `null`; integers use the rest.
pub(crate) const INT_ABSENT: i16 = i16::MIN;
pub(crate) const INT_NULL: i16 = i16::MIN + 1;
/// Cents-column values for "absent" and `null`: below every value held,
/// so that a range of cents never takes them in.
pub(crate) const CENTS_ABSENT: i32 = i32::MIN;
pub(crate) const CENTS_NULL: i32 = i32::MIN + 1;
/// Byte-steps-column bytes for `null` and "absent"; step counts use the
/// rest ([`AttrData::ByteSteps`]).
pub(crate) const BYTE_NULL: u8 = 254;
pub(crate) const BYTE_ABSENT: u8 = 255;
/// Boolean-column bytes.
const BOOL_FALSE: u8 = 0;
const BOOL_TRUE: u8 = 1;
const BOOL_ABSENT: u8 = 2;
const BOOL_NULL: u8 = 3;

/// A column's storage, borrowed (see [`AttrColumn::stored`]).
pub(crate) enum Stored<'a> {
    /// Dictionary codes; in each width the largest value is "absent" and
    /// the one below it `null`.
    Codes8(&'a [u8]),
    Codes16(&'a [u16]),
    Codes32(&'a [u32]),
    /// Numbers; "absent" and `null` are [`NUM_ABSENT`] and [`NUM_NULL`].
    Numbers(&'a [f64]),
    /// Integers; "absent" and `null` are [`INT_ABSENT`] and [`INT_NULL`].
    Integers(&'a [i16]),
    /// Hundredths (the number is `c / 100`, see [`cents_value`]); "absent"
    /// and `null` are [`CENTS_ABSENT`] and [`CENTS_NULL`].
    Cents(&'a [i32]),
    /// Whole steps of the second value's hundredths (the number is
    /// `cents_value(k * step)`); "absent" and `null` are [`INT_ABSENT`]
    /// and [`INT_NULL`].
    Steps(&'a [i16], i32),
    /// Step counts in a byte: `(bytes, base, step)`, the number being
    /// [`byte_steps_value`]; `null` and "absent" are [`BYTE_NULL`] and
    /// [`BYTE_ABSENT`].
    ByteSteps(&'a [u8], i32, i32),
    /// Booleans: `false` 0, `true` 1, "absent" 2, `null` 3.
    Bools(&'a [u8]),
    /// Per-row strings ([`AttrData::RowStrings`]): read through
    /// [`AttrColumn::cell`].
    RowStrings,
    Mixed,
}

#[derive(Debug, Clone)]
enum AttrData {
    Text(Codes),
    Number(Vec<f64>),
    /// Numbers while every one fits [`as_integer`].
    Integer(Vec<i16>),
    /// Numbers while every one fits [`as_cents`] (and not all
    /// [`as_integer`]): half the bytes of `f64` for prices and amounts.
    Cents(Vec<i32>),
    /// Numbers that were all whole multiples of `step` hundredths, with
    /// each multiple within [`i16`] (prices in whole quarters or whole
    /// units), as those multiples: half the bytes of cents. Chosen at a
    /// merge ([`as_steps`]); a later number that is not such a multiple
    /// turns the column back into cents (or wider).
    Steps {
        step: i32,
        v: Vec<i16>,
    },
    /// Numbers that took at most 254 values, evenly spaced or not, on a
    /// grid of `step` hundredths from `base` hundredths (the least): each
    /// row holds its count of steps from the base in a byte (a rating, a
    /// quantity, a count of search results). Chosen at a merge
    /// ([`as_byte_steps`]); a number off the grid or past 253 steps turns
    /// the column into cents (or wider). A test reads it as it reads
    /// one-byte codes: a verdict per byte value.
    ByteSteps {
        base: i32,
        step: i32,
        v: Vec<u8>,
    },
    Bool(Vec<u8>),
    Mixed(Vec<Cell>),
    /// One string per row, in the column's dictionary, which is then a
    /// [`Dictionary::per_row`]: row `r`'s code is `r`, so no code is
    /// stored, and no look-up by string is kept. A nearly unique attribute
    /// (a session or order id per event) costs its bytes and their end
    /// this way, against a code, its bytes, their end and ~5.5 bytes of
    /// look-up as distinct strings ([`holds_rows_better`]). A row without
    /// a string holds an empty one in the dictionary and is listed here.
    RowStrings {
        absent: RoaringBitmap,
        null: RoaringBitmap,
    },
}

/// The fewest distinct strings a text column holds before it may keep one
/// string per row instead ([`holds_rows_better`]): below it, the savings
/// are small and a column stays as it was built.
pub(crate) const MIN_ROW_STRINGS: usize = 4096;

/// Look-up bytes a distinct string costs in a dictionary beside its bytes
/// and its end: its settled code and tag, and their bucket's share
/// ([`crate::settled`]).
const LOOKUP_BYTES_PER_STRING: f64 = 5.5;

/// Bytes of a distinct string's end in the arena (packed ends, see
/// [`Dictionary`]).
const END_BYTES_PER_STRING: f64 = 2.125;

/// Bytes of a per-row string's end: its length in a byte, and a share of
/// its run's start.
const ROW_END_BYTES_PER_STRING: f64 = 1.125;

/// Whether a text column of `rows` rows over `dict` (codes as wide as its
/// size needs) takes fewer bytes as one string per row
/// ([`AttrData::RowStrings`]). At least half the rows must hold distinct
/// strings, too: a text test then reads at most twice the strings it
/// would as distinct ones.
fn holds_rows_better(dict: &Dictionary, rows: usize) -> bool {
    let distinct = dict.len();
    if distinct < MIN_ROW_STRINGS || distinct * 2 < rows {
        return false;
    }
    let average = dict.arena_len() as f64 / distinct as f64;
    let code_bytes = match distinct {
        d if d < usize::from(u8::MAX) => 1.0,
        d if d < usize::from(u16::MAX) => 2.0,
        _ => 4.0,
    };
    let as_rows = rows as f64 * (average + ROW_END_BYTES_PER_STRING);
    let as_distinct = rows as f64 * code_bytes
        + distinct as f64 * (average + END_BYTES_PER_STRING + LOOKUP_BYTES_PER_STRING);
    as_rows < as_distinct
}

/// All values of one attribute across the partition's rows.
#[derive(Debug, Clone)]
pub struct AttrColumn {
    data: AttrData,
    pub dict: Dictionary,
}

/// Which JSON types a column holds (the catalog's "types").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindsPresent {
    pub null: bool,
    pub string: bool,
    pub number: bool,
    pub boolean: bool,
}

impl KindsPresent {
    fn add(&mut self, cell: Cell) {
        match cell {
            Cell::Absent => {}
            Cell::Null => self.null = true,
            Cell::Str(_) => self.string = true,
            Cell::Num(_) => self.number = true,
            Cell::Bool(_) => self.boolean = true,
        }
    }
}

/// `x` as a stored integer, when that is exact (the bits round-trip, so
/// `-0.0` does not fit) and not one of the reserved values.
fn as_integer(x: f64) -> Option<i16> {
    let i = x as i16;
    (i > INT_NULL && f64::from(i).to_bits() == x.to_bits()).then_some(i)
}

/// `x` as a whole number of hundredths `c`, when `c / 100` gives `x`
/// back exactly (the bits round-trip, so `-0.0` does not fit; `0.1`,
/// which is not exactly a tenth in binary, fits as 10 because `10 / 100`
/// rounds to the same `f64`) and `c` is not one of the reserved values.
pub(crate) fn as_cents(x: f64) -> Option<i32> {
    let scaled = (x * 100.0).round();
    // Also refuses NaN and the infinities (every comparison with NaN fails).
    if !(scaled > f64::from(CENTS_NULL) && scaled <= f64::from(i32::MAX)) {
        return None;
    }
    let c = scaled as i32;
    (cents_value(c).to_bits() == x.to_bits()).then_some(c)
}

/// The number `c` hundredths stand for: `c / 100` correctly rounded, the
/// one definition every reader of a cents column uses.
#[inline(always)]
pub(crate) fn cents_value(c: i32) -> f64 {
    f64::from(c) / 100.0
}

/// A number column's row, as [`as_byte_steps`] reads it.
#[derive(Clone, Copy)]
enum Slot {
    Absent,
    Null,
    Cents(i32),
}

/// A number column of `len` rows (`slot(r)` being row `r`) as counts of
/// steps from the least number in a byte ([`AttrData::ByteSteps`]): the
/// step is the greatest common divisor of every number's distance from
/// the least, in hundredths, and the greatest must be at most 253 steps
/// away. `None` if it is further, or no row holds a number.
fn as_byte_steps(len: usize, slot: impl Fn(usize) -> Slot) -> Option<AttrData> {
    let (mut lo, mut hi) = (i32::MAX, i32::MIN);
    for r in 0..len {
        if let Slot::Cents(c) = slot(r) {
            lo = lo.min(c);
            hi = hi.max(c);
        }
    }
    if lo > hi {
        return None;
    }
    let above = |c: i32| (i64::from(c) - i64::from(lo)) as u64;
    let step = (0..len).fold(0u64, |g, r| match slot(r) {
        Slot::Cents(c) => gcd(g, above(c)),
        _ => g,
    });
    let step = step.max(1);
    if above(hi) / step > u64::from(BYTE_NULL - 1) {
        return None;
    }
    let step = i32::try_from(step).ok()?;
    let mut v = Vec::with_capacity(len);
    for r in 0..len {
        v.push(match slot(r) {
            Slot::Absent => BYTE_ABSENT,
            Slot::Null => BYTE_NULL,
            Slot::Cents(c) => (above(c) / step as u64) as u8,
        });
    }
    Some(AttrData::ByteSteps { base: lo, step, v })
}

/// The number `k` steps of `step` hundredths from `base` hundredths stand
/// for (as [`cents_value`] reads those hundredths; computed wide, so that
/// any byte value has one).
#[inline(always)]
pub(crate) fn byte_steps_value(k: u8, base: i32, step: i32) -> f64 {
    (i64::from(base) + i64::from(k) * i64::from(step)) as f64 / 100.0
}

/// `c` hundredths as a count of `step`s from `base`, if it is a whole one
/// that fits a byte beside the reserved values.
fn in_byte_steps(c: i32, base: i32, step: i32) -> Option<u8> {
    let above = i64::from(c) - i64::from(base);
    if above < 0 || above % i64::from(step) != 0 {
        return None;
    }
    u8::try_from(above / i64::from(step))
        .ok()
        .filter(|k| *k < BYTE_NULL)
}

/// `cents` (a cents column's values) as whole steps of their greatest
/// common divisor, if every step count fits [`i16`] beside the reserved
/// values (and some row holds a number).
fn as_steps(cents: &[i32]) -> Option<(i32, Vec<i16>)> {
    let step = cents
        .iter()
        .filter(|c| **c > CENTS_NULL)
        .fold(0u64, |g, c| gcd(g, c.unsigned_abs().into()));
    let step = i32::try_from(step).ok().filter(|s| *s > 0)?;
    // Sized up front: collecting through `Option` would grow it by
    // doubling, up to twice the room.
    let mut v = Vec::with_capacity(cents.len());
    for &c in cents {
        v.push(match c {
            CENTS_ABSENT => INT_ABSENT,
            CENTS_NULL => INT_NULL,
            c => in_steps(c, step)?,
        });
    }
    Some((step, v))
}

/// `c` hundredths as a whole number of `step`s, if it is one and fits
/// [`i16`] beside the reserved values.
#[inline]
fn in_steps(c: i32, step: i32) -> Option<i16> {
    if c % step != 0 {
        return None;
    }
    i16::try_from(c / step).ok().filter(|k| *k > INT_NULL)
}

/// The number `k` steps of `step` hundredths stand for.
#[inline(always)]
pub(crate) fn steps_value(k: i16, step: i32) -> f64 {
    cents_value(i32::from(k) * step)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The kind of column a value belongs in; `None` fits every kind.
fn kind_of(cell: Cell) -> Option<u8> {
    match cell {
        Cell::Absent | Cell::Null => None,
        Cell::Str(_) => Some(0),
        Cell::Num(_) => Some(1),
        Cell::Bool(_) => Some(2),
    }
}

impl AttrColumn {
    /// A column of `rows` absent values, typed for `first` (the value about
    /// to be set).
    pub fn new(rows: usize, first: Cell) -> AttrColumn {
        let data = match (kind_of(first), first) {
            (Some(1), Cell::Num(x)) if as_integer(x).is_some() => {
                AttrData::Integer(vec![INT_ABSENT; rows])
            }
            (Some(1), Cell::Num(x)) if as_cents(x).is_some() => {
                AttrData::Cents(vec![CENTS_ABSENT; rows])
            }
            (Some(1), _) => AttrData::Number(vec![f64::from_bits(NUM_ABSENT); rows]),
            (Some(2), _) => AttrData::Bool(vec![BOOL_ABSENT; rows]),
            _ => AttrData::Text(Codes::U8(vec![u8::ABSENT; rows])),
        };
        AttrColumn {
            data,
            dict: Dictionary::default(),
        }
    }

    pub fn len(&self) -> usize {
        match &self.data {
            AttrData::Text(c) => c.len(),
            AttrData::Number(v) => v.len(),
            AttrData::Integer(v) => v.len(),
            AttrData::Cents(v) => v.len(),
            AttrData::Steps { v, .. } => v.len(),
            AttrData::ByteSteps { v, .. } => v.len(),
            AttrData::Bool(v) => v.len(),
            AttrData::Mixed(v) => v.len(),
            AttrData::RowStrings { .. } => self.dict.len(),
        }
    }

    /// Whether the column holds one string per row
    /// ([`AttrData::RowStrings`]).
    pub fn holds_row_strings(&self) -> bool {
        matches!(self.data, AttrData::RowStrings { .. })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes one row's value takes (none for per-row strings, whose code
    /// is the row).
    pub fn cell_bytes(&self) -> usize {
        match &self.data {
            AttrData::RowStrings { .. } => 0,
            AttrData::Text(Codes::U8(_)) | AttrData::Bool(_) | AttrData::ByteSteps { .. } => 1,
            AttrData::Text(Codes::U16(_)) | AttrData::Integer(_) | AttrData::Steps { .. } => 2,
            AttrData::Text(Codes::U32(_)) | AttrData::Cents(_) => 4,
            AttrData::Number(_) => 8,
            AttrData::Mixed(_) => std::mem::size_of::<Cell>(),
        }
    }

    /// Asks the CPU to start loading row `row`'s value (a hint: it reads
    /// nothing into the program and never faults).
    #[inline]
    pub fn prefetch(&self, row: usize) {
        fn slot<T>(values: &[T], row: usize) {
            if let Some(value) = values.get(row) {
                crate::events::prefetch(value);
            }
        }
        match &self.data {
            AttrData::Text(Codes::U8(v)) => slot(v, row),
            AttrData::Text(Codes::U16(v)) => slot(v, row),
            AttrData::Text(Codes::U32(v)) => slot(v, row),
            AttrData::Number(v) => slot(v, row),
            AttrData::Integer(v) => slot(v, row),
            AttrData::Cents(v) => slot(v, row),
            AttrData::Steps { v, .. } => slot(v, row),
            AttrData::ByteSteps { v, .. } => slot(v, row),
            AttrData::Bool(v) => slot(v, row),
            AttrData::Mixed(v) => slot(v, row),
            AttrData::RowStrings { .. } => self.dict.prefetch_end(row as u32),
        }
    }

    /// The column's cells as stored, for loops that test many rows without
    /// decoding each into a [`Cell`].
    pub(crate) fn stored(&self) -> Stored<'_> {
        match &self.data {
            AttrData::Text(Codes::U8(v)) => Stored::Codes8(v),
            AttrData::Text(Codes::U16(v)) => Stored::Codes16(v),
            AttrData::Text(Codes::U32(v)) => Stored::Codes32(v),
            AttrData::Number(v) => Stored::Numbers(v),
            AttrData::Integer(v) => Stored::Integers(v),
            AttrData::Cents(v) => Stored::Cents(v),
            AttrData::Steps { step, v } => Stored::Steps(v, *step),
            AttrData::ByteSteps { base, step, v } => Stored::ByteSteps(v, *base, *step),
            AttrData::Bool(v) => Stored::Bools(v),
            AttrData::Mixed(_) => Stored::Mixed,
            AttrData::RowStrings { .. } => Stored::RowStrings,
        }
    }

    /// The value of a row.
    #[inline]
    pub fn cell(&self, row: u32) -> Cell {
        let r = row as usize;
        match &self.data {
            AttrData::Text(c) => match c.get(r) {
                CODE_ABSENT => Cell::Absent,
                CODE_NULL => Cell::Null,
                code => Cell::Str(code),
            },
            AttrData::Number(v) => {
                let x = v[r];
                match x.to_bits() {
                    NUM_ABSENT => Cell::Absent,
                    NUM_NULL => Cell::Null,
                    _ => Cell::Num(x),
                }
            }
            AttrData::Integer(v) => match v[r] {
                INT_ABSENT => Cell::Absent,
                INT_NULL => Cell::Null,
                i => Cell::Num(f64::from(i)),
            },
            AttrData::Cents(v) => match v[r] {
                CENTS_ABSENT => Cell::Absent,
                CENTS_NULL => Cell::Null,
                c => Cell::Num(cents_value(c)),
            },
            AttrData::Steps { step, v } => match v[r] {
                INT_ABSENT => Cell::Absent,
                INT_NULL => Cell::Null,
                k => Cell::Num(steps_value(k, *step)),
            },
            AttrData::ByteSteps { base, step, v } => match v[r] {
                BYTE_ABSENT => Cell::Absent,
                BYTE_NULL => Cell::Null,
                k => Cell::Num(byte_steps_value(k, *base, *step)),
            },
            AttrData::Bool(v) => match v[r] {
                BOOL_FALSE => Cell::Bool(false),
                BOOL_TRUE => Cell::Bool(true),
                BOOL_NULL => Cell::Null,
                _ => Cell::Absent,
            },
            AttrData::Mixed(v) => v[r],
            AttrData::RowStrings { absent, null } => {
                // A row without a string holds an empty one: a non-empty
                // one is read from its end alone, without the bitmaps.
                if !self.dict.is_empty_at(row) {
                    Cell::Str(row)
                } else if !absent.is_empty() && absent.contains(row) {
                    Cell::Absent
                } else if !null.is_empty() && null.contains(row) {
                    Cell::Null
                } else {
                    Cell::Str(row)
                }
            }
        }
    }

    /// The JSON types present in the column: a typed column holds its own
    /// type and possibly `null`, so one pass over its plain values answers.
    pub fn kinds_present(&self) -> KindsPresent {
        let mut k = KindsPresent::default();
        match &self.data {
            AttrData::Text(codes) => {
                for row in 0..codes.len() {
                    match codes.get(row) {
                        CODE_ABSENT => {}
                        CODE_NULL => k.null = true,
                        _ => k.string = true,
                    }
                    if k.null && k.string {
                        break;
                    }
                }
            }
            AttrData::Number(v) => {
                k.number = v.iter().any(|x| !x.is_nan());
                k.null = v.iter().any(|x| x.to_bits() == NUM_NULL);
            }
            AttrData::Integer(v) => {
                k.number = v.iter().any(|i| *i > INT_NULL);
                k.null = v.contains(&INT_NULL);
            }
            AttrData::Cents(v) => {
                k.number = v.iter().any(|c| *c > CENTS_NULL);
                k.null = v.contains(&CENTS_NULL);
            }
            AttrData::Steps { v, .. } => {
                k.number = v.iter().any(|i| *i > INT_NULL);
                k.null = v.contains(&INT_NULL);
            }
            AttrData::ByteSteps { v, .. } => {
                k.number = v.iter().any(|b| *b < BYTE_NULL);
                k.null = v.contains(&BYTE_NULL);
            }
            AttrData::Bool(v) => {
                k.boolean = v.iter().any(|b| *b <= BOOL_TRUE);
                k.null = v.contains(&BOOL_NULL);
            }
            AttrData::Mixed(cells) => cells.iter().for_each(|c| k.add(*c)),
            AttrData::RowStrings { absent, null } => {
                k.null = !null.is_empty();
                k.string = absent.len() + null.len() < self.dict.len() as u64;
            }
        }
        k
    }

    /// The number of a row, if it holds one (aggregates). Always inlined:
    /// with the integer arm, plain `#[inline]` left `low_ratings_avg` at
    /// `large` ~8% slower (10.8–11.1 against 9.9–10.5 ms, alternating runs).
    #[inline(always)]
    pub fn number(&self, row: u32) -> Option<f64> {
        match &self.data {
            AttrData::Number(v) => {
                let x = v[row as usize];
                (!x.is_nan()).then_some(x)
            }
            AttrData::Integer(v) => {
                let i = v[row as usize];
                (i > INT_NULL).then(|| f64::from(i))
            }
            AttrData::Cents(v) => {
                let c = v[row as usize];
                (c > CENTS_NULL).then(|| cents_value(c))
            }
            AttrData::Steps { step, v } => {
                let k = v[row as usize];
                (k > INT_NULL).then(|| steps_value(k, *step))
            }
            AttrData::ByteSteps { base, step, v } => {
                let k = v[row as usize];
                (k < BYTE_NULL).then(|| byte_steps_value(k, *base, *step))
            }
            AttrData::Mixed(v) => match v[row as usize] {
                Cell::Num(x) => Some(x),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value of a row as the model's type (explain, checks).
    pub fn value(&self, row: usize) -> Option<AttrValue> {
        match self.cell(row as u32) {
            Cell::Absent => None,
            Cell::Null => Some(AttrValue::Null),
            Cell::Str(c) => Some(AttrValue::Str(self.dict.string(c).into_owned())),
            Cell::Num(n) => Some(AttrValue::Num(n)),
            Cell::Bool(b) => Some(AttrValue::Bool(b)),
        }
    }

    /// Sets row `row` to a model value. A column of per-row strings takes
    /// a string or `null` for its last row (the one being appended) as it
    /// is; anything else makes it a column of distinct strings first.
    pub fn put(&mut self, row: usize, value: &AttrValue) {
        if let AttrData::RowStrings { absent, null } = &mut self.data {
            if row + 1 == self.dict.len() {
                let row32 = row as u32;
                match value {
                    AttrValue::Str(s) => {
                        self.dict.replace_last(s);
                        absent.remove(row32);
                        null.remove(row32);
                        return;
                    }
                    AttrValue::Null => {
                        self.dict.replace_last("");
                        absent.remove(row32);
                        null.insert(row32);
                        return;
                    }
                    AttrValue::Num(_) | AttrValue::Bool(_) => {}
                }
            }
            self.leave_row_strings();
        }
        let cell = self.encode(value);
        self.set(row, cell);
    }

    /// Makes a column of per-row strings one of distinct strings (codes
    /// into a dictionary with a look-up), keeping every row's value.
    fn leave_row_strings(&mut self) {
        if !self.holds_row_strings() {
            return;
        }
        let rows = self.len();
        let cells: Vec<Cell> = (0..rows as u32).map(|r| self.cell(r)).collect();
        let strings = std::mem::take(&mut self.dict);
        let mut text = AttrColumn::new(rows, Cell::Str(0));
        for (row, cell) in cells.into_iter().enumerate() {
            let cell = match cell {
                Cell::Str(code) => Cell::Str(text.dict.intern(&strings.string(code))),
                other => other,
            };
            text.set(row, cell);
        }
        *self = text;
    }

    /// The cell for a model value, interning strings (not for a column of
    /// per-row strings: see [`put`](AttrColumn::put)).
    pub fn encode(&mut self, value: &AttrValue) -> Cell {
        match value {
            AttrValue::Null => Cell::Null,
            AttrValue::Str(s) => Cell::Str(self.dict.intern(s)),
            AttrValue::Num(n) => Cell::Num(*n),
            AttrValue::Bool(b) => Cell::Bool(*b),
        }
    }

    /// Appends one row's value.
    pub fn push(&mut self, cell: Cell) {
        let row = self.len();
        self.push_absent();
        self.set(row, cell);
    }

    /// Appends a row without a value.
    pub fn push_absent(&mut self) {
        match &mut self.data {
            AttrData::RowStrings { absent, .. } => {
                let row = self.dict.push_row("");
                absent.insert(row);
            }
            AttrData::Text(c) => c.push(CODE_ABSENT),
            AttrData::Number(v) => v.push(f64::from_bits(NUM_ABSENT)),
            AttrData::Integer(v) => v.push(INT_ABSENT),
            AttrData::Cents(v) => v.push(CENTS_ABSENT),
            AttrData::Steps { v, .. } => v.push(INT_ABSENT),
            AttrData::ByteSteps { v, .. } => v.push(BYTE_ABSENT),
            AttrData::Bool(v) => v.push(BOOL_ABSENT),
            AttrData::Mixed(v) => v.push(Cell::Absent),
        }
    }

    /// Sets an existing row's value; a value of another type than the
    /// column's retypes the column (to that type when it holds no values
    /// yet, to mixed otherwise).
    pub fn set(&mut self, row: usize, cell: Cell) {
        let stored = match (&mut self.data, cell) {
            // A row without a string must hold an empty one (`cell` reads
            // a non-empty one as a string): the last row's is replaced,
            // and an earlier row holding one retypes the column.
            (AttrData::RowStrings { absent, null }, Cell::Absent | Cell::Null) => {
                let last = row + 1 == self.dict.len();
                if last {
                    self.dict.replace_last("");
                }
                let empty = last || self.dict.is_empty_at(row as u32);
                if empty {
                    let (to, from) = match cell {
                        Cell::Null => (null, absent),
                        _ => (absent, null),
                    };
                    to.insert(row as u32);
                    from.remove(row as u32);
                }
                empty
            }
            (AttrData::RowStrings { absent, null }, Cell::Str(code)) => {
                // A row's string is where its code says: only its own.
                debug_assert_eq!(code as usize, row, "a per-row string is its row's");
                absent.remove(row as u32);
                null.remove(row as u32);
                true
            }
            (AttrData::Mixed(v), c) => {
                v[row] = c;
                true
            }
            (AttrData::Text(c), Cell::Absent) => set_code(c, row, CODE_ABSENT),
            (AttrData::Text(c), Cell::Null) => set_code(c, row, CODE_NULL),
            (AttrData::Text(c), Cell::Str(code)) => set_code(c, row, code),
            (AttrData::Number(v), Cell::Absent) => set_num(v, row, f64::from_bits(NUM_ABSENT)),
            (AttrData::Number(v), Cell::Null) => set_num(v, row, f64::from_bits(NUM_NULL)),
            (AttrData::Number(v), Cell::Num(x)) if !x.is_nan() => set_num(v, row, x),
            (AttrData::Integer(v), Cell::Absent) => set_int(v, row, INT_ABSENT),
            (AttrData::Integer(v), Cell::Null) => set_int(v, row, INT_NULL),
            (AttrData::Integer(v), Cell::Num(x)) => match as_integer(x) {
                Some(i) => set_int(v, row, i),
                None => false,
            },
            (AttrData::Cents(v), Cell::Absent) => set_cents(v, row, CENTS_ABSENT),
            (AttrData::Cents(v), Cell::Null) => set_cents(v, row, CENTS_NULL),
            (AttrData::Cents(v), Cell::Num(x)) => match as_cents(x) {
                Some(c) => set_cents(v, row, c),
                None => false,
            },
            (AttrData::Steps { v, .. }, Cell::Absent) => set_int(v, row, INT_ABSENT),
            (AttrData::Steps { v, .. }, Cell::Null) => set_int(v, row, INT_NULL),
            (AttrData::Steps { step, v }, Cell::Num(x)) => {
                match as_cents(x).and_then(|c| in_steps(c, *step)) {
                    Some(k) => set_int(v, row, k),
                    None => return self.widen_to_cents(row, cell),
                }
            }
            (AttrData::ByteSteps { v, .. }, Cell::Absent) => set_byte(v, row, BYTE_ABSENT),
            (AttrData::ByteSteps { v, .. }, Cell::Null) => set_byte(v, row, BYTE_NULL),
            (AttrData::ByteSteps { base, step, v }, Cell::Num(x)) => {
                match as_cents(x).and_then(|c| in_byte_steps(c, *base, *step)) {
                    Some(k) => set_byte(v, row, k),
                    None => return self.widen_to_cents(row, cell),
                }
            }
            (AttrData::Bool(v), Cell::Absent) => set_byte(v, row, BOOL_ABSENT),
            (AttrData::Bool(v), Cell::Null) => set_byte(v, row, BOOL_NULL),
            (AttrData::Bool(v), Cell::Bool(b)) => set_byte(v, row, u8::from(b)),
            _ => false,
        };
        if !stored {
            self.retype(row, cell);
        }
    }

    /// Turns a column of steps back into cents (every value of one is a
    /// whole number of hundredths), then sets `cell` at `row` there: a
    /// number off the steps' grid costs a pass over the column, not the
    /// rebuild through cells that [`retype`](AttrColumn::retype) is.
    fn widen_to_cents(&mut self, row: usize, cell: Cell) {
        let cents = match &self.data {
            AttrData::Steps { step, v } => v
                .iter()
                .map(|k| match *k {
                    INT_ABSENT => CENTS_ABSENT,
                    INT_NULL => CENTS_NULL,
                    k => i32::from(k) * step,
                })
                .collect(),
            AttrData::ByteSteps { base, step, v } => v
                .iter()
                .map(|k| match *k {
                    BYTE_ABSENT => CENTS_ABSENT,
                    BYTE_NULL => CENTS_NULL,
                    // A value held: a whole number of hundredths in `i32`
                    // (the product alone may not be).
                    k => (i64::from(*base) + i64::from(k) * i64::from(*step)) as i32,
                })
                .collect(),
            _ => unreachable!("only steps widen to cents"),
        };
        self.data = AttrData::Cents(cents);
        self.set(row, cell);
    }

    /// Rebuilds the column so that `cell` fits at `row`.
    fn retype(&mut self, row: usize, cell: Cell) {
        // `cell` is not a string here (a per-row string column takes its
        // own), so leaving per-row strings renames no code it holds.
        self.leave_row_strings();
        let mut cells: Vec<Cell> = (0..self.len() as u32).map(|r| self.cell(r)).collect();
        cells[row] = cell;
        let kinds: Vec<u8> = cells.iter().filter_map(|c| kind_of(*c)).collect();
        let uniform = kinds.windows(2).all(|w| w[0] == w[1]) && !cell_is_nan(cell);
        let mut rebuilt = AttrColumn {
            data: AttrData::Mixed(Vec::new()),
            dict: std::mem::take(&mut self.dict),
        };
        if uniform {
            let first = cells.iter().copied().find(|c| kind_of(*c).is_some());
            let mut typed = AttrColumn::new(cells.len(), first.unwrap_or(Cell::Absent));
            // Numbers go at once to the narrowest storage that holds them
            // all, so that no `set` below retypes the column again.
            let all_fit = |fits: fn(f64) -> bool| {
                cells
                    .iter()
                    .all(|c| !matches!(c, Cell::Num(x) if !fits(*x)))
            };
            if matches!(typed.data, AttrData::Integer(_) | AttrData::Cents(_)) {
                let rows = cells.len();
                typed.data = if all_fit(|x| as_integer(x).is_some()) {
                    AttrData::Integer(vec![INT_ABSENT; rows])
                } else if all_fit(|x| as_cents(x).is_some()) {
                    AttrData::Cents(vec![CENTS_ABSENT; rows])
                } else {
                    AttrData::Number(vec![f64::from_bits(NUM_ABSENT); rows])
                };
            }
            typed.dict = std::mem::take(&mut rebuilt.dict);
            for (r, c) in cells.iter().enumerate() {
                typed.set(r, *c);
            }
            rebuilt = typed;
        } else {
            rebuilt.data = AttrData::Mixed(cells);
        }
        *self = rebuilt;
    }

    /// Reorders the rows as `order` lists them (the dictionary of distinct
    /// strings stays). A text column that holds fewer bytes as one string
    /// per row becomes one ([`holds_rows_better`]); one already so is
    /// rebuilt in the new order, and packed if it is not yet and now pays
    /// for it ([`Dictionary::rows_from`]).
    pub fn permute(&mut self, order: &[u32]) {
        self.data = match &self.data {
            AttrData::Text(c) if holds_rows_better(&self.dict, order.len()) => {
                let (mut absent, mut null) = (RoaringBitmap::new(), RoaringBitmap::new());
                for (new, &r) in order.iter().enumerate() {
                    match c.get(r as usize) {
                        CODE_ABSENT => absent.insert(new as u32),
                        CODE_NULL => null.insert(new as u32),
                        _ => continue,
                    };
                }
                let distinct = &self.dict;
                self.dict =
                    Dictionary::rows_from(order.len(), |new| match c.get(order[new] as usize) {
                        CODE_ABSENT | CODE_NULL => "",
                        code => distinct.get(code),
                    });
                AttrData::RowStrings { absent, null }
            }
            AttrData::RowStrings { absent, null } => {
                // Packed strings are moved as they are; unpacked ones may
                // have grown enough to pay for a packer since.
                self.dict = if self.dict.is_packed() {
                    self.dict.rows_in_order(order)
                } else {
                    let unpacked = &self.dict;
                    Dictionary::rows_from(order.len(), |new| unpacked.get(order[new]))
                };
                let (mut moved_absent, mut moved_null) =
                    (RoaringBitmap::new(), RoaringBitmap::new());
                for (new, &r) in order.iter().enumerate() {
                    if absent.contains(r) {
                        moved_absent.insert(new as u32);
                    } else if null.contains(r) {
                        moved_null.insert(new as u32);
                    }
                }
                AttrData::RowStrings {
                    absent: moved_absent,
                    null: moved_null,
                }
            }
            AttrData::Text(c) => AttrData::Text(c.permute(order)),
            AttrData::Number(v) => AttrData::Number(permute(v, order)),
            AttrData::Integer(v) => {
                let v = permute(v, order);
                as_byte_steps(v.len(), |r| match v[r] {
                    INT_ABSENT => Slot::Absent,
                    INT_NULL => Slot::Null,
                    i => Slot::Cents(i32::from(i) * 100),
                })
                .unwrap_or(AttrData::Integer(v))
            }
            AttrData::Cents(v) => {
                let v = permute(v, order);
                let slot = |r: usize| match v[r] {
                    CENTS_ABSENT => Slot::Absent,
                    CENTS_NULL => Slot::Null,
                    c => Slot::Cents(c),
                };
                match as_byte_steps(v.len(), slot) {
                    Some(bytes) => bytes,
                    None => match as_steps(&v) {
                        Some((step, v)) => AttrData::Steps { step, v },
                        None => AttrData::Cents(v),
                    },
                }
            }
            AttrData::Steps { step, v } => {
                let (step, v) = (*step, permute(v, order));
                as_byte_steps(v.len(), |r| match v[r] {
                    INT_ABSENT => Slot::Absent,
                    INT_NULL => Slot::Null,
                    k => Slot::Cents(i32::from(k) * step),
                })
                .unwrap_or(AttrData::Steps { step, v })
            }
            AttrData::ByteSteps { base, step, v } => AttrData::ByteSteps {
                base: *base,
                step: *step,
                v: permute(v, order),
            },
            AttrData::Bool(v) => AttrData::Bool(permute(v, order)),
            AttrData::Mixed(v) => AttrData::Mixed(permute(v, order)),
        };
    }

    pub fn heap_bytes(&self) -> usize {
        let values = match &self.data {
            AttrData::Text(c) => c.heap_bytes(),
            AttrData::Number(v) => v.capacity() * 8,
            AttrData::Integer(v) => v.capacity() * 2,
            AttrData::Cents(v) => v.capacity() * 4,
            AttrData::Steps { v, .. } => v.capacity() * 2,
            AttrData::ByteSteps { v, .. } => v.capacity(),
            AttrData::Bool(v) => v.capacity(),
            AttrData::Mixed(v) => v.capacity() * std::mem::size_of::<Cell>(),
            AttrData::RowStrings { absent, null } => {
                absent.serialized_size() + null.serialized_size()
            }
        };
        values + self.dict.heap_bytes()
    }
}

impl AttrColumn {
    pub fn write_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        match &self.data {
            AttrData::Text(codes) => {
                // The codes' own layout (a width tag, then the codes), as
                // text fields write theirs.
                w.u8(0)?;
                codes.write_to(w)?;
            }
            AttrData::Number(v) => {
                w.u8(3)?;
                w.slice(v)?;
            }
            AttrData::Bool(v) => {
                w.u8(4)?;
                w.slice(v)?;
            }
            AttrData::Integer(v) => {
                w.u8(6)?;
                w.slice(v)?;
            }
            AttrData::Cents(v) => {
                w.u8(7)?;
                w.slice(v)?;
            }
            AttrData::Steps { step, v } => {
                w.u8(9)?;
                w.u32(*step as u32)?;
                w.slice(v)?;
            }
            AttrData::ByteSteps { base, step, v } => {
                w.u8(10)?;
                w.u32(*base as u32)?;
                w.u32(*step as u32)?;
                w.slice(v)?;
            }
            AttrData::RowStrings { absent, null } => {
                w.u8(8)?;
                w.bitmap(absent)?;
                w.bitmap(null)?;
            }
            AttrData::Mixed(cells) => {
                w.u8(5)?;
                w.u64(cells.len() as u64)?;
                for c in cells {
                    match c {
                        Cell::Absent => w.u8(0)?,
                        Cell::Null => w.u8(1)?,
                        Cell::Str(code) => {
                            w.u8(2)?;
                            w.u32(*code)?;
                        }
                        Cell::Num(x) => {
                            w.u8(3)?;
                            w.f64(*x)?;
                        }
                        Cell::Bool(b) => w.u8(4 + u8::from(*b))?,
                    }
                }
            }
        }
        if self.holds_row_strings() {
            self.dict.write_rows_to(w)
        } else {
            self.dict.write_to(w)
        }
    }

    pub fn read_from<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<AttrColumn> {
        let data = match r.u8()? {
            0 => AttrData::Text(Codes::read_from(r)?),
            3 => AttrData::Number(r.vec()?),
            4 => AttrData::Bool(r.vec()?),
            6 => AttrData::Integer(r.vec()?),
            7 => AttrData::Cents(r.vec()?),
            9 => {
                let step = i32::try_from(r.u32()?)
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| invalid("a number column's step out of range"))?;
                let v: Vec<i16> = r.vec()?;
                // Every step count must stand for a whole number of
                // hundredths within `i32` (`steps_value` multiplies).
                if v.iter()
                    .any(|k| *k > INT_NULL && i32::from(*k).checked_mul(step).is_none())
                {
                    return Err(invalid("a number column's value out of range"));
                }
                AttrData::Steps { step, v }
            }
            10 => {
                let base = r.u32()? as i32;
                let step = i32::try_from(r.u32()?)
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| invalid("a number column's step out of range"))?;
                let v: Vec<u8> = r.vec()?;
                // Every step count held must stand for hundredths within
                // `i32` (`widen_to_cents` adds in `i32`).
                let most = v.iter().filter(|k| **k < BYTE_NULL).max().copied();
                if most.is_some_and(|k| {
                    i32::try_from(i64::from(base) + i64::from(k) * i64::from(step)).is_err()
                }) {
                    return Err(invalid("a number column's value out of range"));
                }
                AttrData::ByteSteps { base, step, v }
            }
            8 => AttrData::RowStrings {
                absent: r.bitmap()?,
                null: r.bitmap()?,
            },
            5 => {
                let n = r.u64()?;
                let mut cells = Vec::new();
                for _ in 0..n {
                    cells.push(match r.u8()? {
                        0 => Cell::Absent,
                        1 => Cell::Null,
                        2 => Cell::Str(r.u32()?),
                        3 => Cell::Num(r.f64()?),
                        4 => Cell::Bool(false),
                        5 => Cell::Bool(true),
                        _ => return Err(invalid("an unknown attribute cell")),
                    });
                }
                AttrData::Mixed(cells)
            }
            _ => return Err(invalid("an unknown attribute column type")),
        };
        let column = match data {
            AttrData::RowStrings { absent, null } => {
                let dict = Dictionary::read_rows_from(r)?;
                let rows = dict.len() as u64;
                if absent.max().is_some_and(|m| u64::from(m) >= rows)
                    || null.max().is_some_and(|m| u64::from(m) >= rows)
                {
                    return Err(invalid("a row without a string past the column's end"));
                }
                AttrColumn {
                    data: AttrData::RowStrings { absent, null },
                    dict,
                }
            }
            data => AttrColumn {
                data,
                dict: Dictionary::read_from(r)?,
            },
        };
        // Every string code must name a dictionary entry (`get` indexes it).
        let strings = column.dict.len() as u32;
        let in_range = (0..column.len() as u32).all(|row| match column.cell(row) {
            Cell::Str(code) => code < strings,
            _ => true,
        });
        if !in_range {
            return Err(invalid("an attribute code outside its dictionary"));
        }
        Ok(column)
    }
}

fn cell_is_nan(cell: Cell) -> bool {
    matches!(cell, Cell::Num(x) if x.is_nan())
}

fn set_code(c: &mut Codes, row: usize, code: u32) -> bool {
    c.set(row, code);
    true
}

fn set_num(v: &mut [f64], row: usize, x: f64) -> bool {
    v[row] = x;
    true
}

fn set_int(v: &mut [i16], row: usize, i: i16) -> bool {
    v[row] = i;
    true
}

fn set_cents(v: &mut [i32], row: usize, c: i32) -> bool {
    v[row] = c;
    true
}

fn set_byte(v: &mut [u8], row: usize, b: u8) -> bool {
    v[row] = b;
    true
}

/// `values` reordered as `order` lists their rows.
pub fn permute<T: Copy>(values: &[T], order: &[u32]) -> Vec<T> {
    order.iter().map(|r| values[*r as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(c: &AttrColumn) -> Vec<Cell> {
        (0..c.len() as u32).map(|r| c.cell(r)).collect()
    }

    #[test]
    fn typed_columns_keep_absent_null_and_values_apart() {
        let mut c = AttrColumn::new(2, Cell::Num(1.0));
        c.set(1, Cell::Num(2.5));
        c.push(Cell::Null);
        c.push(Cell::Num(-0.0));
        assert_eq!(
            cells(&c),
            [Cell::Absent, Cell::Num(2.5), Cell::Null, Cell::Num(-0.0)]
        );
        assert_eq!(c.number(1), Some(2.5));
        assert_eq!(c.number(2), None);
        let mut b = AttrColumn::new(1, Cell::Bool(false));
        b.push(Cell::Bool(false));
        b.push(Cell::Bool(true));
        b.push(Cell::Null);
        assert_eq!(
            cells(&b),
            [
                Cell::Absent,
                Cell::Bool(false),
                Cell::Bool(true),
                Cell::Null
            ]
        );
    }

    /// A cents column whose numbers are whole multiples of one step (a
    /// price in quarters) becomes two bytes a row at a merge, keeping
    /// every value, absent and `null`, through appends and a snapshot;
    /// a number that is not such a multiple, or too many steps, turns it
    /// back into cents. Numbers that share no step wider than a cent,
    /// but fit `i16` as cents, take a step of one.
    #[test]
    fn multiples_of_a_step_take_two_bytes_after_a_merge() {
        let quarters = [5.0, 499.75, 0.25, -8_191.5, 8_191.75, 200.0];
        let cells = |xs: &[f64]| -> Vec<Cell> {
            xs.iter()
                .flat_map(|x| [Cell::Num(*x), Cell::Null, Cell::Absent])
                .collect()
        };
        let column_of = |cells: &[Cell]| {
            let mut c = AttrColumn::new(0, cells[0]);
            for cell in cells {
                c.push(*cell);
            }
            c
        };
        let values = |c: &AttrColumn| (0..c.len() as u32).map(|r| c.cell(r)).collect::<Vec<_>>();
        let want = cells(&quarters);
        let mut c = column_of(&want);
        assert!(matches!(c.data, AttrData::Cents(_)));
        let order: Vec<u32> = (0..want.len() as u32).rev().collect();
        c.permute(&order);
        let mut want: Vec<Cell> = want.into_iter().rev().collect();
        assert!(matches!(c.data, AttrData::Steps { step: 25, .. }));
        assert_eq!(c.cell_bytes(), 2);
        assert_eq!(values(&c), want);
        assert_eq!(c.number(want.len() as u32 - 1), Some(5.0));
        assert_eq!(c.number(want.len() as u32 - 2), None, "null");
        let k = c.kinds_present();
        assert!(k.number && k.null && !k.string);

        // Appends that are multiples stay; the snapshot keeps the step.
        for cell in [Cell::Num(1.5), Cell::Null, Cell::Absent, Cell::Num(-0.25)] {
            c.push(cell);
            want.push(cell);
        }
        assert!(matches!(c.data, AttrData::Steps { step: 25, .. }));
        let mut written = Vec::new();
        c.write_to(&mut Writer(&mut written)).unwrap();
        let back = AttrColumn::read_from(&mut Reader(&written[..])).unwrap();
        assert!(matches!(back.data, AttrData::Steps { step: 25, .. }));
        assert_eq!(values(&back), want);

        // A cent off the step, or a multiple past `i16`, widens to cents.
        for wide in [0.1, 8_192.0, -8_191.75] {
            let mut c = back.clone();
            c.push(Cell::Num(wide));
            let mut want = want.clone();
            want.push(Cell::Num(wide));
            assert!(matches!(c.data, AttrData::Cents(_)), "{wide}");
            assert_eq!(values(&c), want, "{wide}");
        }

        // Cents with no common step but within `i16`: a step of one.
        let mut c = column_of(&cells(&[0.01, 327.67, -327.66, 19.99]));
        c.permute(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert!(matches!(c.data, AttrData::Steps { step: 1, .. }));
        assert_eq!(values(&c), cells(&[0.01, 327.67, -327.66, 19.99]));
        // Past it: cents stay.
        let mut c = column_of(&cells(&[0.01, 327.68, -327.66, 19.99]));
        c.permute(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert!(matches!(c.data, AttrData::Cents(_)));

        // A damaged snapshot whose steps overflow hundredths is refused.
        let mut bad = Vec::new();
        let mut w = Writer(&mut bad);
        w.u8(9).unwrap();
        w.u32(1 << 20).unwrap();
        w.slice(&[i16::MAX]).unwrap();
        Dictionary::default().write_to(&mut w).unwrap();
        assert!(AttrColumn::read_from(&mut Reader(&bad[..])).is_err());
    }

    /// Numbers that take few values on a grid (ratings, counts, a few
    /// prices) become a byte a row at a merge, whatever their width
    /// before, keeping every value, absent and `null`, through appends
    /// on the grid and a snapshot; one off the grid or past 253 steps
    /// widens the column to cents (or to `f64`) keeping every value.
    #[test]
    fn few_numbers_on_a_grid_take_a_byte_after_a_merge() {
        let cells = |xs: &[f64]| -> Vec<Cell> {
            xs.iter()
                .flat_map(|x| [Cell::Num(*x), Cell::Null, Cell::Absent])
                .collect()
        };
        let values = |c: &AttrColumn| (0..c.len() as u32).map(|r| c.cell(r)).collect::<Vec<_>>();
        let merged = |want: &[Cell]| {
            let mut c = AttrColumn::new(0, want[0]);
            for cell in want {
                c.push(*cell);
            }
            c.permute(&(0..want.len() as u32).collect::<Vec<_>>());
            c
        };
        // (numbers, the least in hundredths, the step in hundredths)
        let grids: [(&[f64], i32, i32); 5] = [
            (&[1.0, 5.0, 3.0, 2.0, 4.0], 100, 100),
            (&[0.0, 200.0, 17.0, 199.0], 0, 100),
            (&[-1.5, 0.0, 0.25, 60.0], -150, 25),
            (&[19.99, 29.99, 9.99], 999, 1000),
            (&[-21_474_836.46, 0.01], -2_147_483_646, i32::MAX),
        ];
        for (xs, least, grid) in grids {
            let want = cells(xs);
            let mut c = merged(&want);
            let AttrData::ByteSteps { base, step, .. } = c.data else {
                panic!("{xs:?} in a byte, not {:?}", c.data)
            };
            assert_eq!((base, step), (least, grid), "{xs:?}");
            assert_eq!(c.cell_bytes(), 1);
            assert_eq!(values(&c), want, "{xs:?}");
            assert_eq!(c.number(0), Some(xs[0]));
            assert_eq!(c.number(1), None, "null");
            let k = c.kinds_present();
            assert!(k.number && k.null && !k.string);

            // On the grid: kept in a byte, and through a snapshot.
            let mut want = want.clone();
            for cell in [Cell::Num(xs[1]), Cell::Null, Cell::Absent] {
                c.push(cell);
                want.push(cell);
            }
            assert!(matches!(c.data, AttrData::ByteSteps { .. }));
            let mut written = Vec::new();
            c.write_to(&mut Writer(&mut written)).unwrap();
            let back = AttrColumn::read_from(&mut Reader(&written[..])).unwrap();
            assert!(matches!(back.data, AttrData::ByteSteps { .. }));
            assert_eq!(values(&back), want, "{xs:?}");

            // Off the grid, below the least, 254 steps up, or no cents.
            let off = [
                f64::from(least + grid / 2 + 1) / 100.0,
                f64::from(least) / 100.0 - 0.01,
                (f64::from(least) + 254.0 * f64::from(grid)) / 100.0,
                0.001,
            ];
            for x in off {
                let mut c = back.clone();
                c.push(Cell::Num(x));
                let mut want = want.clone();
                want.push(Cell::Num(x));
                assert!(!matches!(c.data, AttrData::ByteSteps { .. }), "{x}");
                assert_eq!(values(&c), want, "{xs:?} then {x}");
            }
        }
        // 255 values on a grid do not fit a byte (nor do none).
        let many: Vec<f64> = (0..255).map(f64::from).collect();
        assert!(matches!(merged(&cells(&many)).data, AttrData::Integer(_)));
        let few: Vec<f64> = (0..254).map(f64::from).collect();
        assert!(matches!(
            merged(&cells(&few)).data,
            AttrData::ByteSteps { .. }
        ));
        let nothing = [Cell::Null, Cell::Absent];
        let mut c = AttrColumn::new(0, Cell::Num(1.0));
        for cell in nothing {
            c.push(cell);
        }
        c.permute(&[1, 0]);
        assert!(matches!(c.data, AttrData::Integer(_)));
        assert_eq!(values(&c), [Cell::Absent, Cell::Null]);
    }

    /// Integers take 2 bytes until a number does not fit; then the column
    /// becomes hundredths (4 bytes) if every number is a whole number of
    /// them, else `f64`, once, keeping every value, absent and `null`;
    /// hundredths become `f64` at the first number that is not.
    #[test]
    fn integers_stay_narrow_until_a_number_does_not_fit() {
        let cents = [2.5, 40_000.0, -32_767.0, 0.1, 19.99, -21_474_836.46];
        let doubles = [-0.0, 1e300, 0.001, 21_474_836.48, f64::INFINITY];
        for (wide, bytes) in cents.iter().map(|x| (*x, 4)).chain(doubles.map(|x| (x, 8))) {
            let mut c = AttrColumn::new(1, Cell::Num(3.0));
            c.set(0, Cell::Num(3.0));
            for cell in [
                Cell::Num(5.0),
                Cell::Null,
                Cell::Absent,
                Cell::Num(-32_766.0),
            ] {
                c.push(cell);
            }
            c.push(Cell::Num(32_767.0));
            assert!(matches!(c.data, AttrData::Integer(_)), "{wide}");
            assert_eq!(c.cell_bytes(), 2);
            assert_eq!(c.number(2), None, "null");
            assert_eq!(c.number(4), Some(-32_766.0));
            let k = c.kinds_present();
            assert!(k.number && k.null && !k.string);
            let mut written = Vec::new();
            c.write_to(&mut Writer(&mut written)).unwrap();
            let back = AttrColumn::read_from(&mut Reader(&written[..])).unwrap();
            assert_eq!(cells(&back), cells(&c));
            c.push(Cell::Num(wide));
            assert_eq!(c.cell_bytes(), bytes, "{wide}");
            let mut want = vec![3.0, 5.0, f64::NAN, f64::NAN, -32_766.0, 32_767.0, wide];
            let check = |c: &AttrColumn, want: &[f64]| {
                let got: Vec<Cell> = cells(c);
                assert_eq!(got[2], Cell::Null);
                assert_eq!(got[3], Cell::Absent);
                for (i, x) in want.iter().enumerate().filter(|(_, x)| !x.is_nan()) {
                    assert_eq!(
                        c.number(i as u32).map(f64::to_bits),
                        Some(x.to_bits()),
                        "{wide}: row {i}"
                    );
                }
                let k = c.kinds_present();
                assert!(k.number && k.null && !k.string);
                let mut written = Vec::new();
                c.write_to(&mut Writer(&mut written)).unwrap();
                let back = AttrColumn::read_from(&mut Reader(&written[..])).unwrap();
                assert_eq!(back.cell_bytes(), c.cell_bytes());
                assert_eq!(cells(&back), got);
            };
            check(&c, &want);
            // One more number that is no whole hundredth: `f64` from here.
            c.push(Cell::Num(0.125));
            want.push(0.125);
            assert_eq!(c.cell_bytes(), 8, "{wide}");
            check(&c, &want);
        }
    }

    /// A column whose first number is a hundredth starts as hundredths.
    #[test]
    fn hundredths_are_exact_or_refused() {
        let c = AttrColumn::new(3, Cell::Num(0.3));
        assert_eq!(c.cell_bytes(), 4);
        for x in [0.3, 0.07, 1.1, -99.99, 1234.56, 0.0, 42.0] {
            let cents = as_cents(x).unwrap_or_else(|| panic!("{x}"));
            assert_eq!(cents_value(cents).to_bits(), x.to_bits(), "{x}");
        }
        for x in [
            0.005,
            1.0 / 3.0,
            -0.0,
            f64::NAN,
            f64::NEG_INFINITY,
            3e10,
            -21_474_836.47,
        ] {
            assert_eq!(as_cents(x), None, "{x}");
        }
        // The reserved values' neighbours: the least hundredth held.
        assert_eq!(as_cents(-21_474_836.46), Some(CENTS_NULL + 1));
    }

    #[test]
    fn string_codes_widen_as_the_dictionary_grows() {
        let mut c = AttrColumn::new(1, Cell::Str(0));
        for i in 0..70_000u32 {
            let cell = c.encode(&AttrValue::Str(format!("v{i}")));
            c.push(cell);
        }
        c.push(Cell::Null);
        assert_eq!(c.cell(0), Cell::Absent);
        assert_eq!(c.cell(254), Cell::Str(253));
        assert_eq!(c.cell(70_000), Cell::Str(69_999));
        assert_eq!(c.cell(70_001), Cell::Null);
        assert_eq!(c.dict.get(69_999), "v69999");
    }

    #[test]
    fn a_second_type_makes_the_column_mixed() {
        let mut c = AttrColumn::new(0, Cell::Null);
        c.push(Cell::Null);
        c.push(Cell::Num(3.0)); // only nulls before: becomes numeric
        assert!(matches!(c.data, AttrData::Integer(_)));
        let s = c.encode(&AttrValue::Str("x".into()));
        c.push(s);
        c.push(Cell::Bool(true));
        assert!(matches!(c.data, AttrData::Mixed(_)));
        assert_eq!(
            cells(&c),
            [Cell::Null, Cell::Num(3.0), Cell::Str(0), Cell::Bool(true)]
        );
        c.permute(&[3, 0, 2]);
        assert_eq!(cells(&c), [Cell::Bool(true), Cell::Null, Cell::Str(0)]);
    }

    /// A row's value as the model's type, for comparing columns.
    fn values(c: &AttrColumn) -> Vec<Option<AttrValue>> {
        (0..c.len()).map(|r| c.value(r)).collect()
    }

    /// Appends a row holding `value` (`None`: absent), as a partition does.
    fn append(c: &mut AttrColumn, value: Option<&AttrValue>) {
        let row = c.len();
        c.push_absent();
        if let Some(v) = value {
            c.put(row, v);
        }
    }

    /// The value of row `i` of the test columns below: mostly distinct
    /// strings (some upper-case, one empty), every 89th absent, every
    /// 97th `null`.
    fn nearly_unique(i: usize) -> Option<AttrValue> {
        match i {
            _ if i % 89 == 5 => None,
            _ if i % 97 == 3 => Some(AttrValue::Null),
            7 => Some(AttrValue::Str(String::new())),
            _ if i.is_multiple_of(10) => Some(AttrValue::Str(format!("SID-{i:x}"))),
            _ => Some(AttrValue::Str(format!("s{:x}", i * 7919))),
        }
    }

    #[test]
    fn nearly_unique_strings_are_held_per_row_through_appends_retyping_and_snapshots() {
        // Packed only where that saves more than the packer's tables.
        for (rows, packed) in [(6000, false), (300_000, true)] {
            strings_per_row(rows, packed);
        }
    }

    /// A column held per row while small (unpacked) is packed by a later
    /// merge once it has grown enough to pay for the packer.
    #[test]
    fn per_row_strings_are_packed_once_they_grow() {
        let mut c = AttrColumn::new(0, Cell::Str(0));
        let mut expected = Vec::new();
        let mut grow = |c: &mut AttrColumn, rows: std::ops::Range<usize>| {
            for i in rows {
                append(c, nearly_unique(i).as_ref());
                expected.push(nearly_unique(i));
            }
            let order: Vec<u32> = (0..c.len() as u32).collect();
            c.permute(&order);
            assert_eq!(values(c), expected);
        };
        grow(&mut c, 0..6000);
        assert!(c.holds_row_strings() && !c.dict.is_packed());
        grow(&mut c, 6000..300_000);
        assert!(c.holds_row_strings() && c.dict.is_packed());
    }

    fn strings_per_row(rows: usize, packed: bool) {
        let mut c = AttrColumn::new(0, Cell::Str(0));
        for i in 0..rows {
            append(&mut c, nearly_unique(i).as_ref());
        }
        assert!(!c.holds_row_strings(), "only a compaction changes the form");
        // Reversed, with every third row dropped (erased contacts' rows).
        let order: Vec<u32> = (0..rows as u32).rev().filter(|r| r % 3 != 1).collect();
        let mut expected: Vec<_> = order.iter().map(|r| nearly_unique(*r as usize)).collect();
        let before = c.heap_bytes();
        c.permute(&order);
        assert!(c.holds_row_strings());
        assert_eq!(c.dict.is_packed(), packed, "{rows} rows");
        assert_eq!(values(&c), expected);
        assert!(
            c.heap_bytes() < before,
            "{} against {before}",
            c.heap_bytes()
        );
        let k = c.kinds_present();
        assert!(k.string && k.null && !k.number && !k.boolean);
        assert_eq!(c.cell_bytes(), 0);

        // Rows appended after it: strings, null, absent, an empty string
        // and a string held already.
        let late = [
            Some(AttrValue::Str("late".into())),
            Some(AttrValue::Null),
            None,
            Some(AttrValue::Str(String::new())),
            Some(AttrValue::Str("late".into())),
        ];
        for v in &late {
            append(&mut c, v.as_ref());
            expected.push(v.clone());
        }
        assert!(c.holds_row_strings());
        assert_eq!(values(&c), expected);

        // A test's verdicts read each row's string, lower-cased as asked.
        let v = c
            .dict
            .verdicts("has sid-", |_, lower| lower.contains("sid-"));
        for (row, value) in expected.iter().enumerate() {
            let want = matches!(value, Some(AttrValue::Str(s)) if s.starts_with("SID-"));
            let got = matches!(c.cell(row as u32), Cell::Str(code) if v.get(code));
            assert_eq!(got, want, "row {row}");
        }

        // A snapshot reads back the same rows, still per row.
        let mut written = Vec::new();
        c.write_to(&mut Writer(&mut written)).unwrap();
        let mut back = AttrColumn::read_from(&mut Reader(&written[..])).unwrap();
        assert!(back.holds_row_strings() && back.dict.is_per_row());
        assert_eq!(back.dict.is_packed(), packed);
        assert_eq!(values(&back), expected);
        append(&mut back, Some(&AttrValue::Str("after".into())));
        expected.push(Some(AttrValue::Str("after".into())));
        assert_eq!(values(&back), expected);

        // A compaction again keeps the form and the values.
        let order: Vec<u32> = (0..back.len() as u32).rev().collect();
        back.permute(&order);
        expected.reverse();
        assert!(back.holds_row_strings());
        assert_eq!(back.dict.is_packed(), packed);
        assert_eq!(values(&back), expected);

        // Set directly: the last row to absent stays per row; an earlier
        // row holding a string set to null leaves per-row strings.
        let mut probe = back.clone();
        let mut probed = expected.clone();
        let last = probe.len() - 1;
        probe.set(last, Cell::Absent);
        probed[last] = None;
        assert!(probe.holds_row_strings());
        assert_eq!(values(&probe), probed);
        let earlier = probed
            .iter()
            .position(|v| matches!(v, Some(AttrValue::Str(s)) if !s.is_empty()))
            .unwrap();
        probe.set(earlier, Cell::Null);
        probed[earlier] = Some(AttrValue::Null);
        assert!(!probe.holds_row_strings());
        assert_eq!(values(&probe), probed);

        // A number makes it a column of distinct strings, then mixed.
        append(&mut back, Some(&AttrValue::Num(2.5)));
        expected.push(Some(AttrValue::Num(2.5)));
        assert!(!back.holds_row_strings() && !back.dict.is_per_row());
        assert!(matches!(back.data, AttrData::Mixed(_)));
        assert_eq!(values(&back), expected);
    }

    #[test]
    fn repeated_or_few_strings_keep_their_dictionary() {
        // Many rows over 100 strings, then 4000 distinct strings: too few
        // distinct ones either way.
        for (rows, distinct) in [(20_000usize, 100usize), (4000, 4000)] {
            let mut c = AttrColumn::new(0, Cell::Str(0));
            for i in 0..rows {
                append(&mut c, Some(&AttrValue::Str(format!("v{}", i % distinct))));
            }
            let order: Vec<u32> = (0..rows as u32).rev().collect();
            c.permute(&order);
            assert!(!c.holds_row_strings(), "{rows} rows, {distinct} strings");
            assert_eq!(
                c.value(0),
                Some(AttrValue::Str(format!("v{}", (rows - 1) % distinct)))
            );
        }
        // Half the rows distinct, but long codes would cost less than
        // their strings again: 12,000 rows, 6,000 strings of 60 bytes.
        let mut c = AttrColumn::new(0, Cell::Str(0));
        for i in 0..12_000 {
            append(&mut c, Some(&AttrValue::Str(format!("{:060}", i / 2))));
        }
        c.permute(&(0..12_000).collect::<Vec<u32>>());
        assert!(!c.holds_row_strings());
    }
}
