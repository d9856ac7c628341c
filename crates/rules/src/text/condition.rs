//! Conditions on a field or an event attribute: `name operator operand`.
//! Both share one operator syntax; which operators fit which field is
//! validation's business.

use std::ops::Range;

use serde_json::Value;
use winnow::combinator::cut_err;
use winnow::prelude::*;

use super::lexer::TokenKind;
use super::parser::{
    Expect, Input, PResult, advance, at_sym, at_word, expected, fail, peek_nth, peek_tok, prefixed,
    word,
};
use super::report::describe_token;
use super::value::{Operand, parse_period, parse_value};
use crate::ast::Op;

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
    "an operator (`=`, `contains`, `in`, `between`, `has value`, …)",
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
