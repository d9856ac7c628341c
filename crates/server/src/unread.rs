//! A response sent before its request's body was read to the end closes
//! the connection, and says so with `Connection: close`.
//!
//! A request refused early (a missing key, the public key on a secret
//! endpoint, an unknown route) leaves its body unread. hyper then drains
//! the body if it has already arrived, and otherwise closes the connection
//! after the response, without a word in the response. A client that
//! keeps connections alive would send its next request on that closed
//! connection and fail. Saying `Connection: close` tells it not to reuse
//! the connection (RFC 9112 §9.6).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// A request body that records whether it was read to its end.
struct Watched {
    inner: Body,
    ended: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.ended.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: passes a request with a body on with its body watched, and
/// marks the response `Connection: close` when the body was not read to
/// its end. A request without a body passes untouched.
pub async fn close_if_body_unread(request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let ended = Arc::new(AtomicBool::new(false));
    let watched = ended.clone();
    let request = request.map(|inner| {
        Body::new(Watched {
            inner,
            ended: watched,
        })
    });
    let mut response = next.run(request).await;
    if !ended.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
