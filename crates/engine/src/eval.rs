//! The evaluator: a [`Plan`] to the bitmap of member ordinals at an
//! evaluation time.
//!
//! Every node is evaluated within a *scope* (a subset of live contacts) and
//! returns its members inside that scope. `all` narrows the scope child by
//! child, cheapest first, and stops when it is empty; `any` only evaluates
//! each child on the contacts not yet in; `not` is scope minus the child.
//! Event conditions visit only contacts that have events of that name and
//! are in scope.

use flowseg_rules::plan::{AggregateFn, Comparison, EventPlan, FieldPlan, MeasurePlan, Plan};
use roaring::RoaringBitmap;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::events::{EventPartition, PreparedFilter, Rows, passes_all};
use crate::follow::FollowMatcher;
use crate::index::{AccountIndex, Ordinal};
use crate::running::Units;
use crate::scan::bitmap_of_words;
use crate::ticks::{Ticks, TimeKey, TimeRun};

mod sequences;

impl AccountIndex {
    /// The members of `plan` at evaluation time `now` (epoch ms): events
    /// after `now` are ignored, relative windows are measured from it.
    pub fn evaluate(&self, plan: &Plan, now: i64) -> RoaringBitmap {
        Evaluator::new(self, now).eval(plan, &self.live)
    }

    /// Whether one contact is a member (evaluates only that contact, except
    /// for referenced segments, which are evaluated whole).
    pub fn contains(&self, plan: &Plan, ordinal: Ordinal, now: i64) -> bool {
        if !self.live.contains(ordinal) {
            return false;
        }
        let mut one = RoaringBitmap::new();
        one.insert(ordinal);
        !Evaluator::new(self, now).eval(plan, &one).is_empty()
    }
}

pub(crate) struct Evaluator<'a> {
    pub(crate) index: &'a AccountIndex,
    pub(crate) now: i64,
    /// What is known of each referenced segment in this evaluation.
    segments: RefCell<HashMap<String, Decided>>,
}

/// A referenced segment's membership, decided contact by contact: the
/// contacts it was evaluated on, and which of them are members. Membership
/// of one contact never depends on the others, so a later reference only
/// evaluates the contacts not decided yet.
#[derive(Default)]
struct Decided {
    contacts: RoaringBitmap,
    members: RoaringBitmap,
}

/// A rough cost rank, so `all`/`any` try cheap children first.
fn cost(plan: &Plan) -> u32 {
    match plan {
        Plan::Field(_) => 1,
        Plan::Segment { .. } => 2,
        Plan::Event(e) if e.sequence.is_none() => 3,
        Plan::Event(_) => 4,
        Plan::Not(c) => cost(c),
        Plan::All(c) | Plan::Any(c) => c.iter().map(cost).max().unwrap_or(0),
    }
}

fn by_cost(children: &[Plan]) -> Vec<&Plan> {
    let mut order: Vec<&Plan> = children.iter().collect();
    order.sort_by_key(|p| cost(p));
    order
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(index: &'a AccountIndex, now: i64) -> Self {
        Evaluator {
            index,
            now,
            segments: RefCell::new(HashMap::new()),
        }
    }

    pub(crate) fn eval(&self, plan: &Plan, scope: &RoaringBitmap) -> RoaringBitmap {
        match plan {
            Plan::All(children) => {
                let (mut current, rest) = match self.fields_scanned_together(children, scope) {
                    Some((members, rest)) => (members, rest),
                    None => (scope.clone(), by_cost(children)),
                };
                for child in rest {
                    if current.is_empty() {
                        break;
                    }
                    current = self.eval(child, &current);
                }
                current
            }
            Plan::Any(children) => {
                let mut members = RoaringBitmap::new();
                let mut rest = scope.clone();
                for child in by_cost(children) {
                    if rest.is_empty() {
                        break;
                    }
                    let found = self.eval(child, &rest);
                    rest -= &found;
                    members |= found;
                }
                members
            }
            Plan::Not(child) => scope - self.eval(child, scope),
            Plan::Field(f) => self.field(f, scope),
            Plan::Event(e) => self.event(e, scope),
            Plan::Segment { id, plan } => {
                // A referenced segment is evaluated on the scope it is met
                // in, not on every contact (a reference after a narrow
                // condition costs what the narrow scope costs), and what
                // was decided is kept for further references to it.
                let undecided = match self.segments.borrow().get(id) {
                    Some(known) => scope - &known.contacts,
                    None => scope.clone(),
                };
                if !undecided.is_empty() {
                    // No borrow is held here: the segment may reference others.
                    let found = self.eval(plan, &undecided);
                    let mut segments = self.segments.borrow_mut();
                    let known = segments.entry(id.clone()).or_default();
                    known.contacts |= undecided;
                    known.members |= found;
                }
                let segments = self.segments.borrow();
                segments
                    .get(id)
                    .map_or_else(RoaringBitmap::new, |k| &k.members & scope)
            }
        }
    }

    /// The field conditions of an `all` that would each scan their whole
    /// column (a text, number or date column, over a scope not much
    /// smaller than the column) are scanned into verdict words, joined word
    /// by word, and made a bitmap once: one bitmap and one intersection
    /// instead of one of each per condition. A condition that the ones
    /// before it leave few enough contacts for is tested member by member
    /// afterwards, as it would be alone. Returns the members of `scope`
    /// that pass the joined conditions, and the other children, cheapest
    /// first; `None` when no condition scans.
    fn fields_scanned_together<'p>(
        &self,
        children: &'p [Plan],
        scope: &RoaringBitmap,
    ) -> Option<(RoaringBitmap, Vec<&'p Plan>)> {
        let end = scope.max()? as usize / 64 + 1;
        let mut joined: Option<Vec<u64>> = None;
        let mut rest = Vec::new();
        for child in by_cost(children) {
            let passing = joined.as_ref().map_or(scope.len(), |w| ones(w));
            if let Plan::Field(f) = child
                && let Some(column) = self.index.columns.get(&f.field)
                && !column.tested_by_member(passing)
                && let Some(verdicts) = column.verdict_words(&f.test, self.now)
            {
                let words = joined.get_or_insert_with(|| vec![u64::MAX; end]);
                // Past the column's words no contact has a value: the
                // condition fails there, and its negation passes.
                let flip = if f.negated { u64::MAX } else { 0 };
                for (i, w) in words.iter_mut().enumerate() {
                    *w &= verdicts.get(i).copied().unwrap_or(0) ^ flip;
                }
            } else {
                rest.push(child);
            }
        }
        Some((bitmap_of_words(&joined?) & scope, rest))
    }

    fn field(&self, f: &FieldPlan, scope: &RoaringBitmap) -> RoaringBitmap {
        let positive = match self.index.columns.get(&f.field) {
            Some(column) => column.select(&f.test, self.now, scope),
            None => RoaringBitmap::new(),
        };
        if f.negated {
            scope - positive
        } else {
            positive
        }
    }

    fn event(&self, e: &EventPlan, scope: &RoaringBitmap) -> RoaringBitmap {
        let zero_holds = matches!(e.measure, MeasurePlan::Count(c) if c.holds(0.0));
        let Some(partition) = self.index.partitions.get(e.event.as_str()) else {
            return if zero_holds {
                scope.clone()
            } else {
                RoaringBitmap::new()
            };
        };
        let matcher = EventMatcher::new(self.index, e, partition, self.now);
        let mut members = match matcher.sweep(scope) {
            Some(members) => members,
            None => {
                // A scope holding many of the partition's contacts (a
                // condition after a broad one) is swept whole and
                // intersected, where deciding the candidates one by one
                // (tens of nanoseconds each) would cost more than the
                // sweep's straight loops over every row and every contact
                // of the directory (about a nanosecond each). At `large`,
                // `lapsed_buyers` (`count equals 0` after a broad `before`
                // window) 5.25–5.30 → 2.10–2.23 ms and `deep_nesting`
                // 3.51–3.55 → 3.11–3.20, alternating runs with the row pass
                // below in both.
                let among = partition.contacts() & scope;
                let directory = partition.base_offsets().len() as u64;
                let wide = among.len() * 20 >= partition.len() as u64 / 2 + directory;
                match wide.then(|| matcher.sweep(partition.contacts())).flatten() {
                    Some(members) => members & scope,
                    None => crate::scan::from_ascending(&matcher.members_among(&among)),
                }
            }
        };
        if zero_holds {
            members |= scope - partition.contacts();
        }
        members
    }
}

