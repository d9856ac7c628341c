//! How a column of per-row strings packs them ([`crate::dict`]'s
//! per-row dictionaries): nearly unique ids, one per event, are most of
//! what such a column holds, so each string is kept in a shorter form
//! and unpacked as it is read. Two forms, chosen by which packs a sample
//! of the column's strings shorter:
//!
//! - **symbols**: an FSST symbol table (`fsst-rs`), up to 255 symbols of
//!   1 to 8 bytes, each written as one byte, trained on the sample. An id
//!   is mostly a few characters from a small set (hex digits, a prefix),
//!   which pairs of them cover: a random 40-bit hex session id went from
//!   10.9 to 6.1 bytes in a trial of 1M, a `cart_{n}_{k}` id from 13.4 to
//!   5.3.
//! - **numbers**: an id that is a fixed prefix and a number, written in
//!   decimal or in lower-case hex without leading zeros (`s1f3a9c07b2`,
//!   `order_120773`), kept as that number's bytes, most significant
//!   first, with no zero byte before them: 5 bytes for a 40-bit session
//!   id, where its symbols took 6.1. A string of another shape is kept
//!   whole after a zero byte, so any string still fits.
//!
//! Packing is a function of the string alone (for one packer), and
//! equal strings pack alike: strings are compared packed.

use crate::snapshot::{Reader, Writer, invalid};

/// A column's way of packing its strings (see the module's documentation).
#[derive(Clone)]
pub(crate) enum Packer {
    /// Boxed: a table is 2.3 KB inline, a number form a few bytes.
    Symbols(Box<fsst::Compressor>),
    Numbers(Numbers),
}

/// Strings that are `prefix` and a number in `radix` (10, or 16 in lower
/// case), without leading zeros.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Numbers {
    prefix: Box<str>,
    radix: u32,
}

impl std::fmt::Debug for Packer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Packer::Symbols(c) => write!(f, "Packer({} symbols)", c.n_symbols()),
            Packer::Numbers(n) => write!(f, "Packer({n:?})"),
        }
    }
}

/// Heap bytes of a symbol table's look-up tables: a code per two-byte
/// prefix and a hash table of 2,048 longer symbols.
const SYMBOLS_HEAP_BYTES: usize = 65_536 * 2 + 2_048 * 16;

/// How many strings a packer is trained on, at most (spread over all).
pub(crate) const PACKER_SAMPLE: usize = 1 << 16;

impl Packer {
    /// A packer for `rows` strings like `sample`: the form that packs the
    /// sample shorter, if it packs it into at most four fifths of its
    /// bytes and saves more than its own tables take, twice over (else
    /// the strings stay as they are).
    pub(crate) fn train(sample: &[&str], rows: usize) -> Option<Packer> {
        let raw: usize = sample.iter().map(|s| s.len()).sum();
        if raw == 0 {
            return None;
        }
        let bytes: Vec<&[u8]> = sample.iter().map(|s| s.as_bytes()).collect();
        let candidates = [
            Numbers::fitting(sample, 16).map(Packer::Numbers),
            Numbers::fitting(sample, 10).map(Packer::Numbers),
            Some(Packer::Symbols(Box::new(fsst::Compressor::train(&bytes)))),
        ];
        let mut out = Vec::new();
        let (packed, packer) = candidates
            .into_iter()
            .flatten()
            .map(|p| {
                let packed: usize = sample
                    .iter()
                    .map(|s| {
                        out.clear();
                        p.pack_into(s, &mut out);
                        out.len()
                    })
                    .sum();
                (packed, p)
            })
            .min_by_key(|(packed, _)| *packed)?;
        let saved = (raw - packed.min(raw)) as f64 / sample.len() as f64 * rows as f64;
        let pays = saved > 2.0 * packer.heap_bytes() as f64;
        (packed * 5 <= raw * 4 && pays).then_some(packer)
    }

    /// Appends `s` packed to `out`.
    pub(crate) fn pack_into(&self, s: &str, out: &mut Vec<u8>) {
        match self {
            Packer::Symbols(c) => {
                let s = s.as_bytes();
                // All escapes is twice the input; the packer writes whole
                // words.
                crate::dict::reserve_gently(out, 2 * s.len() + 16);
                let at = out.len();
                // SAFETY: the room reserved holds the largest packing of
                // `s` (every byte escaped: two bytes each) and the
                // packer's last whole-word write; `set_len` covers only
                // what it reports written.
                unsafe {
                    let written = c.compress_into(s, out.spare_capacity_mut());
                    out.set_len(at + written);
                }
            }
            Packer::Numbers(n) => n.pack_into(s, out),
        }
    }

