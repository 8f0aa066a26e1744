//! Builds the HTTP server and the worker from validated settings; returns a handle with the
//! bound port (port 0 picks a free one, as tests do).

mod database;
mod server;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::api::AppState;
use crate::config::Settings;
use crate::hrflow::client::HrflowClient;
use crate::logic::Scripts;
use crate::store::Store;
use crate::worker::attempt::Attempts;
use crate::worker::{Heartbeat, Worker};

pub struct Application {
    /// The port bound (port 0 picks one).
    port: u16,
    /// Told when the database stays unreachable: the service stops.
    fatal: tokio::sync::oneshot::Receiver<anyhow::Error>,
    /// The HTTP server, not yet running.
    server: Server,
    /// Stops the server gracefully.
    handle: ServerHandle,
    /// Tells the worker, sync and retention to stop.
    shutdown: watch::Sender<bool>,
    /// The worker (and sync): a stop waits for it.
    worker: JoinHandle<()>,
    /// The worker when no loop runs it (`build_stepped`): the caller runs its due jobs.
    stepped: Option<Arc<Worker>>,
    /// The store, for tests reading it.
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
        warn_about_open_doors(&settings);
        crate::telemetry::metrics();
        crate::telemetry::start_upkeep();
        let database::Opened {
            store,
            schema,
            fatal,
        } = database::open(&settings).await?;
        let http = crate::http::client()?;
        let settings = Arc::new(settings);
        // Bound before the worker, sync and retention start: a taken port starts none of them.
        let (listener, port) = server::listen(&settings)?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let background = Background {
            settings: &settings,
            store: &store,
            schema: &schema,
            shutdown: &shutdown_rx,
        };
        background.retention();
        let worker = Arc::new(background.worker(scripts, &http));
        let alerts = worker.attempts.alerts.clone();
        let gauges = crate::api::gauges::Gauges::default();
        gauges.start(store.clone(), schema.clone(), shutdown_rx.clone());
        let intake = crate::store::group_commit::GroupCommit::start(
            store.clone(),
            settings.hrflow.dedupe_window.as_millis() as i64,
        );
        let state = web::Data::new(AppState {
            alerts,
            gauges,
            logins: Default::default(),
            schema: schema.clone(),
            store: store.clone(),
            intake,
            settings: settings.clone(),
            wake: worker.wake.clone(),
            heartbeat: worker.heartbeat.clone(),
        });
        let server = server::serve(listener, &settings, state)?;
        let handle = server.handle();
        let stepped = (!run_loop).then(|| worker.clone());
        let worker = background.run(worker, run_loop);
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
    /// The port bound.
    pub port: u16,
    /// Stops the server gracefully.
    handle: ServerHandle,
    /// Tells the worker, sync and retention to stop.
    shutdown: watch::Sender<bool>,
    /// The worker (and sync): a stop waits for it.
    worker: JoinHandle<()>,
    /// The worker when no loop runs it (`Application::build_stepped`): the caller runs its
    /// due jobs with `run_due`.
    pub stepped: Option<Arc<Worker>>,
    /// The store, for tests reading it.
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

/// Says at start what lets in more than meant, or refuses everything, though allowed.
fn warn_about_open_doors(settings: &Settings) {
    if !crate::careers::auth::configured(&settings.careers.tokens, &settings.careers.basic_users) {
        tracing::warn!(path = %settings.careers.path, "the careers API has no credentials configured ([careers].tokens, basic_users): every request to it is refused");
    }
    if settings.hrflow.signature == crate::hrflow::signature::SignatureMode::None {
        tracing::warn!(
            "hrflow.signature = \"none\": event signatures are NOT checked; only something in front of the relay authenticates HrFlow"
        );
    } else if settings.hrflow.webhook_secret.is_empty() {
        tracing::warn!(
            "hrflow.webhook_secret is empty: event signatures are NOT checked (no route is configured, so every event is ignored)"
        );
    }
}

/// What runs beside the server until shutdown: retention, sync and the worker.
struct Background<'a> {
    /// What each reads of the configuration.
    settings: &'a Arc<Settings>,
    /// Where each works.
    store: &'a Store,
    /// True once migrated: none of them touches the database before.
    schema: &'a Arc<AtomicBool>,
    /// Turns true when the service stops.
    shutdown: &'a watch::Receiver<bool>,
}

impl Background<'_> {
    /// `[retention]`'s purges, every interval.
    fn retention(&self) {
        tokio::spawn(crate::retention::run(
            self.store.clone(),
            self.settings.retention.clone(),
            self.settings.hrflow.dedupe_window,
            self.schema.clone(),
            self.shutdown.clone(),
        ));
    }

    /// The worker, with what its attempts need.
    fn worker(&self, scripts: Scripts, http: &reqwest::Client) -> Worker {
        let alerts = alert_sink(self.settings, http);
        let attempts = attempts(self.settings, scripts, self.store, http, alerts);
        Worker {
            attempts: Arc::new(attempts),
            wake: Arc::new(Notify::new()),
            heartbeat: Arc::new(Heartbeat::default()),
            schema: self.schema.clone(),
        }
    }

    /// Starts sync, and the worker's loop unless the caller steps it: one task a stop waits
    /// for. A stop waits for the syncer too: it gives back a pass in progress, due at once,
    /// which a process that exits first would leave held for the lease's length.
    fn run(&self, worker: Arc<Worker>, run_loop: bool) -> JoinHandle<()> {
        let syncer = tokio::spawn(
            crate::sync::Syncer {
                settings: self.settings.clone(),
                store: self.store.clone(),
                alerts: worker.attempts.alerts.clone(),
                owner: worker.attempts.owner.clone(),
            }
            .run(self.schema.clone(), self.shutdown.clone()),
        );
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            if run_loop {
                worker.run(shutdown).await;
            }
            let _ = syncer.await;
        })
    }
}
