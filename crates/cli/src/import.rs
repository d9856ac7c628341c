//! Streamed imports: rows are read one at a time, grouped into batches, and
//! each batch is written in one durable transaction before the next is read.
//! Progress is reported only for committed batches, so whatever the tool has
//! reported as imported survives a crash. Row errors name the line.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::Path;

use flowseg_model::contact::parse_contact_write;
use flowseg_model::event::parse_event;
use flowseg_model::time::now_ms;
use flowseg_model::{ContactWrite, EventInput, FieldType, Schema};
use flowseg_store::Store;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::ImportArgs;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contacts,
    Events,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub rows: u64,
    pub accepted: u64,
    pub created: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

/// Row errors: the first few to stderr, all to the `--errors` file.
struct ErrorLog {
    file: Option<std::io::BufWriter<File>>,
    shown: usize,
}

const ERRORS_SHOWN: usize = 20;

impl ErrorLog {
    fn new(path: Option<&Path>) -> Result<ErrorLog, String> {
        let file = match path {
            Some(p) => {
                Some(std::io::BufWriter::new(File::create(p).map_err(|e| {
                    format!("cannot create `{}`: {e}", p.display())
                })?))
            }
            None => None,
        };
        Ok(ErrorLog { file, shown: 0 })
    }

    fn record(&mut self, line: u64, message: &str) {
        if self.shown < ERRORS_SHOWN {
            eprintln!("line {line}: {message}");
        } else if self.shown == ERRORS_SHOWN && self.file.is_none() {
            eprintln!("(more row errors: pass --errors FILE to keep them all)");
        }
        self.shown += 1;
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "line {line}: {message}");
        }
    }
}

/// Imports a file into an account of the store in `data`.
pub fn run(data: &Path, args: &ImportArgs, kind: Kind) -> Result<Report, String> {
    let store = Store::open(data).map_err(|e| e.to_string())?;
    import_into(&store, args, kind)
}

pub fn import_into(store: &Store, args: &ImportArgs, kind: Kind) -> Result<Report, String> {
    if store
        .account(&args.account)
        .map_err(|e| e.to_string())?
        .is_none()
    {
        return Err(format!(
            "there is no account `{}`: create one with `flowseg account create`",
            args.account
        ));
    }
    let schema = store.schema(&args.account).map_err(|e| e.to_string())?;
    let format = match args.format.as_deref() {
        Some(f) => f.to_string(),
        None => args
            .file
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_lowercase)
            .unwrap_or_else(|| "ndjson".into()),
    };
    let (reader, size): (Box<dyn Read>, u64) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin()), 0)
    } else {
        let f = File::open(&args.file)
            .map_err(|e| format!("cannot open `{}`: {e}", args.file.display()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), size)
    };
    let progress = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let reader = BufReader::with_capacity(1 << 20, progress.wrap_read(reader));
    let mut batcher = Batcher {
        store,
        account: &args.account,
        batch: args.batch.max(1),
        errors: ErrorLog::new(args.errors.as_deref())?,
        report: Report::default(),
        progress,
        contacts: Vec::new(),
        events: Vec::new(),
        log_batches: !std::io::stderr().is_terminal(),
    };
    match (kind, format.as_str()) {
        (Kind::Contacts, "csv") => read_csv(reader, &schema, &mut batcher)?,
        (Kind::Contacts, "ndjson" | "jsonl" | "json") => {
            read_ndjson(reader, &mut batcher, |b, line, v| {
                b.contact_json(&schema, line, &v)
            })?
        }
        (Kind::Events, "ndjson" | "jsonl" | "json") => {
            read_ndjson(reader, &mut batcher, |b, line, v| match parse_event(&v) {
                Ok(e) => b.events.push((line, e)),
                Err(msg) => b.reject(line, &msg),
            })?
        }
        (Kind::Events, other) => {
            return Err(format!(
                "events are imported from NDJSON, not `{other}`: one event object per line"
            ));
        }
        (Kind::Contacts, other) => {
            return Err(format!(
                "`{other}` is not an import format: use `csv` or `ndjson`"
            ));
        }
    }
    batcher.flush()?;
    batcher.progress.finish_and_clear();
    let r = &batcher.report;
    println!(
        "imported {} rows: {} accepted ({} new contacts), {} duplicates, {} rejected",
        r.rows, r.accepted, r.created, r.duplicates, r.rejected
    );
    Ok(batcher.report)
}

struct Batcher<'a> {
    store: &'a Store,
    account: &'a str,
    batch: usize,
    errors: ErrorLog,
    report: Report,
    progress: ProgressBar,
    contacts: Vec<(u64, ContactWrite)>,
    events: Vec<(u64, EventInput)>,
    log_batches: bool,
}

