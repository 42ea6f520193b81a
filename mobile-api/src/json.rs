//! Request parsing that answers in the API's own error format: a JSON body whose failure names the
//! field (axum's `Json` answers in plain text and without the field), and ids in the path.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Like `axum::Json`, but a body that does not fit the type is a 400 [`ApiError::Validation`] naming
/// the field (`strategy`, `members[1].username`; `body` when the JSON itself is broken).
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&req) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| invalid("body", e.body_text()))?;
        parse(&bytes).map(ApiJson)
    }
}

fn is_json(req: &Request) -> bool {
    let Some(content_type) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Deserialises `bytes`, turning the first error into the field it concerns.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return invalid("body", format!("not valid JSON: {inner}"));
        }
        let message = inner.to_string();
        // "missing field `x`" is reported at the enclosing object; the field it names is the one to
        // point at. (An unknown field is already the last element of the path.)
        let named = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (named, path.as_str()) {
            (Some(name), ".") => name.to_owned(),
            (Some(name), parent) => format!("{parent}.{name}"),
            (None, ".") => "body".to_owned(),
            (None, path) => path.to_owned(),
        };
        // serde_json appends " at line 1 column 42" to data errors; the field says where.
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_owned(),
            None => message,
        };
        invalid(&field, message)
    })?;
    de.end()
        .map_err(|e| invalid("body", format!("not valid JSON: {e}")))?;
    Ok(value)
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// A numeric id from the path: a positive integer, else 400 naming `id`.
pub(crate) fn path_id(text: &str) -> Result<i64, ApiError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(invalid(
            "id",
            format!("must be a positive whole number, got {text:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // only parsed
    struct Outer {
        name: String,
        count: u8,
        #[serde(default)]
        items: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        username: String,
    }

    fn field_of(body: &str) -> String {
        match parse::<Outer>(body.as_bytes()) {
            Err(ApiError::Validation { field, .. }) => field,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert!(parse::<Outer>(br#"{"name": "a", "count": 1}"#).is_ok());
        assert_eq!(field_of(r#"{"name": "a", "count": 300}"#), "count");
        assert_eq!(field_of(r#"{"name": 5, "count": 1}"#), "name");
        assert_eq!(field_of(r#"{"count": 1}"#), "name");
        assert_eq!(
            field_of(r#"{"name": "a", "count": 1, "colour": 1}"#),
            "colour"
        );
        assert_eq!(
            field_of(r#"{"name": "a", "count": 1, "items": [{"username": "1"}, {}]}"#),
            "items[1].username"
        );
        assert_eq!(
            field_of(r#"{"name": "a", "count": 1, "items": [{"username": "1", "x": 1}]}"#),
            "items[0].x"
        );
        assert_eq!(field_of(r#"{"name": "a", "#), "body");
        assert_eq!(field_of(r#"{"name": "a", "count": 1} trailing"#), "body");
        assert_eq!(field_of("[]"), "body");
    }

    #[test]
    fn path_ids() {
        assert_eq!(path_id("12").ok(), Some(12));
        for bad in ["0", "-3", "x", "", "1.5"] {
            assert!(path_id(bad).is_err(), "{bad:?}");
        }
    }
}
