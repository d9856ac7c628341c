//! Accounts (tenants) and the hashes of their API keys.

use std::collections::BTreeMap;

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::tables::{ACCOUNTS, KEY_HASHES};
use crate::{Store, StoreError, take_counter};

/// Which kind of API key: the secret key has full access to its account,
/// the public key may only post website visits (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// Full access to the account's own data.
    Secret,
    /// May only post website visits (it is embedded in web pages).
    Public,
}

/// One API key as stored: never the key itself, only its hash (computed by
/// the server) and a short prefix to recognise it by in listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// What the key may do.
    pub kind: KeyKind,
    /// The key's hash, as the server computes it; the lookup key.
    pub hash: String,
    /// The key's first characters, safe to show.
    pub prefix: String,
}

/// An account as stored: its id, creation time (epoch ms), add-ons
/// (`custom_events`, ...) and key hashes. The store persists what it is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The account id (see [`Store::new_account_id`]).
    pub id: String,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Add-on switches by name, e.g. `custom_events`.
    pub addons: BTreeMap<String, bool>,
    /// The account's API keys (hashes only).
    pub keys: Vec<ApiKeyRecord>,
}

impl AccountRecord {
    /// Whether an add-on is switched on (absent means off).
    pub fn addon(&self, name: &str) -> bool {
        self.addons.get(name).copied().unwrap_or(false)
    }
}

/// Authenticated keys' accounts, so that a request does not open a read
/// transaction and decode its account record just to authenticate. Only
/// keys found in the store are remembered (unknown keys cannot grow it).
/// Every account write empties it and advances `epoch`; a lookup remembers
/// what it read only if no write happened since it began, so a revoked key
/// is refused from the moment its revocation returns.
#[derive(Default)]
pub(crate) struct KeyCache {
    epoch: u64,
    accounts: std::collections::HashMap<String, (AccountRecord, KeyKind)>,
}

impl Store {
    fn key_cache(&self) -> std::sync::MutexGuard<'_, KeyCache> {
        self.key_cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every remembered key (after any account write).
    fn forget_keys(&self) {
        let mut cache = self.key_cache();
        cache.epoch += 1;
        cache.accounts.clear();
    }

    /// Issues a fresh account id (`acc_1`, `acc_2`, ...), never issued before.
    pub fn new_account_id(&self) -> Result<String, StoreError> {
        self.write(|txn| Ok(format!("acc_{}", take_counter(txn, "", "account")? + 1)))
    }

