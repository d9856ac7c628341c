//! A string dictionary: each distinct string is stored once and named by a
//! dense code, so a text test runs once per distinct value instead of once
//! per row.
//!
//! Memory matters here (an event attribute such as a session id is nearly
//! unique per event), so the strings live end to end in one byte arena, the
//! lookup table holds only codes, and a lower-cased copy is kept only for
//! the strings whose lower-case form differs.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use flowseg_rules::plan::TextTest;
use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::snapshot::{Reader, Writer, invalid};

#[derive(Debug, Default)]
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
    /// Recently used tests' verdicts, most recent last (see [`verdicts`]).
    ///
    /// [`verdicts`]: Dictionary::verdicts
    cache: Mutex<Vec<(String, Arc<Verdicts>)>>,
}

/// How many tests' verdicts a dictionary remembers.
const CACHED_TESTS: usize = 16;

impl Clone for Dictionary {
    fn clone(&self) -> Self {
        Dictionary {
            bytes: self.bytes.clone(),
            ends: self.ends.clone(),
            lowered: self.lowered.clone(),
            table: self.table.clone(),
            cache: Mutex::default(),
        }
    }
}

/// One test's verdict for every code of a dictionary, one bit each.
#[derive(Debug, Default, Clone)]
pub struct Verdicts {
    bits: Vec<u64>,
    len: usize,
    /// How many codes pass, the first [`FEW`] of them, and the highest: a
    /// column scan compares codes instead of looking each up in `bits`
    /// when only a handful pass (equality, `in` a short list) or when all
    /// passing codes fit in one word (see `columns::select_text`).
    passing: usize,
    first_passing: [u32; FEW],
    highest_passing: u32,
}

/// See [`Verdicts::few_passing`].
pub const FEW: usize = 8;

impl Verdicts {
    #[inline]
    pub fn get(&self, code: u32) -> bool {
        let c = code as usize;
        c < self.len && (self.bits[c >> 6] >> (c & 63)) & 1 == 1
    }

    /// Whether no code passes.
    pub fn none_pass(&self) -> bool {
        self.passing == 0
    }

    /// The passing codes when there are at most `N` (≤ [`FEW`]), padded by
    /// repeating the first (so a caller can compare against all `N`
    /// without a branch); `None` when more pass, or none does.
    pub fn few_passing<const N: usize>(&self) -> Option<[u32; N]> {
        if self.passing == 0 || self.passing > N || N > FEW {
            return None;
        }
        let mut codes = [self.first_passing[0]; N];
        codes[..self.passing].copy_from_slice(&self.first_passing[..self.passing]);
        Some(codes)
    }

    /// The verdicts as one word, when every passing code is below 64.
    pub fn one_word(&self) -> Option<u64> {
        (self.passing > 0 && self.highest_passing < 64).then(|| self.bits[0])
    }

    fn push(&mut self, pass: bool) {
        if pass {
            if self.passing < FEW {
                self.first_passing[self.passing] = self.len as u32;
            }
            self.passing += 1;
            self.highest_passing = self.len as u32;
        }
        if self.len & 63 == 0 {
            self.bits.push(0);
        }
        self.bits[self.len >> 6] |= u64::from(pass) << (self.len & 63);
        self.len += 1;
    }
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
        self.ensure_table();
        let hash = HASHER.hash_one(s);
        let Dictionary {
            bytes,
            ends,
            lowered,
            table,
            ..
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

    /// Builds the lookup table if it lags the arena (a dictionary read
    /// from a snapshot gets its table on the first new string, so that a
    /// restart does not hash every string up front).
    fn ensure_table(&mut self) {
        if self.table.len() == self.ends.len() {
            return;
        }
        let Dictionary {
            bytes, ends, table, ..
        } = self;
        table.clear();
        table.reserve(ends.len(), |c| HASHER.hash_one(str_at(bytes, ends, *c)));
        for code in 0..ends.len() as u32 {
            let hash = HASHER.hash_one(str_at(bytes, ends, code));
            table.insert_unique(hash, code, |c| HASHER.hash_one(str_at(bytes, ends, *c)));
        }
    }

    pub fn write_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        w.slice(&self.bytes)?;
        w.slice(&self.ends)?;
        w.u64(self.lowered.len() as u64)?;
        for (code, lower) in &self.lowered {
            w.u32(*code)?;
            w.str(lower)?;
        }
        Ok(())
    }

