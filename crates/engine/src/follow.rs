//! Sequences (`followed_by` / `not_followed_by`): whether each kept A
//! event of a contact is followed, within the window, by one of the
//! contact's B events that passes B's conditions and agrees on the `on`
//! attributes.
//!
//! A contact's B candidates are gathered once ([`FollowMatcher::candidates`]),
//! with their times decoded once, and its A events (time order) are
//! walked against them with one forward pointer: the first B event after
//! an A event never moves back for a later A event
//! ([`FollowMatcher::walk`]). The walk reports each A event's verdict in
//! turn, so a count can stop as soon as its verdict cannot change.

use std::sync::Arc;

use flowseg_rules::plan::SequencePlan;

use crate::attr_column::AttrColumn;
use crate::dict::Matches;
use crate::eval::{Scratch, window};
use crate::events::{Cell, EventPartition, PreparedFilter, Rows, passes_all};
use crate::index::{AccountIndex, Ordinal};

/// A sequence bound to its B partition, with B's attribute conditions
/// prepared and the `on` attributes' columns found once.
pub(crate) struct FollowMatcher<'p, 'i> {
    plan: &'p SequencePlan,
    partition: Option<&'i EventPartition>,
    filters: Vec<PreparedFilter<'p, 'i>>,
    /// For each `on` attribute: A's column, B's column, and what is known
    /// of A's strings in B's dictionary.
    on: Vec<OnAttribute<'i>>,
}

struct OnAttribute<'i> {
    a: Option<&'i AttrColumn>,
    b: Option<&'i AttrColumn>,
    strings: OnStrings,
}

/// How an `on` attribute's strings are compared. What is known of one
/// dictionary's strings in another ([`Matches`]) holds only where the
/// other names each string once: a column of per-row strings
/// ([`AttrColumn::holds_row_strings`]) repeats them.
enum OnStrings {
    /// Through what is known of A's strings in B's dictionary.
    AInB(Arc<Matches>),
    /// Through what is known of B's strings in A's (B holds per-row
    /// strings, A does not).
    BInA(Arc<Matches>),
    /// By their strings' hashes first, then, where those agree, through
    /// what is known of A's rows in B ([`Matches::same_row`]) or string
    /// by string (both hold per-row strings: [`Dictionary::row_hashes`]).
    ///
    /// [`Dictionary::row_hashes`]: crate::dict::Dictionary::row_hashes
    Hashed(Arc<Vec<u32>>, Arc<Vec<u32>>, Arc<Matches>),
    /// String by string (a dictionary is empty: then no cell holds a
    /// string).
    Compared,
}

impl<'i> OnAttribute<'i> {
    fn new(a: Option<&'i AttrColumn>, b: Option<&'i AttrColumn>) -> Self {
        let strings = match (a, b) {
            (Some(a), Some(b)) if !a.dict.is_empty() && !b.dict.is_empty() => {
                if !b.dict.is_per_row() {
                    OnStrings::AInB(a.dict.matches_in(&b.dict))
                } else if !a.dict.is_per_row() {
                    OnStrings::BInA(b.dict.matches_in(&a.dict))
                } else {
                    OnStrings::Hashed(
                        a.dict.row_hashes(),
                        b.dict.row_hashes(),
                        a.dict.matches_in(&b.dict),
                    )
                }
            }
            _ => OnStrings::Compared,
        };
        OnAttribute { a, b, strings }
    }

    /// Asks the CPU to start loading what [`OnAttribute::same`] reads of
    /// A's row `a`.
    #[inline]
    fn prefetch_a(&self, a: u32) {
        if let Some(column) = self.a {
            column.prefetch(a as usize);
        }
        if let OnStrings::Hashed(hx, _, m) = &self.strings {
            if let Some(h) = hx.get(a as usize) {
                crate::events::prefetch(h);
            }
            m.prefetch(a);
        }
    }

    /// Asks the CPU to start loading what [`OnAttribute::same`] reads of
    /// B's row `b`.
    #[inline]
    fn prefetch_b(&self, b: u32) {
        if let Some(column) = self.b {
            column.prefetch(b as usize);
        }
        if let OnStrings::Hashed(_, hy, _) = &self.strings
            && let Some(h) = hy.get(b as usize)
        {
            crate::events::prefetch(h);
        }
    }

    /// Whether A's row `a` and B's row `b` hold the same value: present on
    /// both, of the same JSON type, and equal (strings non-empty).
    #[inline]
    fn same(&self, a: u32, b: u32) -> bool {
        let (Some(ca), Some(cb)) = (self.a, self.b) else {
            return false;
        };
        match (ca.cell(a), cb.cell(b)) {
            (Cell::Str(x), Cell::Str(y)) => match &self.strings {
                OnStrings::AInB(m) => m.same(&ca.dict, x, &cb.dict, y),
                OnStrings::BInA(m) => m.same(&cb.dict, y, &ca.dict, x),
                OnStrings::Hashed(hx, hy, m) => match (hx.get(x as usize), hy.get(y as usize)) {
                    (Some(hx), Some(hy)) if hx != hy => false,
                    _ => m.same_row(&ca.dict, x, &cb.dict, y),
                },
                OnStrings::Compared => ca.dict.same_string(x, &cb.dict, y),
            },
            (Cell::Num(x), Cell::Num(y)) => x == y,
            (Cell::Bool(x), Cell::Bool(y)) => x == y,
            _ => false,
        }
    }
}

