//! Events of one name, stored columnar and grouped by contact.
//!
//! Rows live in columns (time, the event's seq in the store's log, one typed
//! column per attribute). The first
//! `base_len` rows are sorted by (contact, time) and indexed by `offsets`
//! (per contact ordinal), so a base row's contact is implied by its position
//! and not stored. Later rows are a pending tail in arrival order: their
//! contacts are kept in `tail_contact`, and `pending` lists each contact's
//! tail rows in time order. When the tail grows past an eighth of the base,
//! [`EventPartition::compact`] merges it into the base (dropping erased
//! contacts' rows). A contact's events are then one base range plus one
//! short pending list, both in time order.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use flowseg_model::AttrValue;
use flowseg_rules::plan::{AttrPlan, AttrTest, NumberTest};
use roaring::RoaringBitmap;

pub use crate::attr_column::{AttrColumn, Cell};
use crate::attr_column::{
    BYTE_ABSENT, BYTE_NULL, CENTS_ABSENT, CENTS_NULL, INT_ABSENT, INT_NULL, NUM_ABSENT, NUM_NULL,
    Stored, byte_steps_value, cents_value, permute, steps_value,
};
use crate::dict::Verdicts;
use crate::seqs::Seqs;
use crate::snapshot::{Reader, Writer, invalid};
use crate::ticks::{Ticks, TimeKey, TimeRun};

/// Whether an attribute test's verdict on a string depends on the
/// evaluation time (date strings against a relative range).
fn depends_on_now(test: &AttrTest) -> bool {
    match test {
        AttrTest::Date(_) => true,
        AttrTest::AnyOf(tests) => tests.iter().any(depends_on_now),
        _ => false,
    }
}

/// [`AttrTest::matches`] for a string value, given it as stored and
/// lower-cased (so no string is copied or lower-cased per test).
fn string_passes(test: &AttrTest, now: i64, s: &str, lower: &str) -> bool {
    match test {
        AttrTest::HasValue => !s.is_empty(),
        AttrTest::Text(t) => {
            !s.is_empty() && t.matches_prepared(if t.reads_lowercase() { lower } else { s })
        }
        AttrTest::Date(r) => {
            flowseg_model::time::parse_instant(s).is_ok_and(|t| r.contains(now, t))
        }
        AttrTest::AnyOf(tests) => tests.iter().any(|t| string_passes(t, now, s, lower)),
        AttrTest::Number(_) | AttrTest::Bool(_) => false,
    }
}

/// Row `row`'s time, given a partition's base times and tail times.
#[inline(always)]
fn time_of(base: &Ticks, tail: &[i64], base_len: usize, row: u32) -> i64 {
    match (row as usize).checked_sub(base_len) {
        Some(t) => tail[t],
        None => base.at(row),
    }
}

/// Smallest pending tail that triggers a merge into the base.
const MIN_PENDING_TO_COMPACT: usize = 4096;

#[derive(Debug, Clone, Default)]
pub struct EventPartition {
    /// The times of the tail rows (`base_len..`); the base rows' are in
    /// `base_times`.
    tail_time: Vec<i64>,
    /// Each row's event seq: its key in the store's log, so that a
    /// contact's events can be read back (listing) and erased
    /// (compressed: [`crate::seqs`]).
    seq: Seqs,
    attr_names: Vec<Box<str>>,
    attr_index: HashMap<Box<str>, usize, foldhash::fast::RandomState>,
    attrs: Vec<AttrColumn>,
    /// Rows `0..base_len` are sorted by (contact, time).
    base_len: usize,
    /// The base rows' times, as ticks and remainders ([`crate::ticks`]).
    base_times: Ticks,
    /// Base rows of contact `o` are `offsets[o]..offsets[o + 1]`.
    offsets: Vec<u32>,
    /// The tick of each contact's latest base row (0 for none), kept for a
    /// partition that does not suit the row pass (many rows a contact);
    /// empty otherwise. A sweep of a recent window reads it in order and
    /// skips the contacts with nothing recent without touching their rows
    /// ([`EventPartition::latest_ticks`]).
    latest_ticks: Vec<u16>,
    /// The contact of each tail row (`base_len..`).
    tail_contact: Vec<u32>,
    /// Each contact's tail rows, in (time, arrival) order.
    pending: BTreeMap<u32, Vec<u32>>,
    /// Contacts that have at least one row.
    contacts: RoaringBitmap,
    /// Rows of erased contacts, skipped until the next compaction drops
    /// them (so a contact put again later does not get them back).
    dead_rows: RoaringBitmap,
    /// The latest time among the rows held (exact after a compaction;
    /// until then it may be that of an erased contact's row).
    pub last_time: Option<i64>,
}

/// See [`EventPartition::catalog_summary`].
pub struct CatalogSummary<'a> {
    pub events: usize,
    pub last_time: Option<i64>,
    pub attributes: Vec<(&'a str, KindsPresent)>,
}

pub use crate::attr_column::KindsPresent;

/// A contact's rows: one contiguous base range, or a merged list.
pub enum Rows<'a> {
    Range(Range<u32>),
    List(&'a [u32]),
}

impl EventPartition {
    pub fn len(&self) -> usize {
        self.base_len + self.tail_time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Contacts with at least one row (possibly erased ones, until compaction).
    pub fn contacts(&self) -> &RoaringBitmap {
        &self.contacts
    }

    #[inline]
    pub fn time(&self, row: u32) -> i64 {
        time_of(&self.base_times, &self.tail_time, self.base_len, row)
    }

    /// Time `t` as this partition's rows are compared with it (by tick
    /// first: [`EventPartition::time_at_most`]).
    #[inline]
    pub(crate) fn time_key(&self, t: i64) -> TimeKey {
        self.base_times.key(t)
    }

    /// Whether row `row`'s time is at most `k`'s; a base row is decided by
    /// its tick unless it is `k`'s.
    #[inline]
    pub(crate) fn time_at_most(&self, row: u32, k: TimeKey) -> bool {
        match (row as usize).checked_sub(self.base_len) {
            Some(t) => self.tail_time[t] <= k.time(),
            None => self.base_times.row_at_most(row, k),
        }
    }

    /// Times of a run of consecutive base rows.
    #[inline]
    pub(crate) fn times(&self, rows: Range<u32>) -> TimeRun<'_> {
        debug_assert!(rows.end as usize <= self.base_len);
        self.base_times.run(rows)
    }

    pub fn attribute_names(&self) -> impl Iterator<Item = &str> {
        self.attr_names.iter().map(|s| &**s)
    }

    pub fn column(&self, attribute: &str) -> Option<&AttrColumn> {
        self.attr_index.get(attribute).map(|i| &self.attrs[*i])
    }

    /// Appends one event.
    pub fn push(
        &mut self,
        ordinal: u32,
        seq: u32,
        time: i64,
        attributes: &flowseg_model::Attributes,
    ) {
        let row = self.append_row(ordinal, seq, time, attributes);
        let (base, tail, base_len) = (&self.base_times, &self.tail_time, self.base_len);
        let rows = self.pending.entry(ordinal).or_default();
        let at = rows.partition_point(|r| time_of(base, tail, base_len, *r) <= time);
        rows.insert(at, row);
    }

    /// Appends one event during a bulk load: it is not findable by contact
    /// until [`compact`](EventPartition::compact), which the loader calls
    /// before anything reads (keeping each contact's tail list as rows
    /// arrive cost a map entry and a vector per contact, for nothing).
    pub fn push_unindexed(
        &mut self,
        ordinal: u32,
        seq: u32,
        time: i64,
        attributes: &flowseg_model::Attributes,
    ) {
        self.append_row(ordinal, seq, time, attributes);
    }

