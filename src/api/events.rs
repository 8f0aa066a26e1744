//! `POST /hrflow/events`: verify, parse, match routes, and commit the event with its jobs
//! before answering 202. Nothing else happens on this path.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{AppState, body};
use crate::config::SignatureMode;
use crate::error::ApiError;
use crate::hrflow::event::{self, Event};
use crate::hrflow::signature;
use crate::routes;
use crate::store::{Ingested, NewEvent};
use crate::telemetry;

const SIGNATURE_HEADERS: [&str; 2] = ["HTTP-HRFLOW-SIGNATURE", "HRFLOW-SIGNATURE"];

#[tracing::instrument(name = "event", skip_all, fields(event_id, profile_key))]
pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let result = handle(&req, payload, &state).await;
    if let Err(e) = &result {
        telemetry::event(match e.status.as_u16() {
            401 => "unauthorized",
            413 => "too_large",
            415 => "unsupported",
            503 => "unavailable",
            _ => "invalid",
        });
        tracing::info!(status = e.status.as_u16(), error = %e, "event refused");
    }
    result
}

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

    let secret = &state.settings.hrflow.webhook_secret;
    let mode = state.settings.signature_mode();
    let signed = if secret.is_empty() || mode == SignatureMode::None {
        body
    } else {
        let header = SIGNATURE_HEADERS
            .iter()
            .find_map(|h| req.headers().get(*h))
            .and_then(|v| v.to_str().ok());
        signature::verify(mode, secret.expose().as_bytes(), header, &body).map_err(|e| {
            ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()).field("signature", e.to_string())
        })?
    };

    let event = match event::parse(&signed)? {
        Event::Profile(e) => e,
        Event::NoProfile { event_type } => {
            telemetry::event("ignored");
            return Ok(ignored(format!(
                "the event ({event_type}) carries no profile"
            )));
        }
    };
    tracing::Span::current().record("profile_key", event.profile_key.as_str());
    let routes: Vec<String> = routes::matching(&state.settings.routes, &event)
        .into_iter()
        .map(|r| r.name.clone())
        .collect();
    if routes.is_empty() {
        telemetry::event("ignored");
        return Ok(ignored(format!(
            "no route matches source {} and event type {:?}",
            event.source_key, event.event_type
        )));
    }
    let new = NewEvent {
        id: uuid::Uuid::new_v4().to_string(),
        body_hash: hex::encode(Sha256::digest(&signed)),
        event_type: event.event_type,
        profile_key: event.profile_key,
        source_key: event.source_key,
    };
    tracing::Span::current().record("event_id", new.id.as_str());
    // Stored by the group committer with the events that arrive alongside; answered after the
    // commit that holds it.
    match state.intake.ingest(new, routes).await {
        Ok(Ingested::Accepted { event_id, jobs }) => {
            telemetry::event("accepted");
            state.wake.notify_waiters();
            tracing::info!(jobs, "event accepted");
            Ok(HttpResponse::Accepted()
                .json(json!({"status": "accepted", "event_id": event_id, "jobs": jobs})))
        }
        Ok(Ingested::Duplicate { event_id }) => {
            telemetry::event("duplicate");
            tracing::info!(original = %event_id, "redelivery ignored");
            Ok(HttpResponse::Ok().json(json!({"status": "duplicate", "event_id": event_id})))
        }
        Err(e) => {
            // Never a 202 that cannot be kept: HrFlow will deliver again.
            tracing::error!(error = %e, "event could not be stored");
            Err(
                ApiError::unavailable("the event could not be stored; try again later")
                    .header("Retry-After", "5"),
            )
        }
    }
}

fn ignored(reason: String) -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ignored", "reason": reason}))
}
