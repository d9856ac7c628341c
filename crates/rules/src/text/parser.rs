//! Tokens → [`Rule`]: one `parse_<rule>` function per rule of the grammar
//! in the [module docs](super), each documented by its rule.
//!
//! Every function returns the spans of what it parsed beside the AST
//! ([`Spans`]), so later problems found by validation (which speak in JSON
//! pointers) can be pointed at in the text. Syntax errors are reported at
//! the furthest token any alternative reached, with every alternative
//! tried there as "expected".

use std::cell::{Cell, RefCell};
use std::ops::Range;

use serde_json::Value;
use winnow::combinator::{cut_err, preceded, repeat};
use winnow::error::{ErrMode, ParserError};
use winnow::prelude::*;
use winnow::stream::{Stateful, Stream, TokenSlice};

use super::event::parse_event_condition;
use super::lexer::{Token, TokenKind};
use crate::ast::{Op, Rule};

pub(crate) type Input<'t> = Stateful<TokenSlice<'t, Token>, &'t State>;
pub(crate) type PResult<T> = winnow::ModalResult<T, SyntaxError>;

/// Deepest nesting of parentheses and `not` the parser follows; far above
/// what the depth limit of rules allows, and small enough for the stack.
const MAX_NESTING: usize = 2 * crate::limits::MAX_DEPTH + 8;

/// Where the text's parts are, for one rule node.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Spans {
    pub span: Range<usize>,
    /// Pointers relative to the node (`/field`, `/where/0/value`) and the
    /// text they came from.
    pub parts: Vec<(String, Range<usize>)>,
    /// The spans of `all`/`any` children, or of `not`'s child.
    pub children: Vec<Spans>,
}

pub(crate) type Node = (Rule, Spans);

/// What the parser would have accepted at a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Word(&'static str),
    Sym(&'static str),
    End,
    /// A description, and the words worth suggesting for a misspelling.
    What(&'static str, &'static [&'static str]),
}

impl Expect {
    pub fn describe(self) -> String {
        match self {
            Expect::Word(w) | Expect::Sym(w) => format!("`{w}`"),
            Expect::End => "the end of the rule".into(),
            Expect::What(d, _) => d.into(),
        }
    }

    pub fn words(self) -> Vec<&'static str> {
        match self {
            Expect::Word(w) => vec![w],
            Expect::What(_, words) => words.to_vec(),
            _ => vec![],
        }
    }
}

/// Parser state shared by every function: the furthest failure, and the
/// nesting depth.
#[derive(Debug)]
pub(crate) struct State {
    pub furthest: RefCell<(usize, Vec<Expect>)>,
    depth: Cell<usize>,
    eof: Token,
}

impl State {
    pub fn new(tokens: &[Token]) -> State {
        let end = tokens.last().map_or(0, |t| t.span.end);
        State {
            furthest: RefCell::new((0, Vec::new())),
            depth: Cell::new(0),
            eof: Token {
                kind: TokenKind::Eof,
                text: String::new(),
                span: end..end,
                index: tokens.len().saturating_sub(1),
            },
        }
    }
}

/// A failed parse. Without `custom`, the message is built from the
/// furthest failure recorded in [`State`].
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub custom: Option<Custom>,
}

#[derive(Debug, Clone)]
pub(crate) struct Custom {
    pub span: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl<'t> ParserError<Input<'t>> for SyntaxError {
    type Inner = Self;

    fn from_input(_input: &Input<'t>) -> Self {
        SyntaxError { custom: None }
    }

    fn or(self, other: Self) -> Self {
        if other.custom.is_some() { other } else { self }
    }

    fn into_inner(self) -> Result<Self, Self> {
        Ok(self)
    }
}

// ---------------------------------------------------------------------------
// Primitives

pub(crate) fn peek_tok<'t>(i: &Input<'t>) -> &'t Token {
    i.input.peek_token().unwrap_or(&i.state.eof)
}

/// The token `n` places after the next one.
pub(crate) fn peek_nth<'t>(i: &Input<'t>, n: usize) -> &'t Token {
    let rest: &'t [Token] = i.input.peek_slice(i.input.eof_offset());
    rest.get(n).unwrap_or(&i.state.eof)
}

