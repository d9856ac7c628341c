//! The in-memory index of one account: contact field columns, event
//! partitions, and the set of live contacts, kept current on every write.

use std::collections::HashMap;

use flowseg_model::{Attributes, Contact, Event, Schema, Value};
use roaring::RoaringBitmap;

use crate::columns::Column;
use crate::events::EventPartition;
use crate::snapshot::{Reader, Writer, invalid};

/// Contacts are named inside the engine by dense `u32` ordinals (the
/// store's per-account contact sequence).
pub type Ordinal = u32;

/// Events are named by the store's per-account event seq, held in 32 bits.
pub type EventSeq = u32;

#[derive(Debug, Clone, Default)]
pub struct AccountIndex {
    pub(crate) schema: Schema,
    pub(crate) columns: HashMap<String, Column>,
    pub(crate) live: RoaringBitmap,
    /// By event name; foldhash, as every ingested event looks its name up.
    pub(crate) partitions: HashMap<Box<str>, EventPartition, foldhash::fast::RandomState>,
}

impl AccountIndex {
    pub fn new(schema: &Schema) -> AccountIndex {
        let mut index = AccountIndex::default();
        index.set_schema(schema);
        index
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Adopts a new schema: columns of removed fields are dropped, new
    /// fields start without values (a field of a changed type starts over).
    pub fn set_schema(&mut self, schema: &Schema) {
        let mut columns = HashMap::new();
        for def in schema.fields() {
            let column = match self.columns.remove(&def.name) {
                Some(c) if c.field_type() == def.field_type => c,
                _ => Column::new(def.field_type),
            };
            columns.insert(def.name, column);
        }
        self.columns = columns;
        self.schema = schema.clone();
    }

    /// Inserts or replaces a contact's field values.
    pub fn put_contact(&mut self, ordinal: Ordinal, contact: &Contact) {
        debug_assert_eq!(contact.id, flowseg_store::contact_id(u64::from(ordinal)));
        self.live.insert(ordinal);
        for (name, column) in &mut self.columns {
            column.set(ordinal, contact.fields.get(name));
        }
    }

    /// Erases a contact and its events.
    pub fn remove_contact(&mut self, ordinal: Ordinal) {
        if !self.live.remove(ordinal) {
            return;
        }
        for column in self.columns.values_mut() {
            column.set(ordinal, None);
        }
        for partition in self.partitions.values_mut() {
            partition.forget_contact(ordinal);
        }
    }

    /// Records an event of a live contact (times may arrive in any order),
    /// with its seq in the store's log.
    pub fn add_event(&mut self, ordinal: Ordinal, seq: EventSeq, event: &Event) {
        self.add_event_parts(ordinal, seq, &event.name, event.time, &event.attributes);
    }

    /// [`add_event`](AccountIndex::add_event) from an event's parts.
    pub fn add_event_parts(
        &mut self,
        ordinal: Ordinal,
        seq: EventSeq,
        name: &str,
        time: i64,
        attributes: &Attributes,
    ) {
        let partition = match self.partitions.get_mut(name) {
            Some(p) => p,
            None => self.partitions.entry(name.into()).or_default(),
        };
        partition.push(ordinal, seq, time, attributes);
        if partition.wants_compaction() {
            partition.compact(&self.live);
        }
    }

    /// Records an event during a bulk load: no merging until [`compact`].
    ///
    /// [`compact`]: AccountIndex::compact
    pub fn load_event(&mut self, ordinal: Ordinal, seq: EventSeq, event: &Event) {
        self.partitions
            .entry(event.name.as_str().into())
            .or_default()
            .push_unindexed(ordinal, seq, event.time, &event.attributes);
    }

    /// A contact's events as (time, seq), newest first (the latest time
    /// first, and the later-accepted first among equal times).
    pub fn contact_event_keys(&self, ordinal: Ordinal) -> Vec<(i64, EventSeq)> {
        let mut keys = Vec::new();
        if self.live.contains(ordinal) {
            for partition in self.partitions.values() {
                partition.contact_keys(ordinal, &mut keys);
            }
        }
        keys.sort_unstable_by(|a, b| b.cmp(a));
        keys
    }

    /// Merges every partition's pending tail (after a bulk load, and
    /// before a snapshot), and gives back the room its dictionaries grew
    /// into: a rebuilt index then holds what one read from a snapshot
    /// does (at `large`, 1.4 bytes per event of unused arena).
    pub fn compact(&mut self) {
        for partition in self.partitions.values_mut() {
            partition.compact(&self.live);
            partition.shrink_dictionaries();
        }
    }

    pub fn live(&self) -> &RoaringBitmap {
        &self.live
    }

    /// A live contact's id (ids are the store's `c{sequence}`, so they are
    /// derived from the ordinal rather than held).
    pub fn contact_id(&self, ordinal: Ordinal) -> Option<String> {
        self.live
            .contains(ordinal)
            .then(|| flowseg_store::contact_id(u64::from(ordinal)))
    }

    /// The ordinal of the live contact with public id `id` (`c{seq}`);
    /// `None` for an id the store never issued or an erased contact.
    pub fn live_ordinal(&self, id: &str) -> Option<Ordinal> {
        flowseg_store::contact_seq(id)
            .and_then(|s| Ordinal::try_from(s).ok())
            .filter(|o| self.live.contains(*o))
    }

    /// A field value of a contact, as indexed.
    pub fn field_value(&self, ordinal: Ordinal, field: &str) -> Option<Value> {
        self.columns.get(field).and_then(|c| c.get(ordinal))
    }

    pub fn partition(&self, event: &str) -> Option<&EventPartition> {
        self.partitions.get(event)
    }

    /// Event names with their partitions.
    pub fn partitions(&self) -> impl Iterator<Item = (&str, &EventPartition)> {
        self.partitions.iter().map(|(k, v)| (&**k, v))
    }

    /// Total events held (including rows of erased contacts not yet compacted).
    pub fn event_rows(&self) -> usize {
        self.partitions.values().map(EventPartition::len).sum()
    }

    /// Heap bytes of each event partition's parts, largest first
    /// (`(partition, part, bytes)`), for the benchmark's memory breakdown.
    pub fn event_heap_parts(&self) -> Vec<(String, String, usize)> {
        let mut out: Vec<(String, String, usize)> = self
            .partitions
            .iter()
            .flat_map(|(name, p)| {
                p.heap_parts()
                    .into_iter()
                    .map(move |(part, bytes)| (name.to_string(), part, bytes))
            })
            .collect();
        out.sort_by_key(|p| std::cmp::Reverse(p.2));
        out
    }

    /// Approximate heap bytes of (columns, events), for the benchmark's
    /// bytes-per-contact and bytes-per-event figures.
    pub fn heap_bytes(&self) -> (usize, usize) {
        let contacts = self.columns.values().map(Column::heap_bytes).sum::<usize>()
            + self.live.serialized_size();
        let events = self
            .partitions
            .values()
            .map(EventPartition::heap_bytes)
            .sum();
        (contacts, events)
    }
}

impl AccountIndex {
    /// Writes the index (partitions must be compacted, see [`compact`]).
    ///
    /// [`compact`]: AccountIndex::compact
    pub(crate) fn write_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        let schema = serde_json::to_string(&self.schema).map_err(std::io::Error::other)?;
        w.str(&schema)?;
        w.bitmap(&self.live)?;
        let mut columns: Vec<_> = self.columns.iter().collect();
        columns.sort_by_key(|(name, _)| name.as_str());
        w.u64(columns.len() as u64)?;
        for (name, column) in columns {
            w.str(name)?;
            column.write_to(w)?;
        }
        let mut partitions: Vec<_> = self.partitions.iter().collect();
        partitions.sort_by_key(|(name, _)| &***name);
        w.u64(partitions.len() as u64)?;
        for (name, partition) in partitions {
            w.str(name)?;
            partition.write_to(w)?;
        }
        Ok(())
    }

    pub(crate) fn read_from<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<AccountIndex> {
        let schema: Schema = serde_json::from_str(&r.string()?)
            .map_err(|_| invalid("a schema that does not parse"))?;
        let live = r.bitmap()?;
        let mut columns = HashMap::new();
        for _ in 0..r.u64()? {
            let name = r.string()?;
            columns.insert(name, Column::read_from(r)?);
        }
        let mut partitions = HashMap::default();
        for _ in 0..r.u64()? {
            let name = r.string()?;
            partitions.insert(name.into_boxed_str(), EventPartition::read_from(r)?);
        }
        let mut index = AccountIndex {
            schema: Schema::default(),
            columns,
            live,
            partitions,
        };
        // Columns of fields the schema lacks are dropped, missing ones made.
        index.set_schema(&schema);
        Ok(index)
    }
}
