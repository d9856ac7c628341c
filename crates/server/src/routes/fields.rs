//! The custom field schema: `GET/POST /v1/fields`, `DELETE /v1/fields/{name}`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use flowseg_model::schema::FieldDeclError;
use flowseg_model::{FieldDef, FieldType, Schema};
use flowseg_rules::{Rule, rule_from_json};
use serde_json::{Value, json};

use crate::auth::SecretKey;
use crate::body::json_object;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn field_json(f: &FieldDef) -> Value {
    json!({"name": f.name, "type": f.field_type.name()})
}

/// Lists every field: the standard ones, then the account's custom fields.
pub async fn list(State(state): State<Arc<AppState>>, caller: SecretKey) -> ApiResult<Json<Value>> {
    let schema = schema_of(&state, caller.account_id())?;
    let fields: Vec<Value> = schema.fields().map(|f| field_json(&f)).collect();
    Ok(Json(json!({"fields": fields})))
}

pub fn schema_of(state: &AppState, account: &str) -> ApiResult<Schema> {
    Ok(state.engine.schema(account)?)
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request = json_object(&headers, body, state.config.max_body_bytes).await?;
    if let Some(key) = request
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "type"))
    {
        return Err(ApiError::invalid(format!(
            "unknown key `{key}`: a field is {{\"name\", \"type\"}}."
        ))
        .with_detail(&format!("/{key}"), "unknown key"));
    }
    let name = match request.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(ApiError::invalid(
                "`name` is required: a field name such as `Customer_Status`.",
            )
            .with_detail("/name", "expected a string"));
        }
    };
    let field_type = match request
        .get("type")
        .and_then(Value::as_str)
        .and_then(FieldType::parse)
    {
        Some(t) => t,
        None => {
            return Err(ApiError::invalid(
                "`type` must be one of `text`, `number`, `date`, `boolean`.",
            )
            .with_detail("/type", "expected text, number, date or boolean"));
        }
    };
    let def = FieldDef { name, field_type };
    let schema = schema_of(&state, caller.account_id())?;
    match schema.check_new_field(&def) {
        Ok(()) => {}
        Err(e @ FieldDeclError::InvalidName(_)) => {
            return Err(ApiError::invalid(e.to_string()).with_detail("/name", e.to_string()));
        }
        Err(e) => return Err(ApiError::conflict(e.to_string()).with_detail("/name", e.to_string())),
    }
    let engine = state.engine.clone();
    let account = caller.account_id().to_string();
    let stored = def.clone();
    tokio::task::spawn_blocking(move || engine.add_field(&account, stored)).await??;
    Ok((StatusCode::CREATED, Json(field_json(&def))))
}

/// Whether a rule names a field anywhere.
fn uses_field(rule: &Rule, field: &str) -> bool {
    match rule {
        Rule::All(c) | Rule::Any(c) => c.iter().any(|r| uses_field(r, field)),
        Rule::Not(c) => uses_field(c, field),
        Rule::Field(f) => f.field == field,
        Rule::Event(_) | Rule::Segment(_) => false,
    }
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let account = caller.account_id().to_string();
    let schema = schema_of(&state, &account)?;
    if Schema::is_standard(&name) {
        return Err(ApiError::invalid(format!(
            "`{name}` is a standard field and cannot be deleted."
        )));
    }
    if !schema.custom.iter().any(|f| f.name == name) {
        return Err(ApiError::not_found(format!(
            "There is no custom field `{name}`."
        )));
    }
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || -> ApiResult<()> {
        let users: Vec<String> = engine
            .store()
            .segments(&account)?
            .into_iter()
            .filter(|s| rule_from_json(&s.rule, "").is_ok_and(|r| uses_field(&r, &name)))
            .map(|s| format!("`{}`", s.name))
            .collect();
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "Field `{name}` is used by segment {}: change those segments first.",
                users.join(", ")
            )));
        }
        engine.delete_field(&account, &name)?;
        Ok(())
    })
    .await??;
    Ok(StatusCode::NO_CONTENT)
}
