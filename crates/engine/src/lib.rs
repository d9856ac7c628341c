//! flowseg's segment engine: in-memory indexes of each account's contacts
//! and events ([`AccountIndex`]), built from the store at start and kept
//! current on every write, and the evaluator that turns a validated rule
//! plan into the bitmap of member contacts at any evaluation time, plus
//! [`AccountIndex::explain`] for one contact.
//!
//! Layout (see docs/ARCHITECTURE.md): contacts are dense `u32` ordinals;
//! fields are columns ([`columns`]); events are partitioned by name and
//! stored columnar, grouped by contact and sorted by time ([`events`]).

mod attr_column;
pub mod columns;
mod cores;
mod dict;
mod engine;
mod eval;
pub mod events;
mod explain;
mod follow;
mod helpers;
pub mod import;
mod index;
mod instants;
mod narrow;
mod packer;
mod row_pass;
mod running;
mod scan;
mod seqs;
mod settled;
mod snapshot;
mod ticks;

pub use engine::{Engine, EngineError, IndexGuard, IndexSource, StoredBatches, StoredSegments};
pub use index::{AccountIndex, Ordinal};

#[cfg(test)]
mod unit_tests;

#[cfg(test)]
mod sequence_tests;

#[cfg(test)]
mod count_tests;

#[cfg(test)]
mod docs_examples;
