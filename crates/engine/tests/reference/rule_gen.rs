//! Random valid rules covering every node and operator of SPEC §2 and
//! every part of an event condition, with operands drawn from the same
//! pools as the data so that conditions both match and miss.

use flowseg_model::DateLiteral;
use flowseg_model::time::parse_date;
use flowseg_rules::{
    AggregateFn, AttrCondition, Comparison, EventCondition, FieldCondition, Measure, Op, Rule,
    Sequence, Within,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value as Json, json};

use super::generators::{
    AGGREGATE_VALUES, BOOL_FIELDS, CART_IDS, COUNT_VALUES, DATE_FIELDS, EVENT_NAMES, NUMBER_FIELDS,
    ON_LISTS, REGEXES, TEXT_FIELDS, attribute_dates, date_operand, date_pair, duration,
    duration_operand, number_operand, number_pair, text_operand,
};

fn field_cond(field: &str, op: Op, value: Option<Json>, case_sensitive: bool) -> Rule {
    Rule::Field(FieldCondition {
        field: field.to_string(),
        op,
        value,
        case_sensitive,
    })
}

fn text_field_condition() -> BoxedStrategy<Rule> {
    let field = select(TEXT_FIELDS);
    prop_oneof![
        4 => (
            field.clone(),
            select(vec![
                Op::Equals,
                Op::NotEquals,
                Op::Contains,
                Op::NotContains,
                Op::StartsWith,
                Op::EndsWith
            ]),
            text_operand(),
            any::<bool>()
        )
            .prop_map(|(f, op, v, cs)| field_cond(f, op, Some(json!(v)), cs)),
        2 => (field.clone(), select(vec![Op::In, Op::NotIn]), vec(text_operand(), 1..4), any::<bool>())
            .prop_map(|(f, op, v, cs)| field_cond(f, op, Some(json!(v)), cs)),
        1 => (field.clone(), select(REGEXES), any::<bool>())
            .prop_map(|(f, re, cs)| field_cond(f, Op::Matches, Some(json!(re)), cs)),
        1 => (field, select(vec![Op::HasValue, Op::HasNoValue]), any::<bool>())
            .prop_map(|(f, op, cs)| field_cond(f, op, None, cs)),
    ]
    .boxed()
}

fn number_field_condition() -> BoxedStrategy<Rule> {
    let field = select(NUMBER_FIELDS);
    prop_oneof![
        4 => (
            field.clone(),
            select(vec![Op::Equals, Op::NotEquals, Op::Gt, Op::Gte, Op::Lt, Op::Lte]),
            number_operand()
        )
            .prop_map(|(f, op, v)| field_cond(f, op, Some(v), false)),
        1 => (field.clone(), number_pair())
            .prop_map(|(f, v)| field_cond(f, Op::Between, Some(v), false)),
        2 => (field.clone(), select(vec![Op::In, Op::NotIn]), vec(number_operand(), 1..4))
            .prop_map(|(f, op, v)| field_cond(f, op, Some(Json::Array(v)), false)),
        1 => (field, select(vec![Op::HasValue, Op::HasNoValue]))
            .prop_map(|(f, op)| field_cond(f, op, None, false)),
    ]
    .boxed()
}

fn date_field_condition(now: i64) -> BoxedStrategy<Rule> {
    let field = select(DATE_FIELDS);
    prop_oneof![
        4 => (
            field.clone(),
            select(vec![Op::Equals, Op::NotEquals, Op::Before, Op::After]),
            date_operand(now)
        )
            .prop_map(|(f, op, v)| field_cond(f, op, Some(json!(v)), false)),
        2 => (field.clone(), date_pair(now))
            .prop_map(|(f, v)| field_cond(f, Op::Between, Some(v), false)),
        3 => (
            field.clone(),
            select(vec![Op::WithinLast, Op::MoreThanAgo, Op::WithinNext]),
            duration_operand()
        )
            .prop_map(|(f, op, v)| field_cond(f, op, Some(json!(v)), false)),
        1 => (field, select(vec![Op::HasValue, Op::HasNoValue]))
            .prop_map(|(f, op)| field_cond(f, op, None, false)),
    ]
    .boxed()
}

fn bool_field_condition() -> BoxedStrategy<Rule> {
    (
        select(BOOL_FIELDS),
        select(vec![Op::IsTrue, Op::IsFalse, Op::HasValue, Op::HasNoValue]),
    )
        .prop_map(|(f, op)| field_cond(f, op, None, false))
        .boxed()
}

