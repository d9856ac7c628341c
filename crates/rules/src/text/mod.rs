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

mod diagnostic;
mod event;
mod lexer;
mod parser;
mod printer;

use std::ops::Range;

use flowseg_model::Schema;
use winnow::prelude::*;
use winnow::stream::{Stateful, TokenSlice};

pub use diagnostic::Diagnostic;
pub use printer::{format_rule, format_rule_with};

use crate::ast::{Op, Rule};
use crate::limits::{MAX_DEPTH, MAX_NODES};
use crate::plan::Plan;
use crate::problem::{Problem, did_you_mean};
use crate::validate::{SegmentSource, plan_rule};
use lexer::{Token, TokenKind, lex};
use parser::{Expect, Spans, State, SyntaxError, describe_token};

/// Every keyword. A name that is one of these is printed in backticks.
pub(crate) const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "did",
    "in",
    "segment",
    "all",
    "any",
    "of",
    "everyone",
    "where",
    "at",
    "least",
    "most",
    "more",
    "less",
    "fewer",
    "than",
    "exactly",
    "times",
    "time",
    "between",
    "with",
    "sum",
    "avg",
    "average",
    "total",
    "min",
    "max",
    "last",
    "next",
    "the",
    "ago",
    "before",
    "after",
    "from",
    "since",
    "to",
    "until",
    "followed",
    "by",
    "on",
    "within",
    "contains",
    "does",
    "contain",
    "starts",
    "ends",
    "matches",
    "has",
    "value",
    "no",
    "is",
    "true",
    "false",
    "null",
    "case",
    "sensitive",
    "case-sensitive",
    "equals",
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
        let (message, hint) = text_problem(problem);
        Diagnostic::new(
            &self.source,
            self.span_of(&problem.path),
            message,
            Vec::new(),
            hint,
        )
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

/// Best effort for text still being typed: every problem found, and the
/// rule made of the top-level conditions that do parse (`None` when none
/// does). When the whole text parses, this is [`parse_rule`].
pub fn parse_rule_lenient(text: &str) -> (Option<Rule>, Vec<Diagnostic>) {
    let lexed = lex(text);
    let mut diagnostics: Vec<Diagnostic> = lexed
        .problems
        .iter()
        .map(|p| {
            Diagnostic::new(
                text,
                p.span.clone(),
                p.message.clone(),
                Vec::new(),
                p.hint.clone(),
            )
        })
        .collect();
    let whole = parse_tokens(text, &lexed.tokens).and_then(|(rule, spans)| {
        check_limits(text, &rule, &spans, 0, &mut 0)?;
        Ok(rule)
    });
    let first_error = match whole {
        Ok(rule) => return (Some(rule), diagnostics),
        Err(d) => d,
    };
    // Parse each top-level condition on its own; join those that parse.
    let mut alternatives: Vec<Vec<Rule>> = vec![Vec::new()];
    let mut failed = false;
    for (connective, chunk) in top_level_chunks(&lexed.tokens) {
        if connective.is_some_and(|c| c.is_word("or"))
            && alternatives.last().is_some_and(|a| !a.is_empty())
        {
            alternatives.push(Vec::new());
        }
        match parse_tokens(text, &chunk) {
            Ok((rule, _)) => {
                if let Some(a) = alternatives.last_mut() {
                    a.push(rule);
                }
            }
            Err(d) => {
                failed = true;
                if !diagnostics.contains(&d) {
                    diagnostics.push(d);
                }
            }
        }
    }
    if !failed && !diagnostics.contains(&first_error) {
        diagnostics.push(first_error);
    }
    let mut groups: Vec<Rule> = alternatives
        .into_iter()
        .filter(|a| !a.is_empty())
        .map(|mut a| {
            if a.len() == 1 {
                a.remove(0)
            } else {
                Rule::All(a)
            }
        })
        .collect();
    let rule = match groups.len() {
        0 => None,
        1 => groups.pop(),
        _ => Some(Rule::Any(groups)),
    };
    (rule, diagnostics)
}

