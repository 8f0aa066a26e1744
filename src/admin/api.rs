//! `/admin/api`: the operator's JSON routes, the same operations as `hrflow-relay jobs`,
//! `erase` and the status page's numbers.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::auth::Operator;
use super::{JobAction, act_on_job};
use crate::api::AppState;
use crate::careers::paging::Paging;
use crate::error::ApiError;
use crate::store::control::JobFilter;

/// A retry filter is a few short strings.
const MAX_FILTER_BYTES: usize = 16 * 1024;

/// A jobs list's filter from a query string (`q` a search, as `/admin/api/search` reads it);
/// an unknown key is a 400.
pub async fn job_filter(state: &AppState, req: &HttpRequest) -> Result<JobFilter, ApiError> {
    let mut filter = JobFilter::default();
    let mut err = ApiError::bad_request("invalid filter");
    for (key, value) in super::query::strict(req, &["status", "route", "profile", "q"])? {
        match key.as_str() {
            "q" => filter.profiles = Some(state.store.search(&value).await?),
            "status" => match value.parse() {
                Ok(status) => filter.status = Some(status),
                Err(e) => err = err.field("status", e.to_string()),
            },
            "route" => filter.route = Some(value),
            _ => filter.profile = Some(value),
        }
    }
    if !err.fields.is_empty() {
        return Err(err);
    }
    Ok(filter)
}

/// `GET /admin/api/jobs?status=&route=&profile=&q=&page=&per_page=`, newest first.
pub async fn list(
    _op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let paging = Paging::parse(req.query_string())?;
    let filter = job_filter(&state, &req).await?;
    let found = state.store.count_jobs(&filter).await?;
    let items = state
        .store
        .list_jobs(&filter, paging.per_page, paging.offset())
        .await?
        .into_iter()
        .map(|j| json!(j))
        .collect();
    Ok(HttpResponse::Ok().json(paging.envelope(items, found)))
}

/// `GET /admin/api/jobs/{id}`: the job and every attempt, earlier runs included.
pub async fn show(
    _op: Operator,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::careers::parse_id(&path).ok_or_else(ApiError::not_found)?;
    let job = state.store.job(id).await?.ok_or_else(ApiError::not_found)?;
    let attempts = state.store.attempts(id).await?;
    Ok(HttpResponse::Ok().json(json!({"job": job, "attempts": attempts})))
}

/// `POST /admin/api/jobs/{id}/retry`: `{"retried": 0 or 1}` (only dead and filtered jobs are
/// retried); 404 for an unknown job.
pub async fn retry_one(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_job(op, state, req, path, JobAction::Retry).await
}

async fn on_job(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    action: JobAction,
) -> Result<HttpResponse, ApiError> {
    op.may_change(&req, None)?;
    let (_, n) = act_on_job(&state, &path, action).await?;
    Ok(HttpResponse::Ok().json(json!({ action.done(): n })))
}

/// `POST /admin/api/jobs/retry` with `{"status", "route", "since", "reason"}`.
pub async fn retry_matching(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    op.may_change(&req, None)?;
    let body = crate::api::body::json_object(&req, payload, MAX_FILTER_BYTES).await?;
    let filter = filter_from(&body)?;
    let retried = state.store.retry_matching(&filter).await?;
    state.wake.notify_waiters();
    tracing::info!(retried, status = ?filter.status, route = ?filter.route, "bulk retry requested");
    Ok(HttpResponse::Ok().json(json!({ "retried": retried })))
}

/// The filter of a bulk retry: unknown keys are refused, so a typo never widens it.
fn filter_from(body: &serde_json::Map<String, Value>) -> Result<JobFilter, ApiError> {
    const KEYS: [&str; 4] = ["status", "route", "since", "reason"];
    let mut err = ApiError::bad_request("invalid retry filter");
    let mut values: [Option<String>; 4] = Default::default();
    for (key, value) in body {
        let Some(i) = KEYS.iter().position(|k| k == key) else {
            err = err.field(
                key.clone(),
                "is not a filter key (status, route, since, reason)",
            );
            continue;
        };
        match value {
            Value::Null => {}
            Value::String(s) => values[i] = Some(s.clone()),
            _ => err = err.field(key.clone(), "must be a string"),
        }
    }
    if !err.fields.is_empty() {
        return Err(err);
    }
    let [status, route, since, reason] = values;
    crate::store::control::JobFilter::for_retry(status, route, since.as_deref(), reason)
        .map_err(|(field, message)| err.field(field, message))
}

/// `POST /admin/api/jobs/{id}/cancel`: `{"cancelled": 0 or 1}` (only pending jobs).
pub async fn cancel(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_job(op, state, req, path, JobAction::Cancel).await
}

/// `DELETE /admin/api/profiles/{key}`: as `hrflow-relay erase`. Logged as counts only.
pub async fn erase(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    op.may_change(&req, None)?;
    let key = path.into_inner();
    if key.trim().is_empty() {
        return Err(
            ApiError::bad_request("a profile key is required").field("profile_key", "is empty")
        );
    }
    let deleted = state.store.erase_profile(&key).await?;
    crate::retention::record(&deleted);
    tracing::info!(
        jobs = deleted.jobs,
        attempts = deleted.attempts,
        events = deleted.events,
        responses = deleted.responses,
        letters = deleted.letters,
        "candidate erased"
    );
    Ok(HttpResponse::Ok().json(json!({ "deleted": deleted })))
}

/// `GET /admin/api/stats`: jobs per route and status, the queue, outcomes per hour over 24
/// hours, and the dead jobs grouped by cause.
pub async fn stats(_op: Operator, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stats = state.store.stats().await?;
    let causes = state.store.dead_causes(50).await?;
    let mut body = json!(stats);
    body["dead_causes"] = json!(causes);

    Ok(HttpResponse::Ok().json(body))
}