pub(crate) fn advance<'t>(i: &mut Input<'t>) -> &'t Token {
    let t = peek_tok(i);
    if t.kind != TokenKind::Eof {
        let _ = i.next_token();
    }
    t
}

pub(crate) fn at_word(i: &Input<'_>, w: &str) -> bool {
    peek_tok(i).is_word(w)
}

pub(crate) fn at_sym(i: &Input<'_>, s: &str) -> bool {
    peek_tok(i).is_sym(s)
}

/// Records that `e` was expected at the next token; returns the
/// backtracking error to fail with.
pub(crate) fn expected(i: &Input<'_>, e: Expect) -> ErrMode<SyntaxError> {
    let at = peek_tok(i).index;
    let mut furthest = i.state.furthest.borrow_mut();
    if at > furthest.0 {
        *furthest = (at, vec![e]);
    } else if at == furthest.0 && !furthest.1.contains(&e) {
        furthest.1.push(e);
    }
    ErrMode::Backtrack(SyntaxError { custom: None })
}

/// A failure that stops the parse with its own message.
pub(crate) fn fail<T>(span: Range<usize>, message: String, hint: Option<String>) -> PResult<T> {
    Err(ErrMode::Cut(SyntaxError {
        custom: Some(Custom {
            span,
            message,
            hint,
        }),
    }))
}

/// The bare word `w` (case-insensitive).
pub(crate) fn word<'t>(w: &'static str) -> impl FnMut(&mut Input<'t>) -> PResult<&'t Token> {
    move |i: &mut Input<'t>| {
        if at_word(i, w) {
            Ok(advance(i))
        } else {
            Err(expected(i, Expect::Word(w)))
        }
    }
}

/// The symbol `s`.
pub(crate) fn sym<'t>(s: &'static str) -> impl FnMut(&mut Input<'t>) -> PResult<&'t Token> {
    move |i: &mut Input<'t>| {
        if at_sym(i, s) {
            Ok(advance(i))
        } else {
            Err(expected(i, Expect::Sym(s)))
        }
    }
}

/// Runs `f` one nesting level deeper, refusing runaway nesting.
fn nested<'t, T>(
    i: &mut Input<'t>,
    at: &Token,
    f: impl FnOnce(&mut Input<'t>) -> PResult<T>,
) -> PResult<T> {
    let depth = i.state.depth.get() + 1;
    if depth > MAX_NESTING {
        return fail(
            at.span.clone(),
            format!("the rule is nested more than {MAX_NESTING} levels deep"),
            Some("flatten the rule, or split it into saved segments and reference them".into()),
        );
    }
    i.state.depth.set(depth);
    let out = f(i);
    i.state.depth.set(depth - 1);
    out
}

/// Prefixes every pointer in `parts` with `prefix`.
pub(crate) fn prefixed(
    prefix: &str,
    parts: Vec<(String, Range<usize>)>,
) -> impl Iterator<Item = (String, Range<usize>)> {
    let prefix = prefix.to_string();
    parts
        .into_iter()
        .map(move |(p, s)| (format!("{prefix}{p}"), s))
}

// ---------------------------------------------------------------------------
// Rules

/// `rule = or_rule EOF`
pub(crate) fn parse_rule(i: &mut Input<'_>) -> PResult<Node> {
    let node = parse_or_rule(i)?;
    if peek_tok(i).kind != TokenKind::Eof {
        return Err(expected(i, Expect::End));
    }
    Ok(node)
}

fn group(make: fn(Vec<Rule>) -> Rule, first: Node, rest: Vec<Node>) -> Node {
    let start = first.1.span.start;
    let mut rules = Vec::with_capacity(rest.len() + 1);
    let mut spans = Vec::with_capacity(rest.len() + 1);
    for (r, s) in std::iter::once(first).chain(rest) {
        rules.push(r);
        spans.push(s);
    }
    let end = spans.last().map_or(start, |s| s.span.end);
    (
        make(rules),
        Spans {
            span: start..end,
            parts: Vec::new(),
            children: spans,
        },
    )
}

