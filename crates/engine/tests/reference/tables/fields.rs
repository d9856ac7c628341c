//! Field operators by type.

use serde_json::json;

use super::*;

#[test]
fn text_operators() {
    run_table(vec![
        case(
            "not is the exact complement, contacts without a value included",
            json!({"not": {"field": "City", "op": "equals", "value": "warsaw"}}),
            vec![nobody(), city(""), city("Warszawa")],
            vec![city("WARSAW")],
        ),
        case(
            "not_equals includes contacts without a value",
            json!({"field": "City", "op": "not_equals", "value": "warsaw"}),
            vec![nobody(), city(""), city("Warszawa")],
            vec![city("Warsaw")],
        ),
        case(
            "has_no_value: absent and the empty string; spaces are a value",
            json!({"field": "City", "op": "has_no_value"}),
            vec![nobody(), city("")],
            vec![city("   ")],
        ),
        case(
            "has_value",
            json!({"field": "City", "op": "has_value"}),
            vec![city("   "), city("🎉")],
            vec![nobody(), city("")],
        ),
        case(
            "equals lower-cases both sides; ß stays ß",
            json!({"field": "City", "op": "equals", "value": "strasse"}),
            vec![city("STRASSE"), city("Strasse")],
            vec![city("Straße"), nobody()],
        ),
        case(
            "equals with ß in the operand; ẞ lower-cases to ß",
            json!({"field": "City", "op": "equals", "value": "STRAßE"}),
            vec![city("Straße"), city("STRAẞE")],
            vec![city("STRASSE"), city("strasse")],
        ),
        case(
            "İ lower-cases to i + combining dot",
            json!({"field": "City", "op": "equals", "value": "i\u{307}stanbul"}),
            vec![city("İstanbul"), city("İSTANBUL")],
            vec![city("istanbul"), city("ISTANBUL")],
        ),
        case(
            "an İ operand lower-cases too",
            json!({"field": "City", "op": "equals", "value": "İSTANBUL"}),
            vec![city("İstanbul"), city("i\u{307}stanbul")],
            vec![city("Istanbul"), city("istanbul")],
        ),
        case(
            "case_sensitive equals",
            json!({"field": "City", "op": "equals", "value": "Warszawa", "case_sensitive": true}),
            vec![city("Warszawa")],
            vec![city("warszawa"), city("WARSZAWA"), nobody()],
        ),
        case(
            "contains ß does not match SS",
            json!({"field": "City", "op": "contains", "value": "ß"}),
            vec![city("Straße"), city("STRAẞE")],
            vec![city("STRASSE"), nobody()],
        ),
        case(
            "contains SS is case-insensitive",
            json!({"field": "City", "op": "contains", "value": "SS"}),
            vec![city("STRASSE"), city("strasse")],
            vec![city("Straße")],
        ),
        case(
            "case_sensitive contains",
            json!({"field": "City", "op": "contains", "value": "ß", "case_sensitive": true}),
            vec![city("Straße")],
            vec![city("STRAẞE"), city("STRASSE")],
        ),
        case(
            "not_contains includes contacts without a value",
            json!({"field": "City", "op": "not_contains", "value": "war"}),
            vec![nobody(), city(""), city("Straße")],
            vec![city("Warszawa"), city("WARSAW")],
        ),
        case(
            "starts_with",
            json!({"field": "City", "op": "starts_with", "value": "WAR"}),
            vec![city("warsaw"), city("Warszawa")],
            vec![city(" warsaw"), city("awar"), nobody()],
        ),
        case(
            "ends_with",
            json!({"field": "City", "op": "ends_with", "value": "SAW"}),
            vec![city("Warsaw")],
            vec![city("Warsaw "), city("sawa")],
        ),
        case(
            "equals a string of spaces",
            json!({"field": "City", "op": "equals", "value": "   "}),
            vec![city("   ")],
            vec![city(" "), city(""), nobody()],
        ),
        case(
            "in lower-cases its items",
            json!({"field": "City", "op": "in", "value": ["WARSAW", "i\u{307}stanbul"]}),
            vec![city("warsaw"), city("İstanbul")],
            vec![city("Warszawa"), city("istanbul"), nobody(), city("")],
        ),
        case(
            "case_sensitive in",
            json!({"field": "City", "op": "in", "value": ["Warsaw"], "case_sensitive": true}),
            vec![city("Warsaw")],
            vec![city("warsaw")],
        ),
        case(
            "not_in includes contacts without a value",
            json!({"field": "City", "op": "not_in", "value": ["warsaw"]}),
            vec![nobody(), city(""), city("Warszawa")],
            vec![city("WARSAW")],
        ),
        case(
            "matches is case-insensitive by default",
            json!({"field": "City", "op": "matches", "value": "^war"}),
            vec![city("Warszawa"), city("WARSAW")],
            vec![city("awar"), nobody()],
        ),
        case(
            "matches is an unanchored search",
            json!({"field": "City", "op": "matches", "value": "sza"}),
            vec![city("Warszawa")],
            vec![city("Warsaw")],
        ),
        case(
            "case_sensitive matches",
            json!({"field": "City", "op": "matches", "value": "^War", "case_sensitive": true}),
            vec![city("Warszawa")],
            vec![city("warszawa")],
        ),
        case(
            "emoji",
            json!({"field": "City", "op": "contains", "value": "🎉"}),
            vec![city("🎉 Party")],
            vec![city("Party")],
        ),
        case(
            "standard text fields",
            json!({"field": "FirstName", "op": "equals", "value": "ann"}),
            vec![fx(json!({"FirstName": "Ann"}))],
            vec![fx(json!({"LastName": "Ann"}))],
        ),
    ]);
}

