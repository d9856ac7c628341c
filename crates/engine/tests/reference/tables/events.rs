//! Event windows, counts, `where` and aggregates.

use serde_json::json;

use super::*;

#[test]
fn event_windows_and_counts() {
    run_table(vec![
        case(
            "within last 30d: exactly now counts, exactly now - 30d does not",
            json!({"event": "purchase", "within": {"last": "30d"}}),
            vec![purchase(now()), purchase(ago(30 * D) + 1)],
            vec![
                purchase(ago(30 * D)),
                purchase(now() + 1),
                nobody(),
                evs(&[("cart_add", now(), json!({}))]),
            ],
        ),
        case(
            "within before 30d: t <= now - 30d",
            json!({"event": "purchase", "within": {"before": "30d"}}),
            vec![purchase(ago(30 * D))],
            vec![purchase(ago(30 * D) + 1)],
        ),
        case(
            "within from/to: from <= t < to, plain dates are day starts",
            json!({"event": "purchase", "within": {"from": "2026-06-01", "to": "2026-06-15"}}),
            vec![
                purchase(at("2026-06-01T00:00:00Z")),
                purchase(at("2026-06-14T23:59:59.999Z")),
            ],
            vec![
                purchase(at("2026-05-31T23:59:59.999Z")),
                purchase(at("2026-06-15T00:00:00Z")),
            ],
        ),
        case(
            "within from only; the future is still hidden",
            json!({"event": "purchase", "within": {"from": "2026-06-15T10:00:00Z"}}),
            vec![purchase(at("2026-06-15T10:00:00Z"))],
            vec![
                purchase(at("2026-06-15T09:59:59.999Z")),
                purchase(now() + 1),
            ],
        ),
        case(
            "within to only",
            json!({"event": "purchase", "within": {"to": "2026-06-01"}}),
            vec![purchase(at("2026-05-31T23:59:59.999Z"))],
            vec![purchase(at("2026-06-01T00:00:00Z"))],
        ),
        case(
            "event names are case-sensitive",
            json!({"event": "MailOpen"}),
            vec![evs(&[("MailOpen", ago(D), json!({}))])],
            vec![evs(&[("mailopen", ago(D), json!({}))])],
        ),
        case(
            "as_of hides later events (exactly now counts)",
            json!({"event": "purchase"}),
            vec![purchase(now())],
            vec![purchase(now() + 1), purchase(now() + 30 * D)],
        ),
        case(
            "count equals 0 includes contacts that never had an event",
            json!({"event": "purchase", "count": {"op": "equals", "value": 0}}),
            vec![
                nobody(),
                evs(&[("cart_add", now(), json!({}))]),
                purchase(now() + 1),
            ],
            vec![purchase(now())],
        ),
        case(
            "count gte 2",
            json!({"event": "purchase", "count": {"op": "gte", "value": 2}}),
            vec![evs(&[
                ("purchase", ago(H), json!({})),
                ("purchase", ago(H), json!({})),
            ])],
            vec![purchase(ago(H)), nobody()],
        ),
        case(
            "count not_equals 1 includes no events",
            json!({"event": "purchase", "count": {"op": "not_equals", "value": 1}}),
            vec![
                nobody(),
                evs(&[
                    ("purchase", ago(H), json!({})),
                    ("purchase", ago(2 * H), json!({})),
                ]),
            ],
            vec![purchase(ago(H))],
        ),
        case(
            "count lt 2 and lte 1",
            json!({"all": [
                {"event": "purchase", "count": {"op": "lt", "value": 2}},
                {"event": "purchase", "count": {"op": "lte", "value": 1}}
            ]}),
            vec![nobody(), purchase(ago(H))],
            vec![evs(&[
                ("purchase", ago(H), json!({})),
                ("purchase", ago(2 * H), json!({})),
            ])],
        ),
        case(
            "count gt 1.5 and between [2, 3]",
            json!({"all": [
                {"event": "purchase", "count": {"op": "gt", "value": 1.5}},
                {"event": "purchase", "count": {"op": "between", "value": [2, 3]}}
            ]}),
            vec![
                evs(&[
                    ("purchase", ago(H), json!({})),
                    ("purchase", ago(2 * H), json!({})),
                ]),
                evs(&[
                    ("purchase", ago(H), json!({})),
                    ("purchase", ago(2 * H), json!({})),
                    ("purchase", ago(3 * H), json!({})),
                ]),
            ],
            vec![
                purchase(ago(H)),
                evs(&[
                    ("purchase", ago(H), json!({})),
                    ("purchase", ago(2 * H), json!({})),
                    ("purchase", ago(3 * H), json!({})),
                    ("purchase", ago(4 * H), json!({})),
                ]),
            ],
        ),
        case(
            "count counts only events passing where and within",
            json!({"event": "purchase", "where": [{"attribute": "price", "op": "gt", "value": 10}],
                   "within": {"last": "1d"}, "count": {"op": "gte", "value": 2}}),
            vec![priced(&[json!(50), json!(60)])],
            vec![
                priced(&[json!(50), json!("60")]),
                evs(&[
                    ("purchase", ago(H), json!({"price": 50})),
                    ("purchase", ago(D), json!({"price": 60})),
                ]),
            ],
        ),
    ]);
}

