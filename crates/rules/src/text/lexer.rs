//! Rule text → tokens. The lexer never fails: what it cannot read becomes
//! an [`TokenKind::Unknown`] or [`TokenKind::Slip`] token for the parser
//! to report in context, and unreadable strings are recorded as problems
//! beside a best-effort token, so the lenient parse can go on.

use std::ops::Range;

use winnow::combinator::{alt, opt, peek};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location, Stream};
use winnow::token::{any, literal, one_of, take_while};

type Input<'s> = LocatingSlice<&'s str>;
type LexResult<T> = winnow::Result<T, winnow::error::EmptyError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word: a keyword or a name.
    Word,
    /// A name in backticks; `text` is the name, escapes resolved.
    Quoted,
    /// A string in double quotes; `text` is its value, escapes resolved.
    Str,
    Number,
    /// `2026-06-01` or an RFC 3339 date-time, written without quotes.
    Date,
    /// Digits followed by letters (`30d`, and also the mistaken `30days`).
    Duration,
    /// `( ) [ ] { } , : = != < <= > >=`
    Sym,
    /// A slip with a known fix: `==`, `&&`, `||`, `!`, `<>`, a
    /// single-quoted or curly-quoted string.
    Slip,
    /// A character the language does not use.
    Unknown,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// The source text, or for `Str`/`Quoted` the decoded value.
    pub text: String,
    pub span: Range<usize>,
    /// Position in the token list.
    pub index: usize,
}

impl Token {
    /// Whether this is the bare word `w` (keywords are case-insensitive).
    pub fn is_word(&self, w: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(w)
    }

    pub fn is_sym(&self, s: &str) -> bool {
        self.kind == TokenKind::Sym && self.text == s
    }
}

