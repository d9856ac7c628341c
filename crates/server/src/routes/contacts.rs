//! Contacts: upsert (one or many), read by id or identity, list, erase,
//! their events and their segments.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flowseg_engine::EngineError;
use flowseg_model::contact::parse_contact_write;
use flowseg_model::identity::normalize_phone;
use flowseg_model::time::{format_instant, now_ms};
use flowseg_model::{Contact, ContactWrite};
use flowseg_store::StoreError;
use serde_json::{Value, json};

use crate::auth::SecretKey;
use crate::body::{parse_json, read_body};
use crate::error::{ApiError, ApiResult};
use crate::listing::{QueryMap, as_of, limit};
use crate::metrics::Metrics;
use crate::routes::fields::schema_of;
use crate::state::AppState;

/// One item's error in a batch answer.
pub fn item_error(index: usize, status: u16, code: &str, message: &str) -> Value {
    json!({"index": index, "error": {"code": code, "message": message, "status": status}})
}

pub fn contact_json(c: &Contact) -> Value {
    Value::Object(c.to_json())
}

/// `POST /v1/contacts`: one contact object or an array of them.
pub async fn upsert(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let (items, single) = match parse_json(&bytes)? {
        Value::Array(items) => (items, false),
        obj @ Value::Object(_) => (vec![obj], true),
        other => {
            return Err(ApiError::malformed(format!(
                "Send a contact object or an array of them, not {}.",
                flowseg_model::value::json_kind(&other)
            )));
        }
    };
    if items.len() > state.config.max_batch_items {
        return Err(ApiError::too_large(format!(
            "The batch has {} contacts; the limit is {} per request.",
            items.len(),
            state.config.max_batch_items
        )));
    }
    let account = caller.account_id().to_string();
    let schema = schema_of(&state, &account)?;
    let mut results: Vec<Option<Value>> = vec![None; items.len()];
    let mut writes: Vec<ContactWrite> = Vec::new();
    let mut positions: Vec<usize> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            results[i] = Some(item_error(
                i,
                422,
                "invalid_contact",
                "A contact must be a JSON object of field names and values.",
            ));
            continue;
        };
        match parse_contact_write(&schema, obj) {
            Ok(w) => {
                writes.push(w);
                positions.push(i);
            }
            Err(problems) => {
                let message = problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut error = item_error(i, 422, "invalid_contact", &message);
                // Each field at fault, as a pointer into the item.
                error["error"]["details"] = problems
                    .iter()
                    .map(|p| json!({"path": format!("/{}", p.field), "message": p.message}))
                    .collect();
                results[i] = Some(error);
            }
        }
    }
    let engine = state.engine.clone();
    let stored =
        tokio::task::spawn_blocking(move || engine.upsert_contacts(&account, &writes, now_ms()))
            .await??;
    let mut created_single = false;
    let mut written = 0;
    for result in stored {
        match result {
            Ok(ok) => {
                let i = positions[ok.index];
                created_single = ok.created;
                written += 1;
                results[i] = Some(json!({"index": i, "id": ok.id, "created": ok.created}));
            }
            Err(e) => {
                let i = positions[e.index];
                results[i] = Some(item_error(i, e.status, &e.code, &e.message));
            }
        }
    }
    Metrics::add(&state.metrics.contacts_written, written);
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| r.unwrap_or(Value::Null))
        .collect();
    if single {
        // A single contact answers with the status it had alone.
        let only = &results[0];
        if let Some(err) = only.get("error") {
            let status = err["status"].as_u64().unwrap_or(422) as u16;
            let message = err["message"].as_str().unwrap_or_default().to_string();
            let code = if status == 409 {
                "conflict"
            } else if status == 404 {
                "not_found"
            } else {
                "invalid"
            };
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let mut error = ApiError::new(status, code, message);
            if let Some(details) = err.get("details").and_then(Value::as_array) {
                error.details = details.clone();
            }
            return Err(error);
        }
        let status = if created_single {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let body = json!({"id": only["id"], "created": only["created"], "results": results});
        return Ok((status, Json(body)).into_response());
    }
    Ok(Json(json!({"results": results})).into_response())
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let engine = state.engine.clone();
    let account = caller.account_id().to_string();
    let contact =
        tokio::task::spawn_blocking(move || engine.store().contact(&account, &id).map(|c| (c, id)))
            .await??;
    match contact {
        (Some(c), _) => Ok(Json(contact_json(&c))),
        (None, id) => Err(ApiError::not_found(format!("There is no contact `{id}`."))),
    }
}

/// `GET /v1/contacts?email=` (or `phone=`, `external_id=`): that contact;
/// without a parameter, a page of all contacts.
pub async fn find(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Query(query): Query<QueryMap>,
) -> ApiResult<Json<Value>> {
    let account = caller.account_id().to_string();
    let engine = state.engine.clone();
    let answer =
        tokio::task::spawn_blocking(move || find_blocking(&engine, &account, &query)).await??;
    Ok(Json(answer))
}

