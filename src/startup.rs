//! Builds the HTTP server and the worker from validated settings; returns a handle with the
//! bound port (port 0 picks a free one, as tests do).

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::api::{self, AppState};
use crate::config::Settings;
use crate::error;
use crate::hrflow::client::HrflowClient;
use crate::logic::Scripts;
use crate::store::Store;
use crate::worker::attempt::Attempts;
use crate::worker::{Heartbeat, Worker};

pub struct Application {
    port: u16,
    fatal: tokio::sync::oneshot::Receiver<anyhow::Error>,
    server: Server,
    handle: ServerHandle,
    shutdown: watch::Sender<bool>,
    worker: JoinHandle<()>,
    /// The worker when no loop runs it (`build_stepped`): the caller runs its due jobs.
    stepped: Option<Arc<Worker>>,
    pub store: Store,
}

/// Validates settings and the script together: every problem, in one list; else the script.
pub fn check(settings: &Settings) -> Result<Scripts, Vec<String>> {
    // With other problems the script is still compiled and checked, so every problem shows at
    // once.
    let mut problems = settings.check().err().unwrap_or_default();
    let logic = &settings.logic;
    let scripts = match Scripts::load(
        &logic.script,
        logic.max_operations,
        logic.timeout,
        logic.print,
        crate::destination::register,
    ) {
        Ok(s) => {
            problems.extend(s.check(settings.routes.iter().map(|r| r.transform())));
            Some(s)
        }
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    match scripts {
        Some(s) if problems.is_empty() => Ok(s),
        _ => Err(problems),
    }
}

/// What one attempt needs, built from checked settings; tests build it to run an attempt on
/// a job they claimed.
pub fn attempts(
    settings: &Arc<Settings>,
    scripts: Scripts,
    store: &Store,
    http: &reqwest::Client,
    alerts: Option<crate::alert::Sink>,
) -> Attempts {
    Attempts {
        store: store.clone(),
        settings: settings.clone(),
        scripts,
        hrflow: HrflowClient::new(
            http.clone(),
            &settings.hrflow.api_url,
            settings.hrflow.api_key.clone(),
            settings.hrflow.user_email.clone(),
        ),
        senders: Arc::new(senders(settings, store, http)),
        owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4()),
        alerts: crate::alert::Alerts::start(alerts),
    }
}

/// A client per destination (one per Flatchr account: its own key, company and rate).
pub fn senders(
    settings: &Settings,
    store: &Store,
    http: &reqwest::Client,
) -> crate::destination::Senders {
    let common = settings.common();
    crate::destination::Senders::build(&settings.destinations, &common, store, http)
}

