//! Running one case on both sides: loading a world into the engine's
//! index, planning a rule, and describing a disagreement so that it can be
//! reproduced by hand.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use flowseg_engine::AccountIndex;
use flowseg_model::time::format_instant;
use flowseg_model::{Contact, Event, Schema};
use flowseg_rules::{Plan, Rule, plan_rule, rule_to_json};

use super::evaluator;
use super::generators::{Step, World};

/// Loads the world into a fresh index by replaying its script.
pub fn load(world: &World) -> AccountIndex {
    let mut index = if world.schema_late {
        let mut index = AccountIndex::new(&Schema::default());
        index.set_schema(&world.schema);
        index
    } else {
        AccountIndex::new(&world.schema)
    };
    // Events get seqs in script order, as the store's log would give.
    let mut seq = 0;
    for step in &world.script {
        match step {
            Step::Put(o, c) => index.put_contact(*o, c),
            Step::Remove(o) => index.remove_contact(*o),
            Step::Event(o, e) => {
                seq += 1;
                index.add_event(*o, seq, e)
            }
            Step::LoadEvent(o, e) => {
                seq += 1;
                index.load_event(*o, seq, e)
            }
            Step::Compact => index.compact(),
        }
    }
    index
}

pub fn segment_map(segments: &[(String, Rule)]) -> HashMap<String, Rule> {
    segments.iter().cloned().collect()
}

/// Plans a rule the test generated; a generated rule that does not
/// validate is a bug in the generator (or a validator stricter than SPEC).
pub fn plan(rule: &Rule, schema: &Schema, segments: &HashMap<String, Rule>) -> Plan {
    let source = |id: &str| segments.get(id).cloned();
    plan_rule(rule, "", schema, &source, None).unwrap_or_else(|problems| {
        panic!(
            "a generated rule does not validate: {problems:?}\nrule: {}",
            rule_to_json(rule)
        )
    })
}

pub fn engine_members(index: &AccountIndex, plan: &Plan, now: i64) -> BTreeSet<u32> {
    index.evaluate(plan, now).iter().collect()
}

pub fn reference_members(
    rule: &Rule,
    world: &World,
    segments: &HashMap<String, Rule>,
    now: i64,
) -> BTreeSet<u32> {
    evaluator::members(
        rule,
        &world.schema,
        &world.contacts,
        &world.events,
        segments,
        now,
    )
}

/// `t` as an instant and relative to `now`: `… (now-30d+1ms)`.
pub fn time(t: i64, now: i64) -> String {
    format!("{} ({})", format_instant(t), relative(t - now))
}

fn relative(diff: i64) -> String {
    if diff == 0 {
        return "now".into();
    }
    let sign = if diff < 0 { '-' } else { '+' };
    let mut rest = diff.unsigned_abs();
    let mut out = String::from("now");
    for (unit, ms) in [
        ("d", 86_400_000u64),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if rest >= ms {
            let _ = write!(out, "{sign}{}{unit}", rest / ms);
            rest %= ms;
        }
    }
    out
}

fn fields_json(c: &Contact) -> serde_json::Value {
    serde_json::Value::Object(
        c.fields
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect(),
    )
}

fn attributes_json(e: &Event) -> serde_json::Value {
    serde_json::Value::Object(
        e.attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect(),
    )
}

fn describe_contact(out: &mut String, contact: Option<&Contact>, events: &[&Event], now: i64) {
    match contact {
        Some(c) => {
            let _ = writeln!(out, "    fields: {}", fields_json(c));
        }
        None => out.push_str("    (not live)\n"),
    }
    let mut events = events.to_vec();
    events.sort_by_key(|e| e.time);
    for e in events {
        let _ = writeln!(
            out,
            "    event {} at {} {}",
            e.name,
            time(e.time, now),
            attributes_json(e)
        );
    }
}

/// A readable account of a disagreement: the rule and segments as JSON,
/// the two member sets, and the data of every contact they disagree on.
pub fn describe(
    world: &World,
    segments: &[(String, Rule)],
    rule: &Rule,
    now: i64,
    expected: &BTreeSet<u32>,
    got: &BTreeSet<u32>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "now (as_of): {}", format_instant(now));
    let _ = writeln!(out, "rule: {}", rule_to_json(rule));
    for (id, r) in segments {
        let _ = writeln!(out, "segment {id}: {}", rule_to_json(r));
    }
    let _ = writeln!(out, "reference (expected): {expected:?}");
    let _ = writeln!(out, "engine (got):         {got:?}");
    let _ = writeln!(
        out,
        "missing from engine: {:?}",
        expected.difference(got).collect::<Vec<_>>()
    );
    let _ = writeln!(
        out,
        "extra in engine: {:?}",
        got.difference(expected).collect::<Vec<_>>()
    );
    let differing: BTreeSet<u32> = expected.symmetric_difference(got).copied().collect();
    for o in &differing {
        let _ = writeln!(out, "  contact {o}:");
        let contact = world.contacts.iter().find(|(x, _)| x == o).map(|(_, c)| c);
        let events: Vec<&Event> = world
            .events
            .iter()
            .filter(|(x, _)| x == o)
            .map(|(_, e)| e)
            .collect();
        describe_contact(&mut out, contact, &events, now);
        let steps: Vec<String> = world
            .script
            .iter()
            .filter_map(|s| match s {
                Step::Put(x, c) if x == o => Some(format!("put_contact {}", fields_json(c))),
                Step::Remove(x) if x == o => Some("remove_contact".to_string()),
                Step::Compact => Some("compact (all contacts)".to_string()),
                Step::Event(x, e) | Step::LoadEvent(x, e) if x == o => Some(format!(
                    "{} {} at {} {}",
                    if matches!(s, Step::Event(..)) {
                        "add_event"
                    } else {
                        "load_event"
                    },
                    e.name,
                    time(e.time, now),
                    attributes_json(e)
                )),
                _ => None,
            })
            .collect();
        let _ = writeln!(out, "    load steps:\n      {}", steps.join("\n      "));
    }
    out
}