#[test]
fn where_conditions() {
    let w = |attr: &str, op: &str, value: Json| json!({"event": "purchase", "where": [{"attribute": attr, "op": op, "value": value}]});
    let w0 = |attr: &str, op: &str| json!({"event": "purchase", "where": [{"attribute": attr, "op": op}]});
    run_table(vec![
        case(
            "equals 5 never matches \"5\"",
            w("price", "equals", json!(5)),
            vec![with_attr("price", json!(5.0))],
            vec![with_attr("price", json!("5")), without_attr()],
        ),
        case(
            "equals \"5\" reads strings",
            w("price", "equals", json!("5")),
            vec![with_attr("price", json!("5"))],
            vec![with_attr("price", json!(5))],
        ),
        case(
            "equals text is case-insensitive",
            w("category", "equals", json!("shoes")),
            vec![with_attr("category", json!("SHOES"))],
            vec![with_attr("category", json!("shoe"))],
        ),
        case(
            "case_sensitive equals",
            json!({"event": "purchase", "where": [{"attribute": "category", "op": "equals", "value": "shoes", "case_sensitive": true}]}),
            vec![with_attr("category", json!("shoes"))],
            vec![with_attr("category", json!("Shoes"))],
        ),
        case(
            "not_equals holds on no value and on other types",
            w("category", "not_equals", json!("shoes")),
            vec![
                without_attr(),
                with_attr("category", json!(null)),
                with_attr("category", json!("")),
                with_attr("category", json!(5)),
                with_attr("category", json!("boots")),
            ],
            vec![with_attr("category", json!("Shoes")), nobody()],
        ),
        case(
            "contains ß does not match SS in attributes",
            w("street", "contains", json!("ß")),
            vec![with_attr("street", json!("Straße"))],
            vec![with_attr("street", json!("STRASSE"))],
        ),
        case(
            "not_contains holds on other types",
            w("street", "not_contains", json!("war")),
            vec![with_attr("street", json!(5)), without_attr()],
            vec![with_attr("street", json!("Warsaw"))],
        ),
        case(
            "starts_with, ends_with and matches read strings only",
            json!({"event": "purchase", "where": [
                {"attribute": "url", "op": "starts_with", "value": "/PRI"},
                {"attribute": "url", "op": "ends_with", "value": "ING"},
                {"attribute": "url", "op": "matches", "value": "^/pr"}
            ]}),
            vec![with_attr("url", json!("/pricing"))],
            vec![
                with_attr("url", json!("/blog/pricing")),
                with_attr("url", json!(5)),
            ],
        ),
        case(
            "gt reads numbers only",
            w("price", "gt", json!(100)),
            vec![with_attr("price", json!(100.5))],
            vec![
                with_attr("price", json!("200")),
                with_attr("price", json!(100)),
            ],
        ),
        case(
            "gte, lt, lte",
            json!({"event": "purchase", "where": [
                {"attribute": "price", "op": "gte", "value": 10},
                {"attribute": "price", "op": "lt", "value": 20},
                {"attribute": "price", "op": "lte", "value": 10}
            ]}),
            vec![with_attr("price", json!(10))],
            vec![
                with_attr("price", json!(9.5)),
                with_attr("price", json!(10.5)),
            ],
        ),
        case(
            "is_true reads booleans only",
            w0("flag", "is_true"),
            vec![with_attr("flag", json!(true))],
            vec![
                with_attr("flag", json!("true")),
                with_attr("flag", json!(1)),
                with_attr("flag", json!(false)),
            ],
        ),
        case(
            "is_false fails on no value",
            w0("flag", "is_false"),
            vec![with_attr("flag", json!(false))],
            vec![with_attr("flag", json!(null)), without_attr()],
        ),
        case(
            "has_no_value: absent, null and \"\"",
            w0("note", "has_no_value"),
            vec![
                without_attr(),
                with_attr("note", json!(null)),
                with_attr("note", json!("")),
            ],
            vec![
                with_attr("note", json!("   ")),
                with_attr("note", json!(0)),
                with_attr("note", json!(false)),
            ],
        ),
        case(
            "has_value",
            w0("note", "has_value"),
            vec![
                with_attr("note", json!("   ")),
                with_attr("note", json!(0)),
                with_attr("note", json!(false)),
            ],
            vec![
                without_attr(),
                with_attr("note", json!(null)),
                with_attr("note", json!("")),
            ],
        ),
        case(
            "before reads strings that parse as dates",
            w("when", "before", json!("2026-06-01")),
            vec![
                with_attr("when", json!("2026-05-31")),
                with_attr("when", json!("2026-05-31T23:59:59.999Z")),
            ],
            vec![
                with_attr("when", json!("2026-06-01")),
                with_attr("when", json!("yesterday")),
                with_attr("when", json!(20260531)),
                with_attr("when", json!("2026-05-31 10:00:00")),
            ],
        ),
        case(
            "after a plain date",
            w("when", "after", json!("2026-06-14")),
            vec![with_attr("when", json!("2026-06-15"))],
            vec![with_attr("when", json!("2026-06-14T23:59:59.999Z"))],
        ),
        case(
            "within_last on a date attribute",
            w("when", "within_last", json!("7d")),
            vec![
                with_attr("when", json!(iso(ago(D)))),
                with_attr("when", json!("2026-06-15")),
            ],
            vec![
                with_attr("when", json!(iso(now() + 1))),
                with_attr("when", json!(ago(D))),
            ],
        ),
        case(
            "more_than_ago on a date attribute",
            w("when", "more_than_ago", json!("30d")),
            vec![with_attr("when", json!("2026-05-01"))],
            vec![with_attr("when", json!("2026-06-15"))],
        ),
        case(
            "within_next on a date attribute",
            w("when", "within_next", json!("1d")),
            vec![with_attr("when", json!(iso(now() + H)))],
            vec![with_attr("when", json!(iso(now())))],
        ),
        case(
            "between with string bounds reads dates",
            w("when", "between", json!(["2026-06-01", "2026-06-30"])),
            vec![
                with_attr("when", json!("2026-06-30T23:59:59.999Z")),
                with_attr("when", json!("2026-06-01")),
            ],
            vec![
                with_attr("when", json!("2026-07-01")),
                with_attr("when", json!("2026-05-31T23:59:59.999Z")),
            ],
        ),
        case(
            "between with number bounds reads numbers",
            w("price", "between", json!([10, 20])),
            vec![with_attr("price", json!(20)), with_attr("price", json!(10))],
            vec![
                with_attr("price", json!("15")),
                with_attr("price", json!(20.5)),
            ],
        ),
        case(
            "in with mixed types: each item reads its own type",
            w("v", "in", json!(["a", 5, true])),
            vec![
                with_attr("v", json!(5)),
                with_attr("v", json!(true)),
                with_attr("v", json!("A")),
            ],
            vec![
                with_attr("v", json!("5")),
                with_attr("v", json!(false)),
                with_attr("v", json!("true")),
                without_attr(),
            ],
        ),
        case(
            "not_in holds on no value",
            w("v", "not_in", json!(["a", 5])),
            vec![without_attr(), with_attr("v", json!("5"))],
            vec![with_attr("v", json!(5.0)), with_attr("v", json!("A"))],
        ),
        case(
            "every where condition must hold on the same event",
            json!({"event": "purchase", "where": [
                {"attribute": "category", "op": "equals", "value": "shoes"},
                {"attribute": "price", "op": "gt", "value": 100}
            ]}),
            vec![evs(&[(
                "purchase",
                ago(H),
                json!({"category": "shoes", "price": 120}),
            )])],
            vec![evs(&[
                (
                    "purchase",
                    ago(H),
                    json!({"category": "shoes", "price": 50}),
                ),
                (
                    "purchase",
                    ago(2 * H),
                    json!({"category": "boots", "price": 120}),
                ),
            ])],
        ),
    ]);
}

