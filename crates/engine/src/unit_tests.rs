//! Targeted checks of the evaluator on a tiny hand-made account.

use flowseg_model::time::{DAY_MS, parse_instant};
use flowseg_model::{AttrValue, Contact, Event, FieldDef, FieldType, Schema, Value};
use flowseg_rules::{NoSegments, parse_and_plan};
use serde_json::{Value as J, json};

use crate::AccountIndex;

pub(crate) fn now() -> i64 {
    parse_instant("2026-06-30T12:00:00Z").unwrap()
}

pub(crate) fn contact(id: &str, fields: &[(&str, Value)]) -> Contact {
    Contact {
        id: id.into(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect(),
    }
}

pub(crate) fn event(name: &str, contact: &str, time: i64, attrs: &[(&str, AttrValue)]) -> Event {
    Event {
        id: None,
        name: name.into(),
        contact_id: contact.into(),
        time,
        attributes: attrs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect(),
    }
}

/// A seeded xorshift: each call gives a number below its argument.
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    }
}

fn index() -> AccountIndex {
    let schema = Schema {
        custom: vec![
            FieldDef {
                name: "City".into(),
                field_type: FieldType::Text,
            },
            FieldDef {
                name: "Age".into(),
                field_type: FieldType::Number,
            },
        ],
    };
    let mut ix = AccountIndex::new(&schema);
    ix.put_contact(
        0,
        &contact(
            "c0",
            &[
                ("City", Value::Text("Warszawa".into())),
                ("Age", Value::Number(30.0)),
            ],
        ),
    );
    ix.put_contact(
        1,
        &contact("c1", &[("City", Value::Text("STRASSE".into()))]),
    );
    ix.put_contact(2, &contact("c2", &[]));
    let n = now();
    let s = |x: &str| AttrValue::Str(x.into());
    ix.add_event(
        0,
        1,
        &event("cart_add", "c0", n - 3 * 3_600_000, &[("cart_id", s("k1"))]),
    );
    ix.add_event(
        0,
        2,
        &event(
            "purchase",
            "c0",
            n - 2 * 3_600_000 - 1,
            &[("cart_id", s("k1")), ("price", AttrValue::Num(120.0))],
        ),
    );
    ix.add_event(
        1,
        3,
        &event("cart_add", "c1", n - 3 * 3_600_000, &[("cart_id", s("k2"))]),
    );
    ix.add_event(
        1,
        4,
        &event("purchase", "c1", n - 3_600_000, &[("cart_id", s("other"))]),
    );
    ix.add_event(
        1,
        5,
        &event(
            "purchase",
            "c1",
            n - 30 * DAY_MS,
            &[("price", AttrValue::Num(50.0))],
        ),
    );
    ix.add_event(
        1,
        6,
        &event("purchase", "c1", n + 1, &[("price", AttrValue::Num(500.0))]),
    );
    ix
}

fn members(ix: &AccountIndex, rule: J, at: i64) -> Vec<u32> {
    let (_, plan) = parse_and_plan(&rule, "/rule", ix.schema(), &NoSegments, None).unwrap();
    ix.evaluate(&plan, at).iter().collect()
}

#[test]
fn fields_and_negation() {
    let ix = index();
    assert_eq!(
        members(
            &ix,
            json!({"field": "City", "op": "contains", "value": "warsz"}),
            now()
        ),
        vec![0]
    );
    assert_eq!(
        members(
            &ix,
            json!({"field": "City", "op": "not_contains", "value": "warsz"}),
            now()
        ),
        vec![1, 2]
    );
    assert_eq!(
        members(
            &ix,
            json!({"field": "Age", "op": "equals", "value": 30.0}),
            now()
        ),
        vec![0]
    );
    assert_eq!(
        members(&ix, json!({"field": "Age", "op": "has_no_value"}), now()),
        vec![1, 2]
    );
    assert_eq!(
        members(&ix, json!({"not": {"all": []}}), now()),
        Vec::<u32>::new()
    );
}