fn find_blocking(
    engine: &flowseg_engine::Engine,
    account: &str,
    query: &QueryMap,
) -> ApiResult<Value> {
    let store = engine.store();
    if let Some(email) = query.get("email") {
        return store
            .contact_by_email(account, email)?
            .map(|c| contact_json(&c))
            .ok_or_else(|| ApiError::not_found("No contact has this email."));
    }
    let index = engine.index(account)?;
    let index = index.read().unwrap_or_else(|e| e.into_inner());
    if let Some((field, value)) = [("phone", "MobilePhone"), ("external_id", "ExternalId")]
        .iter()
        .find_map(|(param, field)| query.get(*param).map(|v| (*field, v.clone())))
    {
        let wanted = if field == "MobilePhone" {
            normalize_phone(&value).map_err(|e| ApiError::malformed(e.to_string()))?
        } else {
            value
        };
        let id = index
            .live()
            .iter()
            .find(|o| matches!(index.field_value(*o, field), Some(flowseg_model::Value::Text(s)) if s == wanted))
            .and_then(|o| index.contact_id(o))
            .ok_or_else(|| ApiError::not_found(format!("No contact has this {field}.")))?;
        return store
            .contact(account, &id)?
            .map(|c| contact_json(&c))
            .ok_or_else(|| ApiError::not_found("No contact has this identity."));
    }
    // A page of all contacts, in id order.
    let limit = limit(query)?;
    let start = match query.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => c
            .parse::<u32>()
            .map_err(|_| ApiError::malformed(format!("`{c}` is not a valid cursor.")))?
            .saturating_add(1),
        None => 0,
    };
    let page: Vec<u32> = index.live().range(start..).take(limit + 1).collect();
    let next = (page.len() > limit).then(|| page[limit - 1].to_string());
    let mut contacts = Vec::with_capacity(limit);
    for o in page.iter().take(limit) {
        if let Some(id) = index.contact_id(*o)
            && let Some(c) = store.contact(account, &id)?
        {
            contacts.push(contact_json(&c));
        }
    }
    Ok(json!({"contacts": contacts, "next_cursor": next}))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let engine = state.engine.clone();
    let account = caller.account_id().to_string();
    let id2 = id.clone();
    let deleted =
        tokio::task::spawn_blocking(move || engine.delete_contact(&account, &id2)).await??;
    if deleted {
        tracing::info!("Erased a contact and its events.");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("There is no contact `{id}`.")))
    }
}

/// `GET /v1/contacts/{id}/events`: newest first, paged.
pub async fn events(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
    Query(query): Query<QueryMap>,
) -> ApiResult<Json<Value>> {
    let limit = limit(&query)?;
    let cursor = query.get("cursor").cloned();
    let engine = state.engine.clone();
    let account = caller.account_id().to_string();
    let (events, next) = tokio::task::spawn_blocking(move || -> ApiResult<_> {
        if engine.store().contact(&account, &id)?.is_none() {
            return Err(ApiError::not_found(format!("There is no contact `{id}`.")));
        }
        match engine.contact_events(&account, &id, limit, cursor.as_deref()) {
            Err(EngineError::Store(StoreError::Invalid(m))) => Err(ApiError::malformed(format!(
                "{m}: pass the `next_cursor` of the previous page."
            ))),
            other => Ok(other?),
        }
    })
    .await??;
    let events: Vec<Value> = events.iter().map(|e| e.to_json()).collect();
    Ok(Json(json!({"events": events, "next_cursor": next})))
}

/// `GET /v1/contacts/{id}/segments`: the saved segments the contact is in.
pub async fn segments(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
    Query(query): Query<QueryMap>,
) -> ApiResult<Json<Value>> {
    let now = as_of(&query)?;
    let account = caller.account_id().to_string();
    let engine = state.engine.clone();
    let found = tokio::task::spawn_blocking(move || -> ApiResult<Vec<Value>> {
        let index = engine.index(&account)?;
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        let ordinal = index
            .live_ordinal(&id)
            .ok_or_else(|| ApiError::not_found(format!("There is no contact `{id}`.")))?;
        let source = engine.segment_source(&account);
        let mut out = Vec::new();
        for seg in engine.store().segments(&account)? {
            // A segment that no longer validates (e.g. a field was retyped)
            // has no members.
            let Ok((_, plan)) = source.plan(&seg.rule, "/rule", index.schema(), Some(&seg.id))
            else {
                continue;
            };
            if index.contains(&plan, ordinal, now) {
                out.push(json!({"id": seg.id, "name": seg.name}));
            }
        }
        Ok(out)
    })
    .await??;
    Ok(Json(
        json!({"as_of": format_instant(now), "segments": found}),
    ))
}
