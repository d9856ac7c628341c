//! Field schemas and contacts: upserts with identity matching, reads,
//! erasure, and the unique identity indexes behind them.

use std::collections::BTreeMap;

use flowseg_model::contact::apply_write;
use flowseg_model::identity::{check_email, check_external_id, email_key, normalize_phone};
use flowseg_model::schema::{EMAIL, EXTERNAL_ID, FieldDeclError, MOBILE_PHONE};
use flowseg_model::{Contact, ContactWrite, FieldDef, Schema, Value};
use redb::{ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction};

use crate::blocks::remove_events;
use crate::codec::{decode_fields, encode_fields, event_id};
use crate::events::contacts_event;
use crate::tables::{
    BY_EMAIL, BY_EXTERNAL_ID, BY_PHONE, CONTACTS, COUNTERS, EVENT_IDS, EVENT_LOG, SCHEMAS,
};
use crate::{Store, StoreError, contact_id, contact_seq, ensure_account};

/// A unique identity index: (account, identity key) → contact seq.
type IdentityIndex = TableDefinition<'static, (&'static str, &'static str), u64>;

/// The identity fields in matching priority order (SPEC §1: `ExternalId`,
/// then `Email`, then `MobilePhone`), each with its unique index.
pub(crate) const IDENTITIES: [(&str, IdentityIndex); 3] = [
    (EXTERNAL_ID, BY_EXTERNAL_ID),
    (EMAIL, BY_EMAIL),
    (MOBILE_PHONE, BY_PHONE),
];

/// The index key of an identity value: emails match case-insensitively.
pub(crate) fn index_key(field: &str, value: &str) -> String {
    if field == EMAIL {
        email_key(value)
    } else {
        value.to_owned()
    }
}

/// One successfully written item of an upsert batch.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertOk {
    /// The item's position in the batch.
    pub index: usize,
    /// The contact's id (new or matched).
    pub id: String,
    /// Whether the item created the contact.
    pub created: bool,
    /// The full contact after the write (for the engine to update itself).
    pub contact: Contact,
}

/// One refused item of an upsert batch; it changed nothing. `status` is what
/// the item would have had alone (404, 409, 422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// The item's position in the batch.
    pub index: usize,
    /// The HTTP status the item would have had alone.
    pub status: u16,
    /// A stable machine-readable code: `not_found`, `identity_conflict`,
    /// `invalid_field`.
    pub code: String,
    /// One sentence for the user, naming the field and value in backticks.
    pub message: String,
}

impl ItemError {
    fn new(index: usize, status: u16, code: &str, message: String) -> Self {
        ItemError {
            index,
            status,
            code: code.into(),
            message,
        }
    }
}

/// The contact tables of one write transaction, kept open across a batch.
pub(crate) struct ContactTables<'t> {
    contacts: Table<'t, (&'static str, u64), &'static [u8]>,
    indexes: [Table<'t, (&'static str, &'static str), u64>; 3],
}

