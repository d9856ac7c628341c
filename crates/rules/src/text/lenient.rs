//! The lenient parse for the panel: while the user is still typing, keep
//! the top-level conditions that parse and report every problem.

use super::lexer::{Token, TokenKind, lex};
use super::{Diagnostic, check_limits, parse_tokens};
use crate::ast::Rule;

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
                // The chunk ends where the next `and`/`or` is, so a
                // condition cut short is reported there, as a whole parse
                // would.
                current.push(Token {
                    kind: TokenKind::Eof,
                    text: t.text.clone(),
                    span: t.span.clone(),
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
