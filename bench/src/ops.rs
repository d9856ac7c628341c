//! `flowseg-bench ops`: what the `flowseg serve` binary does outside rule
//! evaluation, measured on loopback only, every loop bounded in count and
//! time:
//!
//! - restart to serving: start `flowseg serve` on the generated data
//!   directory and time until `GET /healthz` answers 200 (the indexes are
//!   built by then) — once without an index snapshot (rebuilt from the
//!   store, as after a crash), then three times after a clean stop (read
//!   from the snapshot that stop wrote); the server's resident set is read
//!   from /proc then;
//! - durable HTTP ingest on a fresh data directory: `POST /v1/events` with
//!   arrays of 1,000 events on 4 connections, then one event per request
//!   on 128 connections, each with one request in flight; a 2xx means the
//!   events are durable (SPEC §4), and only accepted events are counted.
//!   The load generator shares the machine's cores with the server, so it
//!   speaks HTTP/1.1 itself, one thread over keep-alive connections
//!   ([`crate::http_client`]);
//! - the same generator's ceiling on this machine: `GET /healthz` (no
//!   key, no work) on 128 connections, what one request per event could
//!   reach at best with the server's HTTP stack and loopback TCP.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::http_client::{self, Request};

const TOKEN: &str = "bench-admin-token-0123456789abcdef";
const BATCH: usize = 1_000;
const BATCH_CONNECTIONS: usize = 4;
const SINGLE_CONNECTIONS: usize = 128;
/// Upper bounds on what each ingest measurement sends.
const MAX_BATCHED_EVENTS: u64 = 2_000_000;
const MAX_SINGLE_EVENTS: u64 = 1_000_000;

struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Starts `flowseg serve` on a free loopback port and waits (at most
    /// `limit`) until /healthz answers; returns it with the seconds taken.
    fn start(flowseg: &Path, data: &Path, limit: Duration) -> Result<(Server, f64), String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let started = Instant::now();
        let child = Command::new(flowseg)
            .arg("--data")
            .arg(data)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--admin-token")
            .arg(TOKEN)
            .env("FLOWSEG_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", flowseg.display()))?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let agent = agent();
        loop {
            if let Ok(resp) = agent.get(format!("{}/healthz", server.base)).call()
                && resp.status() == 200
            {
                return Ok((server, started.elapsed().as_secs_f64()));
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("flowseg serve exited with {status} before serving"));
            }
            if started.elapsed() > limit {
                server.stop();
                return Err(format!("flowseg serve did not answer within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn rss_bytes(&self) -> u64 {
        crate::eval::rss_bytes_of(&self.child.id().to_string())
    }

    /// Stops the server gracefully (SIGTERM) and waits for it.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        // A clean stop writes the index snapshot (seconds at `large`).
        let deadline = Instant::now() + Duration::from_secs(600);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// The server's group-commit counters: (commits, requests committed).
fn commit_counters(base: &str) -> (u64, u64) {
    let text = agent()
        .get(format!("{base}/metrics"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let read = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0)
    };
    (
        read("flowseg_ingest_commits_total "),
        read("flowseg_ingest_committed_requests_total "),
    )
}

fn post(agent: &ureq::Agent, url: &str, key: &str, body: &str) -> Result<(u16, Value), String> {
    let mut resp = agent
        .post(url)
        .header("Authorization", &format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// One event of the ingest load: a page view or a purchase of one of
/// 10,000 contacts (created by their first event).
fn event(n: u64) -> Value {
    let contact = json!({"external_id": format!("h{}", n % 10_000)});
    let time = format!(
        "2026-06-29T{:02}:{:02}:{:02}.{:03}Z",
        (n / 3_600_000) % 24,
        (n / 60_000) % 60,
        (n / 1000) % 60,
        n % 1000
    );
    if n.is_multiple_of(4) {
        json!({"name": "purchase", "contact": contact, "time": time,
               "attributes": {"order_value": (n % 500) as f64 + 0.5, "currency": "PLN",
                              "cart_id": format!("cart_{n}")}})
    } else {
        json!({"name": "Visit", "contact": contact, "time": time,
               "attributes": {"url": format!("https://shop.example.com/product/p{}", n % 5000),
                              "session_id": format!("s{}", n / 20)}})
    }
}

/// Sends events on `connections` connections, `per_request` at a time,
/// until `max_events` were sent or `seconds` passed; returns (accepted,
/// seconds).
fn ingest(
    base: &str,
    key: &str,
    connections: usize,
    per_request: usize,
    max_events: u64,
    seconds: f64,
) -> Result<(u64, f64), String> {
    // The request bodies are serialised before the clock starts and reused
    // round-robin: the load generator shares the machine's two cores with
    // the server, and building JSON per request took CPU the server needs.
    // (Events without an id are never duplicates, so reuse stores them all.)
    let distinct = (262_144 / per_request).max(1) as u64;
    let bodies: Vec<String> = (0..distinct)
        .map(|i| {
            let first = i * per_request as u64;
            if per_request == 1 {
                event(first).to_string()
            } else {
                Value::Array((first..first + per_request as u64).map(event).collect()).to_string()
            }
        })
        .collect();
    let started = Instant::now();
    let limit = Duration::from_secs_f64(seconds);
    let mut sent = 0u64;
    let mut accepted = 0u64;
    http_client::drive(
        base,
        connections,
        || {
            if sent >= max_events || started.elapsed() >= limit {
                return None;
            }
            let body = &bodies[((sent / per_request as u64) % distinct) as usize];
            sent += per_request as u64;
            Some(Request {
                method: "POST",
                path: "/v1/events",
                key: Some(key),
                body: body.as_bytes(),
            })
        },
        |status, body| {
            let text = String::from_utf8_lossy(body);
            if status != 200 {
                return Err(format!("POST /v1/events answered {status}: {text}"));
            }
            let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            accepted += json["accepted"].as_u64().unwrap_or(0);
            Ok(())
        },
    )?;
    Ok((accepted, started.elapsed().as_secs_f64()))
}

pub fn run(dir: &Path, flowseg: &Path, results: &Path, seconds: f64) -> Result<(), String> {
    if !dir.join("meta.json").exists() {
        return Err(format!(
            "{} holds no generated data (run `gen` first)",
            dir.display()
        ));
    }

    // Start to serving without an index snapshot (as after a crash: the
    // indexes are rebuilt from the store); its clean stop saves one.
    let data_dir = dir.join("flowseg");
    let snapshot = data_dir.join("index.snapshot");
    let _ = std::fs::remove_file(&snapshot);
    let (mut server, rebuild_s) = Server::start(flowseg, &data_dir, Duration::from_secs(3600))?;
    let rebuilt_rss = server.rss_bytes();
    let stop_started = Instant::now();
    server.stop();
    let stop_s = stop_started.elapsed().as_secs_f64();
    let snapshot_bytes = std::fs::metadata(&snapshot).map_or(0, |m| m.len());
    eprintln!(
        "restart: without a snapshot, /healthz after {rebuild_s:.2} s; clean stop (snapshot of {snapshot_bytes} bytes) {stop_s:.2} s"
    );
    // Restarts after a clean stop (median of 3).
    let mut restarts = Vec::new();
    let mut serve_rss = 0;
    for _ in 0..3 {
        let (mut server, s) = Server::start(flowseg, &data_dir, Duration::from_secs(3600))?;
        serve_rss = server.rss_bytes();
        server.stop();
        eprintln!("restart: flowseg serve answered /healthz after {s:.2} s");
        restarts.push(s);
    }

    // A fresh server with no data: its resident set is the baseline.
    let fresh = results.join("ingest-data");
    let _ = std::fs::remove_dir_all(&fresh);
    let (server, _) = Server::start(flowseg, &fresh, Duration::from_secs(60))?;
    let empty_rss = server.rss_bytes();
    let (status, account) = post(
        &agent(),
        &format!("{}/v1/accounts", server.base),
        TOKEN,
        &json!({"addons": {"custom_events": true}}).to_string(),
    )?;
    let key = account["secret_key"]
        .as_str()
        .ok_or_else(|| format!("creating an account answered {status}: {account}"))?
        .to_string();
    let (batched, batched_s) = ingest(
        &server.base,
        &key,
        BATCH_CONNECTIONS,
        BATCH,
        MAX_BATCHED_EVENTS,
        seconds,
    )?;
    let after_batched = commit_counters(&server.base);
    eprintln!(
        "ingest: {batched} events in batches of {BATCH} in {batched_s:.1} s: {:.0} events/s; {} commits carrying {} requests",
        batched as f64 / batched_s,
        after_batched.0,
        after_batched.1
    );
    let (single, single_s) = ingest(
        &server.base,
        &key,
        SINGLE_CONNECTIONS,
        1,
        MAX_SINGLE_EVENTS,
        seconds,
    )?;
    let after_single = commit_counters(&server.base);
    let single_commits = (
        after_single.0 - after_batched.0,
        after_single.1 - after_batched.1,
    );
    eprintln!(
        "ingest: {single} events one per request in {single_s:.1} s: {:.0} events/s; {} commits carrying {} requests",
        single as f64 / single_s,
        single_commits.0,
        single_commits.1
    );
    let (noop, noop_s) =
        http_client::answered_per_second(&server.base, SINGLE_CONNECTIONS, "/healthz", seconds)?;
    eprintln!(
        "ceiling: {noop} GET /healthz in {noop_s:.1} s: {:.0} requests/s",
        noop as f64 / noop_s
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&fresh);

    let out = json!({
        "restart_s": restarts,
        "rebuild_start_s": rebuild_s,
        "stop_with_snapshot_s": stop_s,
        "snapshot_bytes": snapshot_bytes,
        "serve_rss_bytes": serve_rss,
        "serve_rss_rebuilt_bytes": rebuilt_rss,
        "empty_serve_rss_bytes": empty_rss,
        "http_batched": {"events": batched, "seconds": batched_s, "batch": BATCH, "clients": BATCH_CONNECTIONS,
                         "commits": after_batched.0, "requests": after_batched.1},
        "http_single": {"events": single, "seconds": single_s, "clients": SINGLE_CONNECTIONS,
                        "commits": single_commits.0, "requests": single_commits.1},
        "http_noop": {"requests": noop, "seconds": noop_s, "clients": SINGLE_CONNECTIONS},
    });
    std::fs::write(
        results.join("ops.json"),
        serde_json::to_vec_pretty(&out).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())
}
