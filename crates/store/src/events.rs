//! The event log: batched durable appends with de-duplication and contact
//! resolution, reads by event seq, full scans for rebuilds, usage metering.

use std::collections::{BTreeMap, HashMap};

use flowseg_model::contact::apply_write;
use flowseg_model::event::check_event_name;
use flowseg_model::identity::{check_email, check_external_id, normalize_phone};
use flowseg_model::time::format_month;
use flowseg_model::{Contact, ContactRef, ContactWrite, Event, EventInput, EventSource, Value};
use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

use crate::blocks::{LogReader, LogWriter, block_entries, entries};
use crate::codec::{decode_event, encode_event_into};
use crate::contacts::{ContactTables, IDENTITIES, next_contact_seq, scan_contacts};
use crate::tables::{ACCOUNTS, COUNTERS, EVENT_IDS, EVENT_LOG, EVENT_NAME_IDS, EVENT_NAMES, USAGE};
use crate::{Store, StoreError, contact_id, contact_seq, ensure_account, no_such_account};

/// The hasher of an append's short-lived maps (keys come from one request,
/// which is already authenticated: no need for SipHash's flood resistance
/// beyond foldhash's per-process seed).
type FastHash = foldhash::fast::RandomState;

/// One stored item of an appended batch (its name and attributes are the
/// batch item's, unchanged).
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedEvent {
    /// The item's position in the batch.
    pub index: usize,
    /// The event's time: the item's, or the append's `now` if it had none.
    pub time: i64,
    /// The seq of the event's contact.
    pub contact_seq: u64,
    /// The event's own seq: its key in the log, in order of acceptance.
    pub event_seq: u64,
}

/// What became of each item of an appended batch (indexes into the batch).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppendOutcome {
    /// Stored events, in batch order.
    pub accepted: Vec<AcceptedEvent>,
    /// Items whose `id` was already stored (or seen earlier in the batch).
    pub duplicates: Vec<usize>,
    /// Refused items and why (one sentence, the value in backticks).
    pub rejected: Vec<(usize, String)>,
    /// Contacts created because an event named an unknown email, phone or
    /// external id, with their seqs.
    pub created_contacts: Vec<(u64, Contact)>,
}

/// An item's contact reference after validation, before resolution.
enum Target<'a> {
    Id(&'a str),
    /// (index into IDENTITIES, normalised value)
    Identity(usize, String),
}

fn validate(event: &EventInput) -> Result<Target<'_>, String> {
    check_event_name(&event.name)?;
    Ok(match &event.contact {
        ContactRef::Id(id) => Target::Id(id),
        ContactRef::ExternalId(v) => Target::Identity(
            0,
            check_external_id(v).map_err(|e| e.to_string())?.to_owned(),
        ),
        ContactRef::Email(v) => {
            Target::Identity(1, check_email(v).map_err(|e| e.to_string())?.to_owned())
        }
        ContactRef::Phone(v) => Target::Identity(2, normalize_phone(v).map_err(|e| e.to_string())?),
    })
}

/// A contact reference as sent, for the per-batch resolution cache: the
/// same kind and text always resolve to the same contact within a batch.
fn reference_key(contact: &ContactRef) -> (u8, &str) {
    match contact {
        ContactRef::Id(v) => (0, v),
        ContactRef::ExternalId(v) => (1, v),
        ContactRef::Email(v) => (2, v),
        ContactRef::Phone(v) => (3, v),
    }
}

/// Loads an account's interned event names, indexed by name id.
fn load_names(txn: &ReadTransaction, account: &str) -> Result<Vec<String>, StoreError> {
    let t = txn.open_table(EVENT_NAMES)?;
    let mut names = Vec::new();
    for item in t.range((account, 0u32)..=(account, u32::MAX))? {
        let (k, v) = item?;
        let id = k.value().1 as usize;
        if names.len() <= id {
            names.resize(id + 1, String::new());
        }
        names[id] = v.value().to_owned();
    }
    Ok(names)
}

