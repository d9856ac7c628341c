//! The text language reads as SPEC §3 says: the example parses to the
//! JSON of SPEC §2, every operator and clause has its text form, and the
//! printer writes the canonical form of each.

use flowseg_model::{FieldDef, FieldType, Schema};
use flowseg_rules::text::{ParsedRule, parse_rule_with};
use flowseg_rules::{
    NoSegments, Rule, check_rule_text, format_rule, parse_rule, parse_rule_lenient, rule_from_json,
    rule_to_json,
};
use serde_json::{Value, json};

fn parse_json(text: &str) -> Value {
    match parse_rule(text) {
        Ok(rule) => rule_to_json(&rule),
        Err(d) => panic!("{text:?} does not parse:\n{d}"),
    }
}

fn rule(json: Value) -> Rule {
    rule_from_json(&json, "").expect("valid JSON rule")
}

#[test]
fn the_spec_example_is_the_spec_json() {
    let text = r#"Customer_Status = "vip" and (City contains "war" or Age between 18 and 35)
and did product_purchased where price > 100 at least 2 times in last 30d
and not did MailOpen in last 90d
and did cart_add in last 2d not followed by purchase within 1h
and in segment "newsletter""#;
    assert_eq!(
        parse_json(text),
        json!({"all": [
            {"field": "Customer_Status", "op": "equals", "value": "vip"},
            {"any": [
                {"field": "City", "op": "contains", "value": "war"},
                {"field": "Age", "op": "between", "value": [18, 35]},
            ]},
            {"event": "product_purchased",
             "where": [{"attribute": "price", "op": "gt", "value": 100}],
             "within": {"last": "30d"},
             "count": {"op": "gte", "value": 2}},
            {"not": {"event": "MailOpen", "within": {"last": "90d"}}},
            {"event": "cart_add", "within": {"last": "2d"},
             "not_followed_by": {"event": "purchase", "window": "1h"}},
            {"segment": "newsletter"},
        ]})
    );
    // It is also how the printer lays it out.
    assert_eq!(format_rule(&parse_rule(text).unwrap()), text);
}

