//! Segment definitions (unique names per account) and snapshots: frozen
//! member lists, stored in chunks so a large send list is not one value.

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::codec::{decode_strings, encode_strings};
use crate::tables::{COUNTERS, SEGMENT_NAMES, SEGMENTS, SNAPSHOT_MEMBERS, SNAPSHOTS};
use crate::{Store, StoreError, ensure_account, take_counter};

/// Member ids per stored snapshot chunk (~100 KiB).
const CHUNK: usize = 10_000;

/// A saved segment. `rule` is kept as the JSON the rules crate validated,
/// so the store does not depend on the rule types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRecord {
    /// The segment id (issued by [`Store::create_segment`]); rules reference it.
    pub id: String,
    /// Unique per account (exact comparison).
    pub name: String,
    /// Free text for people.
    pub description: String,
    /// The rule's JSON form (SPEC §2).
    pub rule: serde_json::Value,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
}

/// A snapshot with its members: the recipient list of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    /// The snapshot id (see [`Store::new_snapshot_id`]).
    pub id: String,
    /// The segment whose members were frozen.
    pub segment_id: String,
    /// When the snapshot was taken, epoch ms.
    pub taken_at: i64,
    /// The evaluation time the members were computed at, epoch ms.
    pub as_of: i64,
    /// The members' contact ids, in the order given.
    pub member_ids: Vec<String>,
}

/// A snapshot without its members, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// As in [`SnapshotRecord`].
    pub id: String,
    /// As in [`SnapshotRecord`].
    pub segment_id: String,
    /// As in [`SnapshotRecord`].
    pub taken_at: i64,
    /// As in [`SnapshotRecord`].
    pub as_of: i64,
    /// The number of members.
    pub count: u64,
}

fn scan<T: serde::de::DeserializeOwned>(
    t: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    account: &str,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for item in t.range((account, "")..)? {
        let (k, v) = item?;
        if k.value().0 != account {
            break;
        }
        out.push(serde_json::from_slice(v.value())?);
    }
    Ok(out)
}

/// The counter of an account's segment ids.
const SEGMENT_COUNTER: &str = "segment";

/// The id of the account's `n`-th segment (from 0): `seg_{n + 1}`.
fn segment_id(n: u64) -> String {
    format!("seg_{}", n + 1)
}

/// [`Store::put_segment`] inside a write transaction whose account exists.
fn put_in(txn: &WriteTransaction, account: &str, seg: &SegmentRecord) -> Result<(), StoreError> {
    let mut segments = txn.open_table(SEGMENTS)?;
    let mut names = txn.open_table(SEGMENT_NAMES)?;
    if let Some(holder) = names.get((account, seg.name.as_str()))?
        && holder.value() != seg.id
    {
        return Err(StoreError::Conflict(format!(
            "a segment named `{}` already exists",
            seg.name
        )));
    }
    let old: Option<SegmentRecord> = segments
        .get((account, seg.id.as_str()))?
        .map(|v| serde_json::from_slice(v.value()))
        .transpose()?;
    if let Some(old) = old
        && old.name != seg.name
    {
        names.remove((account, old.name.as_str()))?;
    }
    names.insert((account, seg.name.as_str()), seg.id.as_str())?;
    segments.insert(
        (account, seg.id.as_str()),
        serde_json::to_vec(seg)?.as_slice(),
    )?;
    Ok(())
}

impl Store {
    /// The id the account's next created segment will get, unless another
    /// is created first: what a new segment's rule is checked against for
    /// references to itself before [`Store::create_segment`] issues the id.
    pub fn next_segment_id(&self, account: &str) -> Result<String, StoreError> {
        let txn = self.read()?;
        let counters = txn.open_table(COUNTERS)?;
        let next = counters
            .get((account, SEGMENT_COUNTER))?
            .map_or(0, |g| g.value());
        Ok(segment_id(next))
    }

    /// Creates a segment under a fresh id (`seg_1`, `seg_2`, ...), which
    /// replaces `seg.id`, and returns it. The id is issued in the same
    /// transaction that stores the segment, so a refused creation (a name
    /// already taken) changes nothing, not even the next id.
    pub fn create_segment(
        &self,
        account: &str,
        mut seg: SegmentRecord,
    ) -> Result<SegmentRecord, StoreError> {
        self.write(|txn| {
            ensure_account(txn, account)?;
            seg.id = segment_id(take_counter(txn, account, SEGMENT_COUNTER)?);
            put_in(txn, account, &seg)?;
            Ok(seg)
        })
    }

