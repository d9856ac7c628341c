//! The compact binary encoding of the values the store keeps in redb:
//! contacts' fields, events' bodies and snapshot member chunks.
//!
//! Why hand-rolled rather than a serde format: the event log is the bulk of
//! the data, and a purpose-made layout (interned event names, varints,
//! integer-valued numbers as varints) is a fraction of JSON's size without
//! another dependency. Every encoded value starts with a format version byte
//! so the layout can evolve while old files stay readable.

use std::collections::BTreeMap;

use flowseg_model::{AttrValue, Attributes, Value};

use crate::StoreError;

/// The current layout version, the first byte of every encoded value.
pub(crate) const VERSION: u8 = 1;

// Contact field value tags.
const F_TEXT: u8 = 0;
const F_NUMBER: u8 = 1;
const F_DATE: u8 = 2;
const F_FALSE: u8 = 3;
const F_TRUE: u8 = 4;

// Event attribute value tags.
const A_NULL: u8 = 0;
const A_STR: u8 = 1;
const A_F64: u8 = 2;
const A_FALSE: u8 = 3;
const A_TRUE: u8 = 4;
/// A number that is an integer in ±2^53, stored as a zig-zag varint.
const A_INT: u8 = 5;

/// Largest integer an f64 represents exactly (2^53).
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over an encoded value; every read fails with
/// [`StoreError::Corrupt`] rather than panicking on a short or bad buffer.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Result<Self, StoreError> {
        let mut r = Reader { buf, pos: 0, what };
        let v = r.byte()?;
        if v != VERSION {
            return Err(r.corrupt(&format!("unknown layout version {v}")));
        }
        Ok(r)
    }

    /// A reader of a buffer that has no layout version byte of its own.
    pub(crate) fn unversioned(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    pub(crate) fn corrupt(&self, why: &str) -> StoreError {
        StoreError::Corrupt(format!("{} at byte {}: {why}", self.what, self.pos))
    }

    pub(crate) fn byte(&mut self) -> Result<u8, StoreError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.corrupt("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.corrupt("unexpected end"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, StoreError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("varint too long"))
    }

    pub(crate) fn len(&mut self) -> Result<usize, StoreError> {
        let n = self.varint()?;
        usize::try_from(n).map_err(|_| self.corrupt("length out of range"))
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let n = self.len()?;
        let b = self.bytes(n)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| self.corrupt("invalid UTF-8"))
    }

    fn f64(&mut self) -> Result<f64, StoreError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Whether every byte has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    fn finish(&self) -> Result<(), StoreError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.corrupt("trailing bytes"))
        }
    }
}

/// Encodes a contact's fields (its id is the table key, not stored here).
pub(crate) fn encode_fields(fields: &BTreeMap<String, Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + fields.len() * 16);
    out.push(VERSION);
    put_varint(&mut out, fields.len() as u64);
    for (name, value) in fields {
        put_str(&mut out, name);
        match value {
            Value::Text(s) => {
                out.push(F_TEXT);
                put_str(&mut out, s);
            }
            Value::Number(n) => {
                out.push(F_NUMBER);
                out.extend_from_slice(&n.to_le_bytes());
            }
            Value::Date(ms) => {
                out.push(F_DATE);
                put_varint(&mut out, zigzag(*ms));
            }
            Value::Bool(false) => out.push(F_FALSE),
            Value::Bool(true) => out.push(F_TRUE),
        }
    }
    out
}

/// Decodes what [`encode_fields`] wrote.
pub(crate) fn decode_fields(buf: &[u8]) -> Result<BTreeMap<String, Value>, StoreError> {
    let mut r = Reader::new(buf, "contact")?;
    let n = r.len()?;
    let mut fields = BTreeMap::new();
    for _ in 0..n {
        let name = r.string()?;
        let value = match r.byte()? {
            F_TEXT => Value::Text(r.string()?),
            F_NUMBER => Value::Number(r.f64()?),
            F_DATE => Value::Date(unzigzag(r.varint()?)),
            F_FALSE => Value::Bool(false),
            F_TRUE => Value::Bool(true),
            t => return Err(r.corrupt(&format!("unknown field tag {t}"))),
        };
        fields.insert(name, value);
    }
    r.finish()?;
    Ok(fields)
}

/// An event's body as stored: the contact and time live in the key, the
/// name is interned per account.
pub(crate) struct EventBody {
    pub id: Option<String>,
    pub name_id: u32,
    pub attributes: Attributes,
}

/// Encodes an event's body (tests; the store appends with
/// [`encode_event_into`]).
#[cfg(test)]
pub(crate) fn encode_event(id: Option<&str>, name_id: u32, attributes: &Attributes) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + id.map_or(0, str::len) + attributes.len() * 16);
    encode_event_into(&mut out, id, name_id, attributes);
    out
}

