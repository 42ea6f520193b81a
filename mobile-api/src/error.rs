use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_schema::SchemaError;

/// Every failure of the HTTP API, mapped to a status code and a JSON body `{"error": code, "message": …}`
/// (plus `"field"` for [`ApiError::Validation`]).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// 422, kept for the user endpoints (their clients and tests expect it); the call-routing endpoints
    /// answer bad input with [`ApiError::Validation`].
    #[error("{0}")]
    InvalidInput(String),
    /// 400: one named field of the request is wrong (`field` as in the JSON, e.g. `members[1].username`,
    /// or `body` / a query parameter name).
    #[error("invalid {field}: {message}")]
    Validation { field: String, message: String },
    /// 409: the thing is still referred to (a hunt group a number routes to).
    #[error("{0}")]
    InUse(String),
    /// 415: a JSON endpoint got another content type.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("missing, wrong or expired bearer token")]
    Unauthorized,
    /// 403: the caller is known but their roles do not admit this; the message says what is needed.
    #[error("{0}")]
    Forbidden(String),
    /// 401 at login: wrong username, password or code (one answer for all, on purpose).
    #[error("wrong username, password or code")]
    LoginFailed,
    /// 401 at login: the password was right and the user has an authenticator: send its code.
    #[error("enter the code from your authenticator app")]
    TotpRequired,
    /// 429: too many failed logins for this user or from this address.
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// 500: something on this node failed that the caller cannot change.
    #[error("{0}")]
    Internal(String),
    #[error("the SIP core is not running")]
    SipUnavailable,
    /// 503: this node's call control publishes no live events.
    #[error("call control does not publish live events on this node")]
    EventsUnavailable,
    /// 503: call control does not answer questions about live calls on this node.
    #[error("call control's live calls are not available on this node")]
    CallsUnavailable,
    /// 503: this node has no recordings directory for the API.
    #[error("recordings are not available on this node")]
    RecordingsUnavailable,
    /// 500: call control or the disk could not do it; the message says why.
    #[error("{0}")]
    RecordingFailed(String),
    #[error("database error: {0}")]
    Database(SchemaError),
}

impl From<SchemaError> for ApiError {
    fn from(e: SchemaError) -> Self {
        match e {
            SchemaError::NotFound(m) => ApiError::NotFound(m),
            SchemaError::Conflict(m) => ApiError::Conflict(m),
            SchemaError::InvalidInput(m) => ApiError::InvalidInput(m),
            SchemaError::Invalid { field, message } => ApiError::Validation { field, message },
            SchemaError::InUse(m) => ApiError::InUse(m),
            other => ApiError::Database(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::InvalidInput(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ApiError::Validation { .. } => (StatusCode::BAD_REQUEST, "invalid_input"),
            ApiError::InUse(_) => (StatusCode::CONFLICT, "in_use"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::LoginFailed => (StatusCode::UNAUTHORIZED, "login_failed"),
            ApiError::TotpRequired => (StatusCode::UNAUTHORIZED, "totp_required"),
            ApiError::TooManyAttempts { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            }
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error in API");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            ApiError::SipUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "sip_unavailable"),
            ApiError::EventsUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "events_unavailable"),
            ApiError::CallsUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "calls_unavailable"),
            ApiError::RecordingsUnavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "recordings_unavailable")
            }
            ApiError::RecordingFailed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "recording_failed"),
            ApiError::Database(e) => {
                tracing::error!(error = %e, "database error in API");
                (StatusCode::INTERNAL_SERVER_ERROR, "database")
            }
        };
        let field = match &self {
            ApiError::Validation { field, .. } => Some(field.clone()),
            _ => None,
        };
        let body = ErrorBody {
            error: code.to_owned(),
            message: self.to_string(),
            field,
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyAttempts { retry_after_secs } = &self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(*retry_after_secs),
            );
        }
        response
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: `not_found`, `conflict`, `in_use`, `invalid_input`, `unauthorized`,
    /// `forbidden`, `login_failed`, `totp_required`, `too_many_attempts`, `internal`,
    /// `unsupported_media_type`, `sip_unavailable`, `events_unavailable`, `calls_unavailable`,
    /// `recordings_unavailable`, `recording_failed`, `database`.
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
    /// With `invalid_input` from the call-routing endpoints: the offending field, as named in the JSON
    /// (`strategy`, `members[1].username`), or `body` for JSON that does not parse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
