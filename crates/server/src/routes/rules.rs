//! The rule language over HTTP: `POST /v1/rules/parse` (text → rule, or 422
//! with line, column and a hint) and `POST /v1/rules/format` (rule → text).
//! Segment references are written by name in text and stored by id.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use flowseg_engine::Engine;
use flowseg_rules::text::{Diagnostic, ParsedRule, format_rule_with};
use flowseg_rules::{Rule, rule_to_json};
use flowseg_store::resolve_segment_label;
use serde_json::{Value, json};

use crate::auth::SecretKey;
use crate::body::json_object;
use crate::error::{ApiError, ApiResult};
use crate::routes::segments::plan;
use crate::state::AppState;

/// A text diagnostic as an error detail at `path`.
fn diagnostic_json(path: &str, d: &Diagnostic) -> Value {
    json!({
        "path": path,
        "message": d.message,
        "line": d.line,
        "column": d.column,
        "hint": d.hint,
        "expected": d.expected,
        "rendered": d.to_string(),
    })
}

fn text_error(path: &str, diagnostics: &[Diagnostic]) -> ApiError {
    let first = diagnostics.first().map_or_else(String::new, |d| {
        format!(" at line {}, column {}: {}", d.line, d.column, d.message)
    });
    ApiError {
        details: diagnostics
            .iter()
            .map(|d| diagnostic_json(path, d))
            .collect(),
        ..ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rule",
            format!("The rule text is invalid{first}."),
        )
    }
}

/// Parses and validates rule text for an account (at `path` of the body):
/// `in segment "X"` takes a segment's name or id.
pub fn parse_text(
    engine: &Engine,
    account: &str,
    text: &str,
    path: &str,
    self_id: Option<&str>,
) -> ApiResult<Rule> {
    let segments = engine.store().segments(account)?;
    let resolve = |label: &str| resolve_segment_label(&segments, label);
    let parsed = ParsedRule::parse(text, Some(&resolve)).map_err(|d| text_error(path, &[d]))?;
    let schema = engine.schema(account)?;
    parsed
        .plan(&schema, &engine.segment_source(account), self_id)
        .map_err(|ds| text_error(path, &ds))?;
    Ok(parsed.rule)
}

/// Prints a rule with segment references by name.
pub fn format_text(engine: &Engine, account: &str, rule: &Rule) -> ApiResult<String> {
    let segments = engine.store().segments(account)?;
    // A name that is also some segment's id would parse back as that id:
    // print the id then.
    let label = |id: &str| {
        segments
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .filter(|name| !segments.iter().any(|s| &s.id == name))
    };
    Ok(format_rule_with(rule, &label))
}

fn text_field(request: &serde_json::Map<String, Value>) -> ApiResult<String> {
    match request.get("text") {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(ApiError::invalid("`text` is required: the rule as text.")
            .with_detail("/text", "expected a string")),
    }
}

pub async fn parse(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let request = json_object(&headers, body, state.config.max_body_bytes).await?;
    let text = text_field(&request)?;
    let account = caller.account_id().to_string();
    let engine = state.engine.clone();
    let rule =
        tokio::task::spawn_blocking(move || parse_text(&engine, &account, &text, "/text", None))
            .await??;
    Ok(Json(json!({"rule": rule_to_json(&rule)})))
}

pub async fn format(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let request = json_object(&headers, body, state.config.max_body_bytes).await?;
    let rule = request
        .get("rule")
        .filter(|r| !r.is_null())
        .cloned()
        .ok_or_else(|| ApiError::invalid("`rule` is required.").with_detail("/rule", "missing"))?;
    let account = caller.account_id().to_string();
    let engine = state.engine.clone();
    let text = tokio::task::spawn_blocking(move || -> ApiResult<String> {
        let (rule, _) = plan(&engine, &account, &rule, None)?;
        format_text(&engine, &account, &rule)
    })
    .await??;
    Ok(Json(json!({"text": text})))
}
