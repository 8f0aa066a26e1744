//! `hrflow-relay backfill`: brings the profiles already in HrFlow sources to the routes, as if
//! an event had arrived for each. Lists each source page by page (oldest first, paced), queues
//! one job per (route, profile) that has none, and leaves delivery to the service's workers.
//! Safe to run twice, to interrupt and run again, and beside a running service.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Settings;
use crate::hrflow::client::{HrflowClient, ListQuery};
use crate::job::Status;
use crate::store::Store;

/// Jobs queued between two refreshes of the database's statistics.
const ANALYZE_EVERY: usize = 1000;

/// What the user asked for (the command's flags).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// An HrFlow source key; repeat for several sources.
    #[arg(long = "source", required = true)]
    pub sources: Vec<String>,
    /// Only these routes (repeatable); default: every route whose `sources` is empty or holds
    /// the source.
    #[arg(long = "route")]
    pub routes: Vec<String>,
    /// Only profiles created on or after this date (YYYY-MM-DD).
    #[arg(long)]
    pub created_after: Option<String>,
    /// Only profiles created on or before this date (YYYY-MM-DD).
    #[arg(long)]
    pub created_before: Option<String>,
    /// List and count without queuing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait until the queued jobs end (the running service delivers them), then report.
    #[arg(long)]
    pub wait: bool,
}

/// The one JSON line the command ends with.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Profiles listed.
    pub listed: u64,
    /// Jobs queued (on a dry run: that would be queued).
    pub queued: u64,
    /// (route, profile) pairs that already had a job.
    pub skipped: u64,
    pub routes: Vec<String>,
    pub pages: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// With `--wait`: how the queued jobs ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filtered: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead: Option<u64>,
    /// Set when the command stopped before the end; what was queued stays queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("{0}")]
    Usage(String),
    #[error("listing source {source_key} page {page} failed {tries} time(s); last: {reason}")]
    Listing {
        source_key: String,
        page: u64,
        tries: u32,
        reason: String,
    },
    #[error("the database: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// How progress is shown: a bar per phase on a terminal, a line every few seconds otherwise,
/// or nothing (tests).
pub enum Progress {
    Bar(std::sync::Mutex<Option<(String, indicatif::ProgressBar)>>),
    Lines(std::sync::Mutex<Instant>),
    Quiet,
}

impl Progress {
    /// Bars when standard error is a terminal, else plain lines.
    pub fn for_stderr() -> Self {
        if std::io::stderr().is_terminal() {
            Self::Bar(std::sync::Mutex::new(None))
        } else {
            Self::Lines(std::sync::Mutex::new(Instant::now()))
        }
    }

    pub(crate) fn update(&self, what: &str, done: u64, total: u64, started: Instant, force: bool) {
        match self {
            Progress::Bar(current) => {
                let mut current = current.lock().unwrap_or_else(|e| e.into_inner());
                if current.as_ref().is_none_or(|(name, _)| name != what) {
                    if let Some((_, old)) = current.take() {
                        old.finish();
                    }
                    let bar = indicatif::ProgressBar::new(total);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{msg} [{bar:30}] {pos}/{len} ({rate}, {eta} left)",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .with_key(
                            "rate",
                            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                                let _ = write!(w, "{:.0}/s", state.per_sec());
                            },
                        )
                        .progress_chars("=> "),
                    );
                    bar.set_message(what.to_string());
                    *current = Some((what.to_string(), bar));
                }
                if let Some((_, bar)) = current.as_ref() {
                    bar.set_length(total.max(done));
                    bar.set_position(done);
                }
            }
            Progress::Lines(last) => {
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                if force || last.elapsed() >= Duration::from_secs(2) {
                    *last = Instant::now();
                    let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
                    eprintln!("{what}: {done}/{total} ({rate:.0}/s)");
                }
            }
            Progress::Quiet => {}
        }
    }

    pub(crate) fn finish(&self) {
        if let Progress::Bar(current) = self
            && let Some((_, bar)) = current.lock().unwrap_or_else(|e| e.into_inner()).take()
        {
            bar.finish();
        }
    }
}

