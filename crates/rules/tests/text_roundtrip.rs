//! Printing any rule and parsing the text gives back the same rule
//! (SPEC §3), over random rules that cover every node, operator, clause
//! and the awkward corners of names, strings, numbers and dates.

use flowseg_model::time::DAY_MS;
use flowseg_model::{DateLiteral, Duration, DurationUnit};
use flowseg_rules::text::parse_rule_lenient;
use flowseg_rules::{
    AggregateFn, AttrCondition, Comparison, EventCondition, FieldCondition, Measure, Op, Rule,
    Sequence, Within, format_rule, parse_rule, rule_from_json, rule_to_json,
};
use proptest::prelude::*;
use serde_json::Value;

/// Names: plain, keywords in any case, and ones that need backticks.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z_][A-Za-z0-9_]{0,10}",
        1 => prop::sample::select(vec![
            "and", "OR", "Not", "did", "in", "all", "any", "everyone", "where", "value", "time",
            "last", "case-sensitive", "true", "null", "Between", "on", "with", "to",
        ])
        .prop_map(String::from),
        1 => "[a-zé][a-z0-9.:-]{0,6}",
        1 => "\\PC{1,6}",
        1 => prop::sample::select(vec![
            "odd name", "`", "a`b", "\\", "x\"y", "line\nbreak", "1abc", "-", "é", "#hash", "a b c",
        ])
        .prop_map(String::from),
    ]
}

/// Event names as `check_event_name` allows them.
fn event_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z][A-Za-z0-9_]{0,12}",
        1 => "[A-Za-z0-9_.:-]{1,12}",
        1 => prop::sample::select(vec!["did", "not", "MailOpen", "order.completed", "30d", "-1"])
            .prop_map(String::from),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z ]{1,10}",
        1 => "\\PC{0,8}",
        1 => any::<String>(),
        1 => prop::sample::select(vec!["\"", "\\", "a\"b\\c", "\n\t\r", "\u{7f}\u{2028}", "30d", "2026-06-01", "`x`"])
            .prop_map(String::from),
    ]
}

fn day() -> impl Strategy<Value = i64> {
    (-20_000i64..40_000).prop_map(|d| d * DAY_MS)
}

fn instant() -> impl Strategy<Value = i64> {
    -1_000_000_000_000i64..4_000_000_000_000
}

fn date_literal() -> impl Strategy<Value = DateLiteral> {
    prop_oneof![
        day().prop_map(DateLiteral::Day),
        instant().prop_map(DateLiteral::Instant)
    ]
}

fn date_text() -> impl Strategy<Value = String> {
    prop_oneof![
        day().prop_map(flowseg_model::time::format_day),
        instant().prop_map(flowseg_model::time::format_instant),
        Just("2026-06-01T12:00:00+02:00".to_string()),
        Just("2026-06-01T12:00:00.123456Z".to_string()),
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    (
        1u64..5_000,
        prop::sample::select(vec![
            DurationUnit::Minutes,
            DurationUnit::Hours,
            DurationUnit::Days,
            DurationUnit::Weeks,
        ]),
    )
        .prop_map(|(amount, unit)| Duration { amount, unit })
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1000i64..1000).prop_map(|n| n as f64),
        -1e6f64..1e6,
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        Just(0.1),
        Just(1e16),
        Just(-0.0),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        finite().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(serde_json::json!(3.0)),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => text().prop_map(Value::String),
        2 => number(),
        1 => date_text().prop_map(Value::String),
        1 => any::<bool>().prop_map(Value::Bool),
    ]
}

