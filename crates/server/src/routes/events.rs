//! Event ingest (`POST /v1/events`), the event catalog and usage.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use flowseg_engine::events::Cell;
use flowseg_model::event::parse_event;
use flowseg_model::event_wire::parse_valid_events;
use flowseg_model::time::{format_instant, now_ms};
use flowseg_model::{EventInput, EventSource};
use flowseg_store::KeyKind;
use serde_json::{Value, json};

use crate::auth::{AnyKey, SecretKey};
use crate::body::{is_ndjson, parse_json, read_body};
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::routes::contacts::item_error;
use crate::state::AppState;

/// The items of an events request: one object, an array, or NDJSON. A line
/// of NDJSON that is not JSON is an item of its own that will be rejected.
fn items(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Vec<Result<Value, String>>> {
    let ndjson = is_ndjson(headers);
    if !ndjson {
        match parse_json(bytes) {
            Ok(Value::Array(items)) => return Ok(items.into_iter().map(Ok).collect()),
            Ok(obj @ Value::Object(_)) => return Ok(vec![Ok(obj)]),
            Ok(other) => {
                return Err(ApiError::malformed(format!(
                    "Send an event object, an array of events, or NDJSON, not {}.",
                    flowseg_model::value::json_kind(&other)
                )));
            }
            // Several JSON documents, one per line, without the NDJSON
            // content type: read them as NDJSON.
            Err(e) if bytes.iter().filter(|b| **b == b'\n').count() == 0 => return Err(e),
            Err(_) => {}
        }
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::malformed("The NDJSON body is not valid UTF-8."))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .map_err(|e| format!("This line is not valid JSON: {e}."))
        })
        .collect())
}

/// Why an item was not read as an event.
enum ItemProblem {
    /// An NDJSON line that is not JSON (400 for that item).
    Unreadable(String),
    /// JSON that is not a valid event (422 for that item).
    Invalid(String),
}
use ItemProblem::{Invalid, Unreadable};

/// `POST /v1/events`.
pub async fn ingest(
    State(state): State<Arc<AppState>>,
    caller: AnyKey,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    // The usual request (JSON, every event valid) is read straight into
    // events; anything else the general way, which locates each problem.
    let valid = if is_ndjson(&headers) {
        None
    } else {
        parse_valid_events(&bytes)
    };
    let (inputs, positions, mut rejected) = match valid {
        Some(events) => {
            check_batch_size(&state, events.len())?;
            check_gates(&caller, events.iter().map(|e| e.name.as_str()))?;
            let positions = (0..events.len()).collect();
            (events, positions, BTreeMap::new())
        }
        None => read_items(&state, &caller, &headers, &bytes)?,
    };
    let account = caller.account.id.clone();
    let outcome = state.commits.append(&account, inputs, now_ms()).await?;
    for (i, message) in &outcome.rejected {
        let i = positions[*i];
        rejected.insert(i, item_error(i, 422, "invalid_event", message));
    }
    Metrics::add(&state.metrics.events_accepted, outcome.accepted.len());
    Metrics::add(&state.metrics.events_duplicate, outcome.duplicates.len());
    Metrics::add(&state.metrics.events_rejected, rejected.len());
    Ok(Json(json!({
        "accepted": outcome.accepted.len(),
        "duplicates": outcome.duplicates.len(),
        "rejected": rejected.into_values().collect::<Vec<_>>(),
    })))
}

/// Refuses a request with more events than the limit.
fn check_batch_size(state: &AppState, items: usize) -> ApiResult<()> {
    if items > state.config.max_batch_items {
        return Err(ApiError::too_large(format!(
            "The batch has {items} events; the limit is {} per request.",
            state.config.max_batch_items
        )));
    }
    Ok(())
}

/// Gates that refuse the request whole, before anything is stored: the
/// public key posts only `Visit`, custom events need their add-on. `names`
/// are the items' event names (an item whose name is invalid is no event
/// of any source; it is rejected on its own).
fn check_gates<'a>(caller: &AnyKey, names: impl Iterator<Item = &'a str>) -> ApiResult<()> {
    let mut first_custom = None;
    for name in names.filter(|name| flowseg_model::event::check_event_name(name).is_ok()) {
        let source = EventSource::of(name);
        if caller.kind == KeyKind::Public && source != EventSource::Visit {
            return Err(ApiError::forbidden(format!(
                "The public key may only post `Visit` events, and this request holds `{name}`: use the secret key."
            )));
        }
        if source == EventSource::Custom && first_custom.is_none() {
            first_custom = Some(name);
        }
    }
    if let Some(name) = first_custom
        && !caller.account.addon("custom_events")
    {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "addon_required",
            format!(
                "Custom events need the `custom_events` add-on, which this account does not have, and this request holds the custom event `{name}`; nothing was stored. System events and `Visit` need no add-on."
            ),
        ));
    }
    Ok(())
}

