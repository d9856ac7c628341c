//! Operating endpoints (issue 3): `GET /healthz`, Prometheus `GET /metrics`,
//! and the OpenAPI document at `GET /v1/openapi.json`.

use serde_json::json;

use crate::support::Server;

#[test]
fn healthz_and_metrics_answer_without_a_key() {
    let srv = Server::start();
    let health = srv.anon().get("/healthz").expect(200);
    assert_eq!(health["status"], "ok");
    let a = srv.account();
    a.events(json!([
        {"id": "m1", "name": "MailOpen", "contact": {"email": "ann@example.com"}},
        {"id": "m1", "name": "MailOpen", "contact": {"email": "ann@example.com"}},
    ]));
    a.api.get("/v1/segments/seg_1/count").error(404);
    let r = srv.anon().get("/metrics");
    let text = r.expect_text(200);
    assert!(
        r.content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        r.content_type
    );
    // Requests by route and status, and ingest counts.
    let requests = text
        .lines()
        .find(|l| l.contains("/v1/events") && l.contains("200") && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("no request line for POST /v1/events:\n{text}"));
    assert!(requests.ends_with(" 1"), "{requests}");
    assert!(
        text.lines()
            .any(|l| l.contains("/v1/segments/{id}/count") && l.contains("404")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("accepted") && !l.starts_with('#') && l.ends_with(" 1")),
        "{text}"
    );
}

#[test]
fn the_openapi_document_lists_every_endpoint_of_the_spec() {
    let srv = Server::start();
    let a = srv.account();
    let mut r = srv.anon().get("/v1/openapi.json");
    if r.status == 401 {
        r = a.api.get("/v1/openapi.json");
    }
    let doc = r.expect(200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in [
        ("post", "/v1/accounts"),
        ("patch", "/v1/accounts/{id}"),
        ("get", "/v1/fields"),
        ("post", "/v1/fields"),
        ("delete", "/v1/fields/{name}"),
        ("post", "/v1/contacts"),
        ("get", "/v1/contacts"),
        ("get", "/v1/contacts/{id}"),
        ("delete", "/v1/contacts/{id}"),
        ("post", "/v1/contacts/import"),
        ("post", "/v1/events"),
        ("get", "/v1/events/catalog"),
        ("get", "/v1/contacts/{id}/events"),
        ("get", "/v1/contacts/{id}/segments"),
        ("get", "/v1/usage"),
        ("post", "/v1/segments"),
        ("get", "/v1/segments"),
        ("get", "/v1/segments/{id}"),
        ("put", "/v1/segments/{id}"),
        ("delete", "/v1/segments/{id}"),
        ("post", "/v1/segments/preview"),
        ("get", "/v1/segments/{id}/count"),
        ("get", "/v1/segments/{id}/members"),
        ("get", "/v1/segments/{id}/export"),
        ("get", "/v1/segments/{id}/explain"),
        ("post", "/v1/segments/{id}/snapshots"),
        ("get", "/v1/snapshots/{id}/members"),
        ("post", "/v1/rules/parse"),
        ("post", "/v1/rules/format"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{} {path} is missing from the OpenAPI document",
            method.to_uppercase()
        );
    }
}
