//! `POST /hrflow/events`: verify, parse, match routes, and commit the events with their jobs
//! before answering 202. Nothing else happens on this path. A body is one event or an array
//! of them; an array is committed in one transaction and answered element by element.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::{AppState, body};
use crate::error::ApiError;
use crate::hrflow::event::{self, Body, Event, EventError, ProfileEvent};
use crate::hrflow::signature;
use crate::hrflow::signature::SignatureMode;
use crate::routes;
use crate::store::{Ingested, NewEvent, StoreError};
use crate::telemetry;

// No fields recorded on the span after the fact (each would make the JSON log layer format
// it again): the accepted and ignored lines name the event and profile themselves.
#[tracing::instrument(name = "event", skip_all)]
pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let result = handle(&req, payload, &state).await;
    if let Err(e) = &result {
        telemetry::event(match e.status.as_u16() {
            401 => "unauthorized",
            408 => "timeout",
            413 => "too_large",
            415 => "unsupported",
            503 => "unavailable",
            _ => "invalid",
        });
        tracing::info!(status = e.status.as_u16(), error = %e, "event refused");
    }
    result
}

impl From<EventError> for ApiError {
    fn from(e: EventError) -> Self {
        let status = if e.too_many {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        let mut api = ApiError::new(status, e.message);
        for (field, messages) in e.fields {
            for m in messages {
                api = api.field(field.clone(), m);
            }
        }
        api
    }
}

/// What becomes of one event of the body.
enum Answer {
    /// To be stored, with the routes it makes jobs on; `Stored` once committed.
    Store(NewEvent, Vec<String>),
    /// What the commit made of it: accepted, a duplicate, or ignored.
    Stored(Ingested),
    /// Cannot be identified: answered with why, never stored.
    Rejected(EventError),
}

impl Answer {
    fn json(&self) -> Value {
        match self {
            Answer::Stored(Ingested::Accepted { event_id, jobs }) => {
                json!({"status": "accepted", "event_id": event_id, "jobs": jobs})
            }
            Answer::Stored(Ingested::Duplicate { event_id }) => {
                json!({"status": "duplicate", "event_id": event_id})
            }
            Answer::Stored(Ingested::Ignored { reason }) => {
                json!({"status": "ignored", "reason": reason})
            }
            Answer::Rejected(e) => {
                let body = ApiError::from(e.clone()).body();
                json!({"status": "rejected", "errors": body["errors"]})
            }
            // Never answered: every stored event is replaced by its outcome first.
            Answer::Store(..) => json!({"status": "pending"}),
        }
    }

    fn status(&self) -> &'static str {
        match self {
            Answer::Stored(Ingested::Accepted { .. }) => "accepted",
            Answer::Stored(Ingested::Duplicate { .. }) => "duplicate",
            Answer::Stored(Ingested::Ignored { .. }) => "ignored",
            Answer::Rejected(_) => "rejected",
            Answer::Store(..) => "pending",
        }
    }
}

/// The endpoint, check by check in the contract's order: the schema (503), the body (its
/// content type, size and time: 415, 413, 408), the signature (401), the events (400, 413),
/// the commit (503); then the answer, 202 when an event was accepted.
async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    if !state.schema.load(std::sync::atomic::Ordering::Acquire) {
        return Err(ApiError::unavailable(
            "starting: the database is not reachable yet; try again later",
        )
        .header("Retry-After", "5"));
    }
    let body = body::json_bytes(req, payload, state.settings.server.max_body_bytes).await?;
    let signed = verified(req, state, body)?;
    let (events, array) = match event::parse_body(&signed)? {
        Body::One(e) => (vec![e], false),
        Body::Many(events) => (events, true),
    };
    let mut answers: Vec<Answer> = events.into_iter().map(|e| plan(state, e)).collect();
    let to_store = to_store(&answers);
    if !to_store.is_empty() {
        // Stored by the group committer with the events that arrive alongside, all of this
        // body in one transaction; answered after the commit that holds them.
        let count = to_store.len();
        let stored = match state.intake.ingest(to_store).await {
            Ok(stored) => stored,
            Err(e) => return Err(not_stored(e, count)),
        };
        fill(&mut answers, stored)?;
        state.wake.notify_waiters();
    }
    for a in &answers {
        telemetry::event(a.status());
    }
    if !array {
        let answer = &answers[0];
        return Ok(match answer {
            Answer::Stored(Ingested::Accepted { .. }) => {
                HttpResponse::Accepted().json(answer.json())
            }
            _ => HttpResponse::Ok().json(answer.json()),
        });
    }
    answer_array(&answers)
}

/// The body, once its signature is checked (unless no secret is set or the mode is `none`).
fn verified(req: &HttpRequest, state: &AppState, body: Vec<u8>) -> Result<Vec<u8>, ApiError> {
    let secrets = &state.settings.hrflow.webhook_secret;
    let mode = state.settings.hrflow.signature;
    if secrets.is_empty() || mode == SignatureMode::None {
        return Ok(body);
    }
    let header = signature::HEADERS
        .iter()
        .find_map(|h| req.headers().get(*h))
        .and_then(|v| v.to_str().ok());
    signature::verify(mode, &secrets.keys(), header, &body).map_err(|e| {
        ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()).field("signature", e.to_string())
    })
}

