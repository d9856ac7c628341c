//! Reading request bodies within the size limit, and JSON parsing with
//! errors in the API's shape (413 with the limit; 400 with the position).

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// A human size: `32 MiB`.
pub fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::too_large(format!(
        "The request body is larger than the limit of {}: split it into smaller requests.",
        human_bytes(limit)
    ))
}

/// Reads the whole body, refusing more than `limit` bytes with 413.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<Bytes> {
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large(limit));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            let inner = e.into_inner();
            if inner
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(too_large(limit))
            } else {
                Err(ApiError::malformed(format!(
                    "The request body could not be read: {inner}"
                )))
            }
        }
    }
}

/// Parses a JSON body.
pub fn parse_json(bytes: &[u8]) -> ApiResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed(
            "The request body is empty: send a JSON document.",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::malformed(format!("The request body is not valid JSON: {e}.")))
}

/// Reads and parses a JSON body that must be an object.
pub async fn json_object(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> ApiResult<serde_json::Map<String, Value>> {
    let bytes = read_body(headers, body, limit).await?;
    match parse_json(&bytes)? {
        Value::Object(o) => Ok(o),
        other => Err(ApiError::malformed(format!(
            "The request body must be a JSON object, not {}.",
            flowseg_model::value::json_kind(&other)
        ))),
    }
}

/// Whether the body is declared as NDJSON.
pub fn is_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            // Compared without allocating: this runs on every ingest request.
            let has = |word: &str| {
                ct.as_bytes()
                    .windows(word.len())
                    .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
            };
            // ("jsonl" also finds "jsonlines".)
            has("ndjson") || has("jsonl")
        })
}