/// `or_rule = and_rule { "or" and_rule }`
pub(crate) fn parse_or_rule(i: &mut Input<'_>) -> PResult<Node> {
    let first = parse_and_rule(i)?;
    let rest: Vec<Node> =
        repeat(0.., preceded(word("or"), cut_err(parse_and_rule))).parse_next(i)?;
    Ok(if rest.is_empty() {
        first
    } else {
        group(Rule::Any, first, rest)
    })
}

/// `and_rule = unary_rule { "and" unary_rule }`
pub(crate) fn parse_and_rule(i: &mut Input<'_>) -> PResult<Node> {
    let first = parse_unary_rule(i)?;
    let rest: Vec<Node> =
        repeat(0.., preceded(word("and"), cut_err(parse_unary_rule))).parse_next(i)?;
    Ok(if rest.is_empty() {
        first
    } else {
        group(Rule::All, first, rest)
    })
}

/// `unary_rule = "not" unary_rule | primary_rule`
pub(crate) fn parse_unary_rule(i: &mut Input<'_>) -> PResult<Node> {
    let t = peek_tok(i);
    if !t.is_word("not") {
        return parse_primary_rule(i);
    }
    advance(i);
    let (child, spans) = nested(i, t, |i| cut_err(parse_unary_rule).parse_next(i))?;
    let span = t.span.start..spans.span.end;
    Ok((
        Rule::Not(Box::new(child)),
        Spans {
            span,
            parts: Vec::new(),
            children: vec![spans],
        },
    ))
}

/// Words that start a rule node, and so are never read as a field name.
const RULE_WORDS: [&str; 8] = ["not", "did", "in", "all", "any", "everyone", "and", "or"];

const CONDITION: Expect = Expect::What(
    "a condition such as `City = \"Warsaw\"`, `did MailOpen` or `in segment \"vip\"`",
    &["did", "not", "in", "everyone", "all", "any"],
);

/// ```text
/// primary_rule = "(" or_rule ")" | group | "everyone" | segment_ref
///              | event_condition | field_condition
/// ```
pub(crate) fn parse_primary_rule(i: &mut Input<'_>) -> PResult<Node> {
    let t = peek_tok(i);
    match t.kind {
        TokenKind::Sym if t.text == "(" => {
            advance(i);
            let (rule, mut spans) = nested(i, t, |i| cut_err(parse_or_rule).parse_next(i))?;
            let close = cut_err(sym(")")).parse_next(i)?;
            // The parentheses belong to the node, so its problems cover them.
            spans.span = t.span.start..close.span.end;
            Ok((rule, spans))
        }
        TokenKind::Word if t.is_word("all") || t.is_word("any") => parse_group(i),
        TokenKind::Word if t.is_word("everyone") => {
            advance(i);
            Ok((
                Rule::everyone(),
                Spans {
                    span: t.span.clone(),
                    ..Spans::default()
                },
            ))
        }
        TokenKind::Word if t.is_word("in") => parse_segment_ref(i),
        TokenKind::Word if t.is_word("did") => parse_event_condition(i),
        TokenKind::Word if !RULE_WORDS.iter().any(|w| t.is_word(w)) => parse_field_condition(i),
        TokenKind::Quoted => parse_field_condition(i),
        _ => Err(expected(i, CONDITION)),
    }
}

/// `group = ( "all" | "any" ) "of" "(" or_rule ")"` — a group of one
/// rule, as the panel makes them.
pub(crate) fn parse_group(i: &mut Input<'_>) -> PResult<Node> {
    let t = advance(i);
    let any = t.is_word("any");
    cut_err(word("of")).parse_next(i)?;
    let open = cut_err(sym("(")).parse_next(i)?;
    if at_sym(i, ")") && any {
        return fail(
            open.span.start..peek_tok(i).span.end,
            "`any of ()` is empty, and an empty `any` matches nobody".into(),
            Some("give at least one condition; for nobody write `not everyone`".into()),
        );
    }
    let (inner, spans) = nested(i, t, |i| cut_err(parse_or_rule).parse_next(i))?;
    let close = cut_err(sym(")")).parse_next(i)?;
    let rule = if any {
        Rule::Any(vec![inner])
    } else {
        Rule::All(vec![inner])
    };
    Ok((
        rule,
        Spans {
            span: t.span.start..close.span.end,
            parts: Vec::new(),
            children: vec![spans],
        },
    ))
}