/// Which routes take a source's profiles: the named ones, else those listening to it.
fn routes_for(settings: &Settings, options: &Options, source: &str) -> Vec<String> {
    settings
        .routes
        .iter()
        .filter(|r| {
            if options.routes.is_empty() {
                crate::routes::listens_to(r, source)
            } else {
                options.routes.contains(&r.name)
            }
        })
        .map(|r| r.name.clone())
        .collect()
}

fn check(settings: &Settings, options: &Options) -> Result<(), BackfillError> {
    if options.sources.iter().all(|s| s.trim().is_empty()) {
        return Err(BackfillError::Usage(
            "name at least one source: --source KEY".into(),
        ));
    }
    for name in &options.routes {
        if settings.route(name).is_none() {
            return Err(BackfillError::Usage(format!(
                "no route named {name:?} is configured"
            )));
        }
    }
    for (flag, date) in [
        ("--created-after", &options.created_after),
        ("--created-before", &options.created_before),
    ] {
        if let Some(d) = date
            && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
        {
            return Err(BackfillError::Usage(format!(
                "{flag} {d:?} is not a date like 2026-01-31"
            )));
        }
    }
    if options
        .sources
        .iter()
        .all(|s| routes_for(settings, options, s).is_empty())
    {
        return Err(BackfillError::Usage(
            "no configured route takes these sources: nothing would be queued".into(),
        ));
    }
    Ok(())
}

/// Lists pages the way `[backfill]` says: paced, a failed page tried again with a doubling
/// delay (or the `Retry-After`), then given up. Shared by the backfill and sync.
pub(crate) struct Lister<'a> {
    pub client: &'a HrflowClient,
    pub settings: &'a Settings,
    /// A 401 or 403 ends at once (sync alerts it as a refused key; trying again cannot help).
    pub refusals_final: bool,
}

impl Lister<'_> {
    /// One page, or how many tries it took and the last failure.
    pub async fn page(
        &self,
        pace: &mut tokio::time::Interval,
        query: &ListQuery<'_>,
    ) -> Result<crate::hrflow::client::ListPage, (u32, crate::job::Failure)> {
        let mut tries = 0;
        loop {
            pace.tick().await;
            tries += 1;
            match self
                .client
                .list_profiles(query, self.settings.worker.request_timeout)
                .await
            {
                Ok(listing) => return Ok(listing),
                Err(f) if self.refusals_final && matches!(f.http_status(), Some(401 | 403)) => {
                    return Err((tries, f));
                }
                Err(f) if tries <= self.settings.backfill.retries => {
                    let delay = self.settings.backfill.retry_delay * 2u32.saturating_pow(tries - 1);
                    let delay = delay.max(f.retry_after().unwrap_or_default());
                    tracing::warn!(
                        source = query.source_key,
                        page = query.page,
                        retry_in_ms = delay.as_millis() as u64,
                        error = f.message(),
                        "a listing page failed; trying again"
                    );
                    if !self.refusals_final {
                        eprintln!(
                            "listing {} page {} failed ({}); trying again in {delay:?}",
                            query.source_key,
                            query.page,
                            f.message()
                        );
                    }
                    tokio::time::sleep(delay).await;
                }
                Err(f) => return Err((tries, f)),
            }
        }
    }
}

/// A pace of `[backfill].requests_per_second` listing requests.
pub(crate) fn listing_pace(settings: &Settings) -> tokio::time::Interval {
    let mut pace = tokio::time::interval(Duration::from_secs_f64(
        1.0 / settings.backfill.requests_per_second,
    ));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    pace
}

/// Runs a backfill on settings not checked yet.
pub async fn run(
    settings: &Settings,
    store: &Store,
    options: &Options,
    progress: &Progress,
) -> Result<Report, (Report, BackfillError)> {
    match settings.check() {
        Ok(()) => run_with(settings, store, options, progress).await,
        Err(problems) => Err((Report::default(), BackfillError::Usage(problems.join("; ")))),
    }
}

