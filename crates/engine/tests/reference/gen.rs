//! Proptest strategies: a fixed schema, the pools every value and operand
//! is drawn from, contacts and events, and a load script (random order,
//! replacements, removals, re-puts, the bulk path). Rules are generated in
//! `rule_gen.rs` from the same pools.
//!
//! Everything time-like is drawn relative to the evaluation time `now`, so
//! window edges (exactly now, now − 30d, now − 30d + 1ms, day starts, the
//! future) are hit on purpose, not by luck. Aggregated numbers are dyadic
//! (exact in f64) so sums do not depend on the order of addition.

use std::collections::BTreeMap;

use flowseg_model::time::{DAY_MS, format_day, format_instant, parse_date, parse_instant};
use flowseg_model::{
    AttrValue, Attributes, Contact, Duration, Event, FieldDef, FieldType, Schema, Value,
};
use flowseg_rules::Rule;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Value as Json, json};

pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;

// ---------------------------------------------------------------- schema

pub const TEXT_FIELDS: &[&str] = &["FirstName", "Email", "City", "Tag", "Unused"];
pub const NUMBER_FIELDS: &[&str] = &["Age", "Score"];
pub const DATE_FIELDS: &[&str] = &["CreateTime", "Birthday"];
pub const BOOL_FIELDS: &[&str] = &["EmailUnsubscribed", "Vip"];

/// Standard fields plus a few custom fields of each type (`Unused` is
/// declared but no contact ever has it).
pub fn schema() -> Schema {
    let f = |name: &str, field_type| FieldDef {
        name: name.into(),
        field_type,
    };
    Schema {
        custom: vec![
            f("City", FieldType::Text),
            f("Tag", FieldType::Text),
            f("Unused", FieldType::Text),
            f("Age", FieldType::Number),
            f("Score", FieldType::Number),
            f("Birthday", FieldType::Date),
            f("Vip", FieldType::Boolean),
        ],
    }
}

// ---------------------------------------------------------------- pools

/// Text values: case pairs that `to_lowercase` does and does not unify
/// (`ß`/`SS`, `ẞ`→`ß`, `İ`→`i̇`), spaces-only, emoji.
pub const TEXTS: &[&str] = &[
    "Straße",
    "STRASSE",
    "strasse",
    "ß",
    "ẞ",
    "İstanbul",
    "i\u{307}stanbul",
    "istanbul",
    "ISTANBUL",
    "Warszawa",
    "warsaw",
    "WARSAW",
    "war",
    "   ",
    " a ",
    "🎉",
    "🎉 Party",
    "Ab",
    "ab",
];

/// Text operands: the values themselves, pieces of them, and pieces that
/// only occur across two values written one after the other ("ab"+"Ab"
/// holds "ba"), for an index that keeps values in one arena.
pub const TEXT_OPERANDS: &[&str] = &[
    "Straße",
    "STRASSE",
    "strasse",
    "ß",
    "ẞ",
    "SS",
    "İstanbul",
    "i\u{307}stanbul",
    "istanbul",
    "İ",
    "stan",
    "Warszawa",
    "warsaw",
    "WAR",
    "saw",
    "   ",
    " ",
    "🎉",
    "ab",
    "ba",
    "rs",
    "1",
    "c1",
    "/pricing",
];

pub const REGEXES: &[&str] = &[
    "^war",
    "saw$",
    "stra(ss|ß)e",
    "İ",
    "^\\s+$",
    "ß",
    "[0-9]",
    "^.{2}$",
    "🎉",
    "a",
    "^c1$",
    "pricing",
];

/// Field numbers (and generic attribute numbers): `-0.0`, `30` = `30.0`.
pub const NUMBERS: &[f64] = &[
    0.0, -0.0, -1.5, 30.0, 29.5, 31.0, 2.5, 100.0, 1e9, -100.0, 1.0,
];

pub const DURATIONS: &[&str] = &["1m", "1h", "90m", "1d", "24h", "7d", "1w", "30d", "4w"];

pub const EVENT_NAMES: &[&str] = &["cart_add", "purchase", "Visit", "MailOpen"];
pub const ATTRIBUTES: &[&str] = &["cart_id", "price", "url", "when", "flag"];
pub const CART_IDS: &[&str] = &["c1", "C1", "c2", "1"];
pub const PRICES: &[f64] = &[0.0, -1.5, 2.5, 30.0, 50.0, 60.0, 100.0, 1e9];
pub const COUNT_VALUES: &[f64] = &[0.0, 1.0, 2.0, 3.0, 1.5, -1.0];
pub const AGGREGATE_VALUES: &[f64] = &[0.0, -1.5, 2.5, 30.0, 31.5, 60.0, 100.0, 130.0, 1e9];
pub const ON_LISTS: &[&[&str]] = &[&["cart_id"], &["cart_id", "flag"], &["price"], &["url"]];