/// A string the lexer could not read completely.
#[derive(Debug, Clone)]
pub(crate) struct LexProblem {
    pub span: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

pub(crate) struct Lexed {
    pub tokens: Vec<Token>,
    pub problems: Vec<LexProblem>,
}

pub(crate) fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

pub(crate) fn is_name_continue(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')
}

/// Splits `source` into tokens, ending with one `Eof` token.
pub(crate) fn lex(source: &str) -> Lexed {
    let mut input = LocatingSlice::new(source);
    let mut tokens = Vec::new();
    let mut problems = Vec::new();
    loop {
        skip_blank(&mut input);
        let start = input.current_token_start();
        if input.eof_offset() == 0 {
            tokens.push(Token {
                kind: TokenKind::Eof,
                text: String::new(),
                span: start..start,
                index: tokens.len(),
            });
            break;
        }
        let (kind, text) = token(&mut input, &mut problems);
        let end = input.current_token_start();
        tokens.push(Token {
            kind,
            text,
            span: start..end,
            index: tokens.len(),
        });
    }
    Lexed { tokens, problems }
}

/// Whitespace and `#` comments up to the end of the line.
fn skip_blank(input: &mut Input<'_>) {
    loop {
        let _: LexResult<&str> = take_while(0.., char::is_whitespace).parse_next(input);
        let comment: LexResult<(char, &str)> =
            ('#', take_while(0.., |c| c != '\n')).parse_next(input);
        if comment.is_err() {
            return;
        }
    }
}

fn token(input: &mut Input<'_>, problems: &mut Vec<LexProblem>) -> (TokenKind, String) {
    let first = input.peek_token().unwrap_or(' ');
    match first {
        '"' => quoted(input, '"', problems).map_or_else(|| unknown(input), |s| (TokenKind::Str, s)),
        '`' => {
            quoted(input, '`', problems).map_or_else(|| unknown(input), |s| (TokenKind::Quoted, s))
        }
        c if c.is_ascii_digit() || c == '-' => number_like(input).unwrap_or_else(|| unknown(input)),
        c if is_name_start(c) => {
            let word: LexResult<&str> = (one_of(is_name_start), take_while(0.., is_name_continue))
                .take()
                .parse_next(input);
            word.map_or_else(|_| unknown(input), |w| (TokenKind::Word, w.to_string()))
        }
        '\'' | '“' | '”' | '‘' | '’' | '„' => misquoted(input),
        _ => symbol(input).unwrap_or_else(|| unknown(input)),
    }
}

fn unknown(input: &mut Input<'_>) -> (TokenKind, String) {
    let c: LexResult<char> = any.parse_next(input);
    (TokenKind::Unknown, c.map(String::from).unwrap_or_default())
}

fn symbol(input: &mut Input<'_>) -> Option<(TokenKind, String)> {
    // A slip that starts like a symbol (`==`, `<>`) wins over the symbol;
    // longer symbols are tried before their prefixes.
    const SLIPS: [&str; 10] = ["!==", "==", "=>", "=<", "<>", "&&", "||", "&", "|", ";"];
    const SYMBOLS: [&str; 14] = [
        "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ",", ":", "=", "<", ">",
    ];
    for (kind, set) in [
        (TokenKind::Slip, &SLIPS[..]),
        (TokenKind::Sym, &SYMBOLS[..]),
    ] {
        for s in set {
            let r: LexResult<&str> = literal(*s).parse_next(input);
            if r.is_ok() {
                return Some((kind, (*s).to_string()));
            }
        }
    }
    let bang: LexResult<char> = one_of('!').parse_next(input);
    bang.ok().map(|_| (TokenKind::Slip, "!".to_string()))
}

/// A string in single or typographic quotes: one `Slip` token up to the
/// matching closing quote on the same line (or just the quote).
fn misquoted(input: &mut Input<'_>) -> (TokenKind, String) {
    let open: LexResult<char> = any.parse_next(input);
    let open = open.unwrap_or('\'');
    let closers: &[char] = match open {
        '\'' => &['\''],
        _ => &['“', '”', '‘', '’', '"'],
    };
    let mut probe = *input;
    let body: LexResult<&str> =
        take_while(0.., |c| !closers.contains(&c) && c != '\n').parse_next(&mut probe);
    let close: LexResult<char> = one_of(|c| closers.contains(&c)).parse_next(&mut probe);
    let mut text = String::from(open);
    if let (Ok(body), Ok(close)) = (body, close) {
        text.push_str(body);
        text.push(close);
        *input = probe;
    }
    (TokenKind::Slip, text)
}

/// A `"string"` or a `` `name` `` with JSON escapes (and `` \` ``). An
/// unterminated one ends at the end of its line and is recorded.
fn quoted(input: &mut Input<'_>, quote: char, problems: &mut Vec<LexProblem>) -> Option<String> {
    let start = input.current_token_start();
    let open: LexResult<char> = one_of(quote).parse_next(input);
    open.ok()?;
    let mut out = String::new();
    loop {
        let chunk: LexResult<&str> =
            take_while(0.., |c| c != quote && c != '\\' && c != '\n' && c != '\r')
                .parse_next(input);
        out.push_str(chunk.unwrap_or_default());
        let next: LexResult<char> = peek(any).parse_next(input);
        match next {
            Ok(c) if c == quote => {
                let _ = input.next_token();
                return Some(out);
            }
            Ok('\\') => {
                let at = input.current_token_start();
                match escape(input) {
                    Some(c) => out.push(c),
                    None => {
                        let end = input.current_token_start().max(at + 1);
                        problems.push(LexProblem {
                            span: at..end,
                            message: format!(
                                "`{}` is not an escape sequence",
                                &input_source(input)[at..end]
                            ),
                            hint: Some(
                                "write `\\\\` for a backslash, `\\\"` for a quote, `\\n` for a line break"
                                    .into(),
                            ),
                        });
                    }
                }
            }
            _ => {
                let end = input.current_token_start();
                let what = if quote == '"' {
                    "string"
                } else {
                    "quoted name"
                };
                problems.push(LexProblem {
                    span: start..end,
                    message: format!("this {what} is not closed"),
                    hint: Some(format!(
                        "add the closing `{quote}`; a {what} ends on the line it starts on (write `\\n` for a line break)"
                    )),
                });
                return Some(out);
            }
        }
    }
}

fn input_source<'s>(input: &Input<'s>) -> &'s str {
    let mut start = *input;
    start.reset_to_start();
    *start
}

/// One escape after a backslash; `None` (having consumed what was read)
/// when it is not one.
fn escape(input: &mut Input<'_>) -> Option<char> {
    let backslash: LexResult<char> = one_of('\\').parse_next(input);
    backslash.ok()?;
    let c: LexResult<char> = any.parse_next(input);
    let c = c.ok()?;
    Some(match c {
        '"' | '\\' | '/' | '`' => c,
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'u' => {
            let hi = hex4(input)?;
            if (0xD800..0xDC00).contains(&hi) {
                let low: LexResult<&str> = "\\u".parse_next(input);
                low.ok()?;
                let lo = hex4(input)?;
                if !(0xDC00..0xE000).contains(&lo) {
                    return None;
                }
                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
            } else {
                char::from_u32(hi)?
            }
        }
        _ => return None,
    })
}

