//! flowseg's storage: the only crate that touches disk.
//!
//! [`Store`] wraps one embedded [redb] database file (`flowseg.redb` in the
//! data directory) and keeps everything flowseg must not lose: accounts and
//! their API key hashes ([`AccountRecord`]), each account's field [`Schema`],
//! contacts (with unique identity indexes for `Email`, `MobilePhone` and
//! `ExternalId`), the event log, usage metering, segment definitions
//! ([`SegmentRecord`]) and frozen member lists ([`SnapshotRecord`]).
//!
//! Durability contract (SPEC §4): every write method commits exactly one redb
//! write transaction with immediate durability (fsync) before it returns
//! `Ok`, so an `Ok` survives `kill -9`; a refused or failed call aborts its
//! transaction and changes nothing. Batches (contact upserts, event appends)
//! are one transaction each, items applied in order.
//!
//! Contacts get a per-account dense sequence number (`seq`, from 0, never
//! reused) that the engine uses as its in-memory ordinal; the public id is
//! `c{seq}` ([`contact_seq`] parses it back). Events get a per-account
//! sequence number too, in order of acceptance, and the event log holds
//! them in blocks of consecutive events keyed by `(account, first event
//! seq)` (`blocks.rs`): every append lands at the end of the tree, so a
//! batch makes a few inserts however many contacts it names. Finding one
//! contact's events therefore needs their seqs, which the engine's index
//! holds ([`Store::events_by_seq`], [`Store::delete_contact`]). Data
//! directories written before this layout are converted when opened
//! (see `migrate.rs`).
//!
//! [`Schema`]: flowseg_model::Schema

mod accounts;
mod blocks;
mod codec;
mod contacts;
mod events;
mod migrate;
mod segments;

use std::path::Path;

use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction,
};

pub use accounts::{AccountRecord, ApiKeyRecord, KeyKind};
pub use contacts::{ItemError, UpsertOk};
pub use events::{AcceptedEvent, AppendOutcome};
pub use migrate::Migration;
pub use segments::{SegmentRecord, SnapshotMeta, SnapshotRecord, resolve_segment_label};

/// The file name of the database inside the data directory.
pub const DB_FILE: &str = "flowseg.redb";

/// Why a store operation failed. `NotFound`, `Conflict` and `Invalid` are the
/// caller's fault and carry a one-sentence message for the user (their value
/// in backticks); the others are internal and should surface as a 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created or read.
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// redb refused or failed (disk full, lock held by another process, ...).
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    /// A stored value could not be decoded: a bug or a damaged file.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The write clashes with what is stored (a taken name, key or id).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is not acceptable (e.g. deleting a standard field).
    #[error("{0}")]
    Invalid(String),
}

macro_rules! db_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
db_error_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// The redb tables. Keys start with the account id so that every account's
/// data is a contiguous range (and could be split off to another node).
mod tables {
    use redb::TableDefinition;

    /// Small global settings, e.g. the admin token hash.
    pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    /// Id counters: (scope, name) → next value; scope "" is global, else an account.
    pub const COUNTERS: TableDefinition<(&str, &str), u64> = TableDefinition::new("counters");
    /// account id → JSON [`crate::AccountRecord`].
    pub const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
    /// API key hash → account id (authentication lookup).
    pub const KEY_HASHES: TableDefinition<&str, &str> = TableDefinition::new("key_hashes");
    /// account id → JSON schema.
    pub const SCHEMAS: TableDefinition<&str, &[u8]> = TableDefinition::new("schemas");
    /// (account, contact seq) → encoded fields.
    pub const CONTACTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("contacts");
    /// (account, lower-cased email) → contact seq.
    pub const BY_EMAIL: TableDefinition<(&str, &str), u64> = TableDefinition::new("by_email");
    /// (account, E.164 phone) → contact seq.
    pub const BY_PHONE: TableDefinition<(&str, &str), u64> = TableDefinition::new("by_phone");
    /// (account, external id) → contact seq.
    pub const BY_EXTERNAL_ID: TableDefinition<(&str, &str), u64> =
        TableDefinition::new("by_external_id");
    /// (account, first event seq) → a block of consecutive events, each
    /// its seq, then the contact seq (u64 LE), the time ms (i64 LE) and the
    /// encoded body (see `blocks.rs`).
    pub const EVENT_LOG: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("event_blocks");
    /// (account, event id) → (): the ids seen, for de-duplication.
    pub const EVENT_IDS: TableDefinition<(&str, &str), ()> = TableDefinition::new("event_ids");
    /// (account, name id) → event name.
    pub const EVENT_NAMES: TableDefinition<(&str, u32), &str> = TableDefinition::new("event_names");
    /// (account, event name) → name id.
    pub const EVENT_NAME_IDS: TableDefinition<(&str, &str), u32> =
        TableDefinition::new("event_name_ids");
    /// (account, `YYYY-MM`) → accepted custom events that month.
    pub const USAGE: TableDefinition<(&str, &str), u64> = TableDefinition::new("usage");
    /// (account, segment id) → JSON [`crate::SegmentRecord`].
    pub const SEGMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("segments");
    /// (account, segment name) → segment id (names are unique per account).
    pub const SEGMENT_NAMES: TableDefinition<(&str, &str), &str> =
        TableDefinition::new("segment_names");
    /// (account, snapshot id) → JSON [`crate::SnapshotMeta`].
    pub const SNAPSHOTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("snapshots");
    /// (account, snapshot id, chunk number) → encoded member ids.
    pub const SNAPSHOT_MEMBERS: TableDefinition<(&str, &str, u32), &[u8]> =
        TableDefinition::new("snapshot_members");
}

