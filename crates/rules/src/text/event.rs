//! Event conditions: `did NAME` and its clauses (`where`, a count or an
//! aggregate, a time window, `followed by`). Clauses may come in any
//! order, each at most once; the printer writes them in the order of the
//! grammar.

use std::ops::Range;

use winnow::combinator::cut_err;
use winnow::prelude::*;

use super::condition::parse_condition;
use super::lexer::TokenKind;
use super::parser::{
    Expect, Input, Node, PResult, Spans, advance, at_sym, at_word, expected, fail, parse_name,
    peek_nth, peek_tok, prefixed, sym, word,
};
use super::value::{parse_date, parse_duration, parse_number};
use crate::ast::{
    AggregateFn, AttrCondition, Comparison, EventCondition, Measure, Rule, Sequence, Within,
};

type Parts = Vec<(String, Range<usize>)>;

/// The end of the last token consumed.
fn last_end(i: &Input<'_>) -> usize {
    i.input.previous_tokens().next().map_or(0, |t| t.span.end)
}

/// The hint for an event name that is not one.
const EVENT_NAME_HINT: &str =
    "write the name the events are sent with, such as `purchase` or `MailOpen`";

const CLAUSE: Expect = Expect::What(
    "a clause (`where …`, `at least 2 times`, `in last 30d`, …)",
    &[
        "where", "at", "least", "most", "exactly", "between", "more", "less", "fewer", "with",
        "in", "within", "last", "from", "since", "before", "until", "followed", "on",
    ],
);

#[derive(Clone, Copy, PartialEq)]
enum Clause {
    Where,
    Count,
    Aggregate,
    Window,
    Sequence,
}

/// Which clause the next tokens start, if any.
fn classify_clause(i: &Input<'_>) -> Option<Clause> {
    let t = peek_tok(i);
    if t.kind != TokenKind::Word {
        return None;
    }
    let next = peek_nth(i, 1);
    Some(match t.text.to_ascii_lowercase().as_str() {
        "where" => Clause::Where,
        "at" | "exactly" | "less" | "fewer" | "between" => Clause::Count,
        "more" if peek_nth(i, 2).kind == TokenKind::Duration => Clause::Window,
        "more" => Clause::Count,
        "not" if next.is_word("exactly") => Clause::Count,
        "not" if next.is_word("followed") => Clause::Sequence,
        "with" => Clause::Aggregate,
        // After an event, `in` opens a window unless a segment reference
        // follows (which wants an `and` before it).
        "in" if !next.is_word("segment") => Clause::Window,
        "within" | "from" | "since" | "before" | "until" | "to" => Clause::Window,
        "followed" => Clause::Sequence,
        _ => return None,
    })
}

