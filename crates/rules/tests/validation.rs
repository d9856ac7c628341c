//! Validation of rules against a schema: what is accepted, and where each
//! problem is reported.

use flowseg_model::{FieldDef, FieldType, Schema};
use flowseg_rules::{NoSegments, Rule, parse_and_plan, rule_from_json, rule_to_json};
use serde_json::{Value, json};

fn schema() -> Schema {
    let f = |n: &str, t| FieldDef {
        name: n.into(),
        field_type: t,
    };
    Schema {
        custom: vec![
            f("Customer_Status", FieldType::Text),
            f("City", FieldType::Text),
            f("Age", FieldType::Number),
            f("Birthday", FieldType::Date),
            f("Vip", FieldType::Boolean),
        ],
    }
}

fn problems(rule: Value) -> Vec<(String, String)> {
    match parse_and_plan(&rule, "/rule", &schema(), &NoSegments, None) {
        Ok(_) => vec![],
        Err(p) => p.into_iter().map(|p| (p.path, p.message)).collect(),
    }
}

fn first_path(rule: Value) -> String {
    problems(rule)
        .first()
        .map(|p| p.0.clone())
        .unwrap_or_else(|| "<valid>".into())
}

/// SPEC §4: "one `details` entry per problem", so a malformed node does
/// not hide the validation problems of well-formed ones beside it.
#[test]
fn a_malformed_node_does_not_hide_the_problems_beside_it() {
    let paths = |rule: Value| -> Vec<String> { problems(rule).into_iter().map(|p| p.0).collect() };
    assert_eq!(
        paths(json!({"all": [
            {"field": "Nope", "op": "equals", "value": "x"},
            {"event": "purchase", "count": {"op": "bogus", "value": 1}}
        ]})),
        ["/rule/all/1/count/op", "/rule/all/0/field"]
    );
    assert_eq!(
        paths(json!({"all": [{"bogus": 1}, {"field": "Email", "op": "equals", "value": ""}]})),
        ["/rule/all/0", "/rule/all/1/value"]
    );
    // Deeper: under `not` and `any`, a sound group is validated whole.
    assert_eq!(
        paths(json!({"not": {"any": [
            {"all": [{"field": "Age", "op": "contains", "value": "1"}, {"field": "Nope2", "op": "has_value"}]},
            {"segment": 5}
        ]}})),
        [
            "/rule/not/any/1/segment",
            "/rule/not/any/0/all/0/op",
            "/rule/not/any/0/all/1/field"
        ]
    );
    // A well-formed rule is validated as before; a wholly malformed one
    // has only its shape problems.
    assert_eq!(
        paths(json!({"field": "Nope", "op": "equals", "value": "x"})),
        ["/rule/field"]
    );
    assert_eq!(paths(json!([1])), ["/rule"]);
}

#[test]
fn accepts_every_operator_on_its_type() {
    let ok = [
        json!({"field": "City", "op": "equals", "value": "Warsaw"}),
        json!({"field": "City", "op": "not_contains", "value": "war", "case_sensitive": true}),
        json!({"field": "City", "op": "in", "value": ["a", "b"]}),
        json!({"field": "City", "op": "matches", "value": "^w.*w$"}),
        json!({"field": "City", "op": "has_no_value"}),
        json!({"field": "Age", "op": "between", "value": [18, 35]}),
        json!({"field": "Age", "op": "not_in", "value": [1, 2.5]}),
        json!({"field": "Birthday", "op": "within_next", "value": "7d"}),
        json!({"field": "Birthday", "op": "between", "value": ["2026-01-01", "2026-01-02T10:00:00Z"]}),
        json!({"field": "Vip", "op": "is_false"}),
        json!({"field": "CreateTime", "op": "more_than_ago", "value": "2w"}),
        json!({"event": "cart_add", "within": {"last": "2d"}, "not_followed_by": {"event": "purchase", "window": "1h", "on": ["cart_id"]}}),
        json!({"event": "purchase", "where": [{"attribute": "price", "op": "between", "value": [1, 2]}, {"attribute": "when", "op": "between", "value": ["2026-01-01", "2026-02-01"]}], "aggregate": {"fn": "avg", "attribute": "price", "op": "gt", "value": 5}}),
        json!({"event": "Visit", "where": [{"attribute": "url", "op": "in", "value": ["/a", 5, true]}], "within": {"from": "2026-06-01", "to": "2026-07-01"}, "count": {"op": "equals", "value": 0}}),
        json!({"all": []}),
        json!({"not": {"any": [{"field": "Vip", "op": "is_true"}]}}),
    ];
    for rule in ok {
        assert_eq!(problems(rule.clone()), vec![], "{rule}");
    }
}

