//! Events of one name, stored columnar and grouped by contact.
//!
//! Rows live in columns (contact ordinal, time, one column per attribute).
//! The first `base_len` rows are sorted by (contact, time) and indexed by
//! `offsets` (per contact ordinal); later rows are a pending tail in arrival
//! order, indexed by `pending` (row ids sorted by contact, time). When the
//! tail grows past an eighth of the base, [`EventPartition::compact`] merges
//! it into the base (dropping erased contacts' rows). A contact's events are
//! then one base range plus one slice of `pending`, both in time order.

use std::collections::HashMap;

use flowseg_model::AttrValue;
use flowseg_rules::plan::AttrPlan;
use roaring::RoaringBitmap;

use crate::dict::Dictionary;

/// One attribute value of one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    Absent,
    Null,
    Str(u32),
    Num(f64),
    Bool(bool),
}

/// All values of one attribute across the partition's rows.
#[derive(Debug, Clone, Default)]
pub struct AttrColumn {
    pub cells: Vec<Cell>,
    pub dict: Dictionary,
}

impl AttrColumn {
    /// The value of a row as the model's type (explain, checks).
    pub fn value(&self, row: usize) -> Option<AttrValue> {
        match self.cells[row] {
            Cell::Absent => None,
            Cell::Null => Some(AttrValue::Null),
            Cell::Str(c) => Some(AttrValue::Str(self.dict.get(c).to_string())),
            Cell::Num(n) => Some(AttrValue::Num(n)),
            Cell::Bool(b) => Some(AttrValue::Bool(b)),
        }
    }
}

/// Smallest pending tail that triggers a merge into the base.
const MIN_PENDING_TO_COMPACT: usize = 4096;

#[derive(Debug, Clone, Default)]
pub struct EventPartition {
    contact: Vec<u32>,
    time: Vec<i64>,
    attr_names: Vec<Box<str>>,
    attr_index: HashMap<Box<str>, usize, foldhash::fast::RandomState>,
    attrs: Vec<AttrColumn>,
    /// Rows `0..base_len` are sorted by (contact, time).
    base_len: usize,
    /// Base rows of contact `o` are `offsets[o]..offsets[o + 1]`.
    offsets: Vec<u32>,
    /// Pending rows (`base_len..`), as row ids sorted by (contact, time).
    pending: Vec<u32>,
    /// Contacts that have at least one row.
    contacts: RoaringBitmap,
    /// Rows of erased contacts, skipped until the next compaction drops
    /// them (so a contact put again later does not get them back).
    dead_rows: RoaringBitmap,
    /// The latest event time seen (catalog).
    pub last_time: Option<i64>,
}

impl EventPartition {
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Contacts with at least one row (possibly erased ones, until compaction).
    pub fn contacts(&self) -> &RoaringBitmap {
        &self.contacts
    }

    pub fn time(&self, row: u32) -> i64 {
        self.time[row as usize]
    }

    pub fn attribute_names(&self) -> impl Iterator<Item = &str> {
        self.attr_names.iter().map(|s| &**s)
    }

    pub fn column(&self, attribute: &str) -> Option<&AttrColumn> {
        self.attr_index.get(attribute).map(|i| &self.attrs[*i])
    }

    /// Appends one event.
    pub fn push(&mut self, ordinal: u32, time: i64, attributes: &flowseg_model::Attributes) {
        let row = self.time.len();
        self.contact.push(ordinal);
        self.time.push(time);
        for col in &mut self.attrs {
            col.cells.push(Cell::Absent);
        }
        for (name, value) in attributes {
            let idx = match self.attr_index.get(name.as_str()) {
                Some(i) => *i,
                None => {
                    self.attr_names.push(name.as_str().into());
                    self.attr_index
                        .insert(name.as_str().into(), self.attrs.len());
                    self.attrs.push(AttrColumn {
                        cells: vec![Cell::Absent; row + 1],
                        dict: Dictionary::default(),
                    });
                    self.attrs.len() - 1
                }
            };
            let col = &mut self.attrs[idx];
            col.cells[row] = match value {
                AttrValue::Null => Cell::Null,
                AttrValue::Str(s) => Cell::Str(col.dict.intern(s)),
                AttrValue::Num(n) => Cell::Num(*n),
                AttrValue::Bool(b) => Cell::Bool(*b),
            };
        }
        let key = (ordinal, time);
        let at = self
            .pending
            .partition_point(|r| (self.contact[*r as usize], self.time[*r as usize]) <= key);
        self.pending.insert(at, row as u32);
        self.contacts.insert(ordinal);
        self.last_time = Some(self.last_time.map_or(time, |t| t.max(time)));
    }

    /// Whether the pending tail is large enough to merge.
    pub fn wants_compaction(&self) -> bool {
        self.pending.len() >= MIN_PENDING_TO_COMPACT.max(self.base_len / 8)
    }