/// The positions of `times` (ascending) within `lo..=hi`. Windows are
/// mostly recent, so the search works from the end: a contact with no
/// event since `lo` costs one read of its last time; otherwise the window's
/// start is looked for by stepping back over up to [`STEPS_BACK`] times,
/// which reads memory in order, before falling back to a binary search
/// (whose dependent loads each wait on a cache miss: they were the hot spot
/// of windowed counts over contacts with many events).
#[inline]
pub(crate) fn window(
    times: TimeRun<'_>,
    lo_key: TimeKey,
    hi_key: TimeKey,
) -> std::ops::Range<usize> {
    let n = times.len();
    if n == 0 || !times.at_least(n - 1, lo_key) {
        return n..n;
    }
    let end = if times.at_most(n - 1, hi_key) {
        n
    } else {
        times.partition_point(|i| times.at_most(i, hi_key))
    };
    if lo_key.time() == i64::MIN {
        // An open start (`before` windows): every row up to `end`.
        return 0..end;
    }
    let floor = end.saturating_sub(STEPS_BACK);
    let mut start = end;
    while start > floor && times.at_least(start - 1, lo_key) {
        start -= 1;
    }
    if start == floor && floor > 0 && times.at_least(floor - 1, lo_key) {
        start = times
            .head(floor)
            .partition_point(|i| !times.at_least(i, lo_key));
    }
    start..end
}

/// How many of `times` (ascending) are at most `hi`; `None` stands for a
/// `hi` known to be past every time (so the latest is not even read).
#[inline(always)]
fn window_end(times: TimeRun<'_>, hi: Option<TimeKey>) -> usize {
    let n = times.len();
    match hi {
        Some(hi_key) if n > 0 => {
            if times.at_most(n - 1, hi_key) {
                n
            } else {
                times.partition_point(|i| times.at_most(i, hi_key))
            }
        }
        _ => n,
    }
}

/// How many of `times` (ascending) are within `lo..=hi`, or `cap` if there
/// are more: a count is often decided by its latest few rows (at least
/// two in a month), which are read without looking for the window's start.
#[inline(always)]
fn window_len_capped(
    times: TimeRun<'_>,
    lo_key: TimeKey,
    hi: Option<TimeKey>,
    cap: usize,
) -> usize {
    if lo_key.time() == i64::MIN {
        // An open start (`before` windows): the earliest rows are the ones
        // counted, so a small cap reads the first few times rather than
        // searching for the window's end (at `large`, `lapsed_buyers`
        // 24.6–24.8 → 19.8–20.0 ms, alternating runs).
        return match hi {
            None => times.len().min(cap),
            Some(hi_key) if cap <= STEPS_BACK => {
                let limit = cap.min(times.len());
                let mut n = 0;
                while n < limit && times.at_most(n, hi_key) {
                    n += 1;
                }
                n
            }
            Some(hi_key) => times.partition_point(|i| times.at_most(i, hi_key)).min(cap),
        };
    }
    let end = window_end(times, hi);
    if cap > STEPS_BACK {
        return window(times.head(end), lo_key, times.key(i64::MAX))
            .len()
            .min(cap);
    }
    let floor = end.saturating_sub(cap);
    let mut start = end;
    while start > floor && times.at_least(start - 1, lo_key) {
        start -= 1;
    }
    end - start
}

/// How many times [`window`] steps back over before it searches.
const STEPS_BACK: usize = 16;

/// How many contacts ahead an evaluation asks for a contact's latest time
/// (and twice as far, for where its rows are).
const PREFETCH_AHEAD: usize = 8;

/// Contacts per thread below which an event condition runs on one thread
/// (a helper's wake-up costs up to ~25 µs; a contact from 20 ns, over a
/// dense scope, to 200 ns, over a sparse one whose rows are all cold).
const CONTACTS_PER_THREAD: u64 = 4_096;

impl EventMatcher<'_, '_> {
    /// The contacts of `candidates` for which the condition holds, ascending.
    /// Large candidate sets are split into contiguous ordinal ranges
    /// evaluated by the calling thread and the helpers ([`crate::helpers`];
    /// contacts are independent), and the
    /// ranges' results concatenated in order.
    fn members_among(&self, candidates: &RoaringBitmap) -> Vec<u32> {
        let n = candidates.len();
        let threads = (crate::cores::evaluation_threads() as u64)
            .min(n / CONTACTS_PER_THREAD)
            .max(1);
        let run = |range: std::ops::RangeInclusive<u32>| {
            let mut scratch = Scratch::default();
            let mut found = Vec::new();
            // Taken in batches: roaring's one-at-a-time iterator cost ~10%
            // of a windowed count over most contacts.
            let mut ordinals = candidates.range(range);
            let mut batch = [0u32; 512];
            let p = self.partition;
            loop {
                let some = ordinals.next_many(&mut batch);
                if some.is_empty() {
                    break;
                }
                for i in 0..some.len() {
                    // Loads issued ahead (see `EventPartition::prefetch_last_time`).
                    if let Some(ahead) = some.get(i + 2 * PREFETCH_AHEAD) {
                        p.prefetch_offsets(*ahead);
                    }
                    if let Some(ahead) = some.get(i + PREFETCH_AHEAD) {
                        p.prefetch_last_time(*ahead);
                        p.prefetch_last_cells(*ahead, &self.prefetched_columns);
                    }
                    let ordinal = some[i];
                    if self.holds(ordinal, &mut scratch) {
                        found.push(ordinal);
                    }
                }
            }
            found
        };
        if threads == 1 {
            return run(0..=u32::MAX);
        }
        // Each thread takes the ordinals from one split point to the next;
        // the split points are the candidates at ranks n/t, 2n/t, ….
        let mut starts = vec![0u32];
        for t in 1..threads {
            starts.extend(candidates.select((n * t / threads) as u32));
        }
        let ranges: Vec<_> = (0..starts.len())
            .map(|i| starts[i]..=starts.get(i + 1).map_or(u32::MAX, |next| next - 1))
            .collect();
        crate::helpers::in_parts(ranges.len(), |i| run(ranges[i].clone())).concat()
    }
}

