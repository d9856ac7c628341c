//! A fast reader for the usual events request: a JSON event, or an array
//! of them, every one valid.
//!
//! [`parse_event`](crate::event::parse_event) reads an event from a
//! `serde_json::Value`, which costs a tree of maps and strings per event
//! and then a copy of each string; at 1,000 events per request that was
//! most of a request's time. This reader deserialises the body straight
//! into [`EventInput`]s, borrowing strings from the body where it can.
//!
//! It only ever answers for bodies whose every event is valid: at the first
//! thing it does not take (an invalid or unknown field, a repeated key, a
//! number where a string is expected, …) it gives up and returns `None`,
//! and the caller reads the body the general way, which says what is wrong
//! and where. So error messages have one source, and for the bodies it
//! takes this reader gives exactly what `parse_event` gives (a property
//! test holds the two to that).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::event::{
    AttrValue, Attributes, ContactRef, EventInput, attribute_name_ok, check_event_name,
    contact_ref, event_id_ok,
};
use crate::time::parse_date;

/// The events of a JSON body holding one event object or an array of
/// them, when every event is valid; `None` otherwise (read the body with
/// `serde_json::Value` and [`parse_event`](crate::event::parse_event) then).
pub fn parse_valid_events(body: &[u8]) -> Option<Vec<EventInput>> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    match first {
        b'[' => serde_json::from_slice::<Vec<WireEvent>>(body)
            .ok()
            .map(|events| events.into_iter().map(|e| e.0).collect()),
        b'{' => serde_json::from_slice::<WireEvent>(body)
            .ok()
            .map(|e| vec![e.0]),
        _ => None,
    }
}

/// A valid event, read from its JSON object.
struct WireEvent(EventInput);

/// Gives up on the body (the message is never shown: the caller falls
/// back to the general reader).
fn give_up<E: de::Error>() -> E {
    E::custom("not a plain valid event")
}

impl<'de> Deserialize<'de> for WireEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = WireEvent;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireEvent, A::Error> {
        let mut id: Option<Option<String>> = None;
        let mut name: Option<String> = None;
        let mut contact: Option<ContactRef> = None;
        let mut time: Option<Option<i64>> = None;
        let mut attributes: Option<Attributes> = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            // A repeated key is left to the general reader (it keeps the
            // last value, which this one would have to undo).
            match &*key {
                "id" if id.is_none() => id = Some(map.next_value::<WireId>()?.0),
                "name" if name.is_none() => {
                    let n = map.next_value::<Cow<'de, str>>()?;
                    check_event_name(&n).map_err(|_| give_up::<A::Error>())?;
                    name = Some(n.into_owned());
                }
                "contact" if contact.is_none() => {
                    contact = Some(map.next_value::<WireContact>()?.0);
                }
                "time" if time.is_none() => {
                    let t = map.next_value::<Option<Cow<'de, str>>>()?;
                    time = Some(match t {
                        None => None,
                        Some(t) => Some(
                            parse_date(&t)
                                .map_err(|_| give_up::<A::Error>())?
                                .start_ms(),
                        ),
                    });
                }
                "attributes" if attributes.is_none() => {
                    attributes = Some(
                        map.next_value::<Option<WireAttributes>>()?
                            .map_or_else(Attributes::new, |a| a.0),
                    );
                }
                _ => return Err(give_up()),
            }
        }
        Ok(WireEvent(EventInput {
            id: id.flatten(),
            name: name.ok_or_else(give_up)?,
            contact: contact.ok_or_else(give_up)?,
            time: time.flatten(),
            attributes: attributes.unwrap_or_default(),
        }))
    }
}

/// An event id: a string of 1 to 256 bytes or an integer; `null` is none.
struct WireId(Option<String>);

impl<'de> Deserialize<'de> for WireId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = WireId;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event id")
    }

    fn visit_unit<E: de::Error>(self) -> Result<WireId, E> {
        Ok(WireId(None))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<WireId, E> {
        if event_id_ok(s) {
            Ok(WireId(Some(s.to_string())))
        } else {
            Err(give_up())
        }
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<WireId, E> {
        Ok(WireId(Some(n.to_string())))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<WireId, E> {
        Ok(WireId(Some(n.to_string())))
    }
}

/// `contact`: an object with exactly one identity key.
struct WireContact(ContactRef);

impl<'de> Deserialize<'de> for WireContact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ContactVisitor)
    }
}

struct ContactVisitor;

impl<'de> Visitor<'de> for ContactVisitor {
    type Value = WireContact;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a contact reference")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireContact, A::Error> {
        let key = map.next_key::<Cow<'de, str>>()?.ok_or_else(give_up)?;
        let numbers_allowed = matches!(&*key, "id" | "external_id");
        let value = map.next_value::<IdentityValue>()?;
        let value = match value {
            IdentityValue::Text(s) if !s.is_empty() => s,
            IdentityValue::Integer(n) if numbers_allowed => n,
            _ => return Err(give_up()),
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(give_up());
        }
        contact_ref(&key, value)
            .map(WireContact)
            .ok_or_else(give_up)
    }
}

