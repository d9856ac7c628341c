//! Counts of a sequence's kept A events (`followed_by` /
//! `not_followed_by` with a count, the default being at least one), over
//! every contact of A's partition: the sweep's work for them.
//!
//! It goes in two passes. The first finds each contact's A events in the
//! window and decides every contact whose verdict does not depend on B
//! (too few A events for `at least 2`, none for `at least 1`): by the row
//! pass over A's ticks ([`crate::row_pass`]) where the partition keeps
//! them, else by each contact's window, read in ordinal order. The second
//! decides the rest, one contact after another; its reads are scattered
//! (B's directory and times, A's times, the `on` attributes' cells), so
//! each is asked for a few contacts ahead ([`PREFETCH_AHEAD`]) and they
//! overlap instead of waiting one after another.
//!
//! At `large` on the 2-core EPYC (alternating runs, snapshot-loaded, the
//! same members): `cart_then_purchase` 22.4 → 11.0 ms and `abandoned_cart`
//! 11.8 → 4.5, with the walk of [`crate::follow`] and the early verdicts
//! (22.4 → 15.8 and 11.8 → 9.65), the second pass's prefetching (→ 12.4
//! and 7.0), and the first pass by the row pass (→ 11.0 and 4.5).

use std::ops::Range;

use super::{EventMatcher, PREFETCH_AHEAD, Scratch, set_verdict, window};
use crate::events::passes_all;
use crate::follow::FollowMatcher;
use crate::index::Ordinal;
use crate::row_pass::KeptRows;

/// A contact left for the second pass: its ordinal, and the span of its
/// A rows from the first kept one to the last (all of them kept, but for
/// rows the attribute conditions drop).
type Open = (Ordinal, Range<u32>);

impl EventMatcher<'_, '_> {
    /// [`sweep`](EventMatcher::sweep)'s work for a sequence's count, on
    /// the contacts `ordinals` (bit 0 of `words` is `ordinals.start`);
    /// contacts with tail rows are decided by the general path.
    pub(super) fn sweep_sequence_counts(
        &self,
        follow: &FollowMatcher<'_, '_>,
        ordinals: Range<usize>,
        tail: &[u32],
        words: &mut [u64],
    ) {
        let first = ordinals.start;
        let Some(ticks) = self.partition.base_ticks() else {
            let mut open = Vec::new();
            self.sweep_part(ordinals, tail, words, None, |o, rows| {
                let window = self.a_window(rows);
                self.settled(0, window.len()).unwrap_or_else(|| {
                    open.push((o, window));
                    false
                })
            });
            let fill = |span: Range<u32>, kept: &mut Vec<u32>| {
                kept.extend(span.filter(|row| passes_all(&self.filters, *row)));
            };
            self.decide_open(follow, &open, first, words, fill);
            return;
        };
        let offsets = self.partition.base_offsets();
        self.row_pass_runs(ticks, ordinals, tail, words, |kept, run, words| {
            let open = self.open_by_rows(kept, offsets, run, first, words);
            let fill = |span: Range<u32>, rows: &mut Vec<u32>| kept.each_in(span, |r| rows.push(r));
            self.decide_open(follow, &open, first, words, fill);
        });
    }

    /// The first pass over the contacts `run` from the row pass's `kept`
    /// rows: each contact's count of kept rows decides it, or leaves it
    /// open. Where kept rows are few (a recent window), only their
    /// contacts are visited, as [`sweep_counts`] does.
    ///
    /// [`sweep_counts`]: EventMatcher::sweep_counts
    fn open_by_rows(
        &self,
        kept: &KeptRows,
        offsets: &[u32],
        run: Range<usize>,
        first: usize,
        words: &mut [u64],
    ) -> Vec<Open> {
        let mut open = Vec::new();
        let rows = offsets[run.start]..offsets[run.end];
        let kept_in_run = kept.before(rows.end) - kept.before(rows.start);
        let sparse = (kept_in_run as usize) * super::SPARSE_KEPT_PER_CONTACT < run.len();
        if sparse && !self.count_verdict(0) {
            // A contact without kept rows gets no bit: only the kept rows'
            // contacts are visited.
            let mut contact = run.start;
            let (mut count, mut span) = (0, 0..0);
            let mut decide =
                |contact: usize, count: usize, span: Range<u32>| match self.settled(0, count) {
                    Some(verdict) => set_verdict(words, contact - first, verdict),
                    None => open.push((contact as Ordinal, span)),
                };
            kept.each_in(rows, |row| {
                if row >= offsets[contact + 1] {
                    if count > 0 {
                        decide(contact, count, span.clone());
                    }
                    contact = super::contact_of_row(offsets, contact + 1..run.end, row);
                    count = 0;
                }
                if count == 0 {
                    span.start = row;
                }
                count += 1;
                span.end = row + 1;
            });
            if count > 0 {
                decide(contact, count, span);
            }
            return open;
        }
        for contact in run {
            let (start, end) = (offsets[contact], offsets[contact + 1]);
            if start == end {
                // No bit for a contact without rows (see `event`).
                continue;
            }
            let count = (kept.before(end) - kept.before(start)) as usize;
            match self.settled(0, count) {
                Some(verdict) => set_verdict(words, contact - first, verdict),
                None => open.push((contact as Ordinal, kept.span_in(start..end))),
            }
        }
        open
    }

