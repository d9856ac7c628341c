//! Sequences, groups and segment references.

use serde_json::json;

use super::*;

#[test]
fn sequences() {
    let fb = json!({"event": "cart_add", "followed_by": {"event": "purchase", "window": "1h"}});
    let nfb =
        json!({"event": "cart_add", "not_followed_by": {"event": "purchase", "window": "1h"}});
    run_table(vec![
        case(
            "followed_by: tA < tB <= tA + D",
            fb.clone(),
            vec![evs(&[cart(ago(2 * H), json!({})), buy(ago(H), json!({}))])],
            vec![
                evs(&[cart(ago(2 * H), json!({})), buy(ago(H) + 1, json!({}))]),
                evs(&[cart(ago(2 * H), json!({})), buy(ago(2 * H), json!({}))]),
                evs(&[buy(ago(3 * H), json!({})), cart(ago(2 * H), json!({}))]),
                evs(&[cart(ago(30 * MINUTE), json!({})), buy(now() + 1, json!({}))]),
                evs(&[cart(ago(2 * H), json!({}))]),
            ],
        ),
        case(
            "followed_by without a window: any later B up to now",
            json!({"event": "cart_add", "followed_by": {"event": "purchase"}}),
            vec![evs(&[cart(ago(10 * D), json!({})), buy(now(), json!({}))])],
            vec![evs(&[
                cart(ago(10 * D), json!({})),
                buy(now() + 1, json!({})),
            ])],
        ),
        case(
            "followed_by: B must pass its own where",
            json!({"event": "cart_add", "followed_by": {"event": "purchase", "window": "1d",
                   "where": [{"attribute": "price", "op": "gt", "value": 10}]}}),
            vec![evs(&[
                cart(ago(2 * H), json!({})),
                buy(ago(H), json!({"price": 20})),
            ])],
            vec![evs(&[
                cart(ago(2 * H), json!({})),
                buy(ago(H), json!({"price": 5})),
            ])],
        ),
        case(
            "on: present, same JSON type, equal; strings case-sensitively",
            json!({"event": "cart_add", "followed_by": {"event": "purchase", "window": "1d", "on": ["cart_id"]}}),
            vec![
                evs(&[
                    cart(ago(2 * H), json!({"cart_id": "c1"})),
                    buy(ago(H), json!({"cart_id": "c1"})),
                ]),
                evs(&[
                    cart(ago(2 * H), json!({"cart_id": 1})),
                    buy(ago(H), json!({"cart_id": 1.0})),
                ]),
                evs(&[
                    cart(ago(2 * H), json!({"cart_id": true})),
                    buy(ago(H), json!({"cart_id": true})),
                ]),
            ],
            vec![
                evs(&[
                    cart(ago(2 * H), json!({"cart_id": "c1"})),
                    buy(ago(H), json!({"cart_id": "C1"})),
                ]),
                evs(&[
                    cart(ago(2 * H), json!({"cart_id": 1})),
                    buy(ago(H), json!({"cart_id": "1"})),
                ]),
                evs(&[
                    cart(ago(2 * H), json!({"cart_id": null})),
                    buy(ago(H), json!({"cart_id": null})),
                ]),
                evs(&[
                    cart(ago(2 * H), json!({"cart_id": ""})),
                    buy(ago(H), json!({"cart_id": ""})),
                ]),
                evs(&[cart(ago(2 * H), json!({})), buy(ago(H), json!({}))]),
                evs(&[
                    cart(ago(2 * H), json!({"cart_id": "c1"})),
                    buy(ago(H), json!({})),
                ]),
            ],
        ),
        case(
            "not_followed_by: no B within D, and D has fully passed",
            nfb.clone(),
            vec![
                evs(&[cart(ago(H), json!({}))]),
                evs(&[cart(ago(2 * H), json!({})), buy(ago(H) + 1, json!({}))]),
                evs(&[cart(ago(2 * H), json!({})), buy(ago(2 * H), json!({}))]),
                evs(&[cart(ago(2 * H), json!({})), buy(ago(3 * H), json!({}))]),
            ],
            vec![
                evs(&[cart(ago(H) + 1, json!({}))]),
                evs(&[cart(ago(30 * MINUTE), json!({}))]),
                evs(&[cart(ago(2 * H), json!({})), buy(ago(H), json!({}))]),
                nobody(),
            ],
        ),
        case(
            "not_followed_by without a window: never followed up to now, no waiting",
            json!({"event": "cart_add", "not_followed_by": {"event": "purchase"}}),
            vec![
                evs(&[cart(now(), json!({}))]),
                evs(&[cart(ago(H), json!({})), buy(ago(2 * H), json!({}))]),
                evs(&[cart(ago(H), json!({})), buy(now() + 1, json!({}))]),
            ],
            vec![evs(&[cart(ago(H), json!({})), buy(now(), json!({}))])],
        ),
        case(
            "not_followed_by on: only a correlated B counts",
            json!({"event": "cart_add", "not_followed_by": {"event": "purchase", "window": "1h", "on": ["cart_id"]}}),
            vec![
                evs(&[
                    cart(ago(2 * H), json!({"cart_id": "c1"})),
                    buy(ago(90 * MINUTE), json!({"cart_id": "c2"})),
                ]),
                evs(&[
                    cart(ago(2 * H), json!({"cart_id": "c1"})),
                    buy(ago(90 * MINUTE), json!({"cart_id": "C1"})),
                ]),
                evs(&[
                    cart(ago(2 * H), json!({})),
                    buy(ago(90 * MINUTE), json!({})),
                ]),
            ],
            vec![evs(&[
                cart(ago(2 * H), json!({"cart_id": "c1"})),
                buy(ago(90 * MINUTE), json!({"cart_id": "c1"})),
            ])],
        ),
        case(
            "count applies to the kept events",
            json!({"event": "cart_add", "not_followed_by": {"event": "purchase", "window": "1h"},
                   "count": {"op": "gte", "value": 2}}),
            vec![evs(&[
                cart(ago(5 * H), json!({})),
                cart(ago(3 * H), json!({})),
            ])],
            vec![evs(&[
                cart(ago(5 * H), json!({})),
                cart(ago(3 * H), json!({})),
                buy(ago(150 * MINUTE), json!({})),
            ])],
        ),
        case(
            "aggregate applies to the kept events",
            json!({"event": "cart_add", "followed_by": {"event": "purchase", "window": "1d"},
                   "aggregate": {"fn": "sum", "attribute": "price", "op": "equals", "value": 10}}),
            vec![evs(&[
                cart(ago(5 * H), json!({"price": 10})),
                buy(ago(4 * H), json!({})),
                cart(ago(H), json!({"price": 7})),
            ])],
            vec![evs(&[
                cart(ago(5 * H), json!({"price": 10})),
                cart(ago(H), json!({"price": 7})),
                buy(ago(30 * MINUTE), json!({})),
            ])],
        ),
        case(
            "the outer within limits only the A events",
            json!({"event": "cart_add", "within": {"to": "2026-06-15T10:00:00Z"},
                   "followed_by": {"event": "purchase", "window": "1h"}}),
            vec![evs(&[
                cart(at("2026-06-15T09:30:00Z"), json!({})),
                buy(at("2026-06-15T10:15:00Z"), json!({})),
            ])],
            vec![evs(&[
                cart(at("2026-06-15T10:00:00Z"), json!({})),
                buy(at("2026-06-15T10:15:00Z"), json!({})),
            ])],
        ),
        case(
            "abandoned cart (SPEC example)",
            json!({"event": "cart_add", "within": {"last": "2d"},
                   "not_followed_by": {"event": "purchase", "window": "1h", "on": ["cart_id"]}}),
            vec![evs(&[
                cart(ago(3 * H), json!({"cart_id": "c1"})),
                buy(ago(150 * MINUTE), json!({"cart_id": "c2"})),
            ])],
            vec![
                evs(&[cart(ago(3 * D), json!({"cart_id": "c1"}))]),
                evs(&[
                    cart(ago(3 * H), json!({"cart_id": "c1"})),
                    buy(ago(150 * MINUTE), json!({"cart_id": "c1"})),
                ]),
            ],
        ),
        case(
            "a sequence of an event with itself",
            json!({"event": "Visit", "followed_by": {"event": "Visit", "window": "1h"}}),
            vec![evs(&[
                ("Visit", ago(2 * H), json!({})),
                ("Visit", ago(90 * MINUTE), json!({})),
            ])],
            vec![evs(&[
                ("Visit", ago(2 * H), json!({})),
                ("Visit", ago(2 * H), json!({})),
            ])],
        ),
    ]);
}

