//! The reference evaluator: SPEC §2 read literally, one contact at a time,
//! over the rule AST (not the plan, so the planner is checked too).
//!
//! It is meant to be slow and obviously right. Every function is one
//! sentence of the SPEC; where it reads an operand it parses the JSON the
//! user wrote itself instead of trusting the planner's normalisation.

use std::collections::{BTreeSet, HashMap};

use flowseg_model::time::{DAY_MS, parse_date};
use flowseg_model::{AttrValue, Attributes, Contact, DateLiteral, Event, FieldType, Schema, Value};
use flowseg_rules::{
    AggregateFn, AttrCondition, Comparison, EventCondition, FieldCondition, Measure, Op, Rule,
    Sequence, Within,
};
use serde_json::Value as Json;

/// The members of `rule` at evaluation time `now`: every contact of
/// `contacts` (the live ones) for which the rule holds.
pub fn members(
    rule: &Rule,
    schema: &Schema,
    contacts: &[(u32, Contact)],
    events: &[(u32, Event)],
    segments: &HashMap<String, Rule>,
    now: i64,
) -> BTreeSet<u32> {
    contacts
        .iter()
        .filter(|(ordinal, contact)| {
            let own: Vec<&Event> = events
                .iter()
                .filter(|(o, _)| o == ordinal)
                .map(|(_, e)| e)
                .collect();
            let ctx = ContactCtx {
                schema,
                contact,
                events: &own,
                segments,
                now,
            };
            holds(rule, &ctx)
        })
        .map(|(ordinal, _)| *ordinal)
        .collect()
}

/// Everything one contact's verdict depends on.
struct ContactCtx<'a> {
    schema: &'a Schema,
    contact: &'a Contact,
    /// All of the contact's events, in no particular order, future ones too.
    events: &'a [&'a Event],
    segments: &'a HashMap<String, Rule>,
    now: i64,
}

fn holds(rule: &Rule, ctx: &ContactCtx) -> bool {
    match rule {
        Rule::All(children) => children.iter().all(|c| holds(c, ctx)),
        Rule::Any(children) => children.iter().any(|c| holds(c, ctx)),
        Rule::Not(child) => !holds(child, ctx),
        Rule::Field(f) => field_holds(f, ctx),
        Rule::Event(e) => event_holds(e, ctx),
        // "referenced segments are evaluated at the same T"
        Rule::Segment(id) => {
            let rule = ctx
                .segments
                .get(id)
                .unwrap_or_else(|| panic!("the test references unknown segment {id}"));
            holds(rule, ctx)
        }
    }
}

// ---------------------------------------------------------------- fields

fn field_holds(f: &FieldCondition, ctx: &ContactCtx) -> bool {
    let ty = ctx
        .schema
        .field_type(&f.field)
        .unwrap_or_else(|| panic!("the test uses undeclared field {}", f.field));
    // "a field is without value when it is absent, null, or (text) the empty string"
    let value = match ctx.contact.fields.get(&f.field) {
        None => None,
        Some(Value::Text(s)) if s.is_empty() => None,
        Some(v) => Some(v),
    };
    let positive = |op: Op| {
        value
            .is_some_and(|v| field_positive(op, f.value.as_ref(), f.case_sensitive, ty, v, ctx.now))
    };
    // "Negation is complement: not_equals, not_contains, not_in hold exactly
    // where equals, contains, in fail — contacts without a value are included."
    match f.op {
        Op::NotEquals => !positive(Op::Equals),
        Op::NotContains => !positive(Op::Contains),
        Op::NotIn => !positive(Op::In),
        Op::HasNoValue => value.is_none(),
        op => positive(op),
    }
}

/// A positive operator on a field that has a value.
fn field_positive(
    op: Op,
    operand: Option<&Json>,
    case_sensitive: bool,
    ty: FieldType,
    value: &Value,
    now: i64,
) -> bool {
    if op == Op::HasValue {
        return true;
    }
    match (ty, value) {
        (FieldType::Text, Value::Text(s)) => text_op(op, operand, case_sensitive, s),
        (FieldType::Number, Value::Number(x)) => number_op(op, operand, *x),
        (FieldType::Date, Value::Date(ms)) => date_op(op, operand, *ms, now),
        (FieldType::Boolean, Value::Bool(b)) => match op {
            Op::IsTrue => *b,
            Op::IsFalse => !*b,
            other => panic!("{} on a boolean field", other.name()),
        },
        (ty, v) => panic!("the test stored {v:?} in a {ty} field"),
    }
}

