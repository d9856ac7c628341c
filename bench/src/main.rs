//! flowseg's benchmark (issue 5): flowseg side by side with DuckDB and
//! ClickHouse (chDB) on the same seeded data, plus ingest, memory and
//! restart measurements. `scripts/bench.sh SCALE` runs every step:
//!
//! 1. `gen`: the seeded world ([`data`]) into a flowseg data directory and
//!    CSV files for the peers ([`load`]), cached by scale and seed;
//! 2. `suite`: the segment suite ([`suite`]) as JSON for the peers' driver;
//! 3. `eval`: flowseg's in-process evaluation, timed ([`eval`]);
//! 4. the peers (`bench/peers/run.py`, Python, outside this binary);
//! 5. `ops`: HTTP ingest against `flowseg serve`, restart to serving ([`ops`]);
//! 6. `report`: result equality, docs/benchmarks.md and .json ([`report`]).
//!
//! No step asserts a timing; `report --check` fails only when a peer's
//! result set differs from flowseg's.

mod data;
mod eval;
mod http_client;
mod load;
mod ops;
mod report;
mod rng;
mod runs;
mod suite;
mod vocab;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flowseg_model::time::parse_instant;
use serde_json::json;

/// The allocator of the `flowseg` binary, so that the in-process engine
/// (evaluation, bulk import) runs as it does in the server.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The instant every evaluation is `as_of`; events lie in the 180 days before.
pub const NOW: &str = "2026-06-30T00:00:00Z";

/// Bump when the generator's output changes, so cached data is remade
/// (2: flowseg's event log keyed by event seq, so the bulk import rate is
/// measured on that layout).
const GENERATOR_VERSION: u64 = 2;

/// Named scales: (name, contacts, events).
pub const SCALES: &[(&str, u64, u64)] = &[
    ("quick", 2_000, 100_000),
    ("small", 10_000, 1_000_000),
    ("medium", 100_000, 10_000_000),
    ("large", 1_000_000, 100_000_000),
    ("xl", 10_000_000, 1_000_000_000),
];

#[derive(Parser)]
#[command(
    name = "flowseg-bench",
    about = "flowseg's benchmark against DuckDB and chDB"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generates a scale's data into DIR (skipped when DIR holds it already).
    Gen {
        #[arg(long)]
        scale: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Writes the suite (rules and SQL) as JSON for the peers' driver.
    Suite {
        #[arg(long)]
        out: PathBuf,
    },
    /// Evaluates the suite with flowseg in-process.
    Eval {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 15)]
        reps: usize,
        /// Keep running a segment until its runs add up to this many ms
        /// (0 for exactly `reps` runs).
        #[arg(long, default_value_t = runs::MIN_MS)]
        min_ms: f64,
        #[arg(long)]
        results: PathBuf,
    },
    /// Measures HTTP ingest and restart time with the `flowseg` binary.
    Ops {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        flowseg: PathBuf,
        #[arg(long)]
        results: PathBuf,
        /// Seconds each ingest measurement may run at most.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
    },
    /// Compares result sets and writes the report.
    Report {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        results: PathBuf,
        /// Only check result equality (exit 1 on a difference); write nothing.
        #[arg(long)]
        check: bool,
        #[arg(long, default_value = "docs/benchmarks.md")]
        md: PathBuf,
        #[arg(long, default_value = "docs/benchmarks.json")]
        json: PathBuf,
    },
}

fn now_ms() -> i64 {
    parse_instant(NOW).expect("NOW is a valid instant")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen { scale, seed, dir } => generate(&scale, seed, &dir),
        Command::Suite { out } => write_suite(&out),
        Command::Eval {
            dir,
            reps,
            min_ms,
            results,
        } => eval::run(&dir, now_ms(), reps, min_ms, &results),
        Command::Ops {
            dir,
            flowseg,
            results,
            seconds,
        } => ops::run(&dir, &flowseg, &results, seconds),
        Command::Report {
            dir,
            results,
            check,
            md,
            json,
        } => report::run(&dir, &results, check, &md, &json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowseg-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(scale: &str, seed: u64, dir: &std::path::Path) -> Result<(), String> {
    let &(name, contacts, events) =
        SCALES.iter().find(|(n, _, _)| *n == scale).ok_or_else(|| {
            format!("`{scale}` is not a scale: use quick, small, medium, large or xl")
        })?;
    let meta_path = dir.join("meta.json");
    if let Ok(text) = std::fs::read_to_string(&meta_path)
        && let Ok(meta) = serde_json::from_str::<serde_json::Value>(&text)
        && meta["version"] == GENERATOR_VERSION
        && meta["scale"] == name
        && meta["seed"] == seed
    {
        eprintln!("data for {name} (seed {seed}) is in {}", dir.display());
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&meta_path);
    eprintln!("generating {name}: {contacts} contacts, {events} events (seed {seed})");
    let started = std::time::Instant::now();
    let world = data::World::new(seed, contacts, events, now_ms());
    let loaded = load::generate(&world, events, dir, suite::SUITE)?;
    let meta = json!({
        "version": GENERATOR_VERSION,
        "scale": name,
        "seed": seed,
        "contacts": contacts,
        "events": events,
        "now": NOW,
        "now_ms": now_ms(),
        "generated_s": started.elapsed().as_secs_f64(),
        "bulk_contacts_s": loaded.contacts_s,
        "bulk_events_s": loaded.events_s,
        // The bulk import rate is measured here, possibly many runs before
        // the report that quotes it (bench.sh passes its commit).
        "commit": std::env::var("FLOWSEG_BENCH_COMMIT").unwrap_or_else(|_| "unknown".into()),
    });
    eprintln!(
        "generated in {:.1} s; store appends took {:.1} s ({:.0} events/s)",
        started.elapsed().as_secs_f64(),
        loaded.events_s,
        events as f64 / loaded.events_s
    );
    std::fs::write(
        &meta_path,
        serde_json::to_vec_pretty(&meta).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())
}

fn write_suite(out: &std::path::Path) -> Result<(), String> {
    let now = now_ms();
    let suite: Vec<_> = suite::SUITE
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "kind": s.kind,
                "description": s.description,
                "rule": s.rule(),
                "duckdb": s.duckdb(now),
                "clickhouse": s.clickhouse(now),
            })
        })
        .collect();
    let typed = |col: &str, ty: &str| json!([col, ty]);
    let mut contacts = vec![typed("contact_id", "u32")];
    for f in data::CONTACT_FIELDS {
        let ty = match *f {
            "EmailUnsubscribed" | "Newsletter" => "bool",
            "CreateTime" | "Birthday" | "LastOrderDate" => "ms",
            "Age" | "LifetimeValue" | "Score" => "f64",
            _ => "str",
        };
        contacts.push(typed(f, ty));
    }
    let mut events = vec![
        typed("eid", "u64"),
        typed("contact_id", "u32"),
        typed("name", "name"),
        typed("time", "ms"),
    ];
    for (a, ty) in data::ATTRS {
        let ty = match ty {
            data::Ty::Str => "str",
            data::Ty::Num => "f64",
            data::Ty::Bool => "bool",
        };
        events.push(typed(a, ty));
    }
    let doc = json!({
        "now_ms": now,
        "tables": {"contacts": contacts, "events": events},
        "segments": suite,
    });
    std::fs::write(
        out,
        serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())
}
