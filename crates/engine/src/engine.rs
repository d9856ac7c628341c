//! [`Engine`]: the store plus one in-memory [`AccountIndex`] per account.
//!
//! Every write goes to the store first (durable) and is then applied to the
//! account's index, so the index always reflects exactly the committed
//! writes in commit order: writers take turns on the engine's write order
//! (the store commits one write transaction at a time anyway), and hold
//! the index's write lock only while applying, so evaluations (read lock)
//! go on during a commit's fsync. Erasure is the exception: it holds the
//! write lock through its store write, so that no reader lists events the
//! store has just dropped.
//!
//! Group commits of events may be applied after the write order is passed
//! on ([`Engine::store_event_batches`], then [`Engine::apply_stored`]), so
//! that one commit's index work overlaps the next commit's store work.
//! Commit order still holds: stored commits are applied in the order they
//! were stored, and any other writer waits, in its turn, until every stored
//! commit is applied before it writes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use flowseg_model::{ContactWrite, Event, EventInput, FieldDef, Schema};
use flowseg_rules::{Plan, Problem, Rule, SegmentSource, rule_from_json};
use flowseg_store::{
    AccountRecord, AppendOutcome, ItemError, Store, StoreError, UpsertOk, contact_seq,
};

use crate::index::{AccountIndex, EventSeq};

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("there is no account `{0}`")]
    UnknownAccount(String),
    #[error("contact ordinal {0} does not fit in 32 bits")]
    OrdinalOverflow(u64),
    #[error("event seq {0} does not fit in 32 bits")]
    EventSeqOverflow(u64),
}

/// The store and the indexes of every account.
pub struct Engine {
    store: Arc<Store>,
    accounts: RwLock<HashMap<String, Arc<RwLock<AccountIndex>>>>,
    /// Held by a writer from its store write until it is applied (and by
    /// the snapshot), so indexes change in commit order. Taken before any
    /// index lock, never after one.
    write_order: Mutex<()>,
    /// Group commits stored and not applied yet, in the order to apply.
    unapplied: Arc<Unapplied>,
    dir: std::path::PathBuf,
    loaded_from: IndexSource,
}

/// Tickets of stored group commits, so that they are applied in the order
/// they were stored: `issued` counts the commits stored, `applied` those
/// applied (the next to apply holds ticket `applied`).
#[derive(Default)]
struct Unapplied {
    state: Mutex<Tickets>,
    turn: Condvar,
}

#[derive(Default)]
struct Tickets {
    issued: u64,
    applied: u64,
}

