//! API keys and the administrator token.
//!
//! Keys are 256-bit random strings; only their SHA-256 is stored (a key has
//! far too much entropy for a slow hash to matter, and a fast hash keeps
//! every request cheap). A request's key is hashed and looked up; the
//! administrator token's hash is compared in constant time. Keys and tokens
//! are never logged.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use flowseg_store::{AccountRecord, KeyKind};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A fresh random key with a readable prefix (`sk_`, `pk_`, `adm_`).
pub fn new_key(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // The OS random source; failing to read it is not recoverable.
    getrandom::fill(&mut bytes).expect("the operating system's random source is readable");
    format!("{prefix}{}", to_hex(&bytes))
}

/// The stored form of a key.
pub fn hash_key(key: &str) -> String {
    to_hex(&Sha256::digest(key.as_bytes()))
}

/// Lower-case hex, written into one string (every request hashes its key:
/// a `format!` per byte was the largest allocator cost of a one-event
/// request).
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    hex
}

/// Compares two equal-length strings without an early exit.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The key in `Authorization: Bearer KEY`.
pub fn bearer(headers: &HeaderMap) -> ApiResult<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("Authentication is required: send `Authorization: Bearer KEY` with your account's secret key."))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("The Authorization header is not valid text."))?;
    match value.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty() => {
            Ok(key.trim())
        }
        _ => Err(ApiError::unauthorized(
            "The Authorization header must be `Bearer KEY`.",
        )),
    }
}

/// A caller authenticated by an account key (secret or public).
pub struct AnyKey {
    pub account: AccountRecord,
    pub kind: KeyKind,
    /// The key's hash: the rate limiter's bucket.
    pub key_hash: String,
}

/// A caller authenticated by the account's secret key.
pub struct SecretKey(pub AnyKey);

impl SecretKey {
    pub fn account_id(&self) -> &str {
        &self.0.account.id
    }
}

/// A caller authenticated by the administrator token.
pub struct Admin;

async fn authenticate(parts: &Parts, state: &Arc<AppState>) -> ApiResult<AnyKey> {
    let key = bearer(&parts.headers)?;
    let key_hash = hash_key(key);
    let found = match state.engine.store().cached_account_by_key_hash(&key_hash) {
        Some(found) => Some(found),
        None => {
            let store_state = state.clone();
            let hash = key_hash.clone();
            tokio::task::spawn_blocking(move || {
                store_state.engine.store().account_by_key_hash(&hash)
            })
            .await??
        }
    };
    match found {
        // Limited per valid key only: unknown keys cannot grow the buckets.
        Some((account, kind)) => {
            state.rate.check(&key_hash)?;
            Ok(AnyKey {
                account,
                kind,
                key_hash,
            })
        }
        // The administrator token manages accounts but reads none: say
        // so rather than calling it invalid.
        None if constant_time_eq(&key_hash, &state.admin_hash) => Err(ApiError::unauthorized(
            "The administrator token only manages accounts (POST and PATCH /v1/accounts): use one of the account's keys, returned by POST /v1/accounts.",
        )),
        None => Err(ApiError::unauthorized(
            "The API key is not valid: use a key returned by POST /v1/accounts.",
        )),
    }
}

impl FromRequestParts<Arc<AppState>> for AnyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> ApiResult<AnyKey> {
        authenticate(parts, state).await
    }
}

impl FromRequestParts<Arc<AppState>> for SecretKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> ApiResult<SecretKey> {
        let caller = authenticate(parts, state).await?;
        if caller.kind != KeyKind::Secret {
            return Err(ApiError::forbidden(
                "The public key may only post website visits (`Visit` events to POST /v1/events); use the secret key.",
            ));
        }
        Ok(SecretKey(caller))
    }
}

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> ApiResult<Admin> {
        let token = bearer(&parts.headers)?;
        if constant_time_eq(&hash_key(token), &state.admin_hash) {
            Ok(Admin)
        } else {
            Err(ApiError::unauthorized(
                "This endpoint needs the administrator token.",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_stored_as_the_lower_case_hex_of_its_sha256() {
        // SHA-256("abc") from FIPS 180-2, appendix B.1.
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let key = new_key("sk_");
        assert_eq!(key.len(), 3 + 64);
        assert!(
            key[3..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}