fn hex4(input: &mut Input<'_>) -> Option<u32> {
    let digits: LexResult<&str> = take_while(4, |c: char| c.is_ascii_hexdigit()).parse_next(input);
    u32::from_str_radix(digits.ok()?, 16).ok()
}

fn digits<'s>(
    n: impl Into<winnow::stream::Range>,
) -> impl Parser<Input<'s>, &'s str, winnow::error::EmptyError> {
    take_while(n, |c: char| c.is_ascii_digit())
}

/// `YYYY-MM-DD` with an optional `THH:MM:SS(.f)?(Z|±HH:MM)`.
fn date<'s>(input: &mut Input<'s>) -> LexResult<&'s str> {
    (
        digits(4),
        '-',
        digits(2),
        '-',
        digits(2),
        opt((
            'T',
            digits(2),
            ':',
            digits(2),
            ':',
            digits(2),
            opt(('.', digits(1..))),
            alt((
                "Z".void(),
                (one_of(['+', '-']), digits(2), ':', digits(2)).void(),
            )),
        )),
    )
        .take()
        .parse_next(input)
}

/// Whether `s` is exactly one unquoted date token, so it prints bare.
pub(crate) fn is_date_lexeme(s: &str) -> bool {
    let mut input = LocatingSlice::new(s);
    date(&mut input).is_ok() && input.eof_offset() == 0
}

/// A date, a number (`-12`, `0.5`, `1e-3`) or a duration (`30d`).
fn number_like(input: &mut Input<'_>) -> Option<(TokenKind, String)> {
    let mut probe = *input;
    if date(&mut probe).is_ok() {
        // Whatever sticks to a date belongs to it, so a malformed one
        // (`2026-06-01T12`) is reported whole.
        let _: LexResult<&str> =
            take_while(0.., |c| is_name_continue(c) || c == '+').parse_next(&mut probe);
        let len = probe.current_token_start() - input.current_token_start();
        return Some((TokenKind::Date, input.next_slice(len).to_string()));
    }
    let number: LexResult<&str> = (
        opt('-'),
        digits(1..),
        opt(('.', digits(1..))),
        opt((one_of(['e', 'E']), opt(one_of(['+', '-'])), digits(1..))),
    )
        .take()
        .parse_next(input);
    let number = number.ok()?;
    let suffix: LexResult<&str> =
        take_while(0.., |c: char| is_name_continue(c) && c != '-').parse_next(input);
    match suffix {
        Ok(s) if !s.is_empty() => Some((TokenKind::Duration, format!("{number}{s}"))),
        _ => Some((TokenKind::Number, number.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(TokenKind, String)> {
        lex(s)
            .tokens
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn tokens() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"Age>=18 and `odd name`="a\"b" in last 30d 2026-06-01 -1.5e3 == # c"#),
            vec![
                (Word, "Age".into()),
                (Sym, ">=".into()),
                (Number, "18".into()),
                (Word, "and".into()),
                (Quoted, "odd name".into()),
                (Sym, "=".into()),
                (Str, "a\"b".into()),
                (Word, "in".into()),
                (Word, "last".into()),
                (Duration, "30d".into()),
                (Date, "2026-06-01".into()),
                (Number, "-1.5e3".into()),
                (Slip, "==".into()),
                (Eof, "".into()),
            ]
        );
        assert_eq!(
            kinds("2026-06-01T12:00:00.5+02:00 order.completed 'vip'"),
            vec![
                (Date, "2026-06-01T12:00:00.5+02:00".into()),
                (Word, "order.completed".into()),
                (Slip, "'vip'".into()),
                (Eof, "".into()),
            ]
        );
    }

    #[test]
    fn unterminated_string_is_recorded() {
        let lexed = lex("City = \"war\nand x");
        assert_eq!(lexed.problems.len(), 1);
        assert_eq!(lexed.problems[0].span, 7..11);
        assert_eq!(lexed.tokens[2].kind, TokenKind::Str);
        assert_eq!(lexed.tokens[3].text, "and");
    }

    #[test]
    fn escapes() {
        assert_eq!(
            kinds(r#""\u00e9\ud83d\ude00\n\t""#)[0].1,
            "é😀\n\t".to_string()
        );
        assert_eq!(lex(r#""\q""#).problems.len(), 1);
    }
}