#[test]
fn windows_counts_and_as_of() {
    let ix = index();
    // Exactly now − 30d is not within the last 30 days.
    assert_eq!(
        members(
            &ix,
            json!({"event": "purchase", "where": [{"attribute": "price", "op": "lt", "value": 100}], "within": {"last": "30d"}}),
            now()
        ),
        Vec::<u32>::new()
    );
    assert_eq!(
        members(
            &ix,
            json!({"event": "purchase", "where": [{"attribute": "price", "op": "lt", "value": 100}], "within": {"before": "30d"}}),
            now()
        ),
        vec![1]
    );
    // The future event counts once now reaches it.
    assert_eq!(
        members(
            &ix,
            json!({"event": "purchase", "where": [{"attribute": "price", "op": "gt", "value": 400}]}),
            now()
        ),
        Vec::<u32>::new()
    );
    assert_eq!(
        members(
            &ix,
            json!({"event": "purchase", "where": [{"attribute": "price", "op": "gt", "value": 400}]}),
            now() + 1
        ),
        vec![1]
    );
    assert_eq!(
        members(
            &ix,
            json!({"event": "purchase", "count": {"op": "equals", "value": 0}}),
            now()
        ),
        vec![2]
    );
    assert_eq!(
        members(
            &ix,
            json!({"event": "purchase", "aggregate": {"fn": "sum", "attribute": "price", "op": "not_equals", "value": 1}}),
            now()
        ),
        vec![0, 1]
    );
}

#[test]
fn sequences_with_correlation() {
    let ix = index();
    let abandoned = json!({"event": "cart_add", "within": {"last": "2d"}, "not_followed_by": {"event": "purchase", "window": "1h", "on": ["cart_id"]}});
    // c0 bought the same cart 1h − 1ms later: not abandoned; c1 bought another cart.
    assert_eq!(members(&ix, abandoned.clone(), now()), vec![1]);
    // Two hours earlier, c1's window had not passed yet.
    assert_eq!(
        members(&ix, abandoned, now() - 2 * 3_600_000 - 1),
        Vec::<u32>::new()
    );
    let followed =
        json!({"event": "cart_add", "followed_by": {"event": "purchase", "window": "1h"}});
    assert_eq!(members(&ix, followed, now()), vec![0]);
}

#[test]
fn erasing_a_contact_removes_it_everywhere() {
    let mut ix = index();
    ix.remove_contact(1);
    assert_eq!(members(&ix, json!({"all": []}), now()), vec![0, 2]);
    assert_eq!(
        members(
            &ix,
            json!({"event": "purchase", "count": {"op": "equals", "value": 0}}),
            now()
        ),
        vec![2]
    );
    ix.compact();
    assert_eq!(members(&ix, json!({"event": "purchase"}), now()), vec![0]);
}

#[test]
fn explain_shows_verdicts_and_evidence() {
    let ix = index();
    let rule_json = json!({"all": [{"field": "City", "op": "contains", "value": "warsz"}, {"event": "purchase", "aggregate": {"fn": "max", "attribute": "price", "op": "gt", "value": 100}}]});
    let (rule, plan) = parse_and_plan(&rule_json, "/rule", ix.schema(), &NoSegments, None).unwrap();
    let (member, tree) = ix.explain(&rule, &plan, &NoSegments, 0, now());
    assert!(member);
    assert_eq!(tree["children"][0]["evidence"]["value"], json!("Warszawa"));
    assert_eq!(tree["children"][1]["evidence"]["count"], json!(1));
    assert_eq!(
        tree["children"][1]["evidence"]["aggregate"]["value"],
        json!(120.0)
    );
    let (member, tree) = ix.explain(&rule, &plan, &NoSegments, 1, now());
    assert!(!member);
    assert_eq!(tree["children"][0]["result"], json!(false));
}