/// An identity's value: a string, or an integer written as its digits.
enum IdentityValue {
    Text(String),
    Integer(String),
}

impl<'de> Deserialize<'de> for IdentityValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdentityVisitor)
    }
}

struct IdentityVisitor;

impl<'de> Visitor<'de> for IdentityVisitor {
    type Value = IdentityValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an identity")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<IdentityValue, E> {
        Ok(IdentityValue::Text(s.to_string()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<IdentityValue, E> {
        Ok(IdentityValue::Integer(n.to_string()))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<IdentityValue, E> {
        Ok(IdentityValue::Integer(n.to_string()))
    }
}

/// `attributes`: a flat object of valid names and scalar values.
struct WireAttributes(Attributes);

impl<'de> Deserialize<'de> for WireAttributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(AttributesVisitor)
    }
}

struct AttributesVisitor;

impl<'de> Visitor<'de> for AttributesVisitor {
    type Value = WireAttributes;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("event attributes")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireAttributes, A::Error> {
        let mut attributes = Attributes::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if !attribute_name_ok(&key) {
                return Err(give_up());
            }
            let value = map.next_value::<WireAttrValue>()?.0;
            // A repeated name: the general reader keeps the last value.
            if attributes.insert(key.into_owned(), value).is_some() {
                return Err(give_up());
            }
        }
        Ok(WireAttributes(attributes))
    }
}

/// An attribute's value: a JSON scalar.
struct WireAttrValue(AttrValue);

impl<'de> Deserialize<'de> for WireAttrValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AttrValueVisitor)
    }
}

struct AttrValueVisitor;