/// The events of a request read item by item: the events read, each one's
/// position in the request, and the items rejected (by position).
type ReadItems = (Vec<EventInput>, Vec<usize>, BTreeMap<usize, Value>);

/// Reads a request the general way: each item to a JSON value, then to an
/// event, each problem reported at its item.
fn read_items(
    state: &AppState,
    caller: &AnyKey,
    headers: &HeaderMap,
    bytes: &[u8],
) -> ApiResult<ReadItems> {
    let items = items(headers, bytes)?;
    check_batch_size(state, items.len())?;
    check_gates(
        caller,
        items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .filter_map(|v| v.get("name").and_then(Value::as_str)),
    )?;
    let mut rejected: BTreeMap<usize, Value> = BTreeMap::new();
    let mut inputs: Vec<EventInput> = Vec::with_capacity(items.len());
    let mut positions: Vec<usize> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let parsed = item
            .map_err(Unreadable)
            .and_then(|v| parse_event(&v).map_err(Invalid));
        match parsed {
            Ok(e) => {
                inputs.push(e);
                positions.push(i);
            }
            Err(Unreadable(message)) => {
                rejected.insert(i, item_error(i, 400, "malformed", &message));
            }
            Err(Invalid(message)) => {
                rejected.insert(i, item_error(i, 422, "invalid_event", &message));
            }
        }
    }
    Ok((inputs, positions, rejected))
}

/// `GET /v1/events/catalog`: event names seen, with source, count, last
/// time, and attributes with the JSON types seen.
pub async fn catalog(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
) -> ApiResult<Json<Value>> {
    let index = state.engine.index(caller.account_id())?;
    let index = index.read().unwrap_or_else(|e| e.into_inner());
    let live = index.live();
    let mut events: Vec<Value> = Vec::new();
    for (name, partition) in index.partitions() {
        if let Some(summary) = partition.catalog_summary(live) {
            if summary.events > 0 {
                events.push(catalog_entry(
                    name,
                    summary.events,
                    summary.last_time,
                    summary
                        .attributes
                        .iter()
                        .filter_map(|(attr, k)| {
                            let types = [
                                (k.boolean, "boolean"),
                                (k.null, "null"),
                                (k.number, "number"),
                                (k.string, "string"),
                            ]
                            .into_iter()
                            .filter_map(|(present, t)| present.then_some(t))
                            .collect::<Vec<_>>();
                            (!types.is_empty()).then(|| json!({"name": attr, "types": types}))
                        })
                        .collect(),
                ));
            }
            continue;
        }
        // Erased contacts' rows await a merge: list the live rows.
        let rows = partition.live_rows(live);
        if rows.is_empty() {
            continue;
        }
        let last = rows.iter().map(|r| partition.time(*r)).max();
        let attributes: Vec<Value> = partition
            .attribute_names()
            .filter_map(|attr| {
                let column = partition.column(attr)?;
                let mut types = std::collections::BTreeSet::new();
                for r in &rows {
                    match column.cell(*r) {
                        Cell::Absent => {}
                        Cell::Null => {
                            types.insert("null");
                        }
                        Cell::Str(_) => {
                            types.insert("string");
                        }
                        Cell::Num(_) => {
                            types.insert("number");
                        }
                        Cell::Bool(_) => {
                            types.insert("boolean");
                        }
                    }
                }
                (!types.is_empty()).then(|| json!({"name": attr, "types": types}))
            })
            .collect();
        events.push(catalog_entry(name, rows.len(), last, attributes));
    }
    events.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(Json(json!({"events": events})))
}

fn catalog_entry(name: &str, count: usize, last: Option<i64>, attributes: Vec<Value>) -> Value {
    json!({
        "name": name,
        "source": EventSource::of(name).name(),
        "count": count,
        "last_time": last.map(format_instant),
        "attributes": attributes,
    })
}

/// `GET /v1/usage`.
pub async fn usage(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
) -> ApiResult<Json<Value>> {
    let engine = state.engine.clone();
    let account = caller.account_id().to_string();
    let months = tokio::task::spawn_blocking(move || engine.store().usage(&account)).await??;
    let months: Vec<Value> = months
        .into_iter()
        .map(|(m, n)| json!({"month": m, "custom_events": n}))
        .collect();
    Ok(Json(json!({"months": months})))
}
