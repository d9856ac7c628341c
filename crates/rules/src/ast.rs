//! The rule AST: exactly the nodes of SPEC §2, knowing no schema.
//!
//! Operands that the schema decides how to read (a field condition's
//! `value`, an attribute condition's `value`) are kept as the JSON the user
//! wrote; everything structural (operators, durations, windows, counts) is
//! typed here, so a rule that parses is well-formed and only its fit to a
//! schema remains to check.

use flowseg_model::{DateLiteral, Duration};

/// One rule node.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Every child holds; `All([])` is every contact.
    All(Vec<Rule>),
    /// At least one child holds (never empty once parsed).
    Any(Vec<Rule>),
    /// The complement of the child.
    Not(Box<Rule>),
    Field(FieldCondition),
    Event(EventCondition),
    /// Membership of a saved segment, by id.
    Segment(String),
}

/// An operator of a field or attribute condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Equals,
    NotEquals,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    Matches,
    HasValue,
    HasNoValue,
    Gt,
    Gte,
    Lt,
    Lte,
    Between,
    Before,
    After,
    WithinLast,
    MoreThanAgo,
    WithinNext,
    IsTrue,
    IsFalse,
}

impl Op {
    pub const ALL: [Op; 23] = [
        Op::Equals,
        Op::NotEquals,
        Op::Contains,
        Op::NotContains,
        Op::StartsWith,
        Op::EndsWith,
        Op::In,
        Op::NotIn,
        Op::Matches,
        Op::HasValue,
        Op::HasNoValue,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::Between,
        Op::Before,
        Op::After,
        Op::WithinLast,
        Op::MoreThanAgo,
        Op::WithinNext,
        Op::IsTrue,
        Op::IsFalse,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Equals => "equals",
            Op::NotEquals => "not_equals",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Matches => "matches",
            Op::HasValue => "has_value",
            Op::HasNoValue => "has_no_value",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Between => "between",
            Op::Before => "before",
            Op::After => "after",
            Op::WithinLast => "within_last",
            Op::MoreThanAgo => "more_than_ago",
            Op::WithinNext => "within_next",
            Op::IsTrue => "is_true",
            Op::IsFalse => "is_false",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == s)
    }

    /// The positive twin of a negative operator (`not_equals` → `equals`),
    /// or `None` for a positive operator. Negatives are exact complements.
    pub fn positive_twin(self) -> Option<Op> {
        match self {
            Op::NotEquals => Some(Op::Equals),
            Op::NotContains => Some(Op::Contains),
            Op::NotIn => Some(Op::In),
            Op::HasNoValue => Some(Op::HasValue),
            _ => None,
        }
    }

    /// Operators that take no operand.
    pub fn takes_no_value(self) -> bool {
        matches!(
            self,
            Op::HasValue | Op::HasNoValue | Op::IsTrue | Op::IsFalse
        )
    }
}

/// `{"field", "op", "value"?, "case_sensitive"?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldCondition {
    pub field: String,
    pub op: Op,
    /// The operand as written; `None` when absent (or null).
    pub value: Option<serde_json::Value>,
    pub case_sensitive: bool,
}

/// `{"attribute", "op", "value"?, "case_sensitive"?}` inside `where`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrCondition {
    pub attribute: String,
    pub op: Op,
    pub value: Option<serde_json::Value>,
    pub case_sensitive: bool,
}

/// An event condition: which events, when, how many (or an aggregate), and
/// optionally what must or must not follow them.
#[derive(Debug, Clone, PartialEq)]
pub struct EventCondition {
    pub event: String,
    pub filters: Vec<AttrCondition>,
    /// `None` is all time.
    pub within: Option<Within>,
    /// `None` is the default count, at least one.
    pub measure: Option<Measure>,
    pub sequence: Option<Sequence>,
}

/// The time window of an event condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Within {
    /// now − D < t ≤ now
    Last(Duration),
    /// t ≤ now − D
    Before(Duration),
    /// T1 ≤ t < T2, either end optional; a plain date is the start of its day.
    Range {
        from: Option<DateLiteral>,
        to: Option<DateLiteral>,
    },
}

/// What is compared: the number of matching events or an aggregate of one
/// of their numeric attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    Count(Comparison),
    Aggregate {
        func: AggregateFn,
        attribute: String,
        comparison: Comparison,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateFn {
    Sum,
    Avg,
    Min,
    Max,
}

impl AggregateFn {
    pub fn name(self) -> &'static str {
        match self {
            AggregateFn::Sum => "sum",
            AggregateFn::Avg => "avg",
            AggregateFn::Min => "min",
            AggregateFn::Max => "max",
        }
    }

    pub fn parse(s: &str) -> Option<AggregateFn> {
        [
            AggregateFn::Sum,
            AggregateFn::Avg,
            AggregateFn::Min,
            AggregateFn::Max,
        ]
        .into_iter()
        .find(|f| f.name() == s)
    }
}

