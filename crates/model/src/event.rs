//! Events: system events, website visits and custom events (SPEC §1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::{format_instant, parse_date};
use crate::value::json_kind;

/// System event names, produced by the platform.
pub const SYSTEM_EVENTS: &[&str] = &[
    "MailSent",
    "MailOpen",
    "MailClick",
    "MailBounce",
    "MailUnsubscribe",
    "SmsSent",
    "SmsClick",
    "PushSent",
    "PushOpen",
];

/// The name of website visits.
pub const VISIT: &str = "Visit";

/// Where an event comes from, decided by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    System,
    Visit,
    Custom,
}

impl EventSource {
    /// Names are case-sensitive: `mailopen` is a custom event.
    pub fn of(name: &str) -> EventSource {
        if name == VISIT {
            EventSource::Visit
        } else if SYSTEM_EVENTS.contains(&name) {
            EventSource::System
        } else {
            EventSource::Custom
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EventSource::System => "system",
            EventSource::Visit => "visit",
            EventSource::Custom => "custom",
        }
    }
}

/// Checks an event name: reserved names, or `[A-Za-z0-9_.:-]{1,100}`.
pub fn check_event_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid event name: use 1 to 100 letters, digits, `_`, `.`, `:` or `-`"
        ))
    }
}

/// An attribute value: a flat JSON scalar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttrValue {
    Null,
    Str(String),
    Num(f64),
    Bool(bool),
}

impl AttrValue {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AttrValue::Null => serde_json::Value::Null,
            AttrValue::Str(s) => serde_json::Value::String(s.clone()),
            AttrValue::Num(n) => serde_json::Number::from_f64(*n)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            AttrValue::Bool(b) => serde_json::Value::Bool(*b),
        }
    }

    /// The JSON type name shown in the event catalog.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttrValue::Null => "null",
            AttrValue::Str(_) => "string",
            AttrValue::Num(_) => "number",
            AttrValue::Bool(_) => "boolean",
        }
    }
}

/// An event's attributes, by name.
pub type Attributes = BTreeMap<String, AttrValue>;

/// How an event names its contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContactRef {
    Id(String),
    Email(String),
    Phone(String),
    ExternalId(String),
}

/// An event as received, before its contact is resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct EventInput {
    pub id: Option<String>,
    pub name: String,
    pub contact: ContactRef,
    /// `None` means "received now".
    pub time: Option<i64>,
    pub attributes: Attributes,
}

/// A stored event, bound to a contact id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: Option<String>,
    pub name: String,
    pub contact_id: String,
    pub time: i64,
    pub attributes: Attributes,
}

impl Event {
    /// The API's JSON form of a stored event.
    pub fn to_json(&self) -> serde_json::Value {
        let attrs: serde_json::Map<_, _> = self
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        let mut obj = serde_json::Map::new();
        if let Some(id) = &self.id {
            obj.insert("id".into(), id.clone().into());
        }
        obj.insert("name".into(), self.name.clone().into());
        obj.insert("source".into(), EventSource::of(&self.name).name().into());
        obj.insert("contact_id".into(), self.contact_id.clone().into());
        obj.insert("time".into(), format_instant(self.time).into());
        obj.insert("attributes".into(), attrs.into());
        serde_json::Value::Object(obj)
    }
}

/// Reads one event from its JSON form, saying what is wrong and where.
pub fn parse_event(json: &serde_json::Value) -> Result<EventInput, String> {
    let obj = json
        .as_object()
        .ok_or_else(|| format!("an event must be an object, not {}", json_kind(json)))?;
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "id" | "name" | "contact" | "time" | "attributes"
        ) {
            return Err(format!(
                "unknown key `{key}`: an event has `id`, `name`, `contact`, `time` and `attributes`"
            ));
        }
    }
    let id = match obj.get("id") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if event_id_ok(s) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Some(serde_json::Value::String(s)) if s.is_empty() => {
            return Err(
                "`id` is empty: give a non-empty string of at most 256 bytes, or leave `id` out"
                    .into(),
            );
        }
        Some(serde_json::Value::String(s)) => {
            return Err(format!(
                "`id` is {} bytes long: an event id is at most 256 bytes",
                s.len()
            ));
        }
        Some(other) => {
            return Err(format!(
                "`id` must be a non-empty string of at most 256 bytes, not {}",
                json_kind(other)
            ));
        }
    };
    let name = match obj.get("name") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("`name` must be a string, not {}", json_kind(other))),
        None => return Err("`name` is missing: give the event's name".into()),
    };
    check_event_name(&name).map_err(|e| format!("`name`: {e}"))?;
    let contact = parse_contact_ref(obj.get("contact"))?;
    let time = match obj.get("time") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(
            parse_date(s)
                .map_err(|e| format!("`time`: {e}"))?
                .start_ms(),
        ),
        Some(other) => {
            return Err(format!(
                "`time` must be an RFC 3339 string, not {}",
                json_kind(other)
            ));
        }
    };
    let attributes = match obj.get("attributes") {
        None | Some(serde_json::Value::Null) => Attributes::new(),
        Some(serde_json::Value::Object(map)) => parse_attributes(map)?,
        Some(other) => {
            return Err(format!(
                "`attributes` must be a flat object, not {}",
                json_kind(other)
            ));
        }
    };
    Ok(EventInput {
        id,
        name,
        contact,
        time,
        attributes,
    })
}