/// The start of the UTC day containing `t`.
pub fn day_start(t: i64) -> i64 {
    t.div_euclid(DAY_MS) * DAY_MS
}

/// The evaluation times: a day start, the middle of a day, a day's last ms.
pub fn nows() -> Vec<i64> {
    let base = parse_instant("2026-06-15").expect("a date");
    vec![base, base + 10 * HOUR + 30 * MINUTE, base + DAY_MS - 1]
}

/// Instants at the edges of every window the rules can express.
pub fn time_points(now: i64) -> Vec<i64> {
    let day = day_start(now);
    let mut points = vec![
        now,
        now - 1,
        now + 1,
        now - HOUR,
        now - HOUR - 1,
        now - HOUR + 1,
        now - 2 * HOUR,
        now - 90 * MINUTE,
        now - DAY_MS,
        now - 7 * DAY_MS,
        now - 30 * DAY_MS,
        now - 30 * DAY_MS + 1,
        now - 30 * DAY_MS - 1,
        now - 28 * DAY_MS,
        now + HOUR,
        now + 7 * DAY_MS,
        now + 30 * DAY_MS,
        now + 30 * DAY_MS + 1,
        day,
        day - 1,
        day + DAY_MS,
        day + DAY_MS - 1,
        day - DAY_MS,
        parse_instant("2026-06-01").expect("a date"),
        parse_instant("2026-05-31T23:59:59.999Z").expect("a date"),
    ];
    points.sort_unstable();
    points.dedup();
    points
}

/// Date operands as written by users: plain dates and instants, one with
/// a `+02:00` offset.
pub fn date_operands(now: i64) -> Vec<String> {
    let mut out = vec![
        format_day(now),
        format_day(now - DAY_MS),
        format_day(now + DAY_MS),
        format_day(now - 30 * DAY_MS),
        format_day(now - 7 * DAY_MS),
        "2026-06-01".to_string(),
    ];
    for t in [
        now,
        now - 1,
        now + 1,
        now - 30 * DAY_MS,
        now - 30 * DAY_MS + 1,
        now - HOUR,
        day_start(now),
        day_start(now) - 1,
    ] {
        out.push(format_instant(t));
    }
    // The same instant as `day_start(now)`, written in another offset.
    let local = format_instant(day_start(now) + 2 * HOUR);
    out.push(format!("{}+02:00", local.trim_end_matches('Z')));
    out
}

/// Date strings stored in attributes: plain dates and instants.
pub fn attribute_dates(now: i64) -> Vec<String> {
    let mut out: Vec<String> = time_points(now)
        .into_iter()
        .step_by(2)
        .map(format_instant)
        .collect();
    out.extend([
        format_day(now),
        format_day(now - DAY_MS),
        format_day(now + DAY_MS),
        format_day(now - 30 * DAY_MS),
        "2026-06-01".to_string(),
    ]);
    out
}

pub fn number_json(n: f64) -> Json {
    serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
}

/// Number operands as JSON: integers and floats (`30` and `30.0`).
pub fn number_operand() -> impl Strategy<Value = Json> + Clone {
    prop_oneof![
        select(NUMBERS).prop_map(number_json),
        select(vec![json!(0), json!(30), json!(31), json!(-1), json!(100)]),
    ]
}

pub fn text_operand() -> impl Strategy<Value = String> + Clone {
    select(TEXT_OPERANDS).prop_map(str::to_string)
}

pub fn duration_operand() -> impl Strategy<Value = String> + Clone {
    select(DURATIONS).prop_map(str::to_string)
}

pub fn duration() -> impl Strategy<Value = Duration> + Clone {
    select(DURATIONS).prop_map(|d| Duration::parse(d).expect("a duration"))
}

pub fn date_operand(now: i64) -> impl Strategy<Value = String> + Clone {
    select(date_operands(now))
}

/// Two date operands ordered so that `between` validates (the first
/// bound's start is not after the second's).
pub fn date_pair(now: i64) -> impl Strategy<Value = Json> + Clone {
    (date_operand(now), date_operand(now)).prop_map(|(a, b)| {
        let start = |s: &str| parse_date(s).expect("a date").start_ms();
        if start(&a) <= start(&b) {
            json!([a, b])
        } else {
            json!([b, a])
        }
    })
}