/// The embedded database. `Send + Sync`: share it behind an `Arc`; writes
/// are serialised by redb (one write transaction at a time) while reads run
/// concurrently on consistent snapshots.
pub struct Store {
    db: Database,
    /// Key hash → account, for authentication (see
    /// [`Store::account_by_key_hash`]).
    key_cache: std::sync::Mutex<accounts::KeyCache>,
    /// What opening converted from an older layout, if anything.
    migration: Option<Migration>,
}

/// Parses a contact id (`c{seq}`) back to its sequence number; `None` when
/// the string is not one the store could have issued.
pub fn contact_seq(id: &str) -> Option<u64> {
    let digits = id.strip_prefix('c')?;
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    digits.parse().ok()
}

/// The contact id for a sequence number (the inverse of [`contact_seq`]).
pub fn contact_id(seq: u64) -> String {
    format!("c{seq}")
}

impl Store {
    /// Opens the store in `dir` (created if missing), creating
    /// `dir/flowseg.redb` on first use. After a crash redb repairs the file
    /// here, which can take a while on a large database; so does converting
    /// a directory written in an older layout ([`Store::migration`]). Fails if another
    /// process holds the database open.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::create(dir.join(DB_FILE))?;
        let mut store = Store {
            db,
            key_cache: Default::default(),
            migration: None,
        };
        // Create every table once so read transactions never meet a missing
        // one (without a generation bump: opening is not a write).
        store.write_unversioned(|txn| {
            use tables::*;
            txn.open_table(META)?;
            txn.open_table(COUNTERS)?;
            txn.open_table(ACCOUNTS)?;
            txn.open_table(KEY_HASHES)?;
            txn.open_table(SCHEMAS)?;
            txn.open_table(CONTACTS)?;
            txn.open_table(BY_EMAIL)?;
            txn.open_table(BY_PHONE)?;
            txn.open_table(BY_EXTERNAL_ID)?;
            txn.open_table(EVENT_LOG)?;
            txn.open_table(EVENT_IDS)?;
            txn.open_table(EVENT_NAMES)?;
            txn.open_table(EVENT_NAME_IDS)?;
            txn.open_table(USAGE)?;
            txn.open_table(SEGMENTS)?;
            txn.open_table(SEGMENT_NAMES)?;
            txn.open_table(SNAPSHOTS)?;
            txn.open_table(SNAPSHOT_MEMBERS)?;
            Ok(())
        })?;
        store.migration = migrate::run(&store)?;
        Ok(store)
    }

    /// What [`Store::open`] converted from an older data layout (`None`
    /// when the directory was already current), for the operator's log.
    pub fn migration(&self) -> Option<&Migration> {
        self.migration.as_ref()
    }

    /// Runs `f` in one write transaction and commits it durably (fsync) if
    /// `f` succeeds; if `f` fails, aborts so that nothing changes. Every
    /// commit advances the store's [`generation`].
    ///
    /// [`generation`]: Store::generation
    fn write<T>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_unversioned(|txn| {
            let v = f(txn)?;
            let mut meta = txn.open_table(tables::META)?;
            let next = meta
                .get(GENERATION)?
                .and_then(|g| g.value().try_into().ok())
                .map_or(0, u64::from_le_bytes)
                + 1;
            meta.insert(GENERATION, next.to_le_bytes().as_slice())?;
            Ok(v)
        })
    }

    /// The number of write transactions ever committed: any change to the
    /// data changes it, so a derived copy (the engine's index snapshot)
    /// taken at generation `g` is current exactly while this is `g`.
    pub fn generation(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta_get(GENERATION)?
            .and_then(|g| g.try_into().ok())
            .map_or(0, u64::from_le_bytes))
    }

    fn write_unversioned<T>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        match f(&txn) {
            Ok(v) => {
                txn.commit()?;
                Ok(v)
            }
            Err(e) => {
                // The caller's error is the one that matters; an abort that
                // fails leaves nothing committed either.
                let _ = txn.abort();
                Err(e)
            }
        }
    }

    /// A consistent read-only view of the latest commit.
    fn read(&self) -> Result<ReadTransaction, StoreError> {
        Ok(self.db.begin_read()?)
    }

    /// Reads a small global value (e.g. the admin token hash).
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::META)?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Stores a small global value, replacing any previous one, durably.
    pub fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(tables::META)?.insert(key, value)?;
            Ok(())
        })
    }
}