/// A log value: the contact seq and the time, then the encoded body.
pub(crate) fn encode_logged(contact: u64, time: i64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(&contact.to_le_bytes());
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits a log value into (contact seq, time, body).
pub(crate) fn split_logged(value: &[u8]) -> Result<(u64, i64, &[u8]), StoreError> {
    if value.len() < 16 {
        return Err(StoreError::Corrupt(format!(
            "an event log value of {} bytes (at least 16 expected)",
            value.len()
        )));
    }
    let (head, body) = value.split_at(16);
    let contact = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let time = i64::from_le_bytes(head[8..].try_into().expect("8 bytes"));
    Ok((contact, time, body))
}

/// The (time, body) of log value `value` (`None`: not stored), which the
/// index says is event `seq` of contact `contact`; a missing event or
/// another contact's is [`StoreError::Corrupt`]: the index and the store
/// disagree.
pub(crate) fn contacts_event(
    value: Option<&[u8]>,
    seq: u64,
    contact: u64,
) -> Result<(i64, &[u8]), StoreError> {
    let value = value.ok_or_else(|| {
        StoreError::Corrupt(format!("event {seq} of contact `c{contact}` is not stored"))
    })?;
    let (owner, time, body) = split_logged(value)?;
    if owner != contact {
        return Err(StoreError::Corrupt(format!(
            "event {seq} is contact `c{owner}`'s, not `c{contact}`'s"
        )));
    }
    Ok((time, body))
}

/// Streams an account's events in order of acceptance (event seq) within
/// one read transaction, as `f(contact seq, event seq, event)`.
fn scan_events(
    txn: &ReadTransaction,
    account: &str,
    mut f: impl FnMut(u64, u64, Event),
) -> Result<(), StoreError> {
    let names = load_names(txn, account)?;
    let t = txn.open_table(EVENT_LOG)?;
    let mut scratch = Vec::new();
    for item in t.range((account, 0u64)..=(account, u64::MAX))? {
        let (k, block) = item?;
        let raw = block_entries(block.value(), &mut scratch)?;
        for entry in entries(raw, k.value().1)? {
            let (seq, logged) = entry?;
            let (contact, time, body) = split_logged(logged)?;
            let body = decode_event(body)?;
            f(
                contact,
                seq,
                Event {
                    id: body.id,
                    name: name_of(&names, body.name_id)?.to_owned(),
                    contact_id: contact_id(contact),
                    time,
                    attributes: body.attributes,
                },
            );
        }
    }
    Ok(())
}

fn name_of(names: &[String], id: u32) -> Result<&str, StoreError> {
    names
        .get(id as usize)
        .filter(|n| !n.is_empty())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt(format!("event name id {id} is not interned")))
}

impl Store {
    /// Appends a batch of events in ONE durable transaction, items in order.
    /// Per item: the name is checked; the contact is resolved (an unknown
    /// `id` is rejected; an unknown email, phone or external id creates the
    /// contact with only that identity); `time` `None` is `now`; an `id`
    /// already stored in the account, or seen earlier in the batch, makes
    /// the item a duplicate (counted, not stored, creating nothing).
    /// Accepted custom events are metered in the UTC month of `now`.
    pub fn append_events(
        &self,
        account: &str,
        events: &[EventInput],
        now: i64,
    ) -> Result<AppendOutcome, StoreError> {
        self.write(|txn| {
            ensure_account(txn, account)?;
            let mut tables = AppendTables::open(txn)?;
            let outcome = append_in(&mut tables, account, events, now)?;
            tables.close_block()?;
            Ok(outcome)
        })
    }