#[test]
fn number_and_boolean_operators() {
    run_table(vec![
        case(
            "equals: 30 is 30.0",
            json!({"field": "Age", "op": "equals", "value": 30}),
            vec![age(json!(30.0)), age(json!(30))],
            vec![age(json!(30.5)), nobody()],
        ),
        case(
            "equals 30.0",
            json!({"field": "Age", "op": "equals", "value": 30.0}),
            vec![age(json!(30))],
            vec![age(json!(29.5))],
        ),
        case(
            "equals 0 holds for -0.0",
            json!({"field": "Age", "op": "equals", "value": 0}),
            vec![age(json!(0)), age(json!(-0.0))],
            vec![age(json!(-1.5)), nobody()],
        ),
        case(
            "not_equals includes contacts without a value",
            json!({"field": "Age", "op": "not_equals", "value": 30}),
            vec![nobody(), age(json!(31))],
            vec![age(json!(30.0))],
        ),
        case(
            "gt is strict",
            json!({"field": "Age", "op": "gt", "value": 30}),
            vec![age(json!(30.5))],
            vec![age(json!(30)), nobody()],
        ),
        case(
            "gte",
            json!({"field": "Age", "op": "gte", "value": 30}),
            vec![age(json!(30))],
            vec![age(json!(29.999))],
        ),
        case(
            "lt 0: -0.0 is not below 0",
            json!({"field": "Age", "op": "lt", "value": 0}),
            vec![age(json!(-1.5))],
            vec![age(json!(0)), age(json!(-0.0)), nobody()],
        ),
        case(
            "lte",
            json!({"field": "Age", "op": "lte", "value": -1.5}),
            vec![age(json!(-1.5)), age(json!(-100))],
            vec![age(json!(-1))],
        ),
        case(
            "between is inclusive",
            json!({"field": "Age", "op": "between", "value": [30, 31]}),
            vec![age(json!(30)), age(json!(31.0))],
            vec![age(json!(31.5)), age(json!(29.5)), nobody()],
        ),
        case(
            "in",
            json!({"field": "Age", "op": "in", "value": [30, -1.5]}),
            vec![age(json!(-1.5)), age(json!(30.0))],
            vec![age(json!(0)), nobody()],
        ),
        case(
            "not_in includes contacts without a value",
            json!({"field": "Age", "op": "not_in", "value": [30]}),
            vec![nobody(), age(json!(31))],
            vec![age(json!(30))],
        ),
        case(
            "has_no_value on numbers",
            json!({"field": "Age", "op": "has_no_value"}),
            vec![nobody(), fx(json!({"Score": 1}))],
            vec![age(json!(0))],
        ),
        case(
            "is_true fails on no value",
            json!({"field": "Vip", "op": "is_true"}),
            vec![vip(true)],
            vec![vip(false), nobody()],
        ),
        case(
            "is_false fails on no value",
            json!({"field": "Vip", "op": "is_false"}),
            vec![vip(false)],
            vec![vip(true), nobody()],
        ),
        case(
            "not is_true includes no value",
            json!({"not": {"field": "Vip", "op": "is_true"}}),
            vec![vip(false), nobody()],
            vec![vip(true)],
        ),
        case(
            "has_value on booleans: false is a value",
            json!({"field": "Vip", "op": "has_value"}),
            vec![vip(false)],
            vec![nobody()],
        ),
        case(
            "standard boolean fields",
            json!({"field": "EmailUnsubscribed", "op": "is_true"}),
            vec![fx(json!({"EmailUnsubscribed": true}))],
            vec![fx(json!({"SmsUnsubscribed": true}))],
        ),
    ]);
}