    /// Stores a row's time, seq, contact and attributes; returns the row.
    fn append_row(
        &mut self,
        ordinal: u32,
        seq: u32,
        time: i64,
        attributes: &flowseg_model::Attributes,
    ) -> u32 {
        let row = self.len();
        self.tail_time.push(time);
        self.seq.push(seq);
        for col in &mut self.attrs {
            col.push_absent();
        }
        for (name, value) in attributes {
            let idx = match self.attr_index.get(name.as_str()) {
                Some(i) => *i,
                None => {
                    self.attr_names.push(name.as_str().into());
                    self.attr_index
                        .insert(name.as_str().into(), self.attrs.len());
                    let first = match value {
                        AttrValue::Null => Cell::Null,
                        AttrValue::Str(_) => Cell::Str(0),
                        AttrValue::Num(n) => Cell::Num(*n),
                        AttrValue::Bool(b) => Cell::Bool(*b),
                    };
                    self.attrs.push(AttrColumn::new(row + 1, first));
                    self.attrs.len() - 1
                }
            };
            self.attrs[idx].put(row, value);
        }
        self.tail_contact.push(ordinal);
        self.contacts.insert(ordinal);
        self.last_time = Some(self.last_time.map_or(time, |t| t.max(time)));
        row as u32
    }

    /// Rows in the pending tail.
    fn tail_len(&self) -> usize {
        self.tail_time.len()
    }

    /// Whether the pending tail is large enough to merge.
    pub fn wants_compaction(&self) -> bool {
        self.tail_len() >= MIN_PENDING_TO_COMPACT.max(self.base_len / 8)
    }

    /// The contact of every row, in row order.
    fn row_contacts(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.len());
        for o in 0..self.offsets.len().saturating_sub(1) {
            let n = self.offsets[o + 1] - self.offsets[o];
            out.extend(std::iter::repeat_n(o as u32, n as usize));
        }
        out.extend_from_slice(&self.tail_contact);
        out
    }

    /// Rewrites all rows sorted by (contact, time), keeping only rows of
    /// `live` contacts.
    pub fn compact(&mut self, live: &RoaringBitmap) {
        let contact = self.row_contacts();
        let mut order: Vec<u32> = (0..self.len() as u32)
            .filter(|r| live.contains(contact[*r as usize]) && !self.dead_rows.contains(*r))
            .collect();
        self.dead_rows.clear();
        let mut time = self.base_times.to_vec();
        time.append(&mut self.tail_time);
        // Stable: rows of equal (contact, time) keep their arrival order.
        order.sort_by_key(|r| (contact[*r as usize], time[*r as usize]));
        let sorted_contacts = permute(&contact, &order);
        drop(contact);
        let time = permute(&time, &order);
        self.seq = Seqs::of_base(&permute(&self.seq.all(), &order));
        for col in &mut self.attrs {
            col.permute(&order);
        }
        self.base_len = time.len();
        self.tail_time = Vec::new();
        self.tail_contact = Vec::new();
        self.pending.clear();
        let max_contact = sorted_contacts.last().map_or(0, |c| *c as usize + 1);
        self.offsets = vec![0; max_contact + 1];
        for c in &sorted_contacts {
            self.offsets[*c as usize + 1] += 1;
        }
        for i in 1..self.offsets.len() {
            self.offsets[i] += self.offsets[i - 1];
        }
        // Each contact once: `from_sorted_iter` refuses a repeated value,
        // and the fallback inserted every row's contact one by one (2% of
        // the applier's time under batched ingest).
        let mut previous = None;
        let distinct = sorted_contacts
            .iter()
            .copied()
            .filter(|c| previous.replace(*c) != Some(*c));
        self.contacts = RoaringBitmap::from_sorted_iter(distinct)
            .unwrap_or_else(|_| sorted_contacts.iter().copied().collect());
        self.last_time = time.iter().copied().max();
        self.base_times = Ticks::of(&time);
        self.fill_latest_ticks();
    }

    /// Rebuilds [`latest_ticks`](EventPartition::latest_ticks) for a new
    /// base.
    fn fill_latest_ticks(&mut self) {
        let contacts = self.offsets.len().saturating_sub(1);
        self.latest_ticks = Vec::new();
        if crate::row_pass::suits(self.base_len, self.contacts.len() as usize) {
            return;
        }
        let ticks = self.base_times.run(0..self.base_len as u32).ticks();
        self.latest_ticks = (0..contacts)
            .map(|o| match (self.offsets[o], self.offsets[o + 1]) {
                (a, b) if a < b => ticks[b as usize - 1],
                _ => 0,
            })
            .collect();
    }

    /// The tick of each contact's latest base row (0 for a contact with
    /// none), by ordinal, for a partition with many rows a contact; empty
    /// for one that suits the row pass, whose sweeps read every row.
    pub(crate) fn latest_ticks(&self) -> &[u16] {
        &self.latest_ticks
    }

    /// Gives back the room the attributes' dictionaries grew into.
    pub fn shrink_dictionaries(&mut self) {
        for col in &mut self.attrs {
            col.dict.shrink_to_fit();
        }
    }

    /// The base rows' times, if the partition suits the row pass
    /// ([`crate::row_pass::suits`]).
    pub(crate) fn base_ticks(&self) -> Option<&Ticks> {
        crate::row_pass::suits(self.base_len, self.contacts.len() as usize)
            .then_some(&self.base_times)
    }

    /// Erases a contact's rows: they are marked dead at once (cost
    /// proportional to the contact's rows) and dropped at the next
    /// compaction.
    pub fn forget_contact(&mut self, ordinal: u32) {
        if !self.contacts.remove(ordinal) {
            return;
        }
        let mut rows = Vec::new();
        self.rows_of(ordinal, &mut rows);
        self.dead_rows.extend(rows);
    }

    /// A contact's base rows.
    #[inline]
    fn base_range(&self, ordinal: u32) -> Range<u32> {
        let o = ordinal as usize;
        if o + 1 < self.offsets.len() {
            self.offsets[o]..self.offsets[o + 1]
        } else {
            0..0
        }
    }

    /// Where each contact's base rows start: contact `o`'s are
    /// `offsets[o]..offsets[o + 1]` (the slice may be shorter than the
    /// contacts: those past it have no base rows).
    #[inline]
    pub fn base_offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// The contacts with tail rows (not merged into the base yet), ascending.
    pub fn contacts_with_tail(&self) -> impl Iterator<Item = u32> + '_ {
        self.pending.keys().copied()
    }

    /// Whether some rows are erased but not yet merged away (a contact's
    /// base range may then hold rows that are no longer its).
    pub fn has_erased_rows(&self) -> bool {
        !self.dead_rows.is_empty()
    }

    /// Asks the CPU to start loading where contact `ordinal`'s base rows
    /// are recorded (see [`prefetch_last_time`]).
    ///
    /// [`prefetch_last_time`]: EventPartition::prefetch_last_time
    #[inline]
    pub fn prefetch_offsets(&self, ordinal: u32) {
        if let Some(o) = self.offsets.get(ordinal as usize) {
            prefetch(o);
        }
    }

    /// Asks the CPU to start loading contact `ordinal`'s latest base tick,
    /// the first thing a windowed condition reads. An evaluation over a
    /// sparse scope reads each contact's rows from a cold place: issued a
    /// few contacts ahead, these loads overlap instead of waiting one after
    /// another.
    #[inline]
    pub fn prefetch_last_time(&self, ordinal: u32) {
        let o = ordinal as usize;
        if let Some(&end) = self.offsets.get(o + 1) {
            self.base_times.prefetch((end as usize).wrapping_sub(1));
        }
    }

    /// Contact `ordinal`'s latest base row, if it has any.
    #[inline]
    pub(crate) fn latest_base_row(&self, ordinal: u32) -> Option<u32> {
        let range = self.base_range(ordinal);
        (!range.is_empty()).then(|| range.end - 1)
    }

    /// Asks the CPU to start loading base row `row`'s time (its tick and
    /// its remainder); a row past the base is ignored.
    #[inline]
    pub(crate) fn prefetch_time(&self, row: u32) {
        self.base_times.prefetch_time(row as usize);
    }

    /// Asks the CPU to start loading the cells of contact `ordinal`'s
    /// latest base row in `columns` (attributes an evaluation reads in the
    /// contact's window; windows are mostly recent, so they end there).
    #[inline]
    pub fn prefetch_last_cells(&self, ordinal: u32, columns: &[&AttrColumn]) {
        let o = ordinal as usize;
        if let (Some(&start), Some(&end)) = (self.offsets.get(o), self.offsets.get(o + 1))
            && end > start
        {
            for column in columns {
                column.prefetch(end as usize - 1);
            }
        }
    }

    /// A contact's rows in time order: the base range itself when the
    /// contact has no tail rows and nothing is erased (no copy), otherwise
    /// a list built in `buf`.
    #[inline]
    pub fn rows<'b>(&self, ordinal: u32, buf: &'b mut Vec<u32>) -> Rows<'b> {
        let base = self.base_range(ordinal);
        if self.dead_rows.is_empty()
            && (self.pending.is_empty() || !self.pending.contains_key(&ordinal))
        {
            return Rows::Range(base);
        }
        self.rows_of(ordinal, buf);
        Rows::List(buf)
    }

    /// Appends a contact's rows, in time order, to `out`.
    pub fn rows_of(&self, ordinal: u32, out: &mut Vec<u32>) {
        out.clear();
        let base = self.base_range(ordinal);
        match self.pending.get(&ordinal) {
            Some(pend) if !pend.is_empty() => self.merge_runs(base, pend, out),
            _ => out.extend(base),
        }
        if !self.dead_rows.is_empty() {
            out.retain(|r| !self.dead_rows.contains(*r));
        }
    }

    /// Appends the (time, event seq) of each of a contact's rows to `out`.
    pub fn contact_keys(&self, ordinal: u32, out: &mut Vec<(i64, u32)>) {
        if !self.contacts.contains(ordinal) {
            return;
        }
        let mut rows = Vec::new();
        self.rows_of(ordinal, &mut rows);
        let seqs = self.seq.of_rows(&rows);
        out.extend(rows.iter().zip(seqs).map(|(r, seq)| (self.time(*r), seq)));
    }

    /// Merges a contact's base range and pending slice by time.
    fn merge_runs(&self, base: Range<u32>, pend: &[u32], out: &mut Vec<u32>) {
        let (mut i, mut j) = (base.start, 0);
        while i < base.end || j < pend.len() {
            let take_base = j == pend.len() || (i < base.end && self.time(i) <= self.time(pend[j]));
            if take_base {
                out.push(i);
                i += 1;
            } else {
                out.push(pend[j]);
                j += 1;
            }
        }
    }

    /// Prepares attribute conditions for row tests.
    pub fn prepare<'p>(&self, filters: &'p [AttrPlan], now: i64) -> Vec<PreparedFilter<'p, '_>> {
        filters
            .iter()
            .map(|f| {
                let column = self.column(&f.attribute);
                let string_pass = column.map(|c| {
                    // A verdict on a date string depends on `now`; others do not,
                    // so they stay remembered across evaluation times.
                    let key = if depends_on_now(&f.test) {
                        format!("attr {:?} at {now}", f.test)
                    } else {
                        format!("attr {:?}", f.test)
                    };
                    c.dict
                        .verdicts(&key, |s, lower| string_passes(&f.test, now, s, lower))
                });
                PreparedFilter::new(f, column, string_pass, now)
            })
            .collect()
    }

    /// Heap bytes by part (`time`, `offsets`, `other`, and each attribute
    /// column), for the benchmark's memory breakdown.
    pub fn heap_parts(&self) -> Vec<(String, usize)> {
        let mut parts = vec![
            (
                "time".to_string(),
                self.base_times.rest_heap_bytes() + self.tail_time.capacity() * 8,
            ),
            ("seq".to_string(), self.seq.heap_bytes()),
            ("offsets".to_string(), self.offsets.capacity() * 4),
            ("ticks".to_string(), self.base_times.ticks_heap_bytes()),
            ("latest ticks".to_string(), self.latest_ticks.capacity() * 2),
        ];
        for (name, col) in self.attr_names.iter().zip(&self.attrs) {
            parts.push((format!("attribute {name}"), col.heap_bytes()));
        }
        let listed: usize = parts.iter().map(|(_, b)| b).sum();
        parts.push((
            "other".to_string(),
            self.heap_bytes().saturating_sub(listed),
        ));
        parts
    }

    pub fn heap_bytes(&self) -> usize {
        self.tail_time.capacity() * 8
            + self.base_times.rest_heap_bytes()
            + self.base_times.ticks_heap_bytes()
            + self.seq.heap_bytes()
            + self.offsets.capacity() * 4
            + self.latest_ticks.capacity() * 2
            + self.tail_contact.capacity() * 4
            + self
                .pending
                .values()
                .map(|v| v.capacity() * 4 + 48)
                .sum::<usize>()
            + self.attrs.iter().map(AttrColumn::heap_bytes).sum::<usize>()
            + self.contacts.serialized_size()
            + self.dead_rows.serialized_size()
    }
}