impl Unapplied {
    fn state(&self) -> MutexGuard<'_, Tickets> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A ticket for a commit just stored (call in the writers' turn).
    fn issue(&self) -> u64 {
        let mut state = self.state();
        state.issued += 1;
        state.issued - 1
    }

    /// Waits until every commit before `ticket` is applied.
    fn wait_turn(&self, ticket: u64) {
        let mut state = self.state();
        while state.applied < ticket {
            state = self.turn.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Marks the commit of the current turn applied.
    fn done(&self) {
        self.state().applied += 1;
        self.turn.notify_all();
    }

    /// Waits until every stored commit is applied.
    fn wait_until_none(&self) {
        let mut state = self.state();
        while state.applied < state.issued {
            state = self.turn.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A group commit of events that the store has made durable and the
/// indexes do not show yet; [`Engine::apply_stored`] applies it. Until it
/// is applied (or dropped: a lost application must not stall every later
/// writer), other writers wait.
pub struct StoredBatches {
    /// The batches' accounts (sorted, once each) and their indexes.
    accounts: Vec<String>,
    handles: Vec<Option<Arc<RwLock<AccountIndex>>>>,
    stage: Stage,
    /// This commit's ticket, while it is not applied.
    ticket: Option<(Arc<Unapplied>, u64)>,
}

enum Stage {
    /// Stored together: each known account's batch outcome, in batch order.
    Stored(std::vec::IntoIter<Result<AppendOutcome, EngineError>>),
    /// Already final (each batch written and applied alone, after the
    /// shared commit failed).
    Done(Vec<Result<AppendOutcome, EngineError>>),
}

impl Drop for StoredBatches {
    /// Ends this commit's turn (after applying it, or in place of it).
    fn drop(&mut self) {
        if let Some((unapplied, ticket)) = self.ticket.take() {
            unapplied.wait_turn(ticket);
            unapplied.done();
        }
    }
}

/// Where [`Engine::open`] got the indexes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexSource {
    /// Read back from the snapshot of a clean shutdown.
    Snapshot,
    /// Rebuilt from the store; the reason the snapshot was not used.
    Store(String),
}

fn ordinal(seq: u64) -> Result<u32, EngineError> {
    u32::try_from(seq).map_err(|_| EngineError::OrdinalOverflow(seq))
}

fn event_seq(seq: u64) -> Result<EventSeq, EngineError> {
    u32::try_from(seq).map_err(|_| EngineError::EventSeqOverflow(seq))
}

/// The opaque cursor of [`Engine::contact_events`]: the (time, seq) of the
/// last event returned.
fn encode_cursor((time, seq): (i64, EventSeq)) -> String {
    format!("{time}.{seq}")
}

fn decode_cursor(cursor: &str) -> Result<(i64, EventSeq), EngineError> {
    cursor
        .split_once('.')
        .and_then(|(t, s)| Some((t.parse().ok()?, s.parse().ok()?)))
        .ok_or_else(|| StoreError::Invalid(format!("`{cursor}` is not a valid cursor")).into())
}

/// A read lock on one account's index.
pub type IndexGuard<'a> = RwLockReadGuard<'a, AccountIndex>;

impl Engine {
    /// Opens the store in `dir` and builds every account's index: from the
    /// index snapshot when it is current (nothing written since a clean
    /// shutdown saved it), from the store otherwise.
    pub fn open(dir: &Path) -> Result<Engine, EngineError> {
        let store = Arc::new(Store::open(dir)?);
        let ids: Vec<String> = store.accounts()?.into_iter().map(|a| a.id).collect();
        let (indexes, loaded_from) = match read_snapshot(dir, &store, &ids) {
            Ok(indexes) => (indexes, IndexSource::Snapshot),
            Err(why) => {
                let mut indexes = HashMap::new();
                for id in &ids {
                    indexes.insert(id.clone(), load_index(&store, id)?);
                }
                (indexes, IndexSource::Store(why))
            }
        };
        let accounts = indexes
            .into_iter()
            .map(|(id, index)| (id, Arc::new(RwLock::new(index))))
            .collect();
        Ok(Engine {
            store,
            accounts: RwLock::new(accounts),
            write_order: Mutex::new(()),
            unapplied: Arc::default(),
            dir: dir.to_path_buf(),
            loaded_from,
        })
    }

    /// Where the indexes came from at [`open`](Engine::open).
    pub fn loaded_from(&self) -> &IndexSource {
        &self.loaded_from
    }

    /// Saves every index to the snapshot file, for a fast next start (call
    /// on a clean shutdown). Writers wait while it runs; the snapshot is
    /// stamped with the store generation it reflects.
    pub fn save_snapshot(&self) -> Result<(), EngineError> {
        let _order = self.write_order();
        let accounts = self.accounts.read().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<&String> = accounts.keys().collect();
        ids.sort();
        let mut guards = Vec::with_capacity(ids.len());
        for id in &ids {
            let mut guard = accounts[*id].write().unwrap_or_else(|e| e.into_inner());
            guard.compact();
            guards.push(guard);
        }
        // The write order is held and every index locked, so no write can
        // land (nor wait unapplied) between reading the generation and
        // writing the indexes it stamps.
        let generation = self.store.generation()?;
        let list: Vec<(&str, &AccountIndex)> = ids
            .iter()
            .zip(&guards)
            .map(|(id, g)| (id.as_str(), &**g))
            .collect();
        crate::snapshot::save(&self.dir, generation, &list).map_err(StoreError::from)?;
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The index of an account (shared handle; lock it to read).
    pub fn index(&self, account: &str) -> Result<Arc<RwLock<AccountIndex>>, EngineError> {
        self.accounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(account)
            .cloned()
            .ok_or_else(|| EngineError::UnknownAccount(account.to_string()))
    }

    /// The account's current schema (as its index has it).
    pub fn schema(&self, account: &str) -> Result<Schema, EngineError> {
        let index = self.index(account)?;
        let schema = index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .schema()
            .clone();
        Ok(schema)
    }

    pub fn create_account(&self, record: AccountRecord) -> Result<(), EngineError> {
        let id = record.id.clone();
        self.store.create_account(record)?;
        self.accounts
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id,
                Arc::new(RwLock::new(AccountIndex::new(&Schema::default()))),
            );
        Ok(())
    }

    /// The writers' turn (see the field `write_order`), once every group
    /// commit stored before it is applied.
    fn write_order(&self) -> MutexGuard<'_, ()> {
        let order = self.write_order.lock().unwrap_or_else(|e| e.into_inner());
        self.unapplied.wait_until_none();
        order
    }

    /// A write in the writers' turn: `store` commits it (readers of the
    /// index go on meanwhile), then `apply` updates the account's index
    /// under its write lock.
    fn write_then_apply<S, T>(
        &self,
        account: &str,
        store: impl FnOnce() -> Result<S, EngineError>,
        apply: impl FnOnce(&mut AccountIndex, S) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let index = self.index(account)?;
        let _order = self.write_order();
        let stored = store()?;
        let mut guard = index.write().unwrap_or_else(|e| e.into_inner());
        apply(&mut guard, stored)
    }

    pub fn add_field(&self, account: &str, def: FieldDef) -> Result<Schema, EngineError> {
        self.write_then_apply(
            account,
            || Ok(self.store.add_field(account, def)?),
            |index, schema| {
                index.set_schema(&schema);
                Ok(schema)
            },
        )
    }

    pub fn delete_field(&self, account: &str, name: &str) -> Result<Schema, EngineError> {
        self.write_then_apply(
            account,
            || Ok(self.store.delete_field(account, name)?.0),
            |index, schema| {
                // Dropping the column drops every value of the field.
                index.set_schema(&schema);
                Ok(schema)
            },
        )
    }

    pub fn upsert_contacts(
        &self,
        account: &str,
        writes: &[ContactWrite],
        now: i64,
    ) -> Result<Vec<Result<UpsertOk, ItemError>>, EngineError> {
        self.write_then_apply(
            account,
            || Ok(self.store.upsert_contacts(account, writes, now)?),
            |index, results| {
                for ok in results.iter().flatten() {
                    if let Some(seq) = contact_seq(&ok.id) {
                        index.put_contact(ordinal(seq)?, &ok.contact);
                    }
                }
                Ok(results)
            },
        )
    }

    pub fn delete_contact(&self, account: &str, id: &str) -> Result<bool, EngineError> {
        let handle = self.index(account)?;
        let _order = self.write_order();
        // Locked through the store write: a listing must not read seqs the
        // store is dropping. The write order keeps appends out (and every
        // earlier write is applied), so the index names all the contact's
        // events.
        let mut index = handle.write().unwrap_or_else(|e| e.into_inner());
        let seqs: Vec<u64> = match index.live_ordinal(id) {
            Some(o) => index
                .contact_event_keys(o)
                .into_iter()
                .map(|(_, seq)| u64::from(seq))
                .collect(),
            None => Vec::new(),
        };
        let deleted = self.store.delete_contact(account, id, &seqs)?;
        if deleted && let Some(seq) = contact_seq(id) {
            index.remove_contact(ordinal(seq)?);
        }
        Ok(deleted)
    }

    /// One contact's events, newest first (the latest time first, the
    /// later-accepted first among equal times), `limit` (at least 1) per
    /// page; pass the returned cursor to get the next page (`None` when
    /// there is no more). An unknown contact is [`StoreError::NotFound`], a
    /// cursor not issued here [`StoreError::Invalid`].
    pub fn contact_events(
        &self,
        account: &str,
        contact: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Event>, Option<String>), EngineError> {
        let limit = limit.max(1);
        let after = cursor.map(decode_cursor).transpose()?;
        let index = self.index(account)?;
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        let Some(o) = index.live_ordinal(contact) else {
            return Err(StoreError::NotFound(format!("no contact has id `{contact}`")).into());
        };
        let keys = index.contact_event_keys(o);
        let start = after.map_or(0, |c| keys.partition_point(|k| *k >= c));
        let page = &keys[start..(start + limit).min(keys.len())];
        let more = start + page.len() < keys.len();
        let seqs: Vec<u64> = page.iter().map(|(_, s)| u64::from(*s)).collect();
        // Read while the index is locked, so an erasure cannot come between.
        let events = self.store.events_by_seq(account, u64::from(o), &seqs)?;
        let next = page.last().filter(|_| more).map(|k| encode_cursor(*k));
        Ok((events, next))
    }

    pub fn append_events(
        &self,
        account: &str,
        events: &[EventInput],
        now: i64,
    ) -> Result<AppendOutcome, EngineError> {
        self.write_then_apply(
            account,
            || Ok(self.store.append_events(account, events, now)?),
            |index, outcome| {
                apply_appended(index, events, &outcome)?;
                Ok(outcome)
            },
        )
    }

    /// Appends several requests' batches (possibly of different accounts)
    /// in one durable commit, answering each as if it had been appended
    /// alone and in order (group commit). If the shared commit fails, each
    /// batch is retried alone, so one bad batch cannot fail the others.
    pub fn append_event_batches(
        &self,
        batches: &[(&str, &[EventInput], i64)],
    ) -> Vec<Result<AppendOutcome, EngineError>> {
        let stored = self.store_event_batches(batches);
        self.apply_stored(stored, batches)
    }

    /// The first half of [`append_event_batches`]: the store's durable
    /// commit, in the writers' turn, which is passed on as soon as the
    /// store has committed. Give the result, with the same `batches`, to
    /// [`apply_stored`] (on any thread: stored commits are applied in the
    /// order they were stored, each waiting for its turn). Hand a stored
    /// commit on before storing the next: if a shared commit fails, its
    /// batches are written alone, which waits for every stored commit to
    /// be applied.
    ///
    /// [`append_event_batches`]: Engine::append_event_batches
    /// [`apply_stored`]: Engine::apply_stored
    pub fn store_event_batches(&self, batches: &[(&str, &[EventInput], i64)]) -> StoredBatches {
        let mut accounts: Vec<&str> = batches.iter().map(|(a, _, _)| *a).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let handles: Vec<_> = accounts.iter().map(|a| self.index(a).ok()).collect();
        let known: Vec<(&str, &[EventInput], i64)> = batches
            .iter()
            .copied()
            .filter(|(a, _, _)| handles[accounts.binary_search(a).unwrap_or(0)].is_some())
            .collect();
        let accounts: Vec<String> = accounts.into_iter().map(str::to_string).collect();
        // The turn itself, without waiting for stored commits to be
        // applied: their application overlaps this commit.
        let order = self.write_order.lock().unwrap_or_else(|e| e.into_inner());
        let stage = match self.store.append_event_batches(&known) {
            Ok(results) => {
                let ticket = self.unapplied.issue();
                drop(order);
                return StoredBatches {
                    accounts,
                    handles,
                    stage: Stage::Stored(
                        results
                            .into_iter()
                            .map(|r| r.map_err(EngineError::from))
                            .collect::<Vec<_>>()
                            .into_iter(),
                    ),
                    ticket: Some((self.unapplied.clone(), ticket)),
                };
            }
            Err(_) => {
                // Each batch alone takes its own turn.
                drop(order);
                Stage::Done(
                    batches
                        .iter()
                        .map(|(account, events, now)| self.append_events(account, events, *now))
                        .collect(),
                )
            }
        };
        StoredBatches {
            accounts,
            handles,
            stage,
            ticket: None,
        }
    }

    /// The second half of [`append_event_batches`]: applies a stored group
    /// commit to the indexes and gives each batch's result.
    ///
    /// [`append_event_batches`]: Engine::append_event_batches
    pub fn apply_stored(
        &self,
        mut stored: StoredBatches,
        batches: &[(&str, &[EventInput], i64)],
    ) -> Vec<Result<AppendOutcome, EngineError>> {
        let mut outcomes = match std::mem::replace(&mut stored.stage, Stage::Done(Vec::new())) {
            Stage::Done(results) => return results,
            Stage::Stored(outcomes) => outcomes,
        };
        if let Some((unapplied, ticket)) = &stored.ticket {
            unapplied.wait_turn(*ticket);
        }
        // Every involved index write-locked, in a fixed order (no
        // deadlock), only now that the store has committed.
        let mut guards: Vec<_> = stored
            .handles
            .iter()
            .map(|h| {
                h.as_ref()
                    .map(|h| h.write().unwrap_or_else(|e| e.into_inner()))
            })
            .collect();
        batches
            .iter()
            .map(|(account, events, _)| {
                let slot = stored
                    .accounts
                    .binary_search_by(|a| a.as_str().cmp(account))
                    .unwrap_or(0);
                let Some(index) = guards.get_mut(slot).and_then(Option::as_mut) else {
                    return Err(EngineError::UnknownAccount(account.to_string()));
                };
                let outcome = outcomes
                    .next()
                    .unwrap_or_else(|| Err(EngineError::UnknownAccount(account.to_string())))?;
                apply_appended(index, events, &outcome)?;
                Ok(outcome)
            })
            .collect()
    }

    /// Saved segments of an account, as a source for validation.
    pub fn segment_source<'a>(&'a self, account: &'a str) -> StoredSegments<'a> {
        StoredSegments {
            store: &self.store,
            account,
        }
    }
}

/// Applies a committed append of `events` to an index: contacts it
/// created, then its events.
fn apply_appended(
    index: &mut AccountIndex,
    events: &[EventInput],
    outcome: &AppendOutcome,
) -> Result<(), EngineError> {
    for (seq, contact) in &outcome.created_contacts {
        index.put_contact(ordinal(*seq)?, contact);
    }
    for a in &outcome.accepted {
        let event = &events[a.index];
        index.add_event_parts(
            ordinal(a.contact_seq)?,
            event_seq(a.event_seq)?,
            &event.name,
            a.time,
            &event.attributes,
        );
    }
    Ok(())
}

/// Reads referenced segments' rules from the store.
pub struct StoredSegments<'a> {
    store: &'a Store,
    account: &'a str,
}

impl SegmentSource for StoredSegments<'_> {
    fn segment_rule(&self, id: &str) -> Option<Rule> {
        let record = self.store.segment(self.account, id).ok()??;
        rule_from_json(&record.rule, "").ok()
    }
}

