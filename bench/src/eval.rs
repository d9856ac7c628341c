//! `flowseg-bench eval`: opens the data directory through the engine (as
//! `flowseg serve` does at start), then evaluates each suite segment
//! repeatedly in-process, as the API's count does: the rule is parsed and
//! planned against the saved segments, then evaluated `as_of` the world's
//! `now`. Writes the timings and each result's contact ids.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use flowseg_engine::Engine;
use serde_json::json;

use crate::load::ACCOUNT;
use crate::suite::SUITE;

/// Resident set size of this process, from /proc (Linux).
pub fn rss_bytes() -> u64 {
    rss_bytes_of("self")
}

/// Resident set size of process `pid` (or `self`), from /proc (Linux); 0
/// when unreadable.
pub fn rss_bytes_of(pid: &str) -> u64 {
    proc_kib(&format!("/proc/{pid}/status"), "VmRSS:").map_or(0, |kb| kb * 1024)
}

/// A `Key:   N kB` line of a /proc file (status, meminfo), in KiB.
pub fn proc_kib(path: &str, key: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
    })
}

pub fn run(data: &Path, now: i64, reps: usize, min_ms: f64, out: &Path) -> Result<(), String> {
    let ids_dir = out.join("flowseg");
    std::fs::create_dir_all(&ids_dir).map_err(|e| e.to_string())?;
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let rss_before = rss_bytes();
    // The in-process figure is the full build from the store: an index
    // snapshot left by `ops` is removed first (FLOWSEG_BENCH_SNAPSHOT=1
    // keeps it, to profile evaluation without waiting for a rebuild).
    if std::env::var_os("FLOWSEG_BENCH_SNAPSHOT").is_none() {
        let _ = std::fs::remove_file(data.join("flowseg").join("index.snapshot"));
    }
    let started = Instant::now();
    let engine = Engine::open(&data.join("flowseg")).map_err(|e| e.to_string())?;
    let index_source = format!("{:?}", engine.loaded_from());
    let load_s = started.elapsed().as_secs_f64();
    let rss_after = rss_bytes();
    let handle = engine.index(ACCOUNT).map_err(|e| e.to_string())?;
    let index = handle.read().unwrap_or_else(|e| e.into_inner());
    let (heap_contacts, heap_events) = index.heap_bytes();
    let contacts = index.live().len();
    let events = index.event_rows();
    eprintln!("flowseg: indexes of {contacts} contacts and {events} events built in {load_s:.2} s");
    let parts = index.event_heap_parts();
    for (partition, part, bytes) in parts.iter().take(12) {
        eprintln!(
            "flowseg: {partition:>14} {part:<24} {:>7.2} bytes per event",
            *bytes as f64 / events.max(1) as f64
        );
    }
    let heap_parts: Vec<_> = parts
        .iter()
        .map(|(p, part, b)| json!({"partition": p, "part": part, "bytes": b}))
        .collect();
    let source = engine.segment_source(ACCOUNT);
    let mut segments = serde_json::Map::new();
    // For profiling one shape: FLOWSEG_BENCH_ONLY=headline,abandoned_cart.
    let only = std::env::var("FLOWSEG_BENCH_ONLY").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|n| n == name))
    };
    let suite: Vec<_> = SUITE.iter().filter(|s| wanted(s.name)).collect();
    let rules: Vec<_> = suite.iter().map(|s| s.rule()).collect();
    let mut members = vec![None; suite.len()];
    // Every segment warmed up, then measured in rounds (see `crate::runs`).
    // A segment's first evaluation also makes what later ones reuse (text
    // verdicts, `on` translations): it is reported apart.
    let rounds = crate::runs::in_rounds(suite.len(), reps, min_ms, |i| {
        let t = Instant::now();
        let (_, plan) = source
            .plan(&rules[i], "/rule", index.schema(), None)
            .map_err(|p| format!("segment {}: {p:?}", suite[i].name))?;
        let result = index.evaluate(&plan, now);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        members[i] = Some(result);
        Ok::<f64, String>(ms)
    })?;
    for (i, seg) in suite.iter().enumerate() {
        let members = members[i].take().unwrap_or_default();
        let times = &rounds.times_ms[i];
        let first_ms = rounds.first_ms[i];
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(ids_dir.join(format!("{}.ids", seg.name)))
                .map_err(|e| e.to_string())?,
        );
        for o in &members {
            writeln!(f, "{o}").map_err(|e| e.to_string())?;
        }
        f.flush().map_err(|e| e.to_string())?;
        eprintln!(
            "flowseg: {:<20} {:>8} members, median {:.3} ms (first run {:.1} ms)",
            seg.name,
            members.len(),
            crate::report::percentile(times, 50.0),
            first_ms
        );
        segments.insert(
            seg.name.to_string(),
            json!({"times_ms": times, "first_ms": first_ms, "count": members.len()}),
        );
    }
    let result = json!({
        "contacts": contacts,
        "events": events,
        "load_s": load_s,
        "index_source": index_source,
        "loadavg_at_start": loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "store_file_bytes": std::fs::metadata(data.join("flowseg").join(flowseg_store::DB_FILE)).map_or(0, |m| m.len()),
        "rss_delta_bytes": rss_after.saturating_sub(rss_before),
        "heap_contact_bytes": heap_contacts,
        "heap_event_bytes": heap_events,
        "heap_event_parts": heap_parts,
        "segments": segments,
    });
    std::fs::write(
        out.join("flowseg.json"),
        serde_json::to_vec_pretty(&result).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())
}
