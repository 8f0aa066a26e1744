//! `/admin` for a person: the status page, a job's page, and the forms behind their buttons.
//! A button posts a form with the CSRF token and lands back on a page saying what it did.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::Operator;
use super::view;
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
fn html(body: String) -> HttpResponse {
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
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The one-line notice a redirect asks for (`?done=...`), from a fixed list: the query
/// string never puts text on the page.
fn notice(req: &HttpRequest) -> Option<String> {
    let query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()?;
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
        "cancelled" => Some(if n == 0 {
            "Nothing was cancelled: the job was not pending any more.".to_string()
        } else {
            "The job was cancelled.".to_string()
        }),
        _ => None,
    }
}

/// How the page names where a route's candidates go.
fn describe(d: &crate::config::Destination) -> String {
    use crate::config::Destination;
    match d {
        Destination::Flatchr { account, .. } if account.is_empty() => "Flatchr".into(),
        Destination::Flatchr { account, .. } => format!("Flatchr, account {account}"),
        Destination::Careers { .. } => "Huntflow (careers)".into(),
        Destination::Webhook(t) => format!(
            "webhook {}",
            url::Url::parse(&t.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default()
        ),
        Destination::Unknown => "unknown".into(),
    }
}

/// `GET /admin`.
pub async fn status(
    op: Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let stats = state.store.stats().await?;
    let causes = state.store.dead_causes(CAUSES).await?;
    let destinations = state
        .settings
        .routes
        .iter()
        .map(|r| (r.name.clone(), describe(&r.destination)))
        .collect();
    let sync = super::sync_view::section(
        &state.settings.sync.sources,
        &state.store.sync_runs().await?,
    );
    Ok(html(view::status_page(
        &stats,
        &destinations,
        &causes,
        &sync,
        &op.csrf_token(),
        notice(&req).as_deref(),
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
    Ok(html(view::job_page(
        &job,
        &attempts,
        &op.csrf_token(),
        notice(&req).as_deref(),
    )))
}

/// The form's fields, after the CSRF check.
async fn checked_form(
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
        status: Some("dead".into()),
        route: Some(route),
        profile: None,
        since_ms: None,
        reason: Some(reason),
    };
    let n = state.store.retry_matching(&filter).await?;
    state.wake.notify_waiters();
    tracing::info!(retried = n, "retry of a cause requested on the status page");
    Ok(see_other(&format!("/admin?done=retried&n={n}")))
}