impl<'t> ContactTables<'t> {
    pub(crate) fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(ContactTables {
            contacts: txn.open_table(CONTACTS)?,
            indexes: [
                txn.open_table(IDENTITIES[0].1)?,
                txn.open_table(IDENTITIES[1].1)?,
                txn.open_table(IDENTITIES[2].1)?,
            ],
        })
    }

    pub(crate) fn exists(&self, account: &str, seq: u64) -> Result<bool, StoreError> {
        Ok(self.contacts.get((account, seq))?.is_some())
    }

    fn load(&self, account: &str, seq: u64) -> Result<Option<Contact>, StoreError> {
        match self.contacts.get((account, seq))? {
            Some(v) => Ok(Some(Contact {
                id: contact_id(seq),
                fields: decode_fields(v.value())?,
            })),
            None => Ok(None),
        }
    }

    /// The contact holding identity `which` (an index into [`IDENTITIES`])
    /// with this value, if any.
    pub(crate) fn lookup(
        &self,
        account: &str,
        which: usize,
        value: &str,
    ) -> Result<Option<u64>, StoreError> {
        let key = index_key(IDENTITIES[which].0, value);
        Ok(self.indexes[which]
            .get((account, key.as_str()))?
            .map(|g| g.value()))
    }

    /// Writes a contact and moves its index entries from the old identity
    /// values to the new ones. The caller has checked that the new values are
    /// free (or already this contact's).
    pub(crate) fn save(
        &mut self,
        account: &str,
        seq: u64,
        old: Option<&Contact>,
        new: &Contact,
    ) -> Result<(), StoreError> {
        for (which, (field, _)) in IDENTITIES.iter().enumerate() {
            let before = old.and_then(|c| c.text(field)).map(|v| index_key(field, v));
            let after = new.text(field).map(|v| index_key(field, v));
            if before == after {
                continue;
            }
            if let Some(k) = &before {
                self.unindex(account, which, k, seq)?;
            }
            if let Some(k) = &after {
                self.indexes[which].insert((account, k.as_str()), seq)?;
            }
        }
        self.contacts
            .insert((account, seq), encode_fields(&new.fields).as_slice())?;
        Ok(())
    }

    /// Removes an index entry if (and only if) it points at `seq`.
    fn unindex(
        &mut self,
        account: &str,
        which: usize,
        key: &str,
        seq: u64,
    ) -> Result<(), StoreError> {
        let holder = self.indexes[which].get((account, key))?.map(|g| g.value());
        if holder == Some(seq) {
            self.indexes[which].remove((account, key))?;
        }
        Ok(())
    }

    /// Removes a contact and its index entries; returns it if it existed.
    fn remove(&mut self, account: &str, seq: u64) -> Result<Option<Contact>, StoreError> {
        let Some(fields) = self
            .contacts
            .remove((account, seq))?
            .map(|v| decode_fields(v.value()))
            .transpose()?
        else {
            return Ok(None);
        };
        let contact = Contact {
            id: contact_id(seq),
            fields,
        };
        for (which, (field, _)) in IDENTITIES.iter().enumerate() {
            if let Some(v) = contact.text(field) {
                self.unindex(account, which, &index_key(field, v), seq)?;
            }
        }
        Ok(Some(contact))
    }
}

/// Reads an account's schema inside a transaction (default when none stored).
fn load_schema(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    account: &str,
) -> Result<Schema, StoreError> {
    match t.get(account)? {
        Some(v) => Ok(serde_json::from_slice(v.value())?),
        None => Ok(Schema::default()),
    }
}

/// Checks a write against the schema as it is inside the transaction (a
/// field may have been deleted since the caller parsed the write) and that
/// identity values are normalised as the model's parser leaves them.
fn check_write(schema: &Schema, write: &ContactWrite) -> Result<(), String> {
    for (name, value) in &write.set {
        let Some(ty) = schema.field_type(name) else {
            return Err(format!(
                "`{name}` is not a declared field: declare it first with POST /v1/fields"
            ));
        };
        let Some(value) = value else { continue };
        if value.field_type() != ty {
            return Err(format!(
                "`{name}` is a {ty} field but was given a {} value",
                value.field_type()
            ));
        }
        if let Value::Text(s) = value {
            let ok = match name.as_str() {
                EMAIL => check_email(s).map(|_| ()).map_err(|e| e.to_string()),
                EXTERNAL_ID => check_external_id(s).map(|_| ()).map_err(|e| e.to_string()),
                MOBILE_PHONE => match normalize_phone(s) {
                    Ok(n) if n == *s => Ok(()),
                    Ok(n) => Err(format!("`{s}` is not normalised: store it as `{n}`")),
                    Err(e) => Err(e.to_string()),
                },
                _ => Ok(()),
            };
            ok.map_err(|m| format!("field `{name}`: {m}"))?;
        }
    }
    Ok(())
}

