//! `flowseg serve`: the HTTP API on a data directory.

use std::path::Path;
use std::sync::Arc;

use flowseg_engine::{Engine, IndexSource};
use flowseg_server::{ServerConfig, admin_token, shutdown_signal};

use crate::ServeArgs;

/// What the demo wants printed once the server listens.
pub struct Greeting {
    pub account: String,
    pub secret_key: String,
    pub segment_id: Option<String>,
}

/// Opens the engine (building every index) and serves until SIGTERM/Ctrl-C.
pub fn run(data: &Path, args: &ServeArgs, greeting: Option<Greeting>) -> Result<(), String> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLOWSEG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let started = std::time::Instant::now();
    tracing::info!(data = %data.display(), "Opening the data directory (one written by an older flowseg is converted first).");
    let engine = Arc::new(Engine::open(data).map_err(|e| e.to_string())?);
    if let Some(m) = engine.store().migration() {
        tracing::info!(
            events = m.events,
            seconds = m.seconds,
            "Converted the event log to the current layout (blocks of consecutive events)."
        );
    }
    match engine.loaded_from() {
        IndexSource::Snapshot => tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "Loaded the indexes from the snapshot of the last clean shutdown."
        ),
        IndexSource::Store(why) => tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            reason = why.as_str(),
            "Rebuilt the indexes from the store."
        ),
    }
    let (admin_hash, new_token) = admin_token(engine.store(), args.admin_token.as_deref())?;
    let config = ServerConfig {
        rate_per_second: args.rate_limit,
        rate_burst: args.rate_limit * 2.0,
        max_body_bytes: args.max_body_mib << 20,
        ..ServerConfig::default()
    };
    let state = flowseg_server::state(engine.clone(), admin_hash, config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("flowseg listens on http://{addr}");
        if let Some(token) = new_token {
            println!("administrator token (shown once, keep it): {token}");
        }
        if let Some(g) = greeting {
            println!("demo account {}; its secret key: {}", g.account, g.secret_key);
            if let Some(seg) = g.segment_id {
                println!("try:\n  curl -H 'Authorization: Bearer {}' http://{addr}/v1/segments/{seg}/count", g.secret_key);
            }
            println!("  curl -H 'Authorization: Bearer {}' http://{addr}/v1/segments", g.secret_key);
        }
        flowseg_server::serve(listener, state, shutdown_signal())
            .await
            .map_err(|e| format!("the server stopped: {e}"))
    })?;
    // Drained: every acknowledged write is in the store and the indexes.
    // The snapshot only speeds up the next start; failing to write it
    // loses nothing (the next start rebuilds from the store).
    let started = std::time::Instant::now();
    match engine.save_snapshot() {
        Ok(()) => tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "Saved the index snapshot for the next start."
        ),
        Err(e) => tracing::warn!(error = %e, "Could not save the index snapshot."),
    }
    Ok(())
}
