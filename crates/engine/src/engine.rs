//! [`Engine`]: the store plus one in-memory [`AccountIndex`] per account.
//!
//! Every write goes to the store first (durable) and is then applied to the
//! account's index, under that index's write lock, so the index always
//! reflects exactly the committed writes in commit order. Reads evaluate
//! against the index under a read lock.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use flowseg_model::{ContactWrite, EventInput, FieldDef, Schema};
use flowseg_rules::{Plan, Problem, Rule, SegmentSource, rule_from_json};
use flowseg_store::{
    AccountRecord, AppendOutcome, ItemError, Store, StoreError, UpsertOk, contact_seq,
};

use crate::index::AccountIndex;

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("there is no account `{0}`")]
    UnknownAccount(String),
    #[error("contact ordinal {0} does not fit in 32 bits")]
    OrdinalOverflow(u64),
}

/// The store and the indexes of every account.
pub struct Engine {
    store: Arc<Store>,
    accounts: RwLock<HashMap<String, Arc<RwLock<AccountIndex>>>>,
}

fn ordinal(seq: u64) -> Result<u32, EngineError> {
    u32::try_from(seq).map_err(|_| EngineError::OrdinalOverflow(seq))
}

/// A read lock on one account's index.
pub type IndexGuard<'a> = RwLockReadGuard<'a, AccountIndex>;

impl Engine {
    /// Opens the store in `dir` and builds every account's index from it.
    pub fn open(dir: &Path) -> Result<Engine, EngineError> {
        let store = Arc::new(Store::open(dir)?);
        let mut accounts = HashMap::new();
        for account in store.accounts()? {
            let index = load_index(&store, &account.id)?;
            accounts.insert(account.id, Arc::new(RwLock::new(index)));
        }
        Ok(Engine {
            store,
            accounts: RwLock::new(accounts),
        })
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

    /// Runs `f` with the account's index write-locked, so a store write and
    /// its application to the index are one step for readers and writers.
    fn with_index<T>(
        &self,
        account: &str,
        f: impl FnOnce(&mut AccountIndex) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let index = self.index(account)?;
        let mut guard = index.write().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    pub fn add_field(&self, account: &str, def: FieldDef) -> Result<Schema, EngineError> {
        self.with_index(account, |index| {
            let schema = self.store.add_field(account, def)?;
            index.set_schema(&schema);
            Ok(schema)
        })
    }

    pub fn delete_field(&self, account: &str, name: &str) -> Result<Schema, EngineError> {
        self.with_index(account, |index| {
            let (schema, _changed) = self.store.delete_field(account, name)?;
            // Dropping the column drops every value of the field.
            index.set_schema(&schema);
            Ok(schema)
        })
    }

    pub fn upsert_contacts(
        &self,
        account: &str,
        writes: &[ContactWrite],
        now: i64,
    ) -> Result<Vec<Result<UpsertOk, ItemError>>, EngineError> {
        self.with_index(account, |index| {
            let results = self.store.upsert_contacts(account, writes, now)?;
            for ok in results.iter().flatten() {
                if let Some(seq) = contact_seq(&ok.id) {
                    index.put_contact(ordinal(seq)?, &ok.contact);
                }
            }
            Ok(results)
        })
    }

    pub fn delete_contact(&self, account: &str, id: &str) -> Result<bool, EngineError> {
        self.with_index(account, |index| {
            let deleted = self.store.delete_contact(account, id)?;
            if deleted && let Some(seq) = contact_seq(id) {
                index.remove_contact(ordinal(seq)?);
            }
            Ok(deleted)
        })
    }

    pub fn append_events(
        &self,
        account: &str,
        events: &[EventInput],
        now: i64,
    ) -> Result<AppendOutcome, EngineError> {
        self.with_index(account, |index| {
            let outcome = self.store.append_events(account, events, now)?;
            apply_appended(index, &outcome)?;
            Ok(outcome)
        })
    }

    /// Appends several requests' batches (possibly of different accounts)
    /// in one durable commit, answering each as if it had been appended
    /// alone and in order (group commit). If the shared commit fails, each
    /// batch is retried alone, so one bad batch cannot fail the others.
    pub fn append_event_batches(
        &self,
        batches: &[(&str, &[EventInput], i64)],
    ) -> Vec<Result<AppendOutcome, EngineError>> {
        let mut accounts: Vec<&str> = batches.iter().map(|(a, _, _)| *a).collect();
        accounts.sort_unstable();
        accounts.dedup();
        // Lock every involved index in a fixed order (no deadlock), so the
        // indexes change in commit order.
        let mut handles = Vec::with_capacity(accounts.len());
        for account in &accounts {
            match self.index(account) {
                Ok(h) => handles.push(Some(h)),
                Err(_) => handles.push(None),
            }
        }
        let mut guards: Vec<_> = handles
            .iter()
            .map(|h| {
                h.as_ref()
                    .map(|h| h.write().unwrap_or_else(|e| e.into_inner()))
            })
            .collect();
        let known: Vec<(&str, &[EventInput], i64)> = batches
            .iter()
            .copied()
            .filter(|(a, _, _)| guards[accounts.binary_search(a).unwrap_or(0)].is_some())
            .collect();
        let mut stored = match self.store.append_event_batches(&known) {
            Ok(results) => results.into_iter().map(|r| r.map_err(EngineError::from)),
            Err(_) => {
                drop(guards);
                return batches
                    .iter()
                    .map(|(account, events, now)| self.append_events(account, events, *now))
                    .collect();
            }
        };
        batches
            .iter()
            .map(|(account, _, _)| {
                let slot = accounts.binary_search(account).unwrap_or(0);
                let Some(index) = guards[slot].as_mut() else {
                    return Err(EngineError::UnknownAccount(account.to_string()));
                };
                let outcome = stored
                    .next()
                    .unwrap_or_else(|| Err(EngineError::UnknownAccount(account.to_string())))?;
                apply_appended(index, &outcome)?;
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

/// Applies a committed append to an index: contacts it created, then its events.
fn apply_appended(index: &mut AccountIndex, outcome: &AppendOutcome) -> Result<(), EngineError> {
    for (seq, contact) in &outcome.created_contacts {
        index.put_contact(ordinal(*seq)?, contact);
    }
    for (_, event, seq) in &outcome.accepted {
        index.add_event(ordinal(*seq)?, event);
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
fn load_index(store: &Store, account: &str) -> Result<AccountIndex, EngineError> {
    let mut index = AccountIndex::new(&store.schema(account)?);
    let mut overflow = None;
    store.for_each_contact(account, |seq, contact| match ordinal(seq) {
        Ok(o) => index.put_contact(o, &contact),
        Err(e) => overflow = Some(e),
    })?;
    store.for_each_event(account, |seq, event| match ordinal(seq) {
        Ok(o) => index.load_event(o, &event),
        Err(e) => overflow = Some(e),
    })?;
    if let Some(e) = overflow {
        return Err(e);
    }
    index.compact();
    Ok(index)
}

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

    #[test]
    fn writes_reach_the_index_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let now = parse_instant("2026-06-30T00:00:00Z").unwrap();
        let rule = json!({"all": [{"field": "Age", "op": "gte", "value": 18}, {"event": "purchase", "within": {"last": "30d"}}]});
        {
            let engine = Engine::open(dir.path()).unwrap();
            engine
                .create_account(AccountRecord {
                    id: "a1".into(),
                    created_at: now,
                    addons: Default::default(),
                    keys: vec![],
                })
                .unwrap();
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
}
