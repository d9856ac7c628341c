//! Segment definitions (CRUD), `preview` of an unsaved rule, and `count`.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use flowseg_engine::Engine;
use flowseg_model::time::{format_instant, now_ms, parse_instant};
use flowseg_rules::{Plan, Rule, rule_from_json};
use flowseg_store::SegmentRecord;
use roaring::RoaringBitmap;
use serde_json::{Map, Value, json};

use crate::auth::SecretKey;
use crate::body::json_object;
use crate::error::{ApiError, ApiResult};
use crate::listing::{self, QueryMap, as_of};
use crate::state::AppState;

/// A segment as answered: its rule as JSON and as text.
pub fn segment_json(engine: &Engine, account: &str, s: &SegmentRecord) -> Value {
    let text = rule_from_json(&s.rule, "")
        .ok()
        .and_then(|r| crate::routes::rules::format_text(engine, account, &r).ok());
    json!({
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "rule": s.rule,
        "rule_text": text,
        "created_at": format_instant(s.created_at),
        "updated_at": format_instant(s.updated_at),
    })
}

/// The longest segment name.
const MAX_NAME: usize = 200;

/// A create or update body: name, description and rule, checked.
struct SegmentBody {
    name: String,
    description: String,
    rule: RuleInput,
}

/// A rule as JSON (`rule`) or as text (`rule_text`).
enum RuleInput {
    Json(Value),
    Text(String),
}

impl RuleInput {
    /// Validates the rule for `account` (a reference back to `self_id` is a
    /// cycle) and returns it.
    fn resolve(&self, engine: &Engine, account: &str, self_id: &str) -> ApiResult<Rule> {
        match self {
            RuleInput::Json(json) => plan(engine, account, json, Some(self_id)).map(|(r, _)| r),
            RuleInput::Text(text) => {
                crate::routes::rules::parse_text(engine, account, text, "/rule_text", Some(self_id))
            }
        }
    }
}

fn parse_body(request: &Map<String, Value>) -> ApiResult<SegmentBody> {
    if let Some(key) = request.keys().find(|k| {
        !matches!(
            k.as_str(),
            "name" | "description" | "rule" | "rule_text" | "id"
        )
    }) {
        return Err(ApiError::invalid(format!(
            "unknown key `{key}`: a segment is {{\"name\", \"description\", \"rule\"}}."
        ))
        .with_detail(&format!("/{key}"), "unknown key"));
    }
    let name = match request.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= MAX_NAME => {
            s.clone()
        }
        Some(Value::String(_)) => {
            return Err(
                ApiError::invalid(format!("`name` must be 1 to {MAX_NAME} characters."))
                    .with_detail("/name", "empty or too long"),
            );
        }
        _ => {
            return Err(ApiError::invalid(
                "`name` is required: the segment's name, unique in the account.",
            )
            .with_detail("/name", "expected a string"));
        }
    };
    let description = match request.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(ApiError::invalid("`description` must be a string.")
                .with_detail("/description", "expected a string"));
        }
    };
    let text = request.get("rule_text").filter(|r| !r.is_null());
    let rule = match (request.get("rule").filter(|r| !r.is_null()), text) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("Give `rule` or `rule_text`, not both.")
                .with_detail("/rule_text", "remove `rule` or `rule_text`"));
        }
        (Some(r), None) => RuleInput::Json(r.clone()),
        (None, Some(Value::String(t))) => RuleInput::Text(t.clone()),
        (None, Some(_)) => {
            return Err(ApiError::invalid("`rule_text` must be a string.")
                .with_detail("/rule_text", "expected a string"));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "`rule` is required: the segment's rule, e.g. {\"all\": []} for every contact (or `rule_text`).",
            )
            .with_detail("/rule", "missing"));
        }
    };
    Ok(SegmentBody {
        name,
        description,
        rule,
    })
}

/// Validates a rule at `/rule` of the request for `account`.
pub fn plan(
    engine: &Engine,
    account: &str,
    rule: &Value,
    self_id: Option<&str>,
) -> ApiResult<(Rule, Plan)> {
    let schema = engine.schema(account)?;
    engine
        .segment_source(account)
        .plan(rule, "/rule", &schema, self_id)
        .map_err(ApiError::invalid_rule)
}

/// A saved segment and its plan.
pub fn load(engine: &Engine, account: &str, id: &str) -> ApiResult<(SegmentRecord, Rule, Plan)> {
    let record = engine
        .store()
        .segment(account, id)?
        .ok_or_else(|| ApiError::not_found(format!("There is no segment `{id}`.")))?;
    let (rule, plan) = plan(engine, account, &record.rule, Some(id)).map_err(|e| {
        ApiError::conflict(format!(
            "Segment `{id}` no longer validates against the account's schema: {}",
            e.message
        ))
    })?;
    Ok((record, rule, plan))
}

/// Evaluates a plan; returns the members and the milliseconds taken.
pub fn evaluate(
    state: &AppState,
    account: &str,
    plan: &Plan,
    now: i64,
) -> ApiResult<(RoaringBitmap, f64)> {
    let index = state.engine.index(account)?;
    let index = index.read().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let members = index.evaluate(plan, now);
    let secs = started.elapsed().as_secs_f64();
    state.metrics.evaluation(secs);
    Ok((members, secs * 1000.0))
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request = json_object(&headers, body, state.config.max_body_bytes).await?;
    let body = parse_body(&request)?;
    let account = caller.account_id().to_string();
    let engine = state.engine.clone();
    let answer = tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        // The id is issued only as the segment is stored, so a refused
        // request takes none; the rule is checked against the id it will
        // most likely get (a rule cannot name an id not issued yet).
        let id = engine.store().next_segment_id(&account)?;
        let rule = body.rule.resolve(&engine, &account, &id)?;
        let now = now_ms();
        let record = engine.store().create_segment(
            &account,
            SegmentRecord {
                id,
                name: body.name,
                description: body.description,
                rule: flowseg_rules::rule_to_json(&rule),
                created_at: now,
                updated_at: now,
            },
        )?;
        Ok(segment_json(&engine, &account, &record))
    })
    .await??;
    Ok((StatusCode::CREATED, Json(answer)))
}