/// Where alerts go, if anywhere.
fn alert_sink(settings: &Settings, http: &reqwest::Client) -> Option<crate::alert::Sink> {
    let url = settings.alerts.webhook_url.expose();
    if url.is_empty() {
        return None;
    }
    let public = settings.server.public_url.trim_end_matches('/');
    Some(crate::alert::Sink {
        http: http.clone(),
        url: url.to_string(),
        min_interval: settings.alerts.min_interval,
        status_page: (!public.is_empty()).then(|| format!("{public}/admin")),
        secrets: settings.secret_values(),
    })
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, true).await
    }

    /// Like `build`, with no worker loop: jobs wait until the caller runs them with
    /// `Worker::run_due` (`RunningApp::stepped`), so tests step deliveries instead of polling
    /// for the loop's, and nothing races them. Everything else runs as in `build`.
    pub async fn build_stepped(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, false).await
    }

    async fn build_with(settings: Settings, run_loop: bool) -> anyhow::Result<Self> {
        let scripts = check(&settings).map_err(crate::config::ConfigError::Invalid)?;
        let signature = settings.hrflow.signature;
        if !crate::careers::auth::configured(
            &settings.careers.tokens,
            &settings.careers.basic_users,
        ) {
            tracing::warn!(path = %settings.careers.path, "the careers API has no credentials configured ([careers].tokens, basic_users): every request to it is refused");
        }
        if signature == crate::hrflow::signature::SignatureMode::None {
            tracing::warn!(
                "hrflow.signature = \"none\": event signatures are NOT checked; only something in front of the relay authenticates HrFlow"
            );
        } else if settings.hrflow.webhook_secret.is_empty() {
            tracing::warn!(
                "hrflow.webhook_secret is empty: event signatures are NOT checked (no route is configured, so every event is ignored)"
            );
        }
        crate::telemetry::metrics();
        crate::telemetry::start_upkeep();
        let store = Store::lazy(
            settings.database.url.expose(),
            settings.database.max_connections,
        )
        .context("cannot open the database")?;
        let schema = Arc::new(AtomicBool::new(false));
        let (fatal_tx, fatal) = tokio::sync::oneshot::channel();
        // The common case migrates here; an unreachable database is retried in the background,
        // with readiness at 503, until `database.connect_timeout` runs out.
        match store.migrate().await {
            Ok(()) => schema.store(true, Ordering::Release),
            Err(e) => {
                tracing::warn!(error = %e, "database not ready; retrying");
                tokio::spawn(migrate_with_backoff(
                    store.clone(),
                    schema.clone(),
                    settings.database.connect_timeout,
                    fatal_tx,
                ));
            }
        }
        let http = crate::http::client()?;
        let settings = Arc::new(settings);
        let wake = Arc::new(Notify::new());
        let heartbeat = Arc::new(Heartbeat::default());
        let (shutdown, shutdown_rx) = watch::channel(false);
        tokio::spawn(crate::retention::run(
            store.clone(),
            settings.retention.clone(),
            settings.hrflow.dedupe_window,
            schema.clone(),
            shutdown_rx.clone(),
        ));
        let attempts = Arc::new(attempts(
            &settings,
            scripts,
            &store,
            &http,
            alert_sink(&settings, &http),
        ));
        let alerts = attempts.alerts.clone();
        let syncer = tokio::spawn(
            crate::sync::Syncer {
                settings: settings.clone(),
                store: store.clone(),
                alerts: attempts.alerts.clone(),
                owner: attempts.owner.clone(),
            }
            .run(schema.clone(), shutdown_rx.clone()),
        );
        let worker = Arc::new(Worker {
            attempts,
            wake: wake.clone(),
            heartbeat: heartbeat.clone(),
            schema: schema.clone(),
        });
        let gauges = crate::api::gauges::Gauges::default();
        gauges.start(store.clone(), schema.clone(), shutdown_rx.clone());
        let stepped = (!run_loop).then(|| worker.clone());
        // A stop waits for the syncer too: it gives back a pass in progress, due at once,
        // which a process that exits first would leave held for the lease's length.
        let worker = tokio::spawn(async move {
            if run_loop {
                worker.run(shutdown_rx).await;
            }
            let _ = syncer.await;
        });

        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .with_context(|| {
                format!(
                    "cannot listen on {}:{}",
                    settings.server.host, settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        let careers_path = settings.careers.path.clone();
        let grace = settings.server.shutdown_grace;
        let intake = crate::store::group_commit::GroupCommit::start(
            store.clone(),
            settings.hrflow.dedupe_window.as_millis() as i64,
        );
        let state = web::Data::new(AppState {
            alerts,
            gauges,
            logins: Default::default(),
            schema,
            store: store.clone(),
            intake,
            settings: settings.clone(),
            wake,
            heartbeat,
        });
        // actix counts connections per worker thread, so the configured total is shared out.
        let workers = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let connections = connections_per_worker(settings.server.max_connections, workers);
        let server = HttpServer::new(move || {
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
                .service(
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
                )
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
        .run();
        let handle = server.handle();
        tracing::info!(
            port,
            routes = settings.routes.len(),
            "hrflow-relay listening"
        );
        Ok(Self {
            port,
            fatal,
            server,
            handle,
            shutdown,
            worker,
            stepped,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            server,
            handle,
            shutdown,
            worker,
            fatal,
            ..
        } = self;
        let server = tokio::spawn(server);
        let failed = tokio::select! {
            _ = wait_for_signal() => None,
            Ok(e) = fatal => Some(e),
        };
        tracing::info!("shutting down: no new events or claims; finishing jobs in flight");
        let _ = shutdown.send(true);
        handle.stop(true).await;
        let _ = server.await;
        let _ = worker.await;
        failed.map_or(Ok(()), Err)
    }

    /// Runs the server in the background; for tests.
    pub fn spawn(self) -> RunningApp {
        let Self {
            port,
            server,
            handle,
            shutdown,
            worker,
            stepped,
            store,
            ..
        } = self;
        tokio::spawn(server);
        RunningApp {
            port,
            handle,
            shutdown,
            worker,
            stepped,
            store,
        }
    }
}

pub struct RunningApp {
    pub port: u16,
    handle: ServerHandle,
    shutdown: watch::Sender<bool>,
    worker: JoinHandle<()>,
    /// The worker when no loop runs it (`Application::build_stepped`): the caller runs its
    /// due jobs with `run_due`.
    pub stepped: Option<Arc<Worker>>,
    pub store: Store,
}

impl RunningApp {
    /// The graceful path SIGTERM takes.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        self.handle.stop(true).await;
        let _ = self.worker.await;
    }
}

async fn migrate_with_backoff(
    store: Store,
    schema: Arc<AtomicBool>,
    limit: std::time::Duration,
    fatal: tokio::sync::oneshot::Sender<anyhow::Error>,
) {
    let deadline = std::time::Instant::now() + limit;
    let mut delay = std::time::Duration::from_millis(200);
    loop {
        tokio::time::sleep(delay).await;
        match store.migrate().await {
            Ok(()) => {
                schema.store(true, Ordering::Release);
                tracing::info!("database ready");
                return;
            }
            Err(e) if std::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "database not ready; retrying");
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(error = %e, "database still unreachable: giving up");
                let _ = fatal.send(anyhow::anyhow!(
                    "the database was not reachable within {limit:?}: {e}"
                ));
                return;
            }
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Each worker's share of `total` connections, rounded up so that no worker gets none.
fn connections_per_worker(total: usize, workers: usize) -> usize {
    total.div_ceil(workers.max(1)).max(1)
}
