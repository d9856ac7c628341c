//! `flowseg-bench gen`: writes a world into a flowseg data directory (the
//! store's batched durable appends, the path the importer uses) and as CSV
//! files for the peers (`contacts.csv`, `events.csv`), then `meta.json`.
//!
//! A generator thread makes each contact's events; the main thread appends
//! them to the store in contact order, so the time spent inside the
//! store's append is the bulk import rate. The events' CSV is written
//! afterwards, from the same seeded world.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use flowseg_model::contact::parse_contact_write;
use flowseg_model::time::format_instant;
use flowseg_model::{AttrValue, Attributes, ContactRef, EventInput, FieldDef, FieldType};
use flowseg_store::{AccountRecord, SegmentRecord, Store};
use serde_json::{Value, json};

use crate::data::{ATTRS, CONTACT_FIELDS, CUSTOM_FIELDS, EVENT_NAMES, FieldVal, Val, World};
use crate::suite::Segment;

/// The account every benchmark data directory holds.
pub const ACCOUNT: &str = "acc_bench";

/// Events per durable append when loading.
const EVENT_BATCH: usize = 50_000;
const CONTACT_BATCH: usize = 10_000;

pub struct Loaded {
    pub contacts_s: f64,
    pub events_s: f64,
}

/// Generates the world into `dir` (`dir/flowseg` is the data directory).
pub fn generate(
    world: &World,
    events: u64,
    dir: &Path,
    suite: &[Segment],
) -> Result<Loaded, String> {
    let store_dir = dir.join("flowseg");
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir).map_err(|e| e.to_string())?;
    }
    let store = Store::open(&store_dir).map_err(|e| e.to_string())?;
    store
        .create_account(AccountRecord {
            id: ACCOUNT.into(),
            created_at: world.now,
            addons: [("custom_events".to_string(), true)].into(),
            keys: vec![],
        })
        .map_err(|e| e.to_string())?;
    let mut schema = store.schema(ACCOUNT).map_err(|e| e.to_string())?;
    for (name, ty) in CUSTOM_FIELDS {
        let field_type = FieldType::parse(ty).ok_or("a known field type")?;
        schema = store
            .add_field(
                ACCOUNT,
                FieldDef {
                    name: name.to_string(),
                    field_type,
                },
            )
            .map_err(|e| e.to_string())?;
    }
    for seg in suite {
        store
            .put_segment(
                ACCOUNT,
                &SegmentRecord {
                    id: seg.id(),
                    name: seg.name.to_string(),
                    description: seg.description.to_string(),
                    rule: seg.rule(),
                    created_at: world.now,
                    updated_at: world.now,
                },
            )
            .map_err(|e| e.to_string())?;
    }

    // Contacts: through the API's contact parser, in batches.
    let mut csv = BufWriter::with_capacity(1 << 20, create(&dir.join("contacts.csv"))?);
    let mut header = String::from("contact_id");
    for f in CONTACT_FIELDS {
        header.push(',');
        header.push_str(f);
    }
    writeln!(csv, "{header}").map_err(|e| e.to_string())?;
    let mut contacts_s = 0.0;
    let mut batch = Vec::with_capacity(CONTACT_BATCH);
    for i in 0..world.contacts {
        let c = world.contact(i);
        write_contact_row(&mut csv, i, &c).map_err(|e| e.to_string())?;
        let mut obj = serde_json::Map::new();
        for (name, v) in CONTACT_FIELDS.iter().zip(&c) {
            if let Some(v) = v {
                obj.insert(name.to_string(), field_json(v));
            }
        }
        let write = parse_contact_write(&schema, &obj)
            .map_err(|p| format!("generated contact {i} is invalid: {p:?}"))?;
        batch.push(write);
        if batch.len() == CONTACT_BATCH || i + 1 == world.contacts {
            let t = Instant::now();
            let results = store
                .upsert_contacts(ACCOUNT, &batch, world.now)
                .map_err(|e| e.to_string())?;
            contacts_s += t.elapsed().as_secs_f64();
            let first = i + 1 - batch.len() as u64;
            for (k, r) in results.iter().enumerate() {
                let ok = r.as_ref().map_err(|e| e.message.clone())?;
                if ok.id != format!("c{}", first + k as u64) {
                    return Err(format!(
                        "contact {} got id {}: the data directory was not empty",
                        first + k as u64,
                        ok.id
                    ));
                }
            }
            batch.clear();
        }
    }
    csv.flush().map_err(|e| e.to_string())?;

    // Events: generated on a second thread and appended here. The CSV
    // for the peers is written afterwards from the same (seeded) world:
    // written alongside, its gigabytes of page-cache writeback competed
    // with the store's fsyncs and made the import rate the disk's (at
    // `large`: 720k events/s with it, 789k without).
    let events_s = load_events(world, events, &store)?;
    write_events_csv(world, events, &dir.join("events.csv"))?;
    Ok(Loaded {
        contacts_s,
        events_s,
    })
}

