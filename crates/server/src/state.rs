//! Shared server state: the engine, configuration, the administrator token
//! hash, per-key rate limits, member-listing cursors and metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use flowseg_engine::Engine;
use roaring::RoaringBitmap;

use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;

/// Limits and knobs of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest streamed import (`POST /v1/contacts/import`), in bytes.
    pub max_import_bytes: usize,
    /// Most items (contacts or events) in one request.
    pub max_batch_items: usize,
    /// Requests per second allowed per API key (token bucket refill).
    pub rate_per_second: f64,
    /// Burst size of the token bucket.
    pub rate_burst: f64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: 64 << 20,
            max_import_bytes: 4 << 30,
            max_batch_items: 100_000,
            // High enough that the benchmark's load is never throttled.
            rate_per_second: 100_000.0,
            rate_burst: 200_000.0,
        }
    }
}

pub struct AppState {
    pub engine: Arc<Engine>,
    pub admin_hash: String,
    pub config: ServerConfig,
    pub rate: RateLimiter,
    pub pages: PageCache,
    pub metrics: Metrics,
    pub commits: Arc<crate::commit::GroupCommit>,
}

/// Token buckets per key hash.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            per_second,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or answers 429 with `Retry-After`.
    pub fn check(&self, key: &str) -> ApiResult<()> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        // The key is copied only the first time it is seen.
        if !buckets.contains_key(key) {
            buckets.insert(key.to_string(), (self.burst, now));
        }
        let (tokens, last) = buckets.get_mut(key).expect("the bucket was inserted above");
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64;
        Err(ApiError {
            retry_after: Some(wait),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "Too many requests for this key: at most {} per second; retry in {wait} s.",
                    self.per_second
                ),
            )
        })
    }
}

/// A member listing's result, frozen at its first page so that later pages
/// page the same set even while data changes.
pub struct FrozenResult {
    pub account: String,
    /// What was listed (the segment id): a cursor pages only its own listing.
    pub listing: String,
    pub members: RoaringBitmap,
    pub as_of: i64,
    created: Instant,
}

/// Frozen results by id, kept for a while after their last use.
pub struct PageCache {
    entries: Mutex<HashMap<u64, Arc<FrozenResult>>>,
    next: Mutex<u64>,
}

/// How long a paging cursor stays valid.
pub const CURSOR_TTL: Duration = Duration::from_secs(30 * 60);
/// Frozen results kept per account, and in all: past its own share an
/// account's oldest listing goes first, so one busy account cannot expire
/// another's cursors.
const MAX_FROZEN_PER_ACCOUNT: usize = 64;
const MAX_FROZEN: usize = 4096;

impl PageCache {
    pub fn new() -> PageCache {
        PageCache {
            entries: Mutex::new(HashMap::new()),
            next: Mutex::new(1),
        }
    }

    pub fn freeze(&self, account: &str, listing: &str, members: RoaringBitmap, as_of: i64) -> u64 {
        let id = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, r| r.created.elapsed() < CURSOR_TTL);
        let own = entries.values().filter(|r| r.account == account).count();
        let victim = if own >= MAX_FROZEN_PER_ACCOUNT {
            entries
                .iter()
                .filter(|(_, r)| r.account == account)
                .min_by_key(|(_, r)| r.created)
        } else if entries.len() >= MAX_FROZEN {
            entries.iter().min_by_key(|(_, r)| r.created)
        } else {
            None
        }
        .map(|(k, _)| *k);
        if let Some(victim) = victim {
            entries.remove(&victim);
        }
        entries.insert(
            id,
            Arc::new(FrozenResult {
                account: account.to_string(),
                listing: listing.to_string(),
                members,
                as_of,
                created: Instant::now(),
            }),
        );
        id
    }

    pub fn get(&self, id: u64, account: &str, listing: &str) -> Option<Arc<FrozenResult>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&id)
            .filter(|r| {
                r.account == account && r.listing == listing && r.created.elapsed() < CURSOR_TTL
            })
            .cloned()
    }
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache::new()
    }
}
