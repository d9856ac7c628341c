//! The index snapshot: every account's [`AccountIndex`] written to one file
//! on a clean shutdown, so that a restart reads columns back at disk speed
//! instead of rebuilding them event by event from the store.
//!
//! The file names the store's write generation it was taken at; it is used
//! only when the store is still at that generation (nothing was written
//! since), and otherwise — after a crash, or a write by another tool — the
//! indexes are rebuilt from the store, which stays the only source of truth.
//! Columns are written as raw little-endian arrays (`bytemuck`), so reading
//! is one copy per column.
//!
//! Layout: magic, format version, generation, account count, then per
//! account its id and index (see each type's `write_to`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use roaring::RoaringBitmap;

use crate::index::AccountIndex;

const MAGIC: &[u8; 8] = b"FSEGIDX\0";
/// Bump whenever the layout of any written type changes (2: event seqs;
/// 3: number and date columns in their narrowest width; 4: text codes too;
/// 5: text codes reserve the two largest values of each width, as event
/// attribute codes do; 6: string attributes write their codes in the same
/// layout as text fields; 7: event numbers as hundredths where exact).
const VERSION: u32 = 7;
pub const FILE: &str = "index.snapshot";

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

pub type Result<T> = std::io::Result<T>;

fn corrupt(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

pub struct Writer<W: Write>(pub(crate) W);

impl<W: Write> Writer<W> {
    pub fn u8(&mut self, v: u8) -> Result<()> {
        self.0.write_all(&[v])
    }
    pub fn u32(&mut self, v: u32) -> Result<()> {
        self.0.write_all(&v.to_le_bytes())
    }
    pub fn u64(&mut self, v: u64) -> Result<()> {
        self.0.write_all(&v.to_le_bytes())
    }
    pub fn i64(&mut self, v: i64) -> Result<()> {
        self.0.write_all(&v.to_le_bytes())
    }
    pub fn f64(&mut self, v: f64) -> Result<()> {
        self.u64(v.to_bits())
    }
    pub fn str(&mut self, s: &str) -> Result<()> {
        self.u64(s.len() as u64)?;
        self.0.write_all(s.as_bytes())
    }
    /// A slice of plain values, as raw little-endian bytes.
    pub fn slice<T: bytemuck::Pod>(&mut self, v: &[T]) -> Result<()> {
        self.u64(v.len() as u64)?;
        self.0.write_all(bytemuck::cast_slice(v))
    }
    /// `u32`s written as a slice of `u64`s (the same bytes as [`slice`]
    /// of the widened values), without a widened copy in memory.
    ///
    /// [`slice`]: Writer::slice
    /// `len` numbers as a slice of `u64`s (read back by
    /// [`Reader::vec`] or [`Reader::u64s_in_chunks`]).
    pub fn u64s(&mut self, len: usize, mut v: impl Iterator<Item = u64>) -> Result<()> {
        self.u64(len as u64)?;
        let mut buf = Vec::with_capacity(8 * 4096);
        let mut written = 0;
        while written < len {
            buf.clear();
            buf.extend(v.by_ref().take(4096).flat_map(u64::to_le_bytes));
            assert!(!buf.is_empty(), "{len} numbers declared, {written} given");
            written += buf.len() / 8;
            self.0.write_all(&buf)?;
        }
        Ok(())
    }
    pub fn bitmap(&mut self, b: &RoaringBitmap) -> Result<()> {
        self.u64(b.serialized_size() as u64)?;
        b.serialize_into(&mut self.0)
    }
}

pub struct Reader<R: Read>(pub(crate) R);

/// Longest string or array a snapshot may declare (guards allocations
/// against a damaged length).
const MAX_LEN: u64 = 1 << 40;

impl<R: Read> Reader<R> {
    pub fn u8(&mut self) -> Result<u8> {
        let mut b = [0; 1];
        self.0.read_exact(&mut b)?;
        Ok(b[0])
    }
    pub fn u32(&mut self) -> Result<u32> {
        let mut b = [0; 4];
        self.0.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    pub fn u64(&mut self) -> Result<u64> {
        let mut b = [0; 8];
        self.0.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    pub fn i64(&mut self) -> Result<i64> {
        Ok(self.u64()? as i64)
    }
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    fn len(&mut self) -> Result<usize> {
        let n = self.u64()?;
        if n > MAX_LEN {
            return Err(corrupt("a length past any real index"));
        }
        Ok(n as usize)
    }
    pub fn string(&mut self) -> Result<String> {
        let n = self.len()?;
        let mut b = vec![0; n];
        self.0.read_exact(&mut b)?;
        String::from_utf8(b).map_err(|_| corrupt("a string that is not UTF-8"))
    }
    pub fn vec<T: bytemuck::Pod>(&mut self) -> Result<Vec<T>> {
        let n = self.len()?;
        let mut v = vec![T::zeroed(); n];
        self.0.read_exact(bytemuck::cast_slice_mut(&mut v))?;
        Ok(v)
    }
    /// A slice of `u64`s handed to `each` a chunk at a time.
    pub fn u64s_in_chunks(&mut self, mut each: impl FnMut(&[u64])) -> Result<()> {
        let mut left = self.len()?;
        let mut chunk = vec![0u64; 4096];
        while left > 0 {
            let n = left.min(chunk.len());
            self.0
                .read_exact(bytemuck::cast_slice_mut(&mut chunk[..n]))?;
            each(&chunk[..n]);
            left -= n;
        }
        Ok(())
    }
    pub fn bitmap(&mut self) -> Result<RoaringBitmap> {
        let n = self.len()?;
        RoaringBitmap::deserialize_from((&mut self.0).take(n as u64))
    }
}

/// Writes every account's index, taken at store generation `generation`,
/// to `dir`'s snapshot file (atomically: a temporary file, fsynced, then
/// renamed over the old one).
pub fn save(dir: &Path, generation: u64, accounts: &[(&str, &AccountIndex)]) -> Result<()> {
    let tmp = dir.join(format!("{FILE}.tmp"));
    {
        let file = File::create(&tmp)?;
        let mut w = Writer(BufWriter::with_capacity(1 << 20, file));
        w.0.write_all(MAGIC)?;
        w.u32(VERSION)?;
        w.u64(generation)?;
        w.u64(accounts.len() as u64)?;
        for (id, index) in accounts {
            w.str(id)?;
            index.write_to(&mut w)?;
        }
        let file = w.0.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path(dir))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads the snapshot in `dir` if it was taken at store generation
/// `generation`; `Ok(None)` when there is none or it is of another
/// generation or format version.
pub fn load(dir: &Path, generation: u64) -> Result<Option<Vec<(String, AccountIndex)>>> {
    let file = match File::open(path(dir)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut r = Reader(BufReader::with_capacity(1 << 20, file));
    let mut magic = [0; 8];
    r.0.read_exact(&mut magic)?;
    if &magic != MAGIC || r.u32()? != VERSION || r.u64()? != generation {
        return Ok(None);
    }
    let n = r.len()?;
    let mut out = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let id = r.string()?;
        out.push((id, AccountIndex::read_from(&mut r)?));
    }
    Ok(Some(out))
}

/// For the per-type readers: a damaged value.
pub fn invalid(what: &str) -> std::io::Error {
    corrupt(what)
}
