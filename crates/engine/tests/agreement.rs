//! The engine's correctness net: differential property tests of the engine
//! against a naive reference evaluator written straight from SPEC §2 (see
//! `reference/`), plus table cases that pin both to the SPEC.
//!
//! Case counts: `FLOWSEG_PROPTEST_CASES` (default 2000) sets the main
//! differential property; the others run a fraction of it. The seed is
//! fixed so CI is reproducible; `FLOWSEG_PROPTEST_SEED=<u64>` picks another
//! and `FLOWSEG_PROPTEST_SEED=random` explores. Failures are persisted to
//! `tests/agreement.proptest-regressions` and replayed first.
//!
//! Worlds erase contacts and sometimes put them again: an erased contact's
//! events must never come back (`FLOWSEG_AGREEMENT_REPUT=0` turns re-puts off).

mod reference;

use std::collections::BTreeSet;

use flowseg_rules::{
    AttrCondition, Comparison, EventCondition, Measure, Op, Rule, rule_from_json, rule_to_json,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{FileFailurePersistence, RngSeed};

use reference::generators::{self, Scenario, World};
use reference::harness::{describe, engine_members, load, plan, reference_members, segment_map};
use reference::rule_gen;

const DEFAULT_CASES: u32 = 2000;
const DEFAULT_SEED: u64 = 0x5eed_f10e_5e6d;

fn env_cases() -> u32 {
    std::env::var("FLOWSEG_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// `divisor` runs `cases / divisor` (at least 1) cases.
fn config(divisor: u32) -> ProptestConfig {
    let seed = match std::env::var("FLOWSEG_PROPTEST_SEED").ok().as_deref() {
        Some("random") => RngSeed::Random,
        Some(s) => RngSeed::Fixed(
            s.parse()
                .expect("FLOWSEG_PROPTEST_SEED is a u64 or `random`"),
        ),
        None => RngSeed::Fixed(DEFAULT_SEED),
    };
    ProptestConfig {
        cases: (env_cases() / divisor).max(1),
        rng_seed: seed,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        max_shrink_iters: 20_000,
        ..ProptestConfig::default()
    }
}

fn live_ordinals(world: &World) -> BTreeSet<u32> {
    world.contacts.iter().map(|(o, _)| *o).collect()
}

/// (a) The engine's members equal the reference's, for every node of the
/// rule and of the saved segments, at `now`; and the load script leaves
/// exactly the expected live contacts with their ids.
fn check_agreement(s: &Scenario) -> Result<(), TestCaseError> {
    let world = &s.world;
    let segments = segment_map(&s.segments);
    let index = load(world);
    let live: BTreeSet<u32> = index.live().iter().collect();
    prop_assert_eq!(
        &live,
        &live_ordinals(world),
        "live contacts after the load script"
    );
    for (o, c) in &world.contacts {
        prop_assert_eq!(index.contact_id(*o), Some(c.id.clone()));
    }
    // Every node of every rule is checked on its own, so a wrong leaf
    // cannot hide behind an `any` or `all` that masks it; innermost first,
    // so a failure names the smallest wrong node.
    let mut rules = Vec::new();
    for r in s
        .segments
        .iter()
        .map(|(_, r)| r)
        .chain(std::iter::once(&s.rule))
    {
        subrules(r, &mut rules);
    }
    for rule in rules.into_iter().rev() {
        let p = plan(rule, &world.schema, &segments);
        let expected = reference_members(rule, world, &segments, world.now);
        let got = engine_members(&index, &p, world.now);
        prop_assert!(
            expected == got,
            "the engine disagrees with the reference\n{}",
            describe(world, &s.segments, rule, world.now, &expected, &got)
        );
    }
    Ok(())
}

/// `rule` and all its descendants, outermost first.
fn subrules<'a>(rule: &'a Rule, out: &mut Vec<&'a Rule>) {
    out.push(rule);
    match rule {
        Rule::All(children) | Rule::Any(children) => {
            children.iter().for_each(|c| subrules(c, out));
        }
        Rule::Not(child) => subrules(child, out),
        Rule::Field(_) | Rule::Event(_) | Rule::Segment(_) => {}
    }
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn engine_agrees_with_reference(s in generators::scenario()) {
        check_agreement(&s)?;
    }
}

proptest! {
    #![proptest_config(config(4))]

    /// (b) `{"not": X}` is exactly live − X.
    #[test]
    fn not_is_the_exact_complement(s in generators::scenario()) {
        let world = &s.world;
        let segments = segment_map(&s.segments);
        let index = load(world);
        let live: BTreeSet<u32> = index.live().iter().collect();
        let x = engine_members(&index, &plan(&s.rule, &world.schema, &segments), world.now);
        let not_rule = Rule::Not(Box::new(s.rule.clone()));
        let not_x = engine_members(&index, &plan(&not_rule, &world.schema, &segments), world.now);
        let want: BTreeSet<u32> = live.difference(&x).copied().collect();
        prop_assert!(
            not_x == want,
            "not X is not live − X\n{}",
            describe(world, &s.segments, &not_rule, world.now, &want, &not_x)
        );
    }

    /// (c) Each negative field operator is live − its positive twin.
    #[test]
    fn negative_field_operators_are_complements(
        (world, (pos, neg)) in select(generators::nows()).prop_flat_map(|now| {
            (generators::world(now), twin_field_conditions(now))
        })
    ) {
        let segments = segment_map(&[]);
        let index = load(&world);
        let live: BTreeSet<u32> = index.live().iter().collect();
        let p = engine_members(&index, &plan(&pos, &world.schema, &segments), world.now);
        let n = engine_members(&index, &plan(&neg, &world.schema, &segments), world.now);
        let want: BTreeSet<u32> = live.difference(&p).copied().collect();
        prop_assert!(
            n == want,
            "the negative operator is not live − positive (positive: {})\n{}",
            rule_to_json(&pos),
            describe(&world, &[], &neg, world.now, &want, &n)
        );
    }

    /// (c) Each negative attribute operator is the complement of its
    /// positive twin on every event: an event passes exactly one of them.
    #[test]
    fn negative_attribute_operators_are_complements(
        (world, (pos, neg, name)) in select(generators::nows()).prop_flat_map(|now| {
            (generators::world(now), twin_attr_conditions(now))
        })
    ) {
        let segments = segment_map(&[]);
        let index = load(&world);
        let eval = |filter: Option<&AttrCondition>, measure: Option<Measure>| {
            let rule = Rule::Event(EventCondition {
                event: name.clone(),
                filters: filter.into_iter().cloned().collect(),
                within: None,
                measure,
                sequence: None,
            });
            let members = engine_members(&index, &plan(&rule, &world.schema, &segments), world.now);
            (rule, members)
        };
        let (_, with_pos) = eval(Some(&pos), None);
        let (neg_rule, with_neg) = eval(Some(&neg), None);
        let (_, any) = eval(None, None);
        let union: BTreeSet<u32> = with_pos.union(&with_neg).copied().collect();
        prop_assert!(
            union == any,
            "some {} event passes neither the positive nor the negative condition (want: with the event; got: positive ∪ negative)\n{}",
            name,
            describe(&world, &[], &neg_rule, world.now, &any, &union)
        );
        let zero = || Some(Measure::Count(Comparison::Equals(0.0)));
        let (_, none_pos) = eval(Some(&pos), zero());
        let (neg_rule, none_neg) = eval(Some(&neg), zero());
        let (_, none) = eval(None, zero());
        let both: BTreeSet<u32> = none_pos.intersection(&none_neg).copied().collect();
        prop_assert!(
            both == none,
            "`count equals 0` of the positive and of the negative condition do not meet at `count equals 0` of the event\n{}",
            describe(&world, &[], &neg_rule, world.now, &none, &both)
        );
    }
}

proptest! {
    #![proptest_config(config(2))]

    /// (d) Printing a rule to JSON and parsing it back gives the same rule,
    /// and printing that gives the same JSON.
    #[test]
    fn json_round_trip_is_identity(
        (segments, rule) in select(generators::nows()).prop_flat_map(rule_gen::segments_and_rule)
    ) {
        for r in segments.iter().map(|(_, r)| r).chain(std::iter::once(&rule)) {
            let json = rule_to_json(r);
            let back = rule_from_json(&json, "");
            prop_assert!(back.as_ref().is_ok_and(|b| b == r), "{json} parsed as {back:?}\nwas {r:?}");
            if let Ok(back) = back {
                prop_assert_eq!(rule_to_json(&back), json);
            }
        }
    }
}

/// The negative twin of an operator that has one.
fn negative_of(op: Op) -> Option<Op> {
    Op::ALL.into_iter().find(|n| n.positive_twin() == Some(op))
}

/// A field condition with a positive operator that has a negative twin,
/// and the same condition with the twin.
fn twin_field_conditions(now: i64) -> impl Strategy<Value = (Rule, Rule)> {
    rule_gen::field_condition(now).prop_filter_map("operator without a twin", |r| {
        let Rule::Field(f) = r else { return None };
        let (pos, neg) = match f.op.positive_twin() {
            Some(p) => (p, f.op),
            None => (f.op, negative_of(f.op)?),
        };
        let with = |op| {
            let mut g = f.clone();
            g.op = op;
            Rule::Field(g)
        };
        Some((with(pos), with(neg)))
    })
}

fn twin_attr_conditions(now: i64) -> impl Strategy<Value = (AttrCondition, AttrCondition, String)> {
    (
        rule_gen::attr_condition(now),
        select(generators::EVENT_NAMES),
    )
        .prop_filter_map("operator without a twin", |(c, name)| {
            let (pos, neg) = match c.op.positive_twin() {
                Some(p) => (p, c.op),
                None => (c.op, negative_of(c.op)?),
            };
            let mut p = c.clone();
            p.op = pos;
            let mut n = c;
            n.op = neg;
            Some((p, n, name.to_string()))
        })
}
