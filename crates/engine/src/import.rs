//! Streamed imports of contacts (CSV with a header row, or NDJSON) and
//! events (NDJSON), shared by the CLI and the API.
//!
//! Rows are read one at a time and grouped into batches; each batch is
//! written in one durable transaction before the next is read, and only
//! then counted: whatever an import has reported survives a crash. A row
//! that is wrong is reported with its line and the others are still written.

use std::io::{BufRead, Read};

use flowseg_model::contact::parse_contact_write;
use flowseg_model::event::parse_event;
use flowseg_model::time::now_ms;
use flowseg_model::{ContactWrite, EventInput, FieldType, Schema};
use flowseg_store::{AppendOutcome, ItemError, Store, UpsertOk};
use serde_json::Value;

use crate::Engine;

/// Where imported rows are written: the store alone (offline CLI) or the
/// engine (store and indexes, for a running server).
pub trait Sink {
    fn upsert(
        &self,
        account: &str,
        writes: &[ContactWrite],
        now: i64,
    ) -> Result<Vec<Result<UpsertOk, ItemError>>, String>;
    fn append(
        &self,
        account: &str,
        events: &[EventInput],
        now: i64,
    ) -> Result<AppendOutcome, String>;
}

impl Sink for Store {
    fn upsert(
        &self,
        account: &str,
        writes: &[ContactWrite],
        now: i64,
    ) -> Result<Vec<Result<UpsertOk, ItemError>>, String> {
        self.upsert_contacts(account, writes, now)
            .map_err(|e| e.to_string())
    }

    fn append(
        &self,
        account: &str,
        events: &[EventInput],
        now: i64,
    ) -> Result<AppendOutcome, String> {
        self.append_events(account, events, now)
            .map_err(|e| e.to_string())
    }
}

impl Sink for Engine {
    fn upsert(
        &self,
        account: &str,
        writes: &[ContactWrite],
        now: i64,
    ) -> Result<Vec<Result<UpsertOk, ItemError>>, String> {
        self.upsert_contacts(account, writes, now)
            .map_err(|e| e.to_string())
    }

