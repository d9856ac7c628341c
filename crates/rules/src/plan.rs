//! The typed plan a back end executes: fields resolved against the schema,
//! operands typed and normalised (lower-cased, dates turned into inclusive
//! millisecond ranges, regexes compiled), negative operators expressed as a
//! `negated` flag over their positive twin, segment references inlined.

use std::sync::Arc;

use flowseg_model::{AttrValue, FieldType};

pub use crate::ast::{AggregateFn, Comparison};

/// A planned rule node. Back ends match it exhaustively.
#[derive(Debug, Clone)]
pub enum Plan {
    All(Vec<Plan>),
    Any(Vec<Plan>),
    Not(Box<Plan>),
    Field(FieldPlan),
    Event(EventPlan),
    /// A referenced segment, planned once and shared by every reference.
    Segment {
        id: String,
        plan: Arc<Plan>,
    },
}

/// A field condition: `negated` holds exactly where `test` fails
/// (contacts without a value included).
#[derive(Debug, Clone)]
pub struct FieldPlan {
    pub field: String,
    pub field_type: FieldType,
    pub negated: bool,
    pub test: ValueTest,
}

/// A positive test on a field value; every variant fails on "no value".
#[derive(Debug, Clone)]
pub enum ValueTest {
    HasValue,
    Text(TextTest),
    Number(NumberTest),
    Date(TimeRange),
    Bool(bool),
}

/// A text test with its operands prepared: lower-cased unless case-sensitive.
#[derive(Debug, Clone)]
pub struct TextTest {
    pub kind: TextMatch,
    pub case_sensitive: bool,
}

#[derive(Debug, Clone)]
pub enum TextMatch {
    Equals(String),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    In(Vec<String>),
    /// Compiled with the `(?i)` flag unless case-sensitive; tested against
    /// the value as stored.
    Matches(regex::Regex),
}

impl TextTest {
    /// Whether the test reads the lower-cased value (all but regexes, when
    /// case-insensitive).
    pub fn reads_lowercase(&self) -> bool {
        !self.case_sensitive && !matches!(self.kind, TextMatch::Matches(_))
    }

    /// Tests a stored value; the empty string is "no value" and fails.
    pub fn matches(&self, value: &str) -> bool {
        if value.is_empty() {
            return false;
        }
        if self.reads_lowercase() {
            self.matches_prepared(&value.to_lowercase())
        } else {
            self.matches_prepared(value)
        }
    }

    /// Tests a value already lower-cased when [`reads_lowercase`] says so.
    ///
    /// [`reads_lowercase`]: TextTest::reads_lowercase
    pub fn matches_prepared(&self, value: &str) -> bool {
        match &self.kind {
            TextMatch::Equals(s) => value == s,
            TextMatch::Contains(s) => value.contains(s.as_str()),
            TextMatch::StartsWith(s) => value.starts_with(s.as_str()),
            TextMatch::EndsWith(s) => value.ends_with(s.as_str()),
            TextMatch::In(items) => items.iter().any(|s| s == value),
            TextMatch::Matches(re) => re.is_match(value),
        }
    }
}

/// A numeric test.
#[derive(Debug, Clone, PartialEq)]
pub enum NumberTest {
    /// `lo ≤ x ≤ hi` with each end inclusive or not.
    Range {
        lo: f64,
        lo_inclusive: bool,
        hi: f64,
        hi_inclusive: bool,
    },
    In(Vec<f64>),
}

impl NumberTest {
    pub fn equals(v: f64) -> NumberTest {
        NumberTest::Range {
            lo: v,
            lo_inclusive: true,
            hi: v,
            hi_inclusive: true,
        }
    }

    #[inline]
    pub fn matches(&self, x: f64) -> bool {
        match self {
            NumberTest::Range {
                lo,
                lo_inclusive,
                hi,
                hi_inclusive,
            } => {
                (if *lo_inclusive { x >= *lo } else { x > *lo })
                    && (if *hi_inclusive { x <= *hi } else { x < *hi })
            }
            NumberTest::In(items) => items.contains(&x),
        }
    }
}

