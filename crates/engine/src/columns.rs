//! Contact fields as columns indexed by contact ordinal.
//!
//! Text is dictionary-coded (code 0 of a column means "no value"), numbers
//! and dates are plain vectors with a sentinel for "no value", booleans are
//! two bitmaps. A field test scans one column once.

use flowseg_model::{FieldType, Value};
use flowseg_rules::plan::{NumberTest, TimeRange, ValueTest};
use roaring::RoaringBitmap;

use crate::dict::Dictionary;
use crate::snapshot::{Reader, Writer, invalid};

/// "No value" in a number column.
const NO_NUMBER: f64 = f64::NAN;
/// "No value" in a date column.
const NO_DATE: i64 = i64::MIN;
/// "No value" in a text column.
const NO_TEXT: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub enum Column {
    Text {
        codes: Vec<u32>,
        dict: Dictionary,
    },
    Number(Vec<f64>),
    Date(Vec<i64>),
    Bool {
        trues: RoaringBitmap,
        falses: RoaringBitmap,
    },
}

impl Column {
    pub fn new(ty: FieldType) -> Column {
        match ty {
            FieldType::Text => Column::Text {
                codes: Vec::new(),
                dict: Dictionary::default(),
            },
            FieldType::Number => Column::Number(Vec::new()),
            FieldType::Date => Column::Date(Vec::new()),
            FieldType::Boolean => Column::Bool {
                trues: RoaringBitmap::new(),
                falses: RoaringBitmap::new(),
            },
        }
    }

    pub fn field_type(&self) -> FieldType {
        match self {
            Column::Text { .. } => FieldType::Text,
            Column::Number(_) => FieldType::Number,
            Column::Date(_) => FieldType::Date,
            Column::Bool { .. } => FieldType::Boolean,
        }
    }

    /// Sets (or clears, with `None`) the value of one contact. A value of
    /// another type than the column's is treated as no value.
    pub fn set(&mut self, ordinal: u32, value: Option<&Value>) {
        let i = ordinal as usize;
        match self {
            Column::Text { codes, dict } => {
                grow(codes, i, NO_TEXT);
                codes[i] = match value {
                    Some(Value::Text(s)) if !s.is_empty() => dict.intern(s),
                    _ => NO_TEXT,
                };
            }
            Column::Number(v) => {
                grow(v, i, NO_NUMBER);
                v[i] = match value {
                    Some(Value::Number(n)) => *n,
                    _ => NO_NUMBER,
                };
            }
            Column::Date(v) => {
                grow(v, i, NO_DATE);
                v[i] = match value {
                    Some(Value::Date(t)) => *t,
                    _ => NO_DATE,
                };
            }
            Column::Bool { trues, falses } => {
                trues.remove(ordinal);
                falses.remove(ordinal);
                match value {
                    Some(Value::Bool(true)) => {
                        trues.insert(ordinal);
                    }
                    Some(Value::Bool(false)) => {
                        falses.insert(ordinal);
                    }
                    _ => {}
                }
            }
        }
    }

    /// The value of one contact, if it has one.
    pub fn get(&self, ordinal: u32) -> Option<Value> {
        let i = ordinal as usize;
        match self {
            Column::Text { codes, dict } => codes
                .get(i)
                .filter(|c| **c != NO_TEXT)
                .map(|c| Value::Text(dict.get(*c).to_string())),
            Column::Number(v) => v.get(i).filter(|n| !n.is_nan()).map(|n| Value::Number(*n)),
            Column::Date(v) => v.get(i).filter(|t| **t != NO_DATE).map(|t| Value::Date(*t)),
            Column::Bool { trues, falses } => {
                if trues.contains(ordinal) {
                    Some(Value::Bool(true))
                } else if falses.contains(ordinal) {
                    Some(Value::Bool(false))
                } else {
                    None
                }
            }
        }
    }