/// Enough contacts that an event condition is split across threads (and a
/// field test scans the column rather than testing members): the result
/// must be exactly the contacts a direct count finds, in every range.
#[test]
fn large_accounts_evaluate_the_same_split_across_threads() {
    let mut ix = AccountIndex::new(&Schema::default());
    let n: u32 = 150_000;
    let mut expected = Vec::new();
    for o in 0..n {
        let id = format!("c{o}");
        ix.put_contact(o, &contact(&id, &[]));
        // Contact o has o % 5 purchases, one a day; "gift" on every other.
        let k = o % 5;
        for d in 0..k {
            let attrs = [("gift", AttrValue::Bool(d % 2 == 0))];
            ix.load_event(
                o,
                7,
                &event("purchase", &id, now() - i64::from(d) * DAY_MS - 1, &attrs),
            );
        }
        // At least 2 gift purchases in the last 3 days: days 0 and 2.
        if k >= 3 {
            expected.push(o);
        }
    }
    ix.compact();
    let rule = json!({"event": "purchase", "count": {"op": "gte", "value": 2},
        "where": [{"attribute": "gift", "op": "is_true"}], "within": {"last": "3d"}});
    assert_eq!(members(&ix, rule, now()), expected);
    let none = json!({"not": {"event": "purchase"}});
    let zero: Vec<u32> = (0..n).filter(|o| o % 5 == 0).collect();
    assert_eq!(members(&ix, none, now()), zero);
}

/// The catalog's column summary agrees with the live rows: before a merge
/// an erased contact's rows make it decline, after the merge its latest
/// time and types are the survivors'.
#[test]
fn catalog_summary_reads_the_columns_and_declines_while_erased_rows_remain() {
    let mut ix = AccountIndex::new(&Schema::default());
    for o in 0..3 {
        ix.put_contact(o, &contact(&format!("c{o}"), &[]));
    }
    let t = now() - DAY_MS;
    ix.add_event(
        0,
        8,
        &event("order", "c0", t, &[("v", AttrValue::Num(1.0))]),
    );
    ix.add_event(
        1,
        9,
        &event("order", "c1", t + 5, &[("v", AttrValue::Null)]),
    );
    ix.add_event(
        2,
        10,
        &event("order", "c2", t + 9, &[("v", AttrValue::Str("x".into()))]),
    );
    let p = ix.partition("order").unwrap();
    let s = p.catalog_summary(ix.live()).unwrap();
    assert_eq!((s.events, s.last_time), (3, Some(t + 9)));
    let k = s.attributes[0].1;
    assert!(k.number && k.null && k.string && !k.boolean, "{k:?}");

    ix.remove_contact(2);
    let p = ix.partition("order").unwrap();
    assert!(p.catalog_summary(ix.live()).is_none());
    ix.compact();
    let p = ix.partition("order").unwrap();
    let s = p.catalog_summary(ix.live()).unwrap();
    assert_eq!((s.events, s.last_time), (2, Some(t + 5)));
    let k = s.attributes[0].1;
    assert!(k.number && k.null && !k.string, "{k:?}");
}