    fn append(
        &self,
        account: &str,
        events: &[EventInput],
        now: i64,
    ) -> Result<AppendOutcome, String> {
        self.append_events(account, events, now)
            .map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contacts,
    Events,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

/// One rejected row: its 0-based position among the data rows, its line in
/// the file, the status it would have had alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: u64,
    pub line: u64,
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// What an import did (counts of committed rows only).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub rows: u64,
    pub accepted: u64,
    pub created: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

/// An import in progress.
pub struct Importer<'a> {
    sink: &'a dyn Sink,
    account: &'a str,
    schema: &'a Schema,
    batch: usize,
    on_error: &'a mut dyn FnMut(&RowError),
    on_commit: &'a mut dyn FnMut(&Report),
    report: Report,
    /// Rows read so far (the next row's position).
    next_row: u64,
    contacts: Vec<(u64, u64, ContactWrite)>,
    events: Vec<(u64, u64, EventInput)>,
}

impl<'a> Importer<'a> {
    pub fn new(
        sink: &'a dyn Sink,
        account: &'a str,
        schema: &'a Schema,
        batch: usize,
        on_error: &'a mut dyn FnMut(&RowError),
        on_commit: &'a mut dyn FnMut(&Report),
    ) -> Importer<'a> {
        Importer {
            sink,
            account,
            schema,
            batch: batch.max(1),
            on_error,
            on_commit,
            report: Report::default(),
            next_row: 0,
            contacts: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Reads everything from `reader` and writes it; returns the totals.
    pub fn run(
        mut self,
        kind: Kind,
        format: Format,
        reader: impl BufRead,
    ) -> Result<Report, String> {
        match (kind, format) {
            (Kind::Contacts, Format::Csv) => self.read_csv(reader)?,
            (Kind::Contacts, Format::Ndjson) => {
                self.read_ndjson(reader, |me, row, line, v| me.contact_json(row, line, &v))?
            }
            (Kind::Events, Format::Ndjson) => {
                self.read_ndjson(reader, |me, row, line, v| match parse_event(&v) {
                    Ok(e) => me.events.push((row, line, e)),
                    Err(msg) => me.reject(row, line, 422, "invalid_event", &msg),
                })?
            }
            (Kind::Events, Format::Csv) => {
                return Err("events are imported from NDJSON: one event object per line".into());
            }
        }
        self.flush()?;
        Ok(self.report)
    }

    fn take_row(&mut self) -> u64 {
        self.next_row += 1;
        self.next_row - 1
    }

    fn reject(&mut self, row: u64, line: u64, status: u16, code: &str, message: &str) {
        self.report.rows += 1;
        self.report.rejected += 1;
        (self.on_error)(&RowError {
            row,
            line,
            status,
            code: code.into(),
            message: message.into(),
        });
    }

    fn contact_json(&mut self, row: u64, line: u64, v: &Value) {
        let Some(obj) = v.as_object() else {
            return self.reject(
                row,
                line,
                422,
                "invalid_contact",
                "a contact must be a JSON object of field names and values",
            );
        };
        match parse_contact_write(self.schema, obj) {
            Ok(w) => self.contacts.push((row, line, w)),
            Err(problems) => {
                let msg = problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                self.reject(row, line, 422, "invalid_contact", &msg);
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
            let pending = std::mem::take(&mut self.contacts);
            let writes: Vec<ContactWrite> = pending.iter().map(|(_, _, w)| w.clone()).collect();
            let results = self.sink.upsert(self.account, &writes, now)?;
            for result in results {
                self.report.rows += 1;
                match result {
                    Ok(ok) => {
                        self.report.accepted += 1;
                        self.report.created += u64::from(ok.created);
                    }
                    Err(e) => {
                        self.report.rejected += 1;
                        let (row, line, _) = &pending[e.index];
                        (self.on_error)(&RowError {
                            row: *row,
                            line: *line,
                            status: e.status,
                            code: e.code,
                            message: e.message,
                        });
                    }
                }
            }
        }
        if !self.events.is_empty() {
            let pending = std::mem::take(&mut self.events);
            let inputs: Vec<EventInput> = pending.iter().map(|(_, _, e)| e.clone()).collect();
            let outcome = self.sink.append(self.account, &inputs, now)?;
            self.report.rows += pending.len() as u64;
            self.report.accepted += outcome.accepted.len() as u64;
            self.report.created += outcome.created_contacts.len() as u64;
            self.report.duplicates += outcome.duplicates.len() as u64;
            self.report.rejected += outcome.rejected.len() as u64;
            for (index, message) in &outcome.rejected {
                let (row, line, _) = &pending[*index];
                (self.on_error)(&RowError {
                    row: *row,
                    line: *line,
                    status: 422,
                    code: "invalid_event".into(),
                    message: message.clone(),
                });
            }
        }
        (self.on_commit)(&self.report);
        Ok(())
    }

    fn read_ndjson(
        &mut self,
        reader: impl BufRead,
        mut item: impl FnMut(&mut Self, u64, u64, Value),
    ) -> Result<(), String> {
        for (i, line) in reader.lines().enumerate() {
            let line_no = i as u64 + 1;
            let line = line.map_err(|e| format!("reading line {line_no}: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let row = self.take_row();
            match serde_json::from_str::<Value>(&line) {
                Ok(v) => item(self, row, line_no, v),
                Err(e) => self.reject(
                    row,
                    line_no,
                    400,
                    "malformed",
                    &format!("not valid JSON: {e}"),
                ),
            }
            self.maybe_flush()?;
        }
        Ok(())
    }

    /// CSV: the header names the fields; each cell is read as its field's
    /// type. An empty cell leaves the field as it is.
    fn read_csv(&mut self, reader: impl Read) -> Result<(), String> {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(reader);
        let headers = csv
            .headers()
            .map_err(|e| format!("reading the header row: {e}"))?
            .clone();
        let types: Vec<Option<FieldType>> =
            headers.iter().map(|h| self.schema.field_type(h)).collect();
        for record in csv.records() {
            let row = self.take_row();
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    self.reject(
                        row,
                        line,
                        400,
                        "malformed",
                        &format!("not a valid CSV row: {e}"),
                    );
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
                self.contact_json(row, line, &Value::Object(obj));
            } else {
                self.reject(row, line, 422, "invalid_contact", &problems.join("; "));
            }
            self.maybe_flush()?;
        }
        Ok(())
    }
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