    /// Stores a new account and indexes its key hashes. An existing id or a
    /// key hash already in use is a [`StoreError::Conflict`].
    pub fn create_account(&self, record: AccountRecord) -> Result<(), StoreError> {
        let result = self.write(|txn| {
            let mut accounts = txn.open_table(ACCOUNTS)?;
            if accounts.get(record.id.as_str())?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "an account with id `{}` already exists",
                    record.id
                )));
            }
            let mut hashes = txn.open_table(KEY_HASHES)?;
            for key in &record.keys {
                if hashes
                    .insert(key.hash.as_str(), record.id.as_str())?
                    .is_some()
                {
                    return Err(StoreError::Conflict(format!(
                        "the key starting `{}` is already in use",
                        key.prefix
                    )));
                }
            }
            accounts.insert(record.id.as_str(), serde_json::to_vec(&record)?.as_slice())?;
            Ok(())
        });
        self.forget_keys();
        result
    }

    /// Replaces an existing account (add-ons, keys); its key index follows.
    /// An unknown id is [`StoreError::NotFound`].
    pub fn update_account(&self, record: &AccountRecord) -> Result<(), StoreError> {
        let result = self.write(|txn| {
            let mut accounts = txn.open_table(ACCOUNTS)?;
            let old: AccountRecord = match accounts.get(record.id.as_str())? {
                Some(v) => serde_json::from_slice(v.value())?,
                None => {
                    return Err(StoreError::NotFound(format!(
                        "no account has id `{}`",
                        record.id
                    )));
                }
            };
            let mut hashes = txn.open_table(KEY_HASHES)?;
            for key in &old.keys {
                hashes.remove(key.hash.as_str())?;
            }
            for key in &record.keys {
                if hashes
                    .insert(key.hash.as_str(), record.id.as_str())?
                    .is_some()
                {
                    return Err(StoreError::Conflict(format!(
                        "the key starting `{}` is already in use",
                        key.prefix
                    )));
                }
            }
            accounts.insert(record.id.as_str(), serde_json::to_vec(record)?.as_slice())?;
            Ok(())
        });
        self.forget_keys();
        result
    }

    /// One account by id.
    pub fn account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(ACCOUNTS)?;
        match t.get(id)? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    /// The account a key hash belongs to, and which of its keys it is: the
    /// lookup behind `Authorization: Bearer KEY`.
    pub fn account_by_key_hash(
        &self,
        hash: &str,
    ) -> Result<Option<(AccountRecord, KeyKind)>, StoreError> {
        let epoch = {
            let cache = self.key_cache();
            if let Some(found) = cache.accounts.get(hash) {
                return Ok(Some(found.clone()));
            }
            cache.epoch
        };
        let found = self.read_account_by_key_hash(hash)?;
        if let Some(found) = &found {
            let mut cache = self.key_cache();
            if cache.epoch == epoch {
                cache.accounts.insert(hash.to_string(), found.clone());
            }
        }
        Ok(found)
    }

    /// [`Store::account_by_key_hash`] if the key is remembered (no I/O, so
    /// callers on an async runtime need not move to a blocking thread).
    pub fn cached_account_by_key_hash(&self, hash: &str) -> Option<(AccountRecord, KeyKind)> {
        self.key_cache().accounts.get(hash).cloned()
    }

    fn read_account_by_key_hash(
        &self,
        hash: &str,
    ) -> Result<Option<(AccountRecord, KeyKind)>, StoreError> {
        let txn = self.read()?;
        let Some(id) = txn
            .open_table(KEY_HASHES)?
            .get(hash)?
            .map(|g| g.value().to_owned())
        else {
            return Ok(None);
        };
        let Some(v) = txn.open_table(ACCOUNTS)?.get(id.as_str())? else {
            return Ok(None);
        };
        let record: AccountRecord = serde_json::from_slice(v.value())?;
        let kind = record.keys.iter().find(|k| k.hash == hash).map(|k| k.kind);
        Ok(kind.map(|k| (record, k)))
    }

    /// Every account, oldest first.
    pub fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(ACCOUNTS)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (_, v) = item?;
            out.push(serde_json::from_slice::<AccountRecord>(v.value())?);
        }
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, hash: &str) -> AccountRecord {
        AccountRecord {
            id: id.into(),
            created_at: 5,
            addons: BTreeMap::new(),
            keys: vec![
                ApiKeyRecord {
                    kind: KeyKind::Secret,
                    hash: format!("{hash}-s"),
                    prefix: "sk_".into(),
                },
                ApiKeyRecord {
                    kind: KeyKind::Public,
                    hash: format!("{hash}-p"),
                    prefix: "pk_".into(),
                },
            ],
        }
    }

    #[test]
    fn accounts_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let a = s.new_account_id().unwrap();
        let b = s.new_account_id().unwrap();
        assert_ne!(a, b);
        s.create_account(record(&a, "h1")).unwrap();
        assert!(matches!(
            s.create_account(record(&a, "h9")),
            Err(StoreError::Conflict(_))
        ));
        // A clash on a key hash refuses the whole account.
        assert!(matches!(
            s.create_account(record(&b, "h1")),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.account(&b).unwrap(), None);
        let (acc, kind) = s.account_by_key_hash("h1-p").unwrap().unwrap();
        assert_eq!((acc.id.as_str(), kind), (a.as_str(), KeyKind::Public));

        let mut updated = record(&a, "h2");
        updated.addons.insert("custom_events".into(), true);
        s.update_account(&updated).unwrap();
        assert!(s.account_by_key_hash("h1-s").unwrap().is_none());
        assert_eq!(
            s.account_by_key_hash("h2-s").unwrap().unwrap().1,
            KeyKind::Secret
        );
        assert!(s.account(&a).unwrap().unwrap().addon("custom_events"));
        assert!(matches!(
            s.update_account(&record("nope", "h3")),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(s.accounts().unwrap().len(), 1);

        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.account(&a).unwrap(), Some(updated));
        assert_ne!(s.new_account_id().unwrap(), b);
    }
}