impl<'p, 'i> FollowMatcher<'p, 'i> {
    /// `plan` with A's events in `a_partition`.
    pub(crate) fn new(
        index: &'i AccountIndex,
        plan: &'p SequencePlan,
        a_partition: &'i EventPartition,
        now: i64,
    ) -> Self {
        let b = index.partitions.get(plan.event.as_str());
        FollowMatcher {
            plan,
            partition: b,
            filters: b.map(|b| b.prepare(&plan.filters, now)).unwrap_or_default(),
            on: plan
                .on
                .iter()
                .map(|k| OnAttribute::new(a_partition.column(k), b.and_then(|b| b.column(k))))
                .collect(),
        }
    }

    /// The latest A event that can be kept at `now`, when `hi` is the A
    /// window's end: a negated sequence keeps no A event whose window has
    /// not fully passed, so those after `now` less the window need not be
    /// read. ([`FollowMatcher::walk`] still decides such an event itself.)
    pub(crate) fn latest_kept(&self, hi: i64, now: i64) -> i64 {
        match self.plan.window_ms {
            Some(d) if self.plan.negated => hi.min(now.saturating_sub(d)),
            _ => hi,
        }
    }

    /// Asks the CPU to start loading where contact `ordinal`'s B rows are
    /// recorded (what [`FollowMatcher::prefetch_latest`] needs first).
    #[inline]
    pub(crate) fn prefetch_directory(&self, ordinal: Ordinal) {
        if let Some(b) = self.partition {
            b.prefetch_offsets(ordinal);
        }
    }

    /// Asks the CPU to start loading contact `ordinal`'s latest B time:
    /// A's windows are mostly recent, so B's candidates are mostly its
    /// latest rows.
    #[inline]
    pub(crate) fn prefetch_latest(&self, ordinal: Ordinal) {
        if let Some(b) = self.partition {
            b.prefetch_last_time(ordinal);
            if let Some(row) = b.latest_base_row(ordinal) {
                b.prefetch_time(row);
                self.on.iter().for_each(|on| on.prefetch_b(row));
            }
        }
    }

    /// Asks the CPU to start loading what the `on` attributes read of A's
    /// row `a`.
    #[inline]
    pub(crate) fn prefetch_a(&self, a: u32) {
        self.on.iter().for_each(|on| on.prefetch_a(a));
    }

    /// Fills `scratch.follow` with the contact's B events that pass B's
    /// conditions, come after `after` (the first kept A event's time) and
    /// not after `until` plus the window (or after now), in time order,
    /// and `scratch.follow_times` with their times. Contacts with many B
    /// events only pay for those near their A events.
    pub(crate) fn candidates(
        &self,
        ordinal: Ordinal,
        after: i64,
        until: i64,
        now: i64,
        scratch: &mut Scratch,
    ) {
        scratch.follow.clear();
        scratch.follow_times.clear();
        let Some(b) = self.partition else { return };
        let lo = after.saturating_add(1);
        let hi = match self.plan.window_ms {
            Some(d) => until.saturating_add(d).min(now),
            None => now,
        };
        let pass = |row: &u32| passes_all(&self.filters, *row);
        match b.rows(ordinal, &mut scratch.follow_rows) {
            Rows::Range(range) => {
                let w = window(b.times(range.clone()), b.time_key(lo), b.time_key(hi));
                let rows = range.start + w.start as u32..range.start + w.end as u32;
                scratch.follow.extend(rows.filter(pass));
            }
            Rows::List(rows) => {
                // Integer times: before `lo` is at most `lo - 1`.
                let (before_lo, hi) = (b.time_key(lo.saturating_sub(1)), b.time_key(hi));
                let start = if lo == i64::MIN {
                    0
                } else {
                    rows.partition_point(|r| b.time_at_most(*r, before_lo))
                };
                let end = rows.partition_point(|r| b.time_at_most(*r, hi));
                scratch
                    .follow
                    .extend(rows[start.min(end)..end].iter().copied().filter(pass));
            }
        }
        scratch
            .follow_times
            .extend(scratch.follow.iter().map(|r| b.time(*r)));
    }

    /// Decides the A events `kept` (rows of `a_part`, in time order) one
    /// after another against the B candidates `follow` (in time order,
    /// their times in `follow_times`, as [`FollowMatcher::candidates`]
    /// leaves them): A event `kept[i]` is kept if followed (or, negated,
    /// not followed) by a candidate within the window. `verdict(i, kept)`
    /// hears each in turn, and ends the walk by returning `true`.
    pub(crate) fn walk(
        &self,
        a_part: &EventPartition,
        kept: &[u32],
        follow: &[u32],
        follow_times: &[i64],
        now: i64,
        mut verdict: impl FnMut(usize, bool) -> bool,
    ) {
        // The first candidate after the current A event.
        let mut next = 0;
        for (i, &a) in kept.iter().enumerate() {
            let t_a = a_part.time(a);
            let limit = match self.plan.window_ms {
                Some(d) => {
                    let end = t_a.saturating_add(d);
                    if self.plan.negated && end > now {
                        // The window has not fully passed: nothing to
                        // decide yet, so the event is not kept.
                        if verdict(i, false) {
                            return;
                        }
                        continue;
                    }
                    end.min(now)
                }
                None => now,
            };
            while next < follow_times.len() && follow_times[next] <= t_a {
                next += 1;
            }
            let found = follow_times[next..]
                .iter()
                .take_while(|t| **t <= limit)
                .zip(&follow[next..])
                .any(|(_, b)| self.same_on(a, *b));
            if verdict(i, found != self.plan.negated) {
                return;
            }
        }
    }

    /// `on` correlation: every listed attribute present on both, of the
    /// same JSON type, and equal.
    fn same_on(&self, a: u32, b: u32) -> bool {
        self.on.iter().all(|on| on.same(a, b))
    }
}
