//! The event log's blocks: runs of consecutive events stored as one value.
//!
//! The log is keyed `(account, first event seq)`; each value holds up to
//! [`BLOCK_EVENTS`] events (or about [`BLOCK_BYTES`]) of one append, in seq
//! order. A B-tree insert costs far more than the bytes it stores (per event
//! it was four fifths of a bulk import's time), so an append of a thousand
//! events makes a handful of inserts instead of a thousand.
//!
//! Blocks hold disjoint seq ranges: a block keyed `f` holds only seqs from
//! `f` up to (not including) the next block's key, so the block that may
//! hold seq `s` is the last one keyed at or below `s`. Erasing events
//! rewrites their blocks without them (a block keeps its key, and an empty
//! block is removed).
//!
//! A block's *entries* are, per event: the seq minus the block's key
//! (varint), the length of the logged value (varint), and the logged value
//! (the contact seq, the time, the encoded body; see
//! `events::encode_logged`). A stored block is a layout byte, then either
//! the entries as they are ([`PLAIN`]) or their length (varint) and the
//! entries compressed with LZ4 ([`LZ4`]). Compression roughly halves what
//! a bulk import writes and commits, which was half of its time (the
//! commit's cost grows with the bytes, not the number of commits); see
//! docs/ARCHITECTURE.md for the measurements. A block that would not shrink, such as one event of
//! a single-event request, is stored plain.

use std::ops::Range;

use redb::{ReadableTable, Table};

use crate::StoreError;
use crate::codec::{Reader, put_varint};

/// Layout byte of a block stored as it is (the first layout of blocks,
/// before compression, was this too).
const PLAIN: u8 = 1;
/// Layout byte of an LZ4-compressed block.
const LZ4: u8 = 2;

/// LZ4 expands its input at most this many times (a match token of one
/// byte stands for at most 255 more bytes), so a compressed block claiming
/// more is damaged, and is refused before anything is allocated for it.
const LZ4_MAX_RATIO: usize = 255;

/// Events per block at most. Reading one event (a listing) decodes the
/// lengths of the events before it in its block, and erasing one rewrites
/// its block, so blocks stay small.
pub(crate) const BLOCK_EVENTS: usize = 256;

/// A block is closed once its entries hold this many bytes (before
/// compression). Bulk import at `medium`, uncompressed blocks, one run per
/// size: 858k events/s at 3.8 KB, 1.10M at 7.8 KB, 1.01M at 16 KB, 1.28M at
/// 31 KB (the machine's noise is as large as the differences above 4 KB).
/// Compressed, 16 KB of entries take about one 8 KiB page.
pub(crate) const BLOCK_BYTES: usize = 16 * 1024;