    /// The contacts (of any liveness) whose value passes `test`.
    pub fn select(&self, test: &ValueTest, now: i64) -> RoaringBitmap {
        match (self, test) {
            (Column::Text { codes, .. }, ValueTest::HasValue) => scan(codes, |c| *c != NO_TEXT),
            (Column::Text { codes, dict }, ValueTest::Text(t)) => {
                let pass = dict.text_verdicts(t);
                scan(codes, |c| *c != NO_TEXT && pass.get(*c))
            }
            (Column::Number(v), ValueTest::HasValue) => scan(v, |n| !n.is_nan()),
            (Column::Number(v), ValueTest::Number(t)) => select_numbers(v, t),
            (Column::Date(v), ValueTest::HasValue) => scan(v, |t| *t != NO_DATE),
            (Column::Date(v), ValueTest::Date(r)) => select_dates(v, r, now),
            (Column::Bool { trues, falses }, ValueTest::HasValue) => trues | falses,
            (Column::Bool { trues, .. }, ValueTest::Bool(true)) => trues.clone(),
            (Column::Bool { falses, .. }, ValueTest::Bool(false)) => falses.clone(),
            // A test of another type than the column (cannot pass validation).
            _ => RoaringBitmap::new(),
        }
    }

    /// Whether one contact's value passes `test` (explain).
    pub fn test_one(&self, ordinal: u32, test: &ValueTest, now: i64) -> bool {
        let value = self.get(ordinal);
        match (value, test) {
            (None, _) => false,
            (Some(_), ValueTest::HasValue) => true,
            (Some(Value::Text(s)), ValueTest::Text(t)) => t.matches(&s),
            (Some(Value::Number(n)), ValueTest::Number(t)) => t.matches(n),
            (Some(Value::Date(d)), ValueTest::Date(r)) => r.contains(now, d),
            (Some(Value::Bool(b)), ValueTest::Bool(want)) => b == *want,
            _ => false,
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Column::Text { codes, dict } => codes.len() * 4 + dict.heap_bytes(),
            Column::Number(v) => v.len() * 8,
            Column::Date(v) => v.len() * 8,
            Column::Bool { trues, falses } => trues.serialized_size() + falses.serialized_size(),
        }
    }
}

impl Column {
    pub fn write_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        match self {
            Column::Text { codes, dict } => {
                w.u8(0)?;
                w.slice(codes)?;
                dict.write_to(w)
            }
            Column::Number(v) => {
                w.u8(1)?;
                w.slice(v)
            }
            Column::Date(v) => {
                w.u8(2)?;
                w.slice(v)
            }
            Column::Bool { trues, falses } => {
                w.u8(3)?;
                w.bitmap(trues)?;
                w.bitmap(falses)
            }
        }
    }

    pub fn read_from<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<Column> {
        Ok(match r.u8()? {
            0 => {
                let codes: Vec<u32> = r.vec()?;
                let dict = Dictionary::read_from(r)?;
                if codes
                    .iter()
                    .any(|c| *c != NO_TEXT && *c as usize >= dict.len())
                {
                    return Err(invalid("a text code outside its dictionary"));
                }
                Column::Text { codes, dict }
            }
            1 => Column::Number(r.vec()?),
            2 => Column::Date(r.vec()?),
            3 => Column::Bool {
                trues: r.bitmap()?,
                falses: r.bitmap()?,
            },
            _ => return Err(invalid("an unknown column type")),
        })
    }
}

fn grow<T: Copy>(v: &mut Vec<T>, i: usize, fill: T) {
    if v.len() <= i {
        v.resize(i + 1, fill);
    }
}

/// The ordinals whose value passes. The verdicts go into a plain bit set
/// first, which roaring then takes in bulk: pushing matches one by one cost
/// ~100 ns each (1 ms for 6k members of a 10k-contact account).
fn scan<T>(values: &[T], pass: impl Fn(&T) -> bool) -> RoaringBitmap {
    let mut bits = vec![0u8; values.len().div_ceil(8)];
    for (i, v) in values.iter().enumerate() {
        bits[i >> 3] |= u8::from(pass(v)) << (i & 7);
    }
    RoaringBitmap::from_lsb0_bytes(0, &bits)
}

fn select_numbers(values: &[f64], test: &NumberTest) -> RoaringBitmap {
    scan(values, |n| !n.is_nan() && test.matches(*n))
}

fn select_dates(values: &[i64], range: &TimeRange, now: i64) -> RoaringBitmap {
    let (lo, hi) = range.resolve(now);
    scan(values, |t| *t != NO_DATE && lo <= *t && *t <= hi)
}
