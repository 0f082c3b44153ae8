//! [`ApiError`]: every error response, as JSON naming the offending field when there is one.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One error answer: an HTTP status and `{"error": "...", "field": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// The HTTP status.
    #[serde(skip)]
    pub status: StatusCode,
    /// What went wrong, precisely enough to fix the request.
    pub error: String,
    /// The request field at fault (`to`, `messages[3].text`...), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// A 400 about `field`.
    pub fn field(field: impl Into<String>, error: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            field: Some(field.into()),
        }
    }

    /// An error not tied to a field.
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            field: None,
        }
    }

    /// The same error for a field inside an item of a list (`messages[3].to`); an error
    /// about the whole item names the item (`messages[3]`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field.take() {
            Some(f) if !f.is_empty() => format!("{prefix}.{f}"),
            _ => prefix.to_string(),
        });
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The most of a non-JSON error body kept as the error text.
const FOREIGN_ERROR_BYTES: usize = 16 * 1024;

/// Rewrites an error answer that is not JSON (a rejection of one of axum's extractors, say)
/// into the documented `{"error": "..."}` shape, keeping its status and its text.
pub(super) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (_, body) = response.into_parts();
    let text = axum::body::to_bytes(body, FOREIGN_ERROR_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let error = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    ApiError::new(status, error).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[test]
    fn within_names_the_item_or_the_field_inside_it() {
        let inner = ApiError::field("to", "bad").within("messages[3]");
        assert_eq!(inner.field.as_deref(), Some("messages[3].to"));
        let whole = ApiError::new(StatusCode::BAD_REQUEST, "bad").within("messages[3]");
        assert_eq!(whole.field.as_deref(), Some("messages[3]"));
        let empty = ApiError::field("", "bad").within("messages[3]");
        assert_eq!(empty.field.as_deref(), Some("messages[3]"));
    }

    #[tokio::test]
    async fn plain_text_errors_become_json_and_others_pass() {
        let plain = (StatusCode::BAD_REQUEST, "Invalid URL: bad utf-8").into_response();
        let fixed = json_errors(plain).await;
        assert_eq!(fixed.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            fixed.headers()[header::CONTENT_TYPE],
            HeaderValue::from_static("application/json")
        );
        let body = axum::body::to_bytes(fixed.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"error":"Invalid URL: bad utf-8"}"#);

        let empty = Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .unwrap();
        let body = axum::body::to_bytes(json_errors(empty).await.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"error":"Bad Gateway"}"#);

        let ok = (StatusCode::OK, "metrics text").into_response();
        let body = axum::body::to_bytes(json_errors(ok).await.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"metrics text");
    }
}