    /// Replaces `out` with `packed` unpacked.
    pub(crate) fn unpack_into(&self, packed: &[u8], out: &mut Vec<u8>) {
        out.clear();
        match self {
            Packer::Symbols(c) => {
                let decompressor = c.decompressor();
                out.reserve(decompressor.max_decompression_capacity(packed));
                let written = decompressor.decompress_into(packed, out.spare_capacity_mut());
                // SAFETY: `decompress_into` wrote `written` bytes from the
                // start.
                unsafe { out.set_len(written) };
            }
            Packer::Numbers(n) => n.unpack_into(packed, out),
        }
    }

    /// Whether every one of `strings`, as packed, is well formed, and if
    /// so whether each is known to unpack to UTF-8 without unpacking it.
    /// `None` for a malformed string (a damaged snapshot: it is never
    /// unpacked); `Some(false)` sends the caller to unpack each string and
    /// check it, which took ~5 s of a restart at `large` where one pass
    /// here does.
    ///
    /// Symbols: each string must be a run of codes (a symbol's, or the
    /// escape code and the byte it stands for); it unpacks to ASCII, so to
    /// UTF-8, when every symbol is ASCII and so is every escaped byte.
    /// Numbers: each is checked whole here.
    pub(crate) fn check_packed<'a>(&self, strings: impl Iterator<Item = &'a [u8]>) -> Option<bool> {
        match self {
            Packer::Symbols(c) => {
                let mut ascii = c
                    .symbol_table()
                    .iter()
                    .zip(c.symbol_lengths())
                    .all(|(s, l)| s.to_u64().to_le_bytes()[..usize::from(*l)].is_ascii());
                let symbols = c.n_symbols();
                for packed in strings {
                    let mut i = 0;
                    while i < packed.len() {
                        match packed[i] {
                            fsst::ESCAPE_CODE => {
                                ascii &= packed.get(i + 1)?.is_ascii();
                                i += 2;
                            }
                            c if usize::from(c) < symbols => i += 1,
                            _ => return None,
                        }
                    }
                }
                Some(ascii)
            }
            Packer::Numbers(_) => {
                for packed in strings {
                    Numbers::check(packed)?;
                }
                Some(true)
            }
        }
    }

    /// Heap bytes of the packer's tables.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Packer::Symbols(_) => std::mem::size_of::<fsst::Compressor>() + SYMBOLS_HEAP_BYTES,
            Packer::Numbers(n) => std::mem::size_of::<Numbers>() + n.prefix.len(),
        }
    }

    /// Writes the packer: its form's tag, then the form.
    pub(crate) fn write_to<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        match self {
            Packer::Symbols(c) => {
                w.u8(1)?;
                let symbols = c.symbol_table();
                w.u64s(symbols.len(), symbols.iter().map(|s| s.to_u64()))?;
                w.slice(c.symbol_lengths())
            }
            Packer::Numbers(n) => {
                w.u8(2)?;
                w.u8(n.radix as u8)?;
                w.str(&n.prefix)
            }
        }
    }

    /// Reads what [`write_to`](Packer::write_to) wrote, after its tag.
    pub(crate) fn read_from<R: std::io::Read>(
        tag: u8,
        r: &mut Reader<R>,
    ) -> std::io::Result<Packer> {
        match tag {
            1 => Packer::read_symbols(r),
            2 => {
                let radix = u32::from(r.u8()?);
                if radix != 10 && radix != 16 {
                    return Err(invalid("a number packer's radix other than 10 or 16"));
                }
                let prefix = r.string()?.into_boxed_str();
                Ok(Packer::Numbers(Numbers { prefix, radix }))
            }
            _ => Err(invalid("an unknown string packing")),
        }
    }

    fn read_symbols<R: std::io::Read>(r: &mut Reader<R>) -> std::io::Result<Packer> {
        let mut symbols = Vec::new();
        r.u64s_in_chunks(|chunk| {
            symbols.extend(
                chunk
                    .iter()
                    .map(|s| fsst::Symbol::from_slice(&s.to_le_bytes())),
            )
        })?;
        let lengths: Vec<u8> = r.vec()?;
        // `rebuild_from` asserts what a table must be (as many lengths as
        // symbols, at most 255, ordered by length): a damaged snapshot is
        // refused, not a panic.
        let lengths_fit = lengths.len() == symbols.len()
            && symbols.len() <= 255
            && symbols
                .iter()
                .zip(&lengths)
                .all(|(s, l)| (1..=8).contains(l) && s.len() == usize::from(*l));
        if !lengths_fit {
            return Err(invalid("a string packer's symbols and lengths disagree"));
        }
        std::panic::catch_unwind(|| fsst::Compressor::rebuild_from(&symbols, &lengths))
            .map(|c| Packer::Symbols(Box::new(c)))
            .map_err(|_| invalid("a string packer's symbols out of order"))
    }
}