impl Batcher<'_> {
    fn reject(&mut self, line: u64, message: &str) {
        self.report.rows += 1;
        self.report.rejected += 1;
        self.errors.record(line, message);
    }

    fn contact_json(&mut self, schema: &Schema, line: u64, v: &Value) {
        let Some(obj) = v.as_object() else {
            return self.reject(
                line,
                "a contact must be a JSON object of field names and values",
            );
        };
        match parse_contact_write(schema, obj) {
            Ok(w) => self.contacts.push((line, w)),
            Err(problems) => {
                let msg = problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                self.reject(line, &msg);
            }
        }
    }

    fn maybe_flush(&mut self) -> Result<(), String> {
        if self.contacts.len() + self.events.len() >= self.batch {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the pending batch durably and only then counts it.
    fn flush(&mut self) -> Result<(), String> {
        let now = now_ms();
        if !self.contacts.is_empty() {
            let writes: Vec<ContactWrite> = self.contacts.iter().map(|(_, w)| w.clone()).collect();
            let results = self
                .store
                .upsert_contacts(self.account, &writes, now)
                .map_err(|e| e.to_string())?;
            let lines: Vec<u64> = self.contacts.drain(..).map(|(l, _)| l).collect();
            for result in results {
                self.report.rows += 1;
                match result {
                    Ok(ok) => {
                        self.report.accepted += 1;
                        self.report.created += u64::from(ok.created);
                    }
                    Err(e) => {
                        self.report.rejected += 1;
                        self.errors.record(lines[e.index], &e.message);
                    }
                }
            }
        }
        if !self.events.is_empty() {
            let inputs: Vec<EventInput> = self.events.iter().map(|(_, e)| e.clone()).collect();
            let outcome = self
                .store
                .append_events(self.account, &inputs, now)
                .map_err(|e| e.to_string())?;
            let lines: Vec<u64> = self.events.drain(..).map(|(l, _)| l).collect();
            self.report.rows += lines.len() as u64;
            self.report.accepted += outcome.accepted.len() as u64;
            self.report.created += outcome.created_contacts.len() as u64;
            self.report.duplicates += outcome.duplicates.len() as u64;
            self.report.rejected += outcome.rejected.len() as u64;
            for (index, message) in &outcome.rejected {
                self.errors.record(lines[*index], message);
            }
        }
        let r = &self.report;
        self.progress
            .set_message(format!("{} rows, {} rejected", r.rows, r.rejected));
        if self.log_batches {
            // Printed after the commit: every row counted here is durable.
            eprintln!(
                "committed {} rows: {} accepted, {} duplicates, {} rejected",
                r.rows, r.accepted, r.duplicates, r.rejected
            );
        }
        Ok(())
    }
}

fn read_ndjson(
    reader: impl BufRead,
    batcher: &mut Batcher<'_>,
    mut item: impl FnMut(&mut Batcher<'_>, u64, Value),
) -> Result<(), String> {
    for (i, line) in reader.lines().enumerate() {
        let line_no = i as u64 + 1;
        let line = line.map_err(|e| format!("reading line {line_no}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(v) => item(batcher, line_no, v),
            Err(e) => batcher.reject(line_no, &format!("not valid JSON: {e}")),
        }
        batcher.maybe_flush()?;
    }
    Ok(())
}

/// CSV: the header names the fields; each cell is read as its field's type.
/// An empty cell leaves the field as it is.
fn read_csv(reader: impl Read, schema: &Schema, batcher: &mut Batcher<'_>) -> Result<(), String> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| format!("reading the header row: {e}"))?
        .clone();
    let types: Vec<Option<FieldType>> = headers.iter().map(|h| schema.field_type(h)).collect();
    for record in csv.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                batcher.reject(line, &format!("not a valid CSV row: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let mut obj = serde_json::Map::new();
        let mut problems = Vec::new();
        for ((name, cell), ty) in headers.iter().zip(record.iter()).zip(&types) {
            if cell.is_empty() {
                continue;
            }
            match csv_cell(*ty, cell) {
                Ok(v) => {
                    obj.insert(name.to_string(), v);
                }
                Err(msg) => problems.push(format!("field `{name}`: {msg}")),
            }
        }
        if problems.is_empty() {
            batcher.contact_json(schema, line, &Value::Object(obj));
        } else {
            batcher.reject(line, &problems.join("; "));
        }
        batcher.maybe_flush()?;
    }
    Ok(())
}

fn csv_cell(ty: Option<FieldType>, cell: &str) -> Result<Value, String> {
    match ty {
        Some(FieldType::Number) => cell
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("`{cell}` is not a number")),
        Some(FieldType::Boolean) => match cell.trim().to_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Value::Bool(true)),
            "false" | "0" | "no" => Ok(Value::Bool(false)),
            _ => Err(format!("`{cell}` is not a boolean: use true or false")),
        },
        // Text, dates (parsed by the contact parser) and unknown fields
        // (reported by it) pass as strings.
        _ => Ok(Value::String(cell.to_string())),
    }
}