impl StoredSegments<'_> {
    /// Validates and plans a rule found at `base` in a request body.
    pub fn plan(
        &self,
        json: &serde_json::Value,
        base: &str,
        schema: &Schema,
        self_id: Option<&str>,
    ) -> Result<(Rule, Plan), Vec<Problem>> {
        flowseg_rules::parse_and_plan(json, base, schema, self, self_id)
    }
}

/// Builds an account's index from the store: schema, contacts, then events
/// (streamed contact by contact, merged once at the end).
/// The snapshot's indexes if the snapshot is current and names exactly the
/// store's accounts; otherwise why not.
fn read_snapshot(
    dir: &Path,
    store: &Store,
    ids: &[String],
) -> Result<HashMap<String, AccountIndex>, String> {
    let generation = store.generation().map_err(|e| e.to_string())?;
    let loaded = crate::snapshot::load(dir, generation)
        .map_err(|e| format!("the snapshot is unreadable: {e}"))?
        .ok_or("no snapshot of the store's current generation")?;
    let indexes: HashMap<String, AccountIndex> = loaded.into_iter().collect();
    let mut want: Vec<&String> = ids.iter().collect();
    let mut have: Vec<&String> = indexes.keys().collect();
    want.sort();
    have.sort();
    if want != have {
        return Err("the snapshot's accounts differ from the store's".into());
    }
    Ok(indexes)
}