#[test]
fn groups_and_segment_references() {
    let in_warsaw = json!({"field": "City", "op": "equals", "value": "warsaw"});
    let bought_today = json!({"event": "purchase", "within": {"last": "1d"}});
    run_table(vec![
        case(
            "all [] is everyone",
            json!({"all": []}),
            vec![nobody(), city("x")],
            vec![],
        ),
        case(
            "not all [] is no one",
            json!({"not": {"all": []}}),
            vec![],
            vec![nobody()],
        ),
        case(
            "all",
            json!({"all": [in_warsaw, {"field": "Vip", "op": "is_true"}]}),
            vec![fx(json!({"City": "Warsaw", "Vip": true}))],
            vec![city("Warsaw"), vip(true)],
        ),
        case(
            "any",
            json!({"any": [in_warsaw, {"field": "Vip", "op": "is_true"}]}),
            vec![city("Warsaw"), vip(true)],
            vec![nobody(), vip(false)],
        ),
        Case {
            segments: vec![("s0", in_warsaw.clone())],
            ..case(
                "a segment reference",
                json!({"segment": "s0"}),
                vec![city("WARSAW")],
                vec![nobody()],
            )
        },
        Case {
            segments: vec![("s0", bought_today.clone())],
            ..case(
                "a referenced segment is evaluated at the same now",
                json!({"all": [{"segment": "s0"}]}),
                vec![purchase(ago(H))],
                vec![purchase(now() + H), purchase(ago(D))],
            )
        },
        Case {
            segments: vec![
                ("s0", in_warsaw),
                (
                    "s1",
                    json!({"any": [{"segment": "s0"}, {"field": "Vip", "op": "is_true"}]}),
                ),
            ],
            ..case(
                "nested references",
                json!({"not": {"segment": "s1"}}),
                vec![nobody(), vip(false)],
                vec![city("warsaw"), vip(true)],
            )
        },
        Case {
            segments: vec![("s0", bought_today.clone())],
            // The engine evaluates a reference on the scope it meets it
            // in and keeps what it decided: the second reference, in a
            // disjoint scope, must evaluate its own contacts, and the
            // third, in both scopes, must reuse both answers.
            ..case(
                "one segment referenced in disjoint and overlapping scopes",
                json!({"any": [
                    {"all": [{"field": "Vip", "op": "is_true"}, {"segment": "s0"}]},
                    {"all": [{"field": "Vip", "op": "is_false"}, {"segment": "s0"}]},
                    {"all": [{"field": "Vip", "op": "has_value"}, {"not": {"segment": "s0"}},
                             {"field": "City", "op": "equals", "value": "x"}]}
                ]}),
                vec![
                    fx(json!({"Vip": true})).ev("purchase", ago(H), json!({})),
                    fx(json!({"Vip": false})).ev("purchase", ago(H), json!({})),
                    fx(json!({"Vip": false, "City": "x"})),
                ],
                vec![
                    vip(true),
                    vip(false),
                    purchase(ago(H)),
                    fx(json!({"Vip": true, "City": "y"})),
                ],
            )
        },
    ]);
}
