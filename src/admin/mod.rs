//! The operator's area under `/admin`: a JSON API for scripts and a status page for people,
//! behind `[admin]` credentials.

pub mod api;
pub mod auth;
pub mod chart_view;
pub mod console;
pub mod console_page;
pub mod console_view;
pub mod html;
pub mod job_view;
pub mod page;
pub mod query;
pub mod routes_view;
pub mod status_view;
pub mod sync_view;

use actix_web::web;

use crate::api::AppState;
use crate::error::{self, ApiError};

/// What an operator does to one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    Retry,
    Cancel,
}

impl JobAction {
    /// The answer's key, and the page's notice.
    pub fn done(self) -> &'static str {
        match self {
            Self::Retry => "retried",
            Self::Cancel => "cancelled",
        }
    }
}

/// Applies `action` to the job `raw_id` names: 404 when there is no such job. Returns the id
/// and how many jobs changed (0 when it was not in a state the action applies to).
pub async fn act_on_job(
    state: &AppState,
    raw_id: &str,
    action: JobAction,
) -> Result<(i64, u64), ApiError> {
    let id = crate::careers::parse_id(raw_id).ok_or_else(ApiError::not_found)?;
    state.store.job(id).await?.ok_or_else(ApiError::not_found)?;
    let n = match action {
        JobAction::Retry => state.store.retry_ids(&[id]).await?,
        JobAction::Cancel => state.store.cancel_ids(&[id]).await?,
    };
    if action == JobAction::Retry {
        state.wake.notify_waiters();
    }
    tracing::info!(
        job_id = id,
        action = action.done(),
        changed = n,
        "operator action"
    );
    Ok((id, n))
}

/// Mounts every `/admin` route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let r = |p: &str, allow: &'static str| {
        web::resource(p.to_string()).default_service(error::wrong_method(allow))
    };
    cfg.service(r("/admin", "GET").route(web::get().to(page::status)))
        .service(r("/admin/", "GET").route(web::get().to(page::status)))
        .service(r("/admin/jobs", "GET").route(web::get().to(console_page::jobs)))
        .service(r("/admin/events", "GET").route(web::get().to(console_page::events)))
        .service(r("/admin/profiles/{key}", "GET").route(web::get().to(console_page::timeline)))
        .service(r("/admin/routes/{name}/pause", "POST").route(web::post().to(console_page::pause)))
        .service(
            r("/admin/routes/{name}/resume", "POST").route(web::post().to(console_page::resume)),
        )
        .service(r("/admin/jobs/{id}", "GET").route(web::get().to(page::job)))
        .service(r("/admin/jobs/{id}/retry", "POST").route(web::post().to(page::retry_job)))
        .service(r("/admin/jobs/{id}/cancel", "POST").route(web::post().to(page::cancel_job)))
        .service(r("/admin/retry", "POST").route(web::post().to(page::retry_cause)))
        .service(r("/admin/api/jobs", "GET").route(web::get().to(api::list)))
        .service(r("/admin/api/jobs/retry", "POST").route(web::post().to(api::retry_matching)))
        .service(r("/admin/api/jobs/{id}", "GET").route(web::get().to(api::show)))
        .service(r("/admin/api/jobs/{id}/retry", "POST").route(web::post().to(api::retry_one)))
        .service(r("/admin/api/jobs/{id}/cancel", "POST").route(web::post().to(api::cancel)))
        .service(
            r("/admin/api/profiles/{key}", "GET, DELETE")
                .route(web::get().to(console::timeline))
                .route(web::delete().to(api::erase)),
        )
        .service(r("/admin/api/search", "GET").route(web::get().to(console::search)))
        .service(r("/admin/api/events", "GET").route(web::get().to(console::events)))
        .service(r("/admin/api/routes", "GET").route(web::get().to(console::routes)))
        .service(r("/admin/api/routes/{name}/pause", "POST").route(web::post().to(console::pause)))
        .service(
            r("/admin/api/routes/{name}/resume", "POST").route(web::post().to(console::resume)),
        )
        .service(r("/admin/api/stats", "GET").route(web::get().to(api::stats)));
}