/// A hint to load `value`'s cache line; never faults, changes nothing.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it reads nothing into the program
    // and cannot fault, and the pointer comes from a reference anyway.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// An attribute condition bound to one partition's column, with the verdict
/// for every distinct string computed once.
pub struct PreparedFilter<'p, 'c> {
    plan: &'p AttrPlan,
    column: Option<&'c AttrColumn>,
    string_pass: Option<Arc<Verdicts>>,
    now: i64,
    /// Final verdicts (negation applied) for the values that are constants:
    /// absent, `null`, `false`, `true`.
    absent: bool,
    null: bool,
    bools: [bool; 2],
    /// The test as read straight from the column's storage.
    stored: RowTest<'p, 'c>,
}

/// A byte test given as the verdict of most byte values and the few
/// values (at most [`ByteExceptions::MAX`]) whose verdict is the other:
/// a row is then a handful of equality tests, which vectorise, where a
/// table look-up per row does not (a boolean or a short list of one-byte
/// codes, as in `success is_false` or `currency in [...]`). At `large`,
/// the look-ups were half of the row pass of `failed_logins_30d`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ByteExceptions {
    /// The verdict (0 or 1) of every byte value not listed.
    usual: u8,
    /// The listed values; unused places repeat the first.
    values: [u8; ByteExceptions::MAX],
    /// How many values are listed.
    listed: usize,
}

impl ByteExceptions {
    const MAX: usize = 8;

    /// The exceptions of a verdict table, if there are few enough (and at
    /// least one: a table with one verdict for every byte keeps its
    /// look-up, which is as good there).
    fn of(table: &[u8; 256]) -> Option<ByteExceptions> {
        let passing = table.iter().filter(|v| **v == 1).count();
        let usual = u8::from(passing * 2 > table.len());
        let listed: Vec<u8> = (0..=u8::MAX)
            .filter(|b| table[usize::from(*b)] != usual)
            .collect();
        if listed.is_empty() || listed.len() > Self::MAX {
            return None;
        }
        let mut values = [listed[0]; Self::MAX];
        values[..listed.len()].copy_from_slice(&listed);
        Some(ByteExceptions {
            usual,
            values,
            listed: listed.len(),
        })
    }

    /// Bit `i` set where `bytes[i]` passes, 32 bytes per instruction.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn passing_avx2(&self, bytes: &[u8; 64]) -> u64 {
        use std::arch::x86_64::*;
        let usual = _mm256_set1_epi8(-i8::from(self.usual == 1));
        let mut word = 0u64;
        for half in 0..2 {
            // SAFETY: the 32 bytes read from `32 * half` are `bytes`'.
            let v = unsafe { _mm256_loadu_si256(bytes[32 * half..].as_ptr().cast()) };
            let mut listed = _mm256_setzero_si256();
            // Only the listed values: a boolean test lists one.
            for b in &self.values[..self.listed] {
                listed = _mm256_or_si256(listed, _mm256_cmpeq_epi8(v, _mm256_set1_epi8(*b as i8)));
            }
            let passing = _mm256_xor_si256(listed, usual);
            word |= u64::from(_mm256_movemask_epi8(passing) as u32) << (32 * half);
        }
        word
    }

    /// Clears `flags[i]` where `bytes[i]` does not pass.
    #[inline(always)]
    fn and_flags(&self, flags: &mut [u8], bytes: &[u8]) {
        let v = self.values;
        for (f, b) in flags.iter_mut().zip(bytes) {
            let listed = (*b == v[0])
                | (*b == v[1])
                | (*b == v[2])
                | (*b == v[3])
                | (*b == v[4])
                | (*b == v[5])
                | (*b == v[6])
                | (*b == v[7]);
            *f &= self.usual ^ u8::from(listed);
        }
    }
}

