//! Contact fields as columns indexed by contact ordinal.
//!
//! Text is dictionary-coded; text codes, numbers and dates are vectors in
//! their narrowest exact width ([`crate::narrow`]) with a marker for "no
//! value"; booleans are two bitmaps. A field test scans one
//! column once.

use flowseg_model::{FieldType, Value};
use flowseg_rules::plan::ValueTest;
use roaring::RoaringBitmap;

use crate::dict::{Dictionary, Verdicts};
use crate::narrow::{CODE_ABSENT, CODE_NULL, Code, Codes, Dates, Numbers};
use crate::scan::{InScope, Selection, WholeColumn};
use crate::snapshot::{Reader, Writer, invalid};

// A column is one per contact field, a few per account, so the text
// variant's size (its dictionary inline) costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Column {
    Text {
        codes: Codes,
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
                codes: Codes::default(),
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
            Column::Text { codes, dict } => codes.set(
                i,
                match value {
                    Some(Value::Text(s)) if !s.is_empty() => dict.intern(s),
                    _ => CODE_ABSENT,
                },
            ),
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
            Column::Text { codes, dict } => (i < codes.len())
                .then(|| codes.get(i))
                .filter(|c| *c < CODE_NULL)
                .map(|c| Value::Text(dict.get(c).to_string())),
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
        let by_member = self.tested_by_member(scope.len());
        match (self, test) {
            (Column::Bool { trues, falses }, ValueTest::HasValue) => (trues | falses) & scope,
            (Column::Bool { trues, .. }, ValueTest::Bool(true)) => trues & scope,
            (Column::Bool { falses, .. }, ValueTest::Bool(false)) => falses & scope,
            _ => self.select_with(test, now, &InScope { scope, by_member }),
        }
    }

    /// Whether a test over a scope of `members` contacts goes member by
    /// member rather than scanning the whole column: a scope much smaller
    /// than the column.
    pub(crate) fn tested_by_member(&self, members: u64) -> bool {
        members.saturating_mul(16) < self.len() as u64
    }

    /// The verdict of `test` on every slot of the column, one bit per
    /// ordinal ([`crate::scan::scan_words`]; fewer words than the column
    /// when nothing passes). `None` for a boolean column, which is two
    /// bitmaps rather than a scan.
    pub(crate) fn verdict_words(&self, test: &ValueTest, now: i64) -> Option<Vec<u64>> {
        match self {
            Column::Bool { .. } => None,
            _ => Some(self.select_with(test, now, &WholeColumn)),
        }
    }

    /// A test of a scanned column (text, number, date), its loop picked
    /// from the stored width and the test, run by `sel`.
    fn select_with<S: Selection>(&self, test: &ValueTest, now: i64, sel: &S) -> S::Out {
        match (self, test) {
            (Column::Text { codes, .. }, ValueTest::HasValue) => match codes {
                Codes::U8(v) => with_code(v, sel),
                Codes::U16(v) => with_code(v, sel),
                Codes::U32(v) => with_code(v, sel),
            },
            (Column::Text { codes, dict }, ValueTest::Text(t)) => {
                let pass = &dict.text_verdicts(t);
                match codes {
                    Codes::U8(v) => select_text(v, pass, sel),
                    Codes::U16(v) => select_text(v, pass, sel),
                    Codes::U32(v) => select_text(v, pass, sel),
                }
            }
            (Column::Number(v), ValueTest::HasValue) => v.with_value(sel),
            (Column::Number(v), ValueTest::Number(t)) => v.select(t, sel),
            (Column::Date(v), ValueTest::HasValue) => v.with_value(sel),
            (Column::Date(v), ValueTest::Date(r)) => {
                let (lo, hi) = r.resolve(now);
                v.select(lo, hi, sel)
            }
            // A boolean column (tested as bitmaps by `select`), or a test
            // of another type than the column (cannot pass validation).
            _ => sel.nothing(),
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
            Column::Text { codes, dict } => codes.heap_bytes() + dict.heap_bytes(),
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
                codes.write_to(w)?;
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
                let codes = Codes::read_from(r)?;
                let dict = Dictionary::read_from(r)?;
                if codes.max_code().is_some_and(|c| c as usize >= dict.len()) {
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

/// The contacts that have a text value, as `sel` collects them.
fn with_code<C: Code, S: Selection>(codes: &[C], sel: &S) -> S::Out {
    sel.apply(codes, |c| *c < C::NULL)
}

/// The contacts whose code passes `pass`, as `sel` collects them. The
/// verdicts decide the shape of the scan, cheapest first (1M `u32` codes,
/// AVX2): at most 4 passing codes compared directly, 0.4 ms; at most 8,
/// 0.5 ms; all passing codes below 64 tested in one word, 0.35 ms;
/// otherwise a bit looked up per
/// code, 1.5 ms and more as the dictionary outgrows the cache. With `u8`
/// codes `Customer_Status = "VIP"` took the same time at `large` (0.39–0.76
/// against 0.45–0.93 ms): fixed costs dominate there, and the narrower
/// codes are kept for memory. The reserved codes (absent, `null`) are the
/// two largest of each width: never a dictionary code, never below 64.
fn select_text<C: Code, S: Selection>(codes: &[C], pass: &Verdicts, sel: &S) -> S::Out {
    if pass.none_pass() {
        return sel.nothing();
    }
    if let Some(k) = pass.few_passing::<4>().and_then(in_width::<C, 4>) {
        return sel.apply(codes, |c| {
            (*c == k[0]) | (*c == k[1]) | (*c == k[2]) | (*c == k[3])
        });
    }
    if let Some(k) = pass.few_passing::<8>().and_then(in_width::<C, 8>) {
        return sel.apply(codes, |c| k.iter().fold(false, |any, k| any | (*c == *k)));
    }
    if let Some(word) = pass.one_word() {
        let below = C::from(64);
        return sel.apply(codes, |c| {
            (*c < below) & ((word >> ((*c).into() & 63)) & 1 == 1)
        });
    }
    sel.apply(codes, |c| *c < C::NULL && pass.get((*c).into()))
}

/// Passing codes in the column's width, compared without widening each
/// code. Every code of the dictionary fits its column's width (the column
/// widens as the dictionary grows); `None` only keeps a broken invariant
/// from turning into wrong verdicts (the caller then takes a wider shape).
fn in_width<C: Code, const N: usize>(codes: [u32; N]) -> Option<[C; N]> {
    let mut narrow = [C::ABSENT; N];
    for (n, c) in narrow.iter_mut().zip(codes) {
        *n = C::try_from(c).ok().filter(|c| *c < C::NULL)?;
    }
    Some(narrow)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scan shape `select_text` picks gives the members a plain
    /// per-code lookup gives: few codes (4, 8), one word, and the bit set,
    /// in each code width.
    #[test]
    fn each_text_scan_shape_selects_exactly_the_passing_codes() {
        const NO_TEXT: u32 = u32::ABSENT;
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
                let narrow = |none: u32| {
                    codes
                        .iter()
                        .map(move |c| if *c == NO_TEXT { none } else { *c })
                };
                let bytes: Vec<u8> = narrow(255).map(|c| c as u8).collect();
                let shorts: Vec<u16> = narrow(65535).map(|c| c as u16).collect();
                let sel = InScope { scope, by_member };
                if !by_member {
                    // The whole column's verdict words, for the live scope.
                    let whole = |words: Vec<u64>| crate::scan::bitmap_of_words(&words);
                    assert_eq!(whole(select_text(&codes, &verdicts, &WholeColumn)), want);
                    assert_eq!(whole(select_text(&bytes, &verdicts, &WholeColumn)), want);
                    assert_eq!(whole(select_text(&shorts, &verdicts, &WholeColumn)), want);
                }
                assert_eq!(
                    select_text(&codes, &verdicts, &sel),
                    want,
                    "{name}, u32, by member: {by_member}"
                );
                assert_eq!(
                    select_text(&bytes, &verdicts, &sel),
                    want,
                    "{name}, u8, by member: {by_member}"
                );
                assert_eq!(
                    select_text(&shorts, &verdicts, &sel),
                    want,
                    "{name}, u16, by member: {by_member}"
                );
            }
        }
    }
}
