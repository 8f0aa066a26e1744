//! `hrflow-relay jobs`: list, show, retry and cancel jobs, on the configured database directly
//! (the service may run or not). On a terminal, tables; piped or with `--json`, JSON (lines for
//! lists, one object for `show`).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use super::open;
use crate::config::Settings;
use crate::job::Status;
use crate::store::Store;
use crate::store::control::JobFilter;

#[derive(Subcommand, Debug)]
pub enum Action {
    /// Jobs, newest first (the default): a table on a terminal, JSON lines otherwise.
    List(ListArgs),
    /// One job and every attempt, earlier runs included.
    Show {
        /// The job's id.
        id: i64,
        /// One JSON object (the job, with its attempts), even on a terminal.
        #[arg(long)]
        json: bool,
    },
    /// Make jobs that ended dead, filtered or cancelled pending and due now, with a fresh retry schedule;
    /// by id, or every job matching the filter. A profile already pushed on its route is only
    /// enriched. Prints {"retried": N}.
    Retry(RetryArgs),
    /// End pending jobs `cancelled` (retryable later, never counted dead). Prints
    /// {"cancelled": N}.
    Cancel {
        /// The jobs' ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
}

#[derive(Args, Debug, Default)]
pub struct ListArgs {
    /// pending | delivered | filtered | dead | cancelled
    #[arg(long)]
    status: Option<Status>,
    /// A route's name.
    #[arg(long)]
    route: Option<String>,
    /// An HrFlow profile key.
    #[arg(long)]
    profile: Option<String>,
    /// The jobs of the candidates a search finds: a profile key, a job id, an event id or an
    /// email (exact, any case).
    #[arg(long)]
    q: Option<String>,
    /// At most this many jobs.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// JSON lines, even on a terminal.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct RetryArgs {
    /// Job ids; without them, --status selects the jobs.
    ids: Vec<i64>,
    /// dead | filtered | cancelled (required without ids)
    #[arg(long, required_unless_present = "ids", conflicts_with = "ids")]
    status: Option<String>,
    /// Only this route's jobs.
    #[arg(long, requires = "status")]
    route: Option<String>,
    /// Jobs that ended at or after this time: RFC 3339 (2026-11-25T08:00:00Z) or a duration
    /// ago (2h).
    #[arg(long, requires = "status")]
    since: Option<String>,
    /// Jobs whose reason contains this text (any case), e.g. "401".
    #[arg(long, requires = "status")]
    reason: Option<String>,
}

pub async fn run(settings: &Settings, action: Action) -> ExitCode {
    open::with_store(settings, |store| async move {
        match action {
            Action::List(args) => list(&store, args).await,
            Action::Show { id, json } => show(&store, id, json).await,
            Action::Retry(args) => retry(&store, args).await,
            Action::Cancel { ids } => {
                let cancelled = store.cancel_ids(&ids).await.map_err(db)?;
                crate::out!("{}", json!({"cancelled": cancelled}));
                Ok(())
            }
        }
    })
    .await
}

fn db(e: crate::store::StoreError) -> String {
    e.to_string()
}

async fn list(store: &Store, args: ListArgs) -> Result<(), String> {
    let profiles = match &args.q {
        Some(q) => Some(store.search(q).await.map_err(db)?),
        None => None,
    };
    let filter = JobFilter {
        status: args.status,
        route: args.route,
        profile: args.profile,
        profiles,
        ..JobFilter::default()
    };
    let jobs = store
        .list_jobs(&filter, args.limit.clamp(1, 10_000), 0)
        .await
        .map_err(db)?;
    if crate::table::json_wanted(args.json) {
        for job in jobs {
            crate::out!("{}", json!(job));
        }
    } else {
        jobs_table(&jobs);
    }
    Ok(())
}

async fn show(store: &Store, id: i64, json: bool) -> Result<(), String> {
    let job = store
        .job(id)
        .await
        .map_err(db)?
        .ok_or(format!("no job {id}"))?;
    let attempts = store.attempts(id).await.map_err(db)?;
    if crate::table::json_wanted(json) {
        crate::out!("{}", json!({"job": job, "attempts": attempts}));
    } else {
        show_job(&job, &attempts);
    }
    Ok(())
}

async fn retry(store: &Store, args: RetryArgs) -> Result<(), String> {
    let retried = if args.ids.is_empty() {
        let filter =
            JobFilter::for_retry(args.status, args.route, args.since.as_deref(), args.reason)
                .map_err(|(field, e)| format!("--{field} {e}"))?;
        store.retry_matching(&filter).await.map_err(db)?
    } else {
        store.retry_ids(&args.ids).await.map_err(db)?
    };
    crate::out!("{}", json!({"retried": retried}));
    Ok(())
}

fn jobs_table(jobs: &[crate::store::JobView]) {
    use crate::table::{Table, when};
    let mut t = Table::new(&[
        "ID", "STATUS", "ROUTE", "PROFILE", "ATTEMPTS", "NEXT", "UPDATED", "REASON",
    ]);
    for j in jobs {
        let status = if j.paused {
            "pending (paused)".to_string()
        } else {
            j.status.as_str().to_string()
        };
        t.row(vec![
            j.id.to_string(),
            status,
            j.route.clone(),
            j.profile_key.clone(),
            j.attempts.to_string(),
            when(j.next_attempt_at),
            when(Some(j.updated_at)),
            j.reason.clone().unwrap_or_default(),
        ]);
    }
    t.print();
}

fn show_job(job: &crate::store::JobView, attempts: &[crate::store::AttemptView]) {
    use crate::table::{Table, when};
    let mut t = Table::new(&["FIELD", "VALUE"]);
    for (k, v) in [
        ("id", job.id.to_string()),
        ("status", job.status.as_str().to_string()),
        ("paused", job.paused.to_string()),
        ("route", job.route.clone()),
        ("profile", job.profile_key.clone()),
        ("source", job.source_key.clone()),
        ("event", job.event_id.clone()),
        ("step", job.step.as_str().to_string()),
        ("run", job.run.to_string()),
        ("attempts", job.attempts.to_string()),
        ("next attempt", when(job.next_attempt_at)),
        ("created", when(Some(job.created_at))),
        ("updated", when(Some(job.updated_at))),
    ] {
        t.row(vec![k.to_string(), v]);
    }
    t.print();
    // The reason whole: it is what a person reads this page for.
    if let Some(r) = &job.reason {
        crate::out!("reason   {r}");
    }
    crate::out!("");
    let mut a = Table::new(&["RUN", "STARTED", "STEP", "HTTP", "OUTCOME", "MS", "ERROR"]);
    for at in attempts {
        a.row(vec![
            at.run.to_string(),
            when(Some(at.started_at)),
            at.step.as_str().to_string(),
            at.http_status.map(|s| s.to_string()).unwrap_or_default(),
            at.outcome.to_string(),
            at.duration_ms.to_string(),
            at.error.clone().unwrap_or_default(),
        ]);
    }
    a.print();
}
