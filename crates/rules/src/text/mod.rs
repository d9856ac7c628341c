//! The readable rule language (SPEC §3): the same rules as the JSON of
//! SPEC §2, written the way a marketer would say them.
//!
//! ```text
//! Customer_Status = "vip" and (City contains "war" or Age between 18 and 35)
//! and did product_purchased where price > 100 at least 2 times in last 30d
//! and not did MailOpen in last 90d
//! and did cart_add in last 2d not followed by purchase within 1h
//! and in segment "newsletter"
//! ```
//!
//! [`parse_rule`] reads text into a [`Rule`], [`format_rule`] prints a rule
//! as text that parses back to the same rule, and [`Diagnostic`] says what
//! is wrong with text that does not parse, rustc-style. [`check_rule_text`]
//! also validates against a schema, pointing validation problems at the
//! text. [`parse_rule_lenient`] is for the panel: the conditions that do
//! parse, and every problem, while the user is still typing.
//!
//! # Grammar
//!
//! Keywords are case-insensitive. Whitespace (including line breaks)
//! separates tokens; `#` starts a comment to the end of the line. `and`
//! binds tighter than `or`; parentheses group. `a and b and c` is one
//! `all` node, `a or b` one `any` node, `(a and b) and c` keeps its
//! parentheses as a nested node.
//!
//! ```text
//! rule            = or_rule EOF
//! or_rule         = and_rule { "or" and_rule }
//! and_rule        = unary_rule { "and" unary_rule }
//! unary_rule      = "not" unary_rule | primary_rule
//! primary_rule    = "(" or_rule ")" | group | "everyone" | segment_ref
//!                 | event_condition | field_condition
//! group           = ( "all" | "any" ) "of" "(" or_rule ")"
//! segment_ref     = "in" "segment" ( string | name )
//! field_condition = name condition
//!
//! condition       = operator [ "case-sensitive" | "case" "sensitive" ]
//! operator        = ( "=" | "equals" ) value | "!=" value
//!                 | ">" value | ">=" value | "<" value | "<=" value
//!                 | "contains" value | ( "does" "not" "contain" | "not" "contains" ) value
//!                 | "starts" "with" value | "ends" "with" value
//!                 | "in" value | "not" "in" value | "matches" value
//!                 | "has" "value" | "has" "no" "value"
//!                 | "between" ( value "and" value | list )
//!                 | "before" value | "after" value
//!                 | ( "within" | "in" ) [ "the" ] ( "last" | "next" ) period
//!                 | "more" "than" period "ago"
//!                 | "is" "true" | "is" "false"
//! period          = duration | value
//!
//! event_condition = "did" name { event_clause }
//! event_clause    = where_clause | count | aggregate | window | sequence
//! where_clause    = "where" ( attr_condition
//!                           | "(" attr_condition { "and" attr_condition } ")" )
//! attr_condition  = name condition
//! count           = ( "at" "least" | "at" "most" | "more" "than" | ( "less" | "fewer" ) "than"
//!                   | [ "not" ] "exactly" ) number times
//!                 | "between" number "and" number times
//! times           = "times" | "time"
//! aggregate       = "with" ( "sum" | "avg" | "average" | "min" | "max" ) "of" name comparison
//! comparison      = ( "=" | "!=" | ">" | ">=" | "<" | "<=" ) number
//!                 | "between" number "and" number
//! window          = ( "in" | "within" ) [ "the" ] "last" duration
//!                 | "more" "than" duration "ago"
//!                 | ( "from" | "since" ) date [ ( "to" | "until" ) date ]
//!                 | ( "before" | "until" | "to" ) date
//! sequence        = [ "not" ] "followed" "by" name
//!                   { where_clause | "within" duration | "on" names }
//! names           = name | "[" name { "," name } "]"
//!
//! value           = string | number | date | "true" | "false" | "null" | list | object
//! list            = "[" [ value { "," value } ] "]"
//! object          = "{" [ string ":" value { "," string ":" value } ] "}"
//! name            = WORD | QUOTED
//! string          = STRING
//! number          = NUMBER
//! date            = DATE | STRING
//! duration        = DURATION | STRING
//!
//! WORD            = letter { letter | digit | "_" | "." | ":" | "-" }   (not a keyword where a
//!                   condition starts: not, did, in, all, any, everyone, and, or)
//! QUOTED          = "`" { char | escape } "`"          a name with any characters
//! STRING          = '"' { char | escape } '"'          JSON escapes: \" \\ \/ \b \f \n \r \t \uXXXX
//! NUMBER          = [ "-" ] digits [ "." digits ] [ ( "e" | "E" ) [ "+" | "-" ] digits ]
//! DATE            = YYYY-MM-DD [ "T" HH:MM:SS [ "." digits ] ( "Z" | ( "+" | "-" ) HH:MM ) ]
//! DURATION        = digits ( "m" | "h" | "d" | "w" )
//! ```
//!
//! Operands are kept as the JSON they stand for: an unquoted date is the
//! string of its text, `null` is no operand, `12` is an integer and `12.0`
//! a float, as in JSON. Which operators fit which field is checked by
//! validation against the schema ([`crate::plan_rule`]), not by the
//! grammar.