/// The events to store, with the routes each makes jobs on.
fn to_store(answers: &[Answer]) -> Vec<(NewEvent, Vec<String>)> {
    answers
        .iter()
        .filter_map(|a| match a {
            Answer::Store(e, routes) => Some((e.clone(), routes.clone())),
            _ => None,
        })
        .collect()
}

/// The commit failed: 503, since a 202 must never be sent that cannot be kept (HrFlow will
/// deliver again).
fn not_stored(e: StoreError, count: usize) -> ApiError {
    tracing::error!(error = %e, events = count, "event could not be stored");
    ApiError::unavailable("the event could not be stored; try again later")
        .header("Retry-After", "5")
}

/// Puts each stored event's outcome in its place, in the body's order.
fn fill(answers: &mut [Answer], stored: Vec<Ingested>) -> Result<(), ApiError> {
    let mut stored = stored.into_iter();
    for answer in answers.iter_mut() {
        if let Answer::Store(e, _) = answer {
            let Some(outcome) = stored.next() else {
                return Err(ApiError::unavailable(
                    "the event could not be stored; try again later",
                ));
            };
            log_stored(e, &outcome);
            *answer = Answer::Stored(outcome);
        }
    }
    Ok(())
}

/// An array's answer: 202 when any event was accepted, else 200 with the array's status; 400
/// when no element could be identified.
fn answer_array(answers: &[Answer]) -> Result<HttpResponse, ApiError> {
    let count = |s: &str| answers.iter().filter(|a| a.status() == s).count();
    let (accepted, duplicate, rejected) =
        (count("accepted"), count("duplicate"), count("rejected"));
    if rejected == answers.len() {
        return Err(unidentified(answers));
    }
    tracing::info!(
        events = answers.len(),
        accepted,
        duplicate,
        rejected,
        "event array answered"
    );
    let results: Vec<Value> = answers.iter().map(Answer::json).collect();
    Ok(if accepted > 0 {
        HttpResponse::Accepted().json(json!({"status": "accepted", "results": results}))
    } else {
        let status = if duplicate > 0 {
            "duplicate"
        } else {
            "ignored"
        };
        HttpResponse::Ok().json(json!({"status": status, "results": results}))
    })
}

/// Nothing in the body could be identified: a client error, naming each element.
fn unidentified(answers: &[Answer]) -> ApiError {
    let mut err = ApiError::bad_request("no event in the array could be identified");
    for (i, a) in answers.iter().enumerate() {
        if let Answer::Rejected(e) = a {
            err = err.field(format!("[{i}]"), e.message.clone());
            for (field, messages) in &e.fields {
                for m in messages {
                    err = err.field(format!("[{i}].{field}"), m.clone());
                }
            }
        }
    }
    err
}

/// Decides what one event becomes, before anything is stored: every event that can be
/// identified is stored, in the events log at least.
fn plan(state: &AppState, event: Event) -> Answer {
    match event {
        Event::Profile(e) => {
            let routes: Vec<String> = routes::matching(&state.settings.routes, &e)
                .into_iter()
                .map(|r| r.name.clone())
                .collect();
            let ignored = routes.is_empty().then(|| why_ignored(state, &e));
            let new = logged(
                e.event_type,
                e.profile_key,
                e.source_key,
                e.body_hash,
                ignored,
            );
            Answer::Store(new, routes)
        }
        Event::NoProfile { event_type } => {
            let reason = format!("no profile in the event ({event_type})");
            unprofiled(event_type, reason)
        }
        Event::Failed { event_type } => {
            let reason = format!(
                "error event ({event_type}): HrFlow could not produce the profile, there is no profile to fetch"
            );
            unprofiled(event_type, reason)
        }
        Event::Rejected(e) => Answer::Rejected(e),
    }
}

/// Why no route takes a profile event: its source, or its type from that source.
fn why_ignored(state: &AppState, e: &ProfileEvent) -> String {
    if state
        .settings
        .routes
        .iter()
        .any(|r| routes::listens_to(r, &e.source_key))
    {
        format!(
            "no route takes event type {:?} from source {:?}",
            e.event_type, e.source_key
        )
    } else {
        format!("no route takes source {:?}", e.source_key)
    }
}

/// An event that names no profile: kept in the events log, ignored for `reason`, no job.
fn unprofiled(event_type: String, reason: String) -> Answer {
    let new = logged(
        event_type,
        String::new(),
        String::new(),
        String::new(),
        Some(reason),
    );
    Answer::Store(new, Vec::new())
}

/// The events log's row for an event (`ignored`: why it makes no job).
fn logged(
    event_type: String,
    profile_key: String,
    source_key: String,
    body_hash: String,
    ignored: Option<String>,
) -> NewEvent {
    NewEvent {
        // Time-ordered: new events append to the end of the events key's index
        // instead of dirtying a random page of it per event.
        id: uuid::Uuid::now_v7().to_string(),
        body_hash,
        event_type,
        profile_key,
        source_key,
        ignored,
    }
}

fn log_stored(event: &NewEvent, outcome: &Ingested) {
    match outcome {
        Ingested::Accepted { jobs, .. } => tracing::info!(
            event_id = %event.id, profile_key = %event.profile_key, jobs, "event accepted"
        ),
        Ingested::Duplicate { event_id } => tracing::info!(
            profile_key = %event.profile_key, original = %event_id, "redelivery ignored"
        ),
        Ingested::Ignored { reason } => tracing::info!(
            event_id = %event.id, profile_key = %event.profile_key, reason = %reason, "event ignored"
        ),
    }
}