/// How [`PreparedFilter::passes`] reads a row: from the column's own
/// storage where the test allows, so a count over many rows neither
/// decodes cells nor goes through the plan per row (decoding alone,
/// `AttrColumn::cell`, took 15% of `failed_logins_30d`'s samples at
/// `large`).
enum RowTest<'p, 'c> {
    /// One byte per row — one-byte dictionary codes, or booleans (`false`
    /// 0, `true` 1, absent 2, `null` 3) — and the final verdict (0 or 1)
    /// of every byte value: one load per row, no branch; and, where few
    /// byte values differ from the rest, those values, for the row pass.
    Bytes(&'c [u8], Box<[u8; 256]>, Option<ByteExceptions>),
    /// Wider dictionary codes, tested against the verdict on each string.
    Codes16(&'c [u16]),
    Codes32(&'c [u32]),
    /// Numbers, under a numeric test.
    Numbers(&'c [f64], &'p flowseg_rules::plan::NumberTest),
    Integers(&'c [i16], &'p flowseg_rules::plan::NumberTest),
    /// Hundredths, under a numeric test; for a range, its inclusive
    /// bounds in hundredths ([`cents_range`]).
    Cents(
        &'c [i32],
        &'p flowseg_rules::plan::NumberTest,
        Option<(i32, i32)>,
    ),
    /// Whole steps of `step` hundredths, under a numeric test; for a
    /// range, its inclusive bounds in steps ([`steps_range`]).
    Steps(
        &'c [i16],
        i32,
        &'p flowseg_rules::plan::NumberTest,
        Option<(i32, i32)>,
    ),
    /// Anything else: decoded cell by cell.
    Cells,
}

impl<'p, 'c> PreparedFilter<'p, 'c> {
    /// The column the condition reads (`None`: no row has the attribute).
    pub fn column(&self) -> Option<&'c AttrColumn> {
        self.column
    }

    fn new(
        plan: &'p AttrPlan,
        column: Option<&'c AttrColumn>,
        string_pass: Option<Arc<Verdicts>>,
        now: i64,
    ) -> Self {
        let verdict = |v: Option<&AttrValue>| plan.test.matches(now, v) != plan.negated;
        let (absent, null) = (verdict(None), verdict(Some(&AttrValue::Null)));
        let bools = [
            verdict(Some(&AttrValue::Bool(false))),
            verdict(Some(&AttrValue::Bool(true))),
        ];
        let stored = match (column.map(AttrColumn::stored), &plan.test) {
            (Some(Stored::Codes8(v)), _) if string_pass.is_some() => {
                // Filled below, from `code_passes`.
                RowTest::Bytes(v, Box::new([0; 256]), None)
            }
            (Some(Stored::Codes16(v)), _) if string_pass.is_some() => RowTest::Codes16(v),
            (Some(Stored::Codes32(v)), _) if string_pass.is_some() => RowTest::Codes32(v),
            (Some(Stored::Numbers(v)), AttrTest::Number(t)) => RowTest::Numbers(v, t),
            (Some(Stored::Integers(v)), AttrTest::Number(t)) => RowTest::Integers(v, t),
            (Some(Stored::Cents(v)), AttrTest::Number(t)) => {
                RowTest::Cents(v, t, inclusive_range(t).map(cents_range))
            }
            (Some(Stored::Steps(v, step)), AttrTest::Number(t)) => RowTest::Steps(
                v,
                step,
                t,
                inclusive_range(t).map(|r| steps_range(cents_range(r), step)),
            ),
            (Some(Stored::ByteSteps(v, base, step)), AttrTest::Number(t)) => {
                // A verdict per byte value, as for one-byte codes.
                let mut table = Box::new([0u8; 256]);
                for (k, verdict) in table.iter_mut().enumerate() {
                    let k = k as u8;
                    *verdict = u8::from(match k {
                        BYTE_ABSENT => absent,
                        BYTE_NULL => null,
                        k => t.matches(byte_steps_value(k, base, step)) != plan.negated,
                    });
                }
                let few = ByteExceptions::of(&table);
                RowTest::Bytes(v, table, few)
            }
            (Some(Stored::Bools(v)), _) => {
                // Only 0..=3 are stored; any other byte reads as absent.
                let mut table = Box::new([u8::from(absent); 256]);
                table[..4].copy_from_slice(&[bools[0], bools[1], absent, null].map(u8::from));
                let few = ByteExceptions::of(&table);
                RowTest::Bytes(v, table, few)
            }
            _ => RowTest::Cells,
        };
        let codes8 = matches!(column.map(AttrColumn::stored), Some(Stored::Codes8(_)));
        let mut filter = PreparedFilter {
            plan,
            column,
            string_pass,
            now,
            absent,
            null,
            bools,
            stored,
        };
        if codes8 {
            let verdicts: Vec<u8> = (0..=u8::MAX)
                .map(|code| u8::from(filter.code_passes(code.into(), u8::MAX.into())))
                .collect();
            if let RowTest::Bytes(_, table, few) = &mut filter.stored {
                table.copy_from_slice(&verdicts);
                *few = ByteExceptions::of(table);
            }
        }
        filter
    }

    /// Whether a row passes.
    #[inline(always)]
    pub fn passes(&self, row: u32) -> bool {
        let r = row as usize;
        match &self.stored {
            RowTest::Bytes(bytes, table, _) => table[usize::from(bytes[r])] == 1,
            RowTest::Codes16(codes) => self.code_passes(codes[r].into(), u16::MAX.into()),
            RowTest::Codes32(codes) => self.code_passes(codes[r], u32::MAX),
            RowTest::Numbers(values, test) => self.number_passes(values[r], test),
            RowTest::Integers(values, test) => self.integer_passes(values[r], test),
            RowTest::Cents(values, test, range) => self.cents_passes(values[r], test, *range),
            RowTest::Steps(values, step, test, range) => {
                self.steps_passes(values[r], *step, test, *range)
            }
            RowTest::Cells => self.cell_passes(row),
        }
    }

    /// `word` (bit `i` for row `first + i`, `len` rows) without the rows
    /// that do not pass. `AVX2`: whether the caller is compiled with AVX2,
    /// where a one-byte test with few exceptions reads 32 rows per
    /// instruction.
    #[inline(always)]
    pub(crate) fn and_word<const AVX2: bool>(&self, first: u32, len: usize, word: u64) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if AVX2
            && let RowTest::Bytes(bytes, _, Some(few)) = &self.stored
            && let Some(Ok(bytes)) = bytes
                .get(first as usize..first as usize + len)
                .map(<&[u8; 64]>::try_from)
        {
            // SAFETY: `AVX2` is true only in code compiled with AVX2, which
            // runs only once the CPU has been found to support it.
            return word & unsafe { few.passing_avx2(bytes) };
        }
        #[cfg(target_arch = "x86_64")]
        if AVX2
            && let RowTest::Numbers(values, test) = &self.stored
            && let Some(bounds) = inclusive_range(test)
            && let Some(Ok(values)) = values
                .get(first as usize..first as usize + len)
                .map(<&[f64; 64]>::try_from)
        {
            // SAFETY: as above.
            return word & unsafe { self.range_passing_avx2(values, bounds) };
        }
        #[cfg(target_arch = "x86_64")]
        if AVX2
            && let RowTest::Cents(values, _, Some(bounds)) = &self.stored
            && let Some(Ok(values)) = values
                .get(first as usize..first as usize + len)
                .map(<&[i32; 64]>::try_from)
        {
            // SAFETY: as above.
            return word & unsafe { self.cents_passing_avx2(values, *bounds) };
        }
        #[cfg(target_arch = "x86_64")]
        if AVX2
            && let RowTest::Steps(values, _, _, Some(bounds)) = &self.stored
            && let Some(Ok(values)) = values
                .get(first as usize..first as usize + len)
                .map(<&[i16; 64]>::try_from)
        {
            // SAFETY: as above.
            return word & unsafe { self.steps_passing_avx2(values, *bounds) };
        }
        let mut flags = [0u8; 64];
        for (i, f) in flags.iter_mut().enumerate() {
            *f = ((word >> i) & 1) as u8;
        }
        self.and_flags(first, &mut flags[..len]);
        crate::scan::pack_flags(&flags)
    }

    /// Bit `i` set where `values[i]` passes this condition, a number range
    /// with inclusive `bounds`: [`and_flags`](PreparedFilter::and_flags)'
    /// verdicts, 4 rows per instruction.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn range_passing_avx2(&self, values: &[f64; 64], (lo, hi): (f64, f64)) -> u64 {
        use std::arch::x86_64::*;
        let (lo, hi) = (_mm256_set1_pd(lo), _mm256_set1_pd(hi));
        let absent_bits = _mm256_set1_epi64x(NUM_ABSENT as i64);
        let null_bits = _mm256_set1_epi64x(NUM_NULL as i64);
        let (mut positive, mut absent, mut null) = (0u64, 0u64, 0u64);
        for (j, four) in values.chunks_exact(4).enumerate() {
            // SAFETY: `four` holds the 4 values read.
            let v = unsafe { _mm256_loadu_pd(four.as_ptr()) };
            let inside = _mm256_and_pd(
                _mm256_cmp_pd::<_CMP_GE_OQ>(v, lo),
                _mm256_cmp_pd::<_CMP_LE_OQ>(v, hi),
            );
            let bits = _mm256_castpd_si256(v);
            let mask = |m: __m256d| u64::from(_mm256_movemask_pd(m) as u8) << (4 * j);
            positive |= mask(inside);
            absent |= mask(_mm256_castsi256_pd(_mm256_cmpeq_epi64(bits, absent_bits)));
            null |= mask(_mm256_castsi256_pd(_mm256_cmpeq_epi64(bits, null_bits)));
        }
        self.word_verdicts(positive, absent, null)
    }