// A `Diagnostic` is a few strings: returning it unboxed keeps the API plain,
// and it is only built on the cold path of text that does not parse.
#![allow(clippy::result_large_err)]

mod condition;
mod diagnostic;
mod event;
mod lenient;
mod lexer;
mod parser;
mod printer;
mod report;
mod value;

use std::ops::Range;

use flowseg_model::Schema;
use winnow::prelude::*;
use winnow::stream::{Stateful, TokenSlice};

pub use diagnostic::Diagnostic;
pub use lenient::parse_rule_lenient;
pub use printer::{format_rule, format_rule_with};

use crate::ast::Rule;
use crate::limits::{MAX_DEPTH, MAX_NODES};
use crate::plan::Plan;
use crate::problem::Problem;
use crate::validate::{SegmentSource, plan_rule};
use lexer::{Token, lex};
use parser::{Spans, State, SyntaxError};
use report::{syntax_diagnostic, text_problem};

/// Every keyword. A name that is one of these is printed in backticks.
#[rustfmt::skip]
pub(crate) const KEYWORDS: &[&str] = &[
    "and", "or", "not", "did", "in", "segment", "all", "any", "of", "everyone",
    "where", "at", "least", "most", "more", "less", "fewer", "than", "exactly", "times", "time",
    "between", "with", "sum", "avg", "average", "min", "max",
    "last", "next", "the", "ago", "before", "after", "from", "since", "to", "until",
    "followed", "by", "on", "within",
    "equals", "contains", "does", "contain", "starts", "ends", "matches", "has", "value", "no",
    "is", "true", "false", "null", "case", "sensitive", "case-sensitive",
];

/// Turns the text of `in segment "X"` into a segment id (`X` may be a
/// name or an id, as the caller decides); `None` when there is no such
/// segment.
pub type SegmentResolver<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Parses rule text. Segment references are taken as ids.
pub fn parse_rule(text: &str) -> Result<Rule, Diagnostic> {
    ParsedRule::parse(text, None).map(|p| p.rule)
}

/// Parses rule text, turning each `in segment "X"` into the id that
/// `resolve` gives for `X` (a name or an id); `None` is reported as an
/// unknown segment at `X`.
pub fn parse_rule_with(text: &str, resolve: SegmentResolver<'_>) -> Result<Rule, Diagnostic> {
    ParsedRule::parse(text, Some(resolve)).map(|p| p.rule)
}

/// Parses and validates rule text against `schema` and saved segments.
/// Every problem, syntax or validation, points at the text.
pub fn check_rule_text(
    text: &str,
    schema: &Schema,
    segments: &dyn SegmentSource,
) -> Result<(Rule, Plan), Vec<Diagnostic>> {
    let parsed = ParsedRule::parse(text, None).map_err(|d| vec![d])?;
    let plan = parsed.plan(schema, segments, None)?;
    Ok((parsed.rule, plan))
}

