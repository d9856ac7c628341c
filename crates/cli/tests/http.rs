//! Black-box tests of flowseg's HTTP API (SPEC §4): real HTTP against the
//! real `flowseg serve` binary, one module per API area. Every test starts
//! its own server on a free loopback port in a temporary data directory.

#[path = "http/support.rs"]
mod support;

#[path = "http/accounts.rs"]
mod accounts;
#[path = "http/addon.rs"]
mod addon;
#[path = "http/concurrency.rs"]
mod concurrency;
#[path = "http/contacts.rs"]
mod contacts;
#[path = "http/durability.rs"]
mod durability;
#[path = "http/errors.rs"]
mod errors;
#[path = "http/events.rs"]
mod events;
#[path = "http/fields.rs"]
mod fields;
#[path = "http/isolation.rs"]
mod isolation;
#[path = "http/members.rs"]
mod members;
#[path = "http/ops.rs"]
mod ops;
#[path = "http/rules.rs"]
mod rules;
#[path = "http/segments.rs"]
mod segments;