/// Appends the world's events to the store in contact order, in durable
/// batches made by a generator thread; returns the seconds spent inside
/// the appends (the bulk import rate's measure).
fn load_events(world: &World, events: u64, store: &Store) -> Result<f64, String> {
    let (tx, rx) = mpsc::sync_channel::<Vec<EventInput>>(2);
    std::thread::scope(|scope| -> Result<f64, String> {
        let producer = scope.spawn(move || {
            let mut batch = Vec::with_capacity(EVENT_BATCH);
            for i in 0..world.contacts {
                let contact = ContactRef::Id(format!("c{i}"));
                for e in world.events(i) {
                    batch.push(EventInput {
                        id: None,
                        name: EVENT_NAMES[e.name as usize].0.to_string(),
                        contact: contact.clone(),
                        time: Some(e.time),
                        attributes: attributes(&e.attrs),
                    });
                    if batch.len() == EVENT_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(EVENT_BATCH));
                        if tx.send(full).is_err() {
                            return;
                        }
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
        });
        let mut spent = 0.0;
        let mut appended = 0u64;
        for batch in rx {
            let t = Instant::now();
            let outcome = store
                .append_events(ACCOUNT, &batch, world.now)
                .map_err(|e| e.to_string())?;
            spent += t.elapsed().as_secs_f64();
            if let Some((i, why)) = outcome.rejected.first() {
                return Err(format!("event {i} of a batch was rejected: {why}"));
            }
            appended += outcome.accepted.len() as u64;
            if appended % 5_000_000 < EVENT_BATCH as u64 {
                eprintln!("  {appended} events stored ({spent:.1} s in appends)");
            }
        }
        producer
            .join()
            .map_err(|_| "the generator thread panicked".to_string())?;
        if appended != events {
            return Err(format!("stored {appended} events, expected {events}"));
        }
        Ok(spent)
    })
}

/// Writes the world's events as CSV for the peers, numbered as the store
/// numbered them (`eid`, in contact order).
fn write_events_csv(world: &World, events: u64, path: &Path) -> Result<(), String> {
    let mut csv = BufWriter::with_capacity(1 << 22, create(path)?);
    let mut header = String::from("eid,contact_id,name,time");
    for (a, _) in ATTRS {
        header.push(',');
        header.push_str(a);
    }
    writeln!(csv, "{header}").map_err(|e| e.to_string())?;
    let mut eid = 0u64;
    let mut line = String::new();
    for i in 0..world.contacts {
        for e in world.events(i) {
            event_row(&mut line, eid, i, &e);
            csv.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
            eid += 1;
        }
    }
    csv.flush().map_err(|e| e.to_string())?;
    if eid != events {
        return Err(format!("generated {eid} events, expected {events}"));
    }
    Ok(())
}

fn create(path: &Path) -> Result<File, String> {
    File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

fn field_json(v: &FieldVal) -> Value {
    match v {
        FieldVal::Text(s) => json!(s),
        FieldVal::Num(n) => json!(n),
        FieldVal::Date { ms, plain: true } => json!(format_instant(*ms)[..10]),
        FieldVal::Date { ms, plain: false } => json!(format_instant(*ms)),
        FieldVal::Bool(b) => json!(b),
    }
}

fn attributes(attrs: &[(u8, Val)]) -> Attributes {
    attrs
        .iter()
        .map(|(a, v)| {
            let value = match v {
                Val::Null => AttrValue::Null,
                Val::Empty => AttrValue::Str(String::new()),
                Val::Str(s) => AttrValue::Str(s.clone()),
                Val::Num(n) => AttrValue::Num(*n),
                Val::Bool(b) => AttrValue::Bool(*b),
            };
            (ATTRS[*a as usize].0.to_string(), value)
        })
        .collect()
}

/// A CSV cell: empty for no value, quoted when it must be.
fn push_str_cell(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn push_num(out: &mut String, n: f64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{n}");
}

fn write_contact_row(out: &mut impl Write, i: u64, c: &[Option<FieldVal>]) -> std::io::Result<()> {
    let mut line = format!("{i}");
    for v in c {
        line.push(',');
        match v {
            None => {}
            Some(FieldVal::Text(s)) => push_str_cell(&mut line, s),
            Some(FieldVal::Num(n)) => push_num(&mut line, *n),
            Some(FieldVal::Date { ms, .. }) => line.push_str(&ms.to_string()),
            Some(FieldVal::Bool(b)) => line.push_str(if *b { "true" } else { "false" }),
        }
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

fn event_row(line: &mut String, eid: u64, contact: u64, e: &crate::data::GenEvent) {
    use std::fmt::Write as _;
    line.clear();
    let _ = write!(
        line,
        "{eid},{contact},{},{}",
        EVENT_NAMES[e.name as usize].0, e.time
    );
    let mut cells: [Option<&Val>; 32] = [None; 32];
    for (a, v) in &e.attrs {
        cells[*a as usize] = Some(v);
    }
    for cell in cells.iter().take(ATTRS.len()) {
        line.push(',');
        match cell {
            None | Some(Val::Null) | Some(Val::Empty) => {}
            Some(Val::Str(s)) => push_str_cell(line, s),
            Some(Val::Num(n)) => push_num(line, *n),
            Some(Val::Bool(b)) => line.push_str(if *b { "true" } else { "false" }),
        }
    }
    line.push('\n');
}
