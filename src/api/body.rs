//! Reading a JSON request body: the content type, a size cap on what is announced and what
//! arrives, and a time limit on the whole of it (`server.body_timeout`), so a client sending a
//! byte every few seconds cannot hold a connection and a buffer for as long as it likes. Shared
//! by the event endpoint, the careers API and the admin forms.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde_json::Value;

use crate::error::{ApiError, payload_error};

/// The raw body of a JSON request, at most `limit` bytes.
pub async fn json_bytes(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    check_content_type(req)?;
    read_body(req, payload, limit).await
}

/// The body as a JSON object; anything else is a 400.
pub async fn json_object(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    let bytes = json_bytes(req, payload, limit).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// An HTML form's fields (`application/x-www-form-urlencoded`), at most `limit` bytes.
pub async fn form(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<(String, String)>, ApiError> {
    let bytes = read_body(req, payload, limit).await?;
    Ok(url::form_urlencoded::parse(&bytes).into_owned().collect())
}

/// JSON, or no content type at all (some senders omit it); anything else is 415.
fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(actix_web::http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON (Content-Type: application/json)",
        )
        .field("content-type", "must be application/json"))
    }
}

/// The body's time limit when the app has no state (unit tests): the default's.
const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the body up to `limit` bytes within `server.body_timeout`; a larger one (announced or
/// actual) is 413, a late one 408 with the connection closed.
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let timeout = req
        .app_data::<web::Data<crate::api::AppState>>()
        .map_or(DEFAULT_BODY_TIMEOUT, |s| s.timings.body_timeout);
    match tokio::time::timeout(timeout, read_whole(req, payload, limit)).await {
        Ok(read) => read,
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive whole within {} (server.body_timeout)",
                humantime::format_duration(timeout)
            ),
        )
        .close()),
    }
}

async fn read_whole(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes"),
        )
    };
    let announced = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(announced.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(payload_error)?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
