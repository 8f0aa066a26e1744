//! One attempt at a job: fetch the profile (or take the checkpoint), let the route's
//! destination prepare and deliver it, decide the outcome (delivered, filtered, retry at T,
//! dead, or step aside), record it, and tell the alerts. Callable on its own: tests drive a
//! delivery with `Attempts::run` on a claimed job, without a loop to poll.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::Instrument;

use crate::config::{Route, Settings};
use crate::destination::{Delivery, Plan, Senders};
use crate::hrflow::client::HrflowClient;
use crate::job::{self, Failure, Outcome, Step};
use crate::logic::Scripts;
use crate::store::{AttemptRecord, ClaimedJob, Finish, Store, now_ms};

/// What an attempt needs.
pub struct Attempts {
    /// Where attempts are recorded and checkpoints kept.
    pub store: Store,
    /// The routes, the timeouts and the retry schedule.
    pub settings: Arc<Settings>,
    /// The routes' logics and formats.
    pub scripts: Scripts,
    /// Where profiles are fetched.
    pub hrflow: HrflowClient,
    /// A client per destination: Flatchr accounts, the webhook sender, the store.
    pub senders: Arc<Senders>,
    /// Identifies this process's leases.
    pub owner: String,
    /// Told about dead jobs and refused credentials.
    pub alerts: crate::alert::Alerts,
}

/// What an attempt reached, for the attempt record.
struct Progress {
    /// The furthest checkpoint reached.
    step: Step,
    /// The profile as fetched by this attempt (checkpointed if the job runs again).
    fetched: Option<Value>,
    /// The keyed hash of the fetched profile's email, kept with the job for the search.
    email_hash: Option<String>,
    /// What the destination noted (`Delivery::note`).
    note: Option<String>,
}