/// Any JSON an operand may hold (rarely of a shape validation accepts).
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![5 => scalar(), 1 => Just(Value::Null)];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An operand for `op`, as an operator of that kind takes it.
fn operand(op: Op) -> BoxedStrategy<Option<Value>> {
    match op {
        _ if op.takes_no_value() => Just(None).boxed(),
        Op::WithinLast | Op::WithinNext | Op::MoreThanAgo => prop_oneof![
            4 => duration().prop_map(|d| Some(Value::String(d.to_string()))),
            1 => text().prop_map(|s| Some(Value::String(s))),
        ]
        .boxed(),
        Op::Between => prop_oneof![
            (number(), number()).prop_map(|(a, b)| Some(Value::Array(vec![a, b]))),
            (date_text(), date_text())
                .prop_map(|(a, b)| Some(Value::Array(vec![a.into(), b.into()]))),
            (scalar(), json()).prop_map(|(a, b)| Some(Value::Array(vec![a, b]))),
        ]
        .boxed(),
        Op::In | Op::NotIn => prop_oneof![
            4 => prop::collection::vec(scalar(), 0..4).prop_map(|v| Some(Value::Array(v))),
            1 => json().prop_map(|v| Some(v).filter(|v| !v.is_null())),
        ]
        .boxed(),
        _ => prop_oneof![
            6 => scalar().prop_map(Some),
            1 => json().prop_map(|v| Some(v).filter(|v| !v.is_null())),
            1 => Just(None),
        ]
        .boxed(),
    }
}

fn condition() -> impl Strategy<Value = (Op, Option<Value>, bool)> {
    (prop::sample::select(Op::ALL.to_vec()), any::<bool>())
        .prop_flat_map(|(op, cs)| operand(op).prop_map(move |v| (op, v, cs)))
}

fn field_condition() -> impl Strategy<Value = Rule> {
    (name(), condition()).prop_map(|(field, (op, value, case_sensitive))| {
        Rule::Field(FieldCondition {
            field,
            op,
            value,
            case_sensitive,
        })
    })
}

fn attr_condition() -> impl Strategy<Value = AttrCondition> {
    (name(), condition()).prop_map(|(attribute, (op, value, case_sensitive))| AttrCondition {
        attribute,
        op,
        value,
        case_sensitive,
    })
}

fn comparison() -> impl Strategy<Value = Comparison> {
    prop_oneof![
        finite().prop_map(Comparison::Equals),
        finite().prop_map(Comparison::NotEquals),
        finite().prop_map(Comparison::Gt),
        finite().prop_map(Comparison::Gte),
        finite().prop_map(Comparison::Lt),
        finite().prop_map(Comparison::Lte),
        (finite(), finite()).prop_map(|(a, b)| Comparison::Between(a.min(b), a.max(b))),
    ]
}

fn within() -> impl Strategy<Value = Within> {
    prop_oneof![
        duration().prop_map(Within::Last),
        duration().prop_map(Within::Before),
        (date_literal(), date_literal())
            .prop_filter("from before to", |(a, b)| a.start_ms() != b.start_ms())
            .prop_map(|(a, b)| {
                let (from, to) = if a.start_ms() < b.start_ms() {
                    (a, b)
                } else {
                    (b, a)
                };
                Within::Range {
                    from: Some(from),
                    to: Some(to),
                }
            }),
        date_literal().prop_map(|d| Within::Range {
            from: Some(d),
            to: None
        }),
        date_literal().prop_map(|d| Within::Range {
            from: None,
            to: Some(d)
        }),
    ]
}

fn measure() -> impl Strategy<Value = Measure> {
    prop_oneof![
        comparison().prop_map(Measure::Count),
        (
            prop::sample::select(vec![
                AggregateFn::Sum,
                AggregateFn::Avg,
                AggregateFn::Min,
                AggregateFn::Max
            ]),
            name(),
            comparison()
        )
            .prop_map(|(func, attribute, comparison)| Measure::Aggregate {
                func,
                attribute,
                comparison
            }),
    ]
}

fn sequence() -> impl Strategy<Value = Sequence> {
    (
        any::<bool>(),
        event_name(),
        prop::collection::vec(attr_condition(), 0..3),
        prop::option::of(duration()),
        prop::collection::vec(name(), 0..3),
    )
        .prop_map(|(negated, event, filters, window, on)| Sequence {
            negated,
            event,
            filters,
            window,
            on,
        })
}