/// The META key of the write generation (u64, little-endian).
const GENERATION: &str = "generation";

/// Takes the next value of a counter (starting at 0) and advances it, inside
/// the caller's transaction.
fn take_counter(txn: &WriteTransaction, scope: &str, name: &str) -> Result<u64, StoreError> {
    let mut t = txn.open_table(tables::COUNTERS)?;
    let v = t.get((scope, name))?.map_or(0, |g| g.value());
    t.insert((scope, name), v + 1)?;
    Ok(v)
}

/// Refuses writes to an account that does not exist, so that no orphan data
/// is ever stored.
fn ensure_account(txn: &WriteTransaction, account: &str) -> Result<(), StoreError> {
    if txn.open_table(tables::ACCOUNTS)?.get(account)?.is_some() {
        Ok(())
    } else {
        Err(no_such_account(account))
    }
}

/// The refusal of a write to an account that does not exist.
fn no_such_account(account: &str) -> StoreError {
    StoreError::NotFound(format!("no account has id `{account}`"))
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// A fresh store with one account `acc` (custom events allowed).
    pub fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .create_account(AccountRecord {
                id: "acc".into(),
                created_at: 0,
                addons: Default::default(),
                keys: vec![],
            })
            .unwrap();
        (dir, store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_ids_round_trip() {
        assert_eq!(contact_seq("c0"), Some(0));
        assert_eq!(contact_seq(&contact_id(12345)), Some(12345));
        for bad in [
            "",
            "c",
            "c01",
            "x1",
            "c-1",
            "c1a",
            "C1",
            "c99999999999999999999999",
        ] {
            assert_eq!(contact_seq(bad), None, "{bad}");
        }
    }

    #[test]
    fn meta_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.meta_get("admin").unwrap(), None);
            s.meta_put("admin", b"hash").unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.meta_get("admin").unwrap().as_deref(), Some(&b"hash"[..]));
    }

    #[test]
    fn reopen_after_drop_keeps_everything() {
        use flowseg_model::{AttrValue, ContactRef, ContactWrite, EventInput, Value};
        let (dir, s) = testutil::store();
        let write = ContactWrite {
            id: None,
            set: [
                ("Email".to_string(), Some(Value::Text("A@x.com".into()))),
                ("FirstName".to_string(), Some(Value::Text("Ann".into()))),
            ]
            .into(),
        };
        s.upsert_contacts("acc", &[write], 5).unwrap();
        let event = EventInput {
            id: Some("e1".into()),
            name: "buy".into(),
            contact: ContactRef::Email("b@x.com".into()),
            time: Some(7),
            attributes: [("price".to_string(), AttrValue::Num(9.5))].into(),
        };
        s.append_events("acc", std::slice::from_ref(&event), 6)
            .unwrap();
        let seg = SegmentRecord {
            id: "seg_1".into(),
            name: "all".into(),
            description: String::new(),
            rule: serde_json::json!({"all": []}),
            created_at: 1,
            updated_at: 2,
        };
        s.put_segment("acc", &seg).unwrap();
        let mut contacts = Vec::new();
        let mut events = Vec::new();
        let bound = s
            .scan_account(
                "acc",
                |q, c| contacts.push((q, c)),
                |q, n, e| events.push((q, n, e)),
            )
            .unwrap();
        drop(s);

        let s = Store::open(dir.path()).unwrap();
        let mut contacts2 = Vec::new();
        let mut events2 = Vec::new();
        let bound2 = s
            .scan_account(
                "acc",
                |q, c| contacts2.push((q, c)),
                |q, n, e| events2.push((q, n, e)),
            )
            .unwrap();
        assert_eq!((bound, bound2), (2, 2));
        assert_eq!(contacts, contacts2);
        assert_eq!(events, events2);
        assert_eq!(
            events2[0].2.attributes.get("price"),
            Some(&AttrValue::Num(9.5))
        );
        assert_eq!(
            s.contact_by_email("acc", "a@X.com").unwrap().unwrap().id,
            "c0"
        );
        assert_eq!(s.usage("acc").unwrap(), vec![("1970-01".to_string(), 1)]);
        assert_eq!(s.segment("acc", "seg_1").unwrap(), Some(seg));
        assert_eq!(
            s.append_events("acc", &[event], 8).unwrap().duplicates,
            vec![0]
        );
    }

    #[test]
    fn store_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
    }
}
