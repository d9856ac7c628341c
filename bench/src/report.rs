//! `flowseg-bench report`: checks that every peer's result set equals
//! flowseg's, then (unless `--check`) writes this scale's entry into
//! docs/benchmarks.json (one object per scale, the shape issue 5 fixes) and
//! its section into docs/benchmarks.md, keeping the other scales' entries.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::SCALES;
use crate::suite::SUITE;

const PEERS: &[&str] = &["duckdb", "chdb"];

/// The p-th percentile (nearest rank) of samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// A result set as written by an engine (`None` when it has none).
fn ids(results: &Path, engine: &str, segment: &str) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(results.join(engine).join(format!("{segment}.ids"))).ok()?;
    Some(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// How two result sets differ, in one line (`None` when equal).
fn difference(flowseg: &[u64], peer: &[u64]) -> Option<String> {
    if flowseg == peer {
        return None;
    }
    let a: BTreeSet<_> = flowseg.iter().collect();
    let b: BTreeSet<_> = peer.iter().collect();
    let only_f: Vec<_> = a.difference(&b).take(5).collect();
    let only_p: Vec<_> = b.difference(&a).take(5).collect();
    Some(format!(
        "{} vs {} rows; only flowseg: {only_f:?}; only the peer: {only_p:?}{}",
        flowseg.len(),
        peer.len(),
        if b.len() < peer.len() {
            "; the peer repeats ids"
        } else {
            ""
        }
    ))
}

fn times(engine: &Value, segment: &str) -> Vec<f64> {
    engine["segments"][segment]["times_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

struct Row {
    name: &'static str,
    kind: &'static str,
    members: usize,
    equal: bool,
    flowseg: (f64, f64),
    peers: Vec<(f64, f64)>,
}

pub fn run(
    dir: &Path,
    results: &Path,
    check: bool,
    md: &Path,
    json_path: &Path,
) -> Result<(), String> {
    let meta = read_json(&dir.join("meta.json"))?;
    let flowseg = read_json(&results.join("flowseg.json"))?;
    let peers: Vec<Value> = PEERS
        .iter()
        .map(|p| read_json(&results.join(format!("{p}.json"))))
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for seg in SUITE {
        let ours = ids(results, "flowseg", seg.name)
            .ok_or(format!("flowseg has no result for {}", seg.name))?;
        let mut equal = true;
        for (p, peer) in PEERS.iter().zip(&peers) {
            let verdict = match ids(results, p, seg.name) {
                None => Some(format!(
                    "no result ({})",
                    peer["segments"][seg.name]["error"]
                        .as_str()
                        .unwrap_or("missing")
                )),
                Some(theirs) => difference(&ours, &theirs),
            };
            if let Some(why) = verdict {
                equal = false;
                problems.push(format!("{}: {p} differs from flowseg: {why}", seg.name));
            }
        }
        let stats = |t: Vec<f64>| (percentile(&t, 50.0), percentile(&t, 95.0));
        rows.push(Row {
            name: seg.name,
            kind: seg.kind,
            members: ours.len(),
            equal,
            flowseg: stats(times(&flowseg, seg.name)),
            peers: peers.iter().map(|p| stats(times(p, seg.name))).collect(),
        });
    }
    for r in &rows {
        eprintln!(
            "{:<20} {:>8} members  {}",
            r.name,
            r.members,
            if r.equal { "equal" } else { "DIFFERENT" }
        );
    }
    for p in &problems {
        eprintln!("{p}");
    }
    if check {
        return if problems.is_empty() {
            eprintln!("{} segments: every result set equals flowseg's", rows.len());
            Ok(())
        } else {
            Err(format!(
                "{} result sets differ from flowseg's",
                problems.len()
            ))
        };
    }

    let ops = read_json(&results.join("ops.json"))?;
    let scale = meta["scale"].as_str().unwrap_or("?").to_string();
    let contacts = meta["contacts"].as_u64().unwrap_or(0);
    let events = meta["events"].as_u64().unwrap_or(0);
    let rate =
        |v: &Value| v["events"].as_f64().unwrap_or(0.0) / v["seconds"].as_f64().unwrap_or(f64::NAN);
    let restarts: Vec<f64> = ops["restart_s"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let bulk_eps = events as f64 / meta["bulk_events_s"].as_f64().unwrap_or(f64::NAN);
    let heap_event = flowseg["heap_event_bytes"].as_f64().unwrap_or(0.0);
    let heap_contact = flowseg["heap_contact_bytes"].as_f64().unwrap_or(0.0);
    let round = |x: f64, digits: i32| {
        let f = 10f64.powi(digits);
        (x * f).round() / f
    };
    let entry = json!({
        "scale": scale,
        "contacts": contacts,
        "events": events,
        "segments": rows.iter().map(|r| json!({
            "name": r.name,
            "flowseg_p50_ms": round(r.flowseg.0, 3),
            "flowseg_p95_ms": round(r.flowseg.1, 3),
            "duckdb_p50_ms": round(r.peers[0].0, 3),
            "chdb_p50_ms": round(r.peers[1].0, 3),
            "results_equal": r.equal,
        })).collect::<Vec<_>>(),
        "ingest": {
            "http_batched_eps": rate(&ops["http_batched"]).round(),
            "http_single_eps": rate(&ops["http_single"]).round(),
            "bulk_import_eps": bulk_eps.round(),
        },
        "memory": {
            "bytes_per_event": round(heap_event / events as f64, 2),
            "bytes_per_contact": round(heap_contact / contacts as f64, 2),
        },
        "restart_s": round(percentile(&restarts, 50.0), 3),
    });

    // docs/benchmarks.json: replace this scale's object, keep the others.
    let mut all: Vec<Value> = std::fs::read(json_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    all.retain(|v| v["scale"] != scale.as_str());
    all.push(entry);
    let order = |v: &Value| {
        SCALES
            .iter()
            .position(|(n, _, _)| v["scale"] == *n)
            .unwrap_or(usize::MAX)
    };
    all.sort_by_key(order);
    let mut text = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
    text.push('\n');
    std::fs::write(json_path, text).map_err(|e| e.to_string())?;

    // docs/benchmarks.md: this scale's section between markers.
    let section = scale_section(
        results, &scale, &meta, &flowseg, &peers, &ops, &rows, &restarts,
    );
    let old = std::fs::read_to_string(md).unwrap_or_default();
    let mut sections: Vec<(String, String)> = Vec::new();
    for (name, _, _) in SCALES {
        let begin = format!("<!-- scale:{name} -->");
        let end = format!("<!-- /scale:{name} -->");
        if *name == scale {
            sections.push((name.to_string(), section.clone()));
        } else if let (Some(b), Some(e)) = (old.find(&begin), old.find(&end))
            && b < e
        {
            sections.push((name.to_string(), old[b + begin.len()..e].trim().to_string()));
        }
    }
    let mut doc = header();
    doc.push('\n');
    doc.push_str(&suite_table());
    for (name, body) in sections {
        let _ = write!(
            doc,
            "\n<!-- scale:{name} -->\n{body}\n<!-- /scale:{name} -->\n"
        );
    }
    doc.push_str(FOOTER);
    std::fs::write(md, doc).map_err(|e| e.to_string())?;
    eprintln!("wrote {} and {}", md.display(), json_path.display());
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} result sets differ from flowseg's",
            problems.len()
        ))
    }
}

/// How the server grouped an ingest run's requests into durable commits.
fn grouping(run: &Value) -> String {
    match (run["commits"].as_f64(), run["requests"].as_f64()) {
        (Some(c), Some(r)) if c > 0.0 => format!(
            "{} commits (fsyncs), {:.1} requests each",
            thousands(c),
            r / c
        ),
        _ => "commits not reported".into(),
    }
}

fn ms(x: f64) -> String {
    if x.is_nan() {
        "—".into()
    } else if x < 1.0 {
        format!("{x:.3}")
    } else if x < 100.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.0}")
    }
}

