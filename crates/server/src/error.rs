//! The API's error shape (SPEC §4): `{"error": {"code", "message",
//! "details": [{"path", "message"}]}}` with the status that fits.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flowseg_engine::EngineError;
use flowseg_rules::Problem;
use flowseg_store::StoreError;
use serde_json::json;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `{"path", "message", ...}` entries (rule text diagnostics add
    /// `line`, `column`, `hint`).
    pub details: Vec<serde_json::Value>,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// A rule (or other body) that fails validation: one detail per problem.
    pub fn invalid_rule(problems: Vec<Problem>) -> ApiError {
        let message = match problems.as_slice() {
            [one] => format!("The rule is invalid: {}", one.message),
            many => format!("The rule has {} problems; see details.", many.len()),
        };
        ApiError {
            details: problems
                .iter()
                .map(|p| json!({"path": p.path, "message": p.message}))
                .collect(),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_rule", message)
        }
    }

    pub fn with_detail(mut self, path: &str, message: impl Into<String>) -> ApiError {
        self.details
            .push(json!({"path": path, "message": message.into()}));
        self
    }

    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        tracing::error!("Internal error: {message}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side; the request may be retried.",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::Invalid(m) => ApiError::invalid(m),
            other => ApiError::internal(other),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::UnknownAccount(a) => {
                ApiError::not_found(format!("there is no account `{a}`"))
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({"error": {"code": self.code, "message": self.message, "details": self.details}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = secs.to_string().parse()
        {
            response.headers_mut().insert("retry-after", v);
        }
        response
    }
}
