//! The event seq of each row of a partition (its key in the store's log),
//! kept compressed: a seq is read only to list a contact's events or to
//! name them for erasure, never while a rule is evaluated, yet four bytes
//! a row were an eighth of the index at `large`, and one byte a row still
//! a twelfth.
//!
//! Base rows are sorted by (contact, time), and a contact's events mostly
//! arrive in time order, so each row's seq is stored as its difference
//! from the row before, in *nibbles*: groups of three bits, low group
//! first, each with a bit saying another follows. A block whose
//! differences are all positive (a bulk import, contact after contact)
//! stores each difference less one, so that a partition holding every
//! third of its contacts' events (a visit among other events) takes half
//! a byte a row; another stores them zigzagged (signed). Every
//! [`BLOCK`]-th row starts afresh with its whole seq, and its nibble
//! position and the block's form are marked, so a row is found by
//! decoding at most a block. Rows of the pending tail keep a plain `u32`
//! until the next merge.

use std::ops::Range;

/// Rows per marked block.
const BLOCK: usize = 128;

#[derive(Debug, Clone, Default)]
pub(crate) struct Seqs {
    /// The base rows' seqs, encoded as the module says, two nibbles a
    /// byte (the low one first).
    bytes: Vec<u8>,
    /// For every [`BLOCK`]-th base row, its nibble position, shifted
    /// left by one, and 1 if its block's differences are all positive.
    marks: Vec<u64>,
    base_len: usize,
    /// The tail rows' seqs, in row order.
    tail: Vec<u32>,
}

impl Seqs {
    /// The seqs of a merged base, `seqs[r]` being row `r`'s.
    pub(crate) fn of_base(seqs: &[u32]) -> Seqs {
        let mut out = Nibbles::default();
        out.bytes.reserve(seqs.len() / 2 + seqs.len() / 8);
        let mut marks = Vec::with_capacity(seqs.len().div_ceil(BLOCK));
        for block in seqs.chunks(BLOCK) {
            let rising = block.windows(2).all(|w| w[1] > w[0]);
            marks.push((out.len << 1) | u64::from(rising));
            out.put(u64::from(block[0]));
            for w in block.windows(2) {
                let d = i64::from(w[1]) - i64::from(w[0]);
                out.put(if rising { (d - 1) as u64 } else { zigzag(d) });
            }
        }
        out.bytes.shrink_to_fit();
        Seqs {
            bytes: out.bytes,
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
/// nibble position, the seq of the row before, and whether the block's
/// differences are stored less one (all positive). The default stands at
/// row 0, a block's start, so its first seek reads a mark before any
/// difference.
#[derive(Default)]
struct Cursor {
    row: usize,
    at: u64,
    previous: u32,
    rising: bool,
}

impl Cursor {
    /// Base row `row`'s seq: decoded on from where the cursor stands if
    /// `row` is at most a block ahead of it, else from the row's mark.
    fn seek(&mut self, seqs: &Seqs, row: usize) -> u32 {
        if row < self.row || row - self.row > BLOCK {
            self.row = row / BLOCK * BLOCK;
        }
        loop {
            let (value, next) = if self.row.is_multiple_of(BLOCK) {
                // Each block starts afresh, with its whole seq.
                let mark = seqs.marks[self.row / BLOCK];
                self.rising = mark & 1 == 1;
                let (seq, next) = get_nibbles(&seqs.bytes, mark >> 1);
                self.previous = seq as u32;
                (None, next)
            } else {
                let (value, next) = get_nibbles(&seqs.bytes, self.at);
                (Some(value), next)
            };
            self.at = next;
            if let Some(value) = value {
                let d = if self.rising {
                    value as i64 + 1
                } else {
                    unzigzag(value)
                };
                self.previous = (i64::from(self.previous) + d) as u32;
            }
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

/// A stream of nibbles, two a byte (the low one first).
#[derive(Default)]
struct Nibbles {
    bytes: Vec<u8>,
    len: u64,
}

impl Nibbles {
    /// Appends `v` in groups of three bits, low first; every group but
    /// the last has its fourth bit set.
    fn put(&mut self, mut v: u64) {
        loop {
            let group = (v & 7) as u8;
            v >>= 3;
            self.push(if v == 0 { group } else { group | 8 });
            if v == 0 {
                return;
            }
        }
    }

    fn push(&mut self, nibble: u8) {
        if self.len.is_multiple_of(2) {
            self.bytes.push(nibble);
        } else {
            *self.bytes.last_mut().expect("an odd nibble has its byte") |= nibble << 4;
        }
        self.len += 1;
    }
}

/// The value whose nibbles start at nibble `at`, and the nibble after.
fn get_nibbles(bytes: &[u8], mut at: u64) -> (u64, u64) {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let nibble = (bytes[(at / 2) as usize] >> ((at & 1) * 4)) & 0xf;
        at += 1;
        v |= u64::from(nibble & 7) << shift;
        if nibble < 8 {
            return (v, at);
        }
        shift += 3;
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

    /// Rising seqs a few apart take a nibble a row; a block that goes
    /// back takes its differences signed, and the blocks around it are
    /// read right.
    #[test]
    fn rising_seqs_a_few_apart_take_half_a_byte_a_row() {
        // Steps of 1 to 8, starting at 1,000,000 (7 nibbles whole).
        let base: Vec<u32> = (0..100 * BLOCK as u32)
            .scan(1_000_000u32, |s, i| {
                *s += 1 + i % 8;
                Some(*s)
            })
            .collect();
        let seqs = Seqs::of_base(&base);
        assert!(seqs.marks.iter().all(|m| m & 1 == 1), "every block rises");
        // Each block's first seq whole, then a nibble a row.
        assert_eq!(seqs.bytes.len(), (100 * (BLOCK - 1 + 7)).div_ceil(2));
        assert_eq!(seqs.all(), base);

        let mut falling = base.clone();
        falling.swap(BLOCK + 5, BLOCK + 6);
        let seqs = Seqs::of_base(&falling);
        let rising: Vec<u64> = seqs.marks.iter().map(|m| m & 1).take(3).collect();
        assert_eq!(rising, [1, 0, 1]);
        assert_eq!(seqs.all(), falling);
        for r in [
            BLOCK - 1,
            BLOCK,
            BLOCK + 5,
            BLOCK + 6,
            2 * BLOCK,
            2 * BLOCK + 1,
        ] {
            assert_eq!(seqs.get(r), falling[r], "row {r}");
        }
    }
}
