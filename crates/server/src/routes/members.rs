//! A segment's members: paged listing with a consistent cursor, streamed
//! export, explain for one contact, and snapshots (frozen recipient lists).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flowseg_model::contact::display_value;
use flowseg_model::time::{format_instant, now_ms, parse_instant};
use flowseg_store::{SnapshotMeta, SnapshotRecord, contact_seq};
use serde_json::{Value, json};

use crate::auth::SecretKey;
use crate::body::{parse_json, read_body};
use crate::error::{ApiError, ApiResult};
use crate::listing::{self, QueryMap, as_of, limit};
use crate::routes::segments::{evaluate, load};
use crate::state::AppState;

/// A listing's members: computed for this page, or frozen earlier.
enum Frozen {
    Owned(roaring::RoaringBitmap),
    Shared(Arc<crate::state::FrozenResult>),
}

impl Frozen {
    fn bitmap(&self) -> &roaring::RoaringBitmap {
        match self {
            Frozen::Owned(b) => b,
            Frozen::Shared(f) => &f.members,
        }
    }
}

/// Parses `r{result}.{after}`.
fn parse_cursor(cursor: &str) -> Option<(u64, u32)> {
    let (result, after) = cursor.strip_prefix('r')?.split_once('.')?;
    Some((result.parse().ok()?, after.parse().ok()?))
}

/// `GET /v1/segments/{id}/members?as_of=&limit=&cursor=&fields=`. The first
/// page freezes the result; the cursor pages that same result.
pub async fn members(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
    Query(query): Query<QueryMap>,
) -> ApiResult<Json<Value>> {
    let limit = limit(&query)?;
    let account = caller.account_id().to_string();
    let state2 = state.clone();
    let answer = tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        // Checked first, so a refused request leaves no frozen result behind.
        let columns = listing::columns(&state2.engine.schema(&account)?, query.get("fields").map(String::as_str))?;
        // A cursor pages the result frozen by the first page; a first page
        // evaluates, and freezes only when there is more than one page.
        let (frozen_id, after, members, as_of) = match query.get("cursor").filter(|c| !c.is_empty()) {
            Some(cursor) => {
                let (result, after) = parse_cursor(cursor).ok_or_else(|| ApiError::malformed(format!("`{cursor}` is not a valid cursor: pass the `next_cursor` of the previous page.")))?;
                let frozen = state2.pages.get(result, &account, &id).ok_or_else(|| ApiError::malformed("This cursor has expired or belongs to another listing: start again without `cursor`."))?;
                let as_of = frozen.as_of;
                (Some(result), Some(after), Frozen::Shared(frozen), as_of)
            }
            None => {
                let now = as_of(&query)?;
                let (_, _, plan) = load(&state2.engine, &account, &id)?;
                let (members, _) = evaluate(&state2, &account, &plan, now)?;
                (None, None, Frozen::Owned(members), now)
            }
        };
        let start = after.map_or(0, |a| a.saturating_add(1));
        let page: Vec<u32> = members.bitmap().range(start..).take(limit + 1).collect();
        let count = members.bitmap().len();
        let next = if page.len() > limit {
            let frozen_id = match (frozen_id, members) {
                (Some(id), _) => id,
                (None, Frozen::Owned(bitmap)) => state2.pages.freeze(&account, &id, bitmap, as_of),
                (None, Frozen::Shared(_)) => return Err(ApiError::internal("a shared result without an id")),
            };
            Some(format!("r{frozen_id}.{}", page[limit - 1]))
        } else {
            None
        };
        let index = state2.engine.index(&account)?;
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        // Contacts erased since the listing began are left out.
        let rows: Vec<Value> = page
            .iter()
            .take(limit)
            .filter_map(|o| listing::row(&index, *o, &columns))
            .map(Value::Object)
            .collect();
        Ok(json!({"members": rows, "next_cursor": next, "as_of": format_instant(as_of), "count": count}))
    })
    .await??;
    Ok(Json(answer))
}

/// Rows written per chunk of an export.
const EXPORT_CHUNK: usize = 1000;