/// `segment_ref = "in" "segment" ( string | name )`
pub(crate) fn parse_segment_ref(i: &mut Input<'_>) -> PResult<Node> {
    let t = advance(i);
    cut_err(word("segment")).parse_next(i)?;
    let id = peek_tok(i);
    if !matches!(
        id.kind,
        TokenKind::Str | TokenKind::Word | TokenKind::Quoted
    ) {
        return Err(expected(
            i,
            Expect::What("a segment in double quotes, such as `\"newsletter\"`", &[]),
        )
        .cut());
    }
    advance(i);
    if id.text.is_empty() {
        return fail(
            id.span.clone(),
            "the segment is empty".into(),
            Some("write the id or name of a saved segment".into()),
        );
    }
    Ok((
        Rule::Segment(id.text.clone()),
        Spans {
            span: t.span.start..id.span.end,
            parts: vec![("/segment".into(), id.span.clone())],
            children: Vec::new(),
        },
    ))
}

/// `field_condition = name condition`
pub(crate) fn parse_field_condition(i: &mut Input<'_>) -> PResult<Node> {
    let (field, field_span) = parse_name(i, "a field name")?;
    let cond = cut_err(parse_condition).parse_next(i)?;
    let mut parts = vec![("/field".to_string(), field_span.clone())];
    parts.extend(cond.parts);
    Ok((
        Rule::Field(crate::ast::FieldCondition {
            field,
            op: cond.op,
            value: cond.value,
            case_sensitive: cond.case_sensitive,
        }),
        Spans {
            span: field_span.start..cond.end,
            parts,
            children: Vec::new(),
        },
    ))
}

/// `name = word | quoted`
pub(crate) fn parse_name(i: &mut Input<'_>, what: &'static str) -> PResult<(String, Range<usize>)> {
    let t = peek_tok(i);
    match t.kind {
        TokenKind::Word | TokenKind::Quoted => {
            advance(i);
            if t.text.is_empty() {
                return fail(
                    t.span.clone(),
                    format!("expected {what}, found an empty name"),
                    Some("write the name between the backticks".into()),
                );
            }
            Ok((t.text.clone(), t.span.clone()))
        }
        _ => Err(expected(i, Expect::What(what, &[]))),
    }
}

// ---------------------------------------------------------------------------
// Conditions on a field or an attribute

/// A parsed `condition`: operator, operand and case sensitivity, with the
/// spans of each (pointers relative to the condition).
pub(crate) struct Condition {
    pub op: Op,
    pub value: Option<Value>,
    pub case_sensitive: bool,
    pub parts: Vec<(String, Range<usize>)>,
    pub end: usize,
}

const OPERATOR: Expect = Expect::What(
    "an operator such as `=`, `contains`, `in`, `between` or `has value`",
    &[
        "equals", "contains", "does", "not", "starts", "ends", "in", "matches", "has", "between",
        "before", "after", "within", "more", "is",
    ],
);

/// `condition = operator [ "case-sensitive" | "case" "sensitive" ]`
pub(crate) fn parse_condition(i: &mut Input<'_>) -> PResult<Condition> {
    let (op, op_span, operand) = parse_operator(i)?;
    let mut parts = vec![("/op".to_string(), op_span.clone())];
    let mut end = op_span.end;
    // `null` is no operand, as in JSON.
    let value = operand.and_then(|o| {
        end = o.span.end;
        parts.push(("/value".into(), o.span.clone()));
        parts.extend(prefixed("/value", o.parts));
        Some(o.value).filter(|v| !v.is_null())
    });
    let t = peek_tok(i);
    let case_sensitive = if t.is_word("case-sensitive") {
        advance(i);
        true
    } else if t.is_word("case") && peek_nth(i, 1).is_word("sensitive") {
        advance(i);
        advance(i);
        true
    } else {
        false
    };
    if case_sensitive {
        let last = i
            .input
            .previous_tokens()
            .next()
            .map_or(t.span.end, |p| p.span.end);
        parts.push(("/case_sensitive".into(), t.span.start..last));
        end = last;
    }
    Ok(Condition {
        op,
        value,
        case_sensitive,
        parts,
        end,
    })
}

