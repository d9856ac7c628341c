//! The correctness net's parts: the reference evaluator written from SPEC
//! §2, the generators of random data and rules, the harness that runs both
//! sides, and the table cases that pin the reference to the SPEC.

pub mod evaluator;
// `gen` is a reserved word in edition 2024.
#[path = "gen.rs"]
pub mod generators;
pub mod harness;
pub mod rule_gen;
mod tables;
