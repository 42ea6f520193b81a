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
    #[error("missing or wrong bearer token")]
    Unauthorized,
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
        (status, Json(body)).into_response()
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: `not_found`, `conflict`, `in_use`, `invalid_input`, `unauthorized`,
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
