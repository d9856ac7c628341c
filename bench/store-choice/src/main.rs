//! redb vs fjall on flowseg's event-append path.
//!
//! Each event is a 24-byte key (contact seq, time ms, event seq, big-endian,
//! the store's key order: contact first, so appends land all over the key
//! space) and a ~36-byte body, ~60 bytes in all. Events are appended in
//! batches, each batch one atomic write made durable (fsync) before the next
//! starts: a redb write transaction with `Durability::Immediate`, a fjall
//! `WriteBatch` with `PersistMode::SyncAll`. For each run we report events/s,
//! on-disk bytes per event after closing, and the time to scan everything
//! back after reopening.
//!
//! Usage: store-choice [SCALE] — SCALE (default 1.0) multiplies every count;
//! `BENCH_DIR` picks the data directory (default: the temp dir),
//! `BENCH_ONLY=redb|fjall` runs one store, `BENCH_KEEP=1` keeps the files.

use std::path::{Path, PathBuf};
use std::time::Instant;

const CONTACTS: u64 = 100_000;

/// A tiny deterministic PRNG (xorshift64*), so both stores get the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const NAMES: [&str; 4] = ["purchase", "cart_add", "page_view", "signup"];
const CATS: [&str; 4] = ["shoes", "books", "garden", "toys"];

/// How events are keyed.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// (contact, time, seq): flowseg-store's layout; appends land all over
    /// the key space.
    ContactFirst,
    /// (time, seq, contact): a pure append log; every append is at the end.
    TimeFirst,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::ContactFirst => "contact-first",
            Layout::TimeFirst => "time-first",
        }
    }
}

/// The i-th event: (key, value).
fn event(rng: &mut Rng, i: u64, layout: Layout) -> ([u8; 24], Vec<u8>) {
    let contact = rng.next() % CONTACTS;
    let time = 1_750_000_000_000i64 + i as i64 * 37;
    let time_key = ((time as u64) ^ (1 << 63)).to_be_bytes();
    let mut key = [0u8; 24];
    match layout {
        Layout::ContactFirst => {
            key[..8].copy_from_slice(&contact.to_be_bytes());
            key[8..16].copy_from_slice(&time_key);
            key[16..].copy_from_slice(&i.to_be_bytes());
        }
        Layout::TimeFirst => {
            key[..8].copy_from_slice(&time_key);
            key[8..16].copy_from_slice(&i.to_be_bytes());
            key[16..].copy_from_slice(&contact.to_be_bytes());
        }
    }
    let r = rng.next();
    let body = format!(
        "{}|sku=SKU-{:05}|price={}|cat={}",
        NAMES[(r % 4) as usize],
        (r >> 8) % 100_000,
        (r >> 32) % 1000,
        CATS[((r >> 40) % 4) as usize]
    );
    (key, body.into_bytes())
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let md = e.metadata().unwrap();
            total += if md.is_dir() { dir_size(&e.path()) } else { md.len() };
        }
    }
    total
}

struct Outcome {
    events: u64,
    append_s: f64,
    /// Directory size right after the writer closed.
    disk_closed: u64,
    /// Directory size after a reopen and close (fjall trims its
    /// preallocated journal then).
    disk_settled: u64,
    open_s: f64,
    scan_s: f64,
}

trait Engine {
    const NAME: &'static str;
    fn append(dir: &Path, batches: u64, batch: u64, layout: Layout) -> u64;
    /// Reopens the store and scans every event: (seconds to open, events).
    fn scan(dir: &Path) -> (f64, u64);
}

struct Redb;
const EVENTS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("events");

impl Engine for Redb {
    const NAME: &'static str = "redb 4";
    fn append(dir: &Path, batches: u64, batch: u64, layout: Layout) -> u64 {
        let db = redb::Database::create(dir.join("bench.redb")).unwrap();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut payload = 0;
        let mut i = 0;
        for _ in 0..batches {
            let mut txn = db.begin_write().unwrap();
            txn.set_durability(redb::Durability::Immediate).unwrap();
            {
                let mut t = txn.open_table(EVENTS).unwrap();
                for _ in 0..batch {
                    let (k, v) = event(&mut rng, i, layout);
                    payload += (k.len() + v.len()) as u64;
                    t.insert(k.as_slice(), v.as_slice()).unwrap();
                    i += 1;
                }
            }
            txn.commit().unwrap();
        }
        payload
    }
    fn scan(dir: &Path) -> (f64, u64) {
        use redb::{ReadableDatabase, ReadableTable};
        let t0 = Instant::now();
        let db = redb::Database::create(dir.join("bench.redb")).unwrap();
        let open_s = t0.elapsed().as_secs_f64();
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(EVENTS).unwrap();
        let mut n = 0u64;
        let mut bytes = 0u64;
        for item in t.iter().unwrap() {
            let (k, v) = item.unwrap();
            bytes += (k.value().len() + v.value().len()) as u64;
            n += 1;
        }
        std::hint::black_box(bytes);
        (open_s, n)
    }
}