pub fn field_condition(now: i64) -> BoxedStrategy<Rule> {
    prop_oneof![
        3 => text_field_condition(),
        2 => number_field_condition(),
        3 => date_field_condition(now),
        1 => bool_field_condition(),
    ]
    .boxed()
}

/// A scalar operand of attribute `equals`/`in`: its JSON type decides
/// what the attribute is read as.
fn scalar_operand(now: i64) -> BoxedStrategy<Json> {
    prop_oneof![
        3 => text_operand().prop_map(Json::String),
        2 => select(CART_IDS).prop_map(|s| json!(s)),
        1 => select(attribute_dates(now)).prop_map(Json::String),
        3 => number_operand(),
        2 => any::<bool>().prop_map(Json::Bool),
    ]
    .boxed()
}

fn attr_cond(attribute: &str, op: Op, value: Option<Json>, case_sensitive: bool) -> AttrCondition {
    AttrCondition {
        attribute: attribute.to_string(),
        op,
        value,
        case_sensitive,
    }
}

pub fn attr_condition(now: i64) -> BoxedStrategy<AttrCondition> {
    let name = prop_oneof![
        3 => select(vec!["price", "cart_id", "url", "when", "flag"]),
        1 => Just("nope"),
    ];
    prop_oneof![
        3 => (
            name.clone(),
            select(vec![Op::Contains, Op::NotContains, Op::StartsWith, Op::EndsWith]),
            text_operand(),
            any::<bool>()
        )
            .prop_map(|(a, op, v, cs)| attr_cond(a, op, Some(json!(v)), cs)),
        1 => (name.clone(), select(REGEXES), any::<bool>())
            .prop_map(|(a, re, cs)| attr_cond(a, Op::Matches, Some(json!(re)), cs)),
        3 => (name.clone(), select(vec![Op::Gt, Op::Gte, Op::Lt, Op::Lte]), number_operand())
            .prop_map(|(a, op, v)| attr_cond(a, op, Some(v), false)),
        2 => (name.clone(), select(vec![Op::Before, Op::After]), date_operand(now))
            .prop_map(|(a, op, v)| attr_cond(a, op, Some(json!(v)), false)),
        2 => (
            name.clone(),
            select(vec![Op::WithinLast, Op::MoreThanAgo, Op::WithinNext]),
            duration_operand()
        )
            .prop_map(|(a, op, v)| attr_cond(a, op, Some(json!(v)), false)),
        1 => (name.clone(), number_pair())
            .prop_map(|(a, v)| attr_cond(a, Op::Between, Some(v), false)),
        1 => (name.clone(), date_pair(now))
            .prop_map(|(a, v)| attr_cond(a, Op::Between, Some(v), false)),
        4 => (name.clone(), select(vec![Op::Equals, Op::NotEquals]), scalar_operand(now), any::<bool>())
            .prop_map(|(a, op, v, cs)| {
                let cs = cs && v.is_string();
                attr_cond(a, op, Some(v), cs)
            }),
        2 => (name.clone(), select(vec![Op::In, Op::NotIn]), vec(scalar_operand(now), 1..4), any::<bool>())
            .prop_map(|(a, op, v, cs)| {
                let cs = cs && v.iter().any(Json::is_string);
                attr_cond(a, op, Some(Json::Array(v)), cs)
            }),
        2 => (name, select(vec![Op::HasValue, Op::HasNoValue, Op::IsTrue, Op::IsFalse]))
            .prop_map(|(a, op)| attr_cond(a, op, None, false)),
    ]
    .boxed()
}

fn date_literal(now: i64) -> impl Strategy<Value = DateLiteral> + Clone {
    date_operand(now).prop_map(|s| parse_date(&s).expect("a date"))
}

fn within(now: i64) -> BoxedStrategy<Option<Within>> {
    prop_oneof![
        3 => Just(None),
        3 => duration().prop_map(|d| Some(Within::Last(d))),
        1 => duration().prop_map(|d| Some(Within::Before(d))),
        2 => (
            prop::option::of(date_literal(now)),
            prop::option::of(date_literal(now))
        )
            .prop_map(|(from, to)| {
                let (from, to) = match (from, to) {
                    (None, None) => return None,
                    (Some(f), Some(t)) if f.start_ms() == t.start_ms() => (Some(f), None),
                    (Some(f), Some(t)) if f.start_ms() > t.start_ms() => (Some(t), Some(f)),
                    other => other,
                };
                Some(Within::Range { from, to })
            }),
    ]
    .boxed()
}