fn event_condition() -> impl Strategy<Value = Rule> {
    (
        event_name(),
        prop::collection::vec(attr_condition(), 0..3),
        prop::option::of(within()),
        prop::option::of(measure()),
        prop::option::weighted(0.3, sequence()),
    )
        .prop_map(|(event, filters, within, measure, sequence)| {
            Rule::Event(EventCondition {
                event,
                filters,
                within,
                measure,
                sequence,
            })
        })
}

fn rule() -> impl Strategy<Value = Rule> {
    let leaf = prop_oneof![
        4 => field_condition(),
        3 => event_condition(),
        1 => text().prop_filter("ids are not empty", |s| !s.is_empty()).prop_map(Rule::Segment),
        1 => Just(Rule::everyone()),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            3 => prop::collection::vec(inner.clone(), 2..5).prop_map(Rule::All),
            3 => prop::collection::vec(inner.clone(), 2..5).prop_map(Rule::Any),
            1 => inner.clone().prop_map(|r| Rule::All(vec![r])),
            1 => inner.clone().prop_map(|r| Rule::Any(vec![r])),
            2 => inner.prop_map(|r| Rule::Not(Box::new(r))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn printed_rules_parse_back_to_the_same_rule(r in rule()) {
        // The generator makes rules the JSON form accepts.
        prop_assert_eq!(rule_from_json(&rule_to_json(&r), ""), Ok(r.clone()));
        let text = format_rule(&r);
        let parsed = parse_rule(&text);
        prop_assert_eq!(parsed.as_ref().map_err(ToString::to_string), Ok(&r), "text:\n{}", text);
        // Printing is stable, and the lenient parse agrees on good text.
        prop_assert_eq!(format_rule(&r), text.clone());
        prop_assert_eq!(parse_rule_lenient(&text), (Some(r), vec![]));
    }

    #[test]
    fn no_input_makes_the_parser_panic(s in "\\PC{0,60}") {
        let _ = parse_rule(&s);
        let _ = parse_rule_lenient(&s);
    }

    #[test]
    fn no_mangled_rule_makes_the_parser_panic(r in rule(), cut in 0usize..400, junk in "[ a-z()\"`=<>!&|0-9\\[\\],.-]{0,4}") {
        let text = format_rule(&r);
        let mut at = cut.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mangled = format!("{}{junk}{}", &text[..at], &text[at..]);
        // Whatever text parses is a rule the JSON form accepts too.
        if let Ok(parsed) = parse_rule(&mangled) {
            prop_assert_eq!(rule_from_json(&rule_to_json(&parsed), ""), Ok(parsed));
        }
        let (_, diagnostics) = parse_rule_lenient(&mangled);
        for d in diagnostics {
            prop_assert!(d.span.end <= mangled.len());
            let _ = d.to_string();
        }
    }
}

#[test]
fn runaway_nesting_is_refused_without_overflowing_the_stack() {
    for text in [
        format!("{}everyone", "not ".repeat(100_000)),
        format!("{}everyone", "(".repeat(100_000)),
        format!(
            "{}everyone{}",
            "all of (".repeat(50_000),
            ")".repeat(50_000)
        ),
        format!("City in {}", "[".repeat(100_000)),
        format!("City = {}", "{\"a\": ".repeat(100_000)),
    ] {
        let d = parse_rule(&text).unwrap_err();
        assert!(d.message.contains("nested"), "{}", d.message);
        let _ = parse_rule_lenient(&text);
    }
    // Within the limit of rules (32 levels), nesting parses.
    let deep = format!("{}everyone", "not ".repeat(32));
    assert!(parse_rule(&deep).is_ok());
    let d = parse_rule(&format!("{}everyone", "not ".repeat(33))).unwrap_err();
    assert_eq!(d.message, "the rule is nested deeper than 32 levels");
}

#[test]
fn large_rules_parse_quickly_and_the_node_limit_holds() {
    let big = vec!["Age > 1"; 1_999].join(" or ");
    assert!(matches!(parse_rule(&big), Ok(Rule::Any(c)) if c.len() == 1_999));
    let too_big = vec!["Age > 1"; 2_000].join(" or ");
    let d = parse_rule(&too_big).unwrap_err();
    assert_eq!(
        d.message,
        "the rule has more than 2000 conditions and groups"
    );
}
