//! `POST /v1/contacts/import`: a CSV (header row of field names) or NDJSON
//! body, streamed: the body is read chunk by chunk into the shared importer,
//! which writes durable batches as it goes, and answered with the totals and
//! every row error.

use std::io::Read;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use flowseg_engine::import::{Format, Importer, Kind, Report, RowError};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::auth::SecretKey;
use crate::error::{ApiError, ApiResult};
use crate::routes::fields::schema_of;
use crate::state::AppState;

/// Rows per durable batch of an API import.
const IMPORT_BATCH: usize = 5000;
/// Row errors listed in the answer (all are counted).
const MAX_LISTED_ERRORS: usize = 10_000;

/// A `Read` over body chunks arriving from the async side.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
    /// A transport error or the size limit, reported after the import.
    failure: Option<String>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    self.failure = Some(e.clone());
                    return Err(std::io::Error::other(e));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

pub async fn import(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let format = if content_type.contains("csv") {
        Format::Csv
    } else {
        Format::Ndjson
    };
    let account = caller.account_id().to_string();
    let schema = schema_of(&state, &account)?;
    let limit = state.config.max_import_bytes;
    let (tx, rx) = mpsc::channel::<Result<Bytes, String>>(8);
    let engine = state.engine.clone();
    let worker = tokio::task::spawn_blocking(move || {
        let mut errors: Vec<RowError> = Vec::new();
        let mut total_errors = 0usize;
        let mut on_error = |e: &RowError| {
            total_errors += 1;
            if errors.len() < MAX_LISTED_ERRORS {
                errors.push(e.clone());
            }
        };
        let mut on_commit = |_: &Report| {};
        let mut reader = std::io::BufReader::new(ChannelReader {
            rx,
            current: Bytes::new(),
            failure: None,
        });
        let result = Importer::new(
            engine.as_ref(),
            &account,
            &schema,
            IMPORT_BATCH,
            &mut on_error,
            &mut on_commit,
        )
        .run(Kind::Contacts, format, &mut reader);
        let failure = reader.get_ref().failure.clone();
        (result, errors, failure)
    });
    let mut stream = body.into_data_stream();
    let mut received = 0usize;
    while let Some(chunk) = stream.next().await {
        let item = match chunk {
            Ok(bytes) => {
                received += bytes.len();
                if received > limit {
                    Err(format!(
                        "the import is larger than the limit of {}",
                        crate::body::human_bytes(limit)
                    ))
                } else {
                    Ok(bytes)
                }
            }
            Err(e) => Err(format!("the request body could not be read: {e}")),
        };
        let stop = item.is_err();
        if tx.send(item).await.is_err() || stop {
            break;
        }
    }
    drop(tx);
    let (result, errors, failure) = worker.await?;
    if let Some(failure) = failure {
        // Batches committed before the failure stay; say so.
        let status = if failure.contains("limit") {
            ApiError::too_large(format!(
                "The import stopped: {failure}; the rows before it were imported."
            ))
        } else {
            ApiError::malformed(format!(
                "The import stopped: {failure}; the rows before it were imported."
            ))
        };
        return Err(status);
    }
    let report =
        result.map_err(|e| ApiError::malformed(format!("The import could not be read: {e}.")))?;
    let rejected: Vec<Value> = errors
        .iter()
        .map(|e| json!({"index": e.row, "line": e.line, "error": {"code": e.code, "message": e.message, "status": e.status}}))
        .collect();
    Ok(Json(json!({
        "rows": report.rows,
        "accepted": report.accepted,
        "created": report.created,
        "updated": report.accepted - report.created,
        "rejected_count": report.rejected,
        "rejected": rejected,
    })))
}
