//! The JSON form of rules (SPEC §2): parsing with every problem reported at
//! its JSON pointer, and printing back to the same JSON.

use flowseg_model::time::{format_day, format_instant, parse_date};
use flowseg_model::value::json_kind;
use flowseg_model::{DateLiteral, Duration};
use serde_json::{Map, Value, json};

use crate::ast::{
    AggregateFn, AttrCondition, Comparison, EventCondition, FieldCondition, Measure, Op, Rule,
    Sequence, Within,
};
use crate::limits::{MAX_DEPTH, MAX_NODES};
use crate::problem::{Path, Problem, did_you_mean};

/// Parses a rule from JSON. `base` is the pointer of the rule inside the
/// request body (e.g. `/rule`), so problems point into the body.
pub fn rule_from_json(json: &Value, base: &str) -> Result<Rule, Vec<Problem>> {
    let mut parser = Parser {
        problems: Vec::new(),
        nodes: 0,
    };
    let rule = parser.rule(json, &Path::new(base), 0);
    match rule {
        Some(rule) if parser.problems.is_empty() => Ok(rule),
        _ => {
            if parser.problems.is_empty() {
                parser
                    .problems
                    .push(Path::new(base).problem("the rule is invalid"));
            }
            Err(parser.problems)
        }
    }
}

struct Parser {
    problems: Vec<Problem>,
    nodes: usize,
}

const NODE_KINDS: &str = "a rule node is one of `all`, `any`, `not`, a field condition (`field`), an event condition (`event`) or a segment reference (`segment`)";

impl Parser {
    fn fail<T>(&mut self, path: &Path, message: impl Into<String>) -> Option<T> {
        self.problems.push(path.problem(message));
        None
    }