/// An event condition met with every contact in scope is decided by a
/// sweep of the contact directory (`EventMatcher::sweep`), one met on a
/// single contact contact by contact: both must agree, for contacts with
/// base rows only, with base and tail rows, and with tail rows only, for
/// counts whose cap stops them early, windows with rows after them,
/// aggregates and sequences.
#[test]
fn a_sweep_of_every_contact_agrees_with_contact_by_contact() {
    let mut ix = AccountIndex::new(&Schema::default());
    let mut next = xorshift(11);
    let add = |ix: &mut AccountIndex, o: u32, load: bool, next: &mut dyn FnMut(u64) -> u64| {
        let id = format!("c{o}");
        // Mostly in the last 100 days, a few after `now`.
        let time = now() - next(100 * DAY_MS as u64) as i64 + DAY_MS;
        let mut attrs = vec![
            ("ok", AttrValue::Bool(next(3) == 0)),
            ("v", AttrValue::Num(next(100) as f64)),
            ("x", AttrValue::Num(next(1000) as f64 / 8.0 - 60.0)),
        ];
        // Hundredths, stored as such (see `attr_column::as_cents`),
        // sometimes `null` or absent.
        match next(5) {
            0 => attrs.push(("y", AttrValue::Null)),
            1 => {}
            _ => {
                let cents = next(60_000) as i32 - 30_000;
                attrs.push(("y", AttrValue::Num(f64::from(cents) / 100.0)));
            }
        }
        // A string attribute, sometimes `null` or absent.
        match next(6) {
            0 => attrs.push(("s", AttrValue::Null)),
            1 => {}
            k => attrs.push((
                "s",
                AttrValue::Str(["pln", "EUR", "usd", ""][k as usize - 2].into()),
            )),
        }
        let e = event("login", &id, time, &attrs);
        if load {
            ix.load_event(o, 1, &e);
        } else {
            ix.add_event(o, 1, &e);
        }
    };
    let n: u32 = 12_000;
    for o in 0..n {
        ix.put_contact(o, &contact(&format!("c{o}"), &[]));
        for _ in 0..next(9) {
            add(&mut ix, o, true, &mut next);
        }
    }
    ix.compact();
    // A tail below the merge threshold: on contacts with base rows, and on
    // contacts (some put after the base was built) with none.
    for o in n..n + 50 {
        ix.put_contact(o, &contact(&format!("c{o}"), &[]));
    }
    for _ in 0..1_500 {
        let o = next(u64::from(n) + 50) as u32;
        add(&mut ix, o, false, &mut next);
    }
    let counts = [
        json!({"op": "gte", "value": 1}),
        json!({"op": "gte", "value": 2}),
        json!({"op": "gt", "value": 1.5}),
        json!({"op": "equals", "value": 0}),
        json!({"op": "equals", "value": 2}),
        json!({"op": "lt", "value": 3}),
        json!({"op": "between", "value": [1, 3]}),
        json!({"op": "gte", "value": 40}),
    ];
    let windows = [
        None,
        Some(json!({"last": "30d"})),
        Some(json!({"before": "10d"})),
    ];
    // Each kind of stored column (booleans, one-byte codes, numbers that
    // are integers, hundredths and others), with exclusive and inclusive ends,
    // negations, absent and `null`.
    let filters = [
        None,
        Some(json!([{"attribute": "ok", "op": "is_true"}])),
        Some(json!([{"attribute": "v", "op": "gt", "value": 50}])),
        Some(json!([{"attribute": "x", "op": "lt", "value": 0}])),
        Some(json!([{"attribute": "x", "op": "gt", "value": -30.125}])),
        Some(json!([{"attribute": "x", "op": "between", "value": [-10.5, 20]}])),
        Some(json!([{"attribute": "x", "op": "not_equals", "value": -60}])),
        Some(
            json!([{"attribute": "s", "op": "in", "value": ["pln", "eur"]},
                    {"attribute": "v", "op": "lte", "value": 70}]),
        ),
        Some(json!([{"attribute": "s", "op": "not_equals", "value": "usd"}])),
        Some(json!([{"attribute": "s", "op": "has_no_value"}])),
        Some(json!([{"attribute": "v", "op": "in", "value": [1, 2, 3, 50]}])),
        Some(json!([{"attribute": "y", "op": "gt", "value": 12.34}])),
        Some(json!([{"attribute": "y", "op": "between", "value": [-99.99, 0.1]}])),
        Some(json!([{"attribute": "y", "op": "in", "value": [0.07, 1.1, -250]}])),
    ];
    let mut rules = Vec::new();
    for count in &counts {
        for within in &windows {
            for filter in &filters {
                let mut rule = json!({"event": "login", "count": count});
                if let Some(w) = within {
                    rule["within"] = w.clone();
                }
                if let Some(f) = filter {
                    rule["where"] = f.clone();
                }
                rules.push(rule);
            }
        }
    }
    // Aggregates over integers, hundredths and other numbers, with and without
    // windows and attribute conditions.
    for func in ["sum", "avg", "min", "max"] {
        for (attribute, value) in [("v", 50.0), ("x", -3.5), ("y", 7.77)] {
            for within in &windows {
                for filter in [&filters[0], &filters[1], &filters[5]] {
                    let mut rule = json!({"event": "login",
                        "aggregate": {"fn": func, "attribute": attribute, "op": "gte", "value": value}});
                    if let Some(w) = within {
                        rule["within"] = w.clone();
                    }
                    if let Some(f) = filter {
                        rule["where"] = f.clone();
                    }
                    rules.push(rule);
                }
            }
        }
    }
    for follow in ["followed_by", "not_followed_by"] {
        rules.push(json!({"event": "login", "within": {"last": "30d"},
            "where": [{"attribute": "ok", "op": "is_true"}],
            follow: {"event": "login", "window": "3d", "on": ["ok"]}}));
    }
    // Each condition after a broad one too: its scope is most of the
    // partition's contacts, so it is swept whole and intersected.
    let after_a_broad_one: Vec<J> = rules
        .iter()
        .step_by(3)
        .map(|rule| json!({"all": [{"event": "login", "within": {"last": "90d"}}, rule]}))
        .collect();
    for rule in rules.into_iter().chain(after_a_broad_one) {
        let (_, plan) = parse_and_plan(&rule, "/rule", ix.schema(), &NoSegments, None).unwrap();
        let swept = ix.evaluate(&plan, now());
        for o in ix.live().iter() {
            assert_eq!(
                ix.contains(&plan, o, now()),
                swept.contains(o),
                "contact {o}, {rule}"
            );
        }
    }
}