impl EventMatcher<'_, '_> {
    /// The condition's members when every contact with rows is in scope
    /// (a condition met first, or alone): the base's contact directory is
    /// swept in ordinal order, each contact's rows read in place, and the
    /// verdicts set in a plain bit set, instead of going through the
    /// candidates one by one (a bitmap iterator, a member list, then a
    /// bitmap). At `large`, with the counting changes of the same commit,
    /// `did login at least 2 times` over 1M contacts went from 14.2 to 5.5
    /// ms and `never_opened_90d` from 15.6 to 7.3. `None` when the sweep
    /// does not apply: a narrower scope, or erased rows awaiting a merge
    /// (whose contacts' base ranges may hold rows no longer theirs).
    fn sweep(&self, scope: &RoaringBitmap) -> Option<RoaringBitmap> {
        let p = self.partition;
        if p.has_erased_rows() || !p.contacts().is_subset(scope) {
            return None;
        }
        let offsets = p.base_offsets();
        // Contacts with tail rows take the general path (their rows are a
        // merged list, not one range).
        let tail: Vec<u32> = p.contacts_with_tail().collect();
        let contacts = offsets
            .len()
            .saturating_sub(1)
            .max(tail.last().map_or(0, |t| *t as usize + 1));
        let threads = crate::cores::evaluation_threads()
            .min(contacts / CONTACTS_PER_THREAD as usize)
            .max(1);
        let per_part = contacts.div_ceil(threads).next_multiple_of(64).max(64);
        let run = |part: std::ops::Range<usize>| {
            let (start, end) = (part.start, part.end);
            let tail = &tail[tail.partition_point(|t| (*t as usize) < start)..];
            let tail = &tail[..tail.partition_point(|t| (*t as usize) < end)];
            let mut words = vec![0u64; (end - start).div_ceil(64)];
            // The per-contact test is chosen once, so each loop is compiled
            // for its own case (these arms repeat `holds_in`'s split on
            // purpose: one loop calling `holds_in` made `never_opened_90d`
            // 8.4–8.7 → 9.3–9.6 ms at `large`, alternating runs).
            let p = self.partition;
            match (&self.plan.measure, self.row_pass) {
                (MeasurePlan::Count(_), _) if let Some(follow) = &self.follow => {
                    self.sweep_sequence_counts(follow, start..end, tail, &mut words);
                }
                _ if self.follow.is_some() => {
                    let mut scratch = Scratch::default();
                    self.sweep_part(start..end, tail, &mut words, None, |o, _| {
                        self.outcome(o, &mut scratch).holds
                    })
                }
                (MeasurePlan::Count(_), Some(ticks)) => {
                    self.sweep_counts(ticks, start..end, tail, &mut words);
                }
                (MeasurePlan::Count(_), _) if self.filters.is_empty() => {
                    let quiet = Some(self.count_verdict(0));
                    self.sweep_part(start..end, tail, &mut words, quiet, |_, rows| {
                        let n = window_len_capped(
                            p.times(rows),
                            self.lo_key,
                            self.cut_key,
                            self.count_cap,
                        );
                        self.count_verdict(n)
                    })
                }
                (MeasurePlan::Count(_), None) => {
                    let quiet = Some(self.count_verdict(0));
                    self.sweep_part(start..end, tail, &mut words, quiet, |_, rows| {
                        self.count_verdict(self.count_latest_passing(rows))
                    })
                }
                (MeasurePlan::Aggregate { .. }, Some(ticks)) => {
                    self.sweep_aggregates(ticks, start..end, tail, &mut words);
                }
                (MeasurePlan::Aggregate { .. }, None) => {
                    self.sweep_part(start..end, tail, &mut words, None, |_, rows| {
                        self.holds_in(rows)
                    })
                }
            }
            words
        };
        let words = crate::scan::words_in_parts(contacts, per_part, run);
        Some(crate::scan::bitmap_of_words(&words))
    }
}

impl EventMatcher<'_, '_> {
    /// [`sweep`](EventMatcher::sweep)'s work on the contacts `ordinals`,
    /// whose verdicts go to `words` (bit 0 is `ordinals.start`): a contact
    /// with only base rows is decided by `verdict` on its range, one with
    /// tail rows (listed in `tail`, ascending) by the general path.
    ///
    /// `quiet`: the verdict of a contact with no row since the window's
    /// start, when that is all it depends on (a count); such contacts are
    /// then skipped where the partition keeps its contacts' latest ticks
    /// ([`sweep_recent`](EventMatcher::sweep_recent)).
    #[inline(always)]
    fn sweep_part(
        &self,
        ordinals: std::ops::Range<usize>,
        tail: &[u32],
        words: &mut [u64],
        quiet: Option<bool>,
        mut verdict: impl FnMut(u32, std::ops::Range<u32>) -> bool,
    ) {
        let p = self.partition;
        let offsets = p.base_offsets();
        let with_base = offsets.len().saturating_sub(1);
        let first = ordinals.start;
        // Whether anything is read past the contact directory (a count over
        // every row, with no window and nothing after it, is not).
        let reads_rows = self.lo != i64::MIN || self.cut_at.is_some() || !self.filters.is_empty();
        let quiet = quiet.filter(|_| self.lo != i64::MIN && !p.latest_ticks().is_empty());
        let mut from = ordinals.start;
        let mut scratch = Scratch::default();
        let mut recent = Vec::new();
        for stop in tail.iter().map(|t| *t as usize).chain([ordinals.end]) {
            let contacts = from..stop.min(with_base);
            if let Some(quiet) = quiet {
                self.sweep_recent(contacts, first, words, quiet, &mut recent, &mut verdict);
            } else {
                for o in contacts {
                    if reads_rows {
                        // The hardware does not see these sparse reads
                        // coming; asked for well ahead, they arrive in time.
                        let ahead = (o + SWEEP_AHEAD) as u32;
                        p.prefetch_last_time(ahead);
                        p.prefetch_last_cells(ahead, &self.prefetched_columns);
                    }
                    let (a, b) = (offsets[o], offsets[o + 1]);
                    if a < b {
                        set_verdict(words, o - first, verdict(o as u32, a..b));
                    }
                }
            }
            if stop < ordinals.end {
                set_verdict(words, stop - first, self.holds(stop as u32, &mut scratch));
            }
            from = stop + 1;
        }
    }

    /// [`sweep_part`](EventMatcher::sweep_part)'s work on `contacts` (all
    /// with base rows only) for a count of a window with a start, over a
    /// partition that keeps its contacts' latest ticks: a contact whose
    /// latest row is on a tick before the window's start's has no row in
    /// the window, and gets `quiet`. The others are listed first, without
    /// a branch on the data (about half of `Visit`'s contacts have a row
    /// in the last 7 days at `large`: a branch per contact mispredicted
    /// and made `pricing_visits_7d` slower), then decided with their rows
    /// asked for ahead. At `large`, `pricing_visits_7d` 8.52–8.57 →
    /// 5.69–5.81 ms, alternating runs.
    #[inline(always)]
    fn sweep_recent(
        &self,
        contacts: std::ops::Range<usize>,
        first: usize,
        words: &mut [u64],
        quiet: bool,
        recent: &mut Vec<u32>,
        verdict: &mut impl FnMut(u32, std::ops::Range<u32>) -> bool,
    ) {
        let p = self.partition;
        let (offsets, latest) = (p.base_offsets(), p.latest_ticks());
        let lo_tick = self.lo_key.tick();
        recent.clear();
        recent.resize(contacts.len(), 0);
        let mut n = 0;
        for o in contacts.clone() {
            recent[n] = o as u32;
            let has_rows = offsets[o] < offsets[o + 1];
            n += usize::from(has_rows & (latest[o] >= lo_tick));
        }
        recent.truncate(n);
        if quiet {
            for o in contacts {
                if offsets[o] < offsets[o + 1] {
                    set_verdict(words, o - first, true);
                }
            }
        }
        for (i, &o) in recent.iter().enumerate() {
            if let Some(&ahead) = recent.get(i + SWEEP_AHEAD) {
                p.prefetch_last_time(ahead);
                p.prefetch_last_cells(ahead, &self.prefetched_columns);
            }
            let o = o as usize;
            put_verdict(
                words,
                o - first,
                verdict(o as u32, offsets[o]..offsets[o + 1]),
            );
        }
    }

    /// The rows of the contacts `ordinals` decided row by row
    /// ([`crate::row_pass`]), and the contiguous runs of those contacts
    /// with base rows only: each run goes to `run`, every contact with
    /// tail rows is decided by the general path, into `words` (bit 0 is
    /// `ordinals.start`).
    #[inline(always)]
    fn row_pass_runs(
        &self,
        ticks: &Ticks,
        ordinals: std::ops::Range<usize>,
        tail: &[u32],
        words: &mut [u64],
        mut run: impl FnMut(&crate::row_pass::KeptRows, std::ops::Range<usize>, &mut [u64]),
    ) {
        let p = self.partition;
        let offsets = p.base_offsets();
        let with_base = offsets.len().saturating_sub(1);
        let at = |o: usize| offsets.get(o.min(with_base)).copied().unwrap_or(0);
        let rows = at(ordinals.start)..at(ordinals.end);
        let times = ticks.run(rows.clone());
        let kept = crate::row_pass::KeptRows::new(
            times,
            rows.start,
            (self.lo, self.hi, ticks),
            &self.filters,
        );
        let first = ordinals.start;
        let mut from = ordinals.start;
        let mut scratch = Scratch::default();
        for stop in tail.iter().map(|t| *t as usize).chain([ordinals.end]) {
            let until = stop.min(with_base);
            if from < until {
                run(&kept, from..until, words);
            }
            if stop < ordinals.end {
                let holds = self.holds(stop as u32, &mut scratch);
                set_verdict(words, stop - first, holds);
            }
            from = stop + 1;
        }
    }