fn parse_contact_ref(json: Option<&serde_json::Value>) -> Result<ContactRef, String> {
    const HINT: &str = "give exactly one of `id`, `email`, `phone` or `external_id`";
    let Some(serde_json::Value::Object(obj)) = json else {
        return Err(format!("`contact` must be an object: {HINT}"));
    };
    if obj.len() != 1 {
        return Err(format!("`contact` has {} keys: {HINT}", obj.len()));
    }
    let (key, value) = obj.iter().next().ok_or_else(|| HINT.to_string())?;
    let value = match value {
        serde_json::Value::String(s) if !s.is_empty() => s.clone(),
        serde_json::Value::Number(n) if key == "external_id" || key == "id" => n.to_string(),
        other => {
            return Err(format!(
                "`contact.{key}` must be a non-empty string, not {}",
                if other.as_str() == Some("") {
                    "an empty string"
                } else {
                    json_kind(other)
                }
            ));
        }
    };
    contact_ref(key, value).ok_or_else(|| format!("`contact.{key}` is not an identity: {HINT}"))
}

/// An event id given as a string: 1 to 256 bytes.
pub(crate) fn event_id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 256
}

/// The contact reference named by an identity key (`None`: not one).
pub(crate) fn contact_ref(key: &str, value: String) -> Option<ContactRef> {
    match key {
        "id" => Some(ContactRef::Id(value)),
        "email" => Some(ContactRef::Email(value)),
        "phone" => Some(ContactRef::Phone(value)),
        "external_id" => Some(ContactRef::ExternalId(value)),
        _ => None,
    }
}

/// An attribute name: 1 to 100 bytes.
pub(crate) fn attribute_name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= 100
}

fn parse_attributes(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<Attributes, String> {
    let mut attrs = Attributes::new();
    for (k, v) in map {
        if !attribute_name_ok(k) {
            return Err("attribute names must be 1 to 100 bytes long".into());
        }
        let value = match v {
            serde_json::Value::Null => AttrValue::Null,
            serde_json::Value::Bool(b) => AttrValue::Bool(*b),
            serde_json::Value::String(s) => AttrValue::Str(s.clone()),
            serde_json::Value::Number(n) => AttrValue::Num(
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| format!("`attributes.{k}`: `{n}` is not a finite number"))?,
            ),
            other => {
                return Err(format!(
                    "`attributes.{k}` is {}: attributes hold strings, numbers, booleans or null",
                    json_kind(other)
                ));
            }
        };
        attrs.insert(k.clone(), value);
    }
    Ok(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sources() {
        assert_eq!(EventSource::of("MailOpen"), EventSource::System);
        assert_eq!(EventSource::of("mailopen"), EventSource::Custom);
        assert_eq!(EventSource::of("Visit"), EventSource::Visit);
    }

    #[test]
    fn parses_a_full_event() {
        let e = parse_event(&json!({"id": "e1", "name": "product_purchased", "contact": {"email": "a@b.c"},
            "time": "2026-06-01T12:00:00.1234Z", "attributes": {"price": 120, "cat": "shoes", "gift": false, "note": null}}))
        .unwrap();
        assert_eq!(e.contact, ContactRef::Email("a@b.c".into()));
        assert_eq!(e.attributes.get("price"), Some(&AttrValue::Num(120.0)));
        assert_eq!(format_instant(e.time.unwrap()), "2026-06-01T12:00:00.123Z");
    }

    #[test]
    fn a_bad_event_id_is_told_what_is_wrong_with_it() {
        let said = |id: serde_json::Value| {
            parse_event(&json!({"id": id, "name": "x", "contact": {"id": "c1"}})).unwrap_err()
        };
        assert!(
            said(json!("")).starts_with("`id` is empty"),
            "{}",
            said(json!(""))
        );
        assert!(said(json!("a".repeat(257))).contains("257 bytes"));
        assert!(
            said(json!(1.5)).ends_with("not a number"),
            "{}",
            said(json!(1.5))
        );
        assert!(
            parse_event(&json!({"id": "a".repeat(256), "name": "x", "contact": {"id": "c1"}}))
                .is_ok()
        );
    }

    #[test]
    fn refuses_bad_events() {
        for bad in [
            json!({"name": "x y", "contact": {"id": "c1"}}),
            json!({"name": "x", "contact": {"email": ""}}),
            json!({"name": "x", "contact": {"email": null}}),
            json!({"name": "x", "contact": {}}),
            json!({"name": "x", "contact": {"id": "c1", "email": "a@b"}}),
            json!({"name": "x", "contact": {"id": "c1"}, "attributes": {"a": [1]}}),
            json!({"name": "x", "contact": {"id": "c1"}, "time": "yesterday"}),
            json!({"contact": {"id": "c1"}}),
        ] {
            assert!(parse_event(&bad).is_err(), "{bad} accepted");
        }
    }
}
