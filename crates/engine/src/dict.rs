//! A string dictionary: each distinct string is stored once and named by a
//! dense code, with its lower-cased form beside it, so a text test runs once
//! per distinct value instead of once per row.

use std::collections::HashMap;

use flowseg_rules::plan::TextTest;

#[derive(Debug, Default, Clone)]
pub struct Dictionary {
    strings: Vec<Box<str>>,
    lower: Vec<Box<str>>,
    codes: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
}

impl Dictionary {
    /// The code of `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(code) = self.codes.get(s) {
            return *code;
        }
        let code = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        self.strings.push(s.into());
        self.lower.push(s.to_lowercase().into());
        self.codes.insert(s.into(), code);
        code
    }

    pub fn get(&self, code: u32) -> &str {
        &self.strings[code as usize]
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// For every code, whether its string passes `test` (the empty string,
    /// "no value", never does).
    pub fn matching(&self, test: &TextTest) -> Vec<bool> {
        let lower = test.reads_lowercase();
        self.strings
            .iter()
            .zip(&self.lower)
            .map(|(s, l)| !s.is_empty() && test.matches_prepared(if lower { l } else { s }))
            .collect()
    }

    /// For every code, a predicate over the string as stored.
    pub fn map_each<T>(&self, f: impl Fn(&str) -> T) -> Vec<T> {
        self.strings.iter().map(|s| f(s)).collect()
    }

    /// Bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.strings
            .iter()
            .zip(&self.lower)
            .map(|(s, l)| s.len() * 2 + l.len() + 48)
            .sum()
    }
}