fn ratio(peer: f64, ours: f64) -> String {
    if peer.is_nan() || ours.is_nan() || ours <= 0.0 {
        "—".into()
    } else {
        format!("{:.1}×", peer / ours)
    }
}

fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 && c != '-' {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(bytes: f64) -> String {
    let mib = bytes / (1u64 << 20) as f64;
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.1} MiB")
    }
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// One line describing this machine.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = crate::eval::proc_kib("/proc/meminfo", "MemTotal:").map_or("?".to_string(), |kb| {
        format!("{:.0} GiB", kb as f64 / 1048576.0)
    });
    format!(
        "{cores} cores ({model}), {mem} memory, Linux {}, {}",
        command_output("uname", &["-r"]),
        command_output("rustc", &["--version"])
    )
}

#[allow(clippy::too_many_arguments)]
fn scale_section(
    results: &Path,
    scale: &str,
    meta: &Value,
    flowseg: &Value,
    peers: &[Value],
    ops: &Value,
    rows: &[Row],
    restarts: &[f64],
) -> String {
    let contacts = meta["contacts"].as_f64().unwrap_or(0.0);
    let events = meta["events"].as_f64().unwrap_or(0.0);
    // Runs per segment vary (`crate::runs`); the report gives the fewest.
    let fewest = |engine: &Value| {
        rows.iter()
            .map(|r| times(engine, r.name).len())
            .min()
            .unwrap_or(0)
    };
    let reps = fewest(flowseg);
    let peer_reps = peers.iter().map(fewest).min().unwrap_or(0);
    let min_s = crate::runs::MIN_MS / 1e3;
    let commit = std::fs::read_to_string(results.join("commit"))
        .map_or_else(|_| "unknown".to_string(), |c| format!("`{}`", c.trim()));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## `{scale}`: {} contacts, {} events\n",
        thousands(contacts),
        thousands(events)
    );
    let _ = writeln!(
        s,
        "flowseg at commit {}, seed {}, every rule evaluated as of {}. Measured {} on {}; DuckDB {} ({}), chDB {} ({}). \
         Times are wall-clock milliseconds per evaluation returning the member ids \
         (flowseg: rule planned and evaluated to a bitmap in-process; peers: the SQL run \
         from Python with the ids fetched as an array). Each engine runs each segment once \
         to warm up, then at least {reps} (flowseg) or {peer_reps} (peers) times and, for \
         fast segments, until the runs add up to {min_s} s, in rounds of one run of each \
         segment still due. Ratios are peer median / flowseg median. \
         \"equal\" means both peers returned exactly flowseg's set of contact ids. \
         The machine is shared with other work (load average {} when flowseg's runs \
         began), so the p95 columns carry that noise.\n",
        commit,
        meta["seed"],
        meta["now"].as_str().unwrap_or("?"),
        command_output("date", &["-u", "+%Y-%m-%d"]),
        machine(),
        peers[0]["version"].as_str().unwrap_or("?"),
        peers[0]["storage"].as_str().unwrap_or("?"),
        peers[1]["version"].as_str().unwrap_or("?"),
        peers[1]["storage"].as_str().unwrap_or("?"),
        flowseg["loadavg_at_start"].as_str().unwrap_or("?"),
    );
    s.push_str(
        "| segment | kind | members | flowseg p50 | flowseg p95 | DuckDB p50 | DuckDB p95 | chDB p50 | chDB p95 | DuckDB / flowseg | chDB / flowseg | results |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.kind,
            thousands(r.members as f64),
            ms(r.flowseg.0),
            ms(r.flowseg.1),
            ms(r.peers[0].0),
            ms(r.peers[0].1),
            ms(r.peers[1].0),
            ms(r.peers[1].1),
            ratio(r.peers[0].0, r.flowseg.0),
            ratio(r.peers[1].0, r.flowseg.0),
            if r.equal { "equal" } else { "**different**" },
        );
    }
    let rate =
        |v: &Value| v["events"].as_f64().unwrap_or(0.0) / v["seconds"].as_f64().unwrap_or(f64::NAN);
    let heap_event = flowseg["heap_event_bytes"].as_f64().unwrap_or(0.0);
    let heap_contact = flowseg["heap_contact_bytes"].as_f64().unwrap_or(0.0);
    let rss_delta = flowseg["rss_delta_bytes"].as_f64().unwrap_or(0.0);
    let serve_rss = ops["serve_rss_bytes"].as_f64().unwrap_or(0.0);
    let empty_rss = ops["empty_serve_rss_bytes"].as_f64().unwrap_or(0.0);
    let b = &ops["http_batched"];
    let one = &ops["http_single"];
    let _ = writeln!(
        s,
        "\n| measure | value | how it is measured | issue 5 target (at `large`) |\n|---|--:|---|---|"
    );
    let mut line = |what: &str, value: String, how: String, target: &str| {
        let _ = writeln!(s, "| {what} | {value} | {how} | {target} |");
    };
    line(
        "bulk import",
        format!(
            "{} events/s",
            thousands(events / meta["bulk_events_s"].as_f64().unwrap_or(f64::NAN))
        ),
        format!(
            "`Store::append_events` (the importer's sink) in durable batches of 50,000 pre-parsed events, contact-ordered; {} s for the events, {} s for the contacts; measured when the data was generated, {}",
            ms(meta["bulk_events_s"].as_f64().unwrap_or(f64::NAN)),
            ms(meta["bulk_contacts_s"].as_f64().unwrap_or(f64::NAN)),
            match meta["commit"].as_str() {
                Some(commit) => format!("at commit `{commit}`"),
                None => "at a commit not recorded".to_string(),
            }
        ),
        "≥ 1M events/s",
    );
    line(
        "HTTP ingest, batched",
        format!("{} events/s", thousands(rate(b))),
        format!(
            "`POST /v1/events`, arrays of {} events, {} connections (one request in flight on each), fresh data directory, {} events in {} s, each 2xx durable; {}",
            b["batch"],
            b["clients"],
            thousands(b["events"].as_f64().unwrap_or(0.0)),
            ms(b["seconds"].as_f64().unwrap_or(f64::NAN)),
            grouping(b)
        ),
        "≥ 250k events/s",
    );
    line(
        "HTTP ingest, one event per request",
        format!("{} events/s", thousands(rate(one))),
        format!(
            "`POST /v1/events`, one event per request, {} keep-alive connections (one request in flight on each; the generator is one thread over epoll, a minimal HTTP/1.1 client), {} events in {} s, each 2xx durable; {}",
            one["clients"],
            thousands(one["events"].as_f64().unwrap_or(0.0)),
            ms(one["seconds"].as_f64().unwrap_or(f64::NAN)),
            grouping(one)
        ),
        "≥ 50k events/s",
    );
    let noop = &ops["http_noop"];
    if noop.is_object() {
        line(
            "HTTP ceiling of this machine and generator",
            format!(
                "{} requests/s",
                thousands(
                    noop["requests"].as_f64().unwrap_or(0.0)
                        / noop["seconds"].as_f64().unwrap_or(f64::NAN)
                )
            ),
            format!(
                "`GET /healthz` (no key, no work) from the same generator on {} connections, right after the ingest: what one request per event could reach at best here, with the server's HTTP stack and loopback TCP sharing the two cores with the generator",
                noop["clients"]
            ),
            "(none: it bounds the line above)",
        );
    }
    line(
        "bytes per event",
        format!("{:.1}", heap_event / events),
        "the engine's heap accounting of the event partitions (`AccountIndex::heap_bytes`) / events, after a rebuild from the store (dictionaries with their hash tables; a start from the snapshot builds those on the first new string)".into(),
        "≤ 12",
    );
    line(
        "bytes per contact",
        format!("{:.1}", heap_contact / contacts),
        "the engine's heap accounting of the field columns, ids and live set / contacts".into(),
        "≤ 200",
    );
    line(
        "resident growth of opening the data",
        mib(rss_delta),
        format!(
            "RSS after `Engine::open` (a rebuild from the store) minus before, in-process: {:.1} bytes per event (contacts included; redb's read cache and the allocator's free memory after the rebuild's merges are part of it)",
            rss_delta / events
        ),
        "",
    );
    line(
        "`flowseg serve` resident, data loaded",
        mib(serve_rss),
        format!(
            "VmRSS once /healthz answers after a restart from the snapshot; an empty server: {}; ({:.1} bytes per event over the empty one)",
            mib(empty_rss),
            (serve_rss - empty_rss) / events
        ),
        "",
    );
    let file = flowseg["store_file_bytes"].as_f64().unwrap_or(0.0);
    line(
        "data directory on disk",
        mib(file),
        format!(
            "`flowseg.redb` after the bulk load: {:.1} bytes per event; the index snapshot beside it is listed with the restart below",
            file / events
        ),
        "",
    );
    line(
        "restart to serving",
        format!("{} s", ms(percentile(restarts, 50.0))),
        format!(
            "start `flowseg serve` on the data directory after a clean stop (indexes read from the snapshot it wrote) until `GET /healthz` answers 200; {}: {}",
            if restarts.len() == 1 {
                "one start".to_string()
            } else {
                format!("median of {} starts", restarts.len())
            },
            restarts
                .iter()
                .map(|r| format!("{r:.2} s"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "≤ 20 s",
    );
    line(
        "restart without a snapshot",
        format!(
            "{} s",
            ms(ops["rebuild_start_s"].as_f64().unwrap_or(f64::NAN))
        ),
        format!(
            "as after a crash: the indexes rebuilt from the store; the clean stop that follows writes the snapshot ({:.1} MiB) in {} s",
            ops["snapshot_bytes"].as_f64().unwrap_or(0.0) / 1048576.0,
            ms(ops["stop_with_snapshot_s"].as_f64().unwrap_or(f64::NAN))
        ),
        "",
    );
    line(
        "index build in-process",
        format!("{} s", ms(flowseg["load_s"].as_f64().unwrap_or(f64::NAN))),
        "`Engine::open` on the data directory (store scan and index build)".into(),
        "",
    );
    line(
        "peers' load",
        format!(
            "{} s / {} s",
            ms(peers[0]["load_s"].as_f64().unwrap_or(f64::NAN)),
            ms(peers[1]["load_s"].as_f64().unwrap_or(f64::NAN))
        ),
        "DuckDB / chDB: the CSV files into their own sorted tables (not compared)".into(),
        "",
    );
    s
}

fn suite_table() -> String {
    let mut s = String::from(
        "## The suite\n\nEach segment in flowseg's rule language (the JSON form and both SQL \
         dialects are in `bench/src/suite.rs`):\n\n| segment | kind | rule |\n|---|---|---|\n",
    );
    for seg in SUITE {
        let text = flowseg_rules::rule_from_json(&seg.rule(), "")
            .map(|r| flowseg_rules::format_rule(&r))
            .unwrap_or_else(|_| seg.rule().to_string());
        let _ = writeln!(
            s,
            "| `{}` | {} | `{}` |",
            seg.name,
            seg.kind,
            text.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace('|', "\\|")
        );
    }
    s
}

fn header() -> String {
    format!(
        "# Benchmarks

flowseg side by side with DuckDB and ClickHouse (chDB, its in-process
build) on the same seeded data, plus ingest, memory and restart. This file
and `docs/benchmarks.json` are written by the benchmark itself
(`bench/`, issue 5); each scale's section is replaced when that scale runs.

## Reproduce

```sh
bash scripts/bench.sh small      # or quick, medium, large, xl; SEED=7 for another world
bash scripts/bench.sh --check    # CI: 2k contacts / 100k events, result equality only
```

The command creates `bench/.venv` and installs `duckdb` and `chdb` there
from PyPI, builds `flowseg-bench` and `flowseg` in release, generates the
data once per scale and seed under `bench/data/` (a flowseg data directory
plus `contacts.csv` and `events.csv` for the peers), then runs flowseg's
in-process evaluation, the peers (`bench/peers/run.py`), the HTTP ingest and
restart measurements against `flowseg serve` on loopback, and this report.

## What is measured

- **Data** (`bench/src/data.rs`): Zipf-distributed activity per contact
  (15% of contacts without events), Visits with URLs, campaign
  `MailSent`/`MailOpen`/`MailClick`, `cart_add`/`purchase` sharing cart ids,
  a dozen custom events with string, number and boolean attributes (some
  absent, `null` or `\"\"`), custom fields of every type with missing values,
  mixed case and Polish letters; event times in the 180 days before the fixed
  evaluation instant.
- **Suite** (`bench/src/suite.rs`): 17 segments, each a flowseg rule and
  hand-written SQL for DuckDB and for ClickHouse with SPEC §2's semantics
  (no value, negation as complement, case-insensitive text, `now − D < t ≤
  now` windows, `count equals 0` over every contact, sequences with `on`
  correlation, segment references inlined). Every result set is compared
  with flowseg's.
- **Fairness**: the peers query their own storage (DuckDB: a table sorted
  by event name, contact and time, in memory up to `small` and in a database
  file from `large` on; ClickHouse: a MergeTree table ordered the same way)
  with a typed column per attribute, and use both cores; so does flowseg
  (a field scan over more than 524,288 contacts, and an event condition
  over more than 8,192 candidate contacts, on both cores). Machine: {}.
",
        machine()
    )
}

const FOOTER: &str = "
## Notes

- No timing is asserted anywhere; CI runs `scripts/bench.sh --check`, which
  compares result sets only.
- Memory per event and per contact in `docs/benchmarks.json` is the engine's
  own heap accounting (`AccountIndex::heap_bytes`); resident-set figures are
  given beside it for comparison.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_differences() {
        let t = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&t, 50.0), 3.0);
        assert_eq!(percentile(&t, 95.0), 5.0);
        assert_eq!(difference(&[1, 2], &[1, 2]), None);
        assert!(difference(&[1, 2], &[1, 3]).is_some());
        assert_eq!(thousands(1234567.0), "1,234,567");
    }
}
