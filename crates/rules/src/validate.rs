//! Validation of a rule against an account's schema and saved segments,
//! producing the typed [`Plan`]. Every problem is reported with the JSON
//! pointer of the key at fault.

use std::collections::HashMap;
use std::sync::Arc;

use flowseg_model::time::{DAY_MS, parse_date};
use flowseg_model::value::json_kind;
use flowseg_model::{DateLiteral, Duration, FieldType, Schema};
use serde_json::Value;

use crate::ast::{AttrCondition, EventCondition, FieldCondition, Measure, Op, Rule, Within};
use crate::limits::{MAX_LIST, MAX_REFERENCE_DEPTH, MAX_REGEX_LEN, MAX_REGEX_SIZE};
use crate::plan::{
    AttrPlan, AttrTest, EventPlan, FieldPlan, MeasurePlan, NumberTest, Plan, SequencePlan,
    TextMatch, TextTest, TimeBound, TimeRange, ValueTest,
};
use crate::problem::{Path, Problem, did_you_mean};

/// Where referenced segments' rules come from (the store, in practice).
pub trait SegmentSource {
    /// The rule of a saved segment, or `None` when no segment has that id.
    fn segment_rule(&self, id: &str) -> Option<Rule>;
}

/// No saved segments: every reference is unknown.
pub struct NoSegments;

impl SegmentSource for NoSegments {
    fn segment_rule(&self, _id: &str) -> Option<Rule> {
        None
    }
}

impl<F: Fn(&str) -> Option<Rule>> SegmentSource for F {
    fn segment_rule(&self, id: &str) -> Option<Rule> {
        self(id)
    }
}

/// Validates `rule` (found at JSON pointer `base` in the request) and plans
/// it. `self_id` is the id of the segment being saved, if any, so a
/// reference back to it is refused as a cycle.
pub fn plan_rule(
    rule: &Rule,
    base: &str,
    schema: &Schema,
    segments: &dyn SegmentSource,
    self_id: Option<&str>,
) -> Result<Plan, Vec<Problem>> {
    let mut planner = Planner {
        schema,
        segments,
        problems: Vec::new(),
        stack: self_id.map(|s| vec![s.to_string()]).unwrap_or_default(),
        cache: HashMap::new(),
    };
    let plan = planner.rule(rule, &Path::new(base));
    if planner.problems.is_empty() {
        Ok(plan)
    } else {
        Err(planner.problems)
    }
}

struct Planner<'a> {
    schema: &'a Schema,
    segments: &'a dyn SegmentSource,
    problems: Vec<Problem>,
    /// Segments being expanded, outermost first (cycle detection).
    stack: Vec<String>,
    cache: HashMap<String, Arc<Plan>>,
}

/// Operators valid on each field type.
fn ops_for(ty: FieldType) -> &'static [Op] {
    use Op::*;
    match ty {
        FieldType::Text => &[
            Equals,
            NotEquals,
            Contains,
            NotContains,
            StartsWith,
            EndsWith,
            In,
            NotIn,
            Matches,
            HasValue,
            HasNoValue,
        ],
        FieldType::Number => &[
            Equals, NotEquals, Gt, Gte, Lt, Lte, Between, In, NotIn, HasValue, HasNoValue,
        ],
        FieldType::Date => &[
            Equals,
            NotEquals,
            Before,
            After,
            Between,
            WithinLast,
            MoreThanAgo,
            WithinNext,
            HasValue,
            HasNoValue,
        ],
        FieldType::Boolean => &[IsTrue, IsFalse, HasValue, HasNoValue],
    }
}

