//! `/admin` for a person: the status page, a job's page, and the forms behind their buttons.
//! A button posts a form with the CSRF token and lands back on a page saying what it did.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::Operator;
use super::job_view::{self, JobContext};
use super::status_view::{self, StatusParts};
use super::{JobAction, act_on_job};
use crate::api::AppState;
use crate::error::ApiError;

/// A form is a token and two short fields.
const MAX_FORM_BYTES: usize = 16 * 1024;
/// Causes shown on the status page.
const CAUSES: i64 = 30;

/// What every page answer carries: no caching of personal data, no framing, nothing loaded
/// from anywhere (the stylesheet is inline, there is no script), forms post only here. The
/// referrer policy is same-origin, not no-referrer: under no-referrer browsers send
/// `Origin: null` with the forms, which the CSRF check refuses.
pub(super) fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// After a change: back to a page (303, so a reload does not post again).
pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The one-line notice a redirect asks for (`?done=...`), from a fixed list: the query
/// string never puts text on the page.
fn notice(req: &HttpRequest) -> Option<String> {
    let query = super::query::loose(req);
    let n = query
        .get("n")
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    match query.get("done")?.as_str() {
        "retried" => Some(match n {
            0 => "Nothing was retried: the jobs were not dead or filtered any more.".to_string(),
            1 => "1 job retried: it is pending again and due now.".to_string(),
            n => format!("{n} jobs retried: they are pending again and due now."),
        }),
        "paused" => Some(if n == 0 {
            "The route was paused already.".to_string()
        } else {
            "The route is paused: its jobs wait until it is resumed.".to_string()
        }),
        "resumed" => Some(if n == 0 {
            "The route was not paused.".to_string()
        } else {
            "The route is resumed: its waiting jobs go out now.".to_string()
        }),
        "cancelled" => Some(if n == 0 {
            "Nothing was cancelled: the job was not pending any more.".to_string()
        } else {
            "The job was cancelled.".to_string()
        }),
        _ => None,
    }
}

/// `GET /admin`: the status page; with `q`, the search (one candidate found opens their
/// timeline); with `refresh=10`, reloading every 10 s.
pub async fn status(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = super::query::loose(&req);
    if let Some(q) = query.get("q").map(|q| q.trim()).filter(|q| !q.is_empty()) {
        let found = super::console::find(&state.store, q).await?;
        if let [one] = found.as_slice()
            && let Some(key) = one["profile_key"].as_str()
        {
            return Ok(see_other(&format!(
                "/admin/profiles/{}",
                url::form_urlencoded::byte_serialize(key.as_bytes())
                    .collect::<String>()
                    .replace('+', "%20")
            )));
        }
        return Ok(html(super::console_view::results_page(q, &found)));
    }
    let stats = state.store.stats().await?;
    let causes = state.store.dead_causes(CAUSES).await?;
    let routes =
        crate::route_status::assemble(&state.settings, &stats.routes, &state.store.pauses().await?);
    let sync = super::sync_view::section(
        &state.settings.sync.sources,
        &state.store.sync_runs().await?,
    );
    let csrf = op.csrf_token();
    Ok(html(status_view::status_page(
        &stats,
        &StatusParts {
            routes: &routes,
            causes: &causes,
            sync: &sync,
            csrf: &csrf,
            notice: notice(&req).as_deref(),
            refresh: query.get("refresh").is_some_and(|r| r == "10"),
        },
    )))
}

/// `GET /admin/jobs/{id}`.
pub async fn job(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::careers::parse_id(&path).ok_or_else(ApiError::not_found)?;
    let job = state.store.job(id).await?.ok_or_else(ApiError::not_found)?;
    let attempts = state.store.attempts(id).await?;
    let route = state.settings.route(&job.route);
    let context = JobContext {
        event: state.store.event(&job.event_id).await?,
        to: route.map_or("no longer configured".into(), |r| r.destination.describe()),
        step: job_view::step_words(&job, route.map(|r| &r.destination)),
    };
    Ok(html(job_view::job_page(
        &job,
        &attempts,
        &context,
        &op.csrf_token(),
        notice(&req).as_deref(),
    )))
}

/// The form's fields, after the CSRF check.
pub(super) async fn checked_form(
    op: &Operator,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Vec<(String, String)>, ApiError> {
    let fields = crate::api::body::form(req, payload, MAX_FORM_BYTES).await?;
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    op.may_change(req, csrf)?;
    Ok(fields)
}

/// `POST /admin/jobs/{id}/retry` (a form).
pub async fn retry_job(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    on_job(op, state, req, path, payload, JobAction::Retry).await
}

/// `POST /admin/jobs/{id}/cancel` (a form).
pub async fn cancel_job(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    on_job(op, state, req, path, payload, JobAction::Cancel).await
}

async fn on_job(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    action: JobAction,
) -> Result<HttpResponse, ApiError> {
    checked_form(&op, &req, payload).await?;
    let (id, n) = act_on_job(&state, &path, action).await?;
    Ok(see_other(&format!(
        "/admin/jobs/{id}?done={}&n={n}",
        action.done()
    )))
}

/// `POST /admin/retry` (a form): every dead job of one cause (route and reason).
pub async fn retry_cause(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let fields = checked_form(&op, &req, payload).await?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (Some(route), Some(reason)) = (field("route"), field("reason")) else {
        return Err(ApiError::bad_request("a cause is a route and a reason")
            .field("route", "is required")
            .field("reason", "is required"));
    };
    let filter = crate::store::control::JobFilter {
        status: Some(crate::job::Status::Dead),
        route: Some(route),
        profile: None,
        since_ms: None,
        reason: Some(reason),
        profiles: None,
    };
    let n = state.store.retry_matching(&filter).await?;
    state.wake.notify_waiters();
    tracing::info!(retried = n, "retry of a cause requested on the status page");
    Ok(see_other(&format!("/admin?done=retried&n={n}")))
}