    /// Creates or replaces a segment. A name another segment of the account
    /// has (exactly) is a [`StoreError::Conflict`] and changes nothing.
    pub fn put_segment(&self, account: &str, seg: &SegmentRecord) -> Result<(), StoreError> {
        self.write(|txn| {
            ensure_account(txn, account)?;
            put_in(txn, account, seg)
        })
    }

    /// One segment by id.
    pub fn segment(&self, account: &str, id: &str) -> Result<Option<SegmentRecord>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(SEGMENTS)?;
        match t.get((account, id))? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    /// Every segment of an account, oldest first.
    pub fn segments(&self, account: &str) -> Result<Vec<SegmentRecord>, StoreError> {
        let txn = self.read()?;
        let mut out: Vec<SegmentRecord> = scan(&txn.open_table(SEGMENTS)?, account)?;
        // Creation order; ids of one instant in issue order (`seg_2` before `seg_10`).
        out.sort_by(|a, b| {
            (a.created_at, a.id.len(), &a.id).cmp(&(b.created_at, b.id.len(), &b.id))
        });
        Ok(out)
    }

    /// Deletes a segment (its snapshots stay: they record past sends).
    /// Returns whether it existed.
    pub fn delete_segment(&self, account: &str, id: &str) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut segments = txn.open_table(SEGMENTS)?;
            let Some(old) = segments
                .remove((account, id))?
                .map(|v| serde_json::from_slice::<SegmentRecord>(v.value()))
                .transpose()?
            else {
                return Ok(false);
            };
            txn.open_table(SEGMENT_NAMES)?
                .remove((account, old.name.as_str()))?;
            Ok(true)
        })
    }

    /// Issues a fresh snapshot id for an account (`snap_1`, ...).
    pub fn new_snapshot_id(&self, account: &str) -> Result<String, StoreError> {
        self.write(|txn| {
            ensure_account(txn, account)?;
            Ok(format!(
                "snap_{}",
                take_counter(txn, account, "snapshot")? + 1
            ))
        })
    }

    /// Stores a snapshot and its members (in chunks) durably. Snapshots are
    /// immutable: an id already used is a [`StoreError::Conflict`].
    pub fn put_snapshot(&self, account: &str, snap: &SnapshotRecord) -> Result<(), StoreError> {
        self.write(|txn| {
            ensure_account(txn, account)?;
            let mut metas = txn.open_table(SNAPSHOTS)?;
            if metas.get((account, snap.id.as_str()))?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "snapshot `{}` already exists",
                    snap.id
                )));
            }
            let meta = SnapshotMeta {
                id: snap.id.clone(),
                segment_id: snap.segment_id.clone(),
                taken_at: snap.taken_at,
                as_of: snap.as_of,
                count: snap.member_ids.len() as u64,
            };
            metas.insert(
                (account, snap.id.as_str()),
                serde_json::to_vec(&meta)?.as_slice(),
            )?;
            let mut members = txn.open_table(SNAPSHOT_MEMBERS)?;
            for (n, chunk) in snap.member_ids.chunks(CHUNK).enumerate() {
                let n = u32::try_from(n)
                    .map_err(|_| StoreError::Invalid("the snapshot is too large".into()))?;
                members.insert(
                    (account, snap.id.as_str(), n),
                    encode_strings(chunk).as_slice(),
                )?;
            }
            Ok(())
        })
    }

    /// One snapshot with all its members, in the order they were stored.
    pub fn snapshot(&self, account: &str, id: &str) -> Result<Option<SnapshotRecord>, StoreError> {
        let txn = self.read()?;
        let Some(meta) = txn
            .open_table(SNAPSHOTS)?
            .get((account, id))?
            .map(|v| serde_json::from_slice::<SnapshotMeta>(v.value()))
            .transpose()?
        else {
            return Ok(None);
        };
        let t = txn.open_table(SNAPSHOT_MEMBERS)?;
        let mut member_ids = Vec::with_capacity(usize::try_from(meta.count).unwrap_or(0));
        for item in t.range((account, id, 0u32)..=(account, id, u32::MAX))? {
            let (_, v) = item?;
            decode_strings(v.value(), &mut member_ids)?;
        }
        if member_ids.len() as u64 != meta.count {
            return Err(StoreError::Corrupt(format!(
                "snapshot `{id}` holds {} members, not {}",
                member_ids.len(),
                meta.count
            )));
        }
        Ok(Some(SnapshotRecord {
            id: meta.id,
            segment_id: meta.segment_id,
            taken_at: meta.taken_at,
            as_of: meta.as_of,
            member_ids,
        }))
    }

    /// The snapshots of an account (or of one segment), oldest first.
    pub fn snapshots(
        &self,
        account: &str,
        segment_id: Option<&str>,
    ) -> Result<Vec<SnapshotMeta>, StoreError> {
        let txn = self.read()?;
        let mut out: Vec<SnapshotMeta> = scan(&txn.open_table(SNAPSHOTS)?, account)?;
        if let Some(seg) = segment_id {
            out.retain(|m| m.segment_id == seg);
        }
        out.sort_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)));
        Ok(out)
    }
}