pub fn number_pair() -> impl Strategy<Value = Json> + Clone {
    (number_operand(), number_operand()).prop_map(|(a, b)| {
        if a.as_f64() <= b.as_f64() {
            json!([a, b])
        } else {
            json!([b, a])
        }
    })
}

// ---------------------------------------------------------------- data

fn field_value(ty: FieldType, now: i64) -> BoxedStrategy<Option<Value>> {
    let value = match ty {
        FieldType::Text => prop_oneof![
            8 => select(TEXTS).prop_map(|s| Value::Text(s.to_string())),
            1 => Just(Value::Text(String::new())),
        ]
        .boxed(),
        FieldType::Number => select(NUMBERS).prop_map(Value::Number).boxed(),
        FieldType::Date => prop_oneof![
            4 => select(time_points(now)).prop_map(Value::Date),
            1 => (now - 40 * DAY_MS..now + 40 * DAY_MS).prop_map(Value::Date),
        ]
        .boxed(),
        FieldType::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
    };
    prop_oneof![1 => Just(None), 2 => value.prop_map(Some)].boxed()
}

/// The values of every field of the schema except `Unused`.
pub fn fields(now: i64) -> BoxedStrategy<BTreeMap<String, Value>> {
    let names: Vec<(&'static str, FieldType)> = TEXT_FIELDS
        .iter()
        .filter(|f| **f != "Unused")
        .map(|f| (*f, FieldType::Text))
        .chain(NUMBER_FIELDS.iter().map(|f| (*f, FieldType::Number)))
        .chain(DATE_FIELDS.iter().map(|f| (*f, FieldType::Date)))
        .chain(BOOL_FIELDS.iter().map(|f| (*f, FieldType::Boolean)))
        .collect();
    let strategies: Vec<BoxedStrategy<Option<Value>>> =
        names.iter().map(|(_, ty)| field_value(*ty, now)).collect();
    strategies
        .prop_map(move |values| {
            names
                .iter()
                .zip(values)
                .filter_map(|((name, _), v)| v.map(|v| (name.to_string(), v)))
                .collect()
        })
        .boxed()
}

/// What happens to a contact after its first load.
#[derive(Debug, Clone)]
pub enum Fate {
    Stay,
    /// Removed (with its events) and never seen again.
    Removed,
    /// Removed, then put again with these fields; only events flagged
    /// `after_reput` are added back.
    Reput(BTreeMap<String, Value>),
}

#[derive(Debug, Clone)]
pub struct ContactSpec {
    pub fields: BTreeMap<String, Value>,
    /// An earlier version, put first and replaced by `fields` later.
    pub prior: Option<BTreeMap<String, Value>>,
    pub fate: Fate,
}

/// Random worlds also re-put erased contacts (an erased contact's events
/// must not come back); `FLOWSEG_AGREEMENT_REPUT=0` turns that off.
fn reput_weight() -> u32 {
    u32::from(std::env::var("FLOWSEG_AGREEMENT_REPUT").map_or(true, |v| v != "0"))
}

fn contact_spec(now: i64) -> impl Strategy<Value = ContactSpec> {
    let fate = prop_oneof![
        8 => Just(Fate::Stay),
        1 => Just(Fate::Removed),
        reput_weight() => fields(now).prop_map(Fate::Reput),
    ];
    (fields(now), prop::option::weighted(0.2, fields(now)), fate).prop_map(
        |(fields, prior, fate)| ContactSpec {
            fields,
            prior,
            fate,
        },
    )
}

#[derive(Debug, Clone)]
pub struct EventSpec {
    pub contact: Index,
    pub name: String,
    pub time: i64,
    pub attributes: Attributes,
    pub after_reput: bool,
}

fn generic_attr(now: i64) -> BoxedStrategy<AttrValue> {
    prop_oneof![
        Just(AttrValue::Null),
        Just(AttrValue::Str(String::new())),
        select(TEXTS).prop_map(|s| AttrValue::Str(s.to_string())),
        select(NUMBERS).prop_map(AttrValue::Num),
        any::<bool>().prop_map(AttrValue::Bool),
        select(attribute_dates(now)).prop_map(AttrValue::Str),
        select(CART_IDS).prop_map(|s| AttrValue::Str(s.to_string())),
    ]
    .boxed()
}

fn specific_attr(name: &str, now: i64) -> BoxedStrategy<AttrValue> {
    match name {
        // Dense, so that `on` often finds (or narrowly misses) a partner.
        "cart_id" => prop_oneof![
            3 => Just(AttrValue::Str("c1".into())),
            2 => Just(AttrValue::Str("C1".into())),
            1 => select(vec!["c2", "1"]).prop_map(|s| AttrValue::Str(s.to_string())),
            1 => select(vec![1.0, 2.0]).prop_map(AttrValue::Num),
            1 => Just(AttrValue::Bool(true)),
        ]
        .boxed(),
        "price" => select(PRICES).prop_map(AttrValue::Num).boxed(),
        "url" => prop_oneof![
            select(vec!["/pricing", "https://x.com/Pricing", "/blog"])
                .prop_map(|s| AttrValue::Str(s.to_string())),
            select(TEXTS).prop_map(|s| AttrValue::Str(s.to_string())),
        ]
        .boxed(),
        "when" => select(attribute_dates(now))
            .prop_map(AttrValue::Str)
            .boxed(),
        _ => any::<bool>().prop_map(AttrValue::Bool).boxed(),
    }
}

fn attributes(now: i64) -> BoxedStrategy<Attributes> {
    let per_name: Vec<BoxedStrategy<Option<AttrValue>>> = ATTRIBUTES
        .iter()
        .map(|name| {
            let absent = if *name == "cart_id" { 1 } else { 3 };
            prop_oneof![
                absent => Just(None),
                6 => specific_attr(name, now).prop_map(Some),
                1 => generic_attr(now).prop_map(Some),
            ]
            .boxed()
        })
        .collect();
    per_name
        .prop_map(|values| {
            ATTRIBUTES
                .iter()
                .zip(values)
                .filter_map(|(name, v)| v.map(|v| (name.to_string(), v)))
                .collect()
        })
        .boxed()
}

fn event_time(now: i64) -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => select(time_points(now)),
        1 => now - 40 * DAY_MS..now + 2 * DAY_MS,
    ]
}

