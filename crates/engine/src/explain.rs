//! Explain: the rule tree for one contact, each node with its verdict and
//! the evidence behind it (the field value; the matching events with their
//! times; the count or aggregate reached).

use flowseg_model::time::format_instant;
use flowseg_rules::plan::{MeasurePlan, Plan};
use flowseg_rules::{Rule, SegmentSource, rule_to_json};
use roaring::RoaringBitmap;
use serde_json::{Value, json};

use crate::eval::{Evaluator, EventMatcher, Scratch};
use crate::index::{AccountIndex, Ordinal};

/// Most matching events listed as evidence per node (the newest ones).
const MAX_EVIDENCE_EVENTS: usize = 20;

impl AccountIndex {
    /// Explains `rule` (planned as `plan`) for one contact at `now`.
    /// `segments` gives referenced segments' rules, so their trees can be
    /// shown too. Returns `(member, tree)`.
    pub fn explain(
        &self,
        rule: &Rule,
        plan: &Plan,
        segments: &dyn SegmentSource,
        ordinal: Ordinal,
        now: i64,
    ) -> (bool, Value) {
        let evaluator = Evaluator::new(self, now);
        let mut one = RoaringBitmap::new();
        if self.live.contains(ordinal) {
            one.insert(ordinal);
        }
        let explainer = Explainer {
            evaluator,
            segments,
            ordinal,
            one,
        };
        let tree = explainer.node(rule, plan);
        let member = tree["result"].as_bool().unwrap_or(false);
        (member, tree)
    }
}

struct Explainer<'a> {
    evaluator: Evaluator<'a>,
    segments: &'a dyn SegmentSource,
    ordinal: Ordinal,
    one: RoaringBitmap,
}

impl Explainer<'_> {
    fn holds(&self, plan: &Plan) -> bool {
        !self.evaluator.eval(plan, &self.one).is_empty()
    }

    fn node(&self, rule: &Rule, plan: &Plan) -> Value {
        let result = self.holds(plan);
        let (shape, children, evidence) = match (rule, plan) {
            (Rule::All(rs), Plan::All(ps)) => {
                (json!({"all": []}), self.children(rs, ps), json!({}))
            }
            (Rule::Any(rs), Plan::Any(ps)) => {
                (json!({"any": []}), self.children(rs, ps), json!({}))
            }
            (Rule::Not(r), Plan::Not(p)) => {
                (json!({"not": null}), vec![self.node(r, p)], json!({}))
            }
            (Rule::Field(f), Plan::Field(_)) => {
                let value = self
                    .evaluator
                    .index
                    .field_value(self.ordinal, &f.field)
                    .map_or(Value::Null, |v| v.to_json());
                (
                    rule_to_json(rule),
                    vec![],
                    json!({"field": f.field, "value": value}),
                )
            }
            (Rule::Event(_), Plan::Event(e)) => {
                (rule_to_json(rule), vec![], self.event_evidence(e))
            }
            (Rule::Segment(id), Plan::Segment { plan: inner, .. }) => {
                let children = self
                    .segments
                    .segment_rule(id)
                    .map(|r| vec![self.node(&r, inner)])
                    .unwrap_or_default();
                (rule_to_json(rule), children, json!({"segment": id}))
            }
            // An invalid node was planned as a placeholder; show the rule as is.
            _ => (rule_to_json(rule), vec![], json!({})),
        };
        json!({"rule": shape, "result": result, "children": children, "evidence": evidence})
    }

    fn children(&self, rules: &[Rule], plans: &[Plan]) -> Vec<Value> {
        rules
            .iter()
            .zip(plans)
            .map(|(r, p)| self.node(r, p))
            .collect()
    }

    fn event_evidence(&self, e: &flowseg_rules::plan::EventPlan) -> Value {
        let index = self.evaluator.index;
        let Some(partition) = index.partition(&e.event) else {
            return json!({"count": 0, "events": []});
        };
        if !self.one.contains(self.ordinal) {
            return json!({"count": 0, "events": []});
        }
        let matcher = EventMatcher::new(index, e, partition, self.evaluator.now);
        let mut scratch = Scratch::default();
        let outcome = matcher.outcome(self.ordinal, &mut scratch);
        let events: Vec<Value> = scratch
            .kept
            .iter()
            .rev()
            .take(MAX_EVIDENCE_EVENTS)
            .map(|row| {
                let attributes: serde_json::Map<String, Value> = partition
                    .attribute_names()
                    .filter_map(|name| {
                        let column = partition.column(name)?;
                        column
                            .value(*row as usize)
                            .map(|v| (name.to_string(), v.to_json()))
                    })
                    .collect();
                json!({"time": format_instant(partition.time(*row)), "attributes": attributes})
            })
            .collect();
        let mut evidence = json!({"count": outcome.count, "events": events});
        if let MeasurePlan::Aggregate {
            func, attribute, ..
        } = &e.measure
        {
            evidence["aggregate"] = json!({
                "fn": func.name(),
                "attribute": attribute,
                "value": outcome.aggregate,
            });
        }
        evidence
    }
}