fn comparison(values: &'static [f64]) -> BoxedStrategy<Comparison> {
    prop_oneof![
        4 => (0..6usize, select(values)).prop_map(|(op, v)| match op {
            0 => Comparison::Equals(v),
            1 => Comparison::NotEquals(v),
            2 => Comparison::Gt(v),
            3 => Comparison::Gte(v),
            4 => Comparison::Lt(v),
            _ => Comparison::Lte(v),
        }),
        1 => (select(values), select(values)).prop_map(|(a, b)| Comparison::Between(a.min(b), a.max(b))),
    ]
    .boxed()
}

fn measure() -> BoxedStrategy<Option<Measure>> {
    let func = select(vec![
        AggregateFn::Sum,
        AggregateFn::Avg,
        AggregateFn::Min,
        AggregateFn::Max,
    ]);
    let attribute = prop_oneof![
        4 => Just("price"),
        1 => select(vec!["cart_id", "flag", "when", "nope"]),
    ];
    prop_oneof![
        2 => Just(None),
        3 => comparison(COUNT_VALUES).prop_map(|c| Some(Measure::Count(c))),
        2 => (func, attribute, comparison(AGGREGATE_VALUES)).prop_map(|(func, a, comparison)| {
            Some(Measure::Aggregate {
                func,
                attribute: a.to_string(),
                comparison,
            })
        }),
    ]
    .boxed()
}

fn sequence(now: i64) -> BoxedStrategy<Option<Sequence>> {
    let on = prop_oneof![
        1 => Just(Vec::new()),
        1 => select(ON_LISTS).prop_map(|l| l.iter().map(|s| s.to_string()).collect()),
    ];
    prop_oneof![
        3 => Just(None),
        2 => (
            any::<bool>(),
            select(EVENT_NAMES),
            vec(attr_condition(now), 0..2),
            prop::option::weighted(0.7, duration()),
            on
        )
            .prop_map(|(negated, event, filters, window, on)| Some(Sequence {
                negated,
                event: event.to_string(),
                filters,
                window,
                on,
            })),
    ]
    .boxed()
}

pub fn event_condition(now: i64) -> BoxedStrategy<Rule> {
    (
        select(EVENT_NAMES),
        vec(attr_condition(now), 0..3),
        within(now),
        measure(),
        sequence(now),
    )
        .prop_map(|(event, filters, within, measure, sequence)| {
            Rule::Event(EventCondition {
                event: event.to_string(),
                filters,
                within,
                measure,
                sequence,
            })
        })
        .boxed()
}

/// Random rules up to depth 4; `refs` saved segments (`s0`…) may be
/// referenced.
pub fn rule(now: i64, refs: usize) -> BoxedStrategy<Rule> {
    let leaf = if refs > 0 {
        prop_oneof![
            4 => field_condition(now),
            4 => event_condition(now),
            1 => (0..refs).prop_map(|i| Rule::Segment(format!("s{i}"))),
            1 => Just(Rule::All(Vec::new())),
        ]
        .boxed()
    } else {
        prop_oneof![
            4 => field_condition(now),
            4 => event_condition(now),
            1 => Just(Rule::All(Vec::new())),
        ]
        .boxed()
    };
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Rule::All),
            vec(inner.clone(), 1..4).prop_map(Rule::Any),
            inner.prop_map(|r| Rule::Not(Box::new(r))),
        ]
    })
    .boxed()
}

/// 0–3 saved segments (`s{i}` may reference `s0`…`s{i-1}`) and a rule that
/// may reference any of them.
pub fn segments_and_rule(now: i64) -> BoxedStrategy<(Vec<(String, Rule)>, Rule)> {
    (0..=3usize)
        .prop_flat_map(move |n| {
            let segments: Vec<BoxedStrategy<Rule>> = (0..n).map(|i| rule(now, i)).collect();
            (segments, rule(now, n))
        })
        .prop_map(|(segments, rule)| {
            let named = segments
                .into_iter()
                .enumerate()
                .map(|(i, r)| (format!("s{i}"), r))
                .collect();
            (named, rule)
        })
        .boxed()
}
