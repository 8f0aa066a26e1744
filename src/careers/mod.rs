//! The Huntflow response platform: the career-site API Huntflow calls to publish vacancies and
//! collect responses, in its 2019 (seed) and version 0.1 route forms.

pub mod auth;
pub mod mapping;
pub mod paging;
pub mod response;
pub mod vacancy;

use actix_web::web;

use crate::error;

/// Which form of the spec a route belongs to: it decides id types and the resume key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// 2019: integer ids, `resume`.
    Seed,
    /// Version 0.1: string ids, `resumes`, `photo`, `birthday`.
    V01,
}

/// Mounts every route of both forms under `path`.
pub fn configure(path: &str) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
    let path = path.trim_end_matches('/').to_string();
    move |cfg: &mut web::ServiceConfig| {
        let r = |p: &str, allow: &'static str| {
            web::resource(format!("{path}{p}")).default_service(error::wrong_method(allow))
        };
        cfg.service(r("/publish", "POST").route(web::post().to(vacancy::publish)))
            .service(
                r("/vacancy/{id}", "PUT, DELETE")
                    .route(web::put().to(vacancy::edit))
                    .route(web::delete().to(vacancy::unpublish)),
            )
            .service(r("/vacancy/{id}/response", "GET").route(web::get().to(response::list_seed)))
            .service(
                r("/vacancy/{id}/response/{response_id}", "GET")
                    .route(web::get().to(response::letters_seed)),
            )
            .service(r("/vacancies", "POST").route(web::post().to(vacancy::publish)))
            .service(
                r("/vacancies/{id}", "GET, PUT, DELETE")
                    .route(web::get().to(vacancy::read))
                    .route(web::put().to(vacancy::edit))
                    .route(web::delete().to(vacancy::unpublish)),
            )
            .service(r("/vacancies/{id}/responses", "GET").route(web::get().to(response::list_v01)))
            .service(
                r("/vacancies/{id}/responses/{response_id}/letters", "GET")
                    .route(web::get().to(response::letters_v01)),
            )
            .service(r("/version", "GET").route(web::get().to(vacancy::version)));
    }
}

/// A path id: a positive integer that fits the store, else it names nothing (404).
pub fn parse_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}