/// Applies one item of an upsert batch. The outer error is a storage
/// failure (the whole batch fails); the inner one refuses only this item,
/// which is checked completely before anything is written.
fn upsert_one(
    tables: &mut ContactTables<'_>,
    schema: &Schema,
    account: &str,
    index: usize,
    write: &ContactWrite,
    now: i64,
    next_seq: &mut u64,
) -> Result<Result<UpsertOk, ItemError>, StoreError> {
    if let Err(m) = check_write(schema, write) {
        return Ok(Err(ItemError::new(index, 422, "invalid_field", m)));
    }
    // Which contact does each identity in the write already belong to?
    let mut matches: Vec<(&str, &str, u64)> = Vec::new();
    for (which, (field, _)) in IDENTITIES.iter().enumerate() {
        if let Some(v) = write.identity(field)
            && let Some(seq) = tables.lookup(account, which, v)?
        {
            matches.push((field, v, seq));
        }
    }
    let target = match &write.id {
        Some(id) => {
            let seq = match contact_seq(id) {
                Some(s) if tables.exists(account, s)? => Some(s),
                _ => None,
            };
            let Some(seq) = seq else {
                return Ok(Err(ItemError::new(
                    index,
                    404,
                    "not_found",
                    format!("no contact has id `{id}`"),
                )));
            };
            if let Some((field, v, other)) = matches.iter().find(|m| m.2 != seq) {
                return Ok(Err(ItemError::new(
                    index,
                    409,
                    "identity_conflict",
                    format!(
                        "`{field}` `{v}` already belongs to contact `{}`, not to `{id}`",
                        contact_id(*other)
                    ),
                )));
            }
            Some(seq)
        }
        None => {
            if let Some(&(f1, v1, s1)) = matches.first()
                && let Some(&(f2, v2, s2)) = matches.iter().find(|m| m.2 != s1)
            {
                return Ok(Err(ItemError::new(
                    index,
                    409,
                    "identity_conflict",
                    format!(
                        "`{f1}` `{v1}` belongs to contact `{}` but `{f2}` `{v2}` belongs to contact `{}`: one item cannot match two contacts",
                        contact_id(s1),
                        contact_id(s2)
                    ),
                )));
            }
            matches.first().map(|m| m.2)
        }
    };
    let (seq, old) = match target {
        Some(seq) => (seq, tables.load(account, seq)?),
        None => {
            let seq = *next_seq;
            *next_seq += 1;
            (seq, None)
        }
    };
    let created = old.is_none();
    let mut contact = old.clone().unwrap_or_else(|| Contact {
        id: contact_id(seq),
        fields: BTreeMap::new(),
    });
    apply_write(&mut contact, write, created, now);
    tables.save(account, seq, old.as_ref(), &contact)?;
    Ok(Ok(UpsertOk {
        index,
        id: contact.id.clone(),
        created,
        contact,
    }))
}

/// Streams an account's contacts in seq order within one read transaction.
pub(crate) fn scan_contacts(
    txn: &ReadTransaction,
    account: &str,
    mut f: impl FnMut(u64, Contact),
) -> Result<(), StoreError> {
    let t = txn.open_table(CONTACTS)?;
    for item in t.range((account, 0u64)..=(account, u64::MAX))? {
        let (k, v) = item?;
        let seq = k.value().1;
        f(
            seq,
            Contact {
                id: contact_id(seq),
                fields: decode_fields(v.value())?,
            },
        );
    }
    Ok(())
}

/// Reads the next contact seq of an account from its counter.
pub(crate) fn next_contact_seq(
    counters: &impl ReadableTable<(&'static str, &'static str), u64>,
    account: &str,
) -> Result<u64, StoreError> {
    Ok(counters.get((account, "contact"))?.map_or(0, |g| g.value()))
}

impl Store {
    /// An account's field schema (only standard fields until some are added).
    pub fn schema(&self, account: &str) -> Result<Schema, StoreError> {
        let txn = self.read()?;
        load_schema(&txn.open_table(SCHEMAS)?, account)
    }

    /// Declares a custom field and returns the new schema. An invalid or
    /// standard name is [`StoreError::Invalid`]; a name already declared (in
    /// any letter case) is [`StoreError::Conflict`].
    pub fn add_field(&self, account: &str, def: FieldDef) -> Result<Schema, StoreError> {
        self.write(|txn| {
            ensure_account(txn, account)?;
            let mut t = txn.open_table(SCHEMAS)?;
            let mut schema = load_schema(&t, account)?;
            match schema.check_new_field(&def) {
                Ok(()) => {}
                Err(e @ FieldDeclError::AlreadyDeclared(_)) => {
                    return Err(StoreError::Conflict(e.to_string()));
                }
                Err(e) => return Err(StoreError::Invalid(e.to_string())),
            }
            schema.custom.push(def);
            t.insert(account, serde_json::to_vec(&schema)?.as_slice())?;
            Ok(schema)
        })
    }