/// Runs a backfill. On an error the report says what was done before it; that stays queued.
pub async fn run_with(
    settings: &Settings,
    store: &Store,
    options: &Options,
    progress: &Progress,
) -> Result<Report, (Report, BackfillError)> {
    let mut report = Report {
        dry_run: options.dry_run,
        ..Report::default()
    };
    if let Err(e) = check(settings, options) {
        return Err((report, e));
    }
    let http = match crate::http::client() {
        Ok(h) => h,
        Err(e) => return Err((report, BackfillError::Usage(format!("{e:#}")))),
    };
    let client = HrflowClient::new(
        http,
        &settings.hrflow.api_url,
        settings.hrflow.api_key.clone(),
        settings.hrflow.user_email.clone(),
    );
    // Paced: one listing request per tick, whatever the sources.
    let mut pace = listing_pace(settings);
    let mut job_ids = Vec::new();
    // The first page counts as a jump: statistics from an empty queue are the worst kind.
    let mut queued_since_analyze = ANALYZE_EVERY;
    let mut all_routes: Vec<String> = Vec::new();

    for source in options.sources.iter().filter(|s| !s.trim().is_empty()) {
        let routes = routes_for(settings, options, source);
        if routes.is_empty() {
            eprintln!("no configured route takes source {source}: skipped");
            continue;
        }
        for r in &routes {
            if !all_routes.contains(r) {
                all_routes.push(r.clone());
            }
        }
        let started = Instant::now();
        let mut page = 1;
        let mut source_listed = 0;
        loop {
            let query = ListQuery {
                source_key: source,
                page,
                limit: settings.backfill.page_size,
                created_after: options.created_after.as_deref(),
                created_before: options.created_before.as_deref(),
            };
            let lister = Lister {
                client: &client,
                settings,
                refusals_final: false,
            };
            let listing = match lister.page(&mut pace, &query).await {
                Ok(listing) => listing,
                Err((tries, f)) => {
                    progress.finish();
                    report.routes = all_routes;
                    let e = BackfillError::Listing {
                        source_key: source.clone(),
                        page,
                        tries,
                        reason: f.message().to_string(),
                    };
                    report.error = Some(e.to_string());
                    return Err((report, e));
                }
            };
            report.pages += 1;
            report.listed += listing.keys.len() as u64;
            source_listed += listing.keys.len() as u64;
            match store
                .queue_backfill(source, &listing.keys, &routes, options.dry_run)
                .await
            {
                Ok(q) => {
                    report.queued += q.queued as u64;
                    report.skipped += q.skipped as u64;
                    job_ids.extend(q.job_ids);
                    // The queue grew by thousands at once: tell the planner (see the store).
                    if q.queued > 0
                        && queued_since_analyze.saturating_add(q.queued) >= ANALYZE_EVERY
                    {
                        queued_since_analyze = 0;
                        store.refresh_job_statistics().await.ok();
                    } else {
                        queued_since_analyze += q.queued;
                    }
                }
                Err(e) => {
                    progress.finish();
                    report.routes = all_routes;
                    report.error = Some(e.to_string());
                    return Err((report, e.into()));
                }
            }
            let last = listing.keys.is_empty() || page >= listing.max_page;
            progress.update(
                &format!("listing {source}"),
                source_listed,
                listing.total,
                started,
                last,
            );
            if last {
                break;
            }
            page += 1;
        }
    }
    progress.finish();
    report.routes = all_routes;
    if options.wait && !options.dry_run {
        match wait(store, &job_ids, progress).await {
            Ok(counts) => {
                let get = |s: Status| Some(counts.get(&s).copied().unwrap_or(0));
                report.delivered = get(Status::Delivered);
                report.filtered = get(Status::Filtered);
                report.dead = get(Status::Dead);
            }
            Err(e) => {
                report.error = Some(e.to_string());
                return Err((report, e.into()));
            }
        }
    }
    Ok(report)
}

/// Follows the queued jobs until none is pending. The running service delivers them.
async fn wait(
    store: &Store,
    job_ids: &[i64],
    progress: &Progress,
) -> Result<HashMap<Status, u64>, crate::store::StoreError> {
    let started = Instant::now();
    let total = job_ids.len() as u64;
    loop {
        let counts = store.job_outcomes(job_ids).await?;
        let pending = counts.get(&Status::Pending).copied().unwrap_or(0);
        progress.update(
            "delivering (by the running service)",
            total - pending.min(total),
            total,
            started,
            pending == 0,
        );
        if pending == 0 {
            progress.finish();
            return Ok(counts);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
