//! The one error body callers see: `{"errors": {"common": [...], "<field>": [...]}}`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    /// The answer's status.
    pub status: StatusCode,
    /// What is wrong with the request as a whole (`errors.common`).
    pub common: Vec<String>,
    /// What is wrong with each named field (`errors.<field>`).
    pub fields: BTreeMap<String, Vec<String>>,
    /// Extra headers, e.g. `WWW-Authenticate` on a 401.
    pub headers: Vec<(&'static str, String)>,
    /// Close the connection after answering (a body that never arrived whole: its rest would
    /// be read as the next request).
    pub close: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            common: vec![message.into()],
            fields: BTreeMap::new(),
            headers: Vec::new(),
            close: false,
        }
    }
    pub fn close(mut self) -> Self {
        self.close = true;
        self
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found")
    }
    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
    pub fn field(mut self, name: impl Into<String>, message: impl Into<String>) -> Self {
        self.fields
            .entry(name.into())
            .or_default()
            .push(message.into());
        self
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    pub fn body(&self) -> serde_json::Value {
        let mut errors = serde_json::Map::new();
        errors.insert("common".into(), json!(self.common));
        for (k, v) in &self.fields {
            errors.insert(k.clone(), json!(v));
        }
        json!({ "errors": errors })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.common.join("; "))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            builder.insert_header((*name, value.as_str()));
        }
        if self.close {
            builder.force_close();
        }
        builder.json(self.body())
    }
}

/// The store failing is the service's trouble, not the caller's: 503, try again later. The
/// cause is logged, never sent.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError::unavailable("the store is unavailable; try again later")
            .header("Retry-After", "5")
    }
}

/// Maps actix's own payload errors (too large, unreadable) onto the errors body.
pub fn payload_error(err: actix_web::error::PayloadError) -> ApiError {
    use actix_web::error::PayloadError;
    match err {
        PayloadError::Overflow => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than allowed",
        ),
        other => ApiError::bad_request(format!("the body could not be read: {other}")),
    }
}

/// Fallback for unknown paths.
pub async fn not_found() -> HttpResponse {
    ApiError::not_found().error_response()
}

/// Fallback for a known path with the wrong method: 405 naming the methods it has in `Allow`
/// (RFC 9110 requires it).
pub fn wrong_method(allow: &'static str) -> actix_web::Route {
    actix_web::web::to(move || async move {
        ApiError::method_not_allowed()
            .header("Allow", allow)
            .error_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_always_has_common_and_fields() {
        let e = ApiError::bad_request("invalid event").field("profile.key", "is required");
        assert_eq!(
            e.body(),
            json!({"errors": {"common": ["invalid event"], "profile.key": ["is required"]}})
        );
    }
}