/// Splits tokens at the `and`/`or` outside parentheses and brackets (but
/// not the `and` of `between a and b`); each chunk ends with `Eof` and is
/// renumbered for parsing on its own.
fn top_level_chunks(tokens: &[Token]) -> Vec<(Option<&Token>, Vec<Token>)> {
    let mut chunks = Vec::new();
    let mut connective = None;
    let mut current: Vec<Token> = Vec::new();
    let mut depth = 0i32;
    for (k, t) in tokens.iter().enumerate() {
        match t.kind {
            TokenKind::Sym if matches!(t.text.as_str(), "(" | "[" | "{") => depth += 1,
            TokenKind::Sym if matches!(t.text.as_str(), ")" | "]" | "}") => depth -= 1,
            _ => {}
        }
        let between = k >= 2 && tokens[k - 2].is_word("between");
        let split = t.kind == TokenKind::Eof
            || (depth <= 0 && (t.is_word("or") || (t.is_word("and") && !between)));
        if split {
            if !current.is_empty() {
                let end = current.last().map_or(t.span.start, |l| l.span.end);
                current.push(Token {
                    kind: TokenKind::Eof,
                    text: String::new(),
                    span: end..end,
                    index: current.len(),
                });
                chunks.push((connective, std::mem::take(&mut current)));
            }
            connective = Some(t);
            depth = depth.max(0);
        } else {
            let mut t = t.clone();
            t.index = current.len();
            current.push(t);
        }
    }
    chunks
}