    /// Deletes a custom field and, in the same transaction, its values from
    /// every contact; returns the new schema and the contacts that changed.
    /// A standard field is [`StoreError::Invalid`]; an undeclared one
    /// [`StoreError::NotFound`].
    pub fn delete_field(
        &self,
        account: &str,
        name: &str,
    ) -> Result<(Schema, Vec<Contact>), StoreError> {
        self.write(|txn| {
            ensure_account(txn, account)?;
            if Schema::is_standard(name) {
                return Err(StoreError::Invalid(format!(
                    "`{name}` is a standard field and cannot be deleted"
                )));
            }
            let mut t = txn.open_table(SCHEMAS)?;
            let mut schema = load_schema(&t, account)?;
            let Some(pos) = schema.custom.iter().position(|f| f.name == name) else {
                return Err(StoreError::NotFound(format!(
                    "no custom field is named `{name}`"
                )));
            };
            schema.custom.remove(pos);
            t.insert(account, serde_json::to_vec(&schema)?.as_slice())?;

            let mut contacts = txn.open_table(CONTACTS)?;
            let mut changed = Vec::new();
            for item in contacts.range((account, 0u64)..=(account, u64::MAX))? {
                let (k, v) = item?;
                let mut fields = decode_fields(v.value())?;
                if fields.remove(name).is_some() {
                    changed.push(Contact {
                        id: contact_id(k.value().1),
                        fields,
                    });
                }
            }
            for c in &changed {
                let seq = contact_seq(&c.id).ok_or_else(|| StoreError::Corrupt(c.id.clone()))?;
                contacts.insert((account, seq), encode_fields(&c.fields).as_slice())?;
            }
            Ok((schema, changed))
        })
    }

    /// Upserts a batch of contact writes in ONE durable transaction, items in
    /// order (a later item sees earlier ones). Each item matches by explicit
    /// `id` (which must exist), else by `ExternalId`, `Email`
    /// (case-insensitive) or `MobilePhone`; no match creates a contact. An
    /// item whose identities belong to two different contacts (or, with an
    /// explicit id, to another contact) is refused with 409 and changes
    /// nothing; the other items are still written.
    pub fn upsert_contacts(
        &self,
        account: &str,
        writes: &[ContactWrite],
        now: i64,
    ) -> Result<Vec<Result<UpsertOk, ItemError>>, StoreError> {
        self.write(|txn| {
            ensure_account(txn, account)?;
            let schema = load_schema(&txn.open_table(SCHEMAS)?, account)?;
            let mut counters = txn.open_table(COUNTERS)?;
            let start = next_contact_seq(&counters, account)?;
            let mut next = start;
            let mut tables = ContactTables::open(txn)?;
            let mut out = Vec::with_capacity(writes.len());
            for (index, write) in writes.iter().enumerate() {
                out.push(upsert_one(
                    &mut tables,
                    &schema,
                    account,
                    index,
                    write,
                    now,
                    &mut next,
                )?);
            }
            if next != start {
                counters.insert((account, "contact"), next)?;
            }
            Ok(out)
        })
    }

    /// One contact by id (`None` for an unknown or malformed id).
    pub fn contact(&self, account: &str, id: &str) -> Result<Option<Contact>, StoreError> {
        let Some(seq) = contact_seq(id) else {
            return Ok(None);
        };
        let txn = self.read()?;
        let t = txn.open_table(CONTACTS)?;
        match t.get((account, seq))? {
            Some(v) => Ok(Some(Contact {
                id: contact_id(seq),
                fields: decode_fields(v.value())?,
            })),
            None => Ok(None),
        }
    }