    /// A word's final verdicts from the rows whose number is in the
    /// range (`positive`, before negation) and those absent or `null`,
    /// which take their own verdicts.
    #[inline(always)]
    fn word_verdicts(&self, positive: u64, absent: u64, null: u64) -> u64 {
        let all_if = |b: bool| 0u64.wrapping_sub(u64::from(b));
        ((positive ^ all_if(self.plan.negated)) & !(absent | null))
            | (absent & all_if(self.absent))
            | (null & all_if(self.null))
    }

    /// [`range_passing_avx2`](PreparedFilter::range_passing_avx2) for a
    /// cents column, with the range's inclusive `bounds` in hundredths: 8
    /// rows per instruction, half the bytes of `f64`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn cents_passing_avx2(&self, values: &[i32; 64], (lo, hi): (i32, i32)) -> u64 {
        use std::arch::x86_64::*;
        let (lo, hi) = (_mm256_set1_epi32(lo), _mm256_set1_epi32(hi));
        let (absent_c, null_c) = (
            _mm256_set1_epi32(CENTS_ABSENT),
            _mm256_set1_epi32(CENTS_NULL),
        );
        let (mut positive, mut absent, mut null) = (0u64, 0u64, 0u64);
        for (j, eight) in values.chunks_exact(8).enumerate() {
            // SAFETY: `eight` holds the 8 values read.
            let v = unsafe { _mm256_loadu_si256(eight.as_ptr().cast()) };
            let outside = _mm256_or_si256(_mm256_cmpgt_epi32(lo, v), _mm256_cmpgt_epi32(v, hi));
            let mask =
                |m: __m256i| u64::from(_mm256_movemask_ps(_mm256_castsi256_ps(m)) as u8) << (8 * j);
            positive |= !mask(outside) & (0xff << (8 * j));
            absent |= mask(_mm256_cmpeq_epi32(v, absent_c));
            null |= mask(_mm256_cmpeq_epi32(v, null_c));
        }
        self.word_verdicts(positive, absent, null)
    }

    /// [`cents_passing_avx2`](PreparedFilter::cents_passing_avx2) for a
    /// column of steps, with the range's inclusive `bounds` in steps:
    /// each 8 steps widened to 32 bits, then compared as cents are.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn steps_passing_avx2(&self, values: &[i16; 64], (lo, hi): (i32, i32)) -> u64 {
        use std::arch::x86_64::*;
        let (lo, hi) = (_mm256_set1_epi32(lo), _mm256_set1_epi32(hi));
        let (absent_k, null_k) = (
            _mm256_set1_epi32(INT_ABSENT.into()),
            _mm256_set1_epi32(INT_NULL.into()),
        );
        let (mut positive, mut absent, mut null) = (0u64, 0u64, 0u64);
        for (j, eight) in values.chunks_exact(8).enumerate() {
            // SAFETY: `eight` holds the 8 values read (16 bytes).
            let v = _mm256_cvtepi16_epi32(unsafe { _mm_loadu_si128(eight.as_ptr().cast()) });
            let outside = _mm256_or_si256(_mm256_cmpgt_epi32(lo, v), _mm256_cmpgt_epi32(v, hi));
            let mask =
                |m: __m256i| u64::from(_mm256_movemask_ps(_mm256_castsi256_ps(m)) as u8) << (8 * j);
            positive |= !mask(outside) & (0xff << (8 * j));
            absent |= mask(_mm256_cmpeq_epi32(v, absent_k));
            null |= mask(_mm256_cmpeq_epi32(v, null_k));
        }
        self.word_verdicts(positive, absent, null)
    }

    /// Clears `flags[i]` (0 or 1) for each row `first + i` that does not
    /// pass: [`passes`](PreparedFilter::passes) over a run of rows, with
    /// the column's storage matched once for the run.
    #[inline(always)]
    pub fn and_flags(&self, first: u32, flags: &mut [u8]) {
        fn each<T: Copy>(flags: &mut [u8], values: &[T], pass: impl Fn(T) -> bool) {
            for (f, v) in flags.iter_mut().zip(values) {
                *f &= u8::from(pass(*v));
            }
        }
        let rows = first as usize..first as usize + flags.len();
        match &self.stored {
            RowTest::Bytes(bytes, _, Some(few)) => few.and_flags(flags, &bytes[rows]),
            RowTest::Bytes(bytes, table, None) => {
                for (f, b) in flags.iter_mut().zip(&bytes[rows]) {
                    *f &= table[usize::from(*b)];
                }
            }
            RowTest::Codes16(codes) => each(flags, &codes[rows], |c| {
                self.code_passes(c.into(), u16::MAX.into())
            }),
            RowTest::Codes32(codes) => each(flags, &codes[rows], |c| self.code_passes(c, u32::MAX)),
            RowTest::Numbers(values, test) if let Some((lo, hi)) = inclusive_range(test) => {
                let (absent, null) = (u8::from(self.absent), u8::from(self.null));
                let negated = u8::from(self.plan.negated);
                // Branch-free, so that it vectorises; absent and `null` (NaN
                // patterns, failing both comparisons) take their own
                // verdicts, as in `number_passes`.
                for (f, x) in flags.iter_mut().zip(&values[rows]) {
                    let bits = x.to_bits();
                    let (is_absent, is_null) = (bits == NUM_ABSENT, bits == NUM_NULL);
                    let special = (u8::from(is_absent) & absent) | (u8::from(is_null) & null);
                    let positive = u8::from(*x >= lo) & u8::from(*x <= hi);
                    let tested = u8::from(!(is_absent | is_null));
                    *f &= ((positive ^ negated) & tested) | special;
                }
            }
            RowTest::Numbers(values, test) => {
                each(flags, &values[rows], |x| self.number_passes(x, test))
            }
            RowTest::Integers(values, test) => {
                each(flags, &values[rows], |i| self.integer_passes(i, test))
            }
            RowTest::Cents(values, test, range) => {
                each(flags, &values[rows], |c| self.cents_passes(c, test, *range))
            }
            RowTest::Steps(values, step, test, range) => each(flags, &values[rows], |k| {
                self.steps_passes(k, *step, test, *range)
            }),
            RowTest::Cells => {
                for (row, f) in (first..).zip(flags.iter_mut()) {
                    *f &= u8::from(self.cell_passes(row));
                }
            }
        }
    }

    /// A stored number's verdict ("absent" and `null` are NaN patterns).
    #[inline(always)]
    fn number_passes(&self, x: f64, test: &flowseg_rules::plan::NumberTest) -> bool {
        match x.to_bits() {
            NUM_ABSENT => self.absent,
            NUM_NULL => self.null,
            _ => test.matches(x) != self.plan.negated,
        }
    }

    /// A stored integer's verdict.
    #[inline(always)]
    fn integer_passes(&self, i: i16, test: &flowseg_rules::plan::NumberTest) -> bool {
        match i {
            INT_ABSENT => self.absent,
            INT_NULL => self.null,
            i => test.matches(f64::from(i)) != self.plan.negated,
        }
    }

    /// A stored number of hundredths' verdict, through the range in
    /// hundredths when the test is one.
    #[inline(always)]
    fn cents_passes(
        &self,
        c: i32,
        test: &flowseg_rules::plan::NumberTest,
        range: Option<(i32, i32)>,
    ) -> bool {
        match c {
            CENTS_ABSENT => self.absent,
            CENTS_NULL => self.null,
            c => {
                let positive = match range {
                    Some((lo, hi)) => lo <= c && c <= hi,
                    None => test.matches(cents_value(c)),
                };
                positive != self.plan.negated
            }
        }
    }

    /// A stored number of steps' verdict, through the range in steps
    /// when the test is one.
    #[inline(always)]
    fn steps_passes(
        &self,
        k: i16,
        step: i32,
        test: &flowseg_rules::plan::NumberTest,
        range: Option<(i32, i32)>,
    ) -> bool {
        match k {
            INT_ABSENT => self.absent,
            INT_NULL => self.null,
            k => {
                let positive = match range {
                    Some((lo, hi)) => lo <= i32::from(k) && i32::from(k) <= hi,
                    None => test.matches(steps_value(k, step)),
                };
                positive != self.plan.negated
            }
        }
    }

    /// A dictionary code's verdict, in a width whose largest value is
    /// `max` ("absent"; `null` is the one below it).
    #[inline(always)]
    fn code_passes(&self, code: u32, max: u32) -> bool {
        if code == max {
            self.absent
        } else if code == max - 1 {
            self.null
        } else {
            self.string_pass.as_ref().is_some_and(|v| v.get(code)) != self.plan.negated
        }
    }

    /// [`passes`](PreparedFilter::passes) through the row's decoded cell.
    fn cell_passes(&self, row: u32) -> bool {
        let Some(column) = self.column else {
            return self.absent;
        };
        let positive = match column.cell(row) {
            Cell::Absent => return self.absent,
            Cell::Null => return self.null,
            Cell::Bool(b) => return self.bools[usize::from(b)],
            Cell::Str(code) => self.string_pass.as_ref().is_some_and(|v| v.get(code)),
            Cell::Num(n) => match &self.plan.test {
                AttrTest::Number(t) => t.matches(n),
                AttrTest::HasValue => true,
                AttrTest::AnyOf(_) => self.plan.test.matches(self.now, Some(&AttrValue::Num(n))),
                AttrTest::Text(_) | AttrTest::Bool(_) | AttrTest::Date(_) => false,
            },
        };
        positive != self.plan.negated
    }
}

