//! A string dictionary: each distinct string is stored once and named by a
//! dense code, so a text test runs once per distinct value instead of once
//! per row.
//!
//! Memory matters here (an event attribute such as a session id is nearly
//! unique per event), so the strings live end to end in one byte arena, the
//! lookup table holds only codes, and a lower-cased copy is kept only for
//! the strings whose lower-case form differs.

use flowseg_rules::plan::TextTest;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

#[derive(Debug, Default, Clone)]
pub struct Dictionary {
    /// Every string's bytes, end to end, in code order.
    bytes: Vec<u8>,
    /// `ends[c]` is where string `c` ends in `bytes` (it starts where `c - 1`
    /// ends).
    ends: Vec<u64>,
    /// `(code, lower-cased string)` for the codes whose string is not
    /// already lower-case, ascending by code.
    lowered: Vec<(u32, Box<str>)>,
    /// Codes, found by the hash of their string.
    table: HashTable<u32>,
}

/// A fixed hasher: the table is rebuilt from the arena, never persisted, and
/// its keys are one account's own strings.
const HASHER: FixedState = FixedState::with_seed(0x5eed_f10e_5e60_0001);

fn str_at<'a>(bytes: &'a [u8], ends: &[u64], code: u32) -> &'a str {
    let c = code as usize;
    let start = if c == 0 { 0 } else { ends[c - 1] as usize };
    let slice = &bytes[start..ends[c] as usize];
    // SAFETY: the arena is only ever extended with whole `&str`s (see
    // `intern`), and `ends` marks their boundaries, so every slice between
    // consecutive ends is valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(slice) }
}

impl Dictionary {
    /// The code of `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> u32 {
        let hash = HASHER.hash_one(s);
        let Dictionary {
            bytes,
            ends,
            lowered,
            table,
        } = self;
        if let Some(code) = table.find(hash, |c| str_at(bytes, ends, *c) == s) {
            return *code;
        }
        let code = u32::try_from(ends.len()).expect("fewer than 2^32 distinct strings");
        bytes.extend_from_slice(s.as_bytes());
        ends.push(bytes.len() as u64);
        let lower = s.to_lowercase();
        if lower != s {
            lowered.push((code, lower.into()));
        }
        table.insert_unique(hash, code, |c| HASHER.hash_one(str_at(bytes, ends, *c)));
        code
    }

    /// The code of `s`, if it is in the dictionary.
    pub fn code_of(&self, s: &str) -> Option<u32> {
        self.table
            .find(HASHER.hash_one(s), |c| self.get(*c) == s)
            .copied()
    }

    pub fn get(&self, code: u32) -> &str {
        str_at(&self.bytes, &self.ends, code)
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// For every code, whether its string passes `test` (the empty string,
    /// "no value", never does).
    pub fn matching(&self, test: &TextTest) -> Vec<bool> {
        if !test.reads_lowercase() {
            return self.map_each(|s| !s.is_empty() && test.matches_prepared(s));
        }
        let mut lowered = self.lowered.iter().peekable();
        (0..self.len() as u32)
            .map(|code| {
                let s = match lowered.next_if(|(c, _)| *c == code) {
                    Some((_, lower)) => lower,
                    None => self.get(code),
                };
                !s.is_empty() && test.matches_prepared(s)
            })
            .collect()
    }

    /// For every code, a predicate over the string as stored.
    pub fn map_each<T>(&self, f: impl Fn(&str) -> T) -> Vec<T> {
        (0..self.len() as u32).map(|c| f(self.get(c))).collect()
    }

    /// Bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.ends.capacity() * 8
            + self
                .lowered
                .iter()
                .map(|(_, s)| s.len() + 24)
                .sum::<usize>()
            + self.table.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_gives_one_code_per_distinct_string() {
        let mut d = Dictionary::default();
        let a = d.intern("Kraków");
        let b = d.intern("kraków");
        let c = d.intern("");
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(d.intern("Kraków"), a);
        assert_eq!(d.get(a), "Kraków");
        assert_eq!(d.get(c), "");
        assert_eq!(d.code_of("kraków"), Some(b));
        assert_eq!(d.code_of("KRAKÓW"), None);
        for i in 0..10_000 {
            d.intern(&format!("s{i}"));
        }
        assert_eq!(d.len(), 10_003);
        assert_eq!(d.code_of("s9999"), Some(10_002));
        assert_eq!(d.get(10_002), "s9999");
    }
}
