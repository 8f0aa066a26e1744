//! The operator's area under `/admin`: a JSON API for scripts and a status page for people,
//! behind `[admin]` credentials.

pub mod api;
pub mod auth;
pub mod page;
pub mod view;

use actix_web::web;

use crate::error;

/// Mounts every `/admin` route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let r = |p: &str, allow: &'static str| {
        web::resource(p.to_string()).default_service(error::wrong_method(allow))
    };
    cfg.service(r("/admin", "GET").route(web::get().to(page::status)))
        .service(r("/admin/", "GET").route(web::get().to(page::status)))
        .service(r("/admin/jobs/{id}", "GET").route(web::get().to(page::job)))
        .service(r("/admin/jobs/{id}/retry", "POST").route(web::post().to(page::retry_job)))
        .service(r("/admin/jobs/{id}/cancel", "POST").route(web::post().to(page::cancel_job)))
        .service(r("/admin/retry", "POST").route(web::post().to(page::retry_cause)))
        .service(r("/admin/api/jobs", "GET").route(web::get().to(api::list)))
        .service(r("/admin/api/jobs/retry", "POST").route(web::post().to(api::retry_matching)))
        .service(r("/admin/api/jobs/{id}", "GET").route(web::get().to(api::show)))
        .service(r("/admin/api/jobs/{id}/retry", "POST").route(web::post().to(api::retry_one)))
        .service(r("/admin/api/jobs/{id}/cancel", "POST").route(web::post().to(api::cancel)))
        .service(r("/admin/api/profiles/{key}", "DELETE").route(web::delete().to(api::erase)))
        .service(r("/admin/api/stats", "GET").route(web::get().to(api::stats)));
}
