//! Logs (JSON through tracing) and metrics (Prometheus).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// JSON logs to stdout; `RUST_LOG` filters (default `info`). Safe to call more than once.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .try_init();
}

/// The span of each HTTP request: method, route and request id, nothing recorded after it is
/// made. The default builder's dozen fields, and the status recorded at the end, made the JSON
/// log layer format the span twice per request for lines that never show them (a log line
/// carries its innermost span only; span closings are not logged).
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .copied();
        tracing::info_span!(
            "request",
            method = %request.method(),
            route = request.match_pattern().as_deref().unwrap_or("unmatched"),
            request_id = id.map(tracing::field::display),
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        _span: tracing::Span,
        _outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
    }
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide recorder, installed on first use.
pub fn metrics() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let buckets = [
                0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
            ];
            // A claim is one indexed statement: sub-millisecond unless the queue's index stops
            // being used, which is what this histogram is for.
            let claim = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];
            // A FULL commit is one fsync on a quiet disk (0.2-0.5 ms); finer where an
            // acknowledgement's budget (10 ms) is spent.
            let commit = [
                0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.5,
            ];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full("relay_delivery_seconds".into()), &buckets)
                .ok()?
                .set_buckets_for_metric(Matcher::Full("relay_claim_seconds".into()), &claim)
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full("relay_sqlite_commit_seconds".into()),
                    &commit,
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// Keeps the recorder's memory flat: histogram samples are held until they are drained into
/// their buckets, which `render` does, so without a scrape they would pile up. Once per process,
/// every 5 s, on a thread of its own (tests start many runtimes in one process).
pub fn start_upkeep() {
    static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let Some(handle) = metrics() else {
        return;
    };
    if STARTED.swap(true, std::sync::atomic::Ordering::AcqRel) {
        return;
    }
    let handle = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                handle.run_upkeep();
            }
        })
        .ok();
}

pub fn event(outcome: &'static str) {
    metrics::counter!("relay_events_total", "outcome" => outcome).increment(1);
}

pub fn job(outcome: &'static str, route: &str) {
    metrics::counter!("relay_jobs_total", "outcome" => outcome, "route" => route.to_string())
        .increment(1);
}

/// Seconds one claim of the next due job took (found or not).
pub fn claimed_in(seconds: f64) {
    metrics::histogram!("relay_claim_seconds").record(seconds);
}

/// Seconds one COMMIT of SQLite's writer took: the disk's answer to a durable write (`sync`
/// "full" waits for fsync), which every acknowledgement waits for at least once.
pub fn committed_in(sync: &'static str, seconds: f64) {
    metrics::histogram!("relay_sqlite_commit_seconds", "sync" => sync).record(seconds);
}

/// Seconds from the event's acceptance to its delivery.
pub fn delivered_after(seconds: f64) {
    metrics::histogram!("relay_delivery_seconds").record(seconds);
}

/// One call to an upstream; status 0 is a transport failure (timeout, connection).
pub fn upstream(upstream: &str, status: u16) {
    metrics::counter!("relay_upstream_requests_total", "upstream" => upstream.to_string(), "status" => status.to_string()).increment(1);
}

pub fn queue(pending: i64, oldest_age_seconds: f64) {
    metrics::gauge!("relay_jobs_pending").set(pending as f64);
    metrics::gauge!("relay_oldest_pending_job_age_seconds").set(oldest_age_seconds);
}