/// ```text
/// operator = ( "=" | "equals" ) value | "!=" value
///          | ">" value | ">=" value | "<" value | "<=" value
///          | "contains" value | ( "does" "not" "contain" | "not" "contains" ) value
///          | "starts" "with" value | "ends" "with" value
///          | "in" value | "not" "in" value | "matches" value
///          | "has" "value" | "has" "no" "value"
///          | "between" ( value "and" value | list )
///          | "before" value | "after" value
///          | ( "within" | "in" ) [ "the" ] ( "last" | "next" ) period
///          | "more" "than" period "ago"
///          | "is" "true" | "is" "false"
/// ```
pub(crate) fn parse_operator(i: &mut Input<'_>) -> PResult<(Op, Range<usize>, Option<Operand>)> {
    let t = peek_tok(i);
    let start = t.span.start;
    let simple = |op: Op| Some(op);
    let direct = match t.kind {
        TokenKind::Sym => match t.text.as_str() {
            "=" => simple(Op::Equals),
            "!=" => simple(Op::NotEquals),
            ">" => simple(Op::Gt),
            ">=" => simple(Op::Gte),
            "<" => simple(Op::Lt),
            "<=" => simple(Op::Lte),
            _ => None,
        },
        TokenKind::Word => {
            let w = t.text.to_ascii_lowercase();
            match w.as_str() {
                "equals" => simple(Op::Equals),
                "contains" => simple(Op::Contains),
                "matches" => simple(Op::Matches),
                "before" => simple(Op::Before),
                "after" => simple(Op::After),
                _ => None,
            }
        }
        _ => None,
    };
    if let Some(op) = direct {
        advance(i);
        let operand = cut_err(parse_value).parse_next(i)?;
        return Ok((op, t.span.clone(), Some(operand)));
    }
    if t.kind != TokenKind::Word {
        return Err(expected(i, OPERATOR));
    }
    let w = t.text.to_ascii_lowercase();
    let end_here = |i: &Input<'_>| {
        i.input
            .previous_tokens()
            .next()
            .map_or(start, |p| p.span.end)
    };
    match w.as_str() {
        "does" => {
            advance(i);
            cut_err(word("not")).parse_next(i)?;
            if !at_word(i, "contains") {
                cut_err(word("contain")).parse_next(i)?;
            } else {
                advance(i);
            }
            let span = start..end_here(i);
            let operand = cut_err(parse_value).parse_next(i)?;
            Ok((Op::NotContains, span, Some(operand)))
        }
        "not" => {
            advance(i);
            let op = if at_word(i, "contains") {
                Op::NotContains
            } else if at_word(i, "in") {
                Op::NotIn
            } else {
                expected(i, Expect::Word("contains"));
                return Err(expected(i, Expect::Word("in")).cut());
            };
            advance(i);
            let span = start..end_here(i);
            let operand = cut_err(parse_value).parse_next(i)?;
            Ok((op, span, Some(operand)))
        }
        "starts" | "ends" => {
            advance(i);
            cut_err(word("with")).parse_next(i)?;
            let op = if w == "starts" {
                Op::StartsWith
            } else {
                Op::EndsWith
            };
            let span = start..end_here(i);
            let operand = cut_err(parse_value).parse_next(i)?;
            Ok((op, span, Some(operand)))
        }
        "in" | "within" => {
            advance(i);
            let next = peek_tok(i);
            let relative = next.is_word("last") || next.is_word("next") || next.is_word("the");
            if w == "in" && !relative {
                let operand = cut_err(parse_value).parse_next(i)?;
                return Ok((Op::In, t.span.clone(), Some(operand)));
            }
            if next.is_word("the") {
                advance(i);
            }
            let op = if at_word(i, "last") {
                Op::WithinLast
            } else if at_word(i, "next") {
                Op::WithinNext
            } else {
                expected(i, Expect::Word("last"));
                return Err(expected(i, Expect::Word("next")).cut());
            };
            advance(i);
            let span = start..end_here(i);
            let operand = cut_err(parse_period).parse_next(i)?;
            Ok((op, span, Some(operand)))
        }
        "more" => {
            advance(i);
            cut_err(word("than")).parse_next(i)?;
            let operand = cut_err(parse_period).parse_next(i)?;
            let ago = cut_err(word("ago")).parse_next(i)?;
            // The operator is `more than … ago` around its operand.
            Ok((Op::MoreThanAgo, start..ago.span.end, Some(operand)))
        }
        "has" => {
            advance(i);
            let op = if at_word(i, "no") {
                advance(i);
                Op::HasNoValue
            } else {
                Op::HasValue
            };
            cut_err(word("value")).parse_next(i)?;
            Ok((op, start..end_here(i), None))
        }
        "is" => {
            advance(i);
            let op = if at_word(i, "true") {
                Op::IsTrue
            } else if at_word(i, "false") {
                Op::IsFalse
            } else {
                let after = peek_tok(i);
                let hint = if after.is_word("not") {
                    "write `!=` to compare, or `is false`"
                } else {
                    "write `=` to compare with a value"
                };
                return fail(
                    t.span.start..after.span.end,
                    format!(
                        "`is` takes `true` or `false`, found {}",
                        describe_token(after)
                    ),
                    Some(hint.into()),
                );
            };
            advance(i);
            Ok((op, start..end_here(i), None))
        }
        "between" => {
            advance(i);
            let span = t.span.clone();
            let operand = cut_err(parse_between_operand).parse_next(i)?;
            Ok((Op::Between, span, Some(operand)))
        }
        _ => Err(expected(i, OPERATOR)),
    }
}