pub async fn list(State(state): State<Arc<AppState>>, caller: SecretKey) -> ApiResult<Json<Value>> {
    let engine = state.engine.clone();
    let account = caller.account_id().to_string();
    let segments = tokio::task::spawn_blocking(move || -> ApiResult<Vec<Value>> {
        let segments = engine.store().segments(&account)?;
        Ok(segments
            .iter()
            .map(|s| segment_json(&engine, &account, s))
            .collect())
    })
    .await??;
    Ok(Json(json!({"segments": segments})))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let engine = state.engine.clone();
    let account = caller.account_id().to_string();
    let answer = tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        match engine.store().segment(&account, &id)? {
            Some(s) => Ok(segment_json(&engine, &account, &s)),
            None => Err(ApiError::not_found(format!("There is no segment `{id}`."))),
        }
    })
    .await??;
    Ok(Json(answer))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let request = json_object(&headers, body, state.config.max_body_bytes).await?;
    let body = parse_body(&request)?;
    let account = caller.account_id().to_string();
    let engine = state.engine.clone();
    let answer = tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        let existing = engine
            .store()
            .segment(&account, &id)?
            .ok_or_else(|| ApiError::not_found(format!("There is no segment `{id}`.")))?;
        let rule = body.rule.resolve(&engine, &account, &id)?;
        let record = SegmentRecord {
            id,
            name: body.name,
            description: body.description,
            rule: flowseg_rules::rule_to_json(&rule),
            created_at: existing.created_at,
            updated_at: now_ms(),
        };
        engine.store().put_segment(&account, &record)?;
        Ok(segment_json(&engine, &account, &record))
    })
    .await??;
    Ok(Json(answer))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let engine = state.engine.clone();
    let account = caller.account_id().to_string();
    tokio::task::spawn_blocking(move || -> ApiResult<()> {
        let users: Vec<String> = engine
            .store()
            .segments(&account)?
            .into_iter()
            .filter(|s| s.id != id)
            .filter(|s| {
                rule_from_json(&s.rule, "")
                    .is_ok_and(|r| r.referenced_segments().contains(&id.as_str()))
            })
            .map(|s| format!("`{}`", s.name))
            .collect();
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "Segment `{id}` is referenced by segment {}: remove those references first.",
                users.join(", ")
            )));
        }
        if !engine.store().delete_segment(&account, &id)? {
            return Err(ApiError::not_found(format!("There is no segment `{id}`.")));
        }
        Ok(())
    })
    .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// How many contacts a preview shows.
const SAMPLE_SIZE: usize = 10;

/// `POST /v1/segments/preview`: `{rule, as_of?}` → `{count, sample}`.
pub async fn preview(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let request = json_object(&headers, body, state.config.max_body_bytes).await?;
    if let Some(key) = request
        .keys()
        .find(|k| !matches!(k.as_str(), "rule" | "as_of"))
    {
        return Err(ApiError::invalid(format!(
            "unknown key `{key}`: a preview takes {{\"rule\", \"as_of\"}}."
        ))
        .with_detail(&format!("/{key}"), "unknown key"));
    }
    let rule = request
        .get("rule")
        .filter(|r| !r.is_null())
        .cloned()
        .ok_or_else(|| ApiError::invalid("`rule` is required.").with_detail("/rule", "missing"))?;
    let now = match request.get("as_of") {
        None | Some(Value::Null) => now_ms(),
        Some(Value::String(s)) => parse_instant(s)
            .map_err(|e| ApiError::invalid(e.to_string()).with_detail("/as_of", e.to_string()))?,
        Some(_) => {
            return Err(ApiError::invalid("`as_of` must be an RFC 3339 string.")
                .with_detail("/as_of", "expected a string"));
        }
    };
    let account = caller.account_id().to_string();
    let state2 = state.clone();
    let answer = tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        let (_, plan) = plan(&state2.engine, &account, &rule, None)?;
        let (members, took_ms) = evaluate(&state2, &account, &plan, now)?;
        let index = state2.engine.index(&account)?;
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        let columns = listing::columns(index.schema(), None)?;
        let sample: Vec<Value> = members
            .iter()
            .filter_map(|o| listing::row(&index, o, &columns))
            .take(SAMPLE_SIZE)
            .map(Value::Object)
            .collect();
        Ok(json!({"count": members.len(), "sample": sample, "as_of": format_instant(now), "took_ms": took_ms}))
    })
    .await??;
    Ok(Json(answer))
}

/// `GET /v1/segments/{id}/count?as_of=`.
pub async fn count(
    State(state): State<Arc<AppState>>,
    caller: SecretKey,
    Path(id): Path<String>,
    Query(query): Query<QueryMap>,
) -> ApiResult<Json<Value>> {
    let now = as_of(&query)?;
    let account = caller.account_id().to_string();
    let state2 = state.clone();
    let answer = tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        let (_, _, plan) = load(&state2.engine, &account, &id)?;
        let (members, took_ms) = evaluate(&state2, &account, &plan, now)?;
        Ok(json!({"count": members.len(), "as_of": format_instant(now), "took_ms": took_ms}))
    })
    .await??;
    Ok(Json(answer))
}
