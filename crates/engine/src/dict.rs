//! A string dictionary: each distinct string is stored once and named by a
//! dense code, so a text test runs once per distinct value instead of once
//! per row.
//!
//! Memory matters here (an event attribute such as a session id is nearly
//! unique per event), so the strings live end to end in one byte arena, a
//! string's code is found through an index of codes sized to their count
//! ([`SettledCodes`]) and a small hash table of the newest, and a
//! lower-cased copy is kept only for the strings whose lower-case form
//! differs.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use flowseg_rules::plan::TextTest;
use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::packer::{PACKER_SAMPLE, Packer};
use crate::settled::SettledCodes;
use crate::snapshot::{Reader, Writer, invalid};

#[derive(Debug)]
pub struct Dictionary {
    /// Every string's bytes, end to end, in code order.
    bytes: Vec<u8>,
    /// `ends.get(c)` is where string `c` ends in `bytes` (it starts where
    /// `c - 1` ends).
    ends: Ends,
    /// `(code, lower-cased string)` for the codes whose string is not
    /// already lower-case, ascending by code.
    lowered: Vec<(u32, Box<str>)>,
    /// Codes `0..settled.len()`, found by the hash of their string (boxed:
    /// most dictionaries are small, and a contact column holds one).
    settled: Box<SettledCodes>,
    /// The codes after those, found by the hash of their string: at most
    /// [`SETTLE_FROM`] or an eighth of the settled ones, whichever is more.
    table: HashTable<u32>,
    /// Recently used tests' verdicts, most recent last (see [`verdicts`]).
    ///
    /// [`verdicts`]: Dictionary::verdicts
    cache: Mutex<Vec<(String, Arc<Verdicts>)>>,
    /// Names this dictionary among all in the process: what is known of
    /// codes in it stays true while it lives, as its codes only ever grow.
    /// A copy gets its own name (it may grow differently).
    id: u64,
    /// What is known of this dictionary's strings in other dictionaries
    /// (see [`matches_in`]), most recent last.
    ///
    /// [`matches_in`]: Dictionary::matches_in
    matches: Mutex<Vec<(u64, Arc<Matches>)>>,
    /// Whether this holds one string per row of a column, repeats allowed
    /// ([`Dictionary::per_row`]), rather than each distinct string once.
    per_row: bool,
    /// The symbol table the arena's strings are packed with, if they are
    /// (per-row strings only: [`Dictionary::rows_from`]).
    packer: Option<Box<Packer>>,
    /// Each code's string hash, for the codes up to its length, once a
    /// sequence's `on` correlation has asked ([`row_hashes`]).
    ///
    /// [`row_hashes`]: Dictionary::row_hashes
    hashes: Mutex<Option<Arc<Vec<u32>>>>,
}

/// How many tests' verdicts a dictionary remembers.
const CACHED_TESTS: usize = 16;

/// How many other dictionaries' [`Matches`] a dictionary remembers.
const CACHED_MATCHES: usize = 4;

/// Source of [`Dictionary::id`].
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// What is known of one dictionary's strings in another
/// ([`Dictionary::matches_in`]): for each code of the first, the code of
/// the same string in the other, once a comparison has found it. Strings
/// are unique within a dictionary, so a found code decides every later
/// comparison of that code without reading a string, and a sequence's
/// `on` correlation compared again (the next evaluation of a segment)
/// costs one look-up instead of a few cache misses into two arenas.
/// Nothing is made up front: only what comparisons found is remembered
/// (a full translation of 5M `cart_id`s into 3M at `large` took 1.4 s).
#[derive(Debug)]
pub struct Matches {
    /// Per code of the first dictionary (as many as it had when this was
    /// made): 1 + the other's code of the same string, or 0 while unknown.
    found: Vec<AtomicU32>,
}

impl Matches {
    /// Asks the CPU to start loading what is known of code `a`.
    #[inline]
    pub fn prefetch(&self, a: u32) {
        if let Some(slot) = self.found.get(a as usize) {
            crate::events::prefetch(slot);
        }
    }

    /// Whether code `a` of `first` and code `b` of `other` name the same
    /// non-empty string (`self` is `first.matches_in(other)`, and `other`
    /// holds each string once: a remembered code stands for its string
    /// only there).
    #[inline]
    pub fn same(&self, first: &Dictionary, a: u32, other: &Dictionary, b: u32) -> bool {
        debug_assert!(!other.per_row, "a found code names its string only once");
        let slot = self.found.get(a as usize);
        if let Some(slot) = slot {
            let known = slot.load(Ordering::Relaxed);
            if known != 0 {
                return known - 1 == b;
            }
        }
        let same = first.same_string(a, other, b);
        if same && let (Some(slot), Some(b1)) = (slot, b.checked_add(1)) {
            slot.store(b1, Ordering::Relaxed);
        }
        same
    }
}

impl Matches {
    /// Whether code `a` of `first` and code `b` of `other` name the same
    /// non-empty string, where `other` may repeat strings (per-row
    /// strings): a remembered code answers only "the same"; any other is
    /// compared, and remembered if the same (`self` is
    /// `first.matches_in(other)`).
    #[inline]
    pub fn same_row(&self, first: &Dictionary, a: u32, other: &Dictionary, b: u32) -> bool {
        let slot = self.found.get(a as usize);
        if let (Some(slot), Some(b1)) = (slot, b.checked_add(1)) {
            if slot.load(Ordering::Relaxed) == b1 {
                return true;
            }
            let same = first.same_string(a, other, b);
            if same {
                slot.store(b1, Ordering::Relaxed);
            }
            return same;
        }
        first.same_string(a, other, b)
    }
}

impl Default for Dictionary {
    fn default() -> Self {
        Dictionary {
            bytes: Vec::new(),
            ends: Ends::default(),
            lowered: Vec::new(),
            settled: Box::default(),
            table: HashTable::new(),
            cache: Mutex::default(),
            id: next_id(),
            matches: Mutex::default(),
            per_row: false,
            packer: None,
            hashes: Mutex::default(),
        }
    }
}

