//! Converts a data directory written in an older event-log layout to the
//! current one, when the store is opened, before anything else reads or
//! writes. Two older layouts exist, converted in turn:
//!
//! 1. `events`, keyed `(account, contact seq, time, event seq)`, becomes
//!    2. below;
//! 2. `event_log`, one row per event keyed `(account, event seq)`, becomes
//!    the blocks of `event_blocks` (see `blocks.rs`).
//!
//! Every stored event keeps its seq, contact, time and body. Each step
//! copies in chunks of [`CHUNK`] events per durable transaction, in seq
//! order so that the new tree is written sequentially. It is safe to
//! interrupt: until the last transaction drops the old table, every event
//! is still there, and a restart resumes after the highest seq already
//! copied (copies are in seq order, so everything below it is done).

use std::time::Instant;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use crate::blocks::{BlockBuilder, block_entries, entries};
use crate::events::encode_logged;
use crate::tables::EVENT_LOG;
use crate::{Store, StoreError};

/// The first layout's event table.
pub(crate) const OLD_EVENTS: TableDefinition<(&str, u64, i64, u64), &[u8]> =
    TableDefinition::new("events");

/// The second layout's event log: one row per event.
pub(crate) const SINGLE_EVENT_LOG: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("event_log");

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

/// Converts the store if it still holds an older layout's event table;
/// `None` when there was nothing to do.
pub(crate) fn run(store: &Store) -> Result<Option<Migration>, StoreError> {
    let has = |table: &str| -> Result<bool, StoreError> {
        Ok(store
            .db
            .begin_read()?
            .list_tables()?
            .any(|t| t.name() == table))
    };
    let started = Instant::now();
    let mut converted = None;
    if has(OLD_EVENTS.name())? {
        // The table it converts into (no longer created on open).
        store.write_unversioned(|txn| {
            txn.open_table(SINGLE_EVENT_LOG)?;
            Ok(())
        })?;
        let moved = convert(
            store,
            accounts_with_old_events(store)?,
            migrate_account,
            |txn| Ok(txn.delete_table(OLD_EVENTS)?),
        )?;
        converted = Some(moved);
    }
    if has(SINGLE_EVENT_LOG.name())? {
        let moved = convert(
            store,
            accounts_with_single_events(store)?,
            block_account,
            |txn| Ok(txn.delete_table(SINGLE_EVENT_LOG)?),
        )?;
        // Events converted twice are counted once.
        converted = Some(converted.unwrap_or(0).max(moved));
    }
    Ok(converted.map(|events| Migration {
        events,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// One conversion step: `copy` for each account, then `drop_old` in one
/// last transaction (the old table goes only once every event is copied).
/// Returns how many events were copied.
fn convert(
    store: &Store,
    accounts: Vec<String>,
    copy: fn(&Store, &str) -> Result<u64, StoreError>,
    drop_old: impl FnOnce(&redb::WriteTransaction) -> Result<bool, StoreError>,
) -> Result<u64, StoreError> {
    let mut moved = 0;
    for account in &accounts {
        moved += copy(store, account)?;
    }
    store.write(|txn| drop_old(txn).map(|_| ()))?;
    Ok(moved)
}

/// Every account of a table keyed by account first, found by skipping from
/// one account's range to the next (not from the accounts table: no event
/// may be left behind, whatever else the directory holds). `first_from(a)`
/// is the first account at or after `a` in the table.
fn accounts_in(
    mut first_from: impl FnMut(&str) -> Result<Option<String>, StoreError>,
) -> Result<Vec<String>, StoreError> {
    let mut accounts: Vec<String> = Vec::new();
    loop {
        // The smallest account name after the last one found.
        let from = match accounts.last() {
            Some(a) => format!("{a}\0"),
            None => String::new(),
        };
        match first_from(&from)? {
            Some(account) => accounts.push(account),
            None => return Ok(accounts),
        }
    }
}

/// Every account that has events in the first layout's table.
fn accounts_with_old_events(store: &Store) -> Result<Vec<String>, StoreError> {
    let txn = store.read()?;
    let t = txn.open_table(OLD_EVENTS)?;
    accounts_in(|from| {
        let next = t
            .range((from, 0u64, i64::MIN, 0u64)..)?
            .next()
            .transpose()?;
        Ok(next.map(|(k, _)| k.value().0.to_owned()))
    })
}

/// Copies one account's events not yet copied; returns how many.
fn migrate_account(store: &Store, account: &str) -> Result<u64, StoreError> {
    // Where an interrupted conversion stopped: the highest seq copied.
    let done = {
        let txn = store.read()?;
        let t = txn.open_table(SINGLE_EVENT_LOG)?;
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
            let mut log = txn.open_table(SINGLE_EVENT_LOG)?;
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

/// Every account that has events in the one-row-per-event log.
fn accounts_with_single_events(store: &Store) -> Result<Vec<String>, StoreError> {
    let txn = store.read()?;
    let t = txn.open_table(SINGLE_EVENT_LOG)?;
    accounts_in(|from| {
        let next = t.range((from, 0u64)..)?.next().transpose()?;
        Ok(next.map(|(k, _)| k.value().0.to_owned()))
    })
}

/// Copies one account's events not yet in blocks; returns how many.
fn block_account(store: &Store, account: &str) -> Result<u64, StoreError> {
    // Where an interrupted conversion stopped: the highest seq copied.
    let mut next = {
        let txn = store.read()?;
        let t = txn.open_table(EVENT_LOG)?;
        let last = t
            .range((account, 0u64)..=(account, u64::MAX))?
            .next_back()
            .transpose()?;
        match last {
            Some((k, block)) => {
                let mut highest = None;
                let mut scratch = Vec::new();
                let raw = block_entries(block.value(), &mut scratch)?;
                for entry in entries(raw, k.value().1)? {
                    highest = Some(entry?.0);
                }
                highest.map_or(0, |h| h + 1)
            }
            None => 0,
        }
    };
    let mut moved = 0u64;
    loop {
        let copied = store.write(|txn| {
            let single = txn.open_table(SINGLE_EVENT_LOG)?;
            let mut log = txn.open_table(EVENT_LOG)?;
            let mut block = BlockBuilder::new();
            let mut copied = 0u64;
            let mut last = None;
            for item in single
                .range((account, next)..=(account, u64::MAX))?
                .take(CHUNK)
            {
                let (k, v) = item?;
                let seq = k.value().1;
                block.push(seq, v.value());
                if block.is_full() {
                    block.write(&mut log, account)?;
                }
                copied += 1;
                last = Some(seq);
            }
            block.write(&mut log, account)?;
            Ok((copied, last))
        })?;
        match copied {
            (n, Some(last)) => {
                moved += n;
                next = last + 1;
            }
            _ => return Ok(moved),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccountRecord;
    use crate::codec::encode_event;
    use flowseg_model::AttrValue;

    /// The event name and counters that written events of name `buy` for
    /// three contacts need, as the store keeps them beside any layout.
    fn write_counters(
        txn: &redb::WriteTransaction,
        account: &str,
        events: usize,
    ) -> Result<(), StoreError> {
        let mut names = txn.open_table(crate::tables::EVENT_NAMES)?;
        names.insert((account, 0u32), "buy")?;
        let mut counters = txn.open_table(crate::tables::COUNTERS)?;
        counters.insert((account, "event"), events as u64)?;
        counters.insert((account, "event_name"), 1)?;
        counters.insert((account, "contact"), 3)?;
        Ok(())
    }

    /// Writes events in the first layout, as a store of that version did.
    fn write_old(store: &Store, account: &str, events: &[(u64, u64, i64, &str)]) {
        store
            .write(|txn| {
                let mut t = txn.open_table(OLD_EVENTS)?;
                write_counters(txn, account, events.len())?;
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
                txn.open_table(SINGLE_EVENT_LOG)?
                    .insert(("a", 0u64), encode_logged(0, 1, &body).as_slice())?;
                Ok(())
            })
            .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        // Two events left in the first layout, then all three into blocks.
        assert_eq!(s.migration().map(|m| m.events), Some(3));
        let mut ids = Vec::new();
        s.for_each_event("a", |_, _, e| ids.push(e.id.unwrap()))
            .unwrap();
        assert_eq!(ids, vec!["e0", "e1", "e2"]);
    }

    /// Writes events one row each, as a store of the second layout did.
    fn write_single(store: &Store, account: &str, events: &[(u64, u64, i64)]) {
        store
            .write(|txn| {
                let mut t = txn.open_table(SINGLE_EVENT_LOG)?;
                write_counters(txn, account, events.len())?;
                for &(seq, contact, time) in events {
                    let attrs = [("n".to_string(), AttrValue::Num(seq as f64))].into();
                    let id = format!("e{seq}");
                    let body = encode_event(Some(&id), 0, &attrs);
                    t.insert(
                        (account, seq),
                        encode_logged(contact, time, &body).as_slice(),
                    )?;
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn single_event_rows_become_blocks_keeping_every_event() {
        let dir = tempfile::tempdir().unwrap();
        // More events than one block holds, over three contacts.
        let events: Vec<(u64, u64, i64)> =
            (0..300u64).map(|s| (s, s % 3, 1000 + s as i64)).collect();
        {
            let s = Store::open(dir.path()).unwrap();
            account(&s, "a");
            account(&s, "b");
            let writes: Vec<_> = (0..3)
                .map(|i| flowseg_model::ContactWrite {
                    id: None,
                    set: [(
                        "Email".to_string(),
                        Some(flowseg_model::Value::Text(format!("p{i}@x.com"))),
                    )]
                    .into(),
                })
                .collect();
            s.upsert_contacts("a", &writes, 0).unwrap();
            write_single(&s, "a", &events);
            write_single(&s, "b", &[(0, 1, 5)]);
            // As if a conversion had been interrupted after copying seqs
            // 0..=9 of account `a`.
            s.write(|txn| {
                let single = txn.open_table(SINGLE_EVENT_LOG)?;
                let mut log = txn.open_table(EVENT_LOG)?;
                let mut b = BlockBuilder::new();
                for seq in 0..10u64 {
                    b.push(seq, single.get(("a", seq))?.unwrap().value());
                }
                b.write(&mut log, "a")
            })
            .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.migration().map(|m| m.events), Some(291));
        let mut seen = Vec::new();
        s.for_each_event("a", |contact, seq, e| {
            seen.push((seq, contact, e.time, e.id.unwrap()))
        })
        .unwrap();
        let want: Vec<_> = events
            .iter()
            .map(|&(seq, c, t)| (seq, c, t, format!("e{seq}")))
            .collect();
        assert_eq!(seen, want);
        let mut b = Vec::new();
        s.for_each_event("b", |_, seq, e| b.push((seq, e.id.unwrap())))
            .unwrap();
        assert_eq!(b, vec![(0, "e0".to_string())]);
        // Reads and erasure work on the converted log.
        let got = s.events_by_seq("a", 2, &[299, 5, 200]).unwrap();
        let times: Vec<i64> = got.iter().map(|e| e.time).collect();
        assert_eq!(times, vec![1299, 1005, 1200]);
        let of_c1: Vec<u64> = (0..300).filter(|s| s % 3 == 1).collect();
        assert!(s.delete_contact("a", "c1", &of_c1).unwrap());
        let mut left = 0;
        s.for_each_event("a", |contact, _, _| {
            assert_ne!(contact, 1);
            left += 1;
        })
        .unwrap();
        assert_eq!(left, 200);
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.migration(), None);
    }
}