    /// Appends several batches (of possibly different accounts) in ONE
    /// durable transaction — group commit: concurrent requests share one
    /// fsync. Each batch is answered as if appended alone, in order; a batch
    /// for an unknown account gets `NotFound` and writes nothing. Any other
    /// failure aborts the whole transaction and is returned as the outer
    /// error (nothing of any batch is written).
    pub fn append_event_batches(
        &self,
        batches: &[(&str, &[EventInput], i64)],
    ) -> Result<Vec<Result<AppendOutcome, StoreError>>, StoreError> {
        self.write(|txn| {
            // Every account first: the tables below stay open for all the
            // batches (opening them per batch cost more than a small
            // batch's appends).
            let accounts = txn.open_table(ACCOUNTS)?;
            let mut known = Vec::with_capacity(batches.len());
            for (account, _, _) in batches {
                known.push(if accounts.get(*account)?.is_some() {
                    Ok(())
                } else {
                    Err(no_such_account(account))
                });
            }
            drop(accounts);
            let mut tables = AppendTables::open(txn)?;
            let mut results = Vec::with_capacity(batches.len());
            for ((account, events, now), known) in batches.iter().zip(known) {
                results.push(match known {
                    Ok(()) => Ok(append_in(&mut tables, account, events, *now)?),
                    Err(e) => Err(e),
                });
            }
            tables.close_block()?;
            Ok(results)
        })
    }
}

/// The tables an append writes, opened once per transaction.
struct AppendTables<'t> {
    contacts: ContactTables<'t>,
    log: LogWriter<'t>,
    dedup: Table<'t, (&'static str, &'static str), ()>,
    name_ids: Table<'t, (&'static str, &'static str), u32>,
    names: Table<'t, (&'static str, u32), &'static str>,
    counters: Table<'t, (&'static str, &'static str), u64>,
    usage: Table<'t, (&'static str, &'static str), u64>,
}

impl<'t> AppendTables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(AppendTables {
            contacts: ContactTables::open(txn)?,
            log: LogWriter::new(txn.open_table(EVENT_LOG)?),
            dedup: txn.open_table(EVENT_IDS)?,
            name_ids: txn.open_table(EVENT_NAME_IDS)?,
            names: txn.open_table(EVENT_NAMES)?,
            counters: txn.open_table(COUNTERS)?,
            usage: txn.open_table(USAGE)?,
        })
    }

    /// Writes the log block being filled: before the transaction commits.
    fn close_block(&mut self) -> Result<(), StoreError> {
        self.log.close_block()
    }
}