fn operand_str(operand: Option<&Json>) -> &str {
    operand
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("expected a string operand, got {operand:?}"))
}

fn operand_list(operand: Option<&Json>) -> &[Json] {
    operand
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("expected a list operand, got {operand:?}"))
}

fn operand_f64(operand: Option<&Json>) -> f64 {
    operand
        .and_then(Json::as_f64)
        .unwrap_or_else(|| panic!("expected a number operand, got {operand:?}"))
}

/// Text comparison: both sides lower-cased by `str::to_lowercase` unless
/// case-sensitive; `matches` is an unanchored regex search with `(?i)`.
fn text_op(op: Op, operand: Option<&Json>, case_sensitive: bool, value: &str) -> bool {
    let norm = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let v = norm(value);
    match op {
        Op::Equals => v == norm(operand_str(operand)),
        Op::Contains => v.contains(&norm(operand_str(operand))),
        Op::StartsWith => v.starts_with(&norm(operand_str(operand))),
        Op::EndsWith => v.ends_with(&norm(operand_str(operand))),
        Op::In => operand_list(operand)
            .iter()
            .any(|item| item.as_str().is_some_and(|s| norm(s) == v)),
        Op::Matches => regex::RegexBuilder::new(operand_str(operand))
            .case_insensitive(!case_sensitive)
            .build()
            .expect("the generator writes valid regexes")
            .is_match(value),
        other => panic!("{} is not a text operator", other.name()),
    }
}

/// Numbers are f64: `30` equals `30.0`.
fn number_op(op: Op, operand: Option<&Json>, x: f64) -> bool {
    match op {
        Op::Equals => x == operand_f64(operand),
        Op::Gt => x > operand_f64(operand),
        Op::Gte => x >= operand_f64(operand),
        Op::Lt => x < operand_f64(operand),
        Op::Lte => x <= operand_f64(operand),
        Op::Between => {
            let items = operand_list(operand);
            let lo = items[0].as_f64().expect("number bound");
            let hi = items[1].as_f64().expect("number bound");
            lo <= x && x <= hi
        }
        Op::In => operand_list(operand)
            .iter()
            .any(|item| item.as_f64() == Some(x)),
        other => panic!("{} is not a number operator", other.name()),
    }
}

fn date_literal(json: &Json) -> DateLiteral {
    parse_date(json.as_str().expect("a date string")).expect("the generator writes valid dates")
}

fn duration_ms(operand: Option<&Json>) -> i64 {
    flowseg_model::Duration::parse(operand_str(operand))
        .expect("the generator writes valid durations")
        .as_ms()
}

/// Date operators on a value `v` (epoch ms). A plain-date operand is the
/// whole UTC day; instants compare exactly; before/after are strict and
/// between is inclusive at both ends.
fn date_op(op: Op, operand: Option<&Json>, v: i64, now: i64) -> bool {
    let lit = || date_literal(operand.expect("a date operand"));
    match op {
        // `equals D` is "on that day"
        Op::Equals => match lit() {
            DateLiteral::Day(d) => d <= v && v < d + DAY_MS,
            DateLiteral::Instant(t) => v == t,
        },
        // `before D` is "before the day starts" (value < D 00:00)
        Op::Before => match lit() {
            DateLiteral::Day(d) => v < d,
            DateLiteral::Instant(t) => v < t,
        },
        // `after D` is "after the day ends" (value ≥ D+1 00:00)
        Op::After => match lit() {
            DateLiteral::Day(d) => v >= d + DAY_MS,
            DateLiteral::Instant(t) => v > t,
        },
        // `between [A, B]` covers both whole days, each bound read on its own
        Op::Between => {
            let items = operand_list(operand);
            let from_ok = match date_literal(&items[0]) {
                DateLiteral::Day(d) => v >= d,
                DateLiteral::Instant(t) => v >= t,
            };
            let to_ok = match date_literal(&items[1]) {
                DateLiteral::Day(d) => v < d + DAY_MS,
                DateLiteral::Instant(t) => v <= t,
            };
            from_ok && to_ok
        }
        // now − D < value ≤ now
        Op::WithinLast => {
            let d = duration_ms(operand);
            now - d < v && v <= now
        }
        // value ≤ now − D
        Op::MoreThanAgo => v <= now - duration_ms(operand),
        // now < value ≤ now + D
        Op::WithinNext => {
            let d = duration_ms(operand);
            now < v && v <= now + d
        }
        other => panic!("{} is not a date operator", other.name()),
    }
}