    /// The contact whose `Email` matches case-insensitively.
    pub fn contact_by_email(
        &self,
        account: &str,
        email: &str,
    ) -> Result<Option<Contact>, StoreError> {
        let txn = self.read()?;
        let key = email_key(email);
        let Some(seq) = txn
            .open_table(BY_EMAIL)?
            .get((account, key.as_str()))?
            .map(|g| g.value())
        else {
            return Ok(None);
        };
        match txn.open_table(CONTACTS)?.get((account, seq))? {
            Some(v) => Ok(Some(Contact {
                id: contact_id(seq),
                fields: decode_fields(v.value())?,
            })),
            None => Ok(None),
        }
    }

    /// Erases a contact, its identity index entries, its events and their
    /// de-duplication ids, in one durable transaction. Its seq is never
    /// reused. Returns whether the contact existed. Usage already metered
    /// stays (it was billed).
    ///
    /// The log is keyed by event seq, so the caller names the contact's
    /// events: `event_seqs` must be all of them (the engine's index holds
    /// them, and its write lock keeps appends out meanwhile). A seq that is
    /// not stored or is another contact's refuses the whole erasure as
    /// [`StoreError::Corrupt`], changing nothing.
    pub fn delete_contact(
        &self,
        account: &str,
        id: &str,
        event_seqs: &[u64],
    ) -> Result<bool, StoreError> {
        let Some(seq) = contact_seq(id) else {
            return Ok(false);
        };
        self.write(|txn| {
            let mut tables = ContactTables::open(txn)?;
            if tables.remove(account, seq)?.is_none() {
                return Ok(false);
            }
            let mut log = txn.open_table(EVENT_LOG)?;
            let mut ids = Vec::new();
            for (event, logged) in remove_events(&mut log, account, event_seqs)? {
                let (_, body) = contacts_event(Some(&logged), event, seq)?;
                if let Some(id) = event_id(body)? {
                    ids.push(id);
                }
            }
            let mut dedup = txn.open_table(EVENT_IDS)?;
            for id in &ids {
                dedup.remove((account, id.as_str()))?;
            }
            Ok(true)
        })
    }

    /// Streams every contact of an account in seq order, from one consistent
    /// snapshot (an engine rebuild).
    pub fn for_each_contact(
        &self,
        account: &str,
        f: impl FnMut(u64, Contact),
    ) -> Result<(), StoreError> {
        scan_contacts(&self.read()?, account, f)
    }