    /// Calls `f` on each contact of `run` with rows in the partition,
    /// ascending, taken from its contacts' bitmap in batches: a contact
    /// directory holds many contacts without rows, and testing each one's
    /// range was a branch as unpredictable as the data (at `large`,
    /// `low_ratings_avg` 7.4–7.6 → 6.0–6.1 ms; a count, whose loop over the
    /// directory has no branch, was slower this way: `failed_logins_30d`
    /// 8.7–9.0 → 11.0–11.1).
    #[inline(always)]
    fn each_with_rows(&self, run: std::ops::Range<usize>, mut f: impl FnMut(usize)) {
        let mut contacts = self
            .partition
            .contacts()
            .range(run.start as u32..run.end as u32);
        let mut batch = [0u32; 256];
        loop {
            let some = contacts.next_many(&mut batch);
            if some.is_empty() {
                break;
            }
            for &mut o in some {
                f(o as usize);
            }
        }
    }

    /// [`sweep_part`](EventMatcher::sweep_part) for a count decided row by
    /// row first: a contact's count is the kept rows before its range's
    /// end less those before its start, and its verdict is looked up, with
    /// no branch on the data (a contact without rows gets no bit). The
    /// caller has checked that the count's verdicts are tabled
    /// (`count_verdicts`) up to its cap.
    fn sweep_counts(
        &self,
        ticks: &Ticks,
        ordinals: std::ops::Range<usize>,
        tail: &[u32],
        words: &mut [u64],
    ) {
        let offsets = self.partition.base_offsets();
        let cap = self.count_verdicts.len() - 1;
        let verdicts = &self.count_verdicts[..=cap];
        let first = ordinals.start;
        self.row_pass_runs(ticks, ordinals, tail, words, |kept, run, words| {
            let rows = offsets[run.start]..offsets[run.end];
            let kept_in_run = kept.before(rows.end) - kept.before(rows.start);
            // Few kept rows, and no verdict for a contact without any:
            // only the kept rows' contacts are visited.
            if !verdicts[0] && (kept_in_run as usize) * SPARSE_KEPT_PER_CONTACT < run.len() {
                let mut contact = run.start;
                let mut count = 0usize;
                kept.each_in(rows, |row| {
                    if row >= offsets[contact + 1] {
                        set_verdict(words, contact - first, verdicts[count.min(cap)]);
                        contact = contact_of_row(offsets, contact + 1..run.end, row);
                        count = 0;
                    }
                    count += 1;
                });
                if count > 0 {
                    set_verdict(words, contact - first, verdicts[count.min(cap)]);
                }
                return;
            }
            let mut start = offsets[run.start];
            let mut kept_before = kept.before(start);
            // A word's verdicts are gathered in a register and stored
            // once: setting each contact's bit in memory made every
            // contact wait for the previous one's store.
            let mut at = run.start - first;
            let mut verdict_bits = 0u64;
            for &end in &offsets[run.start + 1..=run.end] {
                let kept_until = kept.before(end);
                let count = ((kept_until - kept_before) as usize).min(cap);
                let holds = verdicts[count] & (start < end);
                verdict_bits |= u64::from(holds) << (at % 64);
                at += 1;
                if at.is_multiple_of(64) {
                    words[at / 64 - 1] |= verdict_bits;
                    verdict_bits = 0;
                }
                (start, kept_before) = (end, kept_until);
            }
            if !at.is_multiple_of(64) {
                words[at / 64] |= verdict_bits;
            }
        });
    }

    /// [`sweep_part`](EventMatcher::sweep_part) for an aggregate decided
    /// row by row first: each contact's kept rows are folded in order, as
    /// [`aggregate`] does over the kept rows. The column's storage and the
    /// function are matched once, each pair compiled as its own loop.
    ///
    /// Which rows a contact's fold reads depends on the share of rows
    /// kept ([`fold_contacts`](EventMatcher::fold_contacts)).
    ///
    /// Sums and averages of whole units take running totals instead
    /// ([`sum_by_running_totals`](EventMatcher::sum_by_running_totals)):
    /// at `large` on the 2-core EPYC (alternating runs, snapshot-loaded,
    /// the same members), `spend_90d_sum` 4.30–4.44 → 2.69–2.84 ms and
    /// `low_ratings_avg` 2.22–2.26 → 1.49–1.50 ms. (An average over every
    /// contact of the directory, a division each, was slower than the
    /// fold, 2.67–2.70 ms; hence only the contacts with rows where they
    /// are few.)
    ///
    /// Tried and slower or no faster at `large`: folding every row in one
    /// branch-free pass, the fold restarting at each contact's first row
    /// (`spend_90d_sum` 14.7–15.5 → 21.2–22.9 ms on the older machine: a
    /// serial chain through every row); one running total packing the
    /// count above the sum (2.69–2.78 against 2.70–2.78 ms).
    fn sweep_aggregates(
        &self,
        ticks: &Ticks,
        ordinals: std::ops::Range<usize>,
        tail: &[u32],
        words: &mut [u64],
    ) {
        use crate::attr_column::{BYTE_NULL, byte_steps_value};
        use crate::attr_column::{CENTS_NULL, INT_NULL, Stored, cents_value, steps_value};
        let MeasurePlan::Aggregate { func, .. } = self.plan.measure else {
            return;
        };
        let Some(column) = self.aggregated else {
            // No row holds the attribute: only tail contacts could differ,
            // and they hold nothing either.
            return;
        };
        // Numbers that are whole quarters (integers, and steps of a whole
        // number of quarters) are folded as integers: the f64 fold of such
        // numbers is exact at every step (each partial sum is a multiple of
        // 0.25 far below 2^51), so the integer fold, scaled once per
        // contact, gives the same totals, without a conversion and a
        // division per row.
        match column.stored() {
            Stored::Integers(v) => {
                let units = WholeUnits::new(0, 1, 1.0);
                let column = Units::Shorts(v);
                self.sweep_whole_units(ticks, ordinals, tail, words, func, units, column, |r| {
                    (i64::from(v[r]), v[r] > INT_NULL)
                })
            }
            Stored::Steps(v, step) if step % 25 == 0 => {
                let units = WholeUnits::new(0, i64::from(step / 25), 0.25);
                let column = Units::Shorts(v);
                self.sweep_whole_units(ticks, ordinals, tail, words, func, units, column, |r| {
                    (i64::from(v[r]), v[r] > INT_NULL)
                })
            }
            Stored::ByteSteps(v, base, step) if base % 25 == 0 && step % 25 == 0 => {
                let units = WholeUnits::new(i64::from(base / 25), i64::from(step / 25), 0.25);
                let column = Units::Bytes(v);
                self.sweep_whole_units(ticks, ordinals, tail, words, func, units, column, |r| {
                    (i64::from(v[r]), v[r] < BYTE_NULL)
                })
            }
            Stored::Numbers(v) => {
                self.sweep_aggregates_of(ticks, ordinals, tail, words, func, |r| {
                    (v[r], !v[r].is_nan())
                })
            }
            Stored::Cents(v) => self.sweep_aggregates_of(ticks, ordinals, tail, words, func, |r| {
                (cents_value(v[r]), v[r] > CENTS_NULL)
            }),
            Stored::ByteSteps(v, base, step) => {
                self.sweep_aggregates_of(ticks, ordinals, tail, words, func, |r| {
                    (byte_steps_value(v[r], base, step), v[r] < BYTE_NULL)
                })
            }
            Stored::Steps(v, step) => {
                self.sweep_aggregates_of(ticks, ordinals, tail, words, func, |r| {
                    (steps_value(v[r], step), v[r] > INT_NULL)
                })
            }
            _ => self.sweep_aggregates_of(ticks, ordinals, tail, words, func, |r| {
                column.number(r as u32).map_or((0.0, false), |x| (x, true))
            }),
        }
    }

