//! `POST /v1/accounts` and `PATCH /v1/accounts/{id}` (administrator token).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use flowseg_model::time::now_ms;
use flowseg_store::{AccountRecord, ApiKeyRecord, KeyKind};
use serde_json::{Value, json};

use crate::auth::{Admin, hash_key, new_key};
use crate::body::{parse_json, read_body};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Add-ons an account can have.
pub const ADDONS: &[&str] = &["custom_events"];

fn parse_addons(value: Option<&Value>) -> ApiResult<BTreeMap<String, bool>> {
    let mut out = BTreeMap::new();
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(out);
    };
    let Some(obj) = value.as_object() else {
        return Err(ApiError::invalid(
            "`addons` must be an object such as {\"custom_events\": true}.",
        )
        .with_detail("/addons", "expected an object"));
    };
    for (name, on) in obj {
        if !ADDONS.contains(&name.as_str()) {
            return Err(ApiError::invalid(format!(
                "`{name}` is not an add-on: the add-ons are {}.",
                ADDONS.join(", ")
            ))
            .with_detail(&format!("/addons/{name}"), "unknown add-on"));
        }
        let Some(on) = on.as_bool() else {
            return Err(
                ApiError::invalid(format!("add-on `{name}` must be true or false."))
                    .with_detail(&format!("/addons/{name}"), "expected a boolean"),
            );
        };
        out.insert(name.clone(), on);
    }
    Ok(out)
}

fn account_json(a: &AccountRecord) -> Value {
    json!({"id": a.id, "addons": a.addons})
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let request = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        parse_json(&bytes)?
    };
    if !request.is_object() {
        return Err(ApiError::malformed(
            "The request body must be a JSON object (or empty).",
        ));
    }
    let addons = parse_addons(request.get("addons"))?;
    let secret = new_key("sk_");
    let public = new_key("pk_");
    let engine = state.engine.clone();
    let keys = vec![
        ApiKeyRecord {
            kind: KeyKind::Secret,
            hash: hash_key(&secret),
            prefix: secret[..7].to_string(),
        },
        ApiKeyRecord {
            kind: KeyKind::Public,
            hash: hash_key(&public),
            prefix: public[..7].to_string(),
        },
    ];
    let record = tokio::task::spawn_blocking(move || -> ApiResult<AccountRecord> {
        let id = engine.store().new_account_id()?;
        let record = AccountRecord {
            id,
            created_at: now_ms(),
            addons,
            keys,
        };
        engine.create_account(record.clone())?;
        Ok(record)
    })
    .await??;
    tracing::info!(account = %record.id, "Created an account.");
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": record.id, "secret_key": secret, "public_key": public, "addons": record.addons}),
        ),
    ))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let request = crate::body::json_object(&headers, body, state.config.max_body_bytes).await?;
    if let Some(key) = request.keys().find(|k| k.as_str() != "addons") {
        return Err(ApiError::invalid(format!(
            "`{key}` cannot be changed: send {{\"addons\": {{...}}}}."
        ))
        .with_detail(&format!("/{key}"), "unknown key"));
    }
    let addons = parse_addons(request.get("addons"))?;
    let engine = state.engine.clone();
    let record = tokio::task::spawn_blocking(move || -> ApiResult<AccountRecord> {
        let store = engine.store();
        let mut record = store
            .account(&id)?
            .ok_or_else(|| ApiError::not_found(format!("There is no account `{id}`.")))?;
        record.addons.extend(addons);
        store.update_account(&record)?;
        Ok(record)
    })
    .await??;
    Ok(Json(account_json(&record)))
}
