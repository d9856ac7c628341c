//! Tokens → [`Rule`]: one `parse_<rule>` function per rule of the grammar
//! in the [module docs](super), each documented by its rule. This file
//! holds the parser's machinery and the rule structure (`or`, `and`,
//! `not`, groups, segment references, field conditions); conditions,
//! event clauses and operands have their own files.
//!
//! Every function returns the spans of what it parsed beside the AST
//! ([`Spans`]), so later problems found by validation (which speak in JSON
//! pointers) can be pointed at in the text. Syntax errors are reported at
//! the furthest token any alternative reached, with every alternative
//! tried there as "expected".

use std::cell::{Cell, RefCell};
use std::ops::Range;

use winnow::combinator::{cut_err, preceded, repeat};
use winnow::error::{ErrMode, ParserError};
use winnow::prelude::*;
use winnow::stream::{Stateful, Stream, TokenSlice};

use super::condition::parse_condition;
use super::event::parse_event_condition;
use super::lexer::{Token, TokenKind};
use crate::ast::Rule;

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
pub(crate) fn nested<'t, T>(
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
    "a condition (`City = \"Warsaw\"`, `did MailOpen`, `in segment \"vip\"`, …)",
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
