//! Rule → text. What it prints parses back to the same [`Rule`], for every
//! rule that `rule_from_json` accepts and whose operands have the shapes
//! validation requires (a rule that validation refuses may print to text
//! that does not parse, such as a duration without a unit).

use serde_json::Value;

use super::KEYWORDS;
use super::lexer::{is_date_lexeme, is_name_continue, is_name_start};
use crate::ast::{
    AttrCondition, Comparison, EventCondition, FieldCondition, Measure, Op, Rule, Sequence, Within,
};
use crate::json::{date_literal_to_string, number_to_json};

/// Top-level conditions are laid out in lines up to this width.
const WIDTH: usize = 80;

/// Prints a rule as text; segment references print their id.
pub fn format_rule(rule: &Rule) -> String {
    format_rule_with(rule, &|_| None)
}

/// Prints a rule as text; `segment_label` may give the text to print for
/// a segment id (its name), which a parse with the matching resolver turns
/// back into the id.
pub fn format_rule_with(rule: &Rule, segment_label: &dyn Fn(&str) -> Option<String>) -> String {
    let p = Printer { segment_label };
    let (children, joiner) = match rule {
        Rule::All(c) if c.len() >= 2 => (c, "and"),
        Rule::Any(c) if c.len() >= 2 => (c, "or"),
        _ => return p.full(rule),
    };
    // Groups inside groups keep their parentheses (`and` binds tighter
    // than `or`, but `(a and b) or c` reads more clearly, and the
    // parentheses keep nested nodes nested).
    let parts: Vec<String> = children.iter().map(|c| p.unary(c)).collect();
    // Fill lines up to the width; a line that does not fit starts with
    // its connective, as SPEC §3 lays rules out.
    let mut lines: Vec<String> = Vec::new();
    for part in parts {
        match lines.last_mut() {
            Some(line)
                if line.len() + joiner.len() + part.len() + 2 <= WIDTH && !part.contains('\n') =>
            {
                line.push_str(&format!(" {joiner} {part}"));
            }
            Some(_) => lines.push(format!("{joiner} {part}")),
            None => lines.push(part),
        }
    }
    lines.join("\n")
}

struct Printer<'a> {
    segment_label: &'a dyn Fn(&str) -> Option<String>,
}

impl Printer<'_> {
    /// A rule anywhere: `a and b`, `a or b`, or a unary rule.
    fn full(&self, rule: &Rule) -> String {
        match rule {
            Rule::All(c) if c.len() >= 2 => c
                .iter()
                .map(|r| self.unary(r))
                .collect::<Vec<_>>()
                .join(" and "),
            Rule::Any(c) if c.len() >= 2 => c
                .iter()
                .map(|r| self.unary(r))
                .collect::<Vec<_>>()
                .join(" or "),
            _ => self.unary(rule),
        }
    }

    fn unary(&self, rule: &Rule) -> String {
        match rule {
            Rule::All(c) | Rule::Any(c) if c.len() >= 2 => format!("({})", self.full(rule)),
            Rule::All(c) if c.is_empty() => "everyone".into(),
            Rule::All(c) => format!("all of ({})", self.full(&c[0])),
            Rule::Any(c) if c.is_empty() => "any of ()".into(),
            Rule::Any(c) => format!("any of ({})", self.full(&c[0])),
            Rule::Not(child) => format!("not {}", self.unary(child)),
            Rule::Field(f) => field(f),
            Rule::Event(e) => event(e),
            Rule::Segment(id) => {
                let label = (self.segment_label)(id).unwrap_or_else(|| id.clone());
                format!("in segment {}", string(&label))
            }
        }
    }
}

/// A name, bare when it reads as one word that is not a keyword, else in
/// backticks.
pub(crate) fn name(n: &str) -> String {
    let mut chars = n.chars();
    let bare = chars.next().is_some_and(is_name_start)
        && chars.all(is_name_continue)
        && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(n));
    if bare {
        return n.to_string();
    }
    // JSON escapes, then the backtick itself (the lexer reads `\"` too).
    let json = serde_json::to_string(n).unwrap_or_default();
    let inner = &json[1..json.len().saturating_sub(1).max(1)];
    format!("`{}`", inner.replace('`', "\\`"))
}

fn string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn number(n: f64) -> String {
    number_to_json(n).to_string()
}