    /// [`sweep_aggregates`](EventMatcher::sweep_aggregates) for a column
    /// of whole units (`stored`: a row's stored integer, which `units`
    /// makes a count of units, and whether it has a number; `column`, the
    /// same numbers as stored).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn sweep_whole_units(
        &self,
        ticks: &Ticks,
        ordinals: std::ops::Range<usize>,
        tail: &[u32],
        words: &mut [u64],
        func: AggregateFn,
        units: WholeUnits,
        column: Units<'_>,
        stored: impl Fn(usize) -> (i64, bool),
    ) {
        let MeasurePlan::Aggregate { comparison, .. } = self.plan.measure else {
            return;
        };
        let total = |u: i64| u as f64 * units.scale;
        let each = |r: usize| {
            let (k, number) = stored(r);
            (units.base + k * units.per, number)
        };
        match func {
            AggregateFn::Sum => {
                // A sum compared in units: no conversion per contact.
                let (lo, hi, negated) = unit_bounds(comparison, units.scale);
                let verdict = |sum: i64, n: u32| {
                    let sum = i64::from(n) * units.base + sum * units.per;
                    (n > 0) & ((lo <= sum) & (sum <= hi) ^ negated)
                };
                self.sum_by_running_totals(ticks, ordinals, tail, words, column, verdict)
            }
            AggregateFn::Avg => {
                // The average as the f64 fold would make it: the same sum,
                // divided once.
                let verdict = |sum: i64, n: u32| {
                    let sum = total(i64::from(n) * units.base + sum * units.per);
                    (n > 0) & comparison.holds(sum / f64::from(n.max(1)))
                };
                self.sum_by_running_totals(ticks, ordinals, tail, words, column, verdict)
            }
            AggregateFn::Min => {
                let fold = (i64::MAX, i64::min);
                self.fold_contacts(ticks, ordinals, tail, words, each, fold, total)
            }
            AggregateFn::Max => {
                let fold = (i64::MIN, i64::max);
                self.fold_contacts(ticks, ordinals, tail, words, each, fold, total)
            }
        }
    }

    /// [`sweep_aggregates`](EventMatcher::sweep_aggregates) for one
    /// storage (`value`: a row's number and whether it has one).
    #[inline(always)]
    fn sweep_aggregates_of(
        &self,
        ticks: &Ticks,
        ordinals: std::ops::Range<usize>,
        tail: &[u32],
        words: &mut [u64],
        func: AggregateFn,
        value: impl Fn(usize) -> (f64, bool),
    ) {
        let total = |x: f64| x;
        match func {
            AggregateFn::Sum | AggregateFn::Avg => {
                let fold = (0.0, |a: f64, x: f64| a + x);
                self.fold_contacts(ticks, ordinals, tail, words, value, fold, total)
            }
            AggregateFn::Min => {
                let fold = (f64::INFINITY, f64::min);
                self.fold_contacts(ticks, ordinals, tail, words, value, fold, total)
            }
            AggregateFn::Max => {
                let fold = (f64::NEG_INFINITY, f64::max);
                self.fold_contacts(ticks, ordinals, tail, words, value, fold, total)
            }
        }
    }

    /// Sums (and averages) of whole units: running totals of the kept
    /// rows' units and counts are taken over the rows of a few hundred
    /// contacts at a time, and each contact's sum and count are the
    /// differences of the totals at its range's ends (of `column`'s stored
    /// numbers and their count), given to `verdict`. The totals are taken
    /// eight rows at a time with AVX2 ([`crate::running`]: at `large`,
    /// `spend_90d_sum` 2.76–2.79 → 2.00–2.11 ms and `low_ratings_avg`
    /// 1.43 → 1.25–1.33, alternating runs).
    /// Neither loop branches on the data (which rows are kept, where a
    /// contact's rows end), and `verdict` need not either. Exact, as the
    /// units are whole.
    #[inline(always)]
    fn sum_by_running_totals(
        &self,
        ticks: &Ticks,
        ordinals: std::ops::Range<usize>,
        tail: &[u32],
        words: &mut [u64],
        column: Units<'_>,
        verdict: impl Fn(i64, u32) -> bool,
    ) {
        let offsets = self.partition.base_offsets();
        let first = ordinals.start;
        // Where fewer than half the directory's contacts have rows, only
        // those are given verdicts, taken from the partition's bitmap; else
        // every contact is, in order, with no look-up. At `large`,
        // `low_ratings_avg` (38% of contacts) 2.22–2.26 → 1.49–1.50 ms,
        // while `spend_90d_sum` (69%) was slower that way, 2.91 → 2.91–3.38.
        let directory = offsets.len().saturating_sub(1) as u64;
        let with_rows_only = self.partition.contacts().len() * 2 < directory;
        // Rows per pass: its totals (12 bytes a row) stay in the L1 cache;
        // and contacts per pass at most (contacts without rows take none).
        const CHUNK: u32 = 2048;
        const CONTACTS: usize = 512;
        // A pass's totals fit `i32`: 2,048 rows of `i16`s.
        let mut sums = vec![0i32; CHUNK as usize + 1];
        let mut counts = vec![0i32; CHUNK as usize + 1];
        let mut pass_kept = [0u64; CHUNK as usize / 64];
        self.row_pass_runs(ticks, ordinals, tail, words, |kept, run, words| {
            let mut o = run.start;
            while o < run.end {
                let a = offsets[o];
                // The contacts `o..e` whose rows fit a pass (at least `o`).
                let ends = &offsets[o + 1..=run.end.min(o + CONTACTS)];
                let e = o + ends.partition_point(|&end| end - a <= CHUNK).max(1);
                let b = offsets[e];
                if b - a > CHUNK {
                    // One contact with more rows than a pass holds.
                    let mut bits = kept.bits_from(a);
                    let (mut sum, mut n) = (0i64, 0u32);
                    for row in a..b {
                        let kept = bits.next_kept();
                        if let (true, Some(x)) = (kept, column.number(row as usize)) {
                            sum += i64::from(x);
                            n += 1;
                        }
                    }
                    set_verdict(words, o - first, verdict(sum, n));
                    o = e;
                    continue;
                }
                let rows = (b - a) as usize;
                for (w, bits) in pass_kept[..rows.div_ceil(64)].iter_mut().enumerate() {
                    *bits = kept.bits64_at(a + 64 * w as u32);
                }
                crate::running::running_totals(
                    column,
                    a as usize,
                    rows,
                    &pass_kept,
                    &mut sums,
                    &mut counts,
                );
                let verdict = |to: usize, from: usize| {
                    verdict(
                        i64::from(sums[to] - sums[from]),
                        (counts[to] - counts[from]) as u32,
                    )
                };
                if with_rows_only {
                    // Only the contacts with rows, their verdicts gathered
                    // per word as below.
                    let mut with_rows = self.partition.contacts().range(o as u32..e as u32);
                    let mut batch = [0u32; 128];
                    let (mut word, mut bits) = (usize::MAX, 0u64);
                    loop {
                        let some = with_rows.next_many(&mut batch);
                        if some.is_empty() {
                            break;
                        }
                        for &j in &*some {
                            let j = j as usize;
                            let at = j - first;
                            if at / 64 != word {
                                if word != usize::MAX {
                                    words[word] |= bits;
                                }
                                (word, bits) = (at / 64, 0);
                            }
                            let (from, to) =
                                ((offsets[j] - a) as usize, (offsets[j + 1] - a) as usize);
                            bits |= u64::from(verdict(to, from)) << (at % 64);
                        }
                    }
                    if word != usize::MAX {
                        words[word] |= bits;
                    }
                    o = e;
                    continue;
                }
                // The verdicts of each word's contacts are gathered before
                // the word is written: one store per 64 contacts, not a
                // chain of loads and stores through one word.
                let mut k = o;
                while k < e {
                    let at = k - first;
                    let stop = e.min(k + 64 - at % 64);
                    let mut bits = 0u64;
                    for j in k..stop {
                        let (from, to) = ((offsets[j] - a) as usize, (offsets[j + 1] - a) as usize);
                        bits |= u64::from(verdict(to, from)) << ((j - first) % 64);
                    }
                    words[at / 64] |= bits;
                    k = stop;
                }
                o = e;
            }
        });
    }

    /// [`sweep_aggregates`](EventMatcher::sweep_aggregates)' loop, for one
    /// storage (`value`: a row's number, or count of units, and whether it
    /// has one), one function (`init`, `step`), and `total`, the number
    /// an accumulator stands for.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn fold_contacts<A: Copy>(
        &self,
        ticks: &Ticks,
        ordinals: std::ops::Range<usize>,
        tail: &[u32],
        words: &mut [u64],
        value: impl Fn(usize) -> (A, bool),
        (init, step): (A, impl Fn(A, A) -> A),
        total: impl Fn(A) -> f64,
    ) {
        let MeasurePlan::Aggregate {
            func, comparison, ..
        } = self.plan.measure
        else {
            return;
        };
        let offsets = self.partition.base_offsets();
        let first = ordinals.start;
        self.row_pass_runs(ticks, ordinals, tail, words, |kept, run, words| {
            // Most rows kept: every row of each contact with rows is read
            // and tested, in a loop that the kept test does not branch
            // out of. Otherwise only the kept rows are visited, taken from
            // the kept bits, and their contacts found from them: at
            // `large`, `spend_90d_sum` (90 of 180 days) 11.5–11.9 →
            // 8.1–8.6 ms, while `low_ratings_avg` (all time, every row
            // kept) was 4.5–4.7 ms the first way and 5.4–5.7 the second.
            if kept.mostly_kept() {
                self.each_with_rows(run, |o| {
                    let (mut acc, mut n) = (init, 0u32);
                    for row in offsets[o]..offsets[o + 1] {
                        let (x, number) = value(row as usize);
                        let take = number & kept.get(row);
                        acc = if take { step(acc, x) } else { acc };
                        n += u32::from(take);
                    }
                    set_verdict(
                        words,
                        o - first,
                        aggregate_holds(func, comparison, total(acc), n),
                    );
                });
            } else {
                // Contacts without kept rows hold no number, so they are
                // no members: only the kept rows' contacts are visited.
                let mut contact = run.start;
                let (mut acc, mut n) = (init, 0u32);
                kept.each_in(offsets[run.start]..offsets[run.end], |row| {
                    if row >= offsets[contact + 1] {
                        let holds = aggregate_holds(func, comparison, total(acc), n);
                        set_verdict(words, contact - first, holds);
                        contact = contact_of_row(offsets, contact + 1..run.end, row);
                        (acc, n) = (init, 0);
                    }
                    let (x, number) = value(row as usize);
                    acc = if number { step(acc, x) } else { acc };
                    n += u32::from(number);
                });
                let holds = aggregate_holds(func, comparison, total(acc), n);
                set_verdict(words, contact - first, holds);
            }
        });
    }

    /// How many of a contact's rows (a base range) are in the window and
    /// pass the attribute conditions, counted from the latest and only up
    /// to the count's cap.
    #[inline(always)]
    fn count_latest_passing(&self, rows: std::ops::Range<u32>) -> usize {
        let times = self.partition.times(rows.clone());
        let lo_key = self.lo_key;
        let mut end = window_end(times, self.cut_key);
        let mut count = 0;
        while end > 0 && count < self.count_cap && times.at_least(end - 1, lo_key) {
            end -= 1;
            count += usize::from(passes_all(&self.filters, rows.start + end as u32));
        }
        count
    }

    /// The verdict on a count.
    #[inline(always)]
    fn count_verdict(&self, count: usize) -> bool {
        match (self.count_verdicts.get(count), &self.plan.measure) {
            (Some(verdict), _) => *verdict,
            (None, MeasurePlan::Count(c)) => c.holds(count as f64),
            (None, MeasurePlan::Aggregate { .. }) => false,
        }
    }
}