fn load_index(store: &Store, account: &str) -> Result<AccountIndex, EngineError> {
    let mut index = AccountIndex::new(&store.schema(account)?);
    let mut overflow = None;
    store.for_each_contact(account, |seq, contact| match ordinal(seq) {
        Ok(o) => index.put_contact(o, &contact),
        Err(e) => overflow = Some(e),
    })?;
    // Two stages on two threads: this one reads and decodes the log, the
    // other appends to the index (each was about half of a rebuild).
    let (chunks, received) = std::sync::mpsc::sync_channel::<Vec<LoadedEvent>>(8);
    let (index, scanned) = std::thread::scope(|scope| {
        let builder = scope.spawn(move || {
            for chunk in received {
                for (o, seq, event) in chunk {
                    index.load_event(o, seq, &event);
                }
            }
            index.compact();
            index
        });
        let mut chunk = Vec::with_capacity(LOAD_CHUNK);
        let scanned = store.for_each_event(account, |contact, seq, event| {
            match ordinal(contact).and_then(|o| Ok((o, event_seq(seq)?))) {
                Ok((o, seq)) => chunk.push((o, seq, event)),
                Err(e) => overflow = Some(e),
            }
            if chunk.len() == LOAD_CHUNK {
                // A send fails only if the builder is gone (it panicked,
                // which the join below reports).
                let _ = chunks.send(std::mem::replace(
                    &mut chunk,
                    Vec::with_capacity(LOAD_CHUNK),
                ));
            }
        });
        let _ = chunks.send(chunk);
        drop(chunks);
        let index = builder
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (index, scanned)
    });
    scanned?;
    if let Some(e) = overflow {
        return Err(e);
    }
    Ok(index)
}