/// (text, JSON, canonical text when it differs)
fn cases() -> Vec<(&'static str, Value, Option<&'static str>)> {
    vec![
        // Text operators.
        (
            r#"City = "Warsaw""#,
            json!({"field": "City", "op": "equals", "value": "Warsaw"}),
            None,
        ),
        (
            r#"City equals "Warsaw""#,
            json!({"field": "City", "op": "equals", "value": "Warsaw"}),
            Some(r#"City = "Warsaw""#),
        ),
        (
            r#"City != "Warsaw""#,
            json!({"field": "City", "op": "not_equals", "value": "Warsaw"}),
            None,
        ),
        (
            r#"City contains "war""#,
            json!({"field": "City", "op": "contains", "value": "war"}),
            None,
        ),
        (
            r#"City does not contain "war""#,
            json!({"field": "City", "op": "not_contains", "value": "war"}),
            None,
        ),
        (
            r#"City not contains "war""#,
            json!({"field": "City", "op": "not_contains", "value": "war"}),
            Some(r#"City does not contain "war""#),
        ),
        (
            r#"Email starts with "anna""#,
            json!({"field": "Email", "op": "starts_with", "value": "anna"}),
            None,
        ),
        (
            r#"Email ends with "@example.com""#,
            json!({"field": "Email", "op": "ends_with", "value": "@example.com"}),
            None,
        ),
        (
            r#"City in ["Warsaw", "Kraków"]"#,
            json!({"field": "City", "op": "in", "value": ["Warsaw", "Kraków"]}),
            None,
        ),
        (
            r#"City not in ["Warsaw"]"#,
            json!({"field": "City", "op": "not_in", "value": ["Warsaw"]}),
            None,
        ),
        (
            r#"Email matches "^[a-z]+@""#,
            json!({"field": "Email", "op": "matches", "value": "^[a-z]+@"}),
            None,
        ),
        (
            "City has value",
            json!({"field": "City", "op": "has_value"}),
            None,
        ),
        (
            "City has no value",
            json!({"field": "City", "op": "has_no_value"}),
            None,
        ),
        (
            r#"City = "Warsaw" case-sensitive"#,
            json!({"field": "City", "op": "equals", "value": "Warsaw", "case_sensitive": true}),
            None,
        ),
        (
            r#"City contains "War" case sensitive"#,
            json!({"field": "City", "op": "contains", "value": "War", "case_sensitive": true}),
            Some(r#"City contains "War" case-sensitive"#),
        ),
        // Number operators.
        (
            "Age = 30",
            json!({"field": "Age", "op": "equals", "value": 30}),
            None,
        ),
        (
            "Age != 30.5",
            json!({"field": "Age", "op": "not_equals", "value": 30.5}),
            None,
        ),
        (
            "Age > -1",
            json!({"field": "Age", "op": "gt", "value": -1}),
            None,
        ),
        (
            "Age >= 18",
            json!({"field": "Age", "op": "gte", "value": 18}),
            None,
        ),
        (
            "Age < 1e3",
            json!({"field": "Age", "op": "lt", "value": 1000.0}),
            Some("Age < 1000.0"),
        ),
        (
            "Age <= 65",
            json!({"field": "Age", "op": "lte", "value": 65}),
            None,
        ),
        (
            "Age between 18 and 35",
            json!({"field": "Age", "op": "between", "value": [18, 35]}),
            None,
        ),
        (
            "Age in [18, 21]",
            json!({"field": "Age", "op": "in", "value": [18, 21]}),
            None,
        ),
        (
            "Age not in [18, 21]",
            json!({"field": "Age", "op": "not_in", "value": [18, 21]}),
            None,
        ),
        // Date operators: unquoted dates are their text.
        (
            "Birthday = 1990-05-17",
            json!({"field": "Birthday", "op": "equals", "value": "1990-05-17"}),
            None,
        ),
        (
            r#"Birthday = "1990-05-17""#,
            json!({"field": "Birthday", "op": "equals", "value": "1990-05-17"}),
            Some("Birthday = 1990-05-17"),
        ),
        (
            "CreateTime != 2026-06-01",
            json!({"field": "CreateTime", "op": "not_equals", "value": "2026-06-01"}),
            None,
        ),
        (
            "CreateTime before 2026-06-01",
            json!({"field": "CreateTime", "op": "before", "value": "2026-06-01"}),
            None,
        ),
        (
            "CreateTime after 2026-06-01T12:00:00Z",
            json!({"field": "CreateTime", "op": "after", "value": "2026-06-01T12:00:00Z"}),
            None,
        ),
        (
            "CreateTime between 2026-06-01 and 2026-06-30T23:59:59+02:00",
            json!({"field": "CreateTime", "op": "between", "value": ["2026-06-01", "2026-06-30T23:59:59+02:00"]}),
            None,
        ),
        (
            "CreateTime within last 30d",
            json!({"field": "CreateTime", "op": "within_last", "value": "30d"}),
            None,
        ),
        (
            "CreateTime in the last 30d",
            json!({"field": "CreateTime", "op": "within_last", "value": "30d"}),
            Some("CreateTime within last 30d"),
        ),
        (
            "CreateTime more than 2w ago",
            json!({"field": "CreateTime", "op": "more_than_ago", "value": "2w"}),
            None,
        ),
        (
            "Birthday within next 7d",
            json!({"field": "Birthday", "op": "within_next", "value": "7d"}),
            None,
        ),
        (
            "Birthday in next 12h",
            json!({"field": "Birthday", "op": "within_next", "value": "12h"}),
            Some("Birthday within next 12h"),
        ),
        // Boolean operators.
        (
            "Vip is true",
            json!({"field": "Vip", "op": "is_true"}),
            None,
        ),
        (
            "EmailUnsubscribed is false",
            json!({"field": "EmailUnsubscribed", "op": "is_false"}),
            None,
        ),
        (
            "Vip has no value",
            json!({"field": "Vip", "op": "has_no_value"}),
            None,
        ),
        // Nodes.
        ("everyone", json!({"all": []}), None),
        ("not everyone", json!({"not": {"all": []}}), None),
        (
            "all of (Vip is true)",
            json!({"all": [{"field": "Vip", "op": "is_true"}]}),
            None,
        ),
        (
            "any of (Vip is true)",
            json!({"any": [{"field": "Vip", "op": "is_true"}]}),
            None,
        ),
        (
            "Vip is true or Age > 5 and Age < 9",
            json!({"any": [
                {"field": "Vip", "op": "is_true"},
                {"all": [{"field": "Age", "op": "gt", "value": 5}, {"field": "Age", "op": "lt", "value": 9}]},
            ]}),
            Some("Vip is true or (Age > 5 and Age < 9)"),
        ),
        (
            "(Vip is true and Age > 5) and Age < 9",
            json!({"all": [
                {"all": [{"field": "Vip", "op": "is_true"}, {"field": "Age", "op": "gt", "value": 5}]},
                {"field": "Age", "op": "lt", "value": 9},
            ]}),
            None,
        ),
        (
            "not (Vip is true or Age > 5)",
            json!({"not": {"any": [
                {"field": "Vip", "op": "is_true"}, {"field": "Age", "op": "gt", "value": 5},
            ]}}),
            None,
        ),
        (r#"in segment "seg_1""#, json!({"segment": "seg_1"}), None),
        (
            "IN SEGMENT newsletter",
            json!({"segment": "newsletter"}),
            Some(r#"in segment "newsletter""#),
        ),
        // Event conditions.
        ("did MailOpen", json!({"event": "MailOpen"}), None),
        (
            "not did MailOpen in last 90d",
            json!({"not": {"event": "MailOpen", "within": {"last": "90d"}}}),
            None,
        ),
        (
            "did MailOpen exactly 0 times",
            json!({"event": "MailOpen", "count": {"op": "equals", "value": 0}}),
            None,
        ),
        (
            "did MailOpen not exactly 3 times",
            json!({"event": "MailOpen", "count": {"op": "not_equals", "value": 3}}),
            None,
        ),
        (
            "did MailOpen more than 3 times",
            json!({"event": "MailOpen", "count": {"op": "gt", "value": 3}}),
            None,
        ),
        (
            "did MailOpen at least 1 time",
            json!({"event": "MailOpen", "count": {"op": "gte", "value": 1}}),
            None,
        ),
        (
            "did MailOpen less than 3 times",
            json!({"event": "MailOpen", "count": {"op": "lt", "value": 3}}),
            None,
        ),
        (
            "did MailOpen fewer than 3 times",
            json!({"event": "MailOpen", "count": {"op": "lt", "value": 3}}),
            Some("did MailOpen less than 3 times"),
        ),
        (
            "did MailOpen at most 3 times",
            json!({"event": "MailOpen", "count": {"op": "lte", "value": 3}}),
            None,
        ),
        (
            "did MailOpen between 2 and 5 times",
            json!({"event": "MailOpen", "count": {"op": "between", "value": [2, 5]}}),
            None,
        ),
        (
            r#"did Visit where url contains "/pricing" at least 3 times in last 7d"#,
            json!({"event": "Visit",
            "where": [{"attribute": "url", "op": "contains", "value": "/pricing"}],
            "within": {"last": "7d"}, "count": {"op": "gte", "value": 3}}),
            None,
        ),
        (
            r#"did product_purchased where (category = "shoes" and price > 100)"#,
            json!({"event": "product_purchased",
            "where": [{"attribute": "category", "op": "equals", "value": "shoes"}, {"attribute": "price", "op": "gt", "value": 100}]}),
            None,
        ),
        (
            r#"did purchase where (paid = true and coupon has no value and tags in ["a", 5, false] and at before 2026-01-01 and size between 1 and 2)"#,
            json!({"event": "purchase", "where": [
                {"attribute": "paid", "op": "equals", "value": true},
                {"attribute": "coupon", "op": "has_no_value"},
                {"attribute": "tags", "op": "in", "value": ["a", 5, false]},
                {"attribute": "at", "op": "before", "value": "2026-01-01"},
                {"attribute": "size", "op": "between", "value": [1, 2]},
            ]}),
            Some(
                r#"did purchase where (paid = true and coupon has no value and tags in ["a", 5, false] and `at` before 2026-01-01 and size between 1 and 2)"#,
            ),
        ),
        (
            "did purchase with sum of price > 500 in last 30d",
            json!({"event": "purchase", "within": {"last": "30d"},
            "aggregate": {"fn": "sum", "attribute": "price", "op": "gt", "value": 500}}),
            None,
        ),
        (
            "did purchase with avg of price between 10 and 20.5",
            json!({"event": "purchase",
            "aggregate": {"fn": "avg", "attribute": "price", "op": "between", "value": [10, 20.5]}}),
            None,
        ),
        (
            "did purchase with average of price = 3",
            json!({"event": "purchase",
            "aggregate": {"fn": "avg", "attribute": "price", "op": "equals", "value": 3}}),
            Some("did purchase with avg of price = 3"),
        ),
        (
            "did purchase with min of price != 3",
            json!({"event": "purchase",
            "aggregate": {"fn": "min", "attribute": "price", "op": "not_equals", "value": 3}}),
            None,
        ),
        (
            "did purchase with max of price <= 3",
            json!({"event": "purchase",
            "aggregate": {"fn": "max", "attribute": "price", "op": "lte", "value": 3}}),
            None,
        ),
        (
            "did purchase with max of price >= 3",
            json!({"event": "purchase",
            "aggregate": {"fn": "max", "attribute": "price", "op": "gte", "value": 3}}),
            None,
        ),
        (
            "did purchase with max of price < 3",
            json!({"event": "purchase",
            "aggregate": {"fn": "max", "attribute": "price", "op": "lt", "value": 3}}),
            None,
        ),
        (
            "did MailOpen more than 30d ago",
            json!({"event": "MailOpen", "within": {"before": "30d"}}),
            None,
        ),
        (
            "did MailOpen from 2026-06-01 to 2026-07-01",
            json!({"event": "MailOpen", "within": {"from": "2026-06-01", "to": "2026-07-01"}}),
            None,
        ),
        (
            "did MailOpen since 2026-06-01",
            json!({"event": "MailOpen", "within": {"from": "2026-06-01"}}),
            None,
        ),
        (
            "did MailOpen from 2026-06-01T10:00:00+02:00",
            json!({"event": "MailOpen", "within": {"from": "2026-06-01T08:00:00.000Z"}}),
            Some("did MailOpen since 2026-06-01T08:00:00.000Z"),
        ),
        (
            "did MailOpen before 2026-07-01",
            json!({"event": "MailOpen", "within": {"to": "2026-07-01"}}),
            None,
        ),
        (
            "did MailOpen until 2026-07-01",
            json!({"event": "MailOpen", "within": {"to": "2026-07-01"}}),
            Some("did MailOpen before 2026-07-01"),
        ),
        (
            "did cart_add in last 2d not followed by purchase within 1h on cart_id",
            json!({"event": "cart_add", "within": {"last": "2d"},
            "not_followed_by": {"event": "purchase", "window": "1h", "on": ["cart_id"]}}),
            None,
        ),
        (
            r#"did cart_add followed by purchase where total > 10 within 3d on [cart_id, store]"#,
            json!({"event": "cart_add",
            "followed_by": {"event": "purchase", "where": [{"attribute": "total", "op": "gt", "value": 10}], "window": "3d", "on": ["cart_id", "store"]}}),
            None,
        ),
        (
            "did cart_add not followed by purchase",
            json!({"event": "cart_add", "not_followed_by": {"event": "purchase"}}),
            None,
        ),
        // Clauses in any order print in the grammar's order.
        (
            "did X in last 30d at least 2 times where a = 1",
            json!({"event": "X", "where": [{"attribute": "a", "op": "equals", "value": 1}],
            "within": {"last": "30d"}, "count": {"op": "gte", "value": 2}}),
            Some("did X where a = 1 at least 2 times in last 30d"),
        ),
        // Names.
        (
            "`odd name` = 1",
            json!({"field": "odd name", "op": "equals", "value": 1}),
            None,
        ),
        (
            "`and` = 1",
            json!({"field": "and", "op": "equals", "value": 1}),
            None,
        ),
        (
            "did order.completed",
            json!({"event": "order.completed"}),
            None,
        ),
        ("did `404-page`", json!({"event": "404-page"}), None),
        (
            "Miasto = \"Łódź\"",
            json!({"field": "Miasto", "op": "equals", "value": "Łódź"}),
            None,
        ),
        // Strings keep JSON escapes.
        (
            r#"Note = "say \"hi\"\n\u00e9""#,
            json!({"field": "Note", "op": "equals", "value": "say \"hi\"\né"}),
            Some(r#"Note = "say \"hi\"\né""#),
        ),
    ]
}

#[test]
fn every_operator_and_clause_has_a_text_form() {
    for (text, expected, canonical) in cases() {
        assert_eq!(parse_json(text), expected, "{text}");
        let printed = format_rule(&rule(expected.clone()));
        assert_eq!(printed, canonical.unwrap_or(text), "printing {expected}");
        assert_eq!(parse_rule(&printed), Ok(rule(expected)), "{printed}");
    }
}

#[test]
fn keywords_are_case_insensitive_and_comments_are_ignored() {
    assert_eq!(
        parse_json("NOT Did MailOpen IN LAST 90d # opened nothing lately\nAND Age Between 1 AND 2"),
        json!({"all": [
            {"not": {"event": "MailOpen", "within": {"last": "90d"}}},
            {"field": "Age", "op": "between", "value": [1, 2]},
        ]})
    );
}

#[test]
fn integers_and_floats_stay_as_written() {
    assert_eq!(
        parse_json("Age = 30"),
        json!({"field": "Age", "op": "equals", "value": 30})
    );
    let float = parse_rule("Age = 30.0").unwrap();
    assert_eq!(rule_to_json(&float)["value"], json!(30.0));
    assert_eq!(format_rule(&float), "Age = 30.0");
    assert_eq!(
        format_rule(&rule(
            json!({"event": "X", "count": {"op": "gte", "value": 2.0}})
        )),
        "did X at least 2 times"
    );
}

#[test]
fn long_rules_print_one_top_level_condition_per_line() {
    let r = rule(json!({"any": [
        {"field": "City", "op": "equals", "value": "a very long city name that goes on"},
        {"field": "City", "op": "equals", "value": "another very long city name, also"},
    ]}));
    assert_eq!(
        format_rule(&r),
        "City = \"a very long city name that goes on\"\nor City = \"another very long city name, also\""
    );
}

#[test]
fn segments_can_be_named_through_a_resolver() {
    let resolve = |s: &str| match s {
        "Newsletter" | "seg_1" => Some("seg_1".to_string()),
        _ => None,
    };
    assert_eq!(
        parse_rule_with(r#"in segment "Newsletter""#, &resolve),
        Ok(Rule::Segment("seg_1".into()))
    );
    let label = |id: &str| (id == "seg_1").then(|| "Newsletter".to_string());
    assert_eq!(
        flowseg_rules::text::format_rule_with(&Rule::Segment("seg_1".into()), &label),
        r#"in segment "Newsletter""#
    );
    let err = parse_rule_with(r#"Age > 1 and in segment "Newsleter""#, &resolve).unwrap_err();
    assert_eq!(err.message, "there is no segment `Newsleter`");
    assert_eq!(err.span, 23..34);
}

#[test]
fn the_lenient_parse_keeps_what_parses() {
    let (rule, diagnostics) = parse_rule_lenient(r#"City = "war" and Age > and did MailOpen"#);
    assert_eq!(
        rule.map(|r| rule_to_json(&r)),
        Some(json!({"all": [
            {"field": "City", "op": "equals", "value": "war"},
            {"event": "MailOpen"},
        ]}))
    );
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].span, 23..26);

    let (rule, diagnostics) = parse_rule_lenient(r#"City = "war" or Age between 1 and"#);
    assert_eq!(
        rule.map(|r| rule_to_json(&r)),
        Some(json!({"field": "City", "op": "equals", "value": "war"}))
    );
    assert_eq!(diagnostics.len(), 1);

    let (rule, diagnostics) = parse_rule_lenient("Age ==");
    assert_eq!(rule, None);
    assert_eq!(diagnostics.len(), 1);

    let (rule, diagnostics) = parse_rule_lenient("City = \"war");
    assert_eq!(
        rule.map(|r| rule_to_json(&r)),
        Some(json!({"field": "City", "op": "equals", "value": "war"}))
    );
    assert_eq!(diagnostics[0].message, "this string is not closed");
}

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

#[test]
fn validation_problems_point_at_the_text() {
    let text = "Age > 5 and did X where (a = 1 and b = \"\")";
    let errors = check_rule_text(text, &schema(), &NoSegments).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(&text[errors[0].span.clone()], "\"\"");

    let parsed = ParsedRule::parse("not (Age > 5 or City in [\"a\", 5])", None).unwrap();
    assert_eq!(parsed.span_of("/not/any/1/value/1"), 30..31);
    assert_eq!(parsed.span_of("/not/any/1/op"), 21..23);
    assert_eq!(parsed.span_of("/not/any/0"), 5..12);
    assert_eq!(parsed.span_of("/not"), 4..33);
    assert_eq!(parsed.span_of("/not/any/7"), 4..33);
    assert_eq!(parsed.span_of(""), 0..33);

    assert!(
        check_rule_text(
            "Customer_Status = \"vip\" and Birthday within next 7d and Vip is true",
            &schema(),
            &NoSegments
        )
        .is_ok()
    );
}