#[test]
fn points_at_the_key_at_fault() {
    assert_eq!(
        first_path(
            json!({"all": [{"field": "Age", "op": "gt", "value": 1}, {"field": "Age", "op": "contains", "value": "x"}]})
        ),
        "/rule/all/1/op"
    );
    assert_eq!(
        first_path(json!({"all": [{"field": "Agee", "op": "gt", "value": 1}]})),
        "/rule/all/0/field"
    );
    assert_eq!(
        first_path(json!({"any": [{"field": "Age", "op": "gt", "value": "1"}]})),
        "/rule/any/0/value"
    );
    assert_eq!(first_path(json!({"any": []})), "/rule/any");
    assert_eq!(
        first_path(json!({"field": "City", "op": "equals", "value": ""})),
        "/rule/value"
    );
    assert_eq!(
        first_path(json!({"field": "City", "op": "in", "value": []})),
        "/rule/value"
    );
    assert_eq!(
        first_path(json!({"field": "Age", "op": "between", "value": [5, 1]})),
        "/rule/value"
    );
    assert_eq!(
        first_path(json!({"event": "x", "within": {"last": "30"}})),
        "/rule/within/last"
    );
    assert_eq!(
        first_path(
            json!({"event": "x", "count": {"op": "gte", "value": 1}, "aggregate": {"fn": "sum", "attribute": "p", "op": "gt", "value": 1}})
        ),
        "/rule/aggregate"
    );
    assert_eq!(
        first_path(json!({"event": "x", "where": [{"attribute": "p", "op": "gt", "value": "5"}]})),
        "/rule/where/0/value"
    );
    assert_eq!(first_path(json!({"segment": "s1"})), "/rule/segment");
    assert_eq!(
        first_path(json!({"not": {"field": "City", "op": "equal", "value": "x"}})),
        "/rule/not/op"
    );
    assert_eq!(
        first_path(json!({"field": "City", "op": "equals", "value": "x", "extra": 1})),
        "/rule/extra"
    );
    assert_eq!(
        first_path(json!({"field": "Vip", "op": "is_true", "value": true})),
        "/rule/value"
    );
    assert_eq!(
        first_path(json!({"field": "City", "op": "matches", "value": "(unclosed"})),
        "/rule/value"
    );
}

#[test]
fn messages_say_what_would_be_right() {
    let p = problems(json!({"field": "Customer_Stauts", "op": "equals", "value": "vip"}));
    assert!(p[0].1.contains("Did you mean `Customer_Status`?"), "{p:?}");
    let p = problems(json!({"field": "Age", "op": "contains", "value": "3"}));
    assert!(p[0].1.contains("`gt`"), "{p:?}");
    let p = problems(json!({"field": "City", "op": "equal", "value": "x"}));
    assert!(p[0].1.contains("Did you mean `equals`?"), "{p:?}");
}

#[test]
fn reports_every_problem() {
    let p = problems(
        json!({"all": [{"field": "Nope", "op": "equals", "value": "x"}, {"field": "Age", "op": "gt", "value": "x"}]}),
    );
    assert_eq!(p.len(), 2, "{p:?}");
}

#[test]
fn segment_references_and_cycles() {
    let a = rule_from_json(&json!({"segment": "b"}), "").unwrap();
    let b = rule_from_json(&json!({"all": [{"segment": "a"}]}), "").unwrap();
    let lookup = move |id: &str| match id {
        "a" => Some(a.clone()),
        "b" => Some(b.clone()),
        "c" => Some(Rule::everyone()),
        _ => None,
    };
    let plan = |rule: Value, self_id| parse_and_plan(&rule, "/rule", &schema(), &lookup, self_id);
    assert!(plan(json!({"segment": "c"}), Some("new")).is_ok());
    let err = plan(json!({"segment": "b"}), Some("a")).unwrap_err();
    assert_eq!(err[0].path, "/rule/segment");
    assert!(err[0].message.contains("a → b → a"), "{err:?}");
    // A cycle among stored segments is caught even when saving a third.
    assert!(plan(json!({"segment": "a"}), Some("x")).is_err());
}

#[test]
fn json_round_trips() {
    let rules = [
        json!({"all": [{"field": "City", "op": "contains", "value": "war", "case_sensitive": true}, {"not": {"segment": "s1"}}]}),
        json!({"event": "purchase", "where": [{"attribute": "price", "op": "gt", "value": 100}], "within": {"from": "2026-06-01", "to": "2026-07-01T00:00:00.000Z"}, "aggregate": {"fn": "sum", "attribute": "price", "op": "between", "value": [1, 2.5]}, "followed_by": {"event": "refund", "window": "30d", "on": ["order_id"]}}),
        json!({"event": "MailOpen", "within": {"before": "90d"}, "count": {"op": "equals", "value": 0}}),
    ];
    for rule in rules {
        let parsed = rule_from_json(&rule, "").unwrap();
        assert_eq!(rule_to_json(&parsed), rule);
        let again: Rule = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(again, parsed);
    }
}

#[test]
fn depth_and_size_limits() {
    let mut deep = json!({"all": []});
    for _ in 0..40 {
        deep = json!({"not": deep});
    }
    assert!(problems(deep)[0].1.contains("nested deeper"));
    let wide = json!({"any": vec![json!({"field": "Vip", "op": "is_true"}); 2500]});
    assert!(problems(wide)[0].1.contains("more than 2000 nodes"));
}
