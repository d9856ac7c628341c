//! flowseg's domain model, shared by every other crate: instants and
//! durations ([`time`]), field types and values ([`value`]), the field
//! [`schema`], contact identities ([`identity`]), [`contact`]s and
//! [`event`]s. It knows nothing of storage, rules or HTTP.

pub mod contact;
pub mod event;
pub mod event_wire;
pub mod identity;
pub mod schema;
pub mod time;
pub mod value;

pub use contact::{Contact, ContactWrite, FieldProblem};
pub use event::{AttrValue, Attributes, ContactRef, Event, EventInput, EventSource};
pub use schema::{FieldDef, Schema};
pub use time::{DateLiteral, Duration, DurationUnit};
pub use value::{FieldType, Value};
