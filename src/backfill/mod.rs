//! `hrflow-relay backfill`: brings the profiles already in HrFlow sources to the routes, as if
//! an event had arrived for each. Lists each source page by page (oldest first, paced), queues
//! one job per (route, profile) that has none, and leaves delivery to the service's workers.
//! Safe to run twice, to interrupt and run again, and beside a running service.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Settings;
use crate::hrflow::client::{HrflowClient, ListQuery};
use crate::job::Status;
use crate::store::{Store, StoreError};

mod lister;
mod progress;

pub(crate) use lister::{Lister, listing_pace};
pub use progress::Progress;

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
    /// The routes that took the sources' profiles, in the order first met.
    pub routes: Vec<String>,
    /// Listing pages read, every source together.
    pub pages: u64,
    /// Nothing was queued: shown only when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// With `--wait`: how the queued jobs ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered: Option<u64>,
    /// With `--wait`: queued jobs a route's logics filtered out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filtered: Option<u64>,
    /// With `--wait`: queued jobs that ended dead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead: Option<u64>,
    /// Set when the command stopped before the end; what was queued stays queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The command was asked something it cannot do; nothing was listed.
    #[error("{0}")]
    Usage(String),
    /// A page failed past `[backfill].retries`; the pages before it stay queued.
    #[error("listing source {source_key} page {page} failed {tries} time(s); last: {reason}")]
    Listing {
        source_key: String,
        page: u64,
        tries: u32,
        reason: String,
    },
    #[error("the database: {0}")]
    Store(#[from] StoreError),
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

/// Refuses flags that cannot make a backfill, before anything is listed.
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
    let client = match crate::http::client() {
        Ok(http) => HrflowClient::new(
            http,
            &settings.hrflow.api_url,
            settings.hrflow.api_key.clone(),
            settings.hrflow.user_email.clone(),
        ),
        Err(e) => return Err((report, BackfillError::Usage(format!("{e:#}")))),
    };
    let mut run = Run {
        settings,
        store,
        options,
        progress,
        client,
        pace: listing_pace(settings),
        job_ids: Vec::new(),
        // The first page counts as a jump: statistics from an empty queue are the worst kind.
        queued_since_analyze: ANALYZE_EVERY,
    };
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
        if let Err(e) = run.source(source, &routes, &mut report).await {
            progress.finish();
            report.routes = all_routes;
            return Err((report, e));
        }
    }
    progress.finish();
    report.routes = all_routes;
    if options.wait
        && !options.dry_run
        && let Err(e) = outcomes(store, &run.job_ids, progress, &mut report).await
    {
        report.error = Some(e.to_string());
        return Err((report, e.into()));
    }
    Ok(report)
}

/// What a backfill carries from page to page and from source to source.
struct Run<'a> {
    /// The routes and `[backfill]`'s pace.
    settings: &'a Settings,
    /// Where jobs are queued.
    store: &'a Store,
    /// What the command was asked.
    options: &'a Options,
    /// Where progress is shown (a bar on a terminal).
    progress: &'a Progress,
    /// HrFlow, for the listings.
    client: HrflowClient,
    /// Paced: one listing request per tick, whatever the sources.
    pace: tokio::time::Interval,
    /// Every job queued, for `--wait` to follow.
    job_ids: Vec<i64>,
    /// Jobs queued since the database's statistics were last refreshed.
    queued_since_analyze: usize,
}

impl Run<'_> {
    /// Lists `source` page by page and queues each page on `routes`. On an error the report
    /// says why (`error`) and what was done before it.
    async fn source(
        &mut self,
        source: &str,
        routes: &[String],
        report: &mut Report,
    ) -> Result<(), BackfillError> {
        let started = Instant::now();
        let mut page = 1;
        let mut source_listed = 0;
        loop {
            let query = ListQuery {
                source_key: source,
                page,
                limit: self.settings.backfill.page_size,
                created_after: self.options.created_after.as_deref(),
                created_before: self.options.created_before.as_deref(),
            };
            let lister = Lister {
                client: &self.client,
                settings: self.settings,
                refusals_final: false,
            };
            let listing = match lister.page(&mut self.pace, &query).await {
                Ok(listing) => listing,
                Err((tries, f)) => {
                    let e = BackfillError::Listing {
                        source_key: source.to_string(),
                        page,
                        tries,
                        reason: f.message().to_string(),
                    };
                    report.error = Some(e.to_string());
                    return Err(e);
                }
            };
            report.pages += 1;
            report.listed += listing.keys.len() as u64;
            source_listed += listing.keys.len() as u64;
            if let Err(e) = self.queue(source, &listing.keys, routes, report).await {
                report.error = Some(e.to_string());
                return Err(e.into());
            }
            let last = listing.keys.is_empty() || page >= listing.max_page;
            let what = format!("listing {source}");
            self.progress
                .update(&what, source_listed, listing.total, started, last);
            if last {
                return Ok(());
            }
            page += 1;
        }
    }

    /// Queues one page's profiles on `routes` (or counts them, on a dry run).
    async fn queue(
        &mut self,
        source: &str,
        keys: &[String],
        routes: &[String],
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let q = self
            .store
            .queue_backfill(source, keys, routes, self.options.dry_run)
            .await?;
        report.queued += q.queued as u64;
        report.skipped += q.skipped as u64;
        self.job_ids.extend(q.job_ids);
        // The queue grew by thousands at once: tell the planner (see the store).
        if q.queued > 0 && self.queued_since_analyze.saturating_add(q.queued) >= ANALYZE_EVERY {
            self.queued_since_analyze = 0;
            self.store.refresh_job_statistics().await.ok();
        } else {
            self.queued_since_analyze += q.queued;
        }
        Ok(())
    }
}

/// With `--wait`: how the queued jobs ended, once none is pending.
async fn outcomes(
    store: &Store,
    job_ids: &[i64],
    progress: &Progress,
    report: &mut Report,
) -> Result<(), StoreError> {
    let counts = wait(store, job_ids, progress).await?;
    let get = |s: Status| Some(counts.get(&s).copied().unwrap_or(0));
    report.delivered = get(Status::Delivered);
    report.filtered = get(Status::Filtered);
    report.dead = get(Status::Dead);
    Ok(())
}

/// Follows the queued jobs until none is pending. The running service delivers them.
async fn wait(
    store: &Store,
    job_ids: &[i64],
    progress: &Progress,
) -> Result<HashMap<Status, u64>, StoreError> {
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