// ---------------------------------------------------------------- attributes

/// "absent, null and "" are no value"
fn attr_value<'a>(attrs: &'a Attributes, name: &str) -> Option<&'a AttrValue> {
    match attrs.get(name) {
        None | Some(AttrValue::Null) => None,
        Some(AttrValue::Str(s)) if s.is_empty() => None,
        Some(v) => Some(v),
    }
}

fn attr_holds(c: &AttrCondition, attrs: &Attributes, now: i64) -> bool {
    let value = attr_value(attrs, &c.attribute);
    let positive = |op: Op| {
        value.is_some_and(|v| attr_positive(op, c.value.as_ref(), c.case_sensitive, v, now))
    };
    match c.op {
        Op::NotEquals => !positive(Op::Equals),
        Op::NotContains => !positive(Op::Contains),
        Op::NotIn => !positive(Op::In),
        Op::HasNoValue => value.is_none(),
        op => positive(op),
    }
}

/// "The operator and operand decide how the attribute is read"; a value of
/// another type makes the positive operator fail.
fn attr_positive(op: Op, operand: Option<&Json>, cs: bool, value: &AttrValue, now: i64) -> bool {
    match op {
        Op::HasValue => true,
        // is_true/is_false read JSON booleans
        Op::IsTrue => *value == AttrValue::Bool(true),
        Op::IsFalse => *value == AttrValue::Bool(false),
        // text operators read JSON strings
        Op::Contains | Op::StartsWith | Op::EndsWith | Op::Matches => match value {
            AttrValue::Str(s) => text_op(op, operand, cs, s),
            _ => false,
        },
        // number operators read JSON numbers
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => match value {
            AttrValue::Num(x) => number_op(op, operand, *x),
            _ => false,
        },
        // date operators read strings that parse as a date
        Op::Before | Op::After | Op::WithinLast | Op::MoreThanAgo | Op::WithinNext => {
            attr_date(value).is_some_and(|t| date_op(op, operand, t, now))
        }
        // between with string bounds reads dates, with number bounds numbers
        Op::Between => {
            if operand_list(operand)[0].is_string() {
                attr_date(value).is_some_and(|t| date_op(op, operand, t, now))
            } else {
                match value {
                    AttrValue::Num(x) => number_op(op, operand, *x),
                    _ => false,
                }
            }
        }
        // string operands read strings, number operands numbers (`equals 5`
        // never matches "5"), boolean operands booleans
        Op::Equals => scalar_equals(operand.expect("an operand"), value, cs),
        Op::In => operand_list(operand)
            .iter()
            .any(|item| scalar_equals(item, value, cs)),
        other => panic!("{} on an attribute", other.name()),
    }
}

/// A date stored as an attribute: a plain date is 00:00 UTC of its day.
fn attr_date(value: &AttrValue) -> Option<i64> {
    match value {
        AttrValue::Str(s) => parse_date(s).ok().map(DateLiteral::start_ms),
        _ => None,
    }
}

fn scalar_equals(operand: &Json, value: &AttrValue, cs: bool) -> bool {
    match (operand, value) {
        (Json::String(_), AttrValue::Str(s)) => text_op(Op::Equals, Some(operand), cs, s),
        (Json::Number(n), AttrValue::Num(x)) => n.as_f64() == Some(*x),
        (Json::Bool(b), AttrValue::Bool(x)) => b == x,
        _ => false,
    }
}

// ---------------------------------------------------------------- events