/// The id of the segment that rule text names by `label`: a segment whose
/// id it is, else the one whose name it is (names are unique per account).
/// Shared by the API and the CLI, which read `in segment "X"` the same way.
pub fn resolve_segment_label(segments: &[SegmentRecord], label: &str) -> Option<String> {
    segments
        .iter()
        .find(|s| s.id == label)
        .or_else(|| segments.iter().find(|s| s.name == label))
        .map(|s| s.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::store;
    use serde_json::json;

    fn seg(id: &str, name: &str) -> SegmentRecord {
        SegmentRecord {
            id: id.into(),
            name: name.into(),
            description: "d".into(),
            rule: json!({"all": []}),
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn segment_names_are_unique() {
        let (_d, s) = store();
        assert_eq!(s.next_segment_id("acc").unwrap(), "seg_1");
        let a = s.create_segment("acc", seg("", "vip")).unwrap().id;
        assert_eq!(a, "seg_1");
        // A refused creation issues no id: the next one is still seg_2.
        assert!(matches!(
            s.create_segment("acc", seg("", "vip")),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.next_segment_id("acc").unwrap(), "seg_2");
        let b = "seg_2".to_string();
        assert!(matches!(
            s.put_segment("acc", &seg(&b, "vip")),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.segment("acc", &b).unwrap(), None);
        s.put_segment("acc", &seg(&b, "VIP")).unwrap();
        // Renaming frees the old name; re-saving under the same name is fine.
        s.put_segment("acc", &seg(&a, "gold")).unwrap();
        s.put_segment("acc", &seg(&a, "gold")).unwrap();
        s.put_segment("acc", &seg(&b, "vip")).unwrap();
        let names: Vec<_> = s
            .segments("acc")
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, vec!["gold", "vip"]);
        assert!(s.delete_segment("acc", &a).unwrap());
        assert!(!s.delete_segment("acc", &a).unwrap());
        s.put_segment("acc", &seg("seg_x", "gold")).unwrap();
        assert_eq!(
            s.segment("acc", "seg_x").unwrap().unwrap().rule,
            json!({"all": []})
        );
    }

    #[test]
    fn snapshots_round_trip() {
        let (d, s) = store();
        let members: Vec<String> = (0..25_001).map(|i| format!("c{i}")).collect();
        let id = s.new_snapshot_id("acc").unwrap();
        let snap = SnapshotRecord {
            id: id.clone(),
            segment_id: "seg_1".into(),
            taken_at: 10,
            as_of: 9,
            member_ids: members,
        };
        s.put_snapshot("acc", &snap).unwrap();
        assert!(matches!(
            s.put_snapshot("acc", &snap),
            Err(StoreError::Conflict(_))
        ));
        let empty = SnapshotRecord {
            id: s.new_snapshot_id("acc").unwrap(),
            segment_id: "seg_2".into(),
            taken_at: 11,
            as_of: 11,
            member_ids: vec![],
        };
        s.put_snapshot("acc", &empty).unwrap();
        drop(s);
        let s = Store::open(d.path()).unwrap();
        assert_eq!(s.snapshot("acc", &id).unwrap(), Some(snap));
        assert_eq!(s.snapshot("acc", &empty.id).unwrap(), Some(empty.clone()));
        assert_eq!(s.snapshot("acc", "nope").unwrap(), None);
        let all = s.snapshots("acc", None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].count, 25_001);
        let one = s.snapshots("acc", Some("seg_2")).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].id, empty.id);
    }
}