/// `GET /v1/segments/{id}/export?format=csv|ndjson&as_of=&fields=`:
/// every member, streamed in chunks (the index lock is taken per chunk).
pub async fn export(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
    Query(query): Query<QueryMap>,
) -> ApiResult<Response> {
    let format = query
        .get("format")
        .map(String::as_str)
        .unwrap_or("csv")
        .to_string();
    if !matches!(format.as_str(), "csv" | "ndjson") {
        return Err(ApiError::malformed(format!(
            "`format` must be `csv` or `ndjson`, not `{format}`."
        )));
    }
    let now = as_of(&query)?;
    let account = caller.account_id().to_string();
    let state2 = state.clone();
    let fields = query.get("fields").cloned();
    let (members, columns) = tokio::task::spawn_blocking({
        let account = account.clone();
        move || -> ApiResult<_> {
            let (_, _, plan) = load(&state2.engine, &account, &id)?;
            let (members, _) = evaluate(&state2, &account, &plan, now)?;
            let index = state2.engine.index(&account)?;
            let columns = listing::columns(
                index.read().unwrap_or_else(|e| e.into_inner()).schema(),
                fields.as_deref(),
            )?;
            Ok((members, columns))
        }
    })
    .await??;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let csv = format == "csv";
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || {
        let Ok(index) = engine.index(&account) else {
            return;
        };
        if csv {
            let mut header = String::from("id");
            for c in &columns {
                header.push(',');
                header.push_str(c);
            }
            header.push('\n');
            if tx.blocking_send(Bytes::from(header)).is_err() {
                return;
            }
        }
        let ordinals: Vec<u32> = members.iter().collect();
        for chunk in ordinals.chunks(EXPORT_CHUNK) {
            let out = {
                let index = index.read().unwrap_or_else(|e| e.into_inner());
                if csv {
                    csv_rows(&index, chunk, &columns)
                } else {
                    ndjson_rows(&index, chunk, &columns)
                }
            };
            if tx.blocking_send(Bytes::from(out)).is_err() {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<Bytes, std::io::Error>(chunk), rx))
    });
    let mut response = Body::from_stream(stream).into_response();
    let (content_type, ext) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/x-ndjson", "ndjson")
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"segment-members.{ext}\""))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// CSV rows (no header) for a chunk of members; values as displayed in
/// the panel (whole numbers without a fraction, dates in RFC 3339).
fn csv_rows(index: &flowseg_engine::AccountIndex, chunk: &[u32], columns: &[String]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(chunk.len() * 64));
    for o in chunk {
        let Some(id) = index.contact_id(*o) else {
            continue;
        };
        let cells = std::iter::once(id).chain(columns.iter().map(|c| {
            index
                .field_value(*o, c)
                .map(|v| display_value(&v))
                .unwrap_or_default()
        }));
        let _ = writer.write_record(cells);
    }
    writer.into_inner().unwrap_or_default()
}

/// NDJSON rows for a chunk of members.
fn ndjson_rows(index: &flowseg_engine::AccountIndex, chunk: &[u32], columns: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len() * 96);
    for o in chunk {
        if let Some(row) = listing::row(index, *o, columns)
            && let Ok(line) = serde_json::to_vec(&row)
        {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
    }
    out
}

/// `GET /v1/segments/{id}/explain?contact=ID&as_of=`.
pub async fn explain(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
    Query(query): Query<QueryMap>,
) -> ApiResult<Json<Value>> {
    let now = as_of(&query)?;
    let contact = query
        .get("contact")
        .filter(|c| !c.is_empty())
        .cloned()
        .ok_or_else(|| {
            ApiError::malformed("`contact` is required: the id of the contact to explain.")
        })?;
    let account = caller.account_id().to_string();
    let engine = state.engine.clone();
    let answer = tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        let (_, rule, plan) = load(&engine, &account, &id)?;
        let index = engine.index(&account)?;
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        let ordinal = contact_seq(&contact)
            .and_then(|s| u32::try_from(s).ok())
            .filter(|o| index.live().contains(*o))
            .ok_or_else(|| ApiError::not_found(format!("There is no contact `{contact}`.")))?;
        let (member, tree) = index.explain(&rule, &plan, &engine.segment_source(&account), ordinal, now);
        Ok(json!({"contact_id": contact, "as_of": format_instant(now), "member": member, "tree": tree}))
    })
    .await??;
    Ok(Json(answer))
}

fn snapshot_json(m: &SnapshotMeta) -> Value {
    json!({"snapshot_id": m.id, "segment_id": m.segment_id, "count": m.count, "taken_at": format_instant(m.taken_at), "as_of": format_instant(m.as_of)})
}