/// An operand. Strings that are dates print bare where a date is
/// expected; everything else prints as JSON.
fn value(v: &Value, dates_bare: bool) -> String {
    match v {
        Value::String(s) if dates_bare && is_date_lexeme(s) => s.clone(),
        Value::String(s) => string(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| value(i, dates_bare))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", string(k), value(v, dates_bare)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The operand of `in last`, `within next`, `more than … ago`.
fn period(v: &Value) -> String {
    match v {
        Value::String(s) if flowseg_model::Duration::parse(s).is_ok() => s.clone(),
        other => value(other, false),
    }
}

/// How the text writes an operator (`more than … ago` around its operand).
pub(crate) fn op_text(op: Op) -> &'static str {
    match op {
        Op::Equals => "=",
        Op::NotEquals => "!=",
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::Lt => "<",
        Op::Lte => "<=",
        Op::Contains => "contains",
        Op::NotContains => "does not contain",
        Op::StartsWith => "starts with",
        Op::EndsWith => "ends with",
        Op::In => "in",
        Op::NotIn => "not in",
        Op::Matches => "matches",
        Op::HasValue => "has value",
        Op::HasNoValue => "has no value",
        Op::IsTrue => "is true",
        Op::IsFalse => "is false",
        Op::Before => "before",
        Op::After => "after",
        Op::Between => "between",
        Op::WithinLast => "within last",
        Op::WithinNext => "within next",
        Op::MoreThanAgo => "more than … ago",
    }
}

/// `op value [case-sensitive]`, after a field or attribute name.
fn condition(op: Op, operand: &Option<Value>, case_sensitive: bool) -> String {
    // A missing operand prints as `null`, which parses back to none.
    let null = Value::Null;
    let v = operand.as_ref().unwrap_or(&null);
    let plain = |word: &str| format!("{word} {}", value(v, false));
    let dated = |word: &str| format!("{word} {}", value(v, true));
    let mut out = match op {
        Op::Equals => dated("="),
        Op::NotEquals => dated("!="),
        Op::Gt => plain(">"),
        Op::Gte => plain(">="),
        Op::Lt => plain("<"),
        Op::Lte => plain("<="),
        Op::Contains => plain("contains"),
        Op::NotContains => plain("does not contain"),
        Op::StartsWith => plain("starts with"),
        Op::EndsWith => plain("ends with"),
        Op::In => plain("in"),
        Op::NotIn => plain("not in"),
        Op::Matches => plain("matches"),
        Op::HasValue => "has value".into(),
        Op::HasNoValue => "has no value".into(),
        Op::IsTrue => "is true".into(),
        Op::IsFalse => "is false".into(),
        Op::Before => dated("before"),
        Op::After => dated("after"),
        Op::Between => match v {
            Value::Array(pair) if pair.len() == 2 => format!(
                "between {} and {}",
                value(&pair[0], true),
                value(&pair[1], true)
            ),
            _ => dated("between"),
        },
        Op::WithinLast => format!("within last {}", period(v)),
        Op::WithinNext => format!("within next {}", period(v)),
        Op::MoreThanAgo => format!("more than {} ago", period(v)),
    };
    if case_sensitive {
        out.push_str(" case-sensitive");
    }
    out
}

fn field(f: &FieldCondition) -> String {
    format!(
        "{} {}",
        name(&f.field),
        condition(f.op, &f.value, f.case_sensitive)
    )
}

fn attr(a: &AttrCondition) -> String {
    format!(
        "{} {}",
        name(&a.attribute),
        condition(a.op, &a.value, a.case_sensitive)
    )
}

fn where_clause(filters: &[AttrCondition]) -> String {
    match filters {
        [] => String::new(),
        [one] => format!(" where {}", attr(one)),
        many => format!(
            " where ({})",
            many.iter().map(attr).collect::<Vec<_>>().join(" and ")
        ),
    }
}

fn times(n: f64) -> &'static str {
    if n == 1.0 { "time" } else { "times" }
}

fn count(c: Comparison) -> String {
    match c {
        Comparison::Equals(n) => format!("exactly {} {}", number(n), times(n)),
        Comparison::NotEquals(n) => format!("not exactly {} {}", number(n), times(n)),
        Comparison::Gt(n) => format!("more than {} {}", number(n), times(n)),
        Comparison::Gte(n) => format!("at least {} {}", number(n), times(n)),
        Comparison::Lt(n) => format!("less than {} {}", number(n), times(n)),
        Comparison::Lte(n) => format!("at most {} {}", number(n), times(n)),
        Comparison::Between(a, b) => format!("between {} and {} times", number(a), number(b)),
    }
}

fn comparison(c: Comparison) -> String {
    match c {
        Comparison::Equals(n) => format!("= {}", number(n)),
        Comparison::NotEquals(n) => format!("!= {}", number(n)),
        Comparison::Gt(n) => format!("> {}", number(n)),
        Comparison::Gte(n) => format!(">= {}", number(n)),
        Comparison::Lt(n) => format!("< {}", number(n)),
        Comparison::Lte(n) => format!("<= {}", number(n)),
        Comparison::Between(a, b) => format!("between {} and {}", number(a), number(b)),
    }
}

fn window(w: &Within) -> String {
    match w {
        Within::Last(d) => format!(" in last {d}"),
        Within::Before(d) => format!(" more than {d} ago"),
        Within::Range { from, to } => match (from, to) {
            (Some(f), Some(t)) => format!(
                " from {} to {}",
                date_literal_to_string(*f),
                date_literal_to_string(*t)
            ),
            (Some(f), None) => format!(" since {}", date_literal_to_string(*f)),
            (None, Some(t)) => format!(" before {}", date_literal_to_string(*t)),
            (None, None) => String::new(),
        },
    }
}

fn sequence(s: &Sequence) -> String {
    let mut out = format!(
        " {}followed by {}",
        if s.negated { "not " } else { "" },
        name(&s.event)
    );
    out.push_str(&where_clause(&s.filters));
    if let Some(d) = s.window {
        out.push_str(&format!(" within {d}"));
    }
    match s.on.as_slice() {
        [] => {}
        [one] => out.push_str(&format!(" on {}", name(one))),
        many => out.push_str(&format!(
            " on [{}]",
            many.iter().map(|n| name(n)).collect::<Vec<_>>().join(", ")
        )),
    }
    out
}

fn event(e: &EventCondition) -> String {
    let mut out = format!("did {}", name(&e.event));
    out.push_str(&where_clause(&e.filters));
    match &e.measure {
        None => {}
        Some(Measure::Count(c)) => {
            out.push(' ');
            out.push_str(&count(*c));
        }
        Some(Measure::Aggregate {
            func,
            attribute,
            comparison: c,
        }) => out.push_str(&format!(
            " with {} of {} {}",
            func.name(),
            name(attribute),
            comparison(*c)
        )),
    }
    if let Some(w) = &e.within {
        out.push_str(&window(w));
    }
    if let Some(s) = &e.sequence {
        out.push_str(&sequence(s));
    }
    out
}
