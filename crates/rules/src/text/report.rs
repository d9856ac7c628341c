//! Turning failures into diagnostics a marketer can act on: the furthest
//! failure with what was expected there, and a hint for the common slips
//! (`==`, `&&`, a misspelt keyword, a missing `and`); validation problems
//! retold in the text's words.

use super::Diagnostic;
use super::KEYWORDS;
use super::lexer::{Token, TokenKind};
use super::parser::{Custom, Expect, State};
use super::printer::op_text;
use crate::ast::Op;
use crate::problem::{Problem, did_you_mean};

pub(crate) fn syntax_diagnostic(
    source: &str,
    tokens: &[Token],
    state: &State,
    custom: Option<Custom>,
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
        "write a condition such as `City = \"Warsaw\"`, or `everyone`".into()
    } else {
        let before = at.checked_sub(1).and_then(|b| tokens.get(b));
        hint_for(found, &expected).unwrap_or_else(|| what_goes_here(found, before, &described))
    };
    Diagnostic::new(source, found.span.clone(), message, described, Some(hint))
}

/// The hint when no slip is recognised: what to add at the end, put in
/// before the token found (a missing keyword), write in its place (a
/// value, number or condition that is not one), or remove it where the
/// rule could end, so that every syntax error says how to go on.
fn what_goes_here(found: &Token, before: Option<&Token>, described: &[String]) -> String {
    let wanted = join_or(described);
    if found.kind == TokenKind::Eof {
        return match before {
            Some(b) => format!("add {wanted} after {}", describe_token(b)),
            None => format!("add {wanted}"),
        };
    }
    let end = Expect::End.describe();
    if described.contains(&end) {
        let others: Vec<String> = described.iter().filter(|d| **d != end).cloned().collect();
        return match others.as_slice() {
            [] => format!("remove {} and what follows", describe_token(found)),
            _ => format!(
                "remove {} and what follows, or write {} in its place",
                describe_token(found),
                join_or(&others)
            ),
        };
    }
    if described.iter().all(|d| d.starts_with('`')) {
        format!("put {wanted} before {}", describe_token(found))
    } else {
        format!("write {wanted} in place of {}", describe_token(found))
    }
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
    // A keyword in the wrong place is not a misspelling of another.
    if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(found)) {
        return None;
    }
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
                    return Some(format!("write `{}`", op_text(op)));
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
        TokenKind::Number | TokenKind::Str | TokenKind::Date
            if expected
                .iter()
                .any(|e| matches!(e, Expect::What(d, _) if d.starts_with("an operator"))) =>
        {
            Some(format!(
                "put an operator before the value, such as `= {}`",
                found_text(found)
            ))
        }
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

fn found_text(t: &Token) -> String {
    match t.kind {
        TokenKind::Str => serde_json::to_string(&t.text).unwrap_or_default(),
        _ => t.text.clone(),
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

/// A validation problem in the text's words: JSON operator names become
/// the text's operators, and "did you mean" becomes the hint.
pub(crate) fn text_problem(problem: &Problem) -> (String, Option<String>) {
    let mut message = problem
        .message
        .replace("`case_sensitive`", "`case-sensitive`");
    let mut hint = None;
    if let Some(at) = message.find(" Did you mean `") {
        let suggestion = message[at + 1..].to_string();
        message.truncate(at);
        hint = Some(format!("d{}", &suggestion[1..]));
    }
    if let Some(m) = message.strip_suffix(": write `[low, high]`") {
        message = m.to_string();
        hint = Some("write the lower bound first".into());
    }
    message = message.trim_end_matches('.').to_string();
    if problem.path.ends_with("/op") {
        message = translate_ops(&message, true);
        if let Some(at) = message.find(": use one of ") {
            hint = Some(message[at + 2..].to_string());
            message.truncate(at);
        }
    }
    (translate_ops(&message, false), hint)
}

/// Rewrites backticked JSON operator names (`not_equals`) as the text
/// writes them (`!=`): all of them in a message about an operator, else
/// only those that cannot be a plain word (a field may be named `in`).
fn translate_ops(message: &str, all: bool) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('`') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = rest.find('`') else { break };
        let inner = &rest[..close];
        match Op::parse(inner) {
            Some(op) if all || inner.contains('_') => out.push_str(op_text(op)),
            _ => out.push_str(inner),
        }
        out.push('`');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// How a token is named in a message.
pub(crate) fn describe_token(t: &Token) -> String {
    match t.kind {
        // A chunk of the lenient parse ends at the `and`/`or` that follows.
        TokenKind::Eof if !t.text.is_empty() => format!("`{}`", t.text),
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
