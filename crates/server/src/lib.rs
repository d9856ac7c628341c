//! flowseg's HTTP API (SPEC §4), on axum: authentication by account keys
//! and the administrator token ([`auth`]), the endpoints ([`routes`]), the
//! error shape ([`error`]), group commit for ingest ([`commit`]), metrics,
//! rate limits, and the server's start and graceful stop ([`serve`]).
//!
//! Every handler authenticates first and then reads and writes only the
//! caller's account: the account id comes from the key, never from the
//! request. Blocking work (storage, evaluation) runs on tokio's blocking
//! pool.

pub mod auth;
pub mod body;
pub mod commit;
pub mod error;
pub mod listing;
pub mod metrics;
pub mod openapi;
pub mod panel;
pub mod routes;
pub mod state;
pub mod unread;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use flowseg_engine::Engine;
use flowseg_store::Store;

use crate::commit::GroupCommit;
use crate::error::ApiError;
pub use crate::state::{AppState, ServerConfig};
use crate::state::{PageCache, RateLimiter};
use routes::{accounts, contacts, events, fields, members, ops, segments};

/// Builds the shared state.
pub fn state(engine: Arc<Engine>, admin_hash: String, config: ServerConfig) -> Arc<AppState> {
    Arc::new(AppState {
        commits: Arc::new(GroupCommit::new(engine.clone())),
        engine,
        admin_hash,
        rate: RateLimiter::new(config.rate_per_second, config.rate_burst),
        config,
        pages: PageCache::new(),
        metrics: Default::default(),
    })
}

/// The API's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/openapi.json", get(ops::openapi))
        .route("/v1/accounts", post(accounts::create))
        .route("/v1/accounts/{id}", axum::routing::patch(accounts::update))
        .route("/v1/fields", get(fields::list).post(fields::create))
        .route("/v1/fields/{name}", delete(fields::delete))
        .route("/v1/contacts", post(contacts::upsert).get(contacts::find))
        .route("/v1/contacts/import", post(routes::import::import))
        .route(
            "/v1/contacts/{id}",
            get(contacts::get).delete(contacts::delete),
        )
        .route("/v1/contacts/{id}/events", get(contacts::events))
        .route("/v1/contacts/{id}/segments", get(contacts::segments))
        .route("/v1/events", post(events::ingest))
        .route("/v1/events/catalog", get(events::catalog))
        .route("/v1/usage", get(events::usage))
        .route("/v1/rules/parse", post(routes::rules::parse))
        .route("/v1/rules/format", post(routes::rules::format))
        .route("/v1/segments", post(segments::create).get(segments::list))
        .route("/v1/segments/preview", post(segments::preview))
        .route(
            "/v1/segments/{id}",
            get(segments::get)
                .put(segments::update)
                .delete(segments::delete),
        )
        .route("/v1/segments/{id}/count", get(segments::count))
        .route("/v1/segments/{id}/members", get(members::members))
        .route("/v1/segments/{id}/export", get(members::export))
        .route("/v1/segments/{id}/explain", get(members::explain))
        .route(
            "/v1/segments/{id}/snapshots",
            post(members::create_snapshot).get(members::list_snapshots),
        )
        .route("/v1/snapshots/{id}/members", get(members::snapshot_members))
        .merge(panel::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::from_fn(unread::close_if_body_unread))
        .with_state(state)
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "There is no endpoint `{} {}`; see SPEC §4 or GET /v1/openapi.json.",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> Response {
    let mut e = ApiError::not_found(format!(
        "`{}` is not allowed on `{}`.",
        request.method(),
        request.uri().path()
    ));
    e.status = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    e.code = "method_not_allowed";
    e.into_response()
}

/// Records each request's route, status and latency, and logs it (never
/// its headers: they carry keys).
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let secs = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.request(&method, &route, status, secs);
    tracing::info!(%method, %route, status, ms = secs * 1000.0, "Served a request.");
    response
}

/// The administrator token's hash: from `configured` (the flag or
/// `FLOWSEG_ADMIN_TOKEN`), else the one stored in the data directory, else a
/// new token, stored (hashed) and returned so it can be printed once.
pub fn admin_token(
    store: &Store,
    configured: Option<&str>,
) -> Result<(String, Option<String>), String> {
    if let Some(token) = configured.filter(|t| !t.is_empty()) {
        return Ok((auth::hash_key(token), None));
    }
    if let Some(hash) = store
        .meta_get("admin_token_hash")
        .map_err(|e| e.to_string())?
    {
        return Ok((String::from_utf8_lossy(&hash).into_owned(), None));
    }
    let token = auth::new_key("adm_");
    let hash = auth::hash_key(&token);
    store
        .meta_put("admin_token_hash", hash.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok((hash, Some(token)))
}

/// Serves until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("Shutting down: finishing in-flight requests.");
}
