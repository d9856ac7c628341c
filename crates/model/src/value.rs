//! Field types and typed field values.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::{format_instant, parse_instant};

/// The type of a contact field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Text,
    Number,
    Date,
    Boolean,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Boolean => "boolean",
        }
    }

    /// Parses `text`, `number`, `date` or `boolean`.
    pub fn parse(s: &str) -> Option<FieldType> {
        match s {
            "text" => Some(FieldType::Text),
            "number" => Some(FieldType::Number),
            "date" => Some(FieldType::Date),
            "boolean" => Some(FieldType::Boolean),
            _ => None,
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A stored field value. Dates are epoch milliseconds (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Text(String),
    Number(f64),
    Date(i64),
    Bool(bool),
}

impl Value {
    pub fn field_type(&self) -> FieldType {
        match self {
            Value::Text(_) => FieldType::Text,
            Value::Number(_) => FieldType::Number,
            Value::Date(_) => FieldType::Date,
            Value::Bool(_) => FieldType::Boolean,
        }
    }

    /// Reads a JSON value as a value of `ty`. `Ok(None)` is "no value"
    /// (JSON null, or the empty string for text); an `Err` says what was
    /// expected.
    pub fn from_json(ty: FieldType, json: &serde_json::Value) -> Result<Option<Value>, String> {
        use serde_json::Value as J;
        match (ty, json) {
            (_, J::Null) => Ok(None),
            (FieldType::Text, J::String(s)) if s.is_empty() => Ok(None),
            (FieldType::Text, J::String(s)) => Ok(Some(Value::Text(s.clone()))),
            (FieldType::Number, J::Number(n)) => n
                .as_f64()
                .filter(|f| f.is_finite())
                .map(|f| Some(Value::Number(f)))
                .ok_or_else(|| format!("`{n}` is not a finite number")),
            (FieldType::Date, J::String(s)) if s.is_empty() => Ok(None),
            (FieldType::Date, J::String(s)) => parse_instant(s)
                .map(|ms| Some(Value::Date(ms)))
                .map_err(|e| e.to_string()),
            (FieldType::Boolean, J::Bool(b)) => Ok(Some(Value::Bool(*b))),
            (ty, other) => Err(format!(
                "expected {} but got {}",
                expected_shape(ty),
                json_kind(other)
            )),
        }
    }

    /// The JSON form used in API answers and exports.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::Number(n) => serde_json::Number::from_f64(*n)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Date(ms) => serde_json::Value::String(format_instant(*ms)),
            Value::Bool(b) => serde_json::Value::Bool(*b),
        }
    }
}

fn expected_shape(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Text => "a string",
        FieldType::Number => "a number",
        FieldType::Date => "a date string such as `2026-06-01` or `2026-06-01T12:00:00Z`",
        FieldType::Boolean => "true or false",
    }
}

/// A short name for a JSON value's kind, for error messages.
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}
