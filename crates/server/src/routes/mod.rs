//! The endpoints of SPEC §4, one module per API area.

pub mod accounts;
pub mod contacts;
pub mod events;
pub mod fields;
pub mod import;
pub mod members;
pub mod ops;
pub mod rules;
pub mod segments;
