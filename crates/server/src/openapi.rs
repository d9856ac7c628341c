//! The OpenAPI 3 document served at `GET /v1/openapi.json`, built from the
//! endpoint table below. A test sends a request to every listed endpoint
//! through the real router, so the table cannot name a route that does not
//! exist.

use serde_json::{Map, Value, json};

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key (health, metrics, this document).
    Open,
    /// The administrator token.
    Admin,
    /// The account's secret key.
    Secret,
    /// The secret key, or the public key for `Visit` events.
    SecretOrPublic,
}

/// One endpoint of SPEC §4.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    /// The request body's media types, if it takes one.
    pub body: &'static [&'static str],
    /// The success status.
    pub ok: u16,
    /// Query parameters.
    pub query: &'static [&'static str],
}

const JSON: &[&str] = &["application/json"];

macro_rules! endpoint {
    ($method:literal, $path:literal, $access:ident, $ok:literal, $body:expr, $query:expr, $summary:literal) => {
        Endpoint {
            method: $method,
            path: $path,
            summary: $summary,
            access: Access::$access,
            body: $body,
            ok: $ok,
            query: $query,
        }
    };
}

pub const ENDPOINTS: &[Endpoint] = &[
    endpoint!(
        "get",
        "/healthz",
        Open,
        200,
        &[],
        &[],
        "The server is up and its indexes are loaded."
    ),
    endpoint!(
        "get",
        "/metrics",
        Open,
        200,
        &[],
        &[],
        "Prometheus metrics."
    ),
    endpoint!(
        "get",
        "/v1/openapi.json",
        Open,
        200,
        &[],
        &[],
        "This document."
    ),
    endpoint!(
        "post",
        "/v1/accounts",
        Admin,
        201,
        JSON,
        &[],
        "Create an account; answers its id, secret key and public key."
    ),
    endpoint!(
        "patch",
        "/v1/accounts/{id}",
        Admin,
        200,
        JSON,
        &[],
        "Set add-ons, e.g. {\"addons\": {\"custom_events\": true}}."
    ),
    endpoint!(
        "get",
        "/v1/fields",
        Secret,
        200,
        &[],
        &[],
        "The field schema: standard fields, then custom fields."
    ),
    endpoint!(
        "post",
        "/v1/fields",
        Secret,
        201,
        JSON,
        &[],
        "Declare a custom field {name, type}."
    ),
    endpoint!(
        "delete",
        "/v1/fields/{name}",
        Secret,
        204,
        &[],
        &[],
        "Delete a custom field and its values."
    ),
    endpoint!(
        "post",
        "/v1/contacts",
        Secret,
        200,
        JSON,
        &[],
        "Upsert one contact or an array; per-item results."
    ),
    endpoint!(
        "get",
        "/v1/contacts",
        Secret,
        200,
        &[],
        &["email", "phone", "external_id", "limit", "cursor"],
        "A contact by identity, or a page of all contacts."
    ),
    endpoint!(
        "post",
        "/v1/contacts/import",
        Secret,
        200,
        &["text/csv", "application/x-ndjson"],
        &[],
        "Import contacts from CSV (header row of field names) or NDJSON, streamed; per-row errors."
    ),
    endpoint!(
        "get",
        "/v1/contacts/{id}",
        Secret,
        200,
        &[],
        &[],
        "One contact."
    ),
    endpoint!(
        "delete",
        "/v1/contacts/{id}",
        Secret,
        204,
        &[],
        &[],
        "Erase a contact and all its events."
    ),
    endpoint!(
        "get",
        "/v1/contacts/{id}/events",
        Secret,
        200,
        &[],
        &["limit", "cursor"],
        "The contact's events, newest first."
    ),
    endpoint!(
        "get",
        "/v1/contacts/{id}/segments",
        Secret,
        200,
        &[],
        &["as_of"],
        "The saved segments the contact is in."
    ),
    endpoint!(
        "post",
        "/v1/events",
        SecretOrPublic,
        200,
        &["application/json", "application/x-ndjson"],
        &[],
        "Post one event, an array, or NDJSON; answers {accepted, duplicates, rejected}."
    ),
    endpoint!(
        "get",
        "/v1/events/catalog",
        Secret,
        200,
        &[],
        &[],
        "Event names seen, with source, count, last time and attribute types."
    ),
    endpoint!(
        "get",
        "/v1/usage",
        Secret,
        200,
        &[],
        &[],
        "Metered custom events per month."
    ),
    endpoint!(
        "post",
        "/v1/rules/parse",
        Secret,
        200,
        JSON,
        &[],
        "Rule text to rule JSON: {text} → {rule}, or 422 whose details carry line, column and a hint."
    ),
    endpoint!(
        "post",
        "/v1/rules/format",
        Secret,
        200,
        JSON,
        &[],
        "Rule JSON to text: {rule} → {text} (the rule is validated first)."
    ),
    endpoint!(
        "post",
        "/v1/segments",
        Secret,
        201,
        JSON,
        &[],
        "Create a segment {name, description, rule} (or rule_text instead of rule)."
    ),
    endpoint!(
        "get",
        "/v1/segments",
        Secret,
        200,
        &[],
        &[],
        "All segments."
    ),
    endpoint!(
        "post",
        "/v1/segments/preview",
        Secret,
        200,
        JSON,
        &[],
        "Count and sample an unsaved rule: {rule, as_of?}."
    ),
    endpoint!(
        "get",
        "/v1/segments/{id}",
        Secret,
        200,
        &[],
        &[],
        "One segment."
    ),
    endpoint!(
        "put",
        "/v1/segments/{id}",
        Secret,
        200,
        JSON,
        &[],
        "Replace a segment's name, description and rule."
    ),
    endpoint!(
        "delete",
        "/v1/segments/{id}",
        Secret,
        204,
        &[],
        &[],
        "Delete a segment (refused while another references it)."
    ),
    endpoint!(
        "get",
        "/v1/segments/{id}/count",
        Secret,
        200,
        &[],
        &["as_of"],
        "{count, as_of, took_ms}."
    ),
    endpoint!(
        "get",
        "/v1/segments/{id}/members",
        Secret,
        200,
        &[],
        &["as_of", "limit", "cursor", "fields"],
        "Members, paged over one frozen result."
    ),
    endpoint!(
        "get",
        "/v1/segments/{id}/export",
        Secret,
        200,
        &[],
        &["format", "as_of", "fields"],
        "Every member, streamed as CSV or NDJSON."
    ),
    endpoint!(
        "get",
        "/v1/segments/{id}/explain",
        Secret,
        200,
        &[],
        &["contact", "as_of"],
        "The rule tree for one contact with verdicts and evidence."
    ),
    endpoint!(
        "post",
        "/v1/segments/{id}/snapshots",
        Secret,
        201,
        JSON,
        &["as_of"],
        "Freeze the members now: {snapshot_id, count, taken_at}."
    ),
    endpoint!(
        "get",
        "/v1/segments/{id}/snapshots",
        Secret,
        200,
        &[],
        &[],
        "The segment's snapshots."
    ),
    endpoint!(
        "get",
        "/v1/snapshots/{id}/members",
        Secret,
        200,
        &[],
        &["limit", "cursor", "fields"],
        "A snapshot's frozen member list."
    ),
];