/// A rule parsed from text, with where each of its parts was written.
#[derive(Debug, Clone)]
pub struct ParsedRule {
    pub rule: Rule,
    source: String,
    /// JSON pointer (relative to the rule) → span.
    spans: Vec<(String, Range<usize>)>,
}

impl ParsedRule {
    /// Parses `text`; with `resolve`, segment references are resolved as
    /// by [`parse_rule_with`].
    pub fn parse(
        text: &str,
        resolve: Option<SegmentResolver<'_>>,
    ) -> Result<ParsedRule, Diagnostic> {
        let lexed = lex(text);
        if let Some(p) = lexed.problems.first() {
            return Err(Diagnostic::new(
                text,
                p.span.clone(),
                p.message.clone(),
                Vec::new(),
                p.hint.clone(),
            ));
        }
        let (mut rule, spans) = parse_tokens(text, &lexed.tokens)?;
        check_limits(text, &rule, &spans, 0, &mut 0)?;
        if let Some(resolve) = resolve {
            resolve_segments(text, &mut rule, &spans, resolve)?;
        }
        let mut table = Vec::new();
        pointers(&rule, &spans, "", &mut table);
        Ok(ParsedRule {
            rule,
            source: text.to_string(),
            spans: table,
        })
    }

    /// The span of the text at a JSON pointer into the rule (relative to
    /// the rule, e.g. `/all/1/value`), or of the nearest enclosing part.
    pub fn span_of(&self, pointer: &str) -> Range<usize> {
        let mut p = pointer;
        loop {
            if let Some((_, span)) = self.spans.iter().find(|(k, _)| k == p) {
                return span.clone();
            }
            match p.rfind('/') {
                Some(cut) => p = &p[..cut],
                None => return 0..self.source.len(),
            }
        }
    }

    /// A validation problem (whose path is relative to the rule) as a
    /// diagnostic on the text, in the text's words.
    pub fn diagnostic(&self, problem: &Problem) -> Diagnostic {
        let (message, mut hint) = text_problem(problem);
        if hint.is_none() && message.starts_with("there is no field") {
            hint = self.attribute_hint(&problem.path);
        }
        Diagnostic::new(
            &self.source,
            self.span_of(&problem.path),
            message,
            Vec::new(),
            hint,
        )
    }

    /// `did X where a = 1 and b = 2` reads `b` as a field: when `b` is not
    /// one and the condition before it is an event with a `where`, the user
    /// most likely meant an attribute.
    fn attribute_hint(&self, field_path: &str) -> Option<String> {
        let node = field_path.strip_suffix("/field")?;
        let (parent, index) = node.rsplit_once('/')?;
        let index: usize = index.parse().ok()?;
        let parent = parent.strip_suffix("/all")?;
        let Rule::All(siblings) = node_at(&self.rule, parent)? else {
            return None;
        };
        let (Rule::Event(before), Rule::Field(field)) =
            (siblings.get(index.checked_sub(1)?)?, siblings.get(index)?)
        else {
            return None;
        };
        let first = before.filters.first()?;
        Some(format!(
            "if `{}` is an attribute of `{}`, put the conditions in parentheses: `where ({} … and {} …)`",
            field.field,
            before.event,
            printer::name(&first.attribute),
            printer::name(&field.field)
        ))
    }

    /// Validates the rule as [`plan_rule`] does, with problems pointing at
    /// the text.
    pub fn plan(
        &self,
        schema: &Schema,
        segments: &dyn SegmentSource,
        self_id: Option<&str>,
    ) -> Result<Plan, Vec<Diagnostic>> {
        plan_rule(&self.rule, "", schema, segments, self_id)
            .map_err(|problems| problems.iter().map(|p| self.diagnostic(p)).collect())
    }
}

