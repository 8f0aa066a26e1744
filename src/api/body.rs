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
        .map_or(DEFAULT_BODY_TIMEOUT, |s| s.settings.server.body_timeout);
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

/// A request's payload, shared between the handler (which reads it through `Shared`) and the
/// app's middleware (which holds it until the answer is on its way).
pub type Held = std::rc::Rc<std::cell::RefCell<actix_web::dev::Payload>>;

/// The handler's side of a held payload.
struct Shared(Held);

impl futures_util::Stream for Shared {
    type Item = Result<web::Bytes, actix_web::error::PayloadError>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::pin::Pin::new(&mut *self.0.borrow_mut()).poll_next(cx)
    }
}

/// Takes the payload of a request that has a body, handing the handler a stream over it. actix
/// keeps a connection whose request body was not read to its end, and drains a dropped
/// chunked body for as long as the client sends it, so a client trickling a body to a handler
/// that gave up on it (`body_timeout`) or never reads one (a GET, a 405) would keep its
/// connection. A payload still held when the answer is sent makes actix close the connection
/// instead.
pub fn hold(req: &mut actix_web::dev::ServiceRequest) -> Option<Held> {
    use actix_web::HttpMessage as _;
    let headers = req.headers();
    let has_body = headers.contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || headers
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    if !has_body {
        return None;
    }
    let held: Held = std::rc::Rc::new(std::cell::RefCell::new(req.take_payload()));
    let stream: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>>>,
    > = Box::pin(Shared(held.clone()));
    req.set_payload(actix_web::dev::Payload::from(stream));
    Some(held)
}

/// Lets the payload go once the answer is on its way: the dispatcher sends the answer in the
/// same poll in which the handler finished, before a task spawned now can run.
pub fn release(held: Option<Held>) {
    if let Some(held) = held {
        actix_web::rt::spawn(async move { drop(held) });
    }
}
