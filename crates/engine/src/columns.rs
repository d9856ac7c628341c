//! Contact fields as columns indexed by contact ordinal.
//!
//! Text is dictionary-coded (`NO_TEXT` means "no value"), numbers and dates
//! are vectors in their narrowest exact width ([`crate::narrow`]) with a
//! marker for "no value", booleans are two bitmaps. A field test scans one
//! column once.

use flowseg_model::{FieldType, Value};
use flowseg_rules::plan::ValueTest;
use roaring::RoaringBitmap;

use crate::dict::{Dictionary, Verdicts};
use crate::narrow::{Dates, Numbers, grow};
use crate::scan::filter;
use crate::snapshot::{Reader, Writer, invalid};

/// "No value" in a text column.
const NO_TEXT: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub enum Column {
    Text {
        codes: Vec<u32>,
        dict: Dictionary,
    },
    Number(Numbers),
    Date(Dates),
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
            FieldType::Number => Column::Number(Numbers::default()),
            FieldType::Date => Column::Date(Dates::default()),
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
            Column::Number(v) => v.set(
                i,
                match value {
                    Some(Value::Number(n)) => Some(*n),
                    _ => None,
                },
            ),
            Column::Date(v) => v.set(
                i,
                match value {
                    Some(Value::Date(t)) => Some(*t),
                    _ => None,
                },
            ),
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
            Column::Number(v) => v.get(i).map(Value::Number),
            Column::Date(v) => v.get(i).map(Value::Date),
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

    /// The contacts of `scope` whose value passes `test`. A scope much
    /// smaller than the column is tested member by member; otherwise the
    /// whole column is scanned into a bit set and intersected.
    pub fn select(&self, test: &ValueTest, now: i64, scope: &RoaringBitmap) -> RoaringBitmap {
        let by_member = scope.len().saturating_mul(16) < self.len() as u64;
        match (self, test) {
            (Column::Text { codes, .. }, ValueTest::HasValue) => {
                filter(codes, scope, by_member, |c| *c != NO_TEXT)
            }
            (Column::Text { codes, dict }, ValueTest::Text(t)) => {
                select_text(codes, &dict.text_verdicts(t), scope, by_member)
            }
            (Column::Number(v), ValueTest::HasValue) => v.with_value(scope, by_member),
            (Column::Number(v), ValueTest::Number(t)) => v.select(t, scope, by_member),
            (Column::Date(v), ValueTest::HasValue) => v.with_value(scope, by_member),
            (Column::Date(v), ValueTest::Date(r)) => {
                let (lo, hi) = r.resolve(now);
                v.select(lo, hi, scope, by_member)
            }
            (Column::Bool { trues, falses }, ValueTest::HasValue) => (trues | falses) & scope,
            (Column::Bool { trues, .. }, ValueTest::Bool(true)) => trues & scope,
            (Column::Bool { falses, .. }, ValueTest::Bool(false)) => falses & scope,
            // A test of another type than the column (cannot pass validation).
            _ => RoaringBitmap::new(),
        }
    }

    /// Slots in the column (contacts ever given a value or cleared).
    fn len(&self) -> usize {
        match self {
            Column::Text { codes, .. } => codes.len(),
            Column::Number(v) => v.len(),
            Column::Date(v) => v.len(),
            Column::Bool { trues, falses } => (trues.len() + falses.len()) as usize,
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
            Column::Number(v) => v.heap_bytes(),
            Column::Date(v) => v.heap_bytes(),
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
                v.write_to(w)
            }
            Column::Date(v) => {
                w.u8(2)?;
                v.write_to(w)
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
            1 => Column::Number(Numbers::read_from(r)?),
            2 => Column::Date(Dates::read_from(r)?),
            3 => Column::Bool {
                trues: r.bitmap()?,
                falses: r.bitmap()?,
            },
            _ => return Err(invalid("an unknown column type")),
        })
    }
}

/// The members of `scope` whose code passes `pass`. The verdicts decide the
/// shape of the scan, cheapest first (1M codes, AVX2): at most 4 passing
/// codes compared directly, 0.4 ms; at most 8, 0.5 ms; all passing codes
/// below 64 tested in one word, 0.35 ms; otherwise a bit looked up per
/// code, 1.5 ms and more as the dictionary outgrows the cache. `NO_TEXT`
/// is never a code, so it never equals one or falls below 64.
fn select_text(
    codes: &[u32],
    pass: &Verdicts,
    scope: &RoaringBitmap,
    by_member: bool,
) -> RoaringBitmap {
    if pass.none_pass() {
        return RoaringBitmap::new();
    }
    if let Some(k) = pass.few_passing::<4>() {
        return filter(codes, scope, by_member, |c| {
            (*c == k[0]) | (*c == k[1]) | (*c == k[2]) | (*c == k[3])
        });
    }
    if let Some(k) = pass.few_passing::<8>() {
        return filter(codes, scope, by_member, |c| {
            k.iter().fold(false, |any, k| any | (*c == *k))
        });
    }
    if let Some(word) = pass.one_word() {
        return filter(codes, scope, by_member, |c| {
            (*c < 64) & ((word >> (*c & 63)) & 1 == 1)
        });
    }
    filter(codes, scope, by_member, |c| *c != NO_TEXT && pass.get(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scan shape `select_text` picks gives the members a plain
    /// per-code lookup gives: few codes (4, 8), one word, and the bit set.
    #[test]
    fn each_text_scan_shape_selects_exactly_the_passing_codes() {
        let mut dict = Dictionary::default();
        for i in 0..200 {
            dict.intern(&format!("s{i}"));
        }
        // Ordinal o holds code o % 200, every 7th has no value.
        let codes: Vec<u32> = (0..5000u32)
            .map(|o| if o % 7 == 0 { NO_TEXT } else { o % 200 })
            .collect();
        type Shape = (&'static str, fn(u32) -> bool);
        let shapes: [Shape; 6] = [
            ("none", |_| false),
            ("one", |c| c == 150),
            ("four", |c| [3, 70, 150, 199].contains(&c)),
            ("eight", |c| c % 25 == 1),
            ("below 64", |c| c < 64 && c % 3 == 0),
            ("many", |c| c % 2 == 0),
        ];
        let live: RoaringBitmap = (0..5000).collect();
        let small_scope: RoaringBitmap = (0..5000).step_by(97).collect();
        for (name, test) in shapes {
            let verdicts = dict.verdicts(name, |s, _| test(s[1..].parse().unwrap()));
            for (scope, by_member) in [(&live, false), (&small_scope, true)] {
                let want: RoaringBitmap = scope
                    .iter()
                    .filter(|o| codes[*o as usize] != NO_TEXT && test(codes[*o as usize]))
                    .collect();
                let got = select_text(&codes, &verdicts, scope, by_member);
                assert_eq!(got, want, "{name}, by member: {by_member}");
            }
        }
    }
}