fn op_list(ops: &[Op]) -> String {
    ops.iter()
        .map(|o| format!("`{}`", o.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The positive operator and whether it was negated.
fn split_negation(op: Op) -> (Op, bool) {
    match op.positive_twin() {
        Some(p) => (p, true),
        None => (op, false),
    }
}

impl Planner<'_> {
    fn rule(&mut self, rule: &Rule, path: &Path) -> Plan {
        match rule {
            Rule::All(children) => Plan::All(self.children(children, &path.join("all"))),
            Rule::Any(children) => Plan::Any(self.children(children, &path.join("any"))),
            Rule::Not(child) => Plan::Not(Box::new(self.rule(child, &path.join("not")))),
            Rule::Field(f) => self
                .field(f, path)
                .map_or(Plan::All(Vec::new()), Plan::Field),
            Rule::Event(e) => self
                .event(e, path)
                .map_or(Plan::All(Vec::new()), Plan::Event),
            Rule::Segment(id) => self.segment(id, &path.join("segment")),
        }
    }

    fn children(&mut self, children: &[Rule], path: &Path) -> Vec<Plan> {
        children
            .iter()
            .enumerate()
            .map(|(i, c)| self.rule(c, &path.join(i)))
            .collect()
    }

    fn fail<T>(&mut self, path: &Path, message: impl Into<String>) -> Option<T> {
        self.problems.push(path.problem(message));
        None
    }

    fn segment(&mut self, id: &str, path: &Path) -> Plan {
        let fallback = Plan::All(Vec::new());
        if let Some(pos) = self.stack.iter().position(|s| s == id) {
            let mut cycle: Vec<&str> = self.stack[pos..].iter().map(String::as_str).collect();
            cycle.push(id);
            self.fail::<()>(path, format!("segment `{id}` refers back to itself (cycle {}): remove one of these references", cycle.join(" → ")));
            return fallback;
        }
        if let Some(plan) = self.cache.get(id) {
            return Plan::Segment {
                id: id.to_string(),
                plan: plan.clone(),
            };
        }
        if self.stack.len() >= MAX_REFERENCE_DEPTH {
            self.fail::<()>(
                path,
                format!("segment references are nested deeper than {MAX_REFERENCE_DEPTH} levels"),
            );
            return fallback;
        }
        let Some(rule) = self.segments.segment_rule(id) else {
            self.fail::<()>(
                path,
                format!("there is no segment with id `{id}`: reference a saved segment by its id"),
            );
            return fallback;
        };
        // Plan the referenced rule on its own so its problems can be
        // reported as one, at the reference.
        let mut inner = Planner {
            schema: self.schema,
            segments: self.segments,
            problems: Vec::new(),
            stack: self.stack.clone(),
            cache: std::mem::take(&mut self.cache),
        };
        inner.stack.push(id.to_string());
        let plan = inner.rule(&rule, &Path::new(""));
        self.cache = std::mem::take(&mut inner.cache);
        if let Some(first) = inner.problems.first() {
            self.fail::<()>(
                path,
                format!(
                    "segment `{id}` cannot be evaluated: at `{}` of its rule, {}",
                    if first.path.is_empty() {
                        "/"
                    } else {
                        &first.path
                    },
                    first.message
                ),
            );
            return fallback;
        }
        let plan = Arc::new(plan);
        self.cache.insert(id.to_string(), plan.clone());
        Plan::Segment {
            id: id.to_string(),
            plan,
        }
    }

    fn field(&mut self, f: &FieldCondition, path: &Path) -> Option<FieldPlan> {
        let Some(ty) = self.schema.field_type(&f.field) else {
            let names: Vec<String> = self.schema.fields().map(|d| d.name).collect();
            let hint = did_you_mean(&f.field, names.iter().map(String::as_str));
            return self.fail(
                &path.join("field"),
                format!(
                    "there is no field `{}` in this account's schema.{hint}",
                    f.field
                ),
            );
        };
        let allowed = ops_for(ty);
        if !allowed.contains(&f.op) {
            return self.fail(
                &path.join("op"),
                format!(
                    "`{}` does not apply to the {ty} field `{}`: use one of {}",
                    f.op.name(),
                    f.field,
                    op_list(allowed)
                ),
            );
        }
        if f.case_sensitive && ty != FieldType::Text {
            return self.fail(
                &path.join("case_sensitive"),
                format!(
                    "`case_sensitive` applies to text fields only, and `{}` is a {ty} field",
                    f.field
                ),
            );
        }
        let (op, negated) = split_negation(f.op);
        let vpath = path.join("value");
        let test =
            if op.takes_no_value() {
                self.no_operand(&f.value, &vpath, op)?;
                match op {
                    Op::IsTrue => ValueTest::Bool(true),
                    Op::IsFalse => ValueTest::Bool(false),
                    _ => ValueTest::HasValue,
                }
            } else {
                let value = self.require_value(&f.value, path, op)?;
                match ty {
                    FieldType::Text => {
                        ValueTest::Text(self.text_test(op, value, f.case_sensitive, &vpath)?)
                    }
                    FieldType::Number => ValueTest::Number(self.number_test(op, value, &vpath)?),
                    FieldType::Date => ValueTest::Date(self.date_test(op, value, &vpath)?),
                    FieldType::Boolean => return self.fail(
                        &path.join("op"),
                        "boolean fields take `is_true`, `is_false`, `has_value` or `has_no_value`",
                    ),
                }
            };
        Some(FieldPlan {
            field: f.field.clone(),
            field_type: ty,
            negated,
            test,
        })
    }

    fn no_operand(&mut self, value: &Option<Value>, vpath: &Path, op: Op) -> Option<()> {
        match value {
            None => Some(()),
            Some(_) => self.fail(
                vpath,
                format!("`{}` takes no value: remove `value`", op.name()),
            ),
        }
    }

    fn require_value<'v>(
        &mut self,
        value: &'v Option<Value>,
        path: &Path,
        op: Op,
    ) -> Option<&'v Value> {
        match value {
            Some(v) => Some(v),
            None => self.fail(
                path,
                format!(
                    "`value` is missing: `{}` needs {}",
                    op.name(),
                    operand_hint(op)
                ),
            ),
        }
    }

    fn text_operand(&mut self, value: &Value, path: &Path, case_sensitive: bool) -> Option<String> {
        match value {
            Value::String(s) if s.is_empty() => self.fail(path, "an empty text operand is not allowed: to find contacts without a value use `has_no_value`"),
            Value::String(s) => Some(if case_sensitive { s.clone() } else { s.to_lowercase() }),
            other => self.fail(path, format!("expected a text value but got {}", json_kind(other))),
        }
    }

    fn list<'v>(&mut self, value: &'v Value, path: &Path, op: Op) -> Option<&'v [Value]> {
        match value {
            Value::Array(items) if items.is_empty() => self.fail(path, format!("`{}` needs a non-empty list: to find contacts without a value use `has_no_value`", op.name())),
            Value::Array(items) if items.len() > MAX_LIST => self.fail(path, format!("the list has {} items; at most {MAX_LIST} are allowed", items.len())),
            Value::Array(items) => Some(items),
            other => self.fail(path, format!("`{}` takes a list of values, not {}", op.name(), json_kind(other))),
        }
    }

    fn text_test(&mut self, op: Op, value: &Value, cs: bool, path: &Path) -> Option<TextTest> {
        let kind = match op {
            Op::Equals => TextMatch::Equals(self.text_operand(value, path, cs)?),
            Op::Contains => TextMatch::Contains(self.text_operand(value, path, cs)?),
            Op::StartsWith => TextMatch::StartsWith(self.text_operand(value, path, cs)?),
            Op::EndsWith => TextMatch::EndsWith(self.text_operand(value, path, cs)?),
            Op::In => {
                let items = self.list(value, path, op)?;
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.text_operand(item, &path.join(i), cs));
                }
                TextMatch::In(out.into_iter().collect::<Option<Vec<_>>>()?)
            }
            Op::Matches => TextMatch::Matches(self.regex(value, cs, path)?),
            _ => return self.fail(path, format!("`{}` is not a text operator", op.name())),
        };
        Some(TextTest {
            kind,
            case_sensitive: cs,
        })
    }

    fn regex(&mut self, value: &Value, cs: bool, path: &Path) -> Option<regex::Regex> {
        let Value::String(src) = value else {
            return self.fail(
                path,
                format!(
                    "`matches` takes a regular expression string, not {}",
                    json_kind(value)
                ),
            );
        };
        if src.is_empty() {
            return self.fail(
                path,
                "an empty regular expression matches everything: use `has_value`",
            );
        }
        if src.len() > MAX_REGEX_LEN {
            return self.fail(
                path,
                format!("the regular expression is longer than {MAX_REGEX_LEN} bytes"),
            );
        }
        match regex::RegexBuilder::new(src)
            .case_insensitive(!cs)
            .size_limit(MAX_REGEX_SIZE)
            .build()
        {
            Ok(re) => Some(re),
            Err(e) => self.fail(
                path,
                format!(
                    "`{src}` is not a valid regular expression: {}",
                    e.to_string()
                        .lines()
                        .last()
                        .unwrap_or("syntax error")
                        .trim()
                ),
            ),
        }
    }

    fn number(&mut self, value: &Value, path: &Path) -> Option<f64> {
        match value.as_f64() {
            Some(n) if value.is_number() && n.is_finite() => Some(n),
            _ => self.fail(
                path,
                format!("expected a number but got {}", json_kind(value)),
            ),
        }
    }

    fn number_test(&mut self, op: Op, value: &Value, path: &Path) -> Option<NumberTest> {
        let range = |lo: f64, lo_inclusive: bool, hi: f64, hi_inclusive: bool| NumberTest::Range {
            lo,
            lo_inclusive,
            hi,
            hi_inclusive,
        };
        Some(match op {
            Op::Equals => NumberTest::equals(self.number(value, path)?),
            Op::Gt => range(self.number(value, path)?, false, f64::INFINITY, true),
            Op::Gte => range(self.number(value, path)?, true, f64::INFINITY, true),
            Op::Lt => range(f64::NEG_INFINITY, true, self.number(value, path)?, false),
            Op::Lte => range(f64::NEG_INFINITY, true, self.number(value, path)?, true),
            Op::Between => {
                let Some([a, b]) = value.as_array().map(Vec::as_slice) else {
                    return self.fail(path, "`between` takes a list of two numbers `[low, high]`");
                };
                let (a, b) = (
                    self.number(a, &path.join(0))?,
                    self.number(b, &path.join(1))?,
                );
                if a > b {
                    return self.fail(path, format!("the low bound {a} is greater than the high bound {b}: write `[low, high]`"));
                }
                range(a, true, b, true)
            }
            Op::In => {
                let items = self.list(value, path, op)?;
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.number(item, &path.join(i)));
                }
                NumberTest::In(out.into_iter().collect::<Option<Vec<_>>>()?)
            }
            _ => return self.fail(path, format!("`{}` is not a number operator", op.name())),
        })
    }

    fn date_literal(&mut self, value: &Value, path: &Path) -> Option<DateLiteral> {
        match value {
            Value::String(s) => match parse_date(s) {
                Ok(d) => Some(d),
                Err(e) => self.fail(path, e.to_string()),
            },
            other => self.fail(
                path,
                format!(
                    "expected a date such as `2026-06-01` or `2026-06-01T12:00:00Z` but got {}",
                    json_kind(other)
                ),
            ),
        }
    }

    fn duration(&mut self, value: &Value, path: &Path) -> Option<Duration> {
        match value {
            Value::String(s) => match Duration::parse(s) {
                Ok(d) => Some(d),
                Err(e) => self.fail(path, e.to_string()),
            },
            other => self.fail(
                path,
                format!(
                    "expected a duration such as `30d` but got {}",
                    json_kind(other)
                ),
            ),
        }
    }

    /// Date operators as inclusive millisecond ranges (SPEC §2 "Dates").
    fn date_test(&mut self, op: Op, value: &Value, path: &Path) -> Option<TimeRange> {
        use TimeBound::{At, NowPlus, Open};
        let r = |lo, hi| TimeRange { lo, hi };
        Some(match op {
            Op::Equals => match self.date_literal(value, path)? {
                DateLiteral::Day(d) => r(At(d), At(d + DAY_MS - 1)),
                DateLiteral::Instant(t) => r(At(t), At(t)),
            },
            Op::Before => match self.date_literal(value, path)? {
                DateLiteral::Day(d) => r(Open, At(d - 1)),
                DateLiteral::Instant(t) => r(Open, At(t - 1)),
            },
            Op::After => match self.date_literal(value, path)? {
                DateLiteral::Day(d) => r(At(d + DAY_MS), Open),
                DateLiteral::Instant(t) => r(At(t + 1), Open),
            },
            Op::Between => {
                let Some([a, b]) = value.as_array().map(Vec::as_slice) else {
                    return self.fail(path, "`between` takes a list of two dates `[from, to]`");
                };
                let lo = self.date_literal(a, &path.join(0))?.start_ms();
                let hi = match self.date_literal(b, &path.join(1))? {
                    DateLiteral::Day(d) => d + DAY_MS - 1,
                    DateLiteral::Instant(t) => t,
                };
                if lo > hi {
                    return self.fail(
                        path,
                        "the first date is after the second: write `[from, to]`",
                    );
                }
                r(At(lo), At(hi))
            }
            Op::WithinLast => {
                let d = self.duration(value, path)?.as_ms();
                r(NowPlus(-d + 1), NowPlus(0))
            }
            Op::MoreThanAgo => {
                let d = self.duration(value, path)?.as_ms();
                r(Open, NowPlus(-d))
            }
            Op::WithinNext => {
                let d = self.duration(value, path)?.as_ms();
                r(NowPlus(1), NowPlus(d))
            }
            _ => return self.fail(path, format!("`{}` is not a date operator", op.name())),
        })
    }

    fn event(&mut self, e: &EventCondition, path: &Path) -> Option<EventPlan> {
        let filters = self.attr_conditions(&e.filters, &path.join("where"));
        let window = match e.within {
            None => TimeRange::ALL_TIME,
            Some(Within::Last(d)) => TimeRange {
                lo: TimeBound::NowPlus(-d.as_ms() + 1),
                hi: TimeBound::NowPlus(0),
            },
            Some(Within::Before(d)) => TimeRange {
                lo: TimeBound::Open,
                hi: TimeBound::NowPlus(-d.as_ms()),
            },
            Some(Within::Range { from, to }) => TimeRange {
                lo: from.map_or(TimeBound::Open, |f| TimeBound::At(f.start_ms())),
                hi: to.map_or(TimeBound::Open, |t| TimeBound::At(t.start_ms() - 1)),
            },
        };
        let measure = match &e.measure {
            None => MeasurePlan::Count(crate::ast::Comparison::AT_LEAST_ONE),
            Some(Measure::Count(c)) => MeasurePlan::Count(*c),
            Some(Measure::Aggregate {
                func,
                attribute,
                comparison,
            }) => MeasurePlan::Aggregate {
                func: *func,
                attribute: attribute.clone(),
                comparison: *comparison,
            },
        };
        let sequence = match &e.sequence {
            None => Some(None),
            Some(s) => {
                let key = if s.negated {
                    "not_followed_by"
                } else {
                    "followed_by"
                };
                let sp = path.join(key);
                self.attr_conditions(&s.filters, &sp.join("where"))
                    .map(|filters| {
                        Some(SequencePlan {
                            negated: s.negated,
                            event: s.event.clone(),
                            filters,
                            window_ms: s.window.map(Duration::as_ms),
                            on: s.on.clone(),
                        })
                    })
            }
        };
        Some(EventPlan {
            event: e.event.clone(),
            filters: filters?,
            window,
            measure,
            sequence: sequence?,
        })
    }

    fn attr_conditions(&mut self, conds: &[AttrCondition], path: &Path) -> Option<Vec<AttrPlan>> {
        let planned: Vec<Option<AttrPlan>> = conds
            .iter()
            .enumerate()
            .map(|(i, c)| self.attr_condition(c, &path.join(i)))
            .collect();
        planned.into_iter().collect()
    }

    /// The operator and operand decide how the attribute is read (SPEC §2).
    fn attr_condition(&mut self, c: &AttrCondition, path: &Path) -> Option<AttrPlan> {
        let (op, negated) = split_negation(c.op);
        let vpath = path.join("value");
        let test = if op.takes_no_value() {
            self.no_operand(&c.value, &vpath, op)?;
            match op {
                Op::IsTrue => AttrTest::Bool(true),
                Op::IsFalse => AttrTest::Bool(false),
                _ => AttrTest::HasValue,
            }
        } else {
            let value = self.require_value(&c.value, path, op)?;
            match op {
                Op::Contains | Op::StartsWith | Op::EndsWith | Op::Matches => {
                    AttrTest::Text(self.text_test(op, value, c.case_sensitive, &vpath)?)
                }
                Op::Gt | Op::Gte | Op::Lt | Op::Lte => AttrTest::Number(self.number_test(op, value, &vpath)?),
                Op::Before | Op::After | Op::WithinLast | Op::MoreThanAgo | Op::WithinNext => {
                    AttrTest::Date(self.date_test(op, value, &vpath)?)
                }
                Op::Between => match value.as_array().map(Vec::as_slice) {
                    Some([Value::String(_), Value::String(_)]) => AttrTest::Date(self.date_test(op, value, &vpath)?),
                    Some([Value::Number(_), Value::Number(_)]) => AttrTest::Number(self.number_test(op, value, &vpath)?),
                    _ => return self.fail(&vpath, "`between` takes two numbers `[low, high]` or two dates `[\"2026-06-01\", \"2026-06-30\"]`"),
                },
                Op::Equals => self.scalar_equals(value, c.case_sensitive, &vpath)?,
                Op::In => {
                    let items = self.list(value, &vpath, op)?;
                    let tests: Vec<Option<AttrTest>> = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| self.scalar_equals(item, c.case_sensitive, &vpath.join(i)))
                        .collect();
                    AttrTest::AnyOf(tests.into_iter().collect::<Option<Vec<_>>>()?)
                }
                _ => return self.fail(&path.join("op"), format!("`{}` does not apply to event attributes", c.op.name())),
            }
        };
        if c.case_sensitive
            && !matches!(test, AttrTest::Text(_))
            && !matches!(&test, AttrTest::AnyOf(t) if t.iter().any(|t| matches!(t, AttrTest::Text(_))))
        {
            return self.fail(
                &path.join("case_sensitive"),
                "`case_sensitive` applies to text comparisons only",
            );
        }
        Some(AttrPlan {
            attribute: c.attribute.clone(),
            negated,
            test,
        })
    }

    /// `equals` on an attribute: the operand's JSON type decides what is read.
    fn scalar_equals(&mut self, value: &Value, cs: bool, path: &Path) -> Option<AttrTest> {
        match value {
            Value::String(_) => Some(AttrTest::Text(TextTest {
                kind: TextMatch::Equals(self.text_operand(value, path, cs)?),
                case_sensitive: cs,
            })),
            Value::Number(_) => Some(AttrTest::Number(NumberTest::equals(
                self.number(value, path)?,
            ))),
            Value::Bool(b) => Some(AttrTest::Bool(*b)),
            other => self.fail(
                path,
                format!(
                    "expected a string, number or boolean but got {}",
                    json_kind(other)
                ),
            ),
        }
    }
}

fn operand_hint(op: Op) -> &'static str {
    match op {
        Op::In | Op::NotIn => "a list of values",
        Op::Between => "a list of two values `[low, high]`",
        Op::WithinLast | Op::MoreThanAgo | Op::WithinNext => "a duration such as `30d`",
        Op::Before | Op::After => "a date such as `2026-06-01`",
        Op::Matches => "a regular expression",
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => "a number",
        _ => "a value",
    }
}