/// Sums of whole units (integers, quarters held as steps, a grid of
/// quarters held in a byte) are decided from running totals over passes
/// of rows ([`crate::eval`]'s `sum_by_running_totals`), and compared in
/// units: the sweep must agree with the contact-by-contact fold of f64s
/// for every comparison, on and off the quarters' grid, across passes (a
/// contact with more rows than a pass, long runs of contacts without
/// rows) and across the threads' parts.
#[test]
fn sums_of_whole_units_agree_with_contact_by_contact() {
    // Most contacts with rows (every contact given a verdict), and few
    // (only those with rows).
    for sparse in [false, true] {
        sums_of_whole_units_agree(sparse);
    }
}

fn sums_of_whole_units_agree(sparse: bool) {
    use crate::attr_column::Stored;
    let mut ix = AccountIndex::new(&Schema::default());
    let mut next = xorshift(7);
    let n: u32 = 9_000;
    let rows = |o: u32, next: &mut dyn FnMut(u64) -> u64| -> Vec<Event> {
        let id = format!("c{o}");
        let many = match o {
            // More rows than a pass, and a run of contacts without any.
            17 => 3_000,
            1_000..=1_700 => 0,
            _ if sparse && !o.is_multiple_of(3) => 0,
            _ => next(7),
        };
        (0..many)
            .map(|_| {
                let time = now() - next(60 * DAY_MS as u64) as i64;
                let mut attrs = vec![
                    // Quarters from -250 to 250: steps of 25 hundredths.
                    ("q", AttrValue::Num((next(2001) as f64 - 1000.0) / 4.0)),
                    // Whole numbers, negative too.
                    ("i", AttrValue::Num(next(20_001) as f64 - 10_000.0)),
                    // Eleven points from 2.5, 0.75 apart: a byte each.
                    ("g", AttrValue::Num(2.5 + 0.75 * next(11) as f64)),
                ];
                match next(6) {
                    0 => attrs[0].1 = AttrValue::Null,
                    1 => attrs[1].1 = AttrValue::Null,
                    2 => {
                        attrs.remove(2);
                    }
                    _ => {}
                }
                event("order", &id, time, &attrs)
            })
            .collect()
    };
    for o in 0..n {
        ix.put_contact(o, &contact(&format!("c{o}"), &[]));
        for e in rows(o, &mut next) {
            ix.load_event(o, 1, &e);
        }
    }
    ix.compact();
    let p = ix.partition("order").unwrap();
    assert_eq!(p.contacts().len() * 2 < u64::from(n), sparse);
    assert!(matches!(
        p.column("q").unwrap().stored(),
        Stored::Steps(_, 25)
    ));
    assert!(matches!(
        p.column("i").unwrap().stored(),
        Stored::Integers(_) | Stored::Steps(_, 100)
    ));
    assert!(matches!(
        p.column("g").unwrap().stored(),
        Stored::ByteSteps(_, 250, 75)
    ));
    let mut rules = Vec::new();
    for (attribute, values) in [
        ("q", [0.0, 30.25, 30.3, -12.75, 412.5]),
        ("i", [0.0, 1.0, -2500.0, 2500.5, 15_000.0]),
        ("g", [2.5, 10.0, 13.1, 6.25, 7.0]),
    ] {
        for value in values {
            for op in ["gt", "gte", "lt", "lte", "equals", "not_equals"] {
                rules.push(json!({"event": "order", "aggregate":
                    {"fn": "sum", "attribute": attribute, "op": op, "value": value}}));
            }
            rules.push(json!({"event": "order", "within": {"last": "30d"}, "aggregate":
                {"fn": "sum", "attribute": attribute, "op": "between", "value": [value - 40.0, value]}}));
        }
        for func in ["avg", "min", "max"] {
            rules.push(
                json!({"event": "order", "within": {"last": "30d"}, "aggregate":
                {"fn": func, "attribute": attribute, "op": "gt", "value": values[1]}}),
            );
        }
        for value in values {
            for op in ["gte", "lt", "equals", "not_equals"] {
                rules.push(json!({"event": "order", "aggregate":
                    {"fn": "avg", "attribute": attribute, "op": op, "value": value / 3.0}}));
            }
        }
    }
    // Sums that reach the equality exactly: each contact's own sum.
    let exact = ix.evaluate(
        &parse_and_plan(
            &json!({"event": "order", "aggregate": {"fn": "sum", "attribute": "g", "op": "equals", "value": 10.0}}),
            "/rule",
            ix.schema(),
            &NoSegments,
            None,
        )
        .unwrap()
        .1,
        now(),
    );
    assert!(
        exact.len() > 20,
        "some sums are 10 exactly: {}",
        exact.len()
    );
    for rule in rules {
        let (_, plan) = parse_and_plan(&rule, "/rule", ix.schema(), &NoSegments, None).unwrap();
        let swept = ix.evaluate(&plan, now());
        for o in 0..n {
            assert_eq!(
                ix.contains(&plan, o, now()),
                swept.contains(o),
                "contact {o}, {rule}"
            );
        }
    }
}

