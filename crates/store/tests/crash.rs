//! Crash safety: a child process appends event batches and acknowledges
//! each one on stdout only after `append_events` returned `Ok`; the parent
//! kills it with SIGKILL mid-stream, reopens the store and checks that every
//! acknowledged event is there exactly once, that no event is stored twice,
//! and that every batch is all-or-nothing.
//!
//! The child is this same test binary, re-executed with an environment
//! variable that turns the otherwise empty `crash_child` test into the
//! writer loop, so no extra binary is needed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use flowseg_model::{AttrValue, ContactRef, EventInput};
use flowseg_store::{AccountRecord, Store};

const CHILD_ENV: &str = "FLOWSEG_STORE_CRASH_CHILD_DIR";
const BATCH: usize = 400;
const RETRIED: usize = 100;
const ACKS_BEFORE_KILL: usize = 6;

/// The events of batch `b`: `BATCH` new ids plus, as a client retry would,
/// the first `RETRIED` ids of batch `b - 1` again (they must be duplicates).
fn batch(b: usize) -> Vec<EventInput> {
    let mut ids: Vec<String> = (0..BATCH).map(|i| format!("b{b}-{i}")).collect();
    if b > 0 {
        ids.extend((0..RETRIED).map(|i| format!("b{}-{i}", b - 1)));
    }
    ids.into_iter()
        .enumerate()
        .map(|(i, id)| EventInput {
            id: Some(id),
            name: "purchase".into(),
            contact: ContactRef::Email(format!("u{}@example.com", i % 37)),
            time: Some(1_750_000_000_000 + i as i64),
            attributes: [
                ("price".to_string(), AttrValue::Num(i as f64)),
                ("sku".to_string(), AttrValue::Str(format!("sku-{i}"))),
            ]
            .into(),
        })
        .collect()
}

/// Kills the child even when an assertion fails first.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The writer loop, run only in the child process.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(Path::new(&dir)).unwrap();
    let mut out = std::io::stdout().lock();
    for b in 0.. {
        let outcome = store
            .append_events("acc", &batch(b), 1_750_000_000_000)
            .unwrap();
        writeln!(out, "ACK {b} {}", outcome.accepted.len()).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path())
        .unwrap()
        .create_account(AccountRecord {
            id: "acc".into(),
            created_at: 0,
            addons: Default::default(),
            keys: vec![],
        })
        .unwrap();

    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut acked = 0usize;
    while acked < ACKS_BEFORE_KILL {
        let line = lines
            .next()
            .expect("the child stopped before acknowledging enough batches")
            .unwrap();
        // libtest may print `test crash_child ... ` before it on the line.
        let Some((_, rest)) = line.split_once("ACK ") else {
            continue;
        };
        let (b, accepted) = rest.split_once(' ').unwrap();
        assert_eq!(b.parse::<usize>().unwrap(), acked);
        assert_eq!(accepted.parse::<usize>().unwrap(), BATCH);
        acked += 1;
    }
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();

    let store = Store::open(dir.path()).unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    store
        .for_each_event("acc", |_, _, e| {
            *seen.entry(e.id.unwrap()).or_default() += 1
        })
        .unwrap();
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    for b in 0..acked {
        for i in 0..BATCH {
            assert!(
                seen.contains_key(&format!("b{b}-{i}")),
                "acknowledged b{b}-{i} lost"
            );
        }
    }
    // Unacknowledged batches the child may have committed are whole or absent.
    let mut b = acked;
    loop {
        let present = (0..BATCH)
            .filter(|i| seen.contains_key(&format!("b{b}-{i}")))
            .count();
        assert!(
            present == 0 || present == BATCH,
            "batch {b} is partial: {present}"
        );
        if present == 0 {
            break;
        }
        b += 1;
    }
    assert_eq!(seen.len(), b * BATCH);
    eprintln!("{acked} batches acknowledged, {b} found after SIGKILL");

    // The ids survived too: resending the last stored batch stores nothing.
    let again = store.append_events("acc", &batch(b - 1), 0).unwrap();
    assert!(again.accepted.is_empty());
    assert_eq!(again.duplicates.len(), batch(b - 1).len());
}