/// The log table: (account, first event seq) → block.
pub(crate) type LogTable<'t> = Table<'t, (&'static str, u64), &'static [u8]>;

/// Builds one block from events given in ascending seq order.
pub(crate) struct BlockBuilder {
    /// The block's key: its first event's seq, unless set by [`keyed`].
    ///
    /// [`keyed`]: BlockBuilder::keyed
    key: Option<u64>,
    count: usize,
    /// The entries so far.
    raw: Vec<u8>,
    /// The stored form, reused from block to block.
    stored: Vec<u8>,
}

impl BlockBuilder {
    pub(crate) fn new() -> Self {
        BlockBuilder {
            key: None,
            count: 0,
            raw: Vec::new(),
            stored: Vec::new(),
        }
    }

    /// A builder that rewrites the block keyed `key` (its events keep
    /// their seqs whichever of them remain).
    fn keyed(key: u64) -> Self {
        BlockBuilder {
            key: Some(key),
            ..BlockBuilder::new()
        }
    }

    /// Adds event `seq` with its logged value; seqs must ascend.
    pub(crate) fn push(&mut self, seq: u64, logged: &[u8]) {
        if self.count == 0 {
            self.raw.clear();
        }
        let key = *self.key.get_or_insert(seq);
        debug_assert!(seq >= key, "a block's events ascend from its key");
        put_varint(&mut self.raw, seq - key);
        put_varint(&mut self.raw, logged.len() as u64);
        self.raw.extend_from_slice(logged);
        self.count += 1;
    }

    pub(crate) fn is_full(&self) -> bool {
        self.count >= BLOCK_EVENTS || self.raw.len() >= BLOCK_BYTES
    }

    /// Writes the block (if it holds anything) and starts an empty one.
    pub(crate) fn write(
        &mut self,
        log: &mut LogTable<'_>,
        account: &str,
    ) -> Result<(), StoreError> {
        if let (Some(key), true) = (self.key.take(), self.count > 0) {
            encode_block(&self.raw, &mut self.stored);
            log.insert((account, key), self.stored.as_slice())?;
        }
        self.count = 0;
        Ok(())
    }
}

/// A block's stored form: compressed, unless that would not shrink it.
fn encode_block(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.push(LZ4);
    put_varint(out, raw.len() as u64);
    let start = out.len();
    out.resize(
        start + lz4_flex::block::get_maximum_output_size(raw.len()),
        0,
    );
    match lz4_flex::block::compress_into(raw, &mut out[start..]) {
        Ok(n) if start + n < 1 + raw.len() => out.truncate(start + n),
        // Sized for the worst case, so an error cannot happen; either way
        // the block is stored plain.
        _ => {
            out.clear();
            out.push(PLAIN);
            out.extend_from_slice(raw);
        }
    }
}

/// A stored block's entries: borrowed when it is plain, otherwise
/// decompressed into `scratch`.
pub(crate) fn block_entries<'a>(
    stored: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], StoreError> {
    let mut r = Reader::unversioned(stored, "event block");
    match r.byte()? {
        PLAIN => Ok(r.rest()),
        LZ4 => {
            let n = r.len()?;
            if n > r.rest().len().saturating_mul(LZ4_MAX_RATIO) + 16 {
                return Err(r.corrupt(&format!(
                    "{n} bytes claimed from {} compressed",
                    r.rest().len()
                )));
            }
            scratch.clear();
            scratch.resize(n, 0);
            match lz4_flex::block::decompress_into(r.rest(), scratch) {
                Ok(got) if got == n => Ok(scratch.as_slice()),
                Ok(got) => Err(r.corrupt(&format!("{got} bytes decompressed, {n} expected"))),
                Err(e) => Err(r.corrupt(&format!("LZ4: {e}"))),
            }
        }
        v => Err(r.corrupt(&format!("unknown block layout {v}"))),
    }
}

/// A stored block's entries, owned (reads of single events and erasure:
/// rare paths, where one more copy of a block does not matter).
fn owned_entries(stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut scratch = Vec::new();
    Ok(block_entries(stored, &mut scratch)?.to_vec())
}

/// Appends events to the log in blocks. Consecutive batches of one account
/// in a transaction have consecutive seqs, so they share blocks (a group
/// commit of single-event requests makes one insert, not one per request).
pub(crate) struct LogWriter<'t> {
    log: LogTable<'t>,
    block: BlockBuilder,
    /// The account of the block being filled.
    account: String,
}

impl<'t> LogWriter<'t> {
    pub(crate) fn new(log: LogTable<'t>) -> Self {
        LogWriter {
            log,
            block: BlockBuilder::new(),
            account: String::new(),
        }
    }

    /// Adds `account`'s event `seq` (seqs ascend per account), writing the
    /// block being filled first if it is another account's, and after if
    /// it is full.
    pub(crate) fn push(
        &mut self,
        account: &str,
        seq: u64,
        logged: &[u8],
    ) -> Result<(), StoreError> {
        if self.account != account {
            self.close_block()?;
            self.account.clear();
            self.account.push_str(account);
        }
        self.block.push(seq, logged);
        if self.block.is_full() {
            self.close_block()?;
        }
        Ok(())
    }