/// [`encode_event`], appended to `out` (an append reuses one buffer for
/// all its events rather than allocating two per event).
pub(crate) fn encode_event_into(
    out: &mut Vec<u8>,
    id: Option<&str>,
    name_id: u32,
    attributes: &Attributes,
) {
    out.push(VERSION);
    match id {
        Some(id) => {
            out.push(1);
            put_str(out, id);
        }
        None => out.push(0),
    }
    put_varint(out, u64::from(name_id));
    put_varint(out, attributes.len() as u64);
    for (key, value) in attributes {
        put_str(out, key);
        match value {
            AttrValue::Null => out.push(A_NULL),
            AttrValue::Str(s) => {
                out.push(A_STR);
                put_str(out, s);
            }
            AttrValue::Num(n) => {
                // -0.0 must stay -0.0, so it takes the f64 path.
                if n.fract() == 0.0 && n.abs() <= EXACT_INT && !(*n == 0.0 && n.is_sign_negative())
                {
                    out.push(A_INT);
                    put_varint(out, zigzag(*n as i64));
                } else {
                    out.push(A_F64);
                    out.extend_from_slice(&n.to_le_bytes());
                }
            }
            AttrValue::Bool(false) => out.push(A_FALSE),
            AttrValue::Bool(true) => out.push(A_TRUE),
        }
    }
}

/// Decodes an event's body.
pub(crate) fn decode_event(buf: &[u8]) -> Result<EventBody, StoreError> {
    let mut r = Reader::new(buf, "event")?;
    let id = match r.byte()? {
        0 => None,
        1 => Some(r.string()?),
        f => return Err(r.corrupt(&format!("unknown id flag {f}"))),
    };
    let name_id =
        u32::try_from(r.varint()?).map_err(|_| r.corrupt("event name id out of range"))?;
    let n = r.len()?;
    let mut attributes = Attributes::new();
    for _ in 0..n {
        let key = r.string()?;
        let value = match r.byte()? {
            A_NULL => AttrValue::Null,
            A_STR => AttrValue::Str(r.string()?),
            A_F64 => AttrValue::Num(r.f64()?),
            A_INT => AttrValue::Num(unzigzag(r.varint()?) as f64),
            A_FALSE => AttrValue::Bool(false),
            A_TRUE => AttrValue::Bool(true),
            t => return Err(r.corrupt(&format!("unknown attribute tag {t}"))),
        };
        attributes.insert(key, value);
    }
    r.finish()?;
    Ok(EventBody {
        id,
        name_id,
        attributes,
    })
}

/// Reads only the id of an encoded event (erasing a contact needs no more).
pub(crate) fn event_id(buf: &[u8]) -> Result<Option<String>, StoreError> {
    let mut r = Reader::new(buf, "event")?;
    match r.byte()? {
        0 => Ok(None),
        1 => Ok(Some(r.string()?)),
        f => Err(r.corrupt(&format!("unknown id flag {f}"))),
    }
}

/// Encodes a list of strings (a chunk of a snapshot's member ids).
pub(crate) fn encode_strings(items: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + items.iter().map(|s| s.len() + 1).sum::<usize>());
    out.push(VERSION);
    put_varint(&mut out, items.len() as u64);
    for s in items {
        put_str(&mut out, s);
    }
    out
}

/// Decodes what [`encode_strings`] wrote, appending to `into`.
pub(crate) fn decode_strings(buf: &[u8], into: &mut Vec<String>) -> Result<(), StoreError> {
    let mut r = Reader::new(buf, "snapshot chunk")?;
    let n = r.len()?;
    into.reserve(n.min(1 << 20));
    for _ in 0..n {
        into.push(r.string()?);
    }
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut f = BTreeMap::new();
        f.insert("Email".to_string(), Value::Text("Ann@X.com".into()));
        f.insert("Age".to_string(), Value::Number(31.5));
        f.insert("Born".to_string(), Value::Date(-86_400_000));
        f.insert("Vip".to_string(), Value::Bool(true));
        f.insert("Off".to_string(), Value::Bool(false));
        assert_eq!(decode_fields(&encode_fields(&f)).unwrap(), f);
    }

    #[test]
    fn events_round_trip() {
        let mut a = Attributes::new();
        a.insert("price".into(), AttrValue::Num(120.0));
        a.insert("neg".into(), AttrValue::Num(-3.0));
        a.insert("negzero".into(), AttrValue::Num(-0.0));
        a.insert("frac".into(), AttrValue::Num(0.1));
        a.insert("huge".into(), AttrValue::Num(1e300));
        a.insert("cat".into(), AttrValue::Str("shoes".into()));
        a.insert("gift".into(), AttrValue::Bool(false));
        a.insert("ok".into(), AttrValue::Bool(true));
        a.insert("note".into(), AttrValue::Null);
        let buf = encode_event(Some("e-1"), 300, &a);
        let b = decode_event(&buf).unwrap();
        assert_eq!(b.id.as_deref(), Some("e-1"));
        assert_eq!(b.name_id, 300);
        assert_eq!(b.attributes, a);
        match b.attributes.get("negzero") {
            Some(AttrValue::Num(z)) => assert!(z.is_sign_negative()),
            other => panic!("{other:?}"),
        }
        assert_eq!(event_id(&buf).unwrap().as_deref(), Some("e-1"));
        let none = encode_event(None, 0, &Attributes::new());
        assert_eq!(none.len(), 4);
        assert_eq!(event_id(&none).unwrap(), None);
    }

    #[test]
    fn strings_round_trip_and_corruption_is_an_error() {
        let items: Vec<String> = (0..100).map(|i| format!("c{i}")).collect();
        let buf = encode_strings(&items);
        let mut back = Vec::new();
        decode_strings(&buf, &mut back).unwrap();
        assert_eq!(back, items);
        assert!(decode_strings(&buf[..buf.len() - 1], &mut Vec::new()).is_err());
        assert!(decode_fields(&[9, 0]).is_err());
        assert!(decode_event(&[]).is_err());
    }
}