/// The byte that starts a string kept whole by a number packer (a
/// number's bytes never start with it, but for the number 0, which is
/// that byte alone).
const WHOLE: u8 = 0;

impl Numbers {
    /// The number form most of `sample`'s non-empty strings share, in
    /// `radix`: their common prefix, less any digits it ends with (so
    /// that ids which happen to share a first digit are not held to it).
    /// `None` if fewer than half of them are of that form.
    fn fitting(sample: &[&str], radix: u32) -> Option<Numbers> {
        let mut strings = sample.iter().filter(|s| !s.is_empty());
        let first = *strings.next()?;
        let mut prefix = first.len();
        for s in strings.clone() {
            prefix = common_prefix(&first[..prefix], s);
        }
        let form = Numbers {
            prefix: first[..prefix]
                .trim_end_matches(|c: char| is_digit(c, radix))
                .into(),
            radix,
        };
        let fits = sample.iter().filter(|s| form.number(s).is_some()).count();
        let non_empty = sample.iter().filter(|s| !s.is_empty()).count();
        (fits * 2 >= non_empty).then_some(form)
    }

    /// `s`'s number, if `s` is the prefix and a number written without
    /// leading zeros (digits in lower case) that fits 64 bits.
    fn number(&self, s: &str) -> Option<u64> {
        let digits = s.strip_prefix(&*self.prefix)?;
        let canonical = !digits.is_empty()
            && (digits == "0" || !digits.starts_with('0'))
            && digits.chars().all(|c| is_digit(c, self.radix));
        if !canonical {
            return None;
        }
        u64::from_str_radix(digits, self.radix).ok()
    }

    fn pack_into(&self, s: &str, out: &mut Vec<u8>) {
        if s.is_empty() {
            return;
        }
        match self.number(s) {
            Some(n) => {
                let bytes = n.to_be_bytes();
                let skip = (n.leading_zeros() / 8).min(7) as usize;
                out.extend_from_slice(&bytes[skip..]);
            }
            None => {
                out.push(WHOLE);
                out.extend_from_slice(s.as_bytes());
            }
        }
    }

    fn unpack_into(&self, packed: &[u8], out: &mut Vec<u8>) {
        match packed {
            [] => {}
            [WHOLE, whole @ ..] if !whole.is_empty() => out.extend_from_slice(whole),
            number => {
                let n = number.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
                out.extend_from_slice(self.prefix.as_bytes());
                match self.radix {
                    16 => write_digits(out, format_args!("{n:x}")),
                    _ => write_digits(out, format_args!("{n}")),
                }
            }
        }
    }

    /// Whether `packed` is a string this form writes: empty, a string
    /// kept whole (UTF-8), or a number's bytes (at most 8, no zero byte
    /// first, but for 0 alone). `None` if not.
    fn check(packed: &[u8]) -> Option<()> {
        match packed {
            [] | [WHOLE] => Some(()),
            [WHOLE, whole @ ..] => std::str::from_utf8(whole).ok().map(|_| ()),
            number => (number.len() <= 8).then_some(()),
        }
    }
}

fn write_digits(out: &mut Vec<u8>, digits: std::fmt::Arguments) {
    use std::io::Write;
    out.write_fmt(digits)
        .expect("writing to a Vec does not fail");
}

/// Whether `c` is a digit of `radix` as a number form writes them (hex in
/// lower case).
fn is_digit(c: char, radix: u32) -> bool {
    c.is_ascii_digit() || (radix == 16 && ('a'..='f').contains(&c))
}

