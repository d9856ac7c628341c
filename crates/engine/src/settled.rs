//! A dictionary's settled codes, found by their strings' hashes without a
//! hash table's slack.
//!
//! A hash table sized in powers of two is between 44% and 88% full: at
//! `large`, the 31M `Visit` session ids sat just past a doubling, and
//! their table (4 bytes of code and a control byte a slot) cost ~9 bytes a
//! string, 2.9 bytes per event. The codes a dictionary already holds never
//! change, so they can be found through a read-only index built once, to
//! their exact count: the codes grouped by their hash's top bits into
//! buckets of 8 to 16, with a byte of the hash beside each code, so that a
//! look-up reads the string of the code it finds and seldom another:
//! about 5.3 to 5.5 bytes a string.
//! New strings go to a small hash table until it is worth settling them
//! too ([`crate::dict::Dictionary::intern`]).

/// Codes `0..len()` of a dictionary, by their strings' hashes.
#[derive(Debug, Clone, Default)]
pub(crate) struct SettledCodes {
    /// There are `2^bits` buckets: a hash's top `bits` bits name its
    /// bucket.
    bits: u32,
    /// Bucket `b`'s entries are `starts[b]..starts[b + 1]`.
    starts: Vec<u32>,
    /// Each entry's 8 hash bits below its bucket's: a code whose tag
    /// differs is not the one looked for, and its string is not read.
    tags: Vec<u8>,
    /// Each entry's code.
    codes: Vec<u32>,
}

/// The fewest codes a bucket holds on average (fewer than twice as many):
/// each bucket's start costs 4 bytes, shared by its codes, and a look-up
/// compares the tags of one bucket (a cache line).
const PER_BUCKET: usize = 8;

impl SettledCodes {
    /// An index of codes `0..len`, each hashed by `hash_of`.
    pub(crate) fn of(len: usize, hash_of: impl Fn(u32) -> u64) -> SettledCodes {
        let len32 = u32::try_from(len).expect("fewer than 2^32 codes");
        if len == 0 {
            return SettledCodes::default();
        }
        let bits = (len / PER_BUCKET).max(2).ilog2();
        let buckets = 1usize << bits;
        let hashes: Vec<u64> = (0..len32).map(&hash_of).collect();
        let bucket_of = |h: u64| (h >> (64 - bits)) as usize;
        // A counting sort of the codes by bucket, keeping code order
        // within each.
        let mut starts = vec![0u32; buckets + 1];
        for &h in &hashes {
            starts[bucket_of(h) + 1] += 1;
        }
        for b in 0..buckets {
            starts[b + 1] += starts[b];
        }
        let mut next: Vec<u32> = starts[..buckets].to_vec();
        let mut tags = vec![0u8; len];
        let mut codes = vec![0u32; len];
        for (code, &h) in (0..len32).zip(&hashes) {
            let slot = &mut next[bucket_of(h)];
            tags[*slot as usize] = tag_of(h, bits);
            codes[*slot as usize] = code;
            *slot += 1;
        }
        SettledCodes {
            bits,
            starts,
            tags,
            codes,
        }
    }

    /// How many codes are settled (codes `0..len()`).
    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }

    /// The settled code whose string has `hash` and passes `is_it`.
    #[inline]
    pub(crate) fn find(&self, hash: u64, is_it: impl Fn(u32) -> bool) -> Option<u32> {
        if self.codes.is_empty() {
            return None;
        }
        let b = (hash >> (64 - self.bits)) as usize;
        let tag = tag_of(hash, self.bits);
        let entries = self.starts[b] as usize..self.starts[b + 1] as usize;
        self.tags[entries.clone()]
            .iter()
            .zip(&self.codes[entries])
            .find(|(t, c)| **t == tag && is_it(**c))
            .map(|(_, c)| *c)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.starts.capacity() * 4 + self.tags.capacity() + self.codes.capacity() * 4
    }
}

/// The 8 bits of `hash` below its top `bits`.
#[inline(always)]
fn tag_of(hash: u64, bits: u32) -> u8 {
    (hash >> (56 - bits)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_found_by_its_hash_and_no_other() {
        // Hashes that share buckets and tags (few distinct high bits) as
        // well as spread ones.
        for (len, spread) in [(1usize, true), (7, true), (1000, true), (1000, false)] {
            let hash_of = |c: u32| {
                let h = u64::from(c).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                if spread { h } else { h & 0xf000_0000_0000_00ff }
            };
            let settled = SettledCodes::of(len, hash_of);
            assert_eq!(settled.len(), len);
            for code in 0..len as u32 {
                assert_eq!(settled.find(hash_of(code), |c| c == code), Some(code));
            }
            // A string that is not there: its hash may share a bucket and
            // tag, but no code passes.
            assert_eq!(settled.find(hash_of(3), |_| false), None);
            let per_code = settled.heap_bytes() as f64 / len as f64;
            if len >= 1000 {
                assert!(
                    per_code <= 5.0 + 4.0 / PER_BUCKET as f64 + 0.02,
                    "{per_code}"
                );
            }
        }
        assert_eq!(SettledCodes::of(0, |_| 0).find(0, |_| true), None);
    }
}
