//! The console's pages: a candidate's timeline, the jobs and events lists, and the forms
//! behind Pause and Resume.

use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::Operator;
use super::console::{self, Timeline};
use super::console_view;
use super::page::{checked_form, html, see_other};
use crate::api::AppState;
use crate::careers::paging::Paging;
use crate::error::ApiError;
use crate::job::Status;
use crate::store::control::JobFilter;

/// `(page, pages, found)` for a pager.
fn pages(paging: &Paging, found: i64) -> (i64, i64, i64) {
    (paging.page, paging.pages(found), found)
}

/// `GET /admin/profiles/{key}`.
pub async fn timeline(
    _op: Operator,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = Timeline::read(&state.store, &path)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(html(console_view::timeline_page(&t)))
}

/// `GET /admin/jobs?status=&route=&reason=&page=`.
pub async fn jobs(
    _op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let paging = Paging::parse(req.query_string())?;
    let q = super::query::loose(&req);
    let field = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    // A status the page does not know shows every job, as no status does.
    let status = field("status").and_then(|s| s.parse::<Status>().ok());
    let filter = JobFilter {
        status,
        route: field("route"),
        reason: field("reason"),
        ..JobFilter::default()
    };
    let found = state.store.count_jobs(&filter).await?;
    let jobs = state
        .store
        .list_jobs(&filter, paging.per_page, paging.offset())
        .await?;
    let routes: Vec<String> = state
        .settings
        .routes
        .iter()
        .map(|r| r.name.clone())
        .collect();
    Ok(html(console_view::jobs_page(
        &jobs,
        status.map_or("", Status::as_str),
        filter.route.as_deref().unwrap_or(""),
        &routes,
        pages(&paging, found),
    )))
}

/// `GET /admin/events?outcome=&source=&page=`.
pub async fn events(
    _op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let paging = Paging::parse(req.query_string())?;
    let filter = console::event_filter(&req)?;
    let found = state.store.count_events(&filter).await?;
    let events = state
        .store
        .list_events(&filter, paging.per_page, paging.offset())
        .await?;
    Ok(html(console_view::events_page(
        &events,
        filter.outcome.map_or("", |o| o.as_str()),
        filter.source.as_deref().unwrap_or(""),
        pages(&paging, found),
    )))
}

/// `POST /admin/routes/{name}/pause` (a form).
pub async fn pause(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    checked_form(&op, &req, payload).await?;
    let changed = console::steer(&state, &path, true).await?;
    Ok(see_other(&format!(
        "/admin?done=paused&n={}",
        u8::from(changed)
    )))
}

/// `POST /admin/routes/{name}/resume` (a form).
pub async fn resume(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    checked_form(&op, &req, payload).await?;
    let changed = console::steer(&state, &path, false).await?;
    Ok(see_other(&format!(
        "/admin?done=resumed&n={}",
        u8::from(changed)
    )))
}