impl Clone for Dictionary {
    fn clone(&self) -> Self {
        Dictionary {
            bytes: self.bytes.clone(),
            ends: self.ends.clone(),
            lowered: self.lowered.clone(),
            settled: self.settled.clone(),
            table: self.table.clone(),
            cache: Mutex::default(),
            id: next_id(),
            matches: Mutex::default(),
            per_row: self.per_row,
            packer: self.packer.clone(),
            hashes: Mutex::default(),
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

/// Where each string ends in the arena. While strings are not long
/// (every run of [`PACKED_RUN`] fits in 64 KiB: identifiers, URLs and
/// names do), each end is two bytes from where its run starts, and a run's
/// start is 8 bytes: 2.125 bytes a string. Otherwise 4 bytes a string
/// while the arena is under 4 GiB, 8 after.
///
/// A dictionary of per-row strings (a session id per event) has as many
/// ends as rows, so their width counts: it starts as [`Ends::Lengths`],
/// each string's length in one byte (1.125 bytes a string), and becomes
/// packed once a string is 256 bytes or longer.
#[derive(Debug, Clone)]
enum Ends {
    /// Each string's length (under 256 bytes), and where each run of
    /// [`PACKED_RUN`] strings starts: an end is its run's start plus the
    /// lengths up to it, summed (at most 64 bytes, read together).
    /// `starts` holds one more: the last string's end, so that appending
    /// needs no sum (it becomes the next run's start when one begins).
    Lengths {
        starts: Vec<u64>,
        lens: Vec<u8>,
    },
    Packed {
        /// Where each run of strings starts in the arena.
        starts: Vec<u64>,
        /// Each string's end, from where its run starts.
        within: Vec<u16>,
    },
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

/// How many consecutive strings share one start in [`Ends::Packed`] and
/// [`Ends::Lengths`].
const PACKED_RUN: usize = 64;

impl Default for Ends {
    fn default() -> Self {
        Ends::Packed {
            starts: Vec::new(),
            within: Vec::new(),
        }
    }
}

impl Ends {
    /// Empty ends of per-row strings ([`Ends::Lengths`]).
    fn of_rows() -> Ends {
        Ends::Lengths {
            starts: vec![0],
            lens: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Ends::Lengths { lens, .. } => lens.len(),
            Ends::Packed { within, .. } => within.len(),
            Ends::Narrow(v) => v.len(),
            Ends::Wide(v) => v.len(),
        }
    }

    #[inline]
    fn get(&self, code: usize) -> usize {
        match self {
            Ends::Lengths { starts, lens, .. } => {
                let run = code / PACKED_RUN;
                starts[run] as usize + sum_lengths(&lens[run * PACKED_RUN..=code])
            }
            Ends::Packed { starts, within } => {
                starts[code / PACKED_RUN] as usize + usize::from(within[code])
            }
            Ends::Narrow(v) => v[code] as usize,
            Ends::Wide(v) => v[code] as usize,
        }
    }

    /// Where string `code` lies in the arena.
    #[inline]
    fn range(&self, code: usize) -> std::ops::Range<usize> {
        if let Ends::Lengths { starts, lens, .. } = self {
            let run = code / PACKED_RUN;
            let start = starts[run] as usize + sum_lengths(&lens[run * PACKED_RUN..code]);
            return start..start + usize::from(lens[code]);
        }
        let start = if code == 0 { 0 } else { self.get(code - 1) };
        start..self.get(code)
    }

    /// Asks the CPU to start loading what string `code`'s length is read
    /// from.
    #[inline]
    fn prefetch(&self, code: usize) {
        fn slot<T>(values: &[T], at: usize) {
            if let Some(value) = values.get(at) {
                crate::events::prefetch(value);
            }
        }
        match self {
            Ends::Lengths { lens, .. } => slot(lens, code),
            Ends::Packed { within, .. } => slot(within, code),
            Ends::Narrow(v) => slot(v, code),
            Ends::Wide(v) => slot(v, code),
        }
    }

    /// Whether string `code` is empty.
    #[inline]
    fn is_empty_at(&self, code: usize) -> bool {
        self.len_at(code) == 0
    }

    /// String `code`'s length in the arena.
    #[inline]
    fn len_at(&self, code: usize) -> usize {
        match self {
            Ends::Lengths { lens, .. } => usize::from(lens[code]),
            _ => self.range(code).len(),
        }
    }

    /// Every end, in code order (read in one pass, whatever the form).
    fn all(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            Ends::Lengths { lens, .. } => Box::new(lens.iter().scan(0u64, |end, len| {
                *end += u64::from(*len);
                Some(*end)
            })),
            _ => Box::new((0..self.len()).map(|c| self.get(c) as u64)),
        }
    }

    /// The place in the arena of every string from code `first` on, in
    /// code order (one pass, whatever the form).
    fn ranges_from(&self, first: usize) -> Box<dyn Iterator<Item = std::ops::Range<usize>> + '_> {
        if first >= self.len() {
            return Box::new(std::iter::empty());
        }
        match self {
            Ends::Lengths { lens, .. } => {
                let start = self.range(first).start;
                Box::new(lens[first..].iter().scan(start, |start, len| {
                    let range = *start..*start + usize::from(*len);
                    *start = range.end;
                    Some(range)
                }))
            }
            _ => Box::new((first..self.len()).map(|c| self.range(c))),
        }
    }

    /// Appends an end. One too far from its run's start lists every end
    /// (narrow or wide, as the arena's size needs), and one past 4 GiB
    /// widens them all.
    fn push(&mut self, end: usize) {
        if let Ends::Lengths { starts, lens } = self {
            let last = starts.last_mut().expect("the last end is listed");
            if let Ok(len) = u8::try_from(end as u64 - *last) {
                if lens.len().is_multiple_of(PACKED_RUN) {
                    // The last end starts the new run; the new end follows.
                    reserve_gently(starts, 1);
                    starts.push(end as u64);
                } else {
                    *last = end as u64;
                }
                reserve_gently(lens, 1);
                lens.push(len);
                return;
            }
            // A long string: every end listed as packed ends (or wider).
            let mut packed = Ends::default();
            packed.reserve_exact(lens.len() + 1);
            for e in self.all().collect::<Vec<_>>() {
                packed.push(e as usize);
            }
            *self = packed;
        }
        let code = self.len();
        let new_run = code.is_multiple_of(PACKED_RUN);
        // A new run starts where the last string ended.
        let run_start = match &*self {
            Ends::Packed { .. } if new_run => code.checked_sub(1).map_or(0, |last| self.get(last)),
            Ends::Packed { starts, .. } => starts[code / PACKED_RUN] as usize,
            _ => 0,
        };
        if let Ends::Packed { starts, within } = self {
            if let Ok(from_start) = u16::try_from(end - run_start) {
                if new_run {
                    reserve_gently(starts, 1);
                    starts.push(run_start as u64);
                }
                reserve_gently(within, 1);
                return within.push(from_start);
            }
            let narrow: Result<Vec<u32>, _> = self.all().map(u32::try_from).collect();
            *self = match narrow {
                Ok(narrow) => Ends::Narrow(narrow),
                Err(_) => Ends::Wide(self.all().collect()),
            };
        }
        if let Ends::Narrow(v) = self {
            match u32::try_from(end) {
                Ok(end) => {
                    reserve_gently(v, 1);
                    return v.push(end);
                }
                Err(_) => *self = Ends::Wide(v.iter().map(|e| u64::from(*e)).collect()),
            }
        }
        if let Ends::Wide(v) = self {
            reserve_gently(v, 1);
            v.push(end as u64);
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes room for `n` more ends, exactly.
    fn reserve_exact(&mut self, n: usize) {
        match self {
            Ends::Lengths { starts, lens, .. } => {
                starts.reserve_exact(n.div_ceil(PACKED_RUN) + 1);
                lens.reserve_exact(n);
            }
            Ends::Packed { starts, within } => {
                starts.reserve_exact(n.div_ceil(PACKED_RUN));
                within.reserve_exact(n);
            }
            Ends::Narrow(v) => v.reserve_exact(n),
            Ends::Wide(v) => v.reserve_exact(n),
        }
    }

    /// Removes the last end (its run's start too, if it was the run's
    /// first).
    fn pop(&mut self) {
        match self {
            Ends::Lengths { starts, lens } => {
                if let Some(len) = lens.pop() {
                    if lens.len().is_multiple_of(PACKED_RUN) {
                        // The run is gone: its start is the last end.
                        starts.pop();
                    } else {
                        *starts.last_mut().expect("the last end is listed") -= u64::from(len);
                    }
                }
            }
            Ends::Packed { starts, within } => {
                if within.pop().is_some() && within.len().is_multiple_of(PACKED_RUN) {
                    starts.pop();
                }
            }
            Ends::Narrow(v) => {
                v.pop();
            }
            Ends::Wide(v) => {
                v.pop();
            }
        }
    }

    fn shrink_to_fit(&mut self) {
        match self {
            Ends::Lengths { starts, lens, .. } => {
                starts.shrink_to_fit();
                lens.shrink_to_fit();
            }
            Ends::Packed { starts, within } => {
                starts.shrink_to_fit();
                within.shrink_to_fit();
            }
            Ends::Narrow(v) => v.shrink_to_fit(),
            Ends::Wide(v) => v.shrink_to_fit(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Ends::Lengths { starts, lens, .. } => starts.capacity() * 8 + lens.capacity(),
            Ends::Packed { starts, within } => starts.capacity() * 8 + within.capacity() * 2,
            Ends::Narrow(v) => v.capacity() * 4,
            Ends::Wide(v) => v.capacity() * 8,
        }
    }
}

/// The sum of `lens` (at most [`PACKED_RUN`] of them), in a form the
/// compiler vectorises.
#[inline]
fn sum_lengths(lens: &[u8]) -> usize {
    lens.iter().map(|l| u32::from(*l)).sum::<u32>() as usize
}

/// Size in bytes from which a dictionary's arena and ends grow by a
/// quarter at a time rather than doubling.
const GENTLE_GROWTH_FROM: usize = 16 << 20;

/// Makes room for `additional` more elements. A small array doubles, as a
/// `Vec` does; a large one grows by a quarter, so that at most a fifth of
/// its capacity is unused rather than up to half: a nearly unique
/// attribute's arena (a session id per event, ~340 MB at `large`) would
/// otherwise hold up to as much again in room it may never use. Growing
/// by a quarter still copies each byte a bounded number of times (about
/// five, against two).
pub(crate) fn reserve_gently<T>(v: &mut Vec<T>, additional: usize) {
    if v.capacity() - v.len() >= additional {
        return;
    }
    if v.capacity() * std::mem::size_of::<T>() < GENTLE_GROWTH_FROM {
        v.reserve(additional);
    } else {
        v.reserve_exact((v.capacity() / 4).max(additional));
    }
}

/// A fixed hasher: the table is rebuilt from the arena, never persisted, and
/// its keys are one account's own strings.
const HASHER: FixedState = FixedState::with_seed(0x5eed_f10e_5e60_0001);

fn str_at<'a>(bytes: &'a [u8], ends: &Ends, code: u32) -> &'a str {
    arena_str(bytes, ends.range(code as usize))
}

/// The string at `range` of an unpacked arena, `range` lying between
/// consecutive ends (as [`Ends::range`] and [`Ends::ranges_from`] give).
#[inline]
fn arena_str(bytes: &[u8], range: std::ops::Range<usize>) -> &str {
    // SAFETY: an unpacked arena is only ever extended with whole `&str`s
    // (`intern`, `push_row`) or checked to be UTF-8 between its ends as it
    // is read (`read_body`), so every slice between consecutive ends is
    // valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(&bytes[range]) }
}

/// `s` lower-cased, borrowed when it is already.
fn lower_cased(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        return Cow::Borrowed(s);
    }
    let lower = s.to_lowercase();
    if lower == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(lower)
    }
}

/// How many codes the hash table of new ones may hold before they are
/// settled, however few the settled ones.
const SETTLE_FROM: usize = 4096;

impl Dictionary {
    /// The code of `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> u32 {
        debug_assert!(
            !self.per_row,
            "a dictionary of rows' strings has no look-up"
        );
        self.ensure_lookup();
        let hash = HASHER.hash_one(s);
        let Dictionary {
            bytes,
            ends,
            lowered,
            settled,
            table,
            ..
        } = self;
        if let Some(code) = settled.find(hash, |c| str_at(bytes, ends, c) == s) {
            return code;
        }
        if let Some(code) = table.find(hash, |c| str_at(bytes, ends, *c) == s) {
            return *code;
        }
        let code = u32::try_from(ends.len()).expect("fewer than 2^32 distinct strings");
        reserve_gently(bytes, s.len());
        bytes.extend_from_slice(s.as_bytes());
        ends.push(bytes.len());
        let lower = s.to_lowercase();
        if lower != s {
            lowered.push((code, lower.into()));
        }
        table.insert_unique(hash, code, |c| HASHER.hash_one(str_at(bytes, ends, *c)));
        // Settling every code again each time the new ones reach an eighth
        // of the settled hashes each string about nine times over a
        // dictionary's growth (a hash table's doublings: about twice).
        if table.len() > SETTLE_FROM.max(settled.len() / 8) {
            self.settle();
        }
        code
    }