/// The body of an append, inside a write transaction whose account exists.
fn append_in(
    tables: &mut AppendTables<'_>,
    account: &str,
    events: &[EventInput],
    now: i64,
) -> Result<AppendOutcome, StoreError> {
    {
        {
            let AppendTables {
                contacts,
                log,
                dedup,
                name_ids,
                names,
                counters,
                usage,
            } = tables;
            let mut out = AppendOutcome::default();
            let start_contact = next_contact_seq(&*counters, account)?;
            let mut next_contact = start_contact;
            let start_event = counters.get((account, "event"))?.map_or(0, |g| g.value());
            let mut next_event = start_event;
            let start_name = counters
                .get((account, "event_name"))?
                .map_or(0, |g| g.value());
            let mut next_name = start_name;
            // foldhash: SipHash (these maps and the index's map of partitions)
            // was ~4% of the committer's samples under batched ingest.
            let mut name_cache: HashMap<&str, u32, FastHash> = HashMap::default();
            let mut custom = 0u64;
            // Contacts resolved earlier in this batch, by the reference as
            // sent: a batch often names one contact many times (an import
            // sorted by contact, a session's page views), and each lookup
            // is a B-tree read.
            let mut resolved: HashMap<(u8, &str), u64, FastHash> = HashMap::default();
            let mut value = Vec::new();

            for (index, event) in events.iter().enumerate() {
                let target = match validate(event) {
                    Ok(t) => t,
                    Err(m) => {
                        out.rejected.push((index, m));
                        continue;
                    }
                };
                if let Some(id) = &event.id
                    && dedup.get((account, id.as_str()))?.is_some()
                {
                    out.duplicates.push(index);
                    continue;
                }
                let reference = reference_key(&event.contact);
                let seq = match (resolved.get(&reference), target) {
                    (Some(&seq), _) => seq,
                    (None, Target::Id(id)) => match contact_seq(id) {
                        Some(s) if contacts.exists(account, s)? => s,
                        _ => {
                            out.rejected
                                .push((index, format!("unknown contact id `{id}`")));
                            continue;
                        }
                    },
                    (None, Target::Identity(which, value)) => {
                        match contacts.lookup(account, which, &value)? {
                            Some(s) => s,
                            None => {
                                let seq = next_contact;
                                next_contact += 1;
                                let mut contact = Contact {
                                    id: contact_id(seq),
                                    fields: BTreeMap::new(),
                                };
                                let write = ContactWrite {
                                    id: None,
                                    set: [(
                                        IDENTITIES[which].0.to_owned(),
                                        Some(Value::Text(value)),
                                    )]
                                    .into(),
                                };
                                apply_write(&mut contact, &write, true, now);
                                contacts.save(account, seq, None, &contact)?;
                                out.created_contacts.push((seq, contact));
                                seq
                            }
                        }
                    }
                };
                resolved.insert(reference, seq);
                let name_id = match name_cache.get(event.name.as_str()) {
                    Some(&id) => id,
                    None => {
                        let stored = name_ids
                            .get((account, event.name.as_str()))?
                            .map(|g| g.value());
                        let id = match stored {
                            Some(id) => id,
                            None => {
                                let id = u32::try_from(next_name).map_err(|_| {
                                    StoreError::Invalid(
                                        "this account has too many distinct event names".into(),
                                    )
                                })?;
                                next_name += 1;
                                name_ids.insert((account, event.name.as_str()), id)?;
                                names.insert((account, id), event.name.as_str())?;
                                id
                            }
                        };
                        name_cache.insert(&event.name, id);
                        id
                    }
                };
                let time = event.time.unwrap_or(now);
                let event_seq = next_event;
                next_event += 1;
                // The log value (see `encode_logged`), built in place.
                value.clear();
                value.extend_from_slice(&seq.to_le_bytes());
                value.extend_from_slice(&time.to_le_bytes());
                encode_event_into(&mut value, event.id.as_deref(), name_id, &event.attributes);
                log.push(account, event_seq, &value)?;
                if let Some(id) = &event.id {
                    dedup.insert((account, id.as_str()), ())?;
                }
                if EventSource::of(&event.name) == EventSource::Custom {
                    custom += 1;
                }
                out.accepted.push(AcceptedEvent {
                    index,
                    time,
                    contact_seq: seq,
                    event_seq,
                });
            }

            if next_contact != start_contact {
                counters.insert((account, "contact"), next_contact)?;
            }
            if next_event != start_event {
                counters.insert((account, "event"), next_event)?;
            }
            if next_name != start_name {
                counters.insert((account, "event_name"), next_name)?;
            }
            if custom > 0 {
                let month = format_month(now);
                let before = usage
                    .get((account, month.as_str()))?
                    .map_or(0, |g| g.value());
                usage.insert((account, month.as_str()), before + custom)?;
            }
            Ok(out)
        }
    }
}

impl Store {
    /// Streams every event of an account in order of acceptance, as
    /// `f(contact seq, event seq, event)`, from one consistent snapshot.
    pub fn for_each_event(
        &self,
        account: &str,
        f: impl FnMut(u64, u64, Event),
    ) -> Result<(), StoreError> {
        scan_events(&self.read()?, account, f)
    }

