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
    assert!(
        detail["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "a syntax error carries a hint: {e}"
    );
}

#[test]
fn a_rule_with_a_malformed_node_and_an_unknown_field_reports_both() {
    let srv = Server::start();
    let a = srv.account();
    let e = a
        .api
        .post(
            "/v1/segments/preview",
            &json!({"rule": {"all": [
                {"field": "Nope", "op": "equals", "value": "x"},
                {"event": "purchase", "count": {"op": "bogus", "value": 1}}
            ]}}),
        )
        .error(422);
    let mut paths: Vec<&str> = e["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["path"].as_str())
        .collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/rule/all/0/field", "/rule/all/1/count/op"], "{e}");
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
