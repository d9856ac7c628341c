//! User-facing problems with a rule: a JSON pointer and one sentence.

use std::fmt;

/// One problem, at one place in the request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A JSON pointer into the request body, e.g. `/rule/all/1/op`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Builds JSON pointers while walking a rule.
#[derive(Debug, Clone)]
pub struct Path(String);

impl Path {
    pub fn new(base: &str) -> Path {
        Path(base.trim_end_matches('/').to_string())
    }

    /// The pointer to a child key or index (escaped per RFC 6901).
    pub fn join(&self, segment: impl fmt::Display) -> Path {
        let seg = segment.to_string().replace('~', "~0").replace('/', "~1");
        Path(format!("{}/{}", self.0, seg))
    }

    pub fn as_str(&self) -> &str {
        if self.0.is_empty() { "" } else { &self.0 }
    }

    pub fn problem(&self, message: impl Into<String>) -> Problem {
        Problem {
            path: self.as_str().to_string(),
            message: message.into(),
        }
    }
}

/// " Did you mean `x`?" for the candidate closest to `input`, when one is
/// close enough to be a plausible slip, else "".
pub fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let lower = input.to_lowercase();
    let best = candidates
        .into_iter()
        .map(|c| {
            let d = if c.to_lowercase() == lower {
                0
            } else {
                edit_distance(&lower, &c.to_lowercase())
            };
            (d, c)
        })
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= (input.chars().count() / 3).max(1) + 1 && d < c.chars().count() => {
            format!(" Did you mean `{c}`?")
        }
        _ => String::new(),
    }
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("Customer_Stauts", ["Customer_Status", "City"]),
            " Did you mean `Customer_Status`?"
        );
        assert_eq!(did_you_mean("email", ["Email"]), " Did you mean `Email`?");
        assert_eq!(did_you_mean("zzzz", ["Email", "Age"]), "");
    }

    #[test]
    fn pointers_escape() {
        assert_eq!(
            Path::new("/rule").join("a/b").join(2).as_str(),
            "/rule/a~1b/2"
        );
        assert_eq!(Path::new("").join("all").as_str(), "/all");
    }
}