/// How many contacts ahead a sweep asks for a contact's latest time and
/// cells. At `large`, `did login in last 30d` over 1M contacts took 10.7
/// ms without these requests and 7.6 with them.
const SWEEP_AHEAD: usize = 128;

/// A row-pass count visits only the kept rows' contacts, rather than
/// every contact, while its kept rows times this are fewer than its
/// contacts (4: fewer kept rows than a quarter of the contacts). At
/// `large` on the 2-core EPYC, 2 → 4 took `big_purchases_30d` (kept rows
/// between a quarter and half of the contacts) from 1.96–2.05 to
/// 1.47–1.49 ms; 16 and 64 measured as 4 did for it and the other counts.
const SPARSE_KEPT_PER_CONTACT: usize = 4;

/// The contact of `contacts` (a range of a partition's contact directory
/// `offsets`) whose base rows hold `row`, found by a scan from the range's
/// first contact, 32 contacts' ends at a time: the next kept row is
/// usually a few contacts on. (A search doubling its step after the first
/// 8 contacts mispredicted its branches: at `large`, `failed_logins_30d`
/// 1.20–1.23 → 0.99–1.04 ms by this scan, alternating runs.)
#[inline(always)]
fn contact_of_row(offsets: &[u32], contacts: std::ops::Range<usize>, row: u32) -> usize {
    let mut from = contacts.start;
    // The next 32 contacts' ends at once (ends ascend, so the count of
    // those at or below `row` is where `row` falls; it compiles to vector
    // comparisons, where a binary search waits on each probe).
    while let Some(ends) = offsets.get(from + 1..from + 33)
        && from + 32 <= contacts.end
    {
        let ends: &[u32; 32] = ends.try_into().expect("32 ends");
        let k: usize = ends.iter().map(|&end| usize::from(end <= row)).sum();
        if k < 32 {
            return from + k;
        }
        from += 32;
    }
    let mut step = 8;
    loop {
        let to = (from + step).min(contacts.end);
        // Contacts `from..to` end at `offsets[from + 1..=to]`.
        let ends = &offsets[from + 1..=to];
        let k = ends.partition_point(|&end| end <= row);
        if k < ends.len() || to == contacts.end {
            return from + k;
        }
        from = to;
        step *= 2;
    }
}

/// Reusable buffers for per-contact event work.
#[derive(Default)]
pub(crate) struct Scratch {
    rows: Vec<u32>,
    pub(crate) kept: Vec<u32>,
    /// A sequence's B rows (a contact's list, when not one range), its
    /// B candidates and their times ([`FollowMatcher::candidates`]).
    pub(crate) follow_rows: Vec<u32>,
    pub(crate) follow: Vec<u32>,
    pub(crate) follow_times: Vec<i64>,
}

/// What an event condition found for one contact.
pub(crate) struct Outcome {
    pub(crate) count: usize,
    pub(crate) aggregate: Option<f64>,
    pub(crate) holds: bool,
}

/// An event condition bound to its partitions, with attribute conditions
/// prepared once.
pub(crate) struct EventMatcher<'p, 'i> {
    plan: &'p EventPlan,
    pub(crate) partition: &'i EventPartition,
    filters: Vec<PreparedFilter<'p, 'i>>,
    lo: i64,
    hi: i64,
    now: i64,
    follow: Option<FollowMatcher<'p, 'i>>,
    /// The aggregated attribute's column, found once rather than per contact.
    aggregated: Option<&'i crate::events::AttrColumn>,
    /// The columns read in every contact's window (attribute conditions,
    /// the aggregated attribute) whose cells are prefetched ahead: those
    /// holding a cache line or more per contact on average. Where a
    /// contact's cells share a line with its neighbours', the hardware's
    /// own prefetching keeps up, and extra requests only competed with it
    /// (measured at `large`: a URL test over `Visit`, ~42 rows per contact,
    /// 51.6–52.3 → 38.0–38.6 ms; `login`'s boolean and `purchase`'s
    /// amount, 7 and 40 bytes per contact, 8–18% slower when prefetched
    /// too).
    prefetched_columns: Vec<&'i crate::events::AttrColumn>,
    /// Where a count can stop: its verdict is the same for every larger
    /// count ([`Comparison::count_cap`]).
    ///
    /// [`Comparison::count_cap`]: flowseg_rules::ast::Comparison::count_cap
    count_cap: usize,
    /// The verdict on each count up to the cap, when the cap is small (a
    /// lookup instead of a comparison through the plan, per contact).
    count_verdicts: Vec<bool>,
    /// For each count up to the cap (with `count_verdicts`), how many
    /// times the verdict changes from count 0 to it: every count from `a`
    /// to `b` has the same verdict when `a`'s and `b`'s are equal.
    count_turns: Vec<u32>,
    /// `hi`, or `None` when no row is later than it (the common case of a
    /// window ending now, with no event stored ahead of time).
    cut_at: Option<i64>,
    /// `lo`, `hi` and `cut_at` as the partition's rows are compared with
    /// them (by tick first), made once rather than per contact.
    lo_key: TimeKey,
    hi_key: TimeKey,
    cut_key: Option<TimeKey>,
    /// Whether a sweep decides every row first ([`crate::row_pass`]), with
    /// the partition's ticks it reads.
    row_pass: Option<&'i Ticks>,
}