    /// The second pass: decides each contact of `open` (ascending), whose
    /// kept A rows `fill` finds in its span. Bit 0 of `words` is `first`.
    fn decide_open(
        &self,
        follow: &FollowMatcher<'_, '_>,
        open: &[Open],
        first: usize,
        words: &mut [u64],
        fill: impl Fn(Range<u32>, &mut Vec<u32>),
    ) {
        let p = self.partition;
        let mut scratch = Scratch::default();
        for i in 0..open.len() {
            if let Some((o, span)) = open.get(i + 2 * PREFETCH_AHEAD) {
                follow.prefetch_directory(*o);
                p.prefetch_time(span.start);
                p.prefetch_time(span.end - 1);
                follow.prefetch_a(span.start);
            }
            if let Some((o, _)) = open.get(i + PREFETCH_AHEAD) {
                follow.prefetch_latest(*o);
            }
            let (o, span) = open[i].clone();
            scratch.kept.clear();
            fill(span, &mut scratch.kept);
            let holds = self.sequence_count_holds_in(follow, o, &mut scratch);
            set_verdict(words, o as usize - first, holds);
        }
    }

    /// The rows of a contact's base range `rows` in the window.
    #[inline(always)]
    fn a_window(&self, rows: Range<u32>) -> Range<u32> {
        let w = window(self.partition.times(rows.clone()), self.lo_key, self.hi_key);
        rows.start + w.start as u32..rows.start + w.end as u32
    }

    /// Whether a sequence's count holds for one contact whose A events are
    /// the base range `rows`.
    pub(super) fn sequence_count_holds(
        &self,
        follow: &FollowMatcher<'_, '_>,
        ordinal: Ordinal,
        rows: Range<u32>,
        scratch: &mut Scratch,
    ) -> bool {
        let window = self.a_window(rows);
        if let Some(verdict) = self.settled(0, window.len()) {
            return verdict;
        }
        scratch.kept.clear();
        scratch
            .kept
            .extend(window.filter(|row| passes_all(&self.filters, *row)));
        self.sequence_count_holds_in(follow, ordinal, scratch)
    }

    /// Whether a sequence's count holds for one contact whose kept A
    /// events (in the window, passing the attribute conditions, in time
    /// order) are in `scratch.kept`. The B events are read only if the
    /// verdict depends on how many of those are kept, and the walk stops
    /// as soon as the rest cannot change it (`cart_then_purchase`'s `at
    /// least 2` after two kept events, `abandoned_cart`'s at the first).
    fn sequence_count_holds_in(
        &self,
        follow: &FollowMatcher<'_, '_>,
        ordinal: Ordinal,
        scratch: &mut Scratch,
    ) -> bool {
        let p = self.partition;
        let n = scratch.kept.len();
        if let Some(verdict) = self.settled(0, n) {
            return verdict;
        }
        let (after, until) = (p.time(scratch.kept[0]), p.time(scratch.kept[n - 1]));
        follow.candidates(ordinal, after, until, self.now, scratch);
        let (mut count, mut verdict) = (0, None);
        follow.walk(
            p,
            &scratch.kept,
            &scratch.follow,
            &scratch.follow_times,
            self.now,
            |i, keep| {
                count += usize::from(keep);
                verdict = self.settled(count, count + (n - 1 - i));
                verdict.is_some()
            },
        );
        verdict.unwrap_or_else(|| self.count_verdict(count))
    }

    /// The verdict every count from `lo` to `hi` shares, if they share
    /// one (known for counts whose cap is small: `count_verdicts`).
    #[inline]
    fn settled(&self, lo: usize, hi: usize) -> Option<bool> {
        if lo == hi {
            return Some(self.count_verdict(lo));
        }
        let cap = self.count_turns.len().checked_sub(1)?;
        let (lo, hi) = (lo.min(cap), hi.min(cap));
        (self.count_turns[lo] == self.count_turns[hi]).then(|| self.count_verdicts[lo])
    }
}
