//! `/admin/api` for finding a candidate and steering routes: the search, a candidate's
//! timeline, the events log, and every route with Pause/Resume.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;

use super::auth::Operator;
use super::query;
use crate::api::AppState;
use crate::careers::paging::Paging;
use crate::error::ApiError;
use crate::route_status::{self, SteerError};
use crate::store::events_log::{EventFilter, EventOutcome, EventView};
use crate::store::{AttemptView, JobView, Store, StoreError};

/// Events and jobs a search shows per candidate; the timeline has them all.
const SEARCH_SHOWS: usize = 5;

/// One candidate: everything the relay holds about them, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// The candidate, as HrFlow keys them.
    pub profile_key: String,
    /// Every event received that named them, duplicates and ignored ones too.
    pub events: Vec<EventView>,
    /// Every job made for them, on any route.
    pub jobs: Vec<JobWithAttempts>,
}

/// A job with its attempts, as the timeline answers it.
#[derive(Debug, Clone, Serialize)]
pub struct JobWithAttempts {
    /// Flattened: the job's own fields, then `attempts` beside them.
    #[serde(flatten)]
    pub job: JobView,
    /// Every attempt, earlier runs (before an operator's retry) included.
    pub attempts: Vec<AttemptView>,
}

impl Timeline {
    /// None when the relay holds nothing about `profile_key`.
    pub async fn read(store: &Store, profile_key: &str) -> Result<Option<Self>, StoreError> {
        let events = store.events_of(profile_key).await?;
        let mut jobs = Vec::new();
        for job in store.jobs_of(profile_key).await? {
            let attempts = store.attempts(job.id).await?;
            jobs.push(JobWithAttempts { job, attempts });
        }
        if events.is_empty() && jobs.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            profile_key: profile_key.to_string(),
            events,
            jobs,
        }))
    }
}

/// What a search found: each candidate with their last events and jobs, newest first.
pub async fn find(store: &Store, text: &str) -> Result<Vec<serde_json::Value>, StoreError> {
    let mut items = Vec::new();
    for key in store.search(text).await? {
        let mut events = store.events_of(&key).await?;
        events.reverse();
        events.truncate(SEARCH_SHOWS);
        let mut jobs = store.jobs_of(&key).await?;
        jobs.reverse();
        jobs.truncate(SEARCH_SHOWS);
        items.push(json!({"profile_key": key, "events": events, "jobs": jobs}));
    }
    Ok(items)
}

/// `GET /admin/api/search?q=`.
pub async fn search(
    _op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs = query::strict(&req, &["q"])?;
    let Some((_, text)) = pairs.into_iter().find(|(k, _)| k == "q") else {
        return Err(
            ApiError::bad_request("what to search for is required").field(
                "q",
                "is required: a profile key, a job id, an event id or an email",
            ),
        );
    };
    let items = find(&state.store, &text).await?;
    Ok(HttpResponse::Ok().json(json!({"q": text, "items": items})))
}

/// `GET /admin/api/profiles/{key}`: the candidate's timeline; 404 when the relay holds
/// nothing about them.
pub async fn timeline(
    _op: Operator,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let timeline = Timeline::read(&state.store, &path)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(timeline))
}

/// The events log's filter from a query string.
pub fn event_filter(req: &HttpRequest) -> Result<EventFilter, ApiError> {
    let mut filter = EventFilter::default();
    for (key, value) in query::strict(req, &["profile", "source", "type", "outcome"])? {
        match key.as_str() {
            "profile" => filter.profile = Some(value),
            "source" => filter.source = Some(value),
            "type" => filter.event_type = Some(value),
            _ => {
                filter.outcome = Some(EventOutcome::parse(&value).ok_or_else(|| {
                    ApiError::bad_request("invalid filter")
                        .field("outcome", "must be accepted, duplicate or ignored")
                })?)
            }
        }
    }
    Ok(filter)
}

/// `GET /admin/api/events?profile=&source=&type=&outcome=&page=&per_page=`, newest first.
pub async fn events(
    _op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let paging = Paging::parse(req.query_string())?;
    let filter = event_filter(&req)?;
    let found = state.store.count_events(&filter).await?;
    let items = state
        .store
        .list_events(&filter, paging.per_page, paging.offset())
        .await?
        .into_iter()
        .map(|e| json!(e))
        .collect();
    Ok(HttpResponse::Ok().json(paging.envelope(items, found)))
}

/// `GET /admin/api/routes`: every configured route, paused or not, with its jobs.
pub async fn routes(_op: Operator, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = route_status::overview(&state.settings, &state.store).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

/// Pauses or resumes a route for an operator: the API's and the page's buttons.
pub async fn steer(state: &AppState, name: &str, pause: bool) -> Result<bool, ApiError> {
    let changed = route_status::set_paused(&state.settings, &state.store, name, pause)
        .await
        .map_err(|e| match e {
            SteerError::Unknown { .. } => ApiError::not_found(),
            SteerError::Store(e) => e.into(),
        })?;
    if changed {
        state.alerts.report(crate::alert::Incident::Steered {
            route: name.to_string(),
            paused: pause,
        });
    }
    if !pause {
        state.wake.notify_waiters();
    }
    Ok(changed)
}

/// `POST /admin/api/routes/{name}/pause`: `{"route", "paused": true, "changed"}`.
pub async fn pause(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    op.may_change(&req, None)?;
    let changed = steer(&state, &path, true).await?;
    Ok(
        HttpResponse::Ok()
            .json(json!({"route": path.as_str(), "paused": true, "changed": changed})),
    )
}

/// `POST /admin/api/routes/{name}/resume`: `{"route", "paused": false, "changed"}`.
pub async fn resume(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    op.may_change(&req, None)?;
    let changed = steer(&state, &path, false).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"route": path.as_str(), "paused": false, "changed": changed})))
}