fn event_spec(now: i64) -> impl Strategy<Value = EventSpec> {
    (
        any::<Index>(),
        select(EVENT_NAMES),
        event_time(now),
        attributes(now),
        any::<bool>(),
    )
        .prop_map(|(contact, name, time, attributes, after_reput)| EventSpec {
            contact,
            name: name.to_string(),
            time,
            attributes,
            after_reput,
        })
}

/// One operation applied to the engine's index.
#[derive(Debug, Clone)]
pub enum Step {
    Put(u32, Contact),
    Remove(u32),
    /// `add_event`.
    Event(u32, Event),
    /// `load_event`: the bulk path used at start-up, merged by `Compact`.
    LoadEvent(u32, Event),
    Compact,
}

/// How the events reach the index.
#[derive(Debug, Clone, Copy)]
pub struct LoadMode {
    /// The first `bulk_quarters`/4 of the first events go through
    /// `load_event` and a `compact`; the rest through `add_event`, so a
    /// contact's rows can be split between the merged base and the tail.
    pub bulk_quarters: usize,
    /// `compact` once more after everything (after removals too).
    pub compact_at_end: bool,
}

/// The data of one test case: how it is loaded, and what is left.
#[derive(Debug, Clone)]
pub struct World {
    pub now: i64,
    pub schema: Schema,
    /// Start the index with an empty schema and `set_schema` before loading.
    pub schema_late: bool,
    pub script: Vec<Step>,
    /// The contacts that are live once the script ran.
    pub contacts: Vec<(u32, Contact)>,
    /// Their events.
    pub events: Vec<(u32, Event)>,
}

pub fn contact_id(ordinal: u32) -> String {
    format!("c{ordinal}")
}

fn contact(ordinal: u32, fields: &BTreeMap<String, Value>) -> Contact {
    Contact {
        id: contact_id(ordinal),
        fields: fields.clone(),
    }
}

fn event(ordinal: u32, spec: &EventSpec) -> Event {
    Event {
        id: None,
        name: spec.name.clone(),
        contact_id: contact_id(ordinal),
        time: spec.time,
        attributes: spec.attributes.clone(),
    }
}