/// A number test's bounds as inclusive ones, if it is a range (see
/// [`inclusive_bounds`]).
fn inclusive_range(test: &NumberTest) -> Option<(f64, f64)> {
    let NumberTest::Range {
        lo,
        lo_inclusive,
        hi,
        hi_inclusive,
    } = *test
    else {
        return None;
    };
    Some(inclusive_bounds(lo, lo_inclusive, hi, hi_inclusive))
}

/// A range's bounds as inclusive ones: for any number `x`, `x > lo` is
/// `x >= lo.next_up()` and `x < hi` is `x <= hi.next_down()` (NaN fails
/// every comparison either way). Only an exclusive `+∞` start (or `−∞`
/// end), which nothing passes, has no inclusive twin: it becomes NaN.
fn inclusive_bounds(lo: f64, lo_inclusive: bool, hi: f64, hi_inclusive: bool) -> (f64, f64) {
    let lo = match (lo_inclusive, lo) {
        (true, lo) => lo,
        (false, f64::INFINITY) => f64::NAN,
        (false, lo) => lo.next_up(),
    };
    let hi = match (hi_inclusive, hi) {
        (true, hi) => hi,
        (false, f64::NEG_INFINITY) => f64::NAN,
        (false, hi) => hi.next_down(),
    };
    (lo, hi)
}

/// An inclusive range of hundredths (as [`cents_range`] gives) as the
/// inclusive range of the whole steps of `step` hundredths in it (every
/// stored step count stands for `k * step` hundredths, exactly). Empty
/// stays empty: `(i32::MAX, i32::MIN)`, or any `lo > hi`.
fn steps_range((lo, hi): (i32, i32), step: i32) -> (i32, i32) {
    if lo > hi {
        return (i32::MAX, i32::MIN);
    }
    let step = i64::from(step);
    // The least `k` with `k * step >= lo`, and the greatest with
    // `k * step <= hi`; both within `i32`, as `|lo|, |hi| <= 2^31`.
    let first = -(-i64::from(lo)).div_euclid(step);
    let last = i64::from(hi).div_euclid(step);
    (first as i32, last as i32)
}

/// An inclusive range of numbers as the inclusive range of the stored
/// hundredths whose numbers lie in it: `c / 100` rises with `c`, so they
/// are one run of integers. An empty range (nothing passes, NaN bounds
/// included) is `(i32::MAX, i32::MIN)`, which no `c` lies in.
fn cents_range((lo, hi): (f64, f64)) -> (i32, i32) {
    const EMPTY: (i32, i32) = (i32::MAX, i32::MIN);
    let (least, most) = (CENTS_NULL + 1, i32::MAX);
    // The guess is within a step or two of the answer (`x * 100` is off
    // by an ulp at most); the steps make it exact.
    let near = |x: f64| ((x * 100.0).round() as i64).clamp(least.into(), most.into()) as i32;
    if lo.is_nan() || hi.is_nan() || cents_value(most) < lo || cents_value(least) > hi {
        return EMPTY;
    }
    let mut first = if cents_value(least) >= lo {
        least
    } else {
        near(lo)
    };
    while cents_value(first) < lo {
        first += 1;
    }
    while first > least && cents_value(first - 1) >= lo {
        first -= 1;
    }
    let mut last = if cents_value(most) <= hi {
        most
    } else {
        near(hi)
    };
    while cents_value(last) > hi {
        last -= 1;
    }
    while last < most && cents_value(last + 1) <= hi {
        last += 1;
    }
    if first > last { EMPTY } else { (first, last) }
}

/// Whether every prepared filter passes for `row`.
#[inline(always)]
pub fn passes_all(filters: &[PreparedFilter<'_, '_>], row: u32) -> bool {
    // A plain loop: `Iterator::all` was left as a call per row.
    for filter in filters {
        if !filter.passes(row) {
            return false;
        }
    }
    true
}