/// Sequences correlated `on` an attribute held as one string per row on
/// either side, both sides, or neither, with rows appended after the
/// merge: carts added and bought by contact `o` are `k{o}-{j}` (or, where
/// `numbered`, `k` and a number: packed as numbers, see [`crate::packer`]);
/// contacts `o % 3 == 0` buy every cart, `1` the first and `extra` carts
/// never added, `2` none.
#[test]
fn sequences_correlate_on_strings_held_per_row() {
    let s = |x: String| AttrValue::Str(x);
    // (contacts, carts each, extra purchases): which side holds per-row
    // strings follows from the rows' counts (4096 distinct at least).
    // Packed ([`crate::dict::Dictionary::is_packed`]) where the rows are
    // many enough to pay for the packer's tables.
    for (n, adds, extra, add_rows, buy_rows, packed, numbered) in [
        (3000u32, 2u32, 0u32, true, false, false, false),
        (3000, 1, 4, false, true, false, false),
        (6000, 2, 2, true, true, false, false),
        (60_000, 2, 2, true, true, true, false),
        (60_000, 2, 2, true, true, true, true),
    ] {
        let cart_of = |o: u32, j: u32| match numbered {
            true => format!("k{}", u64::from(o) * 8 + u64::from(j)),
            false => format!("k{o}-{j}"),
        };
        let mut ix = AccountIndex::new(&Schema::default());
        let mut seq = 0;
        let mut next = || {
            seq += 1;
            seq
        };
        let t0 = now() - 5 * 3_600_000;
        for o in 0..n {
            let id = format!("c{o}");
            ix.put_contact(o, &contact(&id, &[]));
            for j in 0..adds {
                let cart = cart_of(o, j);
                let t = t0 + i64::from(j) * 60_000;
                ix.load_event(
                    o,
                    next(),
                    &event("cart_add", &id, t, &[("cart_id", s(cart.clone()))]),
                );
                if o % 3 == 0 || (o % 3 == 1 && j == 0) {
                    let e = event("purchase", &id, t + 1_800_000, &[("cart_id", s(cart))]);
                    ix.load_event(o, next(), &e);
                }
            }
            if o % 3 == 1 {
                for x in 0..extra {
                    let never_added = match numbered {
                        true => cart_of(o, 2 + x),
                        false => format!("x{o}-{x}"),
                    };
                    let e = event("purchase", &id, t0, &[("cart_id", s(never_added))]);
                    ix.load_event(o, next(), &e);
                }
            }
        }
        ix.compact();
        let per_row = |name: &str| {
            ix.partitions[name]
                .column("cart_id")
                .unwrap()
                .holds_row_strings()
        };
        assert_eq!(
            (per_row("cart_add"), per_row("purchase")),
            (add_rows, buy_rows),
            "{n} contacts"
        );
        let packs = |name: &str| {
            ix.partitions[name]
                .column("cart_id")
                .unwrap()
                .dict
                .is_packed()
        };
        assert_eq!(packs("cart_add"), packed, "{n} contacts");
        let numbers = |name: &str| {
            let column = ix.partitions[name].column("cart_id").unwrap();
            column.dict.packs_numbers()
        };
        assert_eq!(numbers("cart_add"), numbered, "{n} contacts");

        let abandoned = json!({"event": "cart_add", "not_followed_by":
            {"event": "purchase", "window": "1h", "on": ["cart_id"]}});
        let bought = json!({"event": "cart_add", "followed_by":
            {"event": "purchase", "window": "1h", "on": ["cart_id"]}});
        let one_cart = json!({"event": "cart_add",
            "where": [{"attribute": "cart_id", "op": "equals", "value": cart_of(5, 0)}]});
        let check = |ix: &AccountIndex, rule: &J, want: &dyn Fn(u32) -> bool| {
            let (_, plan) = parse_and_plan(rule, "/rule", ix.schema(), &NoSegments, None).unwrap();
            let swept = ix.evaluate(&plan, now());
            for o in 0..n {
                assert_eq!(
                    swept.contains(o),
                    want(o),
                    "{n} contacts, contact {o}, {rule}"
                );
                assert_eq!(
                    ix.contains(&plan, o, now()),
                    want(o),
                    "{n}: contact {o}, {rule}"
                );
            }
        };
        check(&ix, &abandoned, &|o| o % 3 == 2 || (o % 3 == 1 && adds > 1));
        check(&ix, &bought, &|o| o % 3 != 2);
        check(&ix, &one_cart, &|o| o == 5);

        // A cart added after the merge, abandoned, then bought.
        ix.add_event(
            0,
            next(),
            &event(
                "cart_add",
                "c0",
                now() - 3 * 3_600_000,
                &[("cart_id", s("late".into()))],
            ),
        );
        check(&ix, &abandoned, &|o| {
            o == 0 || o % 3 == 2 || (o % 3 == 1 && adds > 1)
        });
        ix.add_event(
            0,
            next(),
            &event(
                "purchase",
                "c0",
                now() - 3 * 3_600_000 + 60_000,
                &[("cart_id", s("late".into()))],
            ),
        );
        check(&ix, &abandoned, &|o| o % 3 == 2 || (o % 3 == 1 && adds > 1));
        ix.compact();
        check(&ix, &abandoned, &|o| o % 3 == 2 || (o % 3 == 1 && adds > 1));
        check(&ix, &bought, &|o| o % 3 != 2);
    }
}
