//! The readable rule language over HTTP: `POST /v1/rules/parse` and
//! `POST /v1/rules/format` (SPEC §4).

use serde_json::json;

use crate::support::Server;

#[test]
fn parse_gives_the_rule_or_a_422_with_line_column_and_hint() {
    let srv = Server::start();
    let a = srv.account();
    let parsed = a
        .api
        .post(
            "/v1/rules/parse",
            &json!({"text": "Email ends with \"@shop.test\" and did MailClick"}),
        )
        .expect(200);
    let rule = &parsed["rule"];
    assert!(rule.is_object(), "{parsed}");
    // The rule it gives is a valid rule.
    a.api
        .post("/v1/segments/preview", &json!({"rule": rule}))
        .expect(200);

    let e = a
        .api
        .post(
            "/v1/rules/parse",
            &json!({"text": "Email ends with \"@shop.test\" and\n  did MailClick at least"}),
        )
        .error(422);
    let details = e["details"].as_array().expect("details");
    assert!(!details.is_empty(), "{e}");
    let detail = &details[0];
    assert_eq!(detail["line"], 2, "the error is on the second line: {e}");
    assert!(detail["column"].as_u64().is_some_and(|c| c > 1), "{e}");
    assert!(detail.get("hint").is_some(), "{e}");
}

#[test]
fn format_prints_a_validated_rule_that_parses_back() {
    let srv = Server::start();
    let a = srv.account();
    let rule = json!({"all": [
        {"field": "Email", "op": "ends_with", "value": "@shop.test"},
        {"event": "MailClick", "within": {"last": "30d"}, "count": {"op": "gte", "value": 2}}
    ]});
    let text = a
        .api
        .post("/v1/rules/format", &json!({"rule": rule}))
        .expect(200)["text"]
        .as_str()
        .expect("text")
        .to_string();
    let back = a
        .api
        .post("/v1/rules/parse", &json!({"text": text}))
        .expect(200);
    assert_eq!(back["rule"], rule, "{text}");
    // The rule is validated first.
    a.api
        .post(
            "/v1/rules/format",
            &json!({"rule": {"field": "Nope", "op": "has_value"}}),
        )
        .error(422);
}
