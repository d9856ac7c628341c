//! A problem with rule text: where it is (line, column, byte span), one
//! sentence saying what is wrong, what was expected, and a hint. Its
//! `Display` is rustc's layout:
//!
//! ```text
//! error: expected `=` or another operator, found `==`
//!  --> 1:17
//!   |
//! 1 | Customer_Status == "vip"
//!   |                 ^^
//!   |
//!   = help: compare with a single `=`
//! ```

use std::fmt;
use std::ops::Range;

/// One problem in rule text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// 1-based line of the span's start.
    pub line: usize,
    /// 1-based column of the span's start, in characters.
    pub column: usize,
    /// Byte offsets into the text.
    pub span: Range<usize>,
    /// One sentence; the user's text in backticks.
    pub message: String,
    /// What the parser would have accepted at this place (empty when the
    /// text was readable but wrong).
    pub expected: Vec<String>,
    /// How to fix it, when a likely fix is known.
    pub hint: Option<String>,
    /// The source line the span starts on, for rendering.
    pub source_line: String,
}

impl Diagnostic {
    /// A diagnostic for `span` of `source` (clamped to the text and to
    /// character boundaries).
    pub fn new(
        source: &str,
        span: Range<usize>,
        message: impl Into<String>,
        expected: Vec<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        let floor = |mut i: usize| {
            i = i.min(source.len());
            while !source.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = floor(span.start);
        let end = floor(span.end.max(start));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        Diagnostic {
            line: source[..start].matches('\n').count() + 1,
            column: source[line_start..start].chars().count() + 1,
            span: start..end,
            message: message.into(),
            expected,
            hint,
            source_line: source[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "{pad}--> {}:{}", self.line, self.column)?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{number} | {}", self.source_line)?;
        // The caret line keeps the source's tabs so the carets line up.
        let before: String = self
            .source_line
            .chars()
            .take(self.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let rest = self
            .source_line
            .chars()
            .count()
            .saturating_sub(self.column - 1);
        let width = self.span_chars().clamp(1, rest.max(1));
        write!(f, "{pad} | {before}{}", "^".repeat(width))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{pad} |\n{pad} = help: {hint}")?;
        }
        Ok(())
    }
}

impl Diagnostic {
    /// The span's length in characters, as far as it is known from the
    /// source line (a span may run past its first line).
    fn span_chars(&self) -> usize {
        let start_in_line: usize = self
            .source_line
            .chars()
            .take(self.column - 1)
            .map(char::len_utf8)
            .sum();
        let len = self.span.end - self.span.start;
        let line_rest = &self.source_line[start_in_line..];
        let mut bytes = 0;
        let mut chars = 0;
        for c in line_rest.chars() {
            if bytes >= len {
                break;
            }
            bytes += c.len_utf8();
            chars += 1;
        }
        chars
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let src = "City = \"war\"\nand Age == 5";
        let d = Diagnostic::new(
            src,
            21..23,
            "expected an operator, found `==`",
            vec![],
            Some("compare with a single `=`".into()),
        );
        assert_eq!((d.line, d.column), (2, 9));
        assert_eq!(
            d.to_string(),
            "error: expected an operator, found `==`\n --> 2:9\n  |\n2 | and Age == 5\n  |         ^^\n  |\n  = help: compare with a single `=`"
        );
    }

    #[test]
    fn empty_span_at_end_gets_one_caret() {
        let d = Diagnostic::new("Age >", 5..5, "expected a value", vec![], None);
        assert_eq!(
            d.to_string(),
            "error: expected a value\n --> 1:6\n  |\n1 | Age >\n  |      ^"
        );
    }
}
