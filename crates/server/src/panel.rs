//! The web panel (issue 6): the static ES modules, CSS and icon under
//! `web/`, embedded into the binary at compile time and served at `/` and
//! `/assets/...`.
//!
//! Embedding keeps a release one file and guarantees the panel matches the
//! API it was built with. The files are listed by hand in [`ASSETS`] rather
//! than found by a build script or `rust-embed`: the list is short, adds no
//! dependency and no build step, and `include_bytes!` already makes cargo
//! rebuild when a listed file changes. A test fails when a file under `web/`
//! is missing from the list, so a new module cannot be forgotten.
//!
//! The panel is a client of the public API only (`/v1/...` with the
//! account's secret key, kept in the browser's sessionStorage); these routes
//! serve files and need no key.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;

/// One embedded file: its path under `web/` and its bytes.
struct Asset {
    path: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset { path: $path, bytes: include_bytes!(concat!("../../../web/", $path)) }),*]
    };
}

/// Every file of `web/` (checked by a test).
const ASSETS: &[Asset] = assets![
    "index.html",
    "assets/app.css",
    "assets/favicon.svg",
    "assets/js/api.js",
    "assets/js/app.js",
    "assets/js/builder.js",
    "assets/js/conditions.js",
    "assets/js/contacts.js",
    "assets/js/dom.js",
    "assets/js/editors.js",
    "assets/js/events.js",
    "assets/js/explain.js",
    "assets/js/list.js",
    "assets/js/members.js",
    "assets/js/model.js",
    "assets/js/ops.js",
];

/// The panel never loads anything from elsewhere and never runs inline
/// script, so the policy can be strict: a key pasted into the panel cannot
/// be sent to another origin by injected markup.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The panel's routes; they need no state, so they merge into any router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

async fn index() -> Response {
    serve("index.html").unwrap_or_else(|e| e.into_response())
}

async fn asset(Path(path): Path<String>) -> Response {
    serve(&format!("assets/{path}")).unwrap_or_else(|e| e.into_response())
}

fn serve(path: &str) -> Result<Response, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.path == path)
        .ok_or_else(|| ApiError::not_found(format!("The panel has no file `/{path}`.")))?;
    let headers = [
        (header::CONTENT_TYPE, content_type(path)),
        // Revalidate every time: the files are small, and a panel older
        // than the server it talks to would send outdated requests.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        // The hash route can name a contact or segment: keep it private.
        (
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    Ok((headers, asset.bytes).into_response())
}

fn content_type(path: &str) -> HeaderValue {
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    HeaderValue::from_static(match extension {
        "html" => "text/html; charset=utf-8",
        // ES modules must be served with a JavaScript type or the browser
        // refuses to run them.
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        _ => "application/octet-stream",
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path as FsPath;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    fn files_under(dir: &FsPath, base: &FsPath, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_under(&path, base, out);
            } else {
                let relative = path.strip_prefix(base).unwrap();
                out.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_of_web_is_embedded() {
        let web = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        let mut on_disk = BTreeSet::new();
        files_under(&web, &web, &mut on_disk);
        let listed: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        assert_eq!(
            on_disk, listed,
            "list every file of web/ in panel::ASSETS (and only those)"
        );
    }

    async fn get(path: &str) -> (StatusCode, String, Vec<u8>) {
        let router: Router = routes();
        let response = router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        (status, content_type, body.to_vec())
    }

    #[tokio::test]
    async fn serves_the_page_and_its_modules_with_their_types() {
        let (status, content_type, body) = get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/html; charset=utf-8");
        let page = String::from_utf8(body).unwrap();
        assert!(page.contains("/assets/js/app.js"), "{page}");

        let (status, content_type, _) = get("/assets/js/app.js").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/javascript; charset=utf-8");
        let (_, content_type, _) = get("/assets/app.css").await;
        assert_eq!(content_type, "text/css; charset=utf-8");
        let (_, content_type, _) = get("/assets/favicon.svg").await;
        assert_eq!(content_type, "image/svg+xml");
    }

    #[tokio::test]
    async fn unknown_files_are_404_in_the_api_error_shape() {
        for path in ["/assets/nope.js", "/assets/../Cargo.toml", "/assets/js/"] {
            let (status, _, body) = get(path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["error"]["code"], "not_found", "{path}");
        }
    }
}