/// `between_operand = value "and" value | list` — two bounds become the
/// list `[low, high]`; a list stands for itself.
fn parse_between_operand(i: &mut Input<'_>) -> PResult<Operand> {
    let list_form = at_sym(i, "[");
    let low = parse_value(i)?;
    if list_form && !at_word(i, "and") {
        return Ok(low);
    }
    cut_err(word("and")).parse_next(i)?;
    let high = cut_err(parse_value).parse_next(i)?;
    let mut parts = vec![
        ("/0".to_string(), low.span.clone()),
        ("/1".to_string(), high.span.clone()),
    ];
    parts.extend(prefixed("/0", low.parts));
    parts.extend(prefixed("/1", high.parts));
    Ok(Operand {
        value: Value::Array(vec![low.value, high.value]),
        span: low.span.start..high.span.end,
        parts,
    })
}

// ---------------------------------------------------------------------------
// Values

/// An operand as JSON, with its span and the spans of its items.
pub(crate) struct Operand {
    pub value: Value,
    pub span: Range<usize>,
    pub parts: Vec<(String, Range<usize>)>,
}

const VALUE: Expect = Expect::What(
    "a value such as `\"text\"`, `42`, `2026-06-01` or `[\"a\", \"b\"]`",
    &["true", "false", "null"],
);

/// A number as written: integers stay integers (as in JSON), anything
/// with a fraction or exponent is a float.
pub(crate) fn number_value(text: &str) -> Option<Value> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(u) = text.parse::<u64>() {
            return Some(Value::from(u));
        }
        if let Ok(n) = text.parse::<i64>() {
            return Some(Value::from(n));
        }
    }
    let f: f64 = text.parse().ok()?;
    serde_json::Number::from_f64(f).map(Value::Number)
}