    /// Streams all of an account's contacts, then all its events (as
    /// [`Store::for_each_contact`] and [`Store::for_each_event`] do), from
    /// ONE consistent snapshot, and returns the contact seq bound of that
    /// snapshot: what an engine rebuild needs so that no event names a
    /// contact it has not seen, whatever is written meanwhile.
    pub fn scan_account(
        &self,
        account: &str,
        on_contact: impl FnMut(u64, Contact),
        on_event: impl FnMut(u64, u64, Event),
    ) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let bound = next_contact_seq(&txn.open_table(COUNTERS)?, account)?;
        scan_contacts(&txn, account, on_contact)?;
        scan_events(&txn, account, on_event)?;
        Ok(bound)
    }

    /// The events with the given seqs, in the order given, all of which
    /// must be the contact's (the engine's index knows which seqs a contact
    /// has: it lists a contact's events by asking for them). A seq that is
    /// not stored, or is another contact's, is [`StoreError::Corrupt`]:
    /// the index and the store disagree.
    pub fn events_by_seq(
        &self,
        account: &str,
        contact: u64,
        seqs: &[u64],
    ) -> Result<Vec<Event>, StoreError> {
        let txn = self.read()?;
        let names = load_names(&txn, account)?;
        let t = txn.open_table(EVENT_LOG)?;
        let mut log = LogReader::new(&t, account);
        let id = contact_id(contact);
        let mut out = Vec::with_capacity(seqs.len());
        for &seq in seqs {
            let (time, body) = contacts_event(log.get(seq)?, seq, contact)?;
            let body = decode_event(body)?;
            out.push(Event {
                id: body.id,
                name: name_of(&names, body.name_id)?.to_owned(),
                contact_id: id.clone(),
                time,
                attributes: body.attributes,
            });
        }
        Ok(out)
    }

    /// Accepted custom events per UTC month (`YYYY-MM`), oldest first.
    pub fn usage(&self, account: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(USAGE)?;
        let mut out = Vec::new();
        for item in t.range((account, "")..)? {
            let (k, v) = item?;
            let (acc, month) = k.value();
            if acc != account {
                break;
            }
            out.push((month.to_owned(), v.value()));
        }
        Ok(out)
    }

    /// The event names an account has stored (ever), for catalogs.
    pub fn event_names(&self, account: &str) -> Result<Vec<String>, StoreError> {
        let txn = self.read()?;
        Ok(load_names(&txn, account)?
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::store;
    use flowseg_model::AttrValue;
    use flowseg_model::time::parse_instant;

    fn ev(id: Option<&str>, name: &str, contact: ContactRef, time: Option<i64>) -> EventInput {
        EventInput {
            id: id.map(Into::into),
            name: name.into(),
            contact,
            time,
            attributes: [("price".to_string(), AttrValue::Num(10.0))].into(),
        }
    }

    fn email(e: &str) -> ContactRef {
        ContactRef::Email(e.into())
    }

    #[test]
    fn events_create_contacts_and_reject_bad_refs() {
        let (_d, s) = store();
        let out = s
            .append_events(
                "acc",
                &[
                    ev(None, "buy", email("Ann@x.com"), Some(5)),
                    ev(None, "buy", email("ann@X.com"), None),
                    ev(
                        None,
                        "buy",
                        ContactRef::Phone("+48 600-100-200".into()),
                        Some(7),
                    ),
                    ev(None, "buy", ContactRef::Phone("600100200".into()), Some(7)),
                    ev(None, "buy", ContactRef::Id("c9".into()), Some(7)),
                    ev(None, "buy", ContactRef::Id("c0".into()), Some(8)),
                    ev(None, "bad name", ContactRef::Id("c0".into()), Some(8)),
                    ev(None, "buy", email(""), Some(8)),
                    ev(None, "buy", ContactRef::ExternalId("crm".into()), Some(9)),
                ],
                1000,
            )
            .unwrap();
        let acc: Vec<_> = out
            .accepted
            .iter()
            .map(|a| (a.index, a.contact_seq, a.time))
            .collect();
        assert_eq!(
            acc,
            vec![(0, 0, 5), (1, 0, 1000), (2, 1, 7), (5, 0, 8), (8, 2, 9)]
        );
        let rejected: Vec<_> = out.rejected.iter().map(|r| r.0).collect();
        assert_eq!(rejected, vec![3, 4, 6, 7]);
        assert!(out.rejected[0].1.contains("`600100200`"));
        assert!(out.rejected[1].1.contains("unknown contact id `c9`"));
        assert_eq!(out.created_contacts.len(), 3);
        let c1 = s.contact("acc", "c1").unwrap().unwrap();
        assert_eq!(c1.text("MobilePhone"), Some("+48600100200"));
        assert_eq!(c1.fields.get("CreateTime"), Some(&Value::Date(1000)));
        assert_eq!(c1.fields.len(), 3);
        assert_eq!(
            s.contact("acc", "c0").unwrap().unwrap().text("Email"),
            Some("Ann@x.com")
        );
        // A later upsert by that identity finds the created contact.
        let w = ContactWrite {
            id: None,
            set: [("ExternalId".to_string(), Some(Value::Text("crm".into())))].into(),
        };
        let r = s.upsert_contacts("acc", &[w], 2000).unwrap();
        assert_eq!(r[0].as_ref().unwrap().id, "c2");
    }

    #[test]
    fn duplicates_within_and_across_batches() {
        let (_d, s) = store();
        let out = s
            .append_events(
                "acc",
                &[
                    ev(Some("e1"), "buy", email("a@x.com"), Some(1)),
                    ev(Some("e1"), "other", email("b@x.com"), Some(2)),
                    ev(None, "buy", email("a@x.com"), Some(3)),
                    ev(None, "buy", email("a@x.com"), Some(3)),
                ],
                10,
            )
            .unwrap();
        assert_eq!(out.accepted.len(), 3);
        assert_eq!(out.duplicates, vec![1]);
        // The duplicate created no contact.
        assert_eq!(out.created_contacts.len(), 1);
        let out = s
            .append_events(
                "acc",
                &[
                    ev(Some("e1"), "x", ContactRef::Id("c0".into()), Some(4)),
                    ev(Some("e2"), "x", ContactRef::Id("c0".into()), Some(4)),
                ],
                10,
            )
            .unwrap();
        assert_eq!(out.duplicates, vec![0]);
        assert_eq!(out.accepted.len(), 1);
        let mut n = 0;
        s.for_each_event("acc", |_, _, _| n += 1).unwrap();
        assert_eq!(n, 4);
    }

    /// The seqs of a contact's events, as the engine's index would give.
    fn seqs_of(s: &Store, contact: u64) -> Vec<u64> {
        let mut seqs = Vec::new();
        s.for_each_event("acc", |c, seq, _| {
            if c == contact {
                seqs.push(seq)
            }
        })
        .unwrap();
        seqs
    }

    #[test]
    fn erase_removes_events_and_their_ids() {
        let (_d, s) = store();
        s.append_events(
            "acc",
            &[
                ev(Some("e1"), "buy", email("a@x.com"), Some(1)),
                ev(Some("e2"), "buy", email("b@x.com"), Some(1)),
                ev(Some("e3"), "buy", email("a@x.com"), Some(2)),
            ],
            10,
        )
        .unwrap();
        assert_eq!(seqs_of(&s, 0), vec![0, 2]);
        // Naming another contact's event refuses the erasure, changing nothing.
        assert!(matches!(
            s.delete_contact("acc", "c0", &[0, 1]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(s.contact("acc", "c0").unwrap().is_some());
        assert_eq!(seqs_of(&s, 0), vec![0, 2]);
        assert!(matches!(
            s.delete_contact("acc", "c0", &[0, 7]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(s.delete_contact("acc", "c0", &seqs_of(&s, 0)).unwrap());
        let mut seen = Vec::new();
        s.for_each_event("acc", |seq, _, e| seen.push((seq, e.id.unwrap())))
            .unwrap();
        assert_eq!(seen, vec![(1, "e2".to_string())]);
        assert_eq!(s.contact_by_email("acc", "a@x.com").unwrap(), None);
        // The erased contact's ids are free again; the email makes a new contact.
        let out = s
            .append_events(
                "acc",
                &[ev(Some("e1"), "buy", email("a@x.com"), Some(3))],
                10,
            )
            .unwrap();
        assert_eq!(out.accepted.len(), 1);
        assert_eq!(out.accepted[0].contact_seq, 2);
        assert_eq!(out.accepted[0].event_seq, 3);
    }

    #[test]
    fn usage_counts_custom_events_per_month_of_acceptance() {
        let (_d, s) = store();
        let june = parse_instant("2026-06-30T23:59:59Z").unwrap();
        let july = parse_instant("2026-07-01T00:00:00Z").unwrap();
        let batch = [
            ev(None, "buy", email("a@x.com"), Some(0)),
            ev(None, "MailOpen", email("a@x.com"), None),
            ev(None, "Visit", email("a@x.com"), None),
            ev(None, "mailopen", email("a@x.com"), None),
            ev(Some("d"), "buy", email("a@x.com"), None),
            ev(Some("d"), "buy", email("a@x.com"), None),
            ev(None, "buy", ContactRef::Id("c99".into()), None),
        ];
        s.append_events("acc", &batch, june).unwrap();
        s.append_events("acc", &batch[..1], july).unwrap();
        assert_eq!(
            s.usage("acc").unwrap(),
            vec![("2026-06".to_string(), 3), ("2026-07".to_string(), 1)]
        );
        assert_eq!(
            s.event_names("acc").unwrap(),
            vec!["buy", "MailOpen", "Visit", "mailopen"]
        );
    }

    #[test]
    fn a_group_commit_answers_each_batch_as_if_appended_alone() {
        let (_d, s) = store();
        let first = [
            ev(Some("g1"), "buy", email("a@x.com"), Some(1)),
            ev(None, "buy", email("b@x.com"), Some(2)),
        ];
        let unknown = [ev(None, "buy", email("a@x.com"), Some(3))];
        let second = [
            ev(Some("g1"), "buy", email("a@x.com"), Some(4)),
            ev(None, "buy", email("c@x.com"), Some(5)),
        ];
        let results = s
            .append_event_batches(&[
                ("acc", &first, 10),
                ("nobody", &unknown, 10),
                ("acc", &second, 10),
            ])
            .unwrap();
        let first = results[0].as_ref().unwrap();
        assert_eq!(first.accepted.len(), 2);
        assert!(matches!(&results[1], Err(StoreError::NotFound(m)) if m.contains("`nobody`")));
        // The second batch sees the first: its id is a duplicate, and seqs
        // (contacts and events) go on from where the first left them.
        let second = results[2].as_ref().unwrap();
        assert_eq!(second.duplicates, vec![0]);
        let a = &second.accepted[0];
        assert_eq!((a.index, a.contact_seq, a.event_seq), (1, 2, 2));
        assert_eq!(second.created_contacts[0].0, 2);
        let mut seen = Vec::new();
        s.for_each_event("acc", |c, seq, e| seen.push((seq, c, e.time)))
            .unwrap();
        assert_eq!(seen, vec![(0, 0, 1), (1, 1, 2), (2, 2, 5)]);
        assert!(s.for_each_event("nobody", |_, _, _| panic!()).is_ok());
    }

    #[test]
    fn interleaved_accounts_in_one_group_commit_keep_their_own_logs() {
        let (_d, s) = store();
        s.create_account(crate::AccountRecord {
            id: "acc2".into(),
            created_at: 0,
            addons: Default::default(),
            keys: vec![],
        })
        .unwrap();
        // More events than a block holds, so blocks close mid-batch too.
        let many: Vec<EventInput> = (0..600)
            .map(|i| ev(None, "buy", email(&format!("p{}@x.com", i % 7)), Some(i)))
            .collect();
        let other = [ev(Some("o"), "buy", email("z@x.com"), Some(9))];
        let one = [ev(None, "look", email("p0@x.com"), Some(1000))];
        let results = s
            .append_event_batches(&[
                ("acc", &many[..250], 10),
                ("acc", &one, 10),
                ("acc2", &other, 10),
                ("acc", &many[250..], 10),
                ("acc2", &other, 10),
            ])
            .unwrap();
        assert_eq!(results[4].as_ref().unwrap().duplicates, vec![0]);
        let mut seen = Vec::new();
        s.for_each_event("acc", |c, seq, e| seen.push((seq, c, e.time)))
            .unwrap();
        let mut want: Vec<(u64, u64, i64)> =
            (0..250).map(|i| (i as u64, i as u64 % 7, i)).collect();
        want.push((250, 0, 1000));
        want.extend((250..600).map(|i| (i as u64 + 1, i as u64 % 7, i)));
        assert_eq!(seen, want);
        let mut other_seen = Vec::new();
        s.for_each_event("acc2", |c, seq, e| other_seen.push((seq, c, e.id)))
            .unwrap();
        assert_eq!(other_seen, vec![(0, 0, Some("o".to_string()))]);
        // Every event of contact c3 read back by seq, then erased.
        let of_c3: Vec<u64> = want.iter().filter(|w| w.1 == 3).map(|w| w.0).collect();
        let events = s.events_by_seq("acc", 3, &of_c3).unwrap();
        assert_eq!(events.len(), of_c3.len());
        assert!(events.iter().all(|e| e.contact_id == "c3"));
        assert!(matches!(
            s.events_by_seq("acc", 4, &of_c3[..1]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(s.delete_contact("acc", "c3", &of_c3).unwrap());
        let mut left = 0;
        s.for_each_event("acc", |c, _, _| {
            assert_ne!(c, 3);
            left += 1;
        })
        .unwrap();
        assert_eq!(left, 601 - of_c3.len());
    }

    #[test]
    fn events_by_seq_reads_one_contacts_events() {
        let (_d, s) = store();
        s.append_events(
            "acc",
            &[
                ev(Some("e0"), "buy", email("a@x.com"), Some(5)),
                ev(Some("e1"), "look", email("b@x.com"), Some(6)),
                ev(Some("e2"), "look", email("a@x.com"), Some(-3)),
            ],
            1,
        )
        .unwrap();
        let got = s.events_by_seq("acc", 0, &[2, 0]).unwrap();
        let got: Vec<_> = got
            .iter()
            .map(|e| {
                (
                    e.id.as_deref().unwrap(),
                    e.name.as_str(),
                    e.time,
                    e.contact_id.as_str(),
                )
            })
            .collect();
        assert_eq!(got, vec![("e2", "look", -3, "c0"), ("e0", "buy", 5, "c0")]);
        // Another contact's event, or one never stored, is a disagreement.
        assert!(matches!(
            s.events_by_seq("acc", 0, &[1]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            s.events_by_seq("acc", 0, &[9]),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn for_each_event_streams_in_order_of_acceptance() {
        let (_d, s) = store();
        s.append_events(
            "acc",
            &[
                ev(None, "a", email("b@x.com"), Some(5)),
                ev(None, "a", email("a@x.com"), Some(3)),
                ev(None, "b", email("b@x.com"), Some(-1)),
            ],
            1,
        )
        .unwrap();
        s.append_events("acc", &[ev(None, "c", email("a@x.com"), Some(1))], 1)
            .unwrap();
        let mut seen = Vec::new();
        s.for_each_event("acc", |contact, seq, e| {
            seen.push((seq, contact, e.time, e.name))
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (0, 0, 5, "a".to_string()),
                (1, 1, 3, "a".to_string()),
                (2, 0, -1, "b".to_string()),
                (3, 1, 1, "c".to_string())
            ]
        );
    }
}
