//! Table cases pinned to SPEC §2: each is a rule, contacts that pass and
//! contacts that fail, checked against BOTH the reference evaluator and the
//! engine (and `{"not": rule}` against the complement), so the reference
//! itself is held to the SPEC, not only to the engine.

use std::collections::{BTreeSet, HashMap};

use flowseg_model::time::{DAY_MS, format_instant, parse_instant};
use flowseg_model::{AttrValue, Attributes, Contact, Event, FieldType, Schema, Value};
use flowseg_rules::{Rule, rule_from_json};
use serde_json::{Value as Json, json};

use super::generators::{HOUR, MINUTE, Step, World, contact_id, schema};
use super::harness::{describe, engine_members, load, plan, reference_members};

/// 2026-06-15T10:30:00Z, the evaluation time of the tables.
fn now() -> i64 {
    at("2026-06-15T10:30:00Z")
}

fn at(s: &str) -> i64 {
    parse_instant(s).expect("a date")
}

fn ago(ms: i64) -> i64 {
    now() - ms
}

fn iso(t: i64) -> String {
    format_instant(t)
}

const D: i64 = DAY_MS;
const H: i64 = HOUR;

/// A contact: field values as JSON (an empty string is stored as is, to
/// check that it reads as no value) and events.
#[derive(Clone)]
struct Fx {
    fields: Json,
    events: Vec<(String, i64, Json)>,
}

fn fx(fields: Json) -> Fx {
    Fx {
        fields,
        events: Vec::new(),
    }
}

/// A contact without fields.
fn nobody() -> Fx {
    fx(json!({}))
}

impl Fx {
    fn ev(mut self, name: &str, time: i64, attributes: Json) -> Fx {
        self.events.push((name.to_string(), time, attributes));
        self
    }
}

/// A contact with just these events.
fn evs(events: &[(&str, i64, Json)]) -> Fx {
    events
        .iter()
        .fold(nobody(), |f, (n, t, a)| f.ev(n, *t, a.clone()))
}

struct Case {
    name: &'static str,
    rule: Json,
    pass: Vec<Fx>,
    fail: Vec<Fx>,
    segments: Vec<(&'static str, Json)>,
}

fn case(name: &'static str, rule: Json, pass: Vec<Fx>, fail: Vec<Fx>) -> Case {
    Case {
        name,
        rule,
        pass,
        fail,
        segments: Vec::new(),
    }
}

fn field_value(schema: &Schema, name: &str, json: &Json) -> Value {
    match (schema.field_type(name), json) {
        (Some(FieldType::Text), Json::String(s)) => Value::Text(s.clone()),
        (Some(FieldType::Number), Json::Number(n)) => Value::Number(n.as_f64().expect("f64")),
        (Some(FieldType::Date), Json::String(s)) => Value::Date(at(s)),
        (Some(FieldType::Boolean), Json::Bool(b)) => Value::Bool(*b),
        other => panic!("bad table value {name}: {json} ({other:?})"),
    }
}

fn attributes(json: &Json) -> Attributes {
    json.as_object()
        .expect("attributes are an object")
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Json::Null => AttrValue::Null,
                Json::String(s) => AttrValue::Str(s.clone()),
                Json::Number(n) => AttrValue::Num(n.as_f64().expect("f64")),
                Json::Bool(b) => AttrValue::Bool(*b),
                other => panic!("bad attribute {other}"),
            };
            (k.clone(), v)
        })
        .collect()
}

/// A world of the given contacts (ordinal = position), each put and then
/// given its events.
fn world_of(fixtures: &[Fx], now: i64) -> World {
    let schema = schema();
    let mut contacts = Vec::new();
    let mut events = Vec::new();
    let mut script = Vec::new();
    for (i, f) in fixtures.iter().enumerate() {
        let o = i as u32;
        let fields = f
            .fields
            .as_object()
            .expect("fields are an object")
            .iter()
            .map(|(k, v)| (k.clone(), field_value(&schema, k, v)))
            .collect();
        let c = Contact {
            id: contact_id(o),
            fields,
        };
        script.push(Step::Put(o, c.clone()));
        contacts.push((o, c));
        for (name, time, attrs) in &f.events {
            let e = Event {
                id: None,
                name: name.clone(),
                contact_id: contact_id(o),
                time: *time,
                attributes: attributes(attrs),
            };
            script.push(Step::Event(o, e.clone()));
            events.push((o, e));
        }
    }
    World {
        now,
        schema,
        schema_late: false,
        script,
        contacts,
        events,
    }
}

fn parse(json: &Json) -> Rule {
    rule_from_json(json, "").unwrap_or_else(|p| panic!("table rule {json} does not parse: {p:?}"))
}

/// Runs every case; collects every disagreement (reference or engine)
/// before failing, so one run shows them all.
fn run_table(cases: Vec<Case>) {
    let mut problems = Vec::new();
    for c in cases {
        let fixtures: Vec<Fx> = c.pass.iter().chain(c.fail.iter()).cloned().collect();
        let world = world_of(&fixtures, now());
        let expected: BTreeSet<u32> = (0..c.pass.len() as u32).collect();
        let complement: BTreeSet<u32> = (c.pass.len() as u32..fixtures.len() as u32).collect();
        let segments: Vec<(String, Rule)> = c
            .segments
            .iter()
            .map(|(id, r)| (id.to_string(), parse(r)))
            .collect();
        let seg_map: HashMap<String, Rule> = segments.iter().cloned().collect();
        let index = load(&world);
        let rule = parse(&c.rule);
        let negated = Rule::Not(Box::new(rule.clone()));
        for (r, want) in [(&rule, &expected), (&negated, &complement)] {
            let p = plan(r, &world.schema, &seg_map);
            let reference = reference_members(r, &world, &seg_map, world.now);
            let engine = engine_members(&index, &p, world.now);
            if reference != *want {
                problems.push(format!(
                    "REFERENCE disagrees with the table in `{}`:\n{}",
                    c.name,
                    describe(&world, &segments, r, world.now, want, &reference)
                ));
            }
            if engine != *want {
                problems.push(format!(
                    "ENGINE disagrees with the table in `{}` (passing contacts are 0..{}):\n{}",
                    c.name,
                    c.pass.len(),
                    describe(&world, &segments, r, world.now, want, &engine)
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} disagreement(s):\n\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn city(v: &str) -> Fx {
    fx(json!({ "City": v }))
}

fn age(v: Json) -> Fx {
    fx(json!({ "Age": v }))
}

fn birthday(v: &str) -> Fx {
    fx(json!({ "Birthday": v }))
}

fn vip(v: bool) -> Fx {
    fx(json!({ "Vip": v }))
}

fn purchase(t: i64) -> Fx {
    evs(&[("purchase", t, json!({}))])
}

fn priced(prices: &[Json]) -> Fx {
    prices.iter().enumerate().fold(nobody(), |f, (i, p)| {
        f.ev("purchase", ago(i as i64 * H), json!({ "price": p }))
    })
}

fn with_attr(name: &str, value: Json) -> Fx {
    evs(&[("purchase", ago(H), json!({ name: value }))])
}

fn without_attr() -> Fx {
    evs(&[("purchase", ago(H), json!({}))])
}

fn cart(t: i64, attrs: Json) -> (&'static str, i64, Json) {
    ("cart_add", t, attrs)
}

fn buy(t: i64, attrs: Json) -> (&'static str, i64, Json) {
    ("purchase", t, attrs)
}

mod events;
mod fields;
mod lifecycle;
mod sequences;
