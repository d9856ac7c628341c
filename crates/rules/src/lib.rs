//! Segment rules (SPEC §2): the [`Rule`] AST that every front end produces
//! (JSON, the text language, the panel), its JSON form ([`rule_from_json`],
//! [`rule_to_json`]), and validation against an account's schema into the
//! typed [`Plan`] that back ends execute ([`plan_rule`]).
//!
//! The crate knows nothing of storage or evaluation: referenced segments
//! come through the [`SegmentSource`] trait.

pub mod ast;
pub mod json;
pub mod limits;
pub mod plan;
pub mod problem;
pub mod text;
pub mod validate;

pub use ast::{
    AggregateFn, AttrCondition, Comparison, EventCondition, FieldCondition, Measure, Op, Rule,
    Sequence, Within,
};
pub use json::{rule_from_json, rule_to_json};
pub use plan::Plan;
pub use problem::Problem;
pub use text::{Diagnostic, check_rule_text, format_rule, parse_rule, parse_rule_lenient};
pub use validate::{NoSegments, SegmentSource, plan_rule};

/// Parses and validates a rule in one step, as the API does for a request
/// body whose rule sits at `base`.
pub fn parse_and_plan(
    json: &serde_json::Value,
    base: &str,
    schema: &flowseg_model::Schema,
    segments: &dyn SegmentSource,
    self_id: Option<&str>,
) -> Result<(Rule, Plan), Vec<Problem>> {
    let rule = rule_from_json(json, base).map_err(|mut problems| {
        problems.extend(problems_of_sound_nodes(
            json, base, schema, segments, self_id,
        ));
        problems
    })?;
    let plan = plan_rule(&rule, base, schema, segments, self_id)?;
    Ok((rule, plan))
}

/// The validation problems of the parts of a malformed rule that are
/// well-formed on their own: SPEC §4 wants one entry per problem, so a
/// malformed node must not hide an unknown field beside it. A node that
/// reads as a rule is validated whole (at its own path); a group that
/// does not is searched child by child; a malformed leaf has only its
/// shape problems, already reported.
fn problems_of_sound_nodes(
    json: &serde_json::Value,
    path: &str,
    schema: &flowseg_model::Schema,
    segments: &dyn SegmentSource,
    self_id: Option<&str>,
) -> Vec<Problem> {
    if let Ok(rule) = rule_from_json(json, path) {
        return plan_rule(&rule, path, schema, segments, self_id)
            .err()
            .unwrap_or_default();
    }
    let Some(node) = json.as_object() else {
        return Vec::new();
    };
    let here = problem::Path::new(path);
    let mut problems = Vec::new();
    for (key, child) in node {
        let children: Vec<(String, &serde_json::Value)> = match (key.as_str(), child) {
            ("all" | "any", serde_json::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (here.join(key).join(i).as_str().to_string(), item))
                .collect(),
            ("not", child) => vec![(here.join("not").as_str().to_string(), child)],
            _ => continue,
        };
        for (at, child) in children {
            problems.extend(problems_of_sound_nodes(
                child, &at, schema, segments, self_id,
            ));
        }
    }
    problems
}