    /// Rewrites all rows sorted by (contact, time), keeping only rows of
    /// `live` contacts.
    pub fn compact(&mut self, live: &RoaringBitmap) {
        let mut order: Vec<u32> = (0..self.time.len() as u32)
            .filter(|r| live.contains(self.contact[*r as usize]) && !self.dead_rows.contains(*r))
            .collect();
        self.dead_rows.clear();
        order.sort_by_key(|r| (self.contact[*r as usize], self.time[*r as usize], *r));
        self.contact = permute(&self.contact, &order);
        self.time = permute(&self.time, &order);
        for col in &mut self.attrs {
            col.cells = permute(&col.cells, &order);
        }
        self.base_len = self.time.len();
        self.pending.clear();
        let max_contact = self.contact.last().map_or(0, |c| *c as usize + 1);
        self.offsets = vec![0; max_contact + 1];
        for c in &self.contact {
            self.offsets[*c as usize + 1] += 1;
        }
        for i in 1..self.offsets.len() {
            self.offsets[i] += self.offsets[i - 1];
        }
        self.contacts = self.contact.iter().copied().collect();
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

    /// Appends a contact's rows, in time order, to `out`.
    pub fn rows_of(&self, ordinal: u32, out: &mut Vec<u32>) {
        out.clear();
        let o = ordinal as usize;
        let base = if o + 1 < self.offsets.len() {
            self.offsets[o]..self.offsets[o + 1]
        } else {
            0..0
        };
        let start = self
            .pending
            .partition_point(|r| self.contact[*r as usize] < ordinal);
        let end = self
            .pending
            .partition_point(|r| self.contact[*r as usize] <= ordinal);
        let pend = &self.pending[start..end];
        if pend.is_empty() {
            out.extend(base);
        } else {
            self.merge_runs(base, pend, out);
        }
        if !self.dead_rows.is_empty() {
            out.retain(|r| !self.dead_rows.contains(*r));
        }
    }

    /// Merges a contact's base range and pending slice by time.
    fn merge_runs(&self, base: std::ops::Range<u32>, pend: &[u32], out: &mut Vec<u32>) {
        // Merge two time-sorted runs.
        let (mut i, mut j) = (base.start, 0);
        while i < base.end || j < pend.len() {
            let take_base = j == pend.len()
                || (i < base.end && self.time[i as usize] <= self.time[pend[j] as usize]);
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
                let string_pass = column
                    .map(|c| {
                        c.dict
                            .map_each(|s| f.test.matches(now, Some(&AttrValue::Str(s.to_string()))))
                    })
                    .unwrap_or_default();
                PreparedFilter {
                    plan: f,
                    column,
                    string_pass,
                    now,
                }
            })
            .collect()
    }

    pub fn heap_bytes(&self) -> usize {
        self.contact.capacity() * 4
            + self.time.capacity() * 8
            + self.offsets.capacity() * 4
            + self.pending.capacity() * 4
            + self
                .attrs
                .iter()
                .map(|c| c.cells.capacity() * std::mem::size_of::<Cell>() + c.dict.heap_bytes())
                .sum::<usize>()
            + self.contacts.serialized_size()
    }
}

/// `values` reordered as `order` lists their rows.
fn permute<T: Copy>(values: &[T], order: &[u32]) -> Vec<T> {
    order.iter().map(|r| values[*r as usize]).collect()
}

/// An attribute condition bound to one partition's column, with the verdict
/// for every distinct string computed once.
pub struct PreparedFilter<'p, 'c> {
    plan: &'p AttrPlan,
    column: Option<&'c AttrColumn>,
    string_pass: Vec<bool>,
    now: i64,
}

impl PreparedFilter<'_, '_> {
    pub fn passes(&self, row: u32) -> bool {
        let cell = self.column.map_or(Cell::Absent, |c| c.cells[row as usize]);
        let positive = match cell {
            Cell::Absent => self.plan.test.matches(self.now, None),
            Cell::Null => self.plan.test.matches(self.now, Some(&AttrValue::Null)),
            Cell::Str(code) => self.string_pass[code as usize],
            Cell::Num(n) => self.plan.test.matches(self.now, Some(&AttrValue::Num(n))),
            Cell::Bool(b) => self.plan.test.matches(self.now, Some(&AttrValue::Bool(b))),
        };
        positive != self.plan.negated
    }
}

/// Whether every prepared filter passes for `row`.
pub fn passes_all(filters: &[PreparedFilter<'_, '_>], row: u32) -> bool {
    filters.iter().all(|f| f.passes(row))
}

impl EventPartition {
    /// Rows of live contacts (catalog statistics).
    pub fn live_rows(&self, live: &RoaringBitmap) -> Vec<u32> {
        (0..self.contact.len() as u32)
            .filter(|r| live.contains(self.contact[*r as usize]) && !self.dead_rows.contains(*r))
            .collect()
    }
}