/// The length of the prefix `a` and `b` share, on a character boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(p: &Packer, s: &str) -> Vec<u8> {
        let mut packed = Vec::new();
        p.pack_into(s, &mut packed);
        let mut back = Vec::new();
        p.unpack_into(&packed, &mut back);
        assert_eq!(std::str::from_utf8(&back).unwrap(), s, "{p:?}");
        assert_eq!(p.check_packed(std::iter::once(&packed[..])), Some(true));
        packed
    }

    /// The packer trained on `strings` as a million rows' sample.
    fn trained(strings: &[String]) -> Packer {
        let sample: Vec<&str> = strings.iter().map(String::as_str).collect();
        Packer::train(&sample, 1_000_000).expect("packs")
    }

    /// The number form `p` takes, as (prefix, radix).
    fn form(p: &Packer) -> (&str, u32) {
        match p {
            Packer::Numbers(n) => (&n.prefix, n.radix),
            Packer::Symbols(_) => panic!("ids take the number form, not {p:?}"),
        }
    }

    /// Ids of a prefix and a hex or decimal number pack to the number's
    /// bytes; every other string still round-trips, kept whole; equal
    /// strings pack alike and different ones differently.
    #[test]
    fn ids_of_a_prefix_and_a_number_pack_to_the_numbers_bytes() {
        let hex: Vec<String> = (1..5000u64)
            .map(|i| format!("s{:x}", i.wrapping_mul(0x9E37_79B9_7F4A) >> 24))
            .collect();
        let p = trained(&hex);
        assert_eq!(form(&p), ("s", 16));
        for s in &hex {
            let packed = round_trip(&p, s);
            assert!(packed.len() <= 5, "{s}: {packed:?}");
        }
        let mut seen = std::collections::HashMap::new();
        for s in hex.iter().map(String::as_str).chain([
            "",
            "s0",
            "s00",
            "s01",
            "sABC",
            "s",
            "t12",
            "s12x",
            "sffffffffffffffff",
            "s10000000000000000",
            "zażółć",
            "\u{0}",
            "\u{0}1",
        ]) {
            let packed = round_trip(&p, s);
            if let Some(other) = seen.insert(packed.clone(), s) {
                assert_eq!(other, s, "{packed:?}");
            }
        }

        let orders: Vec<String> = (0..5000).map(|i| format!("order_{}", 7 * i + 3)).collect();
        let p = trained(&orders);
        assert_eq!(form(&p), ("order_", 10));
        for s in &orders {
            assert!(round_trip(&p, s).len() <= 2);
        }
        round_trip(&p, "order_0x1");

        // Ids with no common number form: symbols.
        let carts: Vec<String> = (0..5000).map(|i| format!("cart_{}_{}", i, i % 7)).collect();
        let p = trained(&carts);
        assert!(matches!(p, Packer::Symbols(_)), "{p:?}");
    }

    /// A number form's packed strings are checked whole: a number longer
    /// than 8 bytes or a string kept whole that is not UTF-8 is refused;
    /// the form survives a snapshot.
    #[test]
    fn number_forms_check_their_strings_and_are_written() {
        let p = Packer::Numbers(Numbers {
            prefix: "id-".into(),
            radix: 10,
        });
        let check = |packed: &[u8]| p.check_packed(std::iter::once(packed));
        assert_eq!(check(&[1; 8]), Some(true));
        assert_eq!(check(&[1; 9]), None);
        assert_eq!(check(&[WHOLE, 0xc3]), None);
        assert_eq!(check(&[WHOLE, b'x']), Some(true));
        let mut bytes = Vec::new();
        p.write_to(&mut Writer(&mut bytes)).unwrap();
        let mut r = Reader(&bytes[..]);
        let tag = r.u8().unwrap();
        let back = Packer::read_from(tag, &mut r).unwrap();
        let (Packer::Numbers(a), Packer::Numbers(b)) = (&p, &back) else {
            panic!("{back:?}")
        };
        assert_eq!(a, b);
        let mut bad = bytes.clone();
        bad[1] = 8;
        let mut r = Reader(&bad[..]);
        let tag = r.u8().unwrap();
        assert!(Packer::read_from(tag, &mut r).is_err());
    }
}
