//! The contact rows of member listings, previews, exports and snapshots:
//! `id`, `Email`, `MobilePhone`, `ExternalId`, then the fields asked for.

use std::collections::HashMap;

use flowseg_engine::AccountIndex;
use flowseg_model::Schema;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

pub const IDENTITY_COLUMNS: [&str; 3] = ["Email", "MobilePhone", "ExternalId"];

/// The columns of a listing, checked against the schema.
pub fn columns(schema: &Schema, fields: Option<&str>) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = IDENTITY_COLUMNS.iter().map(|s| s.to_string()).collect();
    for name in fields
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if schema.field_type(name).is_none() {
            return Err(ApiError::invalid(format!(
                "`fields` names `{name}`, which is not a field of this account."
            ))
            .with_detail("fields", format!("unknown field `{name}`")));
        }
        if !out.iter().any(|c| c == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// One contact as a listing row (`None` when the contact no longer exists).
pub fn row(index: &AccountIndex, ordinal: u32, columns: &[String]) -> Option<Map<String, Value>> {
    let id = index.contact_id(ordinal)?;
    let mut obj = Map::new();
    obj.insert("id".into(), id.into());
    for c in columns {
        obj.insert(
            c.clone(),
            index
                .field_value(ordinal, c)
                .map_or(Value::Null, |v| v.to_json()),
        );
    }
    Some(obj)
}

/// Query parameters as a map (last value wins).
pub type QueryMap = HashMap<String, String>;

/// `limit`: default 100, capped at 1000.
pub fn limit(query: &QueryMap) -> ApiResult<usize> {
    match query.get("limit") {
        None => Ok(100),
        Some(s) => match s.parse::<usize>() {
            Ok(0) | Err(_) => Err(ApiError::malformed(format!(
                "`limit` must be a positive whole number, not `{s}`."
            ))),
            Ok(n) => Ok(n.min(1000)),
        },
    }
}

/// `as_of` (RFC 3339, or a plain date), default now.
pub fn as_of(query: &QueryMap) -> ApiResult<i64> {
    match query.get("as_of").filter(|s| !s.is_empty()) {
        None => Ok(flowseg_model::time::now_ms()),
        Some(s) => flowseg_model::time::parse_instant(s)
            .map_err(|e| ApiError::malformed(format!("`as_of`: {e}."))),
    }
}