/// One end of a time range: open, a fixed instant, or an offset from the
/// evaluation time ("now").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    Open,
    At(i64),
    NowPlus(i64),
}

/// An inclusive range of epoch milliseconds, possibly relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub lo: TimeBound,
    pub hi: TimeBound,
}

impl TimeRange {
    pub const ALL_TIME: TimeRange = TimeRange {
        lo: TimeBound::Open,
        hi: TimeBound::Open,
    };

    /// The absolute inclusive bounds at evaluation time `now`.
    pub fn resolve(&self, now: i64) -> (i64, i64) {
        let lo = match self.lo {
            TimeBound::Open => i64::MIN,
            TimeBound::At(t) => t,
            TimeBound::NowPlus(d) => now.saturating_add(d),
        };
        let hi = match self.hi {
            TimeBound::Open => i64::MAX,
            TimeBound::At(t) => t,
            TimeBound::NowPlus(d) => now.saturating_add(d),
        };
        (lo, hi)
    }

    pub fn contains(&self, now: i64, t: i64) -> bool {
        let (lo, hi) = self.resolve(now);
        lo <= t && t <= hi
    }

    pub fn is_relative(&self) -> bool {
        matches!(self.lo, TimeBound::NowPlus(_)) || matches!(self.hi, TimeBound::NowPlus(_))
    }
}

/// An event condition.
#[derive(Debug, Clone)]
pub struct EventPlan {
    pub event: String,
    pub filters: Vec<AttrPlan>,
    /// The `within` window on event time; evaluation also hides events
    /// after now.
    pub window: TimeRange,
    pub measure: MeasurePlan,
    pub sequence: Option<SequencePlan>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MeasurePlan {
    Count(Comparison),
    Aggregate {
        func: AggregateFn,
        attribute: String,
        comparison: Comparison,
    },
}

/// `followed_by` (negated = false) or `not_followed_by` (negated = true).
#[derive(Debug, Clone)]
pub struct SequencePlan {
    pub negated: bool,
    pub event: String,
    pub filters: Vec<AttrPlan>,
    pub window_ms: Option<i64>,
    pub on: Vec<String>,
}

/// An attribute condition; `negated` holds exactly where `test` fails.
#[derive(Debug, Clone)]
pub struct AttrPlan {
    pub attribute: String,
    pub negated: bool,
    pub test: AttrTest,
}

/// A positive test on an attribute value. The variant decides which JSON
/// type is read; a value of another type (or no value) fails.
#[derive(Debug, Clone)]
pub enum AttrTest {
    HasValue,
    Text(TextTest),
    Number(NumberTest),
    Bool(bool),
    /// Strings that parse as a date (a plain date is its day's start).
    Date(TimeRange),
    /// Mixed-type `in` lists: any of the tests.
    AnyOf(Vec<AttrTest>),
}

impl AttrTest {
    /// Tests one attribute value (`None` when absent).
    pub fn matches(&self, now: i64, value: Option<&AttrValue>) -> bool {
        let Some(value) = value else { return false };
        match (self, value) {
            (AttrTest::HasValue, AttrValue::Null) => false,
            (AttrTest::HasValue, AttrValue::Str(s)) => !s.is_empty(),
            (AttrTest::HasValue, _) => true,
            (AttrTest::Text(t), AttrValue::Str(s)) => t.matches(s),
            (AttrTest::Number(t), AttrValue::Num(n)) => t.matches(*n),
            (AttrTest::Bool(b), AttrValue::Bool(v)) => b == v,
            (AttrTest::Date(r), AttrValue::Str(s)) => {
                flowseg_model::time::parse_instant(s).is_ok_and(|t| r.contains(now, t))
            }
            (AttrTest::AnyOf(tests), v) => tests.iter().any(|t| t.matches(now, Some(v))),
            _ => false,
        }
    }
}

impl AttrPlan {
    pub fn matches(&self, now: i64, value: Option<&AttrValue>) -> bool {
        self.test.matches(now, value) != self.negated
    }
}
