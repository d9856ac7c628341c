//! Converts a data directory from the first event-log layout, keyed by
//! `(account, contact seq, time, event seq)`, to the current one, keyed by
//! `(account, event seq)` (see the crate docs for why).
//!
//! Every stored event keeps its seq, contact, time and body. The
//! conversion runs when the store is opened, before anything else reads or
//! writes, in chunks of [`CHUNK`] events per durable transaction, in seq
//! order so that the new tree is written sequentially. It is safe to
//! interrupt: until the last transaction drops the old table, every event
//! is still there, and a restart resumes after the highest seq already
//! copied (copies are in seq order, so everything below it is done).

use std::time::Instant;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use crate::events::encode_logged;
use crate::tables::EVENT_LOG;
use crate::{Store, StoreError};

/// The first layout's event table.
pub(crate) const OLD_EVENTS: TableDefinition<(&str, u64, i64, u64), &[u8]> =
    TableDefinition::new("events");

/// Events copied per durable transaction.
const CHUNK: usize = 200_000;

/// What [`Store::open`] converted, for the operator's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// Events moved to the current layout.
    pub events: u64,
    /// Wall time the conversion took.
    pub seconds: f64,
}

/// Converts the store if it still holds the first layout's event table;
/// `None` when there was nothing to do.
pub(crate) fn run(store: &Store) -> Result<Option<Migration>, StoreError> {
    let has_old = store
        .db
        .begin_read()?
        .list_tables()?
        .any(|t| t.name() == OLD_EVENTS.name());
    if !has_old {
        return Ok(None);
    }
    let started = Instant::now();
    let accounts = accounts_with_old_events(store)?;
    let mut moved = 0;
    for account in &accounts {
        moved += migrate_account(store, account)?;
    }
    // The old table is dropped only once every event is in the new one.
    store.write(|txn| {
        txn.delete_table(OLD_EVENTS)?;
        Ok(())
    })?;
    Ok(Some(Migration {
        events: moved,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// Every account that has events in the old table, found by skipping from
/// one account's range to the next (not from the accounts table: no event
/// may be left behind, whatever else the directory holds).
fn accounts_with_old_events(store: &Store) -> Result<Vec<String>, StoreError> {
    let txn = store.read()?;
    let t = txn.open_table(OLD_EVENTS)?;
    let mut accounts: Vec<String> = Vec::new();
    loop {
        // The smallest account name after the last one found.
        let from = match accounts.last() {
            Some(a) => format!("{a}\0"),
            None => String::new(),
        };
        let next = t
            .range((from.as_str(), 0u64, i64::MIN, 0u64)..)?
            .next()
            .transpose()?;
        match next {
            Some((k, _)) => accounts.push(k.value().0.to_owned()),
            None => return Ok(accounts),
        }
    }
}

/// Copies one account's events not yet copied; returns how many.
fn migrate_account(store: &Store, account: &str) -> Result<u64, StoreError> {
    // Where an interrupted conversion stopped: the highest seq copied.
    let done = {
        let txn = store.read()?;
        let t = txn.open_table(EVENT_LOG)?;
        let last = t
            .range((account, 0u64)..=(account, u64::MAX))?
            .next_back()
            .transpose()?;
        last.map(|(k, _)| k.value().1)
    };
    // The keys of the events left to copy, in seq order.
    let mut keys: Vec<(u64, u64, i64)> = Vec::new();
    {
        let txn = store.read()?;
        let t = txn.open_table(OLD_EVENTS)?;
        let range = (account, 0u64, i64::MIN, 0u64)..=(account, u64::MAX, i64::MAX, u64::MAX);
        for item in t.range(range)? {
            let (k, _) = item?;
            let (_, contact, time, seq) = k.value();
            if done.is_none_or(|d| seq > d) {
                keys.push((seq, contact, time));
            }
        }
    }
    keys.sort_unstable_by_key(|k| k.0);
    for chunk in keys.chunks(CHUNK) {
        store.write(|txn| {
            let old = txn.open_table(OLD_EVENTS)?;
            let mut log = txn.open_table(EVENT_LOG)?;
            for &(seq, contact, time) in chunk {
                let body = old.get((account, contact, time, seq))?.ok_or_else(|| {
                    StoreError::Corrupt(format!("event {seq} vanished while it was converted"))
                })?;
                log.insert(
                    (account, seq),
                    encode_logged(contact, time, body.value()).as_slice(),
                )?;
            }
            Ok(())
        })?;
    }
    Ok(keys.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccountRecord;
    use crate::codec::encode_event;
    use flowseg_model::AttrValue;

    /// Writes events in the first layout, as a store of that version did.
    fn write_old(store: &Store, account: &str, events: &[(u64, u64, i64, &str)]) {
        store
            .write(|txn| {
                let mut t = txn.open_table(OLD_EVENTS)?;
                let mut names = txn.open_table(crate::tables::EVENT_NAMES)?;
                names.insert((account, 0u32), "buy")?;
                let mut counters = txn.open_table(crate::tables::COUNTERS)?;
                counters.insert((account, "event"), events.len() as u64)?;
                counters.insert((account, "event_name"), 1)?;
                counters.insert((account, "contact"), 3)?;
                for &(seq, contact, time, id) in events {
                    let attrs = [("n".to_string(), AttrValue::Num(seq as f64))].into();
                    t.insert(
                        (account, contact, time, seq),
                        encode_event(Some(id), 0, &attrs).as_slice(),
                    )?;
                }
                Ok(())
            })
            .unwrap();
    }

    fn account(store: &Store, id: &str) {
        store
            .create_account(AccountRecord {
                id: id.into(),
                created_at: 0,
                addons: Default::default(),
                keys: vec![],
            })
            .unwrap();
    }

    #[test]
    fn old_layout_is_converted_once_keeping_every_event() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.migration(), None);
            account(&s, "a");
            account(&s, "b");
            // Contact-first keys: seqs are out of order in key order.
            write_old(
                &s,
                "a",
                &[(2, 0, 50, "x2"), (0, 0, 90, "x0"), (1, 2, 10, "x1")],
            );
            write_old(&s, "b", &[(0, 1, 5, "y0")]);
            // Events of a name between two accounts' ranges, not in the
            // accounts table: converted all the same.
            write_old(&s, "ab", &[(0, 0, 7, "z0"), (1, 0, 8, "z1")]);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.migration().map(|m| m.events), Some(6));
        let mut ab = Vec::new();
        s.for_each_event("ab", |_, seq, e| ab.push((seq, e.id.unwrap())))
            .unwrap();
        assert_eq!(ab, vec![(0, "z0".to_string()), (1, "z1".to_string())]);
        let mut seen = Vec::new();
        s.for_each_event("a", |contact, seq, e| {
            seen.push((seq, contact, e.time, e.id.unwrap(), e.contact_id))
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (0, 0, 90, "x0".to_string(), "c0".to_string()),
                (1, 2, 10, "x1".to_string(), "c2".to_string()),
                (2, 0, 50, "x2".to_string(), "c0".to_string()),
            ]
        );
        let e = s.events_by_seq("a", 0, &[2]).unwrap();
        assert_eq!(e[0].attributes.get("n"), Some(&AttrValue::Num(2.0)));
        assert_eq!(e[0].name, "buy");
        let mut b = Vec::new();
        s.for_each_event("b", |_, seq, e| b.push((seq, e.id.unwrap())))
            .unwrap();
        assert_eq!(b, vec![(0, "y0".to_string())]);
        drop(s);
        // Nothing left to convert on the next open.
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.migration(), None);
        let mut n = 0;
        s.for_each_event("a", |_, _, _| n += 1).unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn an_interrupted_conversion_resumes_without_doubling() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            account(&s, "a");
            write_old(
                &s,
                "a",
                &[(0, 0, 1, "e0"), (1, 1, 1, "e1"), (2, 0, 2, "e2")],
            );
            // As if the first chunk had been copied before a crash.
            s.write(|txn| {
                let old = txn.open_table(OLD_EVENTS)?;
                let body = old.get(("a", 0u64, 1i64, 0u64))?.unwrap().value().to_vec();
                txn.open_table(EVENT_LOG)?
                    .insert(("a", 0u64), encode_logged(0, 1, &body).as_slice())?;
                Ok(())
            })
            .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.migration().map(|m| m.events), Some(2));
        let mut ids = Vec::new();
        s.for_each_event("a", |_, _, e| ids.push(e.id.unwrap()))
            .unwrap();
        assert_eq!(ids, vec!["e0", "e1", "e2"]);
    }
}