#[test]
fn date_operators() {
    run_table(vec![
        case(
            "equals a plain date is that UTC day",
            json!({"field": "Birthday", "op": "equals", "value": "2026-06-15"}),
            vec![
                birthday("2026-06-15T00:00:00Z"),
                birthday("2026-06-15T23:59:59.999Z"),
            ],
            vec![
                birthday("2026-06-16T00:00:00Z"),
                birthday("2026-06-14T23:59:59.999Z"),
                nobody(),
            ],
        ),
        case(
            "equals an instant is exact",
            json!({"field": "Birthday", "op": "equals", "value": "2026-06-15T10:00:00Z"}),
            vec![birthday("2026-06-15T10:00:00Z")],
            vec![birthday("2026-06-15T10:00:00.001Z")],
        ),
        case(
            "an instant with an offset",
            json!({"field": "Birthday", "op": "equals", "value": "2026-06-15T12:00:00+02:00"}),
            vec![birthday("2026-06-15T10:00:00Z")],
            vec![birthday("2026-06-15T12:00:00Z")],
        ),
        case(
            "not_equals a day includes no value",
            json!({"field": "Birthday", "op": "not_equals", "value": "2026-06-15"}),
            vec![nobody(), birthday("2026-06-16T00:00:00Z")],
            vec![birthday("2026-06-15T05:00:00Z")],
        ),
        case(
            "before a plain date is before the day starts",
            json!({"field": "Birthday", "op": "before", "value": "2026-06-15"}),
            vec![birthday("2026-06-14T23:59:59.999Z")],
            vec![birthday("2026-06-15T00:00:00Z"), nobody()],
        ),
        case(
            "before an instant is strict",
            json!({"field": "Birthday", "op": "before", "value": "2026-06-15T10:00:00Z"}),
            vec![birthday("2026-06-15T09:59:59.999Z")],
            vec![birthday("2026-06-15T10:00:00Z")],
        ),
        case(
            "after a plain date is after the day ends",
            json!({"field": "Birthday", "op": "after", "value": "2026-06-15"}),
            vec![birthday("2026-06-16T00:00:00Z")],
            vec![birthday("2026-06-15T23:59:59.999Z"), nobody()],
        ),
        case(
            "after an instant is strict",
            json!({"field": "Birthday", "op": "after", "value": "2026-06-15T10:00:00Z"}),
            vec![birthday("2026-06-15T10:00:00.001Z")],
            vec![birthday("2026-06-15T10:00:00Z")],
        ),
        case(
            "between two plain dates covers both whole days",
            json!({"field": "Birthday", "op": "between", "value": ["2026-06-10", "2026-06-15"]}),
            vec![
                birthday("2026-06-10T00:00:00Z"),
                birthday("2026-06-15T23:59:59.999Z"),
            ],
            vec![
                birthday("2026-06-09T23:59:59.999Z"),
                birthday("2026-06-16T00:00:00Z"),
            ],
        ),
        case(
            "between an instant and a plain date",
            json!({"field": "Birthday", "op": "between", "value": ["2026-06-10T12:00:00Z", "2026-06-15"]}),
            vec![
                birthday("2026-06-10T12:00:00Z"),
                birthday("2026-06-15T23:59:59.999Z"),
            ],
            vec![
                birthday("2026-06-10T11:59:59.999Z"),
                birthday("2026-06-16T00:00:00Z"),
            ],
        ),
        case(
            "between a plain date and an instant",
            json!({"field": "Birthday", "op": "between", "value": ["2026-06-10", "2026-06-15T12:00:00Z"]}),
            vec![
                birthday("2026-06-10T00:00:00Z"),
                birthday("2026-06-15T12:00:00Z"),
            ],
            vec![
                birthday("2026-06-09T23:59:59.999Z"),
                birthday("2026-06-15T12:00:00.001Z"),
            ],
        ),
        case(
            "between one day",
            json!({"field": "Birthday", "op": "between", "value": ["2026-06-15", "2026-06-15"]}),
            vec![birthday("2026-06-15T00:00:00Z")],
            vec![birthday("2026-06-16T00:00:00Z")],
        ),
        case(
            "within_last: now - D < value <= now",
            json!({"field": "Birthday", "op": "within_last", "value": "30d"}),
            vec![birthday(&iso(ago(30 * D) + 1)), birthday(&iso(now()))],
            vec![
                birthday(&iso(ago(30 * D))),
                birthday(&iso(now() + 1)),
                nobody(),
            ],
        ),
        case(
            "more_than_ago: value <= now - D",
            json!({"field": "Birthday", "op": "more_than_ago", "value": "30d"}),
            vec![birthday(&iso(ago(30 * D)))],
            vec![birthday(&iso(ago(30 * D) + 1)), nobody()],
        ),
        case(
            "within_next: now < value <= now + D",
            json!({"field": "Birthday", "op": "within_next", "value": "7d"}),
            vec![birthday(&iso(now() + 1)), birthday(&iso(now() + 7 * D))],
            vec![birthday(&iso(now())), birthday(&iso(now() + 7 * D + 1))],
        ),
        case(
            "standard date fields",
            json!({"field": "CreateTime", "op": "within_last", "value": "1d"}),
            vec![fx(json!({"CreateTime": iso(ago(H))}))],
            vec![fx(json!({"CreateTime": iso(ago(2 * D))}))],
        ),
    ]);
}