/// Builds the load script: events in generated (random) order, each
/// contact put just before its first event (contacts without events
/// first); then replacements, removals, re-puts, and the events added
/// after re-puts.
fn build_world(
    now: i64,
    ordinals: Vec<u32>,
    specs: Vec<ContactSpec>,
    events: Vec<EventSpec>,
    schema_late: bool,
    mode: LoadMode,
) -> World {
    let n = specs.len();
    let mut script = Vec::new();
    let mut put = vec![false; n];
    let first_version = |s: &ContactSpec| s.prior.clone().unwrap_or_else(|| s.fields.clone());
    let slot_of = |e: &EventSpec| e.contact.index(n);
    // Events added before any removal; a re-put contact's other events are
    // added after it is put again.
    let early =
        |e: &EventSpec| !(matches!(specs[slot_of(e)].fate, Fate::Reput(_)) && e.after_reput);
    let has_events: Vec<bool> = (0..n)
        .map(|i| events.iter().any(|e| slot_of(e) == i && early(e)))
        .collect();
    for i in 0..n {
        if !has_events[i] {
            script.push(Step::Put(
                ordinals[i],
                contact(ordinals[i], &first_version(&specs[i])),
            ));
            put[i] = true;
        }
    }
    let mut later = Vec::new();
    for e in &events {
        if n == 0 {
            break;
        }
        let i = slot_of(e);
        let o = ordinals[i];
        if !early(e) {
            later.push((o, event(o, e)));
            continue;
        }
        if !put[i] {
            script.push(Step::Put(o, contact(o, &first_version(&specs[i]))));
            put[i] = true;
        }
        script.push(Step::Event(o, event(o, e)));
    }
    let mut live = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let o = ordinals[i];
        if spec.prior.is_some() {
            script.push(Step::Put(o, contact(o, &spec.fields)));
        }
        match &spec.fate {
            Fate::Stay => live.push((o, contact(o, &spec.fields))),
            Fate::Removed => script.push(Step::Remove(o)),
            Fate::Reput(fields) => {
                script.push(Step::Remove(o));
                script.push(Step::Put(o, contact(o, fields)));
                live.push((o, contact(o, fields)));
            }
        }
    }
    for (o, e) in &later {
        script.push(Step::Event(*o, e.clone()));
    }
    apply_load_mode(&mut script, mode);
    let live_ordinals: Vec<u32> = live.iter().map(|(o, _)| *o).collect();
    let mut live_events = Vec::new();
    for step in &script {
        if let Step::Event(o, e) | Step::LoadEvent(o, e) = step
            && live_ordinals.contains(o)
        {
            live_events.push((*o, e.clone()));
        }
        if let Step::Remove(o) = step {
            live_events.retain(|(x, _)| x != o);
        }
    }
    live.sort_by_key(|(o, _)| *o);
    World {
        now,
        schema: schema(),
        schema_late,
        script,
        contacts: live,
        events: live_events,
    }
}

fn apply_load_mode(script: &mut Vec<Step>, mode: LoadMode) {
    let first_events = script
        .iter()
        .take_while(|s| matches!(s, Step::Put(..) | Step::Event(..)))
        .filter(|s| matches!(s, Step::Event(..)))
        .count();
    let bulk = first_events * mode.bulk_quarters / 4;
    if bulk > 0 {
        let mut seen = 0;
        let mut at = 0;
        for (i, step) in script.iter_mut().enumerate() {
            if let Step::Event(o, e) = step {
                *step = Step::LoadEvent(*o, e.clone());
                seen += 1;
                if seen == bulk {
                    at = i + 1;
                    break;
                }
            }
        }
        script.insert(at, Step::Compact);
    }
    if mode.compact_at_end {
        script.push(Step::Compact);
    }
}

/// 0–40 contacts with sparse ordinals and 0–300 events at time `now`.
pub fn world(now: i64) -> impl Strategy<Value = World> {
    (
        Just((0..64u32).collect::<Vec<_>>()).prop_shuffle(),
        vec(contact_spec(now), 0..=40),
        vec(event_spec(now), 0..=300),
        prop::bool::weighted(0.2),
        (0..=4usize, prop::bool::weighted(0.3)),
    )
        .prop_map(move |(ordinals, specs, events, late, (quarters, at_end))| {
            let mode = LoadMode {
                bulk_quarters: quarters,
                compact_at_end: at_end,
            };
            build_world(now, ordinals, specs, events, late, mode)
        })
}

use super::rule_gen::segments_and_rule;

/// A whole differential test case.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub world: World,
    pub segments: Vec<(String, Rule)>,
    pub rule: Rule,
}

pub fn scenario() -> impl Strategy<Value = Scenario> {
    select(nows()).prop_flat_map(|now| {
        (world(now), segments_and_rule(now)).prop_map(|(world, (segments, rule))| Scenario {
            world,
            segments,
            rule,
        })
    })
}