    /// The number of contact seqs ever issued in an account (erased ones
    /// included): every live seq is below it, so the engine can size its
    /// per-contact arrays.
    pub fn contact_seq_bound(&self, account: &str) -> Result<u64, StoreError> {
        let txn = self.read()?;
        next_contact_seq(&txn.open_table(COUNTERS)?, account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::store;
    use flowseg_model::FieldType;

    fn w(pairs: &[(&str, Option<Value>)]) -> ContactWrite {
        ContactWrite {
            id: None,
            set: pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
        }
    }

    fn text(s: &str) -> Option<Value> {
        Some(Value::Text(s.into()))
    }

    fn ok(r: &Result<UpsertOk, ItemError>) -> &UpsertOk {
        r.as_ref().unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn matches_by_identity_case_insensitively() {
        let (_d, s) = store();
        let r = s
            .upsert_contacts("acc", &[w(&[("Email", text("Ann@Example.com"))])], 100)
            .unwrap();
        let first = ok(&r[0]);
        assert!(first.created);
        assert_eq!(first.id, "c0");
        assert_eq!(
            first.contact.fields.get("CreateTime"),
            Some(&Value::Date(100))
        );

        let r = s
            .upsert_contacts(
                "acc",
                &[w(&[
                    ("Email", text("ann@EXAMPLE.com")),
                    ("FirstName", text("Ann")),
                ])],
                200,
            )
            .unwrap();
        let second = ok(&r[0]);
        assert!(!second.created);
        assert_eq!(second.id, "c0");
        // Stored as sent, still found by any case.
        assert_eq!(second.contact.text("Email"), Some("ann@EXAMPLE.com"));
        assert_eq!(
            second.contact.fields.get("CreateTime"),
            Some(&Value::Date(100))
        );
        assert_eq!(
            second.contact.fields.get("UpdateTime"),
            Some(&Value::Date(200))
        );
        let found = s
            .contact_by_email("acc", "ANN@example.COM")
            .unwrap()
            .unwrap();
        assert_eq!(found.text("FirstName"), Some("Ann"));

        // ExternalId takes priority and an item can add a phone.
        s.upsert_contacts(
            "acc",
            &[w(&[
                ("ExternalId", text("crm-1")),
                ("Email", text("ann@example.com")),
            ])],
            300,
        )
        .unwrap();
        let r = s
            .upsert_contacts(
                "acc",
                &[w(&[
                    ("ExternalId", text("crm-1")),
                    ("MobilePhone", text("+48600100200")),
                ])],
                400,
            )
            .unwrap();
        assert_eq!(ok(&r[0]).id, "c0");
        let r = s
            .upsert_contacts("acc", &[w(&[("MobilePhone", text("+48600100200"))])], 500)
            .unwrap();
        assert_eq!(ok(&r[0]).id, "c0");
    }

    #[test]
    fn identity_conflict_changes_nothing() {
        let (_d, s) = store();
        s.upsert_contacts(
            "acc",
            &[
                w(&[("Email", text("a@x.com"))]),
                w(&[("ExternalId", text("B"))]),
            ],
            1,
        )
        .unwrap();
        let before: Vec<_> = [s.contact("acc", "c0"), s.contact("acc", "c1")]
            .into_iter()
            .map(|c| c.unwrap().unwrap())
            .collect();
        let r = s
            .upsert_contacts(
                "acc",
                &[
                    w(&[
                        ("Email", text("A@x.com")),
                        ("ExternalId", text("B")),
                        ("FirstName", text("Zed")),
                    ]),
                    w(&[("Email", text("new@x.com"))]),
                ],
                2,
            )
            .unwrap();
        let e = r[0].as_ref().unwrap_err();
        assert_eq!(
            (e.index, e.status, e.code.as_str()),
            (0, 409, "identity_conflict")
        );
        assert!(e.message.contains("`ExternalId` `B`") && e.message.contains("`Email` `A@x.com`"));
        assert!(e.message.contains("`c0`") && e.message.contains("`c1`"));
        assert_eq!(ok(&r[1]).id, "c2");
        let after: Vec<_> = [s.contact("acc", "c0"), s.contact("acc", "c1")]
            .into_iter()
            .map(|c| c.unwrap().unwrap())
            .collect();
        assert_eq!(before, after);

        // Setting an identity held by another contact through an explicit id.
        let mut steal = w(&[("Email", text("a@X.com"))]);
        steal.id = Some("c1".into());
        let r = s.upsert_contacts("acc", &[steal], 3).unwrap();
        assert_eq!(r[0].as_ref().unwrap_err().status, 409);
        assert_eq!(s.contact("acc", "c1").unwrap(), Some(after[1].clone()));
    }

    #[test]
    fn explicit_ids_and_bad_items() {
        let (_d, s) = store();
        s.add_field(
            "acc",
            FieldDef {
                name: "Age".into(),
                field_type: FieldType::Number,
            },
        )
        .unwrap();
        let mut unknown = w(&[("FirstName", text("X"))]);
        unknown.id = Some("c42".into());
        let r = s
            .upsert_contacts(
                "acc",
                &[
                    w(&[
                        ("Email", text("a@x.com")),
                        ("Age", Some(Value::Number(3.0))),
                    ]),
                    unknown,
                    w(&[("Colour", text("red"))]),
                    w(&[("Age", text("old"))]),
                    w(&[("MobilePhone", text("+48 600"))]),
                    w(&[("Email", text("b@x.com"))]),
                ],
                1,
            )
            .unwrap();
        assert_eq!(ok(&r[0]).id, "c0");
        assert_eq!(r[1].as_ref().unwrap_err().status, 404);
        assert_eq!(r[2].as_ref().unwrap_err().status, 422);
        assert!(r[2].as_ref().unwrap_err().message.contains("`Colour`"));
        assert_eq!(r[3].as_ref().unwrap_err().status, 422);
        assert_eq!(r[4].as_ref().unwrap_err().status, 422);
        assert_eq!(ok(&r[5]).id, "c1");

        // An explicit id may change and clear identities; indexes follow.
        let mut change = w(&[("Email", text("z@x.com"))]);
        change.id = Some("c0".into());
        let mut clear = w(&[("Email", None)]);
        clear.id = Some("c1".into());
        let r = s.upsert_contacts("acc", &[change, clear], 2).unwrap();
        assert!(r.iter().all(Result::is_ok));
        assert_eq!(s.contact_by_email("acc", "a@x.com").unwrap(), None);
        assert_eq!(s.contact_by_email("acc", "b@x.com").unwrap(), None);
        assert_eq!(
            s.contact_by_email("acc", "z@x.com").unwrap().unwrap().id,
            "c0"
        );
        // The freed email can now be taken by a new contact; a later item in
        // the same batch sees it.
        let r = s
            .upsert_contacts(
                "acc",
                &[
                    w(&[("Email", text("a@x.com"))]),
                    w(&[("Email", text("A@X.COM")), ("LastName", text("L"))]),
                ],
                3,
            )
            .unwrap();
        assert_eq!(ok(&r[0]).id, "c2");
        assert_eq!(ok(&r[1]).id, "c2");
        assert!(!ok(&r[1]).created);

        // Unknown accounts are refused whole.
        assert!(matches!(
            s.upsert_contacts("nope", &[w(&[])], 1),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn delete_field_clears_values() {
        let (_d, s) = store();
        let age = FieldDef {
            name: "Age".into(),
            field_type: FieldType::Number,
        };
        s.add_field("acc", age.clone()).unwrap();
        assert!(matches!(
            s.add_field(
                "acc",
                FieldDef {
                    name: "age".into(),
                    ..age.clone()
                }
            ),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.add_field(
                "acc",
                FieldDef {
                    name: "Email".into(),
                    ..age.clone()
                }
            ),
            Err(StoreError::Invalid(_))
        ));
        s.upsert_contacts(
            "acc",
            &[
                w(&[("Age", Some(Value::Number(3.0)))]),
                w(&[("FirstName", text("B"))]),
            ],
            1,
        )
        .unwrap();
        assert!(matches!(
            s.delete_field("acc", "Email"),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            s.delete_field("acc", "Nope"),
            Err(StoreError::NotFound(_))
        ));
        let (schema, changed) = s.delete_field("acc", "Age").unwrap();
        assert!(schema.custom.is_empty());
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].id, "c0");
        assert!(
            !s.contact("acc", "c0")
                .unwrap()
                .unwrap()
                .fields
                .contains_key("Age")
        );
        assert_eq!(s.schema("acc").unwrap(), schema);
        // Re-declared with another type, the old values do not come back.
        s.add_field(
            "acc",
            FieldDef {
                name: "Age".into(),
                field_type: FieldType::Text,
            },
        )
        .unwrap();
        assert!(
            !s.contact("acc", "c0")
                .unwrap()
                .unwrap()
                .fields
                .contains_key("Age")
        );
    }

    #[test]
    fn for_each_contact_and_seq_bound() {
        let (_d, s) = store();
        let writes: Vec<_> = (0..5)
            .map(|i| w(&[("ExternalId", text(&format!("x{i}")))]))
            .collect();
        s.upsert_contacts("acc", &writes, 1).unwrap();
        assert!(s.delete_contact("acc", "c2", &[]).unwrap());
        assert!(!s.delete_contact("acc", "c2", &[]).unwrap());
        let mut seen = Vec::new();
        s.for_each_contact("acc", |seq, c| seen.push((seq, c.id)))
            .unwrap();
        assert_eq!(
            seen,
            vec![
                (0, "c0".into()),
                (1, "c1".into()),
                (3, "c3".into()),
                (4, "c4".into())
            ]
        );
        assert_eq!(s.contact_seq_bound("acc").unwrap(), 5);
        // Seqs are never reused, and the erased identity is free again.
        let r = s
            .upsert_contacts("acc", &[w(&[("ExternalId", text("x2"))])], 2)
            .unwrap();
        assert_eq!(ok(&r[0]).id, "c5");
    }
}