/// A numeric comparison of a count or an aggregate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparison {
    Equals(f64),
    NotEquals(f64),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    /// Inclusive at both ends, low ≤ high.
    Between(f64, f64),
}

impl Comparison {
    /// The default count: at least one.
    pub const AT_LEAST_ONE: Comparison = Comparison::Gte(1.0);

    pub fn holds(self, x: f64) -> bool {
        match self {
            Comparison::Equals(v) => x == v,
            Comparison::NotEquals(v) => x != v,
            Comparison::Gt(v) => x > v,
            Comparison::Gte(v) => x >= v,
            Comparison::Lt(v) => x < v,
            Comparison::Lte(v) => x <= v,
            Comparison::Between(a, b) => a <= x && x <= b,
        }
    }

    /// A count from which the verdict on every larger count is the same,
    /// so that counting can stop there (counts are whole and never
    /// negative): where an at-least or less-than test turns, otherwise one
    /// past the largest bound. `usize::MAX` when no such count is known.
    pub fn count_cap(self) -> usize {
        let turn = match self {
            Comparison::Gte(v) | Comparison::Lt(v) => v.ceil(),
            Comparison::Equals(v)
            | Comparison::NotEquals(v)
            | Comparison::Gt(v)
            | Comparison::Lte(v) => v.floor() + 1.0,
            Comparison::Between(lo, hi) => lo.max(hi).floor() + 1.0,
        };
        if turn.is_nan() {
            usize::MAX
        } else {
            // Saturates: 0 below zero, `usize::MAX` past it.
            turn as usize
        }
    }

    pub fn op_name(self) -> &'static str {
        match self {
            Comparison::Equals(_) => "equals",
            Comparison::NotEquals(_) => "not_equals",
            Comparison::Gt(_) => "gt",
            Comparison::Gte(_) => "gte",
            Comparison::Lt(_) => "lt",
            Comparison::Lte(_) => "lte",
            Comparison::Between(..) => "between",
        }
    }
}

/// `followed_by` / `not_followed_by`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    /// `true` for `not_followed_by`.
    pub negated: bool,
    pub event: String,
    pub filters: Vec<AttrCondition>,
    /// `None`: any later event up to now.
    pub window: Option<Duration>,
    /// Attributes that must be equal on both events.
    pub on: Vec<String>,
}

impl Rule {
    /// Every contact.
    pub fn everyone() -> Rule {
        Rule::All(Vec::new())
    }

    /// The ids of segments this rule references directly.
    pub fn referenced_segments(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |r| {
            if let Rule::Segment(id) = r {
                out.push(id.as_str());
            }
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Rule)) {
        f(self);
        match self {
            Rule::All(c) | Rule::Any(c) => c.iter().for_each(|r| r.walk(f)),
            Rule::Not(c) => c.walk(f),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Comparison;

    /// From its cap on, a comparison gives every count the cap's verdict.
    #[test]
    fn a_count_cap_keeps_every_larger_counts_verdict() {
        let bounds = [-3.0, -0.5, 0.0, 0.5, 1.0, 2.0, 2.5, 7.0];
        let mut comparisons = Vec::new();
        for v in bounds {
            comparisons.extend([
                Comparison::Equals(v),
                Comparison::NotEquals(v),
                Comparison::Gt(v),
                Comparison::Gte(v),
                Comparison::Lt(v),
                Comparison::Lte(v),
            ]);
            for w in bounds.iter().filter(|w| **w >= v) {
                comparisons.push(Comparison::Between(v, *w));
            }
        }
        for c in comparisons {
            let cap = c.count_cap();
            assert!(cap <= 8, "{c:?}: cap {cap}");
            for n in cap..cap + 20 {
                assert_eq!(
                    c.holds(n as f64),
                    c.holds(cap as f64),
                    "{c:?} at {n}, cap {cap}"
                );
            }
        }
        assert_eq!(Comparison::Gte(2.0).count_cap(), 2);
        assert_eq!(Comparison::Gte(1.0).count_cap(), 1);
        assert_eq!(Comparison::Gt(1.0).count_cap(), 2);
        assert_eq!(Comparison::Equals(0.0).count_cap(), 1);
        assert_eq!(Comparison::Lt(-1.0).count_cap(), 0);
        assert_eq!(Comparison::Gte(1e300).count_cap(), usize::MAX);
    }
}
