//! Health, readiness, metrics and the OpenAPI document.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;

pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database answers and the worker has polled within the last few seconds.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let migrated = state.schema.load(std::sync::atomic::Ordering::Acquire);
    let database = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) if !migrated => {
            json!({"status": "down", "error": "the schema is not migrated yet"})
        }
        Ok(Ok(())) => json!({"status": "ok"}),
        Ok(Err(e)) => json!({"status": "down", "error": e.to_string()}),
        Err(_) => json!({"status": "down", "error": "no answer within 2s"}),
    };
    let age = state.heartbeat.age();
    let limit = state
        .settings
        .worker
        .poll_interval
        .max(Duration::from_secs(1))
        * 5;
    let worker = if age <= limit {
        json!({"status": "ok", "last_poll_ms_ago": age.as_millis() as u64})
    } else {
        json!({"status": "down", "last_poll_ms_ago": age.as_millis() as u64})
    };
    let ok = database["status"] == "ok" && worker["status"] == "ok";
    let body = json!({"status": if ok { "ok" } else { "unavailable" }, "database": database, "worker": worker});
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Reads nothing from the database: the queue's gauges come from their refresher.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.gauges.publish();
    if let Some(bytes) = state.store.sqlite_memory() {
        metrics::gauge!("relay_sqlite_memory_bytes").set(bytes as f64);
    }
    let text = crate::telemetry::metrics()
        .map(|h| h.render())
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}

pub const OPENAPI: &str = include_str!("openapi.json");

/// The document, with the careers routes under the configured mount point.
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    let path = state.settings.careers.path.trim_end_matches('/');
    let body = if path == "/careers" {
        OPENAPI.to_string()
    } else {
        OPENAPI.replace("\"/careers/", &format!("\"{path}/"))
    };
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}