/// `POST /v1/segments/{id}/snapshots`: freezes the members now (or at the
/// body's or query's `as_of`).
pub async fn create_snapshot(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
    Query(query): Query<QueryMap>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let mut now = as_of(&query)?;
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        let Value::Object(request) = parse_json(&bytes)? else {
            return Err(ApiError::malformed(
                "The request body must be a JSON object such as {\"as_of\": \"2026-06-01T00:00:00Z\"}, or empty.",
            ));
        };
        if let Some(key) = request.keys().find(|k| k.as_str() != "as_of") {
            return Err(ApiError::invalid(format!(
                "unknown key `{key}`: a snapshot takes {{\"as_of\"}} or nothing."
            ))
            .with_detail(&format!("/{key}"), "unknown key"));
        }
        match request.get("as_of") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                now = parse_instant(s).map_err(|e| {
                    ApiError::invalid(e.to_string()).with_detail("/as_of", e.to_string())
                })?;
            }
            Some(_) => {
                return Err(ApiError::invalid("`as_of` must be an RFC 3339 string.")
                    .with_detail("/as_of", "expected a string"));
            }
        }
    }
    let account = caller.account_id().to_string();
    let state2 = state.clone();
    let meta = tokio::task::spawn_blocking(move || -> ApiResult<SnapshotMeta> {
        let (_, _, plan) = load(&state2.engine, &account, &id)?;
        let (members, _) = evaluate(&state2, &account, &plan, now)?;
        let member_ids: Vec<String> = {
            let index = state2.engine.index(&account)?;
            let index = index.read().unwrap_or_else(|e| e.into_inner());
            members.iter().filter_map(|o| index.contact_id(o)).collect()
        };
        let snapshot_id = state2.engine.store().new_snapshot_id(&account)?;
        let record = SnapshotRecord {
            id: snapshot_id.clone(),
            segment_id: id.clone(),
            taken_at: now_ms(),
            as_of: now,
            member_ids,
        };
        state2.engine.store().put_snapshot(&account, &record)?;
        Ok(SnapshotMeta {
            id: record.id,
            segment_id: record.segment_id,
            taken_at: record.taken_at,
            as_of: record.as_of,
            count: record.member_ids.len() as u64,
        })
    })
    .await??;
    Ok((StatusCode::CREATED, Json(snapshot_json(&meta))))
}

/// `GET /v1/segments/{id}/snapshots`.
pub async fn list_snapshots(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let engine = state.engine.clone();
    let account = caller.account_id().to_string();
    let snapshots = tokio::task::spawn_blocking(move || -> ApiResult<Vec<SnapshotMeta>> {
        if engine.store().segment(&account, &id)?.is_none() {
            return Err(ApiError::not_found(format!("There is no segment `{id}`.")));
        }
        Ok(engine.store().snapshots(&account, Some(&id))?)
    })
    .await??;
    Ok(Json(
        json!({"snapshots": snapshots.iter().map(snapshot_json).collect::<Vec<_>>()}),
    ))
}

/// `GET /v1/snapshots/{id}/members?limit=&cursor=`: the frozen list, with
/// each contact's current identities (null once erased).
pub async fn snapshot_members(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
    Query(query): Query<QueryMap>,
) -> ApiResult<Json<Value>> {
    let limit = limit(&query)?;
    let offset: usize = match query.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::malformed(format!("`{c}` is not a valid cursor.")))?,
        None => 0,
    };
    let engine = state.engine.clone();
    let account = caller.account_id().to_string();
    let answer = tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        let snapshot = engine
            .store()
            .snapshot(&account, &id)?
            .ok_or_else(|| ApiError::not_found(format!("There is no snapshot `{id}`.")))?;
        let index = engine.index(&account)?;
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        let columns = listing::columns(index.schema(), query.get("fields").map(String::as_str))?;
        let page = snapshot.member_ids.iter().skip(offset).take(limit);
        let members: Vec<Value> = page
            .map(|cid| {
                let ordinal = contact_seq(cid).and_then(|s| u32::try_from(s).ok());
                match ordinal.and_then(|o| listing::row(&index, o, &columns)) {
                    Some(row) => Value::Object(row),
                    None => {
                        let mut row = serde_json::Map::new();
                        row.insert("id".into(), cid.clone().into());
                        for c in &columns {
                            row.insert(c.clone(), Value::Null);
                        }
                        Value::Object(row)
                    }
                }
            })
            .collect();
        let next =
            (offset + limit < snapshot.member_ids.len()).then(|| (offset + limit).to_string());
        Ok(json!({
            "snapshot_id": snapshot.id,
            "segment_id": snapshot.segment_id,
            "taken_at": format_instant(snapshot.taken_at),
            "as_of": format_instant(snapshot.as_of),
            "count": snapshot.member_ids.len(),
            "members": members,
            "next_cursor": next,
        }))
    })
    .await??;
    Ok(Json(answer))
}