    /// Writes the block being filled, if any. Must be called before the
    /// transaction commits, or the block's events are lost.
    pub(crate) fn close_block(&mut self) -> Result<(), StoreError> {
        self.block.write(&mut self.log, &self.account)
    }
}

/// The events in the entries of the block keyed `key` (see
/// [`block_entries`]), as (seq, logged value).
pub(crate) fn entries(
    raw: &[u8],
    key: u64,
) -> Result<impl Iterator<Item = Result<(u64, &[u8]), StoreError>>, StoreError> {
    let mut r = Reader::unversioned(raw, "event block");
    let mut failed = false;
    Ok(std::iter::from_fn(move || {
        if failed || r.at_end() {
            return None;
        }
        let next = (|| {
            let delta = r.varint()?;
            let seq = key
                .checked_add(delta)
                .ok_or_else(|| r.corrupt("event seq out of range"))?;
            let n = r.len()?;
            Ok((seq, r.bytes(n)?))
        })();
        failed = next.is_err();
        Some(next)
    }))
}

/// Where event `seq`'s logged value is in the entries of the block keyed
/// `key`, if there.
fn find(raw: &[u8], key: u64, seq: u64) -> Result<Option<Range<usize>>, StoreError> {
    let base = raw.as_ptr() as usize;
    for entry in entries(raw, key)? {
        let (s, value) = entry?;
        if s == seq {
            let start = value.as_ptr() as usize - base;
            return Ok(Some(start..start + value.len()));
        }
        if s > seq {
            break;
        }
    }
    Ok(None)
}