struct Fjall;

impl Engine for Fjall {
    const NAME: &'static str = "fjall 3";
    fn append(dir: &Path, batches: u64, batch: u64, layout: Layout) -> u64 {
        let db = fjall::Database::builder(dir).open().unwrap();
        let ks = db
            .keyspace("events", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut payload = 0;
        let mut i = 0;
        for _ in 0..batches {
            let mut b = db.batch().durability(Some(fjall::PersistMode::SyncAll));
            for _ in 0..batch {
                let (k, v) = event(&mut rng, i, layout);
                payload += (k.len() + v.len()) as u64;
                b.insert(&ks, k.to_vec(), v);
                i += 1;
            }
            b.commit().unwrap();
        }
        payload
    }
    fn scan(dir: &Path) -> (f64, u64) {
        let t0 = Instant::now();
        let db = fjall::Database::builder(dir).open().unwrap();
        let ks = db
            .keyspace("events", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let open_s = t0.elapsed().as_secs_f64();
        let mut n = 0u64;
        let mut bytes = 0u64;
        for item in ks.iter() {
            let (k, v) = item.into_inner().unwrap();
            bytes += (k.len() + v.len()) as u64;
            n += 1;
        }
        std::hint::black_box(bytes);
        (open_s, n)
    }
}

fn run<E: Engine>(root: &Path, batches: u64, batch: u64, layout: Layout) -> Outcome {
    let dir: PathBuf = root.join(format!(
        "{}-{batch}-{}",
        E::NAME.replace(' ', ""),
        layout.name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let t = Instant::now();
    let payload = E::append(&dir, batches, batch, layout);
    let append_s = t.elapsed().as_secs_f64();
    std::hint::black_box(payload);
    // Closed (dropped) by now.
    let disk_closed = dir_size(&dir);
    let t = Instant::now();
    let (open_s, scanned) = E::scan(&dir);
    let scan_s = t.elapsed().as_secs_f64() - open_s;
    assert_eq!(scanned, batches * batch, "{} lost events", E::NAME);
    let disk_settled = dir_size(&dir);
    if std::env::var_os("BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Outcome {
        events: batches * batch,
        append_s,
        disk_closed,
        disk_settled,
        open_s,
        scan_s,
    }
}

fn report(name: &str, batch: u64, layout: Layout, o: &Outcome) {
    let n = o.events as f64;
    println!(
        "| {name} | {} | {batch} | {} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {:.3} | {:.3} | {:.2} |",
        layout.name(),
        o.events,
        o.append_s,
        n / o.append_s,
        (n / batch as f64) / o.append_s,
        o.disk_closed as f64 / n,
        o.disk_settled as f64 / n,
        o.open_s,
        o.scan_s,
        n / o.scan_s / 1e6,
    );
}

fn main() {
    let scale: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SCALE must be a number"))
        .unwrap_or(1.0);
    let root = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("flowseg-store-choice"));
    let scaled = |n: u64| ((n as f64 * scale) as u64).max(1);
    println!(
        "payload ~{} bytes/event (24-byte key + body); {CONTACTS} contacts; data in {}",
        {
            let mut r = Rng(1);
            let (k, v) = event(&mut r, 0, Layout::ContactFirst);
            k.len() + v.len()
        },
        root.display()
    );
    println!();
    println!(
        "| store | key layout | batch | events | append s | events/s | durable commits/s | disk B/event at close | disk B/event after reopen | reopen s | scan s | scan M events/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut runs = vec![(1000u64, scaled(1000), Layout::ContactFirst)];
    runs.push((1000, scaled(1000), Layout::TimeFirst));
    runs.push((10, scaled(2000), Layout::ContactFirst));
    runs.push((1, scaled(2000), Layout::ContactFirst));
    // BENCH_ONLY=redb or BENCH_ONLY=fjall runs one store (e.g. under strace).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for (batch, batches, layout) in runs {
        if only.is_empty() || only == "redb" {
            let o = run::<Redb>(&root, batches, batch, layout);
            report(Redb::NAME, batch, layout, &o);
        }
        if only.is_empty() || only == "fjall" {
            let o = run::<Fjall>(&root, batches, batch, layout);
            report(Fjall::NAME, batch, layout, &o);
        }
    }
}