    /// An empty dictionary of one string per row ([`AttrColumn`]'s
    /// per-row strings): strings may repeat, codes are rows, and there is
    /// no look-up by string (no [`SettledCodes`], no hash table), which is
    /// most of what a nearly unique string costs beside its bytes. Nor is
    /// a lower-cased copy kept: a test lower-cases as it reads.
    ///
    /// [`AttrColumn`]: crate::attr_column::AttrColumn
    fn per_row() -> Dictionary {
        Dictionary {
            per_row: true,
            ends: Ends::of_rows(),
            ..Dictionary::default()
        }
    }

    /// A dictionary of `rows` per-row strings, row `r`'s being
    /// `string(r)`, packed if a symbol table trained on a sample of them
    /// packs them well ([`Packer`]).
    pub fn rows_from<'s>(rows: usize, string: impl Fn(usize) -> &'s str) -> Dictionary {
        let step = rows.div_ceil(PACKER_SAMPLE).max(1);
        let sample: Vec<&str> = (0..rows).step_by(step).map(&string).collect();
        let mut d = Dictionary::per_row();
        d.packer = Packer::train(&sample, rows).map(Box::new);
        let average = sample.iter().map(|s| s.len()).sum::<usize>() / sample.len().max(1);
        d.bytes.reserve_exact(rows * average);
        d.ends.reserve_exact(rows);
        for r in 0..rows {
            d.push_row(string(r));
        }
        d.bytes.shrink_to_fit();
        d
    }

    /// This dictionary of per-row strings with its rows in `order` (as a
    /// merge reorders a column's rows), packed as it is.
    pub fn rows_in_order(&self, order: &[u32]) -> Dictionary {
        debug_assert!(self.per_row, "rows of a dictionary of rows");
        let mut d = Dictionary::per_row();
        d.packer = self.packer.clone();
        d.bytes
            .reserve_exact(order.iter().map(|&r| self.ends.len_at(r as usize)).sum());
        d.ends.reserve_exact(order.len());
        for &r in order {
            d.bytes.extend_from_slice(self.stored(r));
            d.ends.push(d.bytes.len());
        }
        d
    }

    /// Whether strings may repeat ([`per_row`]).
    ///
    /// [`per_row`]: Dictionary::per_row
    pub fn is_per_row(&self) -> bool {
        self.per_row
    }

    /// Whether the strings are packed ([`Packer`]).
    pub fn is_packed(&self) -> bool {
        self.packer.is_some()
    }

    /// Whether the strings are packed as numbers ([`Packer::Numbers`]).
    #[cfg(test)]
    pub(crate) fn packs_numbers(&self) -> bool {
        matches!(self.packer.as_deref(), Some(Packer::Numbers(_)))
    }

    /// Appends `s` as the next code, whether or not it is held already
    /// (a dictionary of rows' strings, [`per_row`]).
    ///
    /// [`per_row`]: Dictionary::per_row
    pub fn push_row(&mut self, s: &str) -> u32 {
        debug_assert!(self.per_row, "a dictionary of distinct strings interns");
        let code = u32::try_from(self.ends.len()).expect("fewer than 2^32 rows");
        match &self.packer {
            Some(p) => p.pack_into(s, &mut self.bytes),
            None => {
                reserve_gently(&mut self.bytes, s.len());
                self.bytes.extend_from_slice(s.as_bytes());
            }
        }
        self.ends.push(self.bytes.len());
        code
    }

    /// Bytes of all strings as stored, end to end.
    pub fn arena_len(&self) -> usize {
        self.bytes.len()
    }

    /// Replaces the string of the last code (of a dictionary of rows'
    /// strings): that of a row being appended, which no reader has seen,
    /// so no remembered verdict or match covers it.
    pub fn replace_last(&mut self, s: &str) {
        debug_assert!(self.per_row, "a distinct string's code never changes");
        let Some(last) = self.ends.len().checked_sub(1) else {
            return;
        };
        self.bytes.truncate(self.ends.range(last).start);
        self.ends.pop();
        self.push_row(s);
    }

    /// String `code` as stored (packed, if the dictionary is).
    fn stored(&self, code: u32) -> &[u8] {
        &self.bytes[self.ends.range(code as usize)]
    }

    /// String `code`, unpacked into `buf` if the strings are packed.
    #[inline]
    pub fn str_in<'a>(&'a self, code: u32, buf: &'a mut Vec<u8>) -> &'a str {
        self.str_of(self.ends.range(code as usize), buf)
    }

    /// Calls `each(code, string)` for every code from `first` on, in
    /// order: one pass over the ends, where reading codes one by one
    /// would sum a run of lengths for each ([`Ends::Lengths`]).
    pub fn each_string_from(&self, first: u32, mut each: impl FnMut(u32, &str)) {
        let mut buf = Vec::new();
        for (code, range) in (first..).zip(self.ends.ranges_from(first as usize)) {
            each(code, self.str_of(range, &mut buf));
        }
    }

    /// The string stored at `range` of the arena, unpacked into `buf` if
    /// the strings are packed.
    #[inline]
    fn str_of<'a>(&'a self, range: std::ops::Range<usize>, buf: &'a mut Vec<u8>) -> &'a str {
        match &self.packer {
            None => arena_str(&self.bytes, range),
            Some(p) => {
                p.unpack_into(&self.bytes[range], buf);
                // SAFETY: packing is lossless, and every packed string
                // was packed from a `&str` (`push_row`) or checked to
                // unpack to UTF-8 as it was read (`read_rows_from`).
                unsafe { std::str::from_utf8_unchecked(buf) }
            }
        }
    }

    /// String `code`, borrowed where it is stored as it is.
    pub fn string(&self, code: u32) -> Cow<'_, str> {
        match &self.packer {
            None => Cow::Borrowed(str_at(&self.bytes, &self.ends, code)),
            Some(_) => {
                let mut buf = Vec::new();
                Cow::Owned(self.str_in(code, &mut buf).to_owned())
            }
        }
    }

    /// Whether code `a` here and code `b` of `other` are the same
    /// non-empty string. Where `other` packs its strings, `a`'s string is
    /// packed with `other`'s table (packing is deterministic, so equal
    /// strings pack alike) and compared with `b` as stored: a sequence's
    /// `on` correlation compares one A row with the B rows of its window
    /// in turn, so that packing is done once per A row (remembered per
    /// thread), and no B string is unpacked.
    #[inline]
    pub fn same_string(&self, a: u32, other: &Dictionary, b: u32) -> bool {
        if self.packer.is_none() && other.packer.is_none() {
            let x = str_at(&self.bytes, &self.ends, a);
            return !x.is_empty() && x == str_at(&other.bytes, &other.ends, b);
        }
        /// The last string compared: (this dictionary, its code, the other
        /// dictionary), its form as the other stores strings, and a
        /// buffer to unpack into.
        struct LastKey {
            of: Option<(u64, u32, u64)>,
            key: Vec<u8>,
            unpacked: Vec<u8>,
        }
        thread_local! {
            static LAST: std::cell::RefCell<LastKey> = const {
                std::cell::RefCell::new(LastKey { of: None, key: Vec::new(), unpacked: Vec::new() })
            };
        }
        LAST.with_borrow_mut(|last| {
            let of = Some((self.id, a, other.id));
            if last.of != of {
                let LastKey { key, unpacked, .. } = last;
                let x = self.str_in(a, unpacked);
                key.clear();
                match &other.packer {
                    Some(p) => p.pack_into(x, key),
                    None => key.extend_from_slice(x.as_bytes()),
                }
                last.of = of;
            }
            !last.key.is_empty() && last.key == other.stored(b)
        })
    }

    /// A hash of each code's string, for codes up to the length returned
    /// (later codes have none yet): two per-row dictionaries compared by a
    /// sequence's `on` correlation, where no code names a string once,
    /// compare hashes first and strings only where they agree, so that a
    /// segment evaluated again does not unpack a string per pair of rows.
    /// Made on first use and remembered (4 bytes a row, for the columns
    /// correlated only), extended once codes have grown by a sixteenth.
    pub fn row_hashes(&self) -> Arc<Vec<u32>> {
        let mut held = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        let known = held.as_ref().map_or(0, |h| h.len());
        if let Some(h) = held.as_ref()
            && self.len() - known <= known / 16
        {
            return h.clone();
        }
        let mut hashes = Vec::with_capacity(self.len());
        hashes.extend_from_slice(held.as_ref().map_or(&[][..], |h| &h[..]));
        self.each_string_from(known as u32, |_, s| hashes.push(HASHER.hash_one(s) as u32));
        let hashes = Arc::new(hashes);
        *held = Some(hashes.clone());
        hashes
    }

    /// Asks the CPU to start loading what says whether string `code` is
    /// empty.
    #[inline]
    pub fn prefetch_end(&self, code: u32) {
        self.ends.prefetch(code as usize);
    }

    /// Whether string `code` is empty (read without unpacking it).
    #[inline]
    pub fn is_empty_at(&self, code: u32) -> bool {
        self.ends.is_empty_at(code as usize)
    }

    /// Writes a dictionary of per-row strings: its packer, if any, then
    /// what [`write_to`](Dictionary::write_to) writes.
    pub fn write_rows_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        match &self.packer {
            None => w.u8(0)?,
            Some(p) => p.write_to(w)?,
        }
        self.write_to(w)
    }

    /// Reads what [`write_rows_to`](Dictionary::write_rows_to) wrote,
    /// checking that every string unpacks to UTF-8.
    pub fn read_rows_from<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<Dictionary> {
        let packer = match r.u8()? {
            0 => None,
            tag => Some(Box::new(Packer::read_from(tag, r)?)),
        };
        let mut d = Dictionary::read_body(r, packer.is_none(), Ends::of_rows())?;
        d.per_row = true;
        d.lowered = Vec::new();
        let ascii = match &packer {
            Some(p) => p.check_packed(d.ends.ranges_from(0).map(|range| &d.bytes[range])),
            None => Some(true),
        };
        let Some(ascii) = ascii else {
            return Err(invalid("a packed string that is not a run of codes"));
        };
        if let (Some(p), false) = (&packer, ascii) {
            let mut buf = Vec::new();
            for range in d.ends.ranges_from(0) {
                p.unpack_into(&d.bytes[range], &mut buf);
                if std::str::from_utf8(&buf).is_err() {
                    return Err(invalid("a packed string that is not UTF-8"));
                }
            }
        }
        d.packer = packer;
        Ok(d)
    }

    /// Gives back the arena's and the ends' unused room, and settles the
    /// new codes (the next new string grows them again, so this is for
    /// after a bulk load).
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.lowered.shrink_to_fit();
        if !self.per_row && self.table.len() > SETTLE_FROM {
            self.settle();
        }
    }

    /// Indexes every code in [`SettledCodes`] and empties the hash table.
    fn settle(&mut self) {
        let Dictionary {
            bytes,
            ends,
            settled,
            table,
            ..
        } = self;
        // The old index and table go first: the new one is built from the
        // arena alone, and both at once would add their size to its own.
        **settled = SettledCodes::default();
        *table = HashTable::new();
        **settled = SettledCodes::of(ends.len(), |c| HASHER.hash_one(str_at(bytes, ends, c)));
    }

    /// Settles every code if the look-up lags the arena (a dictionary read
    /// from a snapshot gets it on the first new string, so that a restart
    /// does not hash every string up front).
    fn ensure_lookup(&mut self) {
        if self.per_row {
            return;
        }
        if self.settled.len() + self.table.len() != self.ends.len() {
            self.settle();
        }
    }

    /// What is known of this dictionary's strings in `other` (see
    /// [`Matches`]), remembered per other dictionary. When this dictionary
    /// has grown by more than an eighth since, a longer one takes over
    /// what was found (codes past its end are compared, not remembered).
    pub fn matches_in(&self, other: &Dictionary) -> Arc<Matches> {
        let mut cached = self.matches.lock().unwrap_or_else(|e| e.into_inner());
        let at = cached.iter().position(|(id, _)| *id == other.id);
        let known = at.map(|i| cached.remove(i).1);
        let m = match known {
            Some(m) if self.len().saturating_sub(m.found.len()) <= self.len() / 8 => m,
            known => {
                let found = known.as_ref().map_or(&[][..], |m| &m.found[..]);
                let grown = (0..self.len())
                    .map(|a| AtomicU32::new(found.get(a).map_or(0, |f| f.load(Ordering::Relaxed))))
                    .collect();
                Arc::new(Matches { found: grown })
            }
        };
        if cached.len() >= CACHED_MATCHES {
            cached.remove(0);
        }
        cached.push((other.id, m.clone()));
        m
    }

    pub fn write_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        w.slice(&self.bytes)?;
        // Every end as a `u64`, whatever the form in memory (it is
        // chosen again as they are read).
        w.u64s(self.ends.len(), self.ends.all())?;
        w.u64(self.lowered.len() as u64)?;
        for (code, lower) in &self.lowered {
            w.u32(*code)?;
            w.str(lower)?;
        }
        Ok(())
    }

    pub fn read_from<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<Dictionary> {
        Dictionary::read_body(r, true, Ends::default())
    }

    /// What [`write_to`](Dictionary::write_to) wrote, each string checked
    /// to be UTF-8 if `utf8` (packed strings are checked unpacked), their
    /// ends read into `ends` (empty).
    fn read_body<R: std::io::Read>(
        r: &mut Reader<R>,
        utf8: bool,
        mut ends: Ends,
    ) -> std::io::Result<Dictionary> {
        let bytes: Vec<u8> = r.vec()?;
        // Written as `u64`s whatever their width in memory, so that the
        // layout does not depend on the arena's size; read a chunk at a
        // time (no wide copy of a large dictionary's ends).
        // `get` slices the arena unchecked for UTF-8: check it once here.
        let mut start = 0usize;
        let mut valid = true;
        r.u64s_in_chunks(|chunk| {
            for end in chunk {
                let end = usize::try_from(*end).unwrap_or(usize::MAX);
                valid &= end >= start
                    && end <= bytes.len()
                    && (!utf8 || std::str::from_utf8(&bytes[start..end]).is_ok());
                if !valid {
                    return;
                }
                ends.push(end);
                start = end;
            }
        })?;
        if !valid {
            return Err(invalid("a dictionary string out of bounds or not UTF-8"));
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
            settled: Box::default(),
            table: HashTable::new(),
            cache: Mutex::default(),
            id: next_id(),
            matches: Mutex::default(),
            per_row: false,
            packer: None,
            hashes: Mutex::default(),
        })
    }

    /// String `code` of a dictionary whose strings are not packed (see
    /// [`str_in`](Dictionary::str_in) for any).
    pub fn get(&self, code: u32) -> &str {
        debug_assert!(self.packer.is_none(), "packed strings are read unpacked");
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
        self.each_string_from(v.len as u32, |code, s| {
            let lower = if self.per_row {
                // Per-row strings keep no lower-cased copy.
                lower_cased(s)
            } else {
                match lowered.next_if(|(c, _)| *c == code) {
                    Some((_, l)) => Cow::Borrowed(&**l),
                    None => Cow::Borrowed(s),
                }
            };
            v.push(pass(s, &lower));
        });
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
            + self.ends.heap_bytes()
            + self
                .lowered
                .iter()
                .map(|(_, s)| s.len() + 24)
                .sum::<usize>()
            + self.settled.heap_bytes()
            + self
                .hashes
                .lock()
                .map_or(0, |h| h.as_ref().map_or(0, |h| h.capacity() * 4))
            + self.packer.as_ref().map_or(0, |p| p.heap_bytes())
            + self.table.capacity() * (std::mem::size_of::<u32>() + 1)
            + self
                .cache
                .lock()
                .map_or(0, |c| c.iter().map(|(_, v)| v.bits.capacity() * 8).sum())
            + self
                .matches
                .lock()
                .map_or(0, |t| t.iter().map(|(_, t)| t.found.capacity() * 4).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_widen_past_four_gib_keeping_every_end() {
        let mut ends = Ends::default();
        ends.push(3);
        ends.push(u32::MAX as usize);
        assert!(matches!(ends, Ends::Narrow(_)));
        ends.push(u32::MAX as usize + 10);
        assert!(matches!(ends, Ends::Wide(_)));
        ends.push(u32::MAX as usize + 11);
        let all: Vec<usize> = (0..ends.len()).map(|c| ends.get(c)).collect();
        assert_eq!(
            all,
            [
                3,
                u32::MAX as usize,
                u32::MAX as usize + 10,
                u32::MAX as usize + 11
            ]
        );
        assert!(ends.heap_bytes() >= 4 * 8);
    }

    /// Short strings' ends take two bytes and a share of their run's start;
    /// the first too far from its run's start lists them all (narrow or
    /// wide, as their size needs), and every string stays where it was.
    #[test]
    fn ends_of_short_strings_are_packed_until_one_is_long() {
        let mut d = Dictionary::default();
        // Lengths 5 to 15.
        let ids: Vec<String> = (0..1000u64)
            .map(|i| format!("s{:x}", (i * 7919) % (1 << (4 * (4 + i % 11)))))
            .collect();
        for id in &ids {
            d.intern(id);
        }
        let Ends::Packed { starts, within } = &d.ends else {
            panic!("short strings' ends are packed")
        };
        assert_eq!((starts.len(), within.len()), (1000usize.div_ceil(64), 1000));
        assert!(d.ends.heap_bytes() <= 2 * 1000 + 1000 / 8 + 64);
        assert_eq!(d.intern(&ids[500]), 500);
        assert_eq!(d.intern(&"ż".repeat(60)), 1000);
        assert!(matches!(d.ends, Ends::Packed { .. }));
        assert_eq!(d.intern(&"x".repeat(70_000)), 1001);
        assert!(matches!(d.ends, Ends::Narrow(_)));
        assert_eq!(d.intern("after"), 1002);
        for (code, id) in ids.iter().enumerate() {
            assert_eq!(d.get(code as u32), id);
        }
        assert_eq!(d.get(1000), "ż".repeat(60));
        assert_eq!(d.get(1001), "x".repeat(70_000));
        assert_eq!(d.get(1002), "after");
        assert_eq!(d.intern(&ids[999]), 999);

        // A run's strings may reach 65,535 bytes from its start, not more.
        let mut ends = Ends::default();
        ends.push(0);
        ends.push(65_535);
        assert!(matches!(ends, Ends::Packed { .. }));
        ends.push(65_536);
        assert_eq!(ends.all().collect::<Vec<_>>(), [0, 65_535, 65_536]);
        assert!(matches!(ends, Ends::Narrow(_)));
        // A new run starts where the last string ended.
        let mut ends = Ends::default();
        for c in 0..200 {
            ends.push(c * 1000);
        }
        assert!(matches!(ends, Ends::Packed { .. }));
        assert_eq!(
            ends.all().collect::<Vec<_>>(),
            (0..200).map(|c| c * 1000).collect::<Vec<_>>()
        );

        // Long strings past 4 GiB list wide.
        let big = u32::MAX as usize + 1;
        let mut ends = Ends::default();
        ends.push(big);
        ends.push(big + 1);
        assert!(matches!(ends, Ends::Wide(_)));
        assert_eq!(ends.all().collect::<Vec<_>>(), [big as u64, big as u64 + 1]);
    }

    /// Per-row strings keep one byte of length each (and a start per run)
    /// until one is 256 bytes or longer; every string reads back the same
    /// by code, in one pass from any code, after a pop, and after the
    /// lengths give way to packed ends; and a snapshot keeps them.
    #[test]
    fn per_row_ends_are_lengths_until_a_string_is_long() {
        let rows: Vec<String> = (0..1000u64)
            .map(|i| match i % 7 {
                0 => String::new(),
                1 => "ż".repeat(127),
                _ => format!("s{:x}", i * 7919),
            })
            .collect();
        let check = |d: &Dictionary, rows: &[String]| {
            assert_eq!(d.len(), rows.len());
            for (code, s) in rows.iter().enumerate() {
                assert_eq!(d.get(code as u32), s, "code {code}");
                assert_eq!(d.is_empty_at(code as u32), s.is_empty());
            }
            for first in [0, 1, 63, 64, 65, rows.len() - 1, rows.len()] {
                let mut seen = Vec::new();
                d.each_string_from(first as u32, |code, s| seen.push((code, s.to_string())));
                let want: Vec<_> = (first as u32..)
                    .zip(rows[first..].iter().cloned())
                    .collect();
                assert_eq!(seen, want, "from {first}");
            }
        };
        let mut d = Dictionary::per_row();
        for s in &rows {
            d.push_row(s);
        }
        let Ends::Lengths { starts, lens, .. } = &d.ends else {
            panic!("per-row ends are lengths")
        };
        assert_eq!(
            (starts.len(), lens.len()),
            (1000usize.div_ceil(64) + 1, 1000)
        );
        d.ends.shrink_to_fit();
        assert_eq!(d.ends.heap_bytes(), 1000 + 8 * (1000usize.div_ceil(64) + 1));
        check(&d, &rows);

        // Popping the first row of a run drops the run's start with it.
        let mut rows = rows;
        d.replace_last("replaced");
        *rows.last_mut().unwrap() = "replaced".into();
        check(&d, &rows);
        for _ in 0..(1000 - 960) {
            d.ends.pop();
            rows.pop();
        }
        d.bytes.truncate(d.ends.all().last().unwrap() as usize);
        d.push_row("again");
        rows.push("again".into());
        check(&d, &rows);

        let mut buf = Vec::new();
        d.write_rows_to(&mut Writer(&mut buf)).unwrap();
        let back = Dictionary::read_rows_from(&mut Reader(&buf[..])).unwrap();
        assert!(matches!(back.ends, Ends::Lengths { .. }));
        check(&back, &rows);

        // A 256-byte string: packed ends from then on, every string kept.
        d.push_row(&"x".repeat(256));
        rows.push("x".repeat(256));
        assert!(matches!(d.ends, Ends::Packed { .. }));
        d.push_row("after");
        rows.push("after".into());
        check(&d, &rows);
    }

    /// Codes settle as the dictionary grows: a string interned again gets
    /// its code back whether it is settled or still in the hash table, the
    /// table never holds more than its share, and after a bulk load
    /// (`shrink_to_fit`) every code is settled.
    #[test]
    fn codes_settle_as_the_dictionary_grows() {
        let mut d = Dictionary::default();
        let mut words: Vec<String> = (0..100_000).map(|i| format!("s{:x}", i * 7919)).collect();
        for n in 0..words.len() {
            assert_eq!(d.intern(&words[n]), n as u32);
            assert_eq!(d.settled.len() + d.table.len(), n + 1);
            assert!(d.table.len() <= SETTLE_FROM.max(d.settled.len() / 8));
            if n % 997 == 0 {
                // Every earlier string, settled or not, keeps its code.
                for (code, w) in words[..=n].iter().enumerate().step_by(13) {
                    assert_eq!(d.intern(w), code as u32);
                }
            }
            // Stop where the hash table holds more than a small one would.
            if d.table.len() > SETTLE_FROM {
                words.truncate(n + 1);
                break;
            }
        }
        assert!(d.settled.len() > 8 * SETTLE_FROM);
        d.shrink_to_fit();
        assert_eq!((d.settled.len(), d.table.len()), (words.len(), 0));
        for (code, w) in words.iter().enumerate() {
            assert_eq!(d.intern(w), code as u32);
        }
        // About 5.5 bytes a settled string, where a hash table of as many
        // codes takes 5 bytes a slot, at most 7 slots in 8 used.
        let per_code = d.settled.heap_bytes() as f64 / words.len() as f64;
        assert!(per_code < 5.6, "{per_code}");
        assert_eq!(d.intern("new"), words.len() as u32);
        assert_eq!(d.table.len(), 1);
    }

    /// A dictionary read back from its snapshot form has the same strings
    /// under the same codes, takes new ones after them, and refuses ends
    /// that do not fit its arena.
    #[test]
    fn a_dictionary_survives_its_snapshot_form() {
        let mut d = Dictionary::default();
        let words: Vec<String> = (0..10_000).map(|i| format!("sess-{i}-Ż")).collect();
        for w in &words {
            d.intern(w);
        }
        let mut bytes = Vec::new();
        d.write_to(&mut Writer(&mut bytes)).unwrap();
        let mut back = Dictionary::read_from(&mut Reader(&bytes[..])).unwrap();
        assert_eq!(back.len(), words.len());
        for (code, w) in words.iter().enumerate() {
            assert_eq!(back.get(code as u32), w);
        }
        assert_eq!(back.intern("sess-5-Ż"), 5);
        assert_eq!(back.intern("new"), words.len() as u32);
        // An end past the arena (the arena's length prefix is 8 bytes, its
        // first string's end follows the arena and the ends' count).
        let arena = d.bytes.len();
        let first_end_at = 8 + arena + 8;
        bytes[first_end_at..first_end_at + 8].copy_from_slice(&(arena as u64 + 1).to_le_bytes());
        assert!(Dictionary::read_from(&mut Reader(&bytes[..])).is_err());
    }

    #[test]
    fn a_large_arena_grows_by_a_quarter() {
        let mut d = Dictionary::default();
        let mut largest_share = 0.0f64;
        for i in 0..1_000_000u32 {
            d.intern(&format!("{i:048}"));
            let len = d.bytes.len();
            // Once past the last doubling, which may have taken the
            // arena up to twice the threshold.
            if len > 2 * GENTLE_GROWTH_FROM {
                largest_share = largest_share.max(d.bytes.capacity() as f64 / len as f64);
            }
        }
        assert_eq!(d.len(), 1_000_000);
        assert_eq!(d.get(999_999), format!("{:048}", 999_999));
        // Past the threshold the arena is never more than a quarter larger
        // than its strings (doubling would leave up to twice).
        assert!(
            largest_share > 1.0 && largest_share <= 1.25 + 1e-3,
            "{largest_share}"
        );
        let Ends::Packed { starts, within } = &d.ends else {
            panic!("48-byte strings' ends are packed")
        };
        assert!(within.capacity() as f64 <= within.len() as f64 * 2.0);
        assert!(starts.capacity() as f64 <= starts.len() as f64 * 2.0);
    }

    #[test]
    fn a_shrunk_dictionary_keeps_its_strings_and_codes() {
        let mut d = Dictionary::default();
        for i in 0..5_000 {
            d.intern(&format!("Session-{i}"));
        }
        let before = d.heap_bytes();
        d.shrink_to_fit();
        assert_eq!(d.bytes.capacity(), d.bytes.len());
        assert!(d.heap_bytes() < before);
        assert_eq!(d.get(4_321), "Session-4321");
        assert_eq!(d.intern("Session-17"), 17);
        assert_eq!(d.intern("new"), 5_000);
        assert_eq!(d.get(5_000), "new");
        assert_eq!(d.get(4_999), "Session-4999");
    }

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

    /// Matches found by comparing strings are remembered and then decide
    /// every comparison of that code; codes added after the memory was
    /// made are compared as strings; a memory made again for a grown
    /// dictionary keeps what was found.
    #[test]
    fn matches_between_dictionaries_remember_what_comparisons_found() {
        let (mut a, mut b) = (Dictionary::default(), Dictionary::default());
        for s in ["x", "", "y", "z"] {
            a.intern(s);
        }
        for s in ["z", "", "x", "w"] {
            b.intern(s);
        }
        let truth = |a: &Dictionary, x: u32, b: &Dictionary, y: u32| {
            !a.get(x).is_empty() && a.get(x) == b.get(y)
        };
        let m = a.matches_in(&b);
        for _ in 0..2 {
            for x in 0..a.len() as u32 {
                for y in 0..b.len() as u32 {
                    assert_eq!(m.same(&a, x, &b, y), truth(&a, x, &b, y), "{x} {y}");
                }
            }
        }
        assert_eq!(m.found[0].load(Ordering::Relaxed), 3, "x is b's code 2");
        assert_eq!(m.found[1].load(Ordering::Relaxed), 0, "the empty string");
        assert_eq!(m.found[3].load(Ordering::Relaxed), 1, "z is b's code 0");
        assert!(Arc::ptr_eq(&m, &a.matches_in(&b)), "remembered");
        // A string new to both, past the memory's end on both sides.
        let (v_a, v_b) = (a.intern("v"), b.intern("v"));
        assert!(m.same(&a, v_a, &b, v_b));
        assert!(!m.same(&a, v_a, &b, 0));
        // Grown by more than an eighth: a longer memory, found codes kept.
        for i in 0..10 {
            a.intern(&format!("n{i}"));
        }
        let longer = a.matches_in(&b);
        assert!(!Arc::ptr_eq(&m, &longer));
        assert_eq!(longer.found.len(), a.len());
        assert_eq!(longer.found[0].load(Ordering::Relaxed), 3);
        assert!(!longer.same(&a, 0, &b, 0) && longer.same(&a, 0, &b, 2));
        // Another dictionary is another memory; a copy is another dictionary.
        let copy = b.clone();
        assert!(!Arc::ptr_eq(&longer, &a.matches_in(&copy)));
        assert!(a.matches_in(&copy).same(&a, 0, &copy, 2));
    }

    /// Per-row strings packed and read back from a snapshot, ASCII ones
    /// (checked in one pass over the packed bytes) and others (each
    /// unpacked and checked), compared across two packers.
    #[test]
    fn packed_rows_read_back_and_compare_across_packers() {
        for accented in [false, true] {
            let strings: Vec<String> = (0..300_000u64)
                .map(|i| match (accented, i % 3) {
                    (true, 0) => format!("zażółć-{:x}", i * 7919),
                    _ => format!("s{:x}", i * 7919),
                })
                .collect();
            let d = Dictionary::rows_from(strings.len(), |r| &strings[r]);
            assert!(d.is_packed() && d.is_per_row());
            assert!(d.arena_len() < strings.iter().map(String::len).sum::<usize>());
            let mut bytes = Vec::new();
            d.write_rows_to(&mut Writer(&mut bytes)).unwrap();
            let back = Dictionary::read_rows_from(&mut Reader(&bytes[..])).unwrap();
            let mut buf = Vec::new();
            for (code, s) in strings.iter().enumerate() {
                assert_eq!(back.str_in(code as u32, &mut buf), s);
            }
            // Another packer (trained on rows in another order) packs
            // the same strings; equal strings compare equal across them.
            let order: Vec<u32> = (0..strings.len() as u32).rev().collect();
            let reversed: Vec<&str> = order
                .iter()
                .map(|&r| strings[r as usize].as_str())
                .collect();
            let other = Dictionary::rows_from(reversed.len(), |r| reversed[r]);
            let last = strings.len() as u32 - 1;
            assert!(back.same_string(0, &other, last));
            assert!(back.same_string(5, &other, last - 5));
            assert!(!back.same_string(5, &other, last - 6));
            let hashes = (back.row_hashes(), other.row_hashes());
            assert_eq!(hashes.0[7], hashes.1[last as usize - 7]);
        }
    }

    /// A packed string that is not a run of codes (as in a damaged
    /// snapshot) is found before anything unpacks it.
    #[test]
    fn malformed_packed_strings_are_found() {
        // Ids of no number form: packed with symbols.
        let strings: Vec<String> = (0..300_000u64)
            .map(|i| format!("s{:x}-{}", i * 7919, i % 3))
            .collect();
        let d = Dictionary::rows_from(strings.len(), |r| &strings[r]);
        let p = d.packer.as_deref().unwrap();
        assert!(matches!(p, Packer::Symbols(_)), "{p:?}");
        let all = d.ends.ranges_from(0).map(|range| &d.bytes[range]);
        assert_eq!(p.check_packed(all), Some(true));
        let one = |packed: &[u8]| p.check_packed(std::iter::once(packed));
        // An escape with no byte after it; a code past the symbols.
        assert_eq!(one(&[fsst::ESCAPE_CODE]), None);
        // (A full table of 255 symbols leaves no code unused.)
        let few = fsst::Compressor::train(&vec![b"abcabcabc".as_slice(); 1000]);
        assert!((1..255).contains(&few.n_symbols()));
        let unused = u8::try_from(few.n_symbols()).unwrap();
        let few = Packer::Symbols(Box::new(few));
        assert_eq!(few.check_packed(std::iter::once(&[unused][..])), None);
        assert_eq!(few.check_packed(std::iter::once(&[0][..])), Some(true));
        // An escaped byte that is not ASCII: well-formed, checked unpacked.
        assert_eq!(one(&[fsst::ESCAPE_CODE, 0xc3]), Some(false));
        assert_eq!(one(&[0, fsst::ESCAPE_CODE, b'x']), Some(true));
    }
}