/// ```text
/// event_condition = "did" name { event_clause }
/// event_clause    = where_clause | count | aggregate | window | sequence
/// ```
pub(crate) fn parse_event_condition(i: &mut Input<'_>) -> PResult<Node> {
    let did = advance(i);
    let after = peek_tok(i);
    if after.is_word("not") {
        return fail(
            did.span.start..after.span.end,
            "`did not` is written `not did`".into(),
            Some("for contacts who never did it write `not did <event>`, or count with `did <event> exactly 0 times`".into()),
        );
    }
    let (event, event_span) =
        cut_err(|i: &mut Input<'_>| parse_name(i, "an event name such as `MailOpen`"))
            .parse_next(i)?;
    if let Err(e) = flowseg_model::event::check_event_name(&event) {
        return fail(event_span, e, Some(EVENT_NAME_HINT.into()));
    }
    let mut cond = EventCondition {
        event,
        filters: Vec::new(),
        within: None,
        measure: None,
        sequence: None,
    };
    let mut parts: Parts = vec![("/event".into(), event_span)];
    let mut seen: Vec<Clause> = Vec::new();
    loop {
        let Some(clause) = classify_clause(i) else {
            let _ = expected(i, CLAUSE);
            break;
        };
        let start = peek_tok(i).span.start;
        let twin = |c: Clause| {
            matches!(
                (c, clause),
                (Clause::Count, Clause::Aggregate) | (Clause::Aggregate, Clause::Count)
            )
        };
        if seen.iter().any(|c| *c == clause || twin(*c)) {
            let (message, hint) = duplicate_clause(clause);
            return fail(peek_tok(i).span.clone(), message.into(), Some(hint.into()));
        }
        match clause {
            Clause::Where => {
                let (filters, p) = parse_where_clause(i)?;
                cond.filters = filters;
                parts.extend(prefixed("/where", p));
            }
            Clause::Count => {
                let c = parse_count(i)?;
                cond.measure = Some(Measure::Count(c));
                parts.push(("/count".into(), start..last_end(i)));
            }
            Clause::Aggregate => {
                let (m, attr_span) = parse_aggregate(i)?;
                cond.measure = Some(m);
                parts.push(("/aggregate".into(), start..last_end(i)));
                parts.push(("/aggregate/attribute".into(), attr_span));
            }
            Clause::Window => {
                cond.within = Some(parse_window(i)?);
                parts.push(("/within".into(), start..last_end(i)));
            }
            Clause::Sequence => {
                let (s, p) = parse_sequence(i)?;
                let key = if s.negated {
                    "/not_followed_by"
                } else {
                    "/followed_by"
                };
                cond.sequence = Some(s);
                parts.push((key.into(), start..last_end(i)));
                parts.extend(prefixed(key, p));
            }
        }
        seen.push(clause);
    }
    Ok((
        Rule::Event(cond),
        Spans {
            span: did.span.start..last_end(i),
            parts,
            children: Vec::new(),
        },
    ))
}

fn duplicate_clause(clause: Clause) -> (&'static str, &'static str) {
    match clause {
        Clause::Where => (
            "this event condition already has a `where`",
            "put all attribute conditions in one `where (… and …)`",
        ),
        Clause::Count | Clause::Aggregate => (
            "this event condition already has a count or an aggregate",
            "an event condition takes one count (`at least 2 times`) or one aggregate (`with sum of price > 100`)",
        ),
        Clause::Window => (
            "this event condition already has a time window",
            "give one window: `in last 30d`, `more than 30d ago`, or `from 2026-06-01 to 2026-07-01`",
        ),
        Clause::Sequence => (
            "this event condition already has a `followed by`",
            "an event condition takes one `followed by` or `not followed by`",
        ),
    }
}

/// `where_clause = "where" ( attr_condition | "(" attr_condition { "and" attr_condition } ")" )`
pub(crate) fn parse_where_clause(i: &mut Input<'_>) -> PResult<(Vec<AttrCondition>, Parts)> {
    advance(i);
    let mut filters = Vec::new();
    let mut parts = Parts::new();
    let mut push = |(c, p, span): (AttrCondition, Parts, Range<usize>), filters: &mut Vec<_>| {
        let n = format!("/{}", filters.len());
        parts.push((n.clone(), span));
        parts.extend(prefixed(&n, p));
        filters.push(c);
    };
    if !at_sym(i, "(") {
        push(cut_err(parse_attr_condition).parse_next(i)?, &mut filters);
        return Ok((filters, parts));
    }
    advance(i);
    loop {
        push(cut_err(parse_attr_condition).parse_next(i)?, &mut filters);
        if at_word(i, "and") {
            advance(i);
            continue;
        }
        if at_word(i, "or") {
            return fail(
                peek_tok(i).span.clone(),
                "conditions inside `where` are joined with `and` only: every one must hold".into(),
                Some("to accept either, write two event conditions joined by `or`: `did X where a = 1 or did X where b = 2`".into()),
            );
        }
        let _ = expected(i, Expect::Word("and"));
        cut_err(sym(")")).parse_next(i)?;
        return Ok((filters, parts));
    }
}

/// `attr_condition = name condition`
pub(crate) fn parse_attr_condition(
    i: &mut Input<'_>,
) -> PResult<(AttrCondition, Parts, Range<usize>)> {
    let (attribute, span) = parse_name(i, "an attribute name such as `price`")?;
    let cond = cut_err(parse_condition).parse_next(i)?;
    let mut parts = vec![("/attribute".to_string(), span.clone())];
    parts.extend(cond.parts);
    Ok((
        AttrCondition {
            attribute,
            op: cond.op,
            value: cond.value,
            case_sensitive: cond.case_sensitive,
        },
        parts,
        span.start..cond.end,
    ))
}

fn between_bounds(i: &mut Input<'_>, unit: &str) -> PResult<Comparison> {
    let (low, low_span) = cut_err(parse_number).parse_next(i)?;
    cut_err(word("and")).parse_next(i)?;
    let (high, high_span) = cut_err(parse_number).parse_next(i)?;
    if low > high {
        let n = |x: f64| crate::json::number_to_json(x).to_string();
        return fail(
            low_span.start..high_span.end,
            format!(
                "the low bound {} is greater than the high bound {}",
                n(low),
                n(high)
            ),
            Some(format!("write `between {} and {}{unit}`", n(high), n(low))),
        );
    }
    Ok(Comparison::Between(low, high))
}

/// ```text
/// count = ( "at" "least" | "at" "most" | "more" "than" | ( "less" | "fewer" ) "than"
///         | [ "not" ] "exactly" ) number times
///       | "between" number "and" number times
/// times = "times" | "time"
/// ```
pub(crate) fn parse_count(i: &mut Input<'_>) -> PResult<Comparison> {
    let t = advance(i);
    let w = t.text.to_ascii_lowercase();
    let make: fn(f64) -> Comparison = match w.as_str() {
        "at" => {
            if at_word(i, "least") {
                advance(i);
                Comparison::Gte
            } else if at_word(i, "most") {
                advance(i);
                Comparison::Lte
            } else {
                let _ = expected(i, Expect::Word("least"));
                return Err(expected(i, Expect::Word("most")).cut());
            }
        }
        "more" | "less" | "fewer" => {
            cut_err(word("than")).parse_next(i)?;
            if w == "more" {
                Comparison::Gt
            } else {
                Comparison::Lt
            }
        }
        "not" => {
            advance(i);
            Comparison::NotEquals
        }
        "exactly" => Comparison::Equals,
        _ => {
            let c = between_bounds(i, " times")?;
            parse_times(i)?;
            return Ok(c);
        }
    };
    let (n, _) = cut_err(parse_number).parse_next(i)?;
    parse_times(i)?;
    Ok(make(n))
}

fn parse_times(i: &mut Input<'_>) -> PResult<()> {
    if at_word(i, "times") || at_word(i, "time") {
        advance(i);
        return Ok(());
    }
    let t = peek_tok(i);
    if t.is_word("ago") {
        let number = i.input.previous_tokens().next().cloned();
        let span = number.map_or(t.span.clone(), |n| n.span.start..t.span.end);
        return fail(
            span,
            "a duration needs a unit".into(),
            Some("write it with a unit, such as `more than 30d ago` (units: `m` minutes, `h` hours, `d` days, `w` weeks)".into()),
        );
    }
    Err(expected(i, Expect::Word("times")).cut())
}

const AGGREGATES: Expect = Expect::What(
    "`sum`, `avg`, `min` or `max`",
    &["sum", "avg", "min", "max", "average"],
);

/// ```text
/// aggregate  = "with" ( "sum" | "avg" | "average" | "min" | "max" ) "of" name comparison
/// comparison = ( "=" | "!=" | ">" | ">=" | "<" | "<=" ) number
///            | "between" number "and" number
/// ```
pub(crate) fn parse_aggregate(i: &mut Input<'_>) -> PResult<(Measure, Range<usize>)> {
    advance(i);
    let f = peek_tok(i);
    let func = match f.text.to_ascii_lowercase().as_str() {
        _ if f.kind != TokenKind::Word => None,
        "sum" => Some(AggregateFn::Sum),
        "avg" | "average" => Some(AggregateFn::Avg),
        "min" => Some(AggregateFn::Min),
        "max" => Some(AggregateFn::Max),
        _ => None,
    };
    let Some(func) = func else {
        let hint = if f.is_word("total") {
            "write `sum` for a total"
        } else if f.is_word("count") {
            "to count events write `at least 2 times` instead of `with …`"
        } else {
            return Err(expected(i, AGGREGATES).cut());
        };
        return fail(
            f.span.clone(),
            format!("expected `sum`, `avg`, `min` or `max`, found `{}`", f.text),
            Some(hint.into()),
        );
    };
    advance(i);
    cut_err(word("of")).parse_next(i)?;
    let (attribute, span) =
        cut_err(|i: &mut Input<'_>| parse_name(i, "an attribute name such as `price`"))
            .parse_next(i)?;
    let comparison = cut_err(parse_comparison).parse_next(i)?;
    Ok((
        Measure::Aggregate {
            func,
            attribute,
            comparison,
        },
        span,
    ))
}

const COMPARISON: Expect = Expect::What(
    "a comparison: `=`, `!=`, `>`, `>=`, `<`, `<=` or `between`",
    &["between"],
);

/// The `comparison` rule (see [`parse_aggregate`]).
pub(crate) fn parse_comparison(i: &mut Input<'_>) -> PResult<Comparison> {
    let t = peek_tok(i);
    let make: fn(f64) -> Comparison = match (t.kind, t.text.as_str()) {
        (TokenKind::Sym, "=") => Comparison::Equals,
        (TokenKind::Sym, "!=") => Comparison::NotEquals,
        (TokenKind::Sym, ">") => Comparison::Gt,
        (TokenKind::Sym, ">=") => Comparison::Gte,
        (TokenKind::Sym, "<") => Comparison::Lt,
        (TokenKind::Sym, "<=") => Comparison::Lte,
        _ if t.is_word("between") => {
            advance(i);
            return between_bounds(i, "");
        }
        _ => return Err(expected(i, COMPARISON)),
    };
    advance(i);
    let (n, _) = cut_err(parse_number).parse_next(i)?;
    Ok(make(n))
}

/// ```text
/// window = ( "in" | "within" ) [ "the" ] "last" duration
///        | "more" "than" duration "ago"
///        | ( "from" | "since" ) date [ ( "to" | "until" ) date ]
///        | ( "before" | "until" | "to" ) date
/// ```
pub(crate) fn parse_window(i: &mut Input<'_>) -> PResult<Within> {
    let t = advance(i);
    let w = t.text.to_ascii_lowercase();
    match w.as_str() {
        "in" | "within" => {
            if at_word(i, "the") {
                advance(i);
            }
            let next = peek_tok(i);
            if next.is_word("next") {
                return fail(
                    t.span.start..next.span.end,
                    "events are counted up to now, so their window looks back".into(),
                    Some(
                        "write `in last 7d`; `within next` is for date fields such as a birthday"
                            .into(),
                    ),
                );
            }
            if w == "within" && matches!(next.kind, TokenKind::Duration | TokenKind::Number) {
                return fail(
                    t.span.start..next.span.end,
                    format!(
                        "`within {}` sets the time allowed between two events",
                        next.text
                    ),
                    Some(format!(
                        "put it after `followed by <event>`; for a time window write `in last {}`",
                        next.text
                    )),
                );
            }
            cut_err(word("last")).parse_next(i)?;
            let (d, _) = cut_err(parse_duration).parse_next(i)?;
            Ok(Within::Last(d))
        }
        "more" => {
            cut_err(word("than")).parse_next(i)?;
            let (d, _) = cut_err(parse_duration).parse_next(i)?;
            cut_err(word("ago")).parse_next(i)?;
            Ok(Within::Before(d))
        }
        "from" | "since" => {
            let (from, from_span) = cut_err(parse_date).parse_next(i)?;
            let to = if at_word(i, "to") || at_word(i, "until") {
                advance(i);
                let (to, to_span) = cut_err(parse_date).parse_next(i)?;
                if from.start_ms() >= to.start_ms() {
                    return fail(
                        from_span.start..to_span.end,
                        "the window ends before it starts".into(),
                        Some("write the earlier date first: `from <start> to <end>` (the end is not included)".into()),
                    );
                }
                Some(to)
            } else {
                let _ = expected(i, Expect::Word("to"));
                None
            };
            Ok(Within::Range {
                from: Some(from),
                to,
            })
        }
        _ => {
            let next = peek_tok(i);
            if w == "before" && matches!(next.kind, TokenKind::Duration) {
                return fail(
                    t.span.start..next.span.end,
                    format!("`before {}` is not a window", next.text),
                    Some(format!(
                        "for events older than that write `more than {} ago`",
                        next.text
                    )),
                );
            }
            let (to, _) = cut_err(parse_date).parse_next(i)?;
            Ok(Within::Range {
                from: None,
                to: Some(to),
            })
        }
    }
}

/// `sequence = [ "not" ] "followed" "by" name { where_clause | "within" duration | "on" names }`
pub(crate) fn parse_sequence(i: &mut Input<'_>) -> PResult<(Sequence, Parts)> {
    let negated = at_word(i, "not");
    if negated {
        advance(i);
    }
    advance(i);
    cut_err(word("by")).parse_next(i)?;
    let (event, event_span) =
        cut_err(|i: &mut Input<'_>| parse_name(i, "an event name such as `purchase`"))
            .parse_next(i)?;
    if let Err(e) = flowseg_model::event::check_event_name(&event) {
        return fail(event_span, e, Some(EVENT_NAME_HINT.into()));
    }
    let mut seq = Sequence {
        negated,
        event,
        filters: Vec::new(),
        window: None,
        on: Vec::new(),
    };
    let mut parts: Parts = vec![("/event".into(), event_span)];
    let mut seen = (false, false, false);
    loop {
        let t = peek_tok(i);
        let again = |already: bool, what: &str| {
            if already {
                fail::<()>(
                    t.span.clone(),
                    format!("this `followed by` already has {what}"),
                    Some(format!(
                        "remove this one: a `followed by` takes {what} once"
                    )),
                )
            } else {
                Ok(())
            }
        };
        if t.is_word("where") {
            again(seen.0, "a `where`")?;
            seen.0 = true;
            let (filters, p) = parse_where_clause(i)?;
            seq.filters = filters;
            parts.extend(prefixed("/where", p));
        } else if t.is_word("within")
            && matches!(
                peek_nth(i, 1).kind,
                TokenKind::Duration | TokenKind::Number | TokenKind::Str
            )
        {
            again(seen.1, "a `within`")?;
            seen.1 = true;
            advance(i);
            let (d, span) = parse_duration(i)?;
            seq.window = Some(d);
            parts.push(("/window".into(), span));
        } else if t.is_word("on") {
            again(seen.2, "an `on`")?;
            seen.2 = true;
            advance(i);
            let names = cut_err(parse_names).parse_next(i)?;
            for (n, (name, span)) in names.into_iter().enumerate() {
                parts.push((format!("/on/{n}"), span));
                seq.on.push(name);
            }
        } else {
            return Ok((seq, parts));
        }
    }
}

/// `names = name | "[" name { "," name } "]"`
pub(crate) fn parse_names(i: &mut Input<'_>) -> PResult<Vec<(String, Range<usize>)>> {
    let what = "an attribute name such as `cart_id`";
    if !at_sym(i, "[") {
        return Ok(vec![parse_name(i, what)?]);
    }
    let open = advance(i);
    let mut names = Vec::new();
    loop {
        names.push(cut_err(|i: &mut Input<'_>| parse_name(i, what)).parse_next(i)?);
        if at_sym(i, ",") {
            advance(i);
        } else {
            let _ = expected(i, Expect::Sym(","));
            break;
        }
    }
    cut_err(sym("]")).parse_next(i)?;
    if names.is_empty() {
        return fail(
            open.span.clone(),
            "`on` needs at least one attribute".into(),
            Some("name the attributes both events must share, as in `on (cart_id)`".into()),
        );
    }
    Ok(names)
}
