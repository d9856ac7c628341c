//! Every ```rule example of docs/rules.md, evaluated on a small account
//! whose data touches each example's fields and events: the bulk evaluator
//! and the one-contact path agree on every contact, and `not` is the exact
//! complement. (crates/rules/tests/text_docs.rs checks that each example
//! parses, validates and prints back.)

use flowseg_model::time::{DAY_MS, parse_instant};
use flowseg_model::{AttrValue, Contact, Event, FieldDef, FieldType, Schema, Value};
use flowseg_rules::text::parse_rule;
use flowseg_rules::{Plan, Rule, plan_rule};

use crate::AccountIndex;

const DOCS: &str = include_str!("../../../docs/rules.md");

fn examples() -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in DOCS.lines().enumerate() {
        match &mut current {
            None if line.trim() == "```rule" => current = Some((n + 2, String::new())),
            Some(_) if line.trim() == "```" => out.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    out
}

fn schema() -> Schema {
    let f = |n: &str, t| FieldDef {
        name: n.into(),
        field_type: t,
    };
    Schema {
        custom: vec![
            f("Customer_Status", FieldType::Text),
            f("Customer Status", FieldType::Text),
            f("City", FieldType::Text),
            f("Age", FieldType::Number),
            f("Birthday", FieldType::Date),
            f("Vip", FieldType::Boolean),
        ],
    }
}

/// Six contacts, from "has everything" to "has nothing", with events of
/// every name the docs use.
fn account(now: i64) -> AccountIndex {
    let mut ix = AccountIndex::new(&schema());
    let text = |s: &str| Value::Text(s.into());
    let people: Vec<Vec<(&str, Value)>> = vec![
        vec![
            ("Customer_Status", text("vip")),
            ("City", text("Warszawa")),
            ("Age", Value::Number(30.0)),
            ("Vip", Value::Bool(true)),
            ("Email", text("ann@example.com")),
            ("Birthday", Value::Date(now - 9000 * DAY_MS)),
        ],
        vec![
            ("Customer_Status", text("VIP")),
            ("City", text("Kraków")),
            ("Age", Value::Number(17.0)),
            ("Vip", Value::Bool(false)),
            ("EmailUnsubscribed", Value::Bool(true)),
        ],
        vec![
            ("Customer Status", text("new")),
            ("City", text("Warsaw")),
            ("Age", Value::Number(35.0)),
            ("Birthday", Value::Date(now + 3 * DAY_MS)),
        ],
        vec![
            ("City", text("   ")),
            ("Email", text("bob@example.org")),
            ("MobilePhone", text("+48600100200")),
        ],
        vec![
            ("Customer_Status", text("regular")),
            ("Age", Value::Number(64.5)),
        ],
        vec![],
    ];
    for (i, fields) in people.into_iter().enumerate() {
        let mut c = Contact {
            id: format!("c{i}"),
            fields: Default::default(),
        };
        for (k, v) in fields {
            c.fields.insert(k.into(), v);
        }
        c.fields.insert(
            "CreateTime".into(),
            Value::Date(now - (i as i64 * 20 + 1) * DAY_MS),
        );
        ix.put_contact(i as u32, &c);
    }
    let s = |x: &str| AttrValue::Str(x.into());
    let n = AttrValue::Num;
    // (contact, name, how long ago, attributes)
    type Row<'a> = (u32, &'a str, i64, Vec<(&'a str, AttrValue)>);
    let events: Vec<Row> = vec![
        (
            0,
            "product_purchased",
            3 * DAY_MS,
            vec![("price", n(120.0)), ("category", s("shoes"))],
        ),
        (
            0,
            "product_purchased",
            10 * DAY_MS,
            vec![("price", n(150.0)), ("category", s("Shoes"))],
        ),
        (
            1,
            "product_purchased",
            40 * DAY_MS,
            vec![("price", n(20.0))],
        ),
        (0, "MailOpen", 5 * DAY_MS, vec![("campaign_id", s("c1"))]),
        (2, "MailOpen", 100 * DAY_MS, vec![("campaign_id", s("c2"))]),
        (
            2,
            "MailClick",
            100 * DAY_MS - 60_000,
            vec![("url", s("https://x/pricing"))],
        ),
        (
            0,
            "cart_add",
            DAY_MS,
            vec![("cart_id", s("k1")), ("price", n(10.0))],
        ),
        (1, "cart_add", 2 * DAY_MS, vec![("cart_id", s("k2"))]),
        (
            0,
            "purchase",
            DAY_MS - 600_000,
            vec![
                ("cart_id", s("k1")),
                ("total", n(99.0)),
                ("paid", AttrValue::Bool(true)),
            ],
        ),
        (
            1,
            "purchase",
            DAY_MS - 60_000,
            vec![("cart_id", s("other")), ("total", n(5.0))],
        ),
        (
            3,
            "purchase",
            31 * DAY_MS,
            vec![("total", n(500.0)), ("paid", AttrValue::Bool(false))],
        ),
        (
            3,
            "Visit",
            2 * DAY_MS,
            vec![("url", s("https://shop/pricing"))],
        ),
        (4, "Visit", 8 * DAY_MS, vec![("url", s("https://shop/"))]),
        (4, "signup", 50 * DAY_MS, vec![("plan", s("pro"))]),
        (4, "order.completed", 6 * DAY_MS, vec![("total", n(42.0))]),
    ];
    for (who, name, ago, attrs) in events {
        ix.add_event(
            who,
            1,
            &Event {
                id: None,
                name: name.into(),
                contact_id: format!("c{who}"),
                time: now - ago,
                attributes: attrs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            },
        );
    }
    ix
}

fn segments(id: &str) -> Option<Rule> {
    match id {
        "newsletter" => parse_rule("Email has value").ok(),
        "churned" => parse_rule("not did purchase in last 30d").ok(),
        _ => None,
    }
}

#[test]
fn every_docs_example_evaluates_consistently() {
    let now = parse_instant("2026-06-30T12:00:00Z").unwrap();
    let ix = account(now);
    let examples = examples();
    assert!(examples.len() >= 70, "only {} examples", examples.len());
    let mut non_trivial = 0;
    for (line, text) in examples {
        let rule = parse_rule(&text).unwrap_or_else(|d| panic!("docs/rules.md:{line}:\n{d}"));
        let plan: Plan = plan_rule(&rule, "", ix.schema(), &segments, None)
            .unwrap_or_else(|p| panic!("docs/rules.md:{line}: {p:?}"));
        let members = ix.evaluate(&plan, now);
        for o in ix.live() {
            assert_eq!(
                members.contains(o),
                ix.contains(&plan, o, now),
                "docs/rules.md:{line}, contact {o}"
            );
        }
        let complement = ix.evaluate(&Plan::Not(Box::new(plan)), now);
        assert_eq!(
            &members | &complement,
            ix.live().clone(),
            "docs/rules.md:{line}"
        );
        assert!((&members & &complement).is_empty(), "docs/rules.md:{line}");
        if !members.is_empty() && members.len() < ix.live().len() {
            non_trivial += 1;
        }
    }
    // The data is meant to split most examples, not to pass or fail all.
    assert!(
        non_trivial >= 40,
        "only {non_trivial} examples split the contacts"
    );
}
