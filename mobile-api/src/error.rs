use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use switchboard_schema::SchemaError;

/// Every failure of the HTTP API, mapped to a status code and a JSON body `{"error": code, "message": …}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("the SIP core is not running")]
    SipUnavailable,
    #[error("database error: {0}")]
    Database(SchemaError),
}

impl From<SchemaError> for ApiError {
    fn from(e: SchemaError) -> Self {
        match e {
            SchemaError::NotFound(m) => ApiError::NotFound(m),
            SchemaError::Conflict(m) => ApiError::Conflict(m),
            SchemaError::InvalidInput(m) => ApiError::InvalidInput(m),
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
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::SipUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "sip_unavailable"),
            ApiError::Database(e) => {
                tracing::error!(error = %e, "database error in API");
                (StatusCode::INTERNAL_SERVER_ERROR, "database")
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": code, "message": self.to_string() })),
        )
            .into_response()
    }
}