    pub fn read_from<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<Dictionary> {
        let bytes: Vec<u8> = r.vec()?;
        let ends: Vec<u64> = r.vec()?;
        // `get` slices the arena unchecked for UTF-8: check it once here.
        let mut start = 0usize;
        for end in &ends {
            let end = *end as usize;
            if end < start || end > bytes.len() || std::str::from_utf8(&bytes[start..end]).is_err()
            {
                return Err(invalid("a dictionary string out of bounds or not UTF-8"));
            }
            start = end;
        }
        let n = r.u64()?;
        let mut lowered = Vec::new();
        for _ in 0..n {
            let code = r.u32()?;
            lowered.push((code, r.string()?.into_boxed_str()));
        }
        Ok(Dictionary {
            bytes,
            ends,
            lowered,
            table: HashTable::new(),
            cache: Mutex::default(),
        })
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

    /// For every code, whether its string passes a test, given the string
    /// as stored and lower-cased. `key` names the test (and whatever else
    /// the verdict depends on): verdicts are remembered per key, and as
    /// codes are only ever added, a remembered verdict is extended to new
    /// codes instead of recomputed. A segment evaluated again thus pays for
    /// its text tests once, not once per distinct value per evaluation.
    pub fn verdicts(&self, key: &str, pass: impl Fn(&str, &str) -> bool) -> Arc<Verdicts> {
        let cached = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let at = cache.iter().position(|(k, _)| k == key);
            at.map(|i| {
                let entry = cache.remove(i);
                let v = entry.1.clone();
                cache.push(entry);
                v
            })
        };
        if let Some(v) = &cached
            && v.len == self.len()
        {
            return v.clone();
        }
        let mut v = cached.map_or_else(Verdicts::default, |v| (*v).clone());
        let mut lowered = self.lowered.iter().peekable();
        while lowered.peek().is_some_and(|(c, _)| (*c as usize) < v.len) {
            lowered.next();
        }
        for code in v.len as u32..self.len() as u32 {
            let s = self.get(code);
            let lower = match lowered.next_if(|(c, _)| *c == code) {
                Some((_, l)) => &**l,
                None => s,
            };
            v.push(pass(s, lower));
        }
        let v = Arc::new(v);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(k, _)| k != key);
        if cache.len() >= CACHED_TESTS {
            cache.remove(0);
        }
        cache.push((key.to_string(), v.clone()));
        v
    }

    /// A text test's verdicts (see [`verdicts`]).
    ///
    /// [`verdicts`]: Dictionary::verdicts
    pub fn text_verdicts(&self, test: &TextTest) -> Arc<Verdicts> {
        let lower = test.reads_lowercase();
        self.verdicts(&format!("text {test:?}"), |s, l| {
            !s.is_empty() && test.matches_prepared(if lower { l } else { s })
        })
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
            + self
                .cache
                .lock()
                .map_or(0, |c| c.iter().map(|(_, v)| v.bits.capacity() * 8).sum())
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
        assert_eq!(d.intern("kraków"), b);
        for i in 0..10_000 {
            d.intern(&format!("s{i}"));
        }
        assert_eq!(d.len(), 10_003);
        assert_eq!(d.intern("s9999"), 10_002);
        assert_eq!(d.get(10_002), "s9999");
    }

    #[test]
    fn remembered_verdicts_extend_to_new_codes() {
        let mut d = Dictionary::default();
        d.intern("Gmail.com");
        d.intern("wp.pl");
        let key = "contains gmail";
        let contains = |_: &str, l: &str| l.contains("gmail");
        let v = d.verdicts(key, contains);
        assert!(v.get(0) && !v.get(1) && !v.get(2));
        d.intern("x@GMAIL.com");
        let v = d.verdicts(key, contains);
        assert!(v.get(0) && !v.get(1) && v.get(2));
        // Another key is another test.
        let v = d.verdicts("wp", |s, _| s.starts_with("wp"));
        assert!(!v.get(0) && v.get(1) && !v.get(2));
    }
}