impl<'p, 'i> EventMatcher<'p, 'i> {
    pub(crate) fn new(
        index: &'i AccountIndex,
        plan: &'p EventPlan,
        partition: &'i EventPartition,
        now: i64,
    ) -> Self {
        let (lo, hi) = plan.window.resolve(now);
        let follow = (plan.sequence.as_ref()).map(|s| FollowMatcher::new(index, s, partition, now));
        let filters = partition.prepare(&plan.filters, now);
        let aggregated = match &plan.measure {
            MeasurePlan::Aggregate { attribute, .. } => partition.column(attribute),
            MeasurePlan::Count(_) => None,
        };
        let count_cap = match &plan.measure {
            MeasurePlan::Count(c) => c.count_cap(),
            MeasurePlan::Aggregate { .. } => usize::MAX,
        };
        let rows_per_contact = partition.len() / (partition.contacts().len() as usize).max(1);
        let (follow_is_none, filters_empty) = (follow.is_none(), filters.is_empty());
        let prefetched_columns = filters
            .iter()
            .filter_map(PreparedFilter::column)
            .chain(aggregated)
            .filter(|c| c.cell_bytes() * rows_per_contact >= 64)
            .collect();
        // Events after the evaluation time do not exist yet.
        let hi = hi.min(now);
        let hi = follow.as_ref().map_or(hi, |f| f.latest_kept(hi, now));
        // `last_time` is at least every row's time (erased rows' too).
        let cut_at = partition.last_time.filter(|t| *t > hi).map(|_| hi);
        let windowed = lo != i64::MIN || cut_at.is_some();
        let count_verdicts: Vec<bool> = match &plan.measure {
            MeasurePlan::Count(c) if count_cap <= 1024 => {
                (0..=count_cap).map(|n| c.holds(n as f64)).collect()
            }
            _ => Vec::new(),
        };
        let mut count_turns = Vec::with_capacity(count_verdicts.len());
        for (n, verdict) in count_verdicts.iter().enumerate() {
            let turned = n > 0 && count_verdicts[n - 1] != *verdict;
            let before = count_turns.last().copied().unwrap_or(0);
            count_turns.push(before + u32::from(turned));
        }
        EventMatcher {
            plan,
            partition,
            filters,
            lo,
            hi,
            now,
            follow,
            aggregated,
            prefetched_columns,
            count_cap,
            count_turns,
            count_verdicts,
            // The partitions that suit the row pass keep their base rows'
            // ticks.
            row_pass: partition.base_ticks().filter(|_| {
                follow_is_none
                    && match plan.measure {
                        // A count without attribute conditions over all
                        // of a contact's rows is the length of its range,
                        // read from the directory alone; with a window,
                        // deciding every row beats searching each
                        // contact's times (at `large`, `never_opened_90d`
                        // 4.48–4.51 → 1.17–2.06 ms, `lapsed_buyers`
                        // 10.3 → 5.3).
                        MeasurePlan::Count(_) => (!filters_empty || windowed) && count_cap <= 1024,
                        MeasurePlan::Aggregate { .. } => true,
                    }
            }),
            cut_at,
            lo_key: partition.time_key(lo),
            hi_key: partition.time_key(hi),
            cut_key: cut_at.map(|t| partition.time_key(t)),
        }
    }

    /// Whether the condition holds for one contact. A count or an
    /// aggregate over a contiguous run (the common case) is computed in
    /// place, without collecting the kept rows that [`outcome`] gives
    /// explain and sequences.
    ///
    /// [`outcome`]: EventMatcher::outcome
    #[inline]
    fn holds(&self, ordinal: Ordinal, scratch: &mut Scratch) -> bool {
        let p = self.partition;
        let Rows::Range(range) = p.rows(ordinal, &mut scratch.rows) else {
            return self.outcome(ordinal, scratch).holds;
        };
        match (&self.follow, &self.plan.measure) {
            (None, _) => self.holds_in(range),
            (Some(follow), MeasurePlan::Count(_)) => {
                self.sequence_count_holds(follow, ordinal, range, scratch)
            }
            (Some(_), MeasurePlan::Aggregate { .. }) => self.outcome(ordinal, scratch).holds,
        }
    }

    /// Whether a count or aggregate (no sequence) holds over one contact's
    /// rows, given as a contiguous base range.
    #[inline(always)]
    fn holds_in(&self, range: std::ops::Range<u32>) -> bool {
        let p = self.partition;
        let times = p.times(range.clone());
        match &self.plan.measure {
            MeasurePlan::Count(_) => {
                let count = if self.filters.is_empty() {
                    window_len_capped(times, self.lo_key, self.cut_key, self.count_cap)
                } else {
                    self.count_latest_passing(range.clone())
                };
                self.count_verdict(count)
            }
            MeasurePlan::Aggregate {
                func, comparison, ..
            } => {
                let w = window(times, self.lo_key, self.hi_key);
                let window = range.start + w.start as u32..range.start + w.end as u32;
                let Some(column) = self.aggregated else {
                    return false;
                };
                let kept = window.filter(|row| passes_all(&self.filters, *row));
                aggregate(column, *func, kept).is_some_and(|v| comparison.holds(v))
            }
        }
    }

    /// Evaluates the condition for one contact; the kept events are left in
    /// `scratch.kept` (time order).
    pub(crate) fn outcome(&self, ordinal: Ordinal, scratch: &mut Scratch) -> Outcome {
        let p = self.partition;
        self.window_rows(ordinal, scratch);
        if let Some(follow) = &self.follow
            && let (Some(first), Some(last)) = (scratch.kept.first(), scratch.kept.last())
        {
            // Only B events after the first kept A event, and not later
            // than the last one's window, can decide anything.
            let (after, until) = (p.time(*first), p.time(*last));
            follow.candidates(ordinal, after, until, self.now, scratch);
            let kept = std::mem::take(&mut scratch.kept);
            let mut verdicts = Vec::with_capacity(kept.len());
            let (follow_rows, times) = (&scratch.follow, &scratch.follow_times);
            follow.walk(p, &kept, follow_rows, times, self.now, |_, keep| {
                verdicts.push(keep);
                false
            });
            scratch.kept = std::iter::zip(kept, verdicts)
                .filter_map(|(a, keep)| keep.then_some(a))
                .collect();
        }
        let count = scratch.kept.len();
        let (aggregate, holds) = match &self.plan.measure {
            MeasurePlan::Count(c) => (None, c.holds(count as f64)),
            MeasurePlan::Aggregate {
                func, comparison, ..
            } => {
                let value = self
                    .aggregated
                    .and_then(|column| aggregate(column, *func, scratch.kept.iter().copied()));
                (value, value.is_some_and(|v| comparison.holds(v)))
            }
        };
        Outcome {
            count,
            aggregate,
            holds,
        }
    }

