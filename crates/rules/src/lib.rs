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
    let rule = rule_from_json(json, base)?;
    let plan = plan_rule(&rule, base, schema, segments, self_id)?;
    Ok((rule, plan))
}