impl<'de> Visitor<'de> for AttrValueVisitor {
    type Value = WireAttrValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<WireAttrValue, E> {
        Ok(WireAttrValue(AttrValue::Null))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<WireAttrValue, E> {
        Ok(WireAttrValue(AttrValue::Bool(b)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<WireAttrValue, E> {
        Ok(WireAttrValue(AttrValue::Str(s.to_string())))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<WireAttrValue, E> {
        Ok(WireAttrValue(AttrValue::Num(n as f64)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<WireAttrValue, E> {
        Ok(WireAttrValue(AttrValue::Num(n as f64)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<WireAttrValue, E> {
        if n.is_finite() {
            Ok(WireAttrValue(AttrValue::Num(n)))
        } else {
            Err(give_up())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_event;
    use proptest::prelude::*;

    /// What the general reader makes of a body: every item's event, or
    /// `None` if any item is refused.
    fn general(body: &str) -> Option<Vec<EventInput>> {
        let items = match serde_json::from_str::<serde_json::Value>(body).ok()? {
            serde_json::Value::Array(items) => items,
            obj @ serde_json::Value::Object(_) => vec![obj],
            _ => return None,
        };
        items.iter().map(|v| parse_event(v).ok()).collect()
    }

    #[test]
    fn reads_what_the_general_reader_reads() {
        for body in [
            r#"{"name": "purchase", "contact": {"email": "a@b.c"}}"#,
            r#"[{"id": "e1", "name": "product_purchased", "contact": {"external_id": 77},
                "time": "2026-06-01T12:00:00.1234Z",
                "attributes": {"price": 120, "cat": "shoes", "gift": false, "note": null, "neg": -3, "x": 1.5e3}}]"#,
            r#"[{"id": 5, "name": "Visit", "contact": {"id": "c1"}, "time": null, "attributes": null},
                {"id": null, "name": "MailOpen", "contact": {"phone": "+48600100200"}, "time": "2026-06-01"}]"#,
            r#"[{"name": "a", "contact": {"id": "c\u0031"}, "attributes": {"k\"q": "v\\n"}}]"#,
            r#"[]"#,
        ] {
            assert_eq!(parse_valid_events(body.as_bytes()), general(body), "{body}");
            assert!(parse_valid_events(body.as_bytes()).is_some(), "{body}");
        }
    }

    #[test]
    fn gives_up_on_anything_the_general_reader_refuses_or_reads_otherwise() {
        for body in [
            r#"{"name": "x y", "contact": {"id": "c1"}}"#,
            r#"{"name": "x", "contact": {"email": ""}}"#,
            r#"{"name": "x", "contact": {"email": 5}}"#,
            r#"{"name": "x", "contact": {"id": 1.5}}"#,
            r#"{"name": "x", "contact": {}}"#,
            r#"{"name": "x", "contact": {"id": "c1", "email": "a@b"}}"#,
            r#"{"name": "x", "contact": {"nick": "c1"}}"#,
            r#"{"name": "x", "contact": {"id": "c1"}, "attributes": {"a": [1]}}"#,
            r#"{"name": "x", "contact": {"id": "c1"}, "attributes": {"": 1}}"#,
            r#"{"name": "x", "contact": {"id": "c1"}, "time": "yesterday"}"#,
            r#"{"name": "x", "contact": {"id": "c1"}, "time": 5}"#,
            r#"{"name": "x", "contact": {"id": "c1"}, "id": ""}"#,
            r#"{"name": "x", "contact": {"id": "c1"}, "id": 1.5}"#,
            r#"{"name": "x", "contact": {"id": "c1"}, "extra": 1}"#,
            r#"{"name": "x", "name": "y", "contact": {"id": "c1"}}"#,
            r#"{"contact": {"id": "c1"}}"#,
            r#"{"name": "x"}"#,
            r#"[{"name": "x", "contact": {"id": "c1"}}, 5]"#,
            r#"5"#,
            r#"{"name": "x", "contact": {"id": "c1"}} trailing"#,
        ] {
            assert_eq!(parse_valid_events(body.as_bytes()), None, "{body}");
        }
    }

    /// A JSON scalar or a small structure, as events' fields hold them.
    fn json_piece() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| n.into()),
            (-1e6f64..1e6).prop_map(|f| f.into()),
            "[a-z@.+0-9 _:-]{0,8}".prop_map(serde_json::Value::String),
            Just(serde_json::json!([1])),
            Just(serde_json::json!({"a": 1})),
        ]
    }

    /// A JSON scalar, as attribute values hold them.
    fn scalar() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| n.into()),
            (-1e6f64..1e6).prop_map(|f| f.into()),
            "[a-zA-Z0-9 ]{0,6}".prop_map(serde_json::Value::String),
        ]
    }

    /// Mostly valid events, each field now and then replaced by any piece
    /// of JSON (or left out), so that both readers see valid events, and
    /// invalid ones of every kind.
    fn event_like() -> impl Strategy<Value = serde_json::Value> {
        let id = prop_oneof![
            4 => "[a-z0-9]{1,8}".prop_map(serde_json::Value::String),
            2 => any::<i64>().prop_map(|n| n.into()),
            1 => Just(serde_json::Value::Null),
            1 => json_piece(),
        ];
        let name = prop_oneof![
            8 => "[a-zA-Z_][a-zA-Z0-9_.:-]{0,5}".prop_map(serde_json::Value::String),
            1 => json_piece(),
        ];
        let identity = prop_oneof![
            4 => "[a-z0-9@.+]{1,8}".prop_map(serde_json::Value::String),
            2 => any::<u32>().prop_map(|n| n.into()),
            1 => json_piece(),
        ];
        let contact = prop_oneof![
            8 => ("(id|email|phone|external_id)", identity)
                .prop_map(|(k, v)| serde_json::json!({ k: v })),
            1 => ("(nick|id)", json_piece()).prop_map(|(k, v)| serde_json::json!({ k: v })),
            1 => json_piece(),
        ];
        let time = prop_oneof![
            4 => Just(serde_json::json!("2026-06-01T12:00:00.5Z")),
            2 => Just(serde_json::json!("2026-06-01")),
            1 => Just(serde_json::Value::Null),
            1 => json_piece(),
        ];
        let attributes = prop_oneof![
            8 => proptest::collection::btree_map("[a-z]{0,3}", scalar(), 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            1 => proptest::collection::btree_map("[a-z]{1,3}", json_piece(), 1..3)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            1 => json_piece(),
        ];
        (
            proptest::option::weighted(0.5, id),
            proptest::option::weighted(0.95, name),
            proptest::option::weighted(0.95, contact),
            proptest::option::weighted(0.7, time),
            proptest::option::weighted(0.7, attributes),
            proptest::option::weighted(0.05, json_piece()),
        )
            .prop_map(|(id, name, contact, time, attributes, extra)| {
                let mut o = serde_json::Map::new();
                for (k, v) in [
                    ("id", id),
                    ("name", name),
                    ("contact", contact),
                    ("time", time),
                    ("attributes", attributes),
                    ("extra", extra),
                ] {
                    if let Some(v) = v {
                        o.insert(k.to_string(), v);
                    }
                }
                serde_json::Value::Object(o)
            })
    }

    /// Whether some event names its contact by a number that is not an
    /// integer: the general reader takes its digits as written, this
    /// reader leaves it to the general one.
    fn has_fractional_identity(events: &[serde_json::Value]) -> bool {
        events.iter().any(|e| {
            e.get("contact")
                .and_then(serde_json::Value::as_object)
                .is_some_and(|c| c.values().any(serde_json::Value::is_f64))
        })
    }

    proptest! {
        /// Whatever this reader takes, the general reader reads the same;
        /// what it leaves, the general reader refuses (or reads a
        /// fractional identity, which this reader leaves to it).
        #[test]
        fn never_disagrees_with_the_general_reader(events in proptest::collection::vec(event_like(), 1..3)) {
            let body = serde_json::Value::Array(events.clone()).to_string();
            match parse_valid_events(body.as_bytes()) {
                Some(fast) => prop_assert_eq!(Some(fast), general(&body)),
                None => prop_assert!(general(&body).is_none() || has_fractional_identity(&events)),
            }
        }
    }
}