    /// Fills `scratch.kept` with the contact's rows in the window that
    /// pass the attribute conditions, in time order.
    fn window_rows(&self, ordinal: Ordinal, scratch: &mut Scratch) {
        let p = self.partition;
        scratch.kept.clear();
        match p.rows(ordinal, &mut scratch.rows) {
            Rows::Range(range) => {
                // The common case: one contiguous run, searched in place.
                let w = window(p.times(range.clone()), self.lo_key, self.hi_key);
                let window = range.start + w.start as u32..range.start + w.end as u32;
                if self.filters.is_empty() {
                    scratch.kept.extend(window);
                } else {
                    scratch
                        .kept
                        .extend(window.filter(|row| passes_all(&self.filters, *row)));
                }
            }
            Rows::List(rows) => {
                let start = rows.partition_point(|r| p.time(*r) < self.lo);
                let end = rows.partition_point(|r| p.time(*r) <= self.hi);
                for &row in &rows[start.min(end)..end] {
                    if passes_all(&self.filters, row) {
                        scratch.kept.push(row);
                    }
                }
            }
        }
    }
}

/// The bits set in `words`.
fn ones(words: &[u64]) -> u64 {
    words.iter().map(|w| u64::from(w.count_ones())).sum()
}

/// Sets bit `at` of `words` to `holds`.
#[inline(always)]
fn put_verdict(words: &mut [u64], at: usize, holds: bool) {
    let w = &mut words[at / 64];
    *w = (*w & !(1 << (at % 64))) | (u64::from(holds) << (at % 64));
}

/// Sets bit `at` of `words` when `holds`.
#[inline(always)]
fn set_verdict(words: &mut [u64], at: usize, holds: bool) {
    words[at / 64] |= u64::from(holds) << (at % 64);
}

/// Whether an aggregate whose fold over `n` numbers came to `total` (a
/// sum, minimum or maximum) meets `comparison`; with no number, it does
/// not.
#[inline(always)]
fn aggregate_holds(func: AggregateFn, comparison: Comparison, total: f64, n: u32) -> bool {
    match (n, func) {
        (0, _) => false,
        (n, AggregateFn::Avg) => comparison.holds(total / f64::from(n)),
        _ => comparison.holds(total),
    }
}

/// How a column's stored integers stand for whole units: a stored `k` is
/// `base + k * per` units, each `scale` (1 or 1/4).
#[derive(Clone, Copy)]
struct WholeUnits {
    base: i64,
    per: i64,
    scale: f64,
}

impl WholeUnits {
    fn new(base: i64, per: i64, scale: f64) -> WholeUnits {
        WholeUnits { base, per, scale }
    }
}

/// The sums of whole units of `scale` (1 or 1/4, a power of two, so the
/// quotients below are exact) that `comparison` holds for, as an
/// inclusive range of units and whether the verdict is negated
/// (`not_equals`): `lo <= u && u <= hi` exactly when `u * scale` is
/// within the comparison's bounds.
fn unit_bounds(comparison: Comparison, scale: f64) -> (i64, i64, bool) {
    debug_assert!(scale == 1.0 || scale == 0.25, "a power of two");
    let (lo, hi, lo_closed, hi_closed, negated) = match comparison {
        Comparison::Equals(v) => (v, v, true, true, false),
        Comparison::NotEquals(v) => (v, v, true, true, true),
        Comparison::Gt(v) => (v, f64::INFINITY, false, true, false),
        Comparison::Gte(v) => (v, f64::INFINITY, true, true, false),
        Comparison::Lt(v) => (f64::NEG_INFINITY, v, true, false, false),
        Comparison::Lte(v) => (f64::NEG_INFINITY, v, true, true, false),
        Comparison::Between(a, b) => (a, b, true, true, false),
    };
    let (lo, hi) = crate::narrow::whole_bounds(lo / scale, lo_closed, hi / scale, hi_closed);
    // `as` saturates: a bound past every sum stays past it.
    (lo as i64, hi as i64, negated)
}

/// The aggregate of a numeric attribute over `rows`; `None` when no row
/// holds a number.
fn aggregate(
    column: &crate::events::AttrColumn,
    func: AggregateFn,
    rows: impl Iterator<Item = u32>,
) -> Option<f64> {
    let mut n = 0usize;
    let mut acc = match func {
        AggregateFn::Sum | AggregateFn::Avg => 0.0,
        AggregateFn::Min => f64::INFINITY,
        AggregateFn::Max => f64::NEG_INFINITY,
    };
    for row in rows {
        if let Some(x) = column.number(row) {
            n += 1;
            acc = match func {
                AggregateFn::Sum | AggregateFn::Avg => acc + x,
                AggregateFn::Min => acc.min(x),
                AggregateFn::Max => acc.max(x),
            };
        }
    }
    match (n, func) {
        (0, _) => None,
        (n, AggregateFn::Avg) => Some(acc / n as f64),
        _ => Some(acc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `contact_of_row` against a linear walk, over directories with
    /// contacts without rows, jumps within the first 8 contacts and far
    /// past them, and ranges that start anywhere.
    #[test]
    fn the_contact_of_a_row_is_the_one_whose_rows_hold_it() {
        let mut seed = 5u64;
        let mut next = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        for contacts in [1usize, 7, 8, 9, 40, 1000] {
            let mut offsets = vec![0u32];
            for _ in 0..contacts {
                // Half the contacts have no rows, some have many.
                let rows = if next(2) == 0 { 0 } else { 1 + next(20) as u32 };
                offsets.push(offsets.last().unwrap() + rows);
            }
            let total = *offsets.last().unwrap();
            for row in 0..total {
                let want = (0..contacts)
                    .find(|&c| offsets[c] <= row && row < offsets[c + 1])
                    .unwrap();
                for from in [0, want.saturating_sub(9), want.saturating_sub(3), want] {
                    let got = contact_of_row(&offsets, from..contacts, row);
                    assert_eq!(got, want, "row {row} from contact {from} of {contacts}");
                }
            }
        }
    }

    /// `window` and `window_len_capped` against two plain binary searches,
    /// on runs shorter and longer than its steps back, with repeated times
    /// and windows that are empty, inverted, or reach past either end;
    /// times kept as ticks and remainders (spans of 0, 100 ms and about a
    /// year) or whole (a span past 2^48 ms).
    #[test]
    fn window_and_capped_counts_find_the_same_rows_as_a_plain_search() {
        let mut seed = 7u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for scale in [0i64, 1, 300_007, 1 << 43] {
            // Ascending in `v`; remainders below each tick vary.
            let at = |v: i64| 1_767_225_600_000 + v * scale + v.rem_euclid(7) * (scale / 11);
            for n in [0usize, 1, 2, 15, 16, 17, 40, 300] {
                let mut times: Vec<i64> = (0..n).map(|_| at((next() % 100) as i64)).collect();
                times.sort_unstable();
                let packed = Ticks::of(&times);
                let run = packed.run(0..n as u32);
                for round in 0..500 {
                    let lo = if round % 10 == 0 {
                        i64::MIN
                    } else {
                        at((next() % 120) as i64 - 10)
                    };
                    let hi = at((next() % 120) as i64 - 10);
                    let start = times.partition_point(|t| *t < lo);
                    let end = times.partition_point(|t| *t <= hi);
                    let want = start.min(end)..end;
                    let got = window(run, run.key(lo), run.key(hi));
                    assert_eq!(got.len(), want.len(), "{times:?} {lo}..={hi}");
                    if !want.is_empty() {
                        assert_eq!(got, want, "{times:?} {lo}..={hi}");
                    }
                    // Capped counts: the count itself below the cap, the cap
                    // from it on; with `hi` past every time given as `None`.
                    for cap in [0, 1, 2, 3, STEPS_BACK, STEPS_BACK + 1, usize::MAX] {
                        let capped = want.len().min(cap);
                        let cut = Some(hi).filter(|_| times.last().is_some_and(|t| *t > hi));
                        assert_eq!(
                            window_len_capped(run, run.key(lo), cut.map(|t| run.key(t)), cap),
                            capped,
                            "{times:?} {lo}..={hi} cap {cap}"
                        );
                    }
                }
            }
        }
    }
}