impl Attempts {
    /// Runs one attempt at `job` (leased by `owner`) and records it; answers how it ended.
    pub async fn run(&self, job: ClaimedJob) -> Finish {
        // Every field is given here: one recorded later costs the JSON log layer a second
        // formatting of the whole span.
        let destination = self.settings.route(&job.route).map(|r| &r.destination);
        let account = destination.and_then(|d| d.account());
        let span = tracing::info_span!("job", job_id = job.id, route = %job.route, profile_key = %job.profile_key, attempt = job.attempts, account = account.as_deref());
        async {
            let started_at = now_ms();
            let clock = Instant::now();
            let mut progress = Progress {
                step: job.step,
                fetched: None,
                email_hash: None,
                note: None,
            };
            let outcome = self.run_steps(&job, &mut progress).await;
            let (finish, failure) = self.decide(&job, outcome);
            let record = AttemptRecord {
                started_at,
                duration_ms: clock.elapsed().as_millis() as i64,
                step: progress.step,
                http_status: failure.as_ref().and_then(Failure::http_status),
                error: failure.as_ref().map(|f| f.message().to_string()),
                // Serialized only for a job that runs again: the only one that keeps it.
                profile: progress
                    .fetched
                    .take()
                    .filter(|_| matches!(finish, Finish::Retry { .. } | Finish::Defer { .. }))
                    .map(|p| p.to_string()),
                email_hash: progress.email_hash.take(),
                note: progress.note.take(),
                created: destination.is_some_and(|d| d.created_at(progress.step)),
            };
            match &finish {
                Finish::Delivered => {
                    crate::telemetry::delivered_after((now_ms() - job.created_at) as f64 / 1000.0);
                    tracing::info!(outcome = "delivered", "candidate delivered");
                }
                Finish::Filtered(r) => tracing::info!(outcome = "filtered", reason = %r, "profile filtered"),
                Finish::Dead(r) => tracing::warn!(outcome = "dead", reason = %r, "job dead"),
                Finish::Retry { at, reason } => tracing::warn!(outcome = "retry", retry_in_ms = at - now_ms(), reason = %reason, "attempt failed; will retry"),
                Finish::Defer { reason, .. } => tracing::info!(outcome = "deferred", reason = %reason, "waiting for another job"),
            }
            crate::telemetry::job(finish.ended().as_str(), &job.route);
            let named = destination.and_then(|d| d.named_account());
            self.tell(&job, named, &finish, failure.as_ref());
            match self.store.finish(&job, &self.owner, &finish, &record).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!("lease lost before the attempt was recorded; another worker owns the job"),
                // The lease expires and the job runs again; the push checkpoint prevents a second push.
                Err(e) => tracing::error!(error = %e, "could not record the attempt"),
            }
            finish
        }
        .instrument(span)
        .await
    }

    /// Alerts about a refused key (at once: every job after it fails the same way) and about a
    /// job gone dead.
    fn tell(
        &self,
        job: &ClaimedJob,
        account: Option<String>,
        finish: &Finish,
        failure: Option<&Failure>,
    ) {
        use crate::alert::Incident;
        if let Some(f) = failure
            && let Some(status @ (401 | 403)) = f.http_status()
        {
            self.alerts.report(Incident::Refused {
                route: job.route.clone(),
                account: account.clone(),
                status,
                reason: f.message().to_string(),
            });
        }
        if let Finish::Dead(reason) = finish {
            self.alerts.report(Incident::Dead {
                route: job.route.clone(),
                account,
                reason: reason.clone(),
            });
        }
    }

    fn decide(&self, job: &ClaimedJob, outcome: Outcome) -> (Finish, Option<Failure>) {
        match outcome {
            Outcome::Delivered => (Finish::Delivered, None),
            Outcome::Filtered(logic) => {
                (Finish::Filtered(format!("dropped by logic {logic}")), None)
            }
            // Not the attempt's fault: it steps aside (uncounted) until what it waits for is
            // free, at the soonest after a poll interval.
            Outcome::Failed(Failure::Busy {
                message,
                retry_after,
            }) => (
                Finish::Defer {
                    at: now_ms()
                        + self
                            .settings
                            .worker
                            .poll_interval
                            .max(Duration::from_millis(500))
                            .max(retry_after.unwrap_or_default())
                            .as_millis() as i64,
                    reason: message,
                },
                None,
            ),
            Outcome::Failed(f @ Failure::Permanent { .. }) => {
                (Finish::Dead(f.message().to_string()), Some(f))
            }
            Outcome::Failed(f @ Failure::Transient { .. }) => {
                let finish = match job::next_delay(
                    &self.settings.worker.retry_schedule,
                    job.attempts,
                    f.retry_after(),
                ) {
                    Some(delay) => Finish::Retry {
                        at: now_ms() + delay.as_millis() as i64,
                        reason: f.message().to_string(),
                    },
                    None => Finish::Dead(format!(
                        "retry schedule exhausted after {} attempts; last error: {}",
                        job.attempts,
                        f.message()
                    )),
                };
                (finish, Some(f))
            }
        }
    }

    async fn run_steps(&self, job: &ClaimedJob, progress: &mut Progress) -> Outcome {
        match self.try_steps(job, progress).await {
            Ok(outcome) => outcome,
            Err(f) => Outcome::Failed(f),
        }
    }

    async fn try_steps(
        &self,
        job: &ClaimedJob,
        progress: &mut Progress,
    ) -> Result<Outcome, Failure> {
        let Some(route) = self.settings.route(&job.route).cloned() else {
            return Err(Failure::permanent(format!(
                "route {:?} is no longer configured",
                job.route
            )));
        };

        let (profile, fetched) = self.profile(job, progress).await?;
        progress.step = Step::Fetched;
        let (plan, profile) = self.prepare(&route, profile).await?;
        if fetched {
            progress.email_hash =
                crate::profile::email(&profile).and_then(|email| self.store.email_hash(email).ok());
            progress.fetched = Some(profile);
        }
        let plan = plan?;

        // The destination's effects.
        match plan {
            Plan::Dropped(logic) => Ok(Outcome::Filtered(logic)),
            Plan::Send(prepared) => {
                let delivery = Delivery {
                    store: &self.store,
                    job,
                    step: &mut progress.step,
                    note: &mut progress.note,
                };
                route
                    .destination
                    .deliver(&self.senders, delivery, prepared)
                    .await?;
                Ok(Outcome::Delivered)
            }
        }
    }

    /// The profile, as checkpointed by an earlier attempt or fetched now (then `true`: kept by
    /// `finish` if the job runs again).
    async fn profile(
        &self,
        job: &ClaimedJob,
        progress: &mut Progress,
    ) -> Result<(Value, bool), Failure> {
        let checkpointed = job.profile.as_deref();
        if let Some(p) = checkpointed.and_then(|p| serde_json::from_str::<Value>(p).ok()) {
            return Ok((p, false));
        }
        progress.step = Step::New;
        let timeout = self.settings.worker.request_timeout;
        let p = self
            .hrflow
            .profile(&job.source_key, &job.profile_key, timeout)
            .await?;
        Ok((p, true))
    }

    /// The destination's pure step (logics, format, mapping), on the profile where it is; the
    /// profile comes back with the plan. Scripts are CPU work under a time limit: they run off
    /// the async threads. Without a script the mapping takes microseconds, not worth a hop to
    /// another thread and back.
    async fn prepare(
        &self,
        route: &Route,
        profile: Value,
    ) -> Result<(Result<Plan, Failure>, Value), Failure> {
        if route.logics.is_empty() && route.format.is_empty() {
            let plan = route.destination.prepare(
                route.transform(),
                &self.scripts,
                Cow::Borrowed(&profile),
            );
            return Ok((plan, profile));
        }
        let scripts = self.scripts.clone();
        let route = route.clone();
        tokio::task::spawn_blocking(move || {
            let plan =
                route
                    .destination
                    .prepare(route.transform(), &scripts, Cow::Borrowed(&profile));
            (plan, profile)
        })
        .await
        .map_err(|e| Failure::permanent(format!("script task failed: {e}")))
    }
}