/// The block that may hold event `seq` (the last one keyed at or below
/// it), as its key and its entries.
fn block_holding<T>(log: &T, account: &str, seq: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError>
where
    T: ReadableTable<(&'static str, u64), &'static [u8]>,
{
    match log.range((account, 0u64)..=(account, seq))?.next_back() {
        Some(item) => {
            let (k, v) = item?;
            Ok(Some((k.value().1, owned_entries(v.value())?)))
        }
        None => Ok(None),
    }
}

/// Reads single events of one account's log by seq, keeping the last block
/// read (a contact's events are often near one another).
pub(crate) struct LogReader<'t, T> {
    log: &'t T,
    account: &'t str,
    /// The last block read: its key and entries.
    block: Option<(u64, Vec<u8>)>,
}

impl<'t, T> LogReader<'t, T>
where
    T: ReadableTable<(&'static str, u64), &'static [u8]>,
{
    pub(crate) fn new(log: &'t T, account: &'t str) -> Self {
        LogReader {
            log,
            account,
            block: None,
        }
    }

    /// Event `seq`'s logged value; `None` when it is not stored.
    pub(crate) fn get(&mut self, seq: u64) -> Result<Option<&[u8]>, StoreError> {
        let cached = match &self.block {
            Some((key, raw)) if *key <= seq => find(raw, *key, seq)?,
            _ => None,
        };
        if cached.is_none() {
            self.block = block_holding(self.log, self.account, seq)?;
        }
        let Some((key, raw)) = &self.block else {
            return Ok(None);
        };
        let range = match cached {
            Some(range) => range,
            None => match find(raw, *key, seq)? {
                Some(range) => range,
                None => return Ok(None),
            },
        };
        Ok(Some(&raw[range]))
    }
}

/// Removes events `seqs` from an account's log, rewriting each block that
/// held some of them; returns each removed event's (seq, logged value) in
/// seq order. A seq not stored is [`StoreError::Corrupt`] (the caller's
/// transaction is then aborted, so nothing changes).
pub(crate) fn remove_events(
    log: &mut LogTable<'_>,
    account: &str,
    seqs: &[u64],
) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let mut wanted = seqs.to_vec();
    wanted.sort_unstable();
    let not_stored = |seq: u64| StoreError::Corrupt(format!("event {seq} is not stored"));
    let mut removed = Vec::with_capacity(wanted.len());
    let mut i = 0;
    while let Some(&seq) = wanted.get(i) {
        let Some((key, block)) = block_holding(&*log, account, seq)? else {
            return Err(not_stored(seq));
        };
        let before = i;
        let mut kept = BlockBuilder::keyed(key);
        for entry in entries(&block, key)? {
            let (s, value) = entry?;
            // Seqs are sorted, so one below this event that was not met
            // before it is not stored.
            if let Some(&w) = wanted.get(i)
                && w < s
            {
                return Err(not_stored(w));
            }
            if wanted.get(i) == Some(&s) {
                removed.push((s, value.to_vec()));
                i += 1;
            } else {
                kept.push(s, value);
            }
        }
        if i == before {
            // The block that would hold `seq` does not.
            return Err(not_stored(seq));
        }
        if kept.count == 0 {
            log.remove((account, key))?;
        } else {
            kept.write(log, account)?;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::EVENT_LOG;
    use crate::testutil::store;

    fn write_blocks(s: &crate::Store, account: &str, blocks: &[&[(u64, &[u8])]]) {
        s.write(|txn| {
            let mut log = txn.open_table(EVENT_LOG)?;
            for events in blocks {
                let mut b = BlockBuilder::new();
                for (seq, v) in *events {
                    b.push(*seq, v);
                }
                b.write(&mut log, account)?;
            }
            Ok(())
        })
        .unwrap();
    }

    fn read(s: &crate::Store, account: &str, seqs: &[u64]) -> Vec<Option<Vec<u8>>> {
        let txn = s.read().unwrap();
        let log = txn.open_table(EVENT_LOG).unwrap();
        let mut r = LogReader::new(&log, account);
        seqs.iter()
            .map(|seq| r.get(*seq).unwrap().map(<[u8]>::to_vec))
            .collect()
    }

    #[test]
    fn events_are_found_in_their_blocks_and_nowhere_else() {
        let (_d, s) = store();
        write_blocks(
            &s,
            "a",
            &[
                &[(0, b"zero"), (1, b""), (2, b"two")],
                &[(5, b"five"), (7, b"seven")],
            ],
        );
        write_blocks(&s, "b", &[&[(3, b"other account")]]);
        let got = read(&s, "a", &[7, 0, 2, 1, 3, 4, 5, 6, 8]);
        let want: Vec<Option<Vec<u8>>> = [
            Some(&b"seven"[..]),
            Some(b"zero"),
            Some(b"two"),
            Some(b""),
            None,
            None,
            Some(b"five"),
            None,
            None,
        ]
        .iter()
        .map(|v| v.map(<[u8]>::to_vec))
        .collect();
        assert_eq!(got, want);
        assert_eq!(
            read(&s, "b", &[3, 2]),
            vec![Some(b"other account".to_vec()), None]
        );
    }

    #[test]
    fn removal_rewrites_blocks_and_refuses_what_is_not_stored() {
        let (_d, s) = store();
        write_blocks(
            &s,
            "a",
            &[
                &[(0, b"e0"), (1, b"e1"), (2, b"e2")],
                &[(3, b"e3")],
                &[(4, b"e4")],
            ],
        );
        let remove = |seqs: &[u64]| {
            s.write(|txn| {
                let mut log = txn.open_table(EVENT_LOG)?;
                remove_events(&mut log, "a", seqs)
            })
        };
        // Missing seqs anywhere in the list refuse it all.
        for bad in [&[1, 9][..], &[5], &[0, 0], &[3, 2, 7]] {
            assert!(
                matches!(remove(bad), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
        assert_eq!(read(&s, "a", &[0, 1, 2, 3, 4]).iter().flatten().count(), 5);
        // The first event of a block and a whole block.
        let removed = remove(&[3, 0]).unwrap();
        assert_eq!(removed, vec![(0, b"e0".to_vec()), (3, b"e3".to_vec())]);
        assert_eq!(
            read(&s, "a", &[0, 1, 2, 3, 4]),
            vec![
                None,
                Some(b"e1".to_vec()),
                Some(b"e2".to_vec()),
                None,
                Some(b"e4".to_vec())
            ]
        );
        // The remaining block keeps its key: removing from it still works.
        assert_eq!(remove(&[2]).unwrap(), vec![(2, b"e2".to_vec())]);
        assert!(matches!(remove(&[2]), Err(StoreError::Corrupt(_))));
        assert_eq!(read(&s, "a", &[1, 4]).iter().flatten().count(), 2);
    }

    #[test]
    fn a_block_closes_at_its_limits() {
        let mut b = BlockBuilder::new();
        for seq in 0..BLOCK_EVENTS as u64 {
            assert!(!b.is_full());
            b.push(seq, b"x");
        }
        assert!(b.is_full());
        let mut big = BlockBuilder::new();
        big.push(0, &vec![7u8; BLOCK_BYTES]);
        assert!(big.is_full());
    }

    #[test]
    fn blocks_are_compressed_when_that_shrinks_them() {
        let mut b = BlockBuilder::new();
        for seq in 0..100u64 {
            b.push(
                seq,
                b"contact 7, time 2026-06-30, url https://shop.example.com/pricing",
            );
        }
        let mut stored = Vec::new();
        encode_block(&b.raw, &mut stored);
        assert_eq!(stored[0], LZ4);
        assert!(
            stored.len() < b.raw.len() / 4,
            "{} of {}",
            stored.len(),
            b.raw.len()
        );
        let mut scratch = Vec::new();
        assert_eq!(
            block_entries(&stored, &mut scratch).unwrap(),
            b.raw.as_slice()
        );
        assert_eq!(owned_entries(&stored).unwrap(), b.raw);
        // One short event does not shrink: it is stored as it is.
        let mut one = BlockBuilder::new();
        one.push(5, b"abc");
        encode_block(&one.raw, &mut stored);
        assert_eq!(stored[0], PLAIN);
        assert_eq!(
            block_entries(&stored, &mut scratch).unwrap(),
            one.raw.as_slice()
        );
        let got: Vec<_> = entries(&one.raw, 5).unwrap().map(Result::unwrap).collect();
        assert_eq!(got, vec![(5, &b"abc"[..])]);
    }

    #[test]
    fn a_damaged_block_is_an_error_not_a_panic() {
        let mut b = BlockBuilder::new();
        for seq in 10..60u64 {
            b.push(seq, b"abcabcabcabcabcabc");
        }
        // Damaged entries: the last event is cut short.
        let mut damaged = b.raw.clone();
        damaged.truncate(damaged.len() - 1);
        let all: Vec<_> = entries(&damaged, 10).unwrap().collect();
        assert!(matches!(all.last(), Some(Err(StoreError::Corrupt(_)))));
        // A damaged stored block: cut short, a wrong length, an unknown layout.
        let mut stored = Vec::new();
        encode_block(&b.raw, &mut stored);
        assert_eq!(stored[0], LZ4);
        let mut scratch = Vec::new();
        let cut = &stored[..stored.len() - 2];
        assert!(matches!(
            block_entries(cut, &mut scratch),
            Err(StoreError::Corrupt(_))
        ));
        let mut longer = stored.clone();
        longer[1] = longer[1].wrapping_add(1);
        assert!(block_entries(&longer, &mut scratch).is_err());
        let mut huge = vec![LZ4];
        put_varint(&mut huge, u64::MAX >> 1);
        assert!(block_entries(&huge, &mut scratch).is_err());
        assert!(block_entries(&[9, 1, 2], &mut scratch).is_err());
        assert!(block_entries(&[], &mut scratch).is_err());
    }
}