impl EventPartition {
    /// The catalog's figures for the live contacts' rows — (events, latest
    /// time, each attribute with the JSON types it holds) — read from the
    /// columns without listing rows, when every row held is a live
    /// contact's (no erased rows awaiting a merge); `None` otherwise.
    pub fn catalog_summary(&self, live: &RoaringBitmap) -> Option<CatalogSummary<'_>> {
        if !self.dead_rows.is_empty() || !self.contacts.is_subset(live) {
            return None;
        }
        // Exact here: an erased contact's rows are either still held (dead,
        // refused above) or merged away, and the merge recounts `last_time`.
        let attributes = self
            .attr_names
            .iter()
            .zip(&self.attrs)
            .map(|(name, col)| (&**name, col.kinds_present()))
            .collect();
        Some(CatalogSummary {
            events: self.len(),
            last_time: self.last_time,
            attributes,
        })
    }

    /// Rows of live contacts (catalog statistics).
    pub fn live_rows(&self, live: &RoaringBitmap) -> Vec<u32> {
        let contact = self.row_contacts();
        (0..self.len() as u32)
            .filter(|r| live.contains(contact[*r as usize]) && !self.dead_rows.contains(*r))
            .collect()
    }
}

impl EventPartition {
    /// Writes a compacted partition (no tail, no dead rows: the engine
    /// compacts before it saves).
    pub fn write_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        if self.tail_len() != 0 || !self.dead_rows.is_empty() {
            return Err(invalid("a partition must be compacted before it is saved"));
        }
        w.slice(&self.base_times.to_vec())?;
        w.slice(&self.seq.all())?;
        w.u64(self.attrs.len() as u64)?;
        for (name, col) in self.attr_names.iter().zip(&self.attrs) {
            w.str(name)?;
            col.write_to(w)?;
        }
        w.slice(&self.offsets)?;
        w.bitmap(&self.contacts)?;
        match self.last_time {
            Some(t) => {
                w.u8(1)?;
                w.i64(t)
            }
            None => w.u8(0),
        }
    }

    pub fn read_from<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<EventPartition> {
        // Times are saved whole (a `u32` remainder fits only a partition's
        // own span, known once all its rows are).
        let time: Vec<i64> = r.vec()?;
        let mut p = EventPartition {
            base_times: Ticks::of(&time),
            base_len: time.len(),
            seq: Seqs::of_base(&r.vec::<u32>()?),
            ..EventPartition::default()
        };
        drop(time);
        if p.seq.len() != p.base_len {
            return Err(invalid(
                "an event seq column of another length than its partition",
            ));
        }
        let n = r.u64()?;
        for _ in 0..n {
            let name = r.string()?;
            let col = AttrColumn::read_from(r)?;
            if col.len() != p.base_len {
                return Err(invalid(
                    "an attribute column of another length than its partition",
                ));
            }
            p.attr_index.insert(name.as_str().into(), p.attrs.len());
            p.attr_names.push(name.into());
            p.attrs.push(col);
        }
        p.offsets = r.vec()?;
        let ascending = p.offsets.windows(2).all(|w| w[0] <= w[1]);
        if !ascending || p.offsets.last().map_or(0, |o| *o as usize) != p.base_len {
            return Err(invalid("partition offsets that do not cover its rows"));
        }
        p.contacts = r.bitmap()?;
        p.last_time = match r.u8()? {
            0 => None,
            _ => Some(r.i64()?),
        };
        p.fill_latest_ticks();
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::ByteExceptions;
    use flowseg_model::AttrValue;

    /// Every byte's verdict through the exceptions is the table's.
    fn agrees(table: &[u8; 256], few: &ByteExceptions) {
        let bytes: Vec<u8> = (0..=u8::MAX).collect();
        for chunk in bytes.chunks(64) {
            let mut flags = vec![1u8; chunk.len()];
            few.and_flags(&mut flags, chunk);
            for (f, b) in flags.iter().zip(chunk) {
                assert_eq!(*f, table[usize::from(*b)], "byte {b}");
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let whole: &[u8; 64] = chunk.try_into().expect("64 bytes");
                // SAFETY: the CPU has just been found to support AVX2.
                let word = unsafe { few.passing_avx2(whole) };
                for (i, b) in chunk.iter().enumerate() {
                    assert_eq!(
                        (word >> i) & 1,
                        u64::from(table[usize::from(*b)]),
                        "byte {b}"
                    );
                }
            }
            let mut cleared = vec![0u8; chunk.len()];
            few.and_flags(&mut cleared, chunk);
            assert!(
                cleared.iter().all(|f| *f == 0),
                "a cleared flag stays cleared"
            );
        }
    }

    #[test]
    fn byte_exceptions_give_the_tables_verdicts_or_none() {
        // A boolean `is_false`: only `false` (0) passes.
        let mut is_false = [0u8; 256];
        is_false[0] = 1;
        let few = ByteExceptions::of(&is_false).expect("one exception");
        assert_eq!(few.usual, 0);
        agrees(&is_false, &few);
        // Its negation: everything but `false` passes.
        let negated = is_false.map(|v| 1 - v);
        let few = ByteExceptions::of(&negated).expect("one exception");
        assert_eq!(few.usual, 1);
        agrees(&negated, &few);
        // Up to eight listed values, anywhere in the byte range.
        for n in 1..=ByteExceptions::MAX {
            let mut table = [0u8; 256];
            for k in 0..n {
                table[(k * 37 + 5) % 256] = 1;
            }
            agrees(&table, &ByteExceptions::of(&table).expect("few exceptions"));
        }
        // Nine differing values, or none, keep the look-up.
        let mut nine = [0u8; 256];
        for k in 0..9 {
            nine[k * 3] = 1;
        }
        assert_eq!(ByteExceptions::of(&nine), None);
        assert_eq!(ByteExceptions::of(&[1u8; 256]), None);
        assert_eq!(ByteExceptions::of(&[0u8; 256]), None);
    }

    /// A partition of 200 rows over 10 contacts whose attribute `v` is
    /// absent, `null` or one of `samples`, with each row's value.
    fn partition_of_numbers(samples: &[f64]) -> (super::EventPartition, Vec<Option<AttrValue>>) {
        use flowseg_model::Attributes;
        // Event `i`'s value: absent, `null`, or one of the samples.
        let value_of = |i: usize| match i % 7 {
            0 => None,
            1 => Some(AttrValue::Null),
            _ => Some(AttrValue::Num(samples[(i * 5) % samples.len()])),
        };
        let mut p = super::EventPartition::default();
        for i in 0..200u32 {
            let mut attrs = Attributes::new();
            if let Some(v) = value_of(i as usize) {
                attrs.insert("v".into(), v);
            }
            p.push(i % 10, i, 1_000 + i64::from(i), &attrs);
        }
        p.compact(&(0..10).collect());
        // The merge sorts rows by (contact, time): row `r` now holds what
        // was pushed as `i`, read back through the seq column.
        let values = (0..200)
            .map(|row| value_of(p.seq.get(row) as usize))
            .collect();
        (p, values)
    }

    /// Every range over `p`'s `v`, negated or not: the verdict of each
    /// row, a word at a time (with and without AVX2), is the plan's own
    /// test on the row's value.
    fn ranges_agree(
        p: &super::EventPartition,
        values: &[Option<AttrValue>],
        ranges: &[(f64, bool, f64, bool)],
    ) {
        use flowseg_rules::plan::{AttrPlan, AttrTest, NumberTest};
        for &(lo, lo_inclusive, hi, hi_inclusive) in ranges {
            for negated in [false, true] {
                let plan = AttrPlan {
                    attribute: "v".into(),
                    negated,
                    test: AttrTest::Number(NumberTest::Range {
                        lo,
                        lo_inclusive,
                        hi,
                        hi_inclusive,
                    }),
                };
                let filters = p.prepare(std::slice::from_ref(&plan), 0);
                for first in [0u32, 64, 128] {
                    let by_rows = filters[0].and_word::<false>(first, 64, u64::MAX);
                    for i in 0..64 {
                        let row = (first + i) as usize;
                        let want = plan.test.matches(0, values[row].as_ref()) != negated;
                        assert_eq!(filters[0].passes(first + i), want, "row {row}: {values:?}");
                        assert_eq!((by_rows >> i) & 1 == 1, want, "row {row}");
                    }
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        let by_words = filters[0].and_word::<true>(first, 64, u64::MAX);
                        assert_eq!(by_words, by_rows, "{lo}..{hi}, negated {negated}");
                        let some = 0x00ff_00ff_f0f0_0f0f;
                        let kept = filters[0].and_word::<true>(first, 64, some);
                        assert_eq!(kept, by_rows & some, "only kept rows stay kept");
                    }
                }
            }
        }
    }

    /// Why the merge gives `from_sorted_iter` each contact once.
    #[test]
    fn a_sorted_bitmap_is_built_from_distinct_values_only() {
        use roaring::RoaringBitmap;
        assert!(RoaringBitmap::from_sorted_iter([1u32, 1, 2]).is_err());
        let (p, _) = partition_of_numbers(&[1.0]);
        assert_eq!(
            p.contacts.iter().collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
    }

    #[test]
    fn number_ranges_decided_a_word_at_a_time_agree_with_each_row() {
        let samples = [-1.5, 0.0, 199.99, 200.0, 200.5, 350.25, 1e300, -0.0];
        let (p, values) = partition_of_numbers(&samples);
        assert_eq!(p.attrs[0].cell_bytes(), 8, "-0.0 and 1e300 are no cents");
        let ranges = [
            (200.0, false, f64::INFINITY, true),
            (200.0, true, 350.25, false),
            (f64::NEG_INFINITY, true, 0.0, true),
            (199.99, true, 199.99, true),
        ];
        ranges_agree(&p, &values, &ranges);
    }

    /// Hundredths, down to the reserved values' neighbours, under ranges
    /// whose ends fall on, between and beyond stored values.
    #[test]
    fn cents_ranges_decided_a_word_at_a_time_agree_with_each_row() {
        let samples = [
            -1.5,
            0.0,
            0.1,
            199.99,
            200.0,
            200.5,
            350.25,
            21_474_836.47,
            -21_474_836.46,
        ];
        let (p, values) = partition_of_numbers(&samples);
        assert_eq!(p.attrs[0].cell_bytes(), 4, "stored as hundredths");
        let ranges = [
            (200.0, false, f64::INFINITY, true),
            (200.0, true, 350.25, false),
            (f64::NEG_INFINITY, true, 0.0, true),
            (199.99, true, 199.99, true),
            (199.985, true, 199.995, true),
            (0.1, false, 0.1, true),
            (0.1, true, 0.1, true),
            (f64::NEG_INFINITY, false, -21_474_836.46, true),
            (21_474_836.47, true, f64::INFINITY, false),
            (3e10, true, f64::INFINITY, true),
            (f64::NEG_INFINITY, true, -3e10, true),
            (350.25, true, 200.0, true),
            (f64::NAN, true, 1.0, true),
        ];
        ranges_agree(&p, &values, &ranges);
    }

    /// Whole steps of a quarter (two bytes a row after the merge), down
    /// to the reserved values' neighbours, under ranges whose ends fall
    /// on, between and beyond the steps.
    #[test]
    fn steps_ranges_decided_a_word_at_a_time_agree_with_each_row() {
        let samples = [
            -1.5, 0.0, 0.25, 199.75, 200.0, 200.5, 350.25, 8_191.75, -8_191.5,
        ];
        let (p, values) = partition_of_numbers(&samples);
        assert_eq!(p.attrs[0].cell_bytes(), 2, "stored as steps");
        let ranges = [
            (200.0, false, f64::INFINITY, true),
            (200.0, true, 350.25, false),
            (f64::NEG_INFINITY, true, 0.0, true),
            (199.75, true, 199.75, true),
            (199.8, true, 200.4, true),
            (200.1, true, 200.2, true),
            (0.25, false, 0.25, true),
            (f64::NEG_INFINITY, false, -8_191.5, true),
            (f64::NEG_INFINITY, true, -8_191.6, true),
            (8_191.75, true, f64::INFINITY, false),
            (3e10, true, f64::INFINITY, true),
            (f64::NEG_INFINITY, true, -3e10, true),
            (350.25, true, 200.0, true),
            (f64::NAN, true, 1.0, true),
        ];
        ranges_agree(&p, &values, &ranges);
    }

    /// A few numbers on a grid of quarters (a byte a row after the
    /// merge, tested through a verdict per byte value), under ranges
    /// whose ends fall on, between and beyond them.
    #[test]
    fn byte_steps_ranges_decided_a_word_at_a_time_agree_with_each_row() {
        let samples = [-1.5, 0.0, 0.25, 3.0, 7.75, 12.0, 60.0];
        let (p, values) = partition_of_numbers(&samples);
        assert_eq!(p.attrs[0].cell_bytes(), 1, "stored as steps in a byte");
        let ranges = [
            (0.0, false, f64::INFINITY, true),
            (0.0, true, 7.75, false),
            (f64::NEG_INFINITY, true, 0.0, true),
            (3.0, true, 3.0, true),
            (3.1, true, 7.7, true),
            (-1.5, false, -1.5, true),
            (-1.6, true, -1.4, true),
            (60.0, true, f64::INFINITY, false),
            (60.01, true, f64::INFINITY, true),
            (f64::NEG_INFINITY, true, -1.51, true),
            (12.0, true, 3.0, true),
            (f64::NAN, true, 1.0, true),
        ];
        ranges_agree(&p, &values, &ranges);
    }

    /// A range in hundredths becomes the exact range of steps in it: the
    /// first step's hundredths are in it and the one before is not, at
    /// each end.
    #[test]
    fn a_range_in_steps_starts_and_ends_where_the_hundredths_do() {
        use super::steps_range;
        let ends = [
            i32::MIN + 2,
            -1_000_001,
            -26,
            -25,
            -24,
            -1,
            0,
            1,
            24,
            25,
            26,
            99,
            i32::MAX,
        ];
        for step in [1, 7, 25, 100, 1 << 20, i32::MAX] {
            for lo in ends {
                for hi in ends {
                    let (first, last) = steps_range((lo, hi), step);
                    let at = |k: i64| k * i64::from(step);
                    let (first, last) = (i64::from(first), i64::from(last));
                    let (lo, hi) = (i64::from(lo), i64::from(hi));
                    if first > last {
                        // Empty: no multiple of the step lies in it.
                        assert!(lo > hi || hi.div_euclid(step.into()) * i64::from(step) < lo);
                        continue;
                    }
                    assert!(at(first) >= lo && at(first - 1) < lo, "{lo} by {step}");
                    assert!(at(last) <= hi && at(last + 1) > hi, "{hi} by {step}");
                }
            }
        }
        assert_eq!(steps_range((i32::MAX, i32::MIN), 25), (i32::MAX, i32::MIN));
    }

    /// The bounds in hundredths are exact: the first passes and the one
    /// below it does not, at each end, for bounds on, near and between
    /// representable hundredths.
    #[test]
    fn a_range_in_hundredths_starts_and_ends_where_the_numbers_do() {
        use super::{CENTS_NULL, cents_range, cents_value};
        let least = CENTS_NULL + 1;
        let mut bounds = vec![0.0, -0.0, 0.005, 0.1, 0.3, 1.0 / 3.0, -7.77, 123_456.785];
        for c in [1, 7, 29, 1_000_001, -3, least, i32::MAX] {
            let x = cents_value(c);
            bounds.extend([x, x.next_up(), x.next_down()]);
        }
        for lo in &bounds {
            for hi in &bounds {
                let (first, last) = cents_range((*lo, *hi));
                if first > last {
                    // Empty: no hundredth near either end lies in it.
                    for x in [lo, hi] {
                        let near = (x * 100.0).round().clamp(least.into(), i32::MAX.into()) as i32;
                        for c in near.saturating_sub(3)..=near.saturating_add(3) {
                            let v = cents_value(c);
                            assert!(c < least || !(*lo <= v && v <= *hi), "{lo}..{hi}: {c}");
                        }
                    }
                    continue;
                }
                assert!(
                    cents_value(first) >= *lo && cents_value(last) <= *hi,
                    "{lo}..{hi}"
                );
                assert!(
                    first == least || cents_value(first - 1) < *lo,
                    "{lo}: {first}"
                );
                assert!(
                    last == i32::MAX || cents_value(last + 1) > *hi,
                    "{hi}: {last}"
                );
            }
        }
    }
}
