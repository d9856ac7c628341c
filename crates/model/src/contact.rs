//! Contacts and the parsing of contact writes (upserts) against a schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::identity::{check_email, check_external_id, normalize_phone};
use crate::schema::{CREATE_TIME, EMAIL, EXTERNAL_ID, MOBILE_PHONE, Schema, UPDATE_TIME};
use crate::time::format_instant;
use crate::value::{Value, json_kind};

/// A stored contact: its server-assigned id and the fields that have a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub fields: BTreeMap<String, Value>,
}

impl Contact {
    pub fn text(&self, field: &str) -> Option<&str> {
        match self.fields.get(field) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// The API's JSON form: a flat object of field → value plus `id`.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut obj = serde_json::Map::new();
        obj.insert("id".into(), serde_json::Value::String(self.id.clone()));
        for (k, v) in &self.fields {
            obj.insert(k.clone(), v.to_json());
        }
        obj
    }
}

/// A contact write: the fields to set (`Some`) or clear (`None`). Fields not
/// listed stay as they were.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactWrite {
    /// An explicit contact id to update (optional; must exist).
    pub id: Option<String>,
    pub set: BTreeMap<String, Option<Value>>,
}

impl ContactWrite {
    pub fn identity(&self, field: &str) -> Option<&str> {
        match self.set.get(field) {
            Some(Some(Value::Text(s))) => Some(s),
            _ => None,
        }
    }
}

/// One problem with one field of a contact write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

/// Reads a JSON object as a contact write, checking every field against the
/// schema. Identity fields are normalised; `UpdateTime` is ignored (it is
/// always the server's), so exported contacts can be imported again.
pub fn parse_contact_write(
    schema: &Schema,
    obj: &serde_json::Map<String, serde_json::Value>,
) -> Result<ContactWrite, Vec<FieldProblem>> {
    let mut write = ContactWrite::default();
    let mut problems = Vec::new();
    for (name, json) in obj {
        if name == "id" {
            match json {
                serde_json::Value::String(s) if !s.is_empty() => write.id = Some(s.clone()),
                serde_json::Value::Null => {}
                other => problems.push(FieldProblem {
                    field: "id".into(),
                    message: format!("expected a contact id string but got {}", json_kind(other)),
                }),
            }
            continue;
        }
        if name == UPDATE_TIME {
            continue;
        }
        let Some(ty) = schema.field_type(name) else {
            problems.push(FieldProblem {
                field: name.clone(),
                message: "is not a declared field: declare it first with POST /v1/fields".into(),
            });
            continue;
        };
        match Value::from_json(ty, json) {
            Ok(value) => match normalize_identity(name, value) {
                Ok(v) => {
                    write.set.insert(name.clone(), v);
                }
                Err(message) => problems.push(FieldProblem {
                    field: name.clone(),
                    message,
                }),
            },
            Err(message) => problems.push(FieldProblem {
                field: name.clone(),
                message,
            }),
        }
    }
    if problems.is_empty() {
        Ok(write)
    } else {
        Err(problems)
    }
}

fn normalize_identity(field: &str, value: Option<Value>) -> Result<Option<Value>, String> {
    let Some(Value::Text(s)) = &value else {
        return Ok(value);
    };
    let normalized = match field {
        MOBILE_PHONE => normalize_phone(s).map_err(|e| e.to_string())?,
        EMAIL => check_email(s).map_err(|e| e.to_string())?.to_string(),
        EXTERNAL_ID => check_external_id(s).map_err(|e| e.to_string())?.to_string(),
        _ => return Ok(value),
    };
    Ok(Some(Value::Text(normalized)))
}

/// Applies a write to a contact. `now` sets `UpdateTime`, and `CreateTime`
/// when the contact is new and the write does not supply it; an update never
/// changes `CreateTime`.
pub fn apply_write(contact: &mut Contact, write: &ContactWrite, is_new: bool, now: i64) {
    for (name, value) in &write.set {
        // `CreateTime` may be supplied on create (migrations); afterwards it
        // is the creation time and an update leaves it alone.
        if name == CREATE_TIME && !is_new {
            continue;
        }
        match value {
            Some(v) => {
                contact.fields.insert(name.clone(), v.clone());
            }
            None => {
                contact.fields.remove(name);
            }
        }
    }
    if is_new && !contact.fields.contains_key(CREATE_TIME) {
        contact.fields.insert(CREATE_TIME.into(), Value::Date(now));
    }
    contact.fields.insert(UPDATE_TIME.into(), Value::Date(now));
}

/// Formats a contact's date field for display; a helper for CSV exports.
pub fn display_value(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 1e15 {
                format!("{}", *n as i64)
            } else {
                n.to_string()
            }
        }
        Value::Date(ms) => format_instant(*ms),
        Value::Bool(b) => b.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FieldDef;
    use crate::value::FieldType;
    use serde_json::json;

    fn schema() -> Schema {
        Schema {
            custom: vec![
                FieldDef {
                    name: "Age".into(),
                    field_type: FieldType::Number,
                },
                FieldDef {
                    name: "Birthday".into(),
                    field_type: FieldType::Date,
                },
            ],
        }
    }

    #[test]
    fn parses_and_normalises() {
        let obj = json!({"Email": "Ann@X.com", "MobilePhone": "+48 600-100-200", "Age": 31, "Birthday": "1990-04-01", "FirstName": null, "UpdateTime": "2020-01-01"});
        let w = parse_contact_write(&schema(), obj.as_object().unwrap()).unwrap();
        assert_eq!(w.identity("MobilePhone"), Some("+48600100200"));
        assert_eq!(w.identity("Email"), Some("Ann@X.com"));
        assert_eq!(w.set.get("FirstName"), Some(&None));
        assert!(!w.set.contains_key("UpdateTime"));
    }

    #[test]
    fn create_time_is_kept_by_updates() {
        let schema = schema();
        let created = parse_contact_write(
            &schema,
            json!({"Email": "a@x.io", "CreateTime": "2020-01-01"})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let mut c = Contact {
            id: "c0".into(),
            fields: Default::default(),
        };
        apply_write(&mut c, &created, true, 1_000);
        assert_eq!(
            c.fields.get("CreateTime"),
            Some(&Value::Date(1_577_836_800_000))
        );
        let update = parse_contact_write(
            &schema,
            json!({"CreateTime": "2024-01-01", "FirstName": "Ann"})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        apply_write(&mut c, &update, false, 2_000);
        assert_eq!(
            c.fields.get("CreateTime"),
            Some(&Value::Date(1_577_836_800_000))
        );
        assert_eq!(c.fields.get("UpdateTime"), Some(&Value::Date(2_000)));
    }

    #[test]
    fn names_every_bad_field() {
        let obj = json!({"Colour": "red", "Age": "thirty", "MobilePhone": "600100200", "Birthday": "01/04/1990"});
        let problems = parse_contact_write(&schema(), obj.as_object().unwrap()).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, vec!["Age", "Birthday", "Colour", "MobilePhone"]);
    }
}