/// An event read back for a rebuild: (contact ordinal, event seq, event).
type LoadedEvent = (u32, EventSeq, Event);

/// Events handed from the log reader to the index builder at a time.
const LOAD_CHUNK: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use flowseg_model::event::parse_event;
    use flowseg_model::time::parse_instant;
    use serde_json::json;

    fn count(engine: &Engine, account: &str, rule: serde_json::Value, now: i64) -> u64 {
        let index = engine.index(account).unwrap();
        let index = index.read().unwrap();
        let (_, plan) = engine
            .segment_source(account)
            .plan(&rule, "/rule", index.schema(), None)
            .unwrap();
        index.evaluate(&plan, now).len()
    }

    /// An engine on `dir` with a fresh account `a1`.
    fn open_with_account(dir: &Path, now: i64) -> Engine {
        let engine = Engine::open(dir).unwrap();
        engine
            .create_account(AccountRecord {
                id: "a1".into(),
                created_at: now,
                addons: Default::default(),
                keys: vec![],
            })
            .unwrap();
        engine
    }

    #[test]
    fn writes_reach_the_index_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let now = parse_instant("2026-06-30T00:00:00Z").unwrap();
        let rule = json!({"all": [{"field": "Age", "op": "gte", "value": 18}, {"event": "purchase", "within": {"last": "30d"}}]});
        {
            let engine = open_with_account(dir.path(), now);
            engine
                .add_field(
                    "a1",
                    FieldDef {
                        name: "Age".into(),
                        field_type: flowseg_model::FieldType::Number,
                    },
                )
                .unwrap();
            let schema = engine.store().schema("a1").unwrap();
            let writes: Vec<ContactWrite> = [
                json!({"Email": "a@x.io", "Age": 30}),
                json!({"Email": "b@x.io", "Age": 12}),
            ]
            .iter()
            .map(|v| {
                flowseg_model::contact::parse_contact_write(&schema, v.as_object().unwrap())
                    .unwrap()
            })
            .collect();
            engine.upsert_contacts("a1", &writes, now).unwrap();
            let events: Vec<EventInput> = [
                json!({"id": "e1", "name": "purchase", "contact": {"email": "A@x.io"}, "time": "2026-06-20T00:00:00Z"}),
                json!({"id": "e1", "name": "purchase", "contact": {"email": "b@x.io"}, "time": "2026-06-20T00:00:00Z"}),
                json!({"name": "purchase", "contact": {"email": "b@x.io"}, "time": "2026-06-21T00:00:00Z"}),
                json!({"name": "purchase", "contact": {"email": "new@x.io"}, "time": "2026-06-21T00:00:00Z"}),
            ]
            .iter()
            .map(|v| parse_event(v).unwrap())
            .collect();
            let outcome = engine.append_events("a1", &events, now).unwrap();
            assert_eq!((outcome.accepted.len(), outcome.duplicates.len()), (3, 1));
            assert_eq!(count(&engine, "a1", rule.clone(), now), 1);
            assert_eq!(count(&engine, "a1", json!({"event": "purchase"}), now), 3);
            assert!(engine.delete_contact("a1", "c1").unwrap());
            assert_eq!(count(&engine, "a1", json!({"event": "purchase"}), now), 2);
        }
        let engine = Engine::open(dir.path()).unwrap();
        assert_eq!(count(&engine, "a1", rule, now), 1);
        assert_eq!(count(&engine, "a1", json!({"event": "purchase"}), now), 2);
        assert_eq!(count(&engine, "a1", json!({"all": []}), now), 2);
        engine.delete_field("a1", "Age").unwrap();
        assert_eq!(
            engine
                .index("a1")
                .unwrap()
                .read()
                .unwrap()
                .field_value(0, "Age"),
            None
        );
    }

    /// An evaluation in progress (a read lock held) does not hold back an
    /// append's durable store write, only its application to the index;
    /// the index then has it in full, and a restart agrees with it.
    #[test]
    fn a_reader_holds_back_only_the_application_of_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let now = parse_instant("2026-06-30T00:00:00Z").unwrap();
        let engine = open_with_account(dir.path(), now);
        let events: Vec<EventInput> = (0..3)
            .map(|i| {
                parse_event(
                    &json!({"name": "purchase", "contact": {"email": format!("p{i}@x.io")},
                                    "time": "2026-06-20T00:00:00Z"}),
                )
                .unwrap()
            })
            .collect();
        let stored = |engine: &Engine| {
            let mut n = 0;
            engine
                .store()
                .for_each_event("a1", |_, _, _| n += 1)
                .unwrap();
            n
        };
        let handle = engine.index("a1").unwrap();
        std::thread::scope(|scope| {
            let reader = handle.read().unwrap();
            let writer = scope.spawn(|| {
                engine
                    .append_event_batches(&[("a1", &events[..], now)])
                    .into_iter()
                    .map(|r| r.unwrap().accepted.len())
                    .sum::<usize>()
            });
            let waited = std::time::Instant::now();
            while stored(&engine) < 3 {
                assert!(
                    waited.elapsed() < std::time::Duration::from_secs(30),
                    "the store write waited for the reader"
                );
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            // Durable, and not yet applied: the reader still sees nothing.
            assert_eq!(reader.live().len(), 0);
            assert!(!writer.is_finished());
            drop(reader);
            assert_eq!(writer.join().unwrap(), 3);
        });
        assert_eq!(count(&engine, "a1", json!({"event": "purchase"}), now), 3);
        drop(engine);
        let engine = Engine::open(dir.path()).unwrap();
        assert_eq!(count(&engine, "a1", json!({"event": "purchase"}), now), 3);
    }

    /// Every page of a contact's events, following the cursors.
    fn all_pages(engine: &Engine, contact: &str, limit: usize) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = engine
                .contact_events("a1", contact, limit, cursor.as_deref())
                .unwrap();
            assert!(page.len() <= limit && !page.is_empty());
            out.extend(page.into_iter().map(|e| (e.id.unwrap(), e.time)));
            match next {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }

    #[test]
    fn contact_events_page_newest_first_across_names_merges_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let now = parse_instant("2026-06-30T00:00:00Z").unwrap();
        let ev = |id: String, name: &str, who: &str, time: i64| {
            parse_event(&json!({"id": id, "name": name, "contact": {"email": who},
                "time": flowseg_model::time::format_instant(time)}))
            .unwrap()
        };
        // Enough events that the partitions merge their tails (4096 rows),
        // then more that stay pending; equal times and shuffled arrival.
        let mut expected: Vec<(i64, usize, String)> = Vec::new();
        let engine = open_with_account(dir.path(), now);
        for batch in 0..3 {
            let events: Vec<EventInput> = (0..3000)
                .map(|i| {
                    let n = batch * 3000 + i;
                    let who = if n % 3 == 0 { "a@x.io" } else { "b@x.io" };
                    let name = ["buy", "look"][n % 2];
                    let time = now - ((n * 7919) % 500) as i64 * 1000;
                    if who == "a@x.io" {
                        expected.push((time, n, format!("e{n}")));
                    }
                    ev(format!("e{n}"), name, who, time)
                })
                .collect();
            engine.append_events("a1", &events, now).unwrap();
        }
        // Newest time first; the later-accepted first among equal times.
        expected.sort_by_key(|x| std::cmp::Reverse((x.0, x.1)));
        let expected: Vec<(String, i64)> = expected.into_iter().map(|(t, _, id)| (id, t)).collect();
        assert_eq!(all_pages(&engine, "c0", 7), expected);
        assert_eq!(all_pages(&engine, "c0", 5000), expected);
        assert!(matches!(
            engine.contact_events("a1", "c0", 3, Some("garbage")),
            Err(EngineError::Store(StoreError::Invalid(_)))
        ));
        assert!(matches!(
            engine.contact_events("a1", "c9", 3, None),
            Err(EngineError::Store(StoreError::NotFound(_)))
        ));
        engine.save_snapshot().unwrap();
        drop(engine);
        let engine = Engine::open(dir.path()).unwrap();
        assert_eq!(engine.loaded_from(), &IndexSource::Snapshot);
        assert_eq!(all_pages(&engine, "c0", 100), expected);
        // Erasure removes the contact's events from the log (their ids are
        // free again), and nothing of the other contact's.
        let b_before = all_pages(&engine, "c1", 1000).len();
        assert!(engine.delete_contact("a1", "c0").unwrap());
        let mut left = 0;
        engine
            .store()
            .for_each_event("a1", |contact, _, _| {
                assert_eq!(contact, 1);
                left += 1;
            })
            .unwrap();
        assert_eq!(left, b_before);
        let out = engine
            .append_events("a1", &[ev("e0".into(), "buy", "a@x.io", now)], now)
            .unwrap();
        assert_eq!((out.accepted.len(), out.accepted[0].contact_seq), (1, 2));
        drop(engine);
        let engine = Engine::open(dir.path()).unwrap();
        assert_eq!(all_pages(&engine, "c1", 1000).len(), b_before);
        assert_eq!(all_pages(&engine, "c2", 10), vec![("e0".to_string(), now)]);
    }

    #[test]
    fn a_clean_shutdown_snapshot_restores_the_same_indexes_and_a_later_write_voids_it() {
        let dir = tempfile::tempdir().unwrap();
        let now = parse_instant("2026-06-30T00:00:00Z").unwrap();
        let rules = [
            json!({"field": "Age", "op": "gte", "value": 18}),
            json!({"field": "Email", "op": "contains", "value": "X.IO"}),
            json!({"event": "purchase", "where": [{"attribute": "sku", "op": "equals", "value": "Ab"}]}),
            json!({"event": "purchase", "where": [{"attribute": "value", "op": "gt", "value": 10}]}),
            json!({"event": "purchase", "where": [{"attribute": "gift", "op": "is_true"}]}),
            json!({"event": "purchase", "where": [{"attribute": "any", "op": "has_value"}]}),
            json!({"event": "purchase", "within": {"last": "5d"}}),
        ];
        let counts = |engine: &Engine| -> Vec<u64> {
            rules
                .iter()
                .map(|r| count(engine, "a1", r.clone(), now))
                .collect()
        };
        let before = {
            let engine = open_with_account(dir.path(), now);
            let age = FieldDef {
                name: "Age".into(),
                field_type: flowseg_model::FieldType::Number,
            };
            engine.add_field("a1", age).unwrap();
            let schema = engine.store().schema("a1").unwrap();
            let writes: Vec<ContactWrite> = (0..40)
                .map(|i| {
                    let v = json!({"Email": format!("p{i}@X.io"), "Age": i});
                    flowseg_model::contact::parse_contact_write(&schema, v.as_object().unwrap())
                        .unwrap()
                })
                .collect();
            engine.upsert_contacts("a1", &writes, now).unwrap();
            let events: Vec<EventInput> = (0..200)
                .map(|i| {
                    // `any` takes every JSON type (a mixed column); the others one each.
                    let any = match i % 4 {
                        0 => json!("s"),
                        1 => json!(i),
                        2 => json!(true),
                        _ => json!(null),
                    };
                    let sku = ["Ab", "ab", "Cd"][i % 3];
                    let v = json!({"name": "purchase", "contact": {"email": format!("p{}@x.io", i % 40)},
                        "time": flowseg_model::time::format_instant(now - (i as i64) * 3_600_000),
                        "attributes": {"sku": sku, "value": i, "gift": i % 5 == 0, "any": any}});
                    parse_event(&v).unwrap()
                })
                .collect();
            engine.append_events("a1", &events, now).unwrap();
            assert!(engine.delete_contact("a1", "c3").unwrap());
            let before = counts(&engine);
            engine.save_snapshot().unwrap();
            before
        };
        assert!(before.iter().all(|c| *c > 0), "{before:?}");
        {
            let engine = Engine::open(dir.path()).unwrap();
            assert_eq!(engine.loaded_from(), &IndexSource::Snapshot);
            assert_eq!(counts(&engine), before);
            // A write after the snapshot: the next start rebuilds and keeps it.
            let e = parse_event(
                &json!({"name": "purchase", "contact": {"email": "late@x.io"},
                "time": flowseg_model::time::format_instant(now - 1), "attributes": {"sku": "Ab"}}),
            )
            .unwrap();
            engine.append_events("a1", &[e], now).unwrap();
        }
        let engine = Engine::open(dir.path()).unwrap();
        assert!(matches!(engine.loaded_from(), IndexSource::Store(_)));
        let after = counts(&engine);
        assert_eq!(after[6], before[6] + 1);
        engine.save_snapshot().unwrap();
        drop(engine);
        // A damaged snapshot is never trusted.
        let path = crate::snapshot::path(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        let cut = bytes.len() / 2;
        bytes.truncate(cut);
        std::fs::write(&path, &bytes).unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        assert!(matches!(engine.loaded_from(), IndexSource::Store(_)));
        assert_eq!(counts(&engine), after);
    }

    fn purchase(contact: &str, time: &str) -> EventInput {
        parse_event(&json!({"name": "purchase", "contact": {"email": contact}, "time": time}))
            .unwrap()
    }

    /// Gives another thread time to act. The tests only rely on it in the
    /// direction that cannot be flaky: what must not have happened yet has
    /// not happened (a wrong early step would be caught unless the thread
    /// were delayed past the pause).
    fn settle() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    /// Stored group commits are applied in the order they were stored,
    /// whichever thread applies first; a request's events show only once
    /// applied.
    #[test]
    fn stored_commits_are_applied_in_store_order() {
        let dir = tempfile::tempdir().unwrap();
        let now = parse_instant("2026-06-30T00:00:00Z").unwrap();
        let engine = open_with_account(dir.path(), now);
        let first = [purchase("a@x.io", "2026-06-20T00:00:00Z")];
        let second = [purchase("b@x.io", "2026-06-21T00:00:00Z")];
        let first_batches = [("a1", &first[..], now)];
        let second_batches = [("a1", &second[..], now)];
        let stored_first = engine.store_event_batches(&first_batches);
        let stored_second = engine.store_event_batches(&second_batches);
        let all = json!({"event": "purchase"});
        assert_eq!(
            count(&engine, "a1", all.clone(), now),
            0,
            "nothing applied yet"
        );
        std::thread::scope(|s| {
            let second_applier = s.spawn(|| engine.apply_stored(stored_second, &second_batches));
            settle();
            assert_eq!(
                count(&engine, "a1", all.clone(), now),
                0,
                "the second commit waits for the first"
            );
            let first_results = engine.apply_stored(stored_first, &first_batches);
            assert_eq!(first_results[0].as_ref().unwrap().accepted.len(), 1);
            let second_results = second_applier.join().unwrap();
            assert_eq!(second_results[0].as_ref().unwrap().accepted.len(), 1);
        });
        assert_eq!(count(&engine, "a1", all, now), 2);
        // Contacts were created in store order: a@ is c0, b@ is c1.
        let (events, _) = engine.contact_events("a1", "c1", 10, None).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            flowseg_model::time::format_instant(events[0].time),
            "2026-06-21T00:00:00.000Z"
        );
    }

    /// Another writer waits, in its turn, until every stored commit is
    /// applied: an erasure after a stored append leaves none of the
    /// contact's events behind, in the index or after a reopen.
    #[test]
    fn other_writers_wait_for_stored_commits_to_be_applied() {
        let dir = tempfile::tempdir().unwrap();
        let now = parse_instant("2026-06-30T00:00:00Z").unwrap();
        {
            let engine = open_with_account(dir.path(), now);
            engine
                .append_events("a1", &[purchase("a@x.io", "2026-06-19T00:00:00Z")], now)
                .unwrap();
            let more = [purchase("a@x.io", "2026-06-20T00:00:00Z")];
            let batches = [("a1", &more[..], now)];
            let stored = engine.store_event_batches(&batches);
            let erased = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|s| {
                let eraser = s.spawn(|| {
                    let deleted = engine.delete_contact("a1", "c0").unwrap();
                    erased.store(true, std::sync::atomic::Ordering::SeqCst);
                    deleted
                });
                settle();
                assert!(
                    !erased.load(std::sync::atomic::Ordering::SeqCst),
                    "the erasure waits for the stored append"
                );
                engine.apply_stored(stored, &batches);
                assert!(eraser.join().unwrap());
            });
            assert_eq!(count(&engine, "a1", json!({"event": "purchase"}), now), 0);
            engine.save_snapshot().unwrap();
        }
        std::fs::remove_file(dir.path().join("index.snapshot")).unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        assert_eq!(count(&engine, "a1", json!({"event": "purchase"}), now), 0);
        assert_eq!(count(&engine, "a1", json!({"all": []}), now), 0);
    }

    /// A stored commit dropped without being applied still ends its turn,
    /// so later writers do not wait for ever.
    #[test]
    fn a_dropped_stored_commit_ends_its_turn() {
        let dir = tempfile::tempdir().unwrap();
        let now = parse_instant("2026-06-30T00:00:00Z").unwrap();
        let engine = open_with_account(dir.path(), now);
        let events = [purchase("a@x.io", "2026-06-20T00:00:00Z")];
        let batches = [("a1", &events[..], now)];
        drop(engine.store_event_batches(&batches));
        let outcome = engine
            .append_events("a1", &[purchase("b@x.io", "2026-06-21T00:00:00Z")], now)
            .unwrap();
        assert_eq!(outcome.accepted.len(), 1);
    }
}