fn parse_tokens(source: &str, tokens: &[Token]) -> Result<(Rule, Spans), Diagnostic> {
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

fn syntax_diagnostic(
    source: &str,
    tokens: &[Token],
    state: &State,
    custom: Option<parser::Custom>,
) -> Diagnostic {
    if let Some(c) = custom {
        return Diagnostic::new(source, c.span, c.message, Vec::new(), c.hint);
    }
    let (at, expected) = state.furthest.borrow().clone();
    let Some(found) = tokens.get(at).or(tokens.last()) else {
        return Diagnostic::new(source, 0..0, "the rule is empty", Vec::new(), None);
    };
    let described: Vec<String> = expected.iter().map(|e| e.describe()).collect();
    let message = if found.kind == TokenKind::Eof && at == 0 {
        "the rule is empty".to_string()
    } else {
        format!(
            "expected {}, found {}",
            join_or(&described),
            describe_token(found)
        )
    };
    let hint = if found.kind == TokenKind::Eof && at == 0 {
        Some("write a condition such as `City = \"Warsaw\"`, or `everyone`".into())
    } else {
        hint_for(found, &expected)
    };
    Diagnostic::new(source, found.span.clone(), message, described, hint)
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => "something else".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Restricted Damerau distance (a swap of neighbours is one edit).
fn typo_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// A keyword the user probably meant, as "did you mean `x`?".
fn suggest(found: &str, words: &[&'static str]) -> Option<String> {
    let limit = if found.chars().count() <= 4 { 1 } else { 2 };
    let close: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| typo_distance(found, w) <= limit && !w.eq_ignore_ascii_case(found))
        .collect();
    let best = close
        .iter()
        .copied()
        .min_by_key(|w| typo_distance(found, w))?;
    let phrase = did_you_mean(found, [best]);
    (!phrase.is_empty()).then(|| format!("did you mean `{}`?", full_phrase(best)))
}

/// The whole phrase a first word starts, for suggestions.
fn full_phrase(word: &str) -> &str {
    match word {
        "starts" => "starts with",
        "ends" => "ends with",
        "does" => "does not contain",
        "has" => "has value",
        "least" => "at least",
        "most" => "at most",
        "followed" => "followed by",
        other => other,
    }
}

fn could_start_condition(t: &Token) -> bool {
    match t.kind {
        TokenKind::Quoted => true,
        TokenKind::Sym => t.text == "(",
        TokenKind::Word => {
            ["did", "not", "in", "everyone", "all", "any"]
                .iter()
                .any(|w| t.is_word(w))
                || !KEYWORDS.iter().any(|k| t.is_word(k))
        }
        _ => false,
    }
}

fn hint_for(found: &Token, expected: &[Expect]) -> Option<String> {
    let expects_and = expected.contains(&Expect::Word("and"));
    match found.kind {
        TokenKind::Slip => Some(slip_hint(&found.text)),
        TokenKind::Word => {
            let words: Vec<&'static str> = expected.iter().flat_map(|e| e.words()).collect();
            let wants_operator = expected
                .iter()
                .any(|e| matches!(e, Expect::What(d, _) if d.starts_with("an operator")));
            if let Some(s) = suggest(&found.text, &words) {
                return Some(s);
            }
            if wants_operator {
                if let Some(op) = Op::parse(&found.text.to_ascii_lowercase()) {
                    return Some(format!("write `{}`", printer::op_text(op)));
                }
                let w = found.text.to_ascii_lowercase();
                if ["greater", "bigger", "over", "above", "larger"].contains(&w.as_str()) {
                    return Some("write `>` (or `>=`)".into());
                }
                if ["less", "smaller", "under", "below", "fewer"].contains(&w.as_str()) {
                    return Some("write `<` (or `<=`)".into());
                }
                if ["equal", "eq", "is"].contains(&w.as_str()) {
                    return Some("write `=`".into());
                }
            }
            (expects_and && could_start_condition(found)).then(|| missing_and(found))
        }
        TokenKind::Quoted => {
            (expects_and && could_start_condition(found)).then(|| missing_and(found))
        }
        TokenKind::Sym if found.text == ")" && expected.contains(&Expect::End) => {
            Some("this `)` has no matching `(`: remove it".into())
        }
        TokenKind::Sym if found.text == "(" && expects_and => Some(missing_and(found)),
        TokenKind::Unknown => Some(format!(
            "`{}` is not part of the rule language; text values go in double quotes",
            found.text
        )),
        TokenKind::Eof => expected
            .contains(&Expect::Sym(")"))
            .then(|| "close the parenthesis with `)`".into()),
        _ => None,
    }
}

fn missing_and(found: &Token) -> String {
    format!(
        "to combine two conditions, put `and` or `or` before {}",
        describe_token(found)
    )
}

fn slip_hint(text: &str) -> String {
    match text {
        "==" => "compare with a single `=`".into(),
        "=>" => "write `>=`".into(),
        "=<" => "write `<=`".into(),
        "<>" | "!==" => "write `!=`".into(),
        "&&" | "&" => "write `and`".into(),
        "||" | "|" => "write `or`".into(),
        "!" => "write `not` before a condition, or `!=` to compare".into(),
        ";" => "join conditions with `and` or `or`".into(),
        quoted => {
            let inner: String = quoted
                .chars()
                .skip(1)
                .take(quoted.chars().count().saturating_sub(2))
                .collect();
            let s = serde_json::to_string(&inner).unwrap_or_default();
            if quoted.starts_with('\'') {
                format!("write text in double quotes: `{s}`")
            } else {
                format!("replace the curly quotes with straight double quotes: `{s}`")
            }
        }
    }
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
fn check_limits(
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

/// A validation problem in the text's words: JSON operator names become
/// the text's operators, and "did you mean" becomes the hint.
fn text_problem(problem: &Problem) -> (String, Option<String>) {
    let mut message = problem
        .message
        .replace("`case_sensitive`", "`case-sensitive`");
    let mut hint = None;
    if let Some(at) = message.find(" Did you mean `") {
        let suggestion = message[at + 1..].to_string();
        message.truncate(at);
        message = message.trim_end_matches('.').to_string();
        hint = Some(format!("d{}", &suggestion[1..]));
    }
    if problem.path.ends_with("/op") {
        message = translate_ops(&message);
        if let Some(at) = message.find(": use one of ") {
            hint = Some(message[at + 2..].to_string());
            message.truncate(at);
        }
    }
    (message, hint)
}

/// Rewrites backticked JSON operator names (`not_equals`) as the text
/// writes them (`!=`).
fn translate_ops(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('`') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = rest.find('`') else { break };
        let inner = &rest[..close];
        match Op::parse(inner) {
            Some(op) => out.push_str(printer::op_text(op)),
            None => out.push_str(inner),
        }
        out.push('`');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}
