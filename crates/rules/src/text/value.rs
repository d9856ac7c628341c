//! Operands: JSON values written as text (strings, numbers, unquoted
//! dates, lists, objects), and the typed numbers, dates and durations of
//! event clauses.

use std::ops::Range;

use flowseg_model::time::parse_date as parse_date_text;
use flowseg_model::{DateLiteral, Duration};
use serde_json::Value;
use winnow::combinator::cut_err;
use winnow::prelude::*;

use super::lexer::TokenKind;
use super::parser::{
    Expect, Input, PResult, advance, at_sym, expected, fail, nested, peek_nth, peek_tok, prefixed,
    sym,
};

/// An operand as JSON, with its span and the spans of its items.
pub(crate) struct Operand {
    pub value: Value,
    pub span: Range<usize>,
    pub parts: Vec<(String, Range<usize>)>,
}

/// The hint for a number beyond what a rule can hold.
const TOO_LARGE_HINT: &str =
    "numbers in a rule are 64-bit: write one between about -1.8e308 and 1.8e308";

const VALUE: Expect = Expect::What(
    "a value (`\"text\"`, `42`, `2026-06-01`, `[\"a\", \"b\"]`, …)",
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
                    Some(TOO_LARGE_HINT.into()),
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
            let (_, span) = parse_duration(i)?;
            Ok(Operand {
                value: Value::String(t.text.clone()),
                span,
                parts: Vec::new(),
            })
        }
        _ => parse_value(i),
    }
}

/// `number = NUMBER`
pub(crate) fn parse_number(i: &mut Input<'_>) -> PResult<(f64, Range<usize>)> {
    let t = peek_tok(i);
    if t.kind != TokenKind::Number {
        return Err(expected(i, Expect::What("a number", &[])));
    }
    advance(i);
    match t.text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((n, t.span.clone())),
        _ => fail(
            t.span.clone(),
            format!("`{}` is too large a number", t.text),
            Some(TOO_LARGE_HINT.into()),
        ),
    }
}

/// `date = DATE | string`
pub(crate) fn parse_date(i: &mut Input<'_>) -> PResult<(DateLiteral, Range<usize>)> {
    let t = peek_tok(i);
    if !matches!(t.kind, TokenKind::Date | TokenKind::Str) {
        return Err(expected(
            i,
            Expect::What("a date such as `2026-06-01` or `2026-06-01T12:00:00Z`", &[]),
        ));
    }
    advance(i);
    match parse_date_text(&t.text) {
        Ok(d) => Ok((d, t.span.clone())),
        Err(e) => fail(
            t.span.clone(),
            e.to_string(),
            Some("write a date that exists, as `YYYY-MM-DD` (a month 01–12, a day that month has), optionally with a time such as `T12:00:00Z` (hours 00–23)".into()),
        ),
    }
}

/// `duration = DURATION | string` — a positive whole number and a unit
/// `m`, `h`, `d` or `w`, such as `30d`.
pub(crate) fn parse_duration(i: &mut Input<'_>) -> PResult<(Duration, Range<usize>)> {
    let t = peek_tok(i);
    match t.kind {
        TokenKind::Duration | TokenKind::Str => {
            advance(i);
            match Duration::parse(&t.text) {
                Ok(d) => Ok((d, t.span.clone())),
                Err(_) => fail(
                    t.span.clone(),
                    format!("`{}` is not a duration", t.text),
                    Some(duration_hint(&t.text)),
                ),
            }
        }
        TokenKind::Number => {
            let unit = peek_nth(i, 1);
            let spaced = unit.kind == TokenKind::Word
                && suggested_unit(&unit.text).is_some()
                && !unit.is_word("m");
            let (span, hint) = if spaced {
                let u = suggested_unit(&unit.text).unwrap_or('d');
                (
                    t.span.start..unit.span.end,
                    format!("write the unit right after the number: `{}{u}`", t.text),
                )
            } else {
                (
                    t.span.clone(),
                    format!(
                        "add a unit: `{0}d` for days (or `{0}m` minutes, `{0}h` hours, `{0}w` weeks)",
                        t.text
                    ),
                )
            };
            fail(
                span,
                format!("the duration `{}` has no unit", t.text),
                Some(hint),
            )
        }
        _ => Err(expected(i, Expect::What("a duration such as `30d`", &[]))),
    }
}

/// The unit letter a user's word most likely means.
fn suggested_unit(word: &str) -> Option<char> {
    let w = word.to_ascii_lowercase();
    let w = w.as_str();
    if ["m", "min", "mins", "minute", "minutes"].contains(&w) {
        Some('m')
    } else if ["h", "hr", "hrs", "hour", "hours"].contains(&w) {
        Some('h')
    } else if ["d", "day", "days"].contains(&w) {
        Some('d')
    } else if ["w", "wk", "wks", "week", "weeks"].contains(&w) {
        Some('w')
    } else {
        None
    }
}

fn duration_hint(text: &str) -> String {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let rest = &text[digits.len()..];
    let units = "units are `m` minutes, `h` hours, `d` days and `w` weeks";
    if digits.is_empty() || rest.starts_with('.') {
        return format!("write a whole number and a unit, such as `90m` or `30d`; {units}");
    }
    if digits.bytes().all(|b| b == b'0') {
        return "a duration must be longer than zero".into();
    }
    let r = rest.to_ascii_lowercase();
    if let Some(u) = suggested_unit(rest) {
        return format!("write `{digits}{u}`");
    }
    if r.starts_with("mo") {
        return format!(
            "there is no month unit: write days, such as `{}d`",
            digits.parse::<u64>().map_or(30, |n| n.saturating_mul(30))
        );
    }
    if r.starts_with('y') {
        return format!(
            "there is no year unit: write days, such as `{}d`",
            digits.parse::<u64>().map_or(365, |n| n.saturating_mul(365))
        );
    }
    format!("{units}, as in `{digits}d`")
}