/// `value = string | number | date | "true" | "false" | "null" | list | object`
pub(crate) fn parse_value(i: &mut Input<'_>) -> PResult<Operand> {
    let t = peek_tok(i);
    let value = match t.kind {
        TokenKind::Str | TokenKind::Date => Value::String(t.text.clone()),
        TokenKind::Number => match number_value(&t.text) {
            Some(v) => v,
            None => {
                return fail(
                    t.span.clone(),
                    format!("`{}` is too large a number", t.text),
                    None,
                );
            }
        },
        TokenKind::Word if t.is_word("true") => Value::Bool(true),
        TokenKind::Word if t.is_word("false") => Value::Bool(false),
        TokenKind::Word if t.is_word("null") => Value::Null,
        TokenKind::Sym if t.text == "[" => return parse_list(i),
        TokenKind::Sym if t.text == "{" => return parse_object(i),
        TokenKind::Duration => {
            return fail(
                t.span.clone(),
                format!("`{}` is a duration, which is not a value here", t.text),
                Some(
                    "durations follow `in last`, `within next` or `more than`, as in `CreateTime in last 30d`; for text write `\"…\"`"
                        .into(),
                ),
            );
        }
        TokenKind::Word | TokenKind::Quoted if !super::KEYWORDS.iter().any(|k| t.is_word(k)) => {
            return fail(
                t.span.clone(),
                format!("expected a value, found the name `{}`", t.text),
                Some(format!(
                    "write text in double quotes: `{}`",
                    serde_json::to_string(&t.text).unwrap_or_default()
                )),
            );
        }
        _ => return Err(expected(i, VALUE)),
    };
    advance(i);
    Ok(Operand {
        value,
        span: t.span.clone(),
        parts: Vec::new(),
    })
}

/// `list = "[" [ value { "," value } ] "]"`
pub(crate) fn parse_list(i: &mut Input<'_>) -> PResult<Operand> {
    let open = advance(i);
    let mut items = Vec::new();
    let mut parts = Vec::new();
    if !at_sym(i, "]") {
        loop {
            let item = nested(i, open, |i| cut_err(parse_value).parse_next(i))?;
            let n = items.len();
            parts.push((format!("/{n}"), item.span.clone()));
            parts.extend(prefixed(&format!("/{n}"), item.parts));
            items.push(item.value);
            if at_sym(i, ",") {
                advance(i);
            } else {
                let _ = expected(i, Expect::Sym(","));
                break;
            }
        }
    }
    let close = cut_err(sym("]")).parse_next(i)?;
    Ok(Operand {
        value: Value::Array(items),
        span: open.span.start..close.span.end,
        parts,
    })
}

/// `object = "{" [ string ":" value { "," string ":" value } ] "}"`
pub(crate) fn parse_object(i: &mut Input<'_>) -> PResult<Operand> {
    let open = advance(i);
    let mut map = serde_json::Map::new();
    let mut parts = Vec::new();
    if !at_sym(i, "}") {
        loop {
            let key = peek_tok(i);
            if key.kind != TokenKind::Str {
                return Err(expected(i, Expect::What("a key in double quotes", &[])).cut());
            }
            advance(i);
            cut_err(sym(":")).parse_next(i)?;
            let item = nested(i, open, |i| cut_err(parse_value).parse_next(i))?;
            let p = crate::problem::Path::new("").join(&key.text);
            parts.push((p.as_str().to_string(), item.span.clone()));
            parts.extend(prefixed(p.as_str(), item.parts));
            map.insert(key.text.clone(), item.value);
            if at_sym(i, ",") {
                advance(i);
            } else {
                let _ = expected(i, Expect::Sym(","));
                break;
            }
        }
    }
    let close = cut_err(sym("}")).parse_next(i)?;
    Ok(Operand {
        value: Value::Object(map),
        span: open.span.start..close.span.end,
        parts,
    })
}

/// `period = duration | value` — the operand of `in last`, `within next`
/// and `more than … ago`; a bare number is refused for want of a unit.
pub(crate) fn parse_period(i: &mut Input<'_>) -> PResult<Operand> {
    let t = peek_tok(i);
    match t.kind {
        TokenKind::Duration | TokenKind::Number => {
            let (_, span) = super::event::parse_duration(i)?;
            Ok(Operand {
                value: Value::String(t.text.clone()),
                span,
                parts: Vec::new(),
            })
        }
        _ => parse_value(i),
    }
}

/// How a token is named in a message.
pub(crate) fn describe_token(t: &Token) -> String {
    match t.kind {
        TokenKind::Eof => "the end of the rule".into(),
        TokenKind::Str => {
            let s = serde_json::to_string(&t.text).unwrap_or_default();
            format!("`{}`", shorten(&s))
        }
        TokenKind::Quoted => format!("`{}`", shorten(&t.text)),
        _ => format!("`{}`", shorten(&t.text)),
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(39).collect::<String>())
    } else {
        s.to_string()
    }
}
