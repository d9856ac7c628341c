//! `flowseg import`: a file streamed into the store through the shared
//! importer (`flowseg_engine::import`), with a progress bar, a per-row error
//! report, and — when stderr is not a terminal — a line per committed batch.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Read, Write};
use std::path::Path;

pub use flowseg_engine::import::Kind;
use flowseg_engine::import::{Format, Importer, Report, RowError};
use flowseg_store::Store;
use indicatif::{ProgressBar, ProgressStyle};

use crate::ImportArgs;

/// How many row errors are shown on stderr (all go to `--errors FILE`).
const ERRORS_SHOWN: usize = 20;

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
    let format = match args.format.as_deref().map(str::to_lowercase).or_else(|| {
        args.file
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_lowercase)
    }) {
        Some(f) if f == "csv" => Format::Csv,
        Some(f) if matches!(f.as_str(), "ndjson" | "jsonl" | "json") => Format::Ndjson,
        None => Format::Ndjson,
        Some(other) => {
            return Err(format!(
                "`{other}` is not an import format: use `csv` or `ndjson`"
            ));
        }
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
    let mut errors_file = match &args.errors {
        Some(p) => {
            Some(std::io::BufWriter::new(File::create(p).map_err(|e| {
                format!("cannot create `{}`: {e}", p.display())
            })?))
        }
        None => None,
    };
    let mut shown = 0usize;
    let has_file = errors_file.is_some();
    let mut on_error = |e: &RowError| {
        if shown < ERRORS_SHOWN {
            eprintln!("line {}: {}", e.line, e.message);
        } else if shown == ERRORS_SHOWN && !has_file {
            eprintln!("(more row errors: pass --errors FILE to keep them all)");
        }
        shown += 1;
        if let Some(f) = &mut errors_file {
            let _ = writeln!(f, "line {}: {}", e.line, e.message);
        }
    };
    let log_batches = !std::io::stderr().is_terminal();
    let bar = progress.clone();
    let mut on_commit = |r: &Report| {
        bar.set_message(format!("{} rows, {} rejected", r.rows, r.rejected));
        if log_batches {
            // Printed after the commit: every row counted here is durable.
            eprintln!(
                "committed {} rows: {} accepted, {} duplicates, {} rejected",
                r.rows, r.accepted, r.duplicates, r.rejected
            );
        }
    };
    let report = Importer::new(
        store,
        &args.account,
        &schema,
        args.batch,
        &mut on_error,
        &mut on_commit,
    )
    .run(kind, format, reader)?;
    progress.finish_and_clear();
    println!(
        "imported {} rows: {} accepted ({} new contacts), {} duplicates, {} rejected",
        report.rows, report.accepted, report.created, report.duplicates, report.rejected
    );
    Ok(report)
}
