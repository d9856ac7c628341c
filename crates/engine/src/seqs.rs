//! The event seq of each row of a partition (its key in the store's log),
//! kept compressed: a seq is read only to list a contact's events or to
//! name them for erasure, never while a rule is evaluated, yet four bytes
//! a row were an eighth of the index at `large`.
//!
//! Base rows are sorted by (contact, time), and a contact's events mostly
//! arrive in time order, so each row's seq is stored as its difference
//! from the row before, zigzagged and in LEB128: one byte for events of
//! one contact stored one after another (a bulk import), two or three for
//! a contact's events arriving among many others' (a live stream). Every
//! [`BLOCK`]-th row starts afresh with its whole seq and its byte position
//! is marked, so a row is found by decoding at most a block. Rows of the
//! pending tail keep a plain `u32` until the next merge.

use std::ops::Range;

/// Rows per marked block.
const BLOCK: usize = 128;

#[derive(Debug, Clone, Default)]
pub(crate) struct Seqs {
    /// The base rows' seqs, encoded as the module says.
    bytes: Vec<u8>,
    /// The byte position of every [`BLOCK`]-th base row.
    marks: Vec<u64>,
    base_len: usize,
    /// The tail rows' seqs, in row order.
    tail: Vec<u32>,
}

impl Seqs {
    /// The seqs of a merged base, `seqs[r]` being row `r`'s.
    pub(crate) fn of_base(seqs: &[u32]) -> Seqs {
        let mut bytes = Vec::with_capacity(seqs.len() + seqs.len() / 8);
        let mut marks = Vec::with_capacity(seqs.len().div_ceil(BLOCK));
        for block in seqs.chunks(BLOCK) {
            marks.push(bytes.len() as u64);
            let mut previous = 0u32;
            for &seq in block {
                put_varint(&mut bytes, zigzag(i64::from(seq) - i64::from(previous)));
                previous = seq;
            }
        }
        bytes.shrink_to_fit();
        Seqs {
            bytes,
            marks,
            base_len: seqs.len(),
            tail: Vec::new(),
        }
    }

    /// Appends a tail row's seq.
    pub(crate) fn push(&mut self, seq: u32) {
        self.tail.push(seq);
    }

    pub(crate) fn len(&self) -> usize {
        self.base_len + self.tail.len()
    }

    /// Every row's seq, in row order (for a merge or a snapshot).
    pub(crate) fn all(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.len());
        out.extend(self.base_run(0..self.base_len as u32));
        out.extend_from_slice(&self.tail);
        out
    }

    /// The seqs of `rows` (ascending or not; base rows read in ascending
    /// runs are decoded in one pass).
    pub(crate) fn of_rows(&self, rows: &[u32]) -> Vec<u32> {
        let mut cursor = Cursor::default();
        rows.iter()
            .map(|&r| match (r as usize).checked_sub(self.base_len) {
                Some(t) => self.tail[t],
                None => cursor.seek(self, r as usize),
            })
            .collect()
    }

    /// Row `row`'s seq.
    #[cfg(test)]
    pub(crate) fn get(&self, row: usize) -> u32 {
        self.of_rows(&[row as u32])[0]
    }

    /// The seqs of a run of base rows.
    fn base_run(&self, rows: Range<u32>) -> impl Iterator<Item = u32> + '_ {
        let mut cursor = Cursor::default();
        rows.map(move |r| cursor.seek(self, r as usize))
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.marks.capacity() * 8 + self.tail.capacity() * 4
    }
}

/// Where a decoding stands: the next row it would read and that row's
/// byte position, and the seq of the row before. The default stands at
/// row 0, the start of the first block (its mark is byte 0).
#[derive(Default)]
struct Cursor {
    row: usize,
    at: usize,
    previous: u32,
}

impl Cursor {
    /// Base row `row`'s seq: decoded on from where the cursor stands if
    /// `row` is at most a block ahead of it, else from the row's mark.
    fn seek(&mut self, seqs: &Seqs, row: usize) -> u32 {
        if row < self.row || row - self.row > BLOCK {
            let block = row / BLOCK;
            self.row = block * BLOCK;
            self.at = seqs.marks[block] as usize;
        }
        loop {
            if self.row.is_multiple_of(BLOCK) {
                // Each block starts afresh.
                self.previous = 0;
            }
            let (value, next) = get_varint(&seqs.bytes, self.at);
            self.at = next;
            self.previous = (i64::from(self.previous) + unzigzag(value)) as u32;
            self.row += 1;
            if self.row > row {
                return self.previous;
            }
        }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The varint at `at` and the position after it.
fn get_varint(bytes: &[u8], mut at: usize) -> (u64, usize) {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[at];
        at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return (v, at);
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random sequence (xorshift), for seqs in any order.
    fn noise(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn every_row_reads_back_its_seq_in_any_order() {
        let mut next = noise(7);
        for n in [0usize, 1, 2, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 17] {
            // Runs of consecutive seqs, jumps both ways, and the extremes.
            let base: Vec<u32> = (0..n)
                .map(|i| match i % 11 {
                    0 => u32::MAX,
                    1 => 0,
                    2..=5 => i as u32 * 3,
                    _ => next() as u32,
                })
                .collect();
            let mut seqs = Seqs::of_base(&base);
            let tail: Vec<u32> = (0..5).map(|_| next() as u32).collect();
            for t in &tail {
                seqs.push(*t);
            }
            let want: Vec<u32> = base.iter().chain(&tail).copied().collect();
            assert_eq!(seqs.len(), want.len());
            assert_eq!(seqs.all(), want);
            for (r, w) in want.iter().enumerate() {
                assert_eq!(seqs.get(r), *w, "row {r} of {n}");
            }
            // Ascending runs, runs going back, rows skipped, a tail row
            // in between: each read is right whatever came before it.
            let rows: Vec<u32> = (0..want.len() as u32)
                .step_by(3)
                .chain((0..want.len() as u32).rev().step_by(5))
                .chain(
                    [n as u32, 0, 1, 2]
                        .into_iter()
                        .filter(|r| (*r as usize) < want.len()),
                )
                .chain((0..want.len() as u32).filter(|_| next().is_multiple_of(2)))
                .collect();
            let read = seqs.of_rows(&rows);
            for (r, s) in rows.iter().zip(read) {
                assert_eq!(s, want[*r as usize], "row {r} of {n} in {rows:?}");
            }
        }
    }

    #[test]
    fn a_contacts_consecutive_seqs_take_a_byte_each() {
        let base: Vec<u32> = (1_000_000..1_000_000 + 100 * BLOCK as u32).collect();
        let seqs = Seqs::of_base(&base);
        // Each block's first seq whole (3 bytes), then a byte a row.
        assert_eq!(seqs.bytes.len(), 100 * (BLOCK - 1 + 3));
        assert_eq!(seqs.all(), base);
    }
}