/// The whole document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for e in ENDPOINTS {
        let mut op = Map::new();
        op.insert("summary".into(), e.summary.into());
        op.insert("operationId".into(), operation_id(e).into());
        let mut parameters: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(e.query.iter().map(
            |q| json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}}),
        ));
        if !parameters.is_empty() {
            op.insert("parameters".into(), parameters.into());
        }
        if !e.body.is_empty() {
            let content: Map<String, Value> = e
                .body
                .iter()
                .map(|m| (m.to_string(), json!({"schema": {}})))
                .collect();
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": content}),
            );
        }
        let security = match e.access {
            Access::Open => json!([]),
            Access::Admin => json!([{"adminToken": []}]),
            Access::Secret => json!([{"secretKey": []}]),
            Access::SecretOrPublic => json!([{"secretKey": []}, {"publicKey": []}]),
        };
        op.insert("security".into(), security);
        let mut responses = Map::new();
        responses.insert(e.ok.to_string(), json!({"description": "Success."}));
        for (status, what) in [
            ("400", "Malformed request."),
            ("401", "Missing or invalid key."),
            ("403", "The key may not do this (or an add-on is required)."),
            ("404", "Not found."),
            ("409", "Conflict."),
            ("413", "Too large."),
            ("422", "Invalid; details point into the body."),
            ("429", "Rate limited; see Retry-After."),
        ] {
            if e.access != Access::Open {
                responses.insert(status.into(), json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
            }
        }
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths.entry(e.path.to_string()).or_insert_with(|| json!({}));
        entry[e.method] = Value::Object(op);
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "flowseg API", "version": env!("CARGO_PKG_VERSION"), "description": "Dynamic segmentation for email, SMS and push marketing (SPEC §4)."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "secretKey": {"type": "http", "scheme": "bearer", "description": "The account's secret key."},
                "publicKey": {"type": "http", "scheme": "bearer", "description": "The account's public key: Visit events only."},
                "adminToken": {"type": "http", "scheme": "bearer", "description": "The administrator token."}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object", "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}}
                }}}}
            }
        }
    })
}

fn operation_id(e: &Endpoint) -> String {
    let mut id = e.method.to_string();
    for part in e.path.split('/').filter(|p| !p.is_empty() && *p != "v1") {
        let part = part
            .trim_start_matches('{')
            .trim_end_matches('}')
            .replace(['.', '_'], " ");
        for word in part.split(' ') {
            let mut c = word.chars();
            if let Some(f) = c.next() {
                id.push(f.to_ascii_uppercase());
                id.push_str(c.as_str());
            }
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn every_documented_endpoint_is_routed() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(flowseg_engine::Engine::open(dir.path()).unwrap());
        let router = crate::router(crate::state(engine, "x".into(), Default::default()));
        for e in ENDPOINTS {
            let path = e.path.replace("{id}", "x").replace("{name}", "x");
            let request = Request::builder()
                .method(e.method.to_uppercase().as_str())
                .uri(&path)
                .body(Body::empty())
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_ne!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{} {}",
                e.method,
                e.path
            );
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("There is no endpoint"),
                "{} {} is documented but not routed",
                e.method,
                e.path
            );
        }
        let doc = document();
        assert_eq!(
            doc["paths"]["/v1/segments/{id}"]
                .as_object()
                .map(|o| o.len()),
            Some(3)
        );
    }
}