#[test]
fn aggregates() {
    let agg = |func: &str, op: &str, value: Json| json!({"event": "purchase", "aggregate": {"fn": func, "attribute": "price", "op": op, "value": value}});
    run_table(vec![
        case(
            "sum skips non-numbers",
            agg("sum", "gt", json!(100)),
            vec![priced(&[json!(60), json!(50)])],
            vec![priced(&[json!(60), json!("50")]), priced(&[json!(60)])],
        ),
        case(
            "avg's denominator counts numbers only",
            agg("avg", "equals", json!(50)),
            vec![
                priced(&[json!(40), json!(60), json!("x")]),
                priced(&[json!(40), json!(60), json!(null)]),
                priced(&[json!(40), json!(60)]).ev("purchase", ago(5 * H), json!({})),
            ],
            vec![priced(&[json!(40), json!(60), json!(0)])],
        ),
        case(
            "min",
            agg("min", "lt", json!(0)),
            vec![priced(&[json!(-1.5), json!(30)])],
            vec![priced(&[json!(0), json!(30)])],
        ),
        case(
            "max",
            agg("max", "gte", json!(100)),
            vec![priced(&[json!(2.5), json!(100)])],
            vec![priced(&[json!(99.5)])],
        ),
        case(
            "between",
            agg("sum", "between", json!([10, 20])),
            vec![priced(&[json!(5), json!(5)]), priced(&[json!(20)])],
            vec![priced(&[json!(25)])],
        ),
        case(
            "with no number to aggregate, not_equals fails too",
            agg("sum", "not_equals", json!(1)),
            vec![priced(&[json!(2)])],
            vec![
                nobody(),
                priced(&[json!("2")]),
                priced(&[json!(null), json!(true)]),
                evs(&[("purchase", ago(H), json!({}))]),
            ],
        ),
        case(
            "with no number to aggregate, lt fails too",
            agg("min", "lt", json!(1000)),
            vec![priced(&[json!(2)])],
            vec![nobody(), priced(&[json!("2")])],
        ),
        case(
            "aggregates use only events in the window",
            json!({"event": "purchase", "within": {"last": "1d"},
                   "aggregate": {"fn": "sum", "attribute": "price", "op": "gt", "value": 50}}),
            vec![evs(&[("purchase", now(), json!({"price": 60}))])],
            vec![
                evs(&[("purchase", ago(D), json!({"price": 60}))]),
                evs(&[("purchase", now() + 1, json!({"price": 60}))]),
            ],
        ),
    ]);
}