    fn rule(&mut self, json: &Value, path: &Path, depth: usize) -> Option<Rule> {
        self.nodes += 1;
        if self.nodes == MAX_NODES + 1 {
            return self.fail(path, format!("the rule has more than {MAX_NODES} nodes: split it into saved segments and reference them"));
        }
        if depth > MAX_DEPTH {
            return self.fail(
                path,
                format!("the rule is nested deeper than {MAX_DEPTH} levels: flatten it"),
            );
        }
        let Some(obj) = json.as_object() else {
            return self.fail(
                path,
                format!(
                    "expected a rule object but got {}: {NODE_KINDS}",
                    json_kind(json)
                ),
            );
        };
        let kinds: Vec<&str> = ["all", "any", "not", "field", "event", "segment"]
            .into_iter()
            .filter(|k| obj.contains_key(*k))
            .collect();
        match kinds.as_slice() {
            ["all"] => self.group(obj, "all", path, depth).map(Rule::All),
            ["any"] => {
                let children = self.group(obj, "any", path, depth)?;
                if children.is_empty() {
                    return self.fail(&path.join("any"), "`any` must hold at least one rule (an empty `any` matches nobody; use `{\"not\": {\"all\": []}}` if that is meant)");
                }
                Some(Rule::Any(children))
            }
            ["not"] => {
                self.only_keys(obj, &["not"], path);
                let child = self.rule(&obj["not"], &path.join("not"), depth + 1)?;
                Some(Rule::Not(Box::new(child)))
            }
            ["field"] => self.field_condition(obj, path).map(Rule::Field),
            ["event"] => self.event_condition(obj, path).map(Rule::Event),
            ["segment"] => {
                self.only_keys(obj, &["segment"], path);
                match &obj["segment"] {
                    Value::String(s) if !s.is_empty() => Some(Rule::Segment(s.clone())),
                    other => self.fail(&path.join("segment"), format!("expected a segment id string but got {}", json_kind(other))),
                }
            }
            [] => {
                let hint = obj
                    .keys()
                    .map(|k| did_you_mean(k, ["all", "any", "not", "field", "event", "segment"]))
                    .find(|h| !h.is_empty())
                    .unwrap_or_default();
                self.fail(path, format!("this object is not a rule node: {NODE_KINDS}.{hint}"))
            }
            many => self.fail(path, format!("a node has exactly one kind, but this one has {}: split it into separate nodes inside `all` or `any`", many.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" and "))),
        }
    }

    fn group(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &Path,
        depth: usize,
    ) -> Option<Vec<Rule>> {
        self.only_keys(obj, &[key], path);
        let path = path.join(key);
        let Some(items) = obj[key].as_array() else {
            return self.fail(
                &path,
                format!(
                    "`{key}` takes a list of rules, not {}",
                    json_kind(&obj[key])
                ),
            );
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.rule(item, &path.join(i), depth + 1) {
                Some(r) => out.push(r),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Reports keys other than `allowed`; returns whether all were allowed.
    fn only_keys(&mut self, obj: &Map<String, Value>, allowed: &[&str], path: &Path) -> bool {
        let mut ok = true;
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = did_you_mean(key, allowed.iter().copied());
                let list = allowed
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.problems.push(path.join(key).problem(format!(
                    "unknown key `{key}` here: this node takes {list}.{hint}"
                )));
                ok = false;
            }
        }
        ok
    }

    fn string(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &Path,
        what: &str,
    ) -> Option<String> {
        match obj.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::String(_)) => self.fail(
                &path.join(key),
                format!("`{key}` must not be empty: give {what}"),
            ),
            Some(other) => self.fail(
                &path.join(key),
                format!(
                    "`{key}` must be a string ({what}), not {}",
                    json_kind(other)
                ),
            ),
            None => self.fail(path, format!("`{key}` is missing: give {what}")),
        }
    }

    fn op(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<Op> {
        let name = self.string(obj, "op", path, "an operator such as `equals`")?;
        match Op::parse(&name) {
            Some(op) => Some(op),
            None => {
                let hint = did_you_mean(&name, Op::ALL.iter().map(|o| o.name()));
                self.fail(
                    &path.join("op"),
                    format!("`{name}` is not an operator.{hint}"),
                )
            }
        }
    }

    fn case_sensitive(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<bool> {
        match obj.get("case_sensitive") {
            None | Some(Value::Null) => Some(false),
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => self.fail(
                &path.join("case_sensitive"),
                format!(
                    "`case_sensitive` must be true or false, not {}",
                    json_kind(other)
                ),
            ),
        }
    }

    fn operand(obj: &Map<String, Value>) -> Option<Value> {
        obj.get("value").filter(|v| !v.is_null()).cloned()
    }

    fn field_condition(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<FieldCondition> {
        self.only_keys(obj, &["field", "op", "value", "case_sensitive"], path);
        let field = self.string(obj, "field", path, "a field name such as `Email`");
        let op = self.op(obj, path);
        let case_sensitive = self.case_sensitive(obj, path);
        Some(FieldCondition {
            field: field?,
            op: op?,
            value: Self::operand(obj),
            case_sensitive: case_sensitive?,
        })
    }

    fn attr_conditions(
        &mut self,
        obj: &Map<String, Value>,
        path: &Path,
    ) -> Option<Vec<AttrCondition>> {
        let Some(json) = obj.get("where").filter(|v| !v.is_null()) else {
            return Some(Vec::new());
        };
        let path = path.join("where");
        let Some(items) = json.as_array() else {
            return self.fail(
                &path,
                format!(
                    "`where` takes a list of attribute conditions, not {}",
                    json_kind(json)
                ),
            );
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = path.join(i);
            let Some(o) = item.as_object() else {
                ok = false;
                self.fail::<()>(&p, format!("expected an attribute condition object `{{\"attribute\", \"op\", \"value\"}}`, not {}", json_kind(item)));
                continue;
            };
            self.only_keys(o, &["attribute", "op", "value", "case_sensitive"], &p);
            let attribute = self.string(o, "attribute", &p, "an attribute name such as `price`");
            let op = self.op(o, &p);
            let cs = self.case_sensitive(o, &p);
            match (attribute, op, cs) {
                (Some(attribute), Some(op), Some(case_sensitive)) => out.push(AttrCondition {
                    attribute,
                    op,
                    value: Self::operand(o),
                    case_sensitive,
                }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn duration(&mut self, json: &Value, path: &Path) -> Option<Duration> {
        match json {
            Value::String(s) => match Duration::parse(s) {
                Ok(d) => Some(d),
                Err(e) => self.fail(path, e.to_string()),
            },
            other => self.fail(
                path,
                format!(
                    "expected a duration string such as `30d`, not {}",
                    json_kind(other)
                ),
            ),
        }
    }

    fn date(&mut self, json: &Value, path: &Path) -> Option<DateLiteral> {
        match json {
            Value::String(s) => match parse_date(s) {
                Ok(d) => Some(d),
                Err(e) => self.fail(path, e.to_string()),
            },
            other => self.fail(
                path,
                format!(
                    "expected a date string such as `2026-06-01`, not {}",
                    json_kind(other)
                ),
            ),
        }
    }

    fn within(&mut self, json: &Value, path: &Path) -> Option<Within> {
        let Some(obj) = json.as_object() else {
            return self.fail(path, format!("`within` takes `{{\"last\": \"30d\"}}`, `{{\"before\": \"30d\"}}` or `{{\"from\": T1, \"to\": T2}}`, not {}", json_kind(json)));
        };
        let has = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
        if has("last") || has("before") {
            let key = if has("last") { "last" } else { "before" };
            if !self.only_keys(obj, &[key], path) {
                return None;
            }
            let d = self.duration(&obj[key], &path.join(key))?;
            return Some(if key == "last" {
                Within::Last(d)
            } else {
                Within::Before(d)
            });
        }
        if !self.only_keys(obj, &["from", "to"], path) {
            return None;
        }
        let from = if has("from") {
            Some(self.date(&obj["from"], &path.join("from"))?)
        } else {
            None
        };
        let to = if has("to") {
            Some(self.date(&obj["to"], &path.join("to"))?)
        } else {
            None
        };
        if from.is_none() && to.is_none() {
            return self.fail(path, "`within` is empty: give `last`, `before`, or `from`/`to` (or leave `within` out for all time)");
        }
        if let (Some(f), Some(t)) = (from, to)
            && f.start_ms() >= t.start_ms()
        {
            return self.fail(
                &path.join("to"),
                "`to` must be after `from` (the window is `from` ≤ t < `to`)",
            );
        }
        Some(Within::Range { from, to })
    }

    fn number(&mut self, json: &Value, path: &Path) -> Option<f64> {
        match json.as_f64() {
            Some(n) if json.is_number() && n.is_finite() => Some(n),
            _ => self.fail(path, format!("expected a number, not {}", json_kind(json))),
        }
    }

    fn comparison(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<Comparison> {
        let op = self.string(
            obj,
            "op",
            path,
            "a comparison: `equals`, `not_equals`, `gt`, `gte`, `lt`, `lte` or `between`",
        )?;
        let vpath = path.join("value");
        let Some(value) = obj.get("value") else {
            return self.fail(path, "`value` is missing: give the number to compare with");
        };
        let single = |p: &mut Parser| p.number(value, &vpath);
        Some(match op.as_str() {
            "equals" => Comparison::Equals(single(self)?),
            "not_equals" => Comparison::NotEquals(single(self)?),
            "gt" => Comparison::Gt(single(self)?),
            "gte" => Comparison::Gte(single(self)?),
            "lt" => Comparison::Lt(single(self)?),
            "lte" => Comparison::Lte(single(self)?),
            "between" => {
                let Some([a, b]) = value.as_array().map(Vec::as_slice) else {
                    return self.fail(
                        &vpath,
                        "`between` takes a list of two numbers `[low, high]`",
                    );
                };
                let (a, b) = (
                    self.number(a, &vpath.join(0))?,
                    self.number(b, &vpath.join(1))?,
                );
                if a > b {
                    return self.fail(&vpath, format!("the low bound {a} is greater than the high bound {b}: write `[low, high]`"));
                }
                Comparison::Between(a, b)
            }
            other => {
                let hint = did_you_mean(
                    other,
                    ["equals", "not_equals", "gt", "gte", "lt", "lte", "between"],
                );
                return self.fail(&path.join("op"), format!("`{other}` is not a comparison: use `equals`, `not_equals`, `gt`, `gte`, `lt`, `lte` or `between`.{hint}"));
            }
        })
    }

    fn measure(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<Option<Measure>> {
        let count = obj.get("count").filter(|v| !v.is_null());
        let aggregate = obj.get("aggregate").filter(|v| !v.is_null());
        match (count, aggregate) {
            (Some(_), Some(_)) => self.fail(
                &path.join("aggregate"),
                "a condition has at most one of `count` and `aggregate`",
            ),
            (Some(json), None) => {
                let p = path.join("count");
                let Some(o) = json.as_object() else {
                    return self.fail(
                        &p,
                        format!(
                            "`count` takes `{{\"op\", \"value\"}}`, not {}",
                            json_kind(json)
                        ),
                    );
                };
                self.only_keys(o, &["op", "value"], &p);
                Some(Some(Measure::Count(self.comparison(o, &p)?)))
            }
            (None, Some(json)) => {
                let p = path.join("aggregate");
                let Some(o) = json.as_object() else {
                    return self.fail(&p, format!("`aggregate` takes `{{\"fn\", \"attribute\", \"op\", \"value\"}}`, not {}", json_kind(json)));
                };
                self.only_keys(o, &["fn", "attribute", "op", "value"], &p);
                let func = match o.get("fn") {
                    Some(Value::String(s)) => match AggregateFn::parse(s) {
                        Some(f) => Some(f),
                        None => self.fail(
                            &p.join("fn"),
                            format!(
                                "`{s}` is not an aggregate: use `sum`, `avg`, `min` or `max`.{}",
                                did_you_mean(s, ["sum", "avg", "min", "max"])
                            ),
                        ),
                    },
                    _ => self.fail(&p, "`fn` is missing: give `sum`, `avg`, `min` or `max`"),
                };
                let attribute = self.string(
                    o,
                    "attribute",
                    &p,
                    "the numeric attribute to aggregate, such as `price`",
                );
                let comparison = self.comparison(o, &p);
                Some(Some(Measure::Aggregate {
                    func: func?,
                    attribute: attribute?,
                    comparison: comparison?,
                }))
            }
            (None, None) => Some(None),
        }
    }

    fn sequence(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<Option<Sequence>> {
        let fb = obj.get("followed_by").filter(|v| !v.is_null());
        let nfb = obj.get("not_followed_by").filter(|v| !v.is_null());
        let (key, json, negated) = match (fb, nfb) {
            (Some(_), Some(_)) => {
                return self.fail(
                    &path.join("not_followed_by"),
                    "a condition has at most one of `followed_by` and `not_followed_by`",
                );
            }
            (Some(j), None) => ("followed_by", j, false),
            (None, Some(j)) => ("not_followed_by", j, true),
            (None, None) => return Some(None),
        };
        let p = path.join(key);
        let Some(o) = json.as_object() else {
            return self.fail(
                &p,
                format!(
                    "`{key}` takes `{{\"event\", \"where\"?, \"window\"?, \"on\"?}}`, not {}",
                    json_kind(json)
                ),
            );
        };
        self.only_keys(o, &["event", "where", "window", "on"], &p);
        let event = self.event_name(o, &p);
        let filters = self.attr_conditions(o, &p);
        let window = match o.get("window").filter(|v| !v.is_null()) {
            Some(w) => Some(self.duration(w, &p.join("window"))?),
            None => None,
        };
        let on = match o.get("on").filter(|v| !v.is_null()) {
            None => Some(Vec::new()),
            Some(Value::Array(items)) => {
                let mut names = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if !s.is_empty() => names.push(s.clone()),
                        other => {
                            self.fail::<()>(
                                &p.join("on").join(i),
                                format!("expected an attribute name, not {}", json_kind(other)),
                            );
                        }
                    }
                }
                (names.len() == items.len()).then_some(names)
            }
            Some(other) => self.fail(
                &p.join("on"),
                format!(
                    "`on` takes a list of attribute names such as `[\"cart_id\"]`, not {}",
                    json_kind(other)
                ),
            ),
        };
        Some(Some(Sequence {
            negated,
            event: event?,
            filters: filters?,
            window,
            on: on?,
        }))
    }

    fn event_name(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<String> {
        let name = self.string(
            obj,
            "event",
            path,
            "an event name such as `MailOpen` or `product_purchased`",
        )?;
        match flowseg_model::event::check_event_name(&name) {
            Ok(()) => Some(name),
            Err(e) => self.fail(&path.join("event"), e),
        }
    }

    fn event_condition(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<EventCondition> {
        self.only_keys(
            obj,
            &[
                "event",
                "where",
                "within",
                "count",
                "aggregate",
                "followed_by",
                "not_followed_by",
            ],
            path,
        );
        let event = self.event_name(obj, path);
        let filters = self.attr_conditions(obj, path);
        let within = match obj.get("within").filter(|v| !v.is_null()) {
            Some(w) => self.within(w, &path.join("within")).map(Some),
            None => Some(None),
        };
        let measure = self.measure(obj, path);
        let sequence = self.sequence(obj, path);
        Some(EventCondition {
            event: event?,
            filters: filters?,
            within: within?,
            measure: measure?,
            sequence: sequence?,
        })
    }
}

/// Prints a rule as the JSON of SPEC §2. Parsing the output gives back the
/// same rule.
pub fn rule_to_json(rule: &Rule) -> Value {
    match rule {
        Rule::All(c) => json!({"all": c.iter().map(rule_to_json).collect::<Vec<_>>()}),
        Rule::Any(c) => json!({"any": c.iter().map(rule_to_json).collect::<Vec<_>>()}),
        Rule::Not(c) => json!({"not": rule_to_json(c)}),
        Rule::Segment(id) => json!({"segment": id}),
        Rule::Field(f) => {
            let mut o = Map::new();
            o.insert("field".into(), f.field.clone().into());
            op_value(&mut o, f.op, &f.value, f.case_sensitive);
            Value::Object(o)
        }
        Rule::Event(e) => {
            let mut o = Map::new();
            o.insert("event".into(), e.event.clone().into());
            if !e.filters.is_empty() {
                o.insert("where".into(), filters_to_json(&e.filters));
            }
            if let Some(w) = &e.within {
                o.insert("within".into(), within_to_json(w));
            }
            match &e.measure {
                None => {}
                Some(Measure::Count(c)) => {
                    o.insert("count".into(), comparison_to_json(c, Map::new()));
                }
                Some(Measure::Aggregate {
                    func,
                    attribute,
                    comparison,
                }) => {
                    let mut head = Map::new();
                    head.insert("fn".into(), func.name().into());
                    head.insert("attribute".into(), attribute.clone().into());
                    o.insert("aggregate".into(), comparison_to_json(comparison, head));
                }
            }
            if let Some(s) = &e.sequence {
                let mut so = Map::new();
                so.insert("event".into(), s.event.clone().into());
                if !s.filters.is_empty() {
                    so.insert("where".into(), filters_to_json(&s.filters));
                }
                if let Some(w) = s.window {
                    so.insert("window".into(), w.to_string().into());
                }
                if !s.on.is_empty() {
                    so.insert("on".into(), s.on.clone().into());
                }
                let key = if s.negated {
                    "not_followed_by"
                } else {
                    "followed_by"
                };
                o.insert(key.into(), Value::Object(so));
            }
            Value::Object(o)
        }
    }
}

fn op_value(o: &mut Map<String, Value>, op: Op, value: &Option<Value>, case_sensitive: bool) {
    o.insert("op".into(), op.name().into());
    if let Some(v) = value {
        o.insert("value".into(), v.clone());
    }
    if case_sensitive {
        o.insert("case_sensitive".into(), true.into());
    }
}

fn filters_to_json(filters: &[AttrCondition]) -> Value {
    Value::Array(
        filters
            .iter()
            .map(|f| {
                let mut o = Map::new();
                o.insert("attribute".into(), f.attribute.clone().into());
                op_value(&mut o, f.op, &f.value, f.case_sensitive);
                Value::Object(o)
            })
            .collect(),
    )
}

/// Prints a date literal as written: a plain date stays a plain date.
pub fn date_literal_to_string(d: DateLiteral) -> String {
    match d {
        DateLiteral::Day(ms) => format_day(ms),
        DateLiteral::Instant(ms) => format_instant(ms),
    }
}

fn within_to_json(w: &Within) -> Value {
    match w {
        Within::Last(d) => json!({"last": d.to_string()}),
        Within::Before(d) => json!({"before": d.to_string()}),
        Within::Range { from, to } => {
            let mut o = Map::new();
            if let Some(f) = from {
                o.insert("from".into(), date_literal_to_string(*f).into());
            }
            if let Some(t) = to {
                o.insert("to".into(), date_literal_to_string(*t).into());
            }
            Value::Object(o)
        }
    }
}

/// A number as JSON: whole numbers print without a fraction.
pub fn number_to_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn comparison_to_json(c: &Comparison, mut head: Map<String, Value>) -> Value {
    head.insert("op".into(), c.op_name().into());
    let value = match *c {
        Comparison::Equals(v)
        | Comparison::NotEquals(v)
        | Comparison::Gt(v)
        | Comparison::Gte(v)
        | Comparison::Lt(v)
        | Comparison::Lte(v) => number_to_json(v),
        Comparison::Between(a, b) => Value::Array(vec![number_to_json(a), number_to_json(b)]),
    };
    head.insert("value".into(), value);
    Value::Object(head)
}

impl serde::Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        rule_to_json(self).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rule, D::Error> {
        let json = Value::deserialize(d)?;
        rule_from_json(&json, "").map_err(|problems| {
            serde::de::Error::custom(
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }
}
