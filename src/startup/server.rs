//! The HTTP server: the routes of the event endpoint, health, metrics, OpenAPI, the careers API
//! and the admin area, on a bound listener, with connections bounded.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::api::{self, AppState};
use crate::config::Settings;
use crate::error;

/// Binds `[server]`'s address: the listener and the port it got (port 0 picks a free one).
pub(super) fn listen(settings: &Settings) -> anyhow::Result<(TcpListener, u16)> {
    let (host, port) = (settings.server.host.as_str(), settings.server.port);
    let listener = TcpListener::bind((host, port))
        .with_context(|| format!("cannot listen on {host}:{port}"))?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

/// The server on `listener`, not started yet.
pub(super) fn serve(
    listener: TcpListener,
    settings: &Settings,
    state: web::Data<AppState>,
) -> std::io::Result<Server> {
    let careers_path = settings.careers.path.clone();
    // actix counts connections per worker thread, so the configured total is shared out.
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let connections = connections_per_worker(settings.server.max_connections, workers);
    let grace = settings.server.shutdown_grace;
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(tracing_actix_web::TracingLogger::<
                crate::telemetry::RequestSpan,
            >::new())
            // A body left unread (too slow, or never read) closes its connection.
            .wrap_fn(|mut req, service| {
                use actix_web::dev::Service as _;
                let held = api::body::hold(&mut req);
                let answer = service.call(req);
                async move {
                    let answered = answer.await;
                    api::body::release(held);
                    answered
                }
            })
            .configure(own_routes)
            .configure(crate::careers::configure(&careers_path))
            .configure(crate::admin::configure)
            .default_service(web::to(error::not_found))
    })
    .disable_signals()
    .workers(workers)
    // A flood of connections waits in the kernel's queue instead of costing ~50 kB each
    // (actix's own limit is 25,000 a thread).
    .max_connections(connections)
    // Open requests get the same grace as jobs in flight: the whole stop fits in it.
    .shutdown_timeout(grace.as_secs().max(1))
    .listen(listener)?
    .run())
}

/// The event endpoint, health, metrics and the OpenAPI document; any other method on them is a
/// 405 in the errors shape.
fn own_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/hrflow/events")
            .route(web::post().to(api::events::receive))
            .default_service(error::wrong_method("POST")),
    )
    .service(
        web::resource("/health/live")
            .route(web::get().to(api::service::live))
            .default_service(error::wrong_method("GET")),
    )
    .service(
        web::resource("/health/ready")
            .route(web::get().to(api::service::ready))
            .default_service(error::wrong_method("GET")),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(api::service::metrics))
            .default_service(error::wrong_method("GET")),
    )
    .service(
        web::resource("/openapi.json")
            .route(web::get().to(api::service::openapi))
            .default_service(error::wrong_method("GET")),
    );
}

/// Each worker's share of `total` connections, rounded up so that no worker gets none.
fn connections_per_worker(total: usize, workers: usize) -> usize {
    total.div_ceil(workers.max(1)).max(1)
}