/// `{"last": D}` (now − D < t ≤ now), `{"before": D}` (t ≤ now − D),
/// `{"from": T1, "to": T2}` (T1 ≤ t < T2, a plain date its day's start).
fn in_within(within: &Option<Within>, t: i64, now: i64) -> bool {
    match within {
        None => true,
        Some(Within::Last(d)) => now - d.as_ms() < t && t <= now,
        Some(Within::Before(d)) => t <= now - d.as_ms(),
        Some(Within::Range { from, to }) => {
            from.is_none_or(|f| f.start_ms() <= t) && to.is_none_or(|x| t < x.start_ms())
        }
    }
}

fn event_holds(e: &EventCondition, ctx: &ContactCtx) -> bool {
    let now = ctx.now;
    // "Evaluating as_of T ignores events whose time is after T (an event
    // exactly at T counts)"
    let seen: Vec<&Event> = ctx
        .events
        .iter()
        .copied()
        .filter(|ev| ev.time <= now)
        .collect();
    let matching = seen.iter().copied().filter(|ev| {
        ev.name == e.event
            && in_within(&e.within, ev.time, now)
            && e.filters.iter().all(|f| attr_holds(f, &ev.attributes, now))
    });
    let kept: Vec<&Event> = match &e.sequence {
        None => matching.collect(),
        Some(s) => matching
            .filter(|a| sequence_keeps(s, a, &seen, now))
            .collect(),
    };
    match &e.measure {
        // default `count`: at least one
        None => !kept.is_empty(),
        Some(Measure::Count(c)) => compare(*c, kept.len() as f64),
        Some(Measure::Aggregate {
            func,
            attribute,
            comparison,
        }) => {
            // "Only JSON numbers are aggregated"
            let numbers: Vec<f64> = kept
                .iter()
                .filter_map(|ev| match ev.attributes.get(attribute) {
                    Some(AttrValue::Num(x)) => Some(*x),
                    _ => None,
                })
                .collect();
            // "With no number to aggregate there is no value and every
            // comparison fails, not_equals included"
            if numbers.is_empty() {
                return false;
            }
            let sum: f64 = numbers.iter().sum();
            let value = match func {
                AggregateFn::Sum => sum,
                AggregateFn::Avg => sum / numbers.len() as f64,
                AggregateFn::Min => numbers.iter().copied().fold(f64::INFINITY, f64::min),
                AggregateFn::Max => numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            };
            compare(*comparison, value)
        }
    }
}

fn compare(c: Comparison, x: f64) -> bool {
    match c {
        Comparison::Equals(v) => x == v,
        Comparison::NotEquals(v) => x != v,
        Comparison::Gt(v) => x > v,
        Comparison::Gte(v) => x >= v,
        Comparison::Lt(v) => x < v,
        Comparison::Lte(v) => x <= v,
        Comparison::Between(lo, hi) => lo <= x && x <= hi,
    }
}

/// `followed_by`: some B follows within D (tA < tB ≤ tA + D; without a
/// window, any later B up to now). `not_followed_by`: no such B, and D has
/// fully passed (tA + D ≤ now). B events are the contact's events named B
/// that pass B's own `where` and are not after now.
fn sequence_keeps(s: &Sequence, a: &Event, seen: &[&Event], now: i64) -> bool {
    let followed = seen.iter().any(|b| {
        b.name == s.event
            && a.time < b.time
            && s.window.is_none_or(|d| b.time <= a.time + d.as_ms())
            && s.filters.iter().all(|f| attr_holds(f, &b.attributes, now))
            && s.on
                .iter()
                .all(|k| correlated(a.attributes.get(k), b.attributes.get(k)))
    });
    if s.negated {
        !followed && s.window.is_none_or(|d| a.time + d.as_ms() <= now)
    } else {
        followed
    }
}

/// `on`: both values present (not absent, null or ""), of the same JSON
/// type, and equal — strings exactly, numbers as f64, booleans as booleans.
fn correlated(a: Option<&AttrValue>, b: Option<&AttrValue>) -> bool {
    match (a, b) {
        (Some(AttrValue::Str(x)), Some(AttrValue::Str(y))) => !x.is_empty() && x == y,
        (Some(AttrValue::Num(x)), Some(AttrValue::Num(y))) => x == y,
        (Some(AttrValue::Bool(x)), Some(AttrValue::Bool(y))) => x == y,
        _ => false,
    }
}