pub(crate) fn parse_tokens(source: &str, tokens: &[Token]) -> Result<(Rule, Spans), Diagnostic> {
    let state = State::new(tokens);
    let mut input = Stateful {
        input: TokenSlice::new(tokens),
        state: &state,
    };
    match parser::parse_rule.parse_next(&mut input) {
        Ok(node) => Ok(node),
        Err(e) => {
            let custom = match e {
                winnow::error::ErrMode::Backtrack(SyntaxError { custom })
                | winnow::error::ErrMode::Cut(SyntaxError { custom }) => custom,
                winnow::error::ErrMode::Incomplete(_) => None,
            };
            Err(syntax_diagnostic(source, tokens, &state, custom))
        }
    }
}

/// The node at a JSON pointer made of `all`/`any`/`not` steps.
fn node_at<'r>(rule: &'r Rule, pointer: &str) -> Option<&'r Rule> {
    let mut node = rule;
    let mut steps = pointer.split('/').skip(1);
    while let Some(step) = steps.next() {
        node = match (node, step) {
            (Rule::All(c), "all") | (Rule::Any(c), "any") => {
                c.get(steps.next()?.parse::<usize>().ok()?)?
            }
            (Rule::Not(c), "not") => c,
            _ => return None,
        };
    }
    Some(node)
}

/// The JSON pointers of a rule's parts, from the spans the parser kept.
fn pointers(rule: &Rule, spans: &Spans, prefix: &str, out: &mut Vec<(String, Range<usize>)>) {
    out.push((prefix.to_string(), spans.span.clone()));
    out.extend(
        spans
            .parts
            .iter()
            .map(|(p, s)| (format!("{prefix}{p}"), s.clone())),
    );
    match rule {
        Rule::All(children) | Rule::Any(children) => {
            let key = if matches!(rule, Rule::All(_)) {
                "all"
            } else {
                "any"
            };
            for (n, (child, s)) in children.iter().zip(&spans.children).enumerate() {
                pointers(child, s, &format!("{prefix}/{key}/{n}"), out);
            }
        }
        Rule::Not(child) => {
            if let Some(s) = spans.children.first() {
                pointers(child, s, &format!("{prefix}/not"), out);
            }
        }
        _ => {}
    }
}

/// The limits `rule_from_json` enforces, so text and JSON accept the
/// same rules.
pub(crate) fn check_limits(
    source: &str,
    rule: &Rule,
    spans: &Spans,
    depth: usize,
    nodes: &mut usize,
) -> Result<(), Diagnostic> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(Diagnostic::new(
            source,
            spans.span.clone(),
            format!("the rule has more than {MAX_NODES} conditions and groups"),
            Vec::new(),
            Some("split it into saved segments and reference them with `in segment`".into()),
        ));
    }
    if depth > MAX_DEPTH {
        return Err(Diagnostic::new(
            source,
            spans.span.clone(),
            format!("the rule is nested deeper than {MAX_DEPTH} levels"),
            Vec::new(),
            Some("flatten it, or split it into saved segments".into()),
        ));
    }
    match rule {
        Rule::All(children) | Rule::Any(children) => {
            for (child, s) in children.iter().zip(&spans.children) {
                check_limits(source, child, s, depth + 1, nodes)?;
            }
        }
        Rule::Not(child) => {
            if let Some(s) = spans.children.first() {
                check_limits(source, child, s, depth + 1, nodes)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn resolve_segments(
    source: &str,
    rule: &mut Rule,
    spans: &Spans,
    resolve: SegmentResolver<'_>,
) -> Result<(), Diagnostic> {
    match rule {
        Rule::All(children) | Rule::Any(children) => {
            for (child, s) in children.iter_mut().zip(&spans.children) {
                resolve_segments(source, child, s, resolve)?;
            }
        }
        Rule::Not(child) => {
            if let Some(s) = spans.children.first() {
                resolve_segments(source, child, s, resolve)?;
            }
        }
        Rule::Segment(label) => match resolve(label) {
            Some(id) => *label = id,
            None => {
                let span = spans
                    .parts
                    .first()
                    .map_or(spans.span.clone(), |(_, s)| s.clone());
                return Err(Diagnostic::new(
                    source,
                    span,
                    format!("there is no segment `{label}`"),
                    Vec::new(),
                    Some("reference a saved segment by its name or id".into()),
                ));
            }
        },
        _ => {}
    }
    Ok(())
}
