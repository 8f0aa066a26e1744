//! What an operator does to jobs: list and filter them, retry the ones that ended dead or
//! filtered (a fresh schedule, history kept), cancel pending ones. Each is one statement, safe
//! while workers run, on any number of replicas.

use super::{Durability, JobView, Store, StoreError, now_ms};
use crate::job::Status;

/// Which jobs; every field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs in this status.
    pub status: Option<Status>,
    /// Jobs of this route.
    pub route: Option<String>,
    /// Jobs of this profile key.
    pub profile: Option<String>,
    /// Jobs whose last change (the end, for a finished job) is at or after this (Unix ms).
    pub since_ms: Option<i64>,
    /// Jobs whose reason contains this text, ignoring case.
    pub reason: Option<String>,
    /// Jobs of these profiles only (what a search found); an empty list matches none.
    pub profiles: Option<Vec<String>>,
}

/// The filter's WHERE clause, on placeholders `$1`..`$5` (a NULL matches everything). `$5` is
/// `JobFilter::reason_pattern`: the reason's text with LIKE's wildcards escaped.
const MATCHES: &str = "(CAST($1 AS TEXT) IS NULL OR status = CAST($1 AS TEXT))
    AND (CAST($2 AS TEXT) IS NULL OR route = CAST($2 AS TEXT))
    AND (CAST($3 AS TEXT) IS NULL OR profile_key = CAST($3 AS TEXT))
    AND (CAST($4 AS BIGINT) IS NULL OR updated_at >= CAST($4 AS BIGINT))
    AND (CAST($5 AS TEXT) IS NULL OR LOWER(reason) LIKE '%' || LOWER(CAST($5 AS TEXT)) || '%' ESCAPE '\\')";

impl JobFilter {
    /// The filter of a bulk retry, as the CLI and `/admin/api/jobs/retry` take it (the status as
    /// the operator wrote it: one message answers both a word that is no status and a status
    /// that is never retried); an error names the field at fault.
    pub fn for_retry(
        status: Option<String>,
        route: Option<String>,
        since: Option<&str>,
        reason: Option<String>,
    ) -> Result<Self, (&'static str, String)> {
        let status = status.unwrap_or_default();
        let Some(retried) = status.parse().ok().filter(|s: &Status| s.retryable()) else {
            return Err((
                "status",
                format!("{status:?}: only dead, filtered or cancelled jobs are retried"),
            ));
        };
        let since_ms = since
            .map(parse_since)
            .transpose()
            .map_err(|e| ("since", e))?;
        Ok(Self {
            status: Some(retried),
            route: route.filter(|r| !r.is_empty()),
            profile: None,
            since_ms,
            reason: reason.filter(|r| !r.is_empty()),
            profiles: None,
        })
    }

    /// `AND profile_key IN ($first, ...)` when the filter names profiles.
    fn profiles_clause(&self, first: usize) -> String {
        match &self.profiles {
            Some(keys) if !keys.is_empty() => format!(
                " AND profile_key IN ({})",
                super::sql::placeholders(first, keys.len())
            ),
            _ => String::new(),
        }
    }

    /// True when the filter names a list of profiles that is empty: nothing can match.
    fn matches_none(&self) -> bool {
        self.profiles.as_ref().is_some_and(Vec::is_empty)
    }

    /// The reason as LIKE reads it, matched as plain text: `%`, `_` and `\` are characters
    /// like any other (an operator's `%` must not widen a bulk retry to every dead job).
    fn reason_pattern(&self) -> Option<String> {
        self.reason.as_ref().map(|r| {
            let mut p = String::with_capacity(r.len());
            for c in r.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    p.push('\\');
                }
                p.push(c);
            }
            p
        })
    }
}

impl Store {
    /// Jobs matching `filter`, newest first.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<JobView>, StoreError> {
        if filter.matches_none() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM jobs WHERE {MATCHES}{} ORDER BY id DESC LIMIT $6 OFFSET $7",
            JobView::COLUMNS,
            filter.profiles_clause(8)
        );
        let mut q = sqlx::query(&sql)
            .persistent(filter.profiles.is_none())
            .bind(filter.status.map(Status::as_str))
            .bind(filter.route.as_deref())
            .bind(filter.profile.as_deref())
            .bind(filter.since_ms)
            .bind(filter.reason_pattern())
            .bind(limit)
            .bind(offset);
        for key in filter.profiles.iter().flatten() {
            q = q.bind(key.as_str());
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(JobView::from_row).collect())
    }

    /// How many jobs match `filter`.
    pub async fn count_jobs(&self, filter: &JobFilter) -> Result<i64, StoreError> {
        if filter.matches_none() {
            return Ok(0);
        }
        let sql = format!(
            "SELECT COUNT(*) AS n FROM jobs WHERE {MATCHES}{}",
            filter.profiles_clause(6)
        );
        let mut q = sqlx::query(&sql)
            .persistent(filter.profiles.is_none())
            .bind(filter.status.map(Status::as_str))
            .bind(filter.route.as_deref())
            .bind(filter.profile.as_deref())
            .bind(filter.since_ms)
            .bind(filter.reason_pattern());
        for key in filter.profiles.iter().flatten() {
            q = q.bind(key.as_str());
        }
        let row = q.fetch_one(&self.pool).await?;
        Ok(sqlx::Row::get(&row, "n"))
    }

    pub async fn job(&self, id: i64) -> Result<Option<JobView>, StoreError> {
        let sql = format!("SELECT {} FROM jobs WHERE id = $1", JobView::COLUMNS);
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(JobView::from_row))
    }

    /// Retries jobs that ended `dead`, `filtered` or `cancelled` and match `filter` (its
    /// status, if set, must be one of those): due now, with a fresh retry schedule, in a new run; their earlier
    /// attempts stay. Push-once still holds: a profile already pushed on its route is only
    /// enriched. Returns how many were retried.
    pub async fn retry_matching(&self, filter: &JobFilter) -> Result<u64, StoreError> {
        let sql = format!(
            "UPDATE jobs SET {} WHERE status IN ('dead', 'filtered', 'cancelled') AND {MATCHES}",
            retry_set(6)
        );
        let q = sqlx::query(&sql)
            .bind(filter.status.map(Status::as_str))
            .bind(filter.route.as_deref())
            .bind(filter.profile.as_deref())
            .bind(filter.since_ms)
            .bind(filter.reason_pattern())
            .bind(now_ms());
        self.write_now(q).await
    }

    /// Retries these jobs, those of them that ended `dead`, `filtered` or `cancelled`.
    pub async fn retry_ids(&self, ids: &[i64]) -> Result<u64, StoreError> {
        let statement = format!(
            "UPDATE jobs SET {} WHERE status IN ('dead', 'filtered', 'cancelled') AND id IN ",
            retry_set(1)
        );
        self.by_ids(ids, &statement).await
    }

    /// Ends these pending jobs `cancelled`: an operator's choice, not a failure (no dead count,
    /// no alert). A job in flight finishes its current call, but its outcome is not recorded.
    pub async fn cancel_ids(&self, ids: &[i64]) -> Result<u64, StoreError> {
        self.by_ids(
            ids,
            "UPDATE jobs SET status = 'cancelled', reason = 'cancelled by an operator', lease_until = NULL, lease_owner = NULL,
                             profile = NULL, updated_at = $1
             WHERE status = 'pending' AND id IN ",
        )
        .await
    }

    /// Runs `statement` (ending in `id IN `, with `$1` for now) over `ids`, in one statement.
    async fn by_ids(&self, ids: &[i64], statement: &str) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let sql = format!("{statement}({})", super::sql::placeholders(2, ids.len()));
        let mut q = sqlx::query(&sql).persistent(false).bind(now_ms());
        for id in ids {
            q = q.bind(*id);
        }
        self.write_now(q).await
    }

    /// One statement in a write transaction that takes the lock up front (`BEGIN IMMEDIATE` on
    /// SQLite, as every other write transaction of the store): these commands run in a second
    /// process beside the service.
    async fn write_now<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<u64, StoreError> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        let n = q.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}

/// What a retry sets: due now (placeholder `$now`), a fresh schedule (no attempts counted),
/// no lease, a new run; held if its route is paused.
fn retry_set(now: usize) -> String {
    format!(
        "status = 'pending', next_attempt_at = ${now}, attempts = 0, reason = NULL,
         lease_until = NULL, lease_owner = NULL, run = run + 1, updated_at = ${now},
         paused = CASE WHEN EXISTS (SELECT 1 FROM route_pauses p WHERE p.route = jobs.route) THEN 1 ELSE 0 END"
    )
}

/// `2h` (ago) or an RFC 3339 time, as Unix milliseconds.
pub fn parse_since(value: &str) -> Result<i64, String> {
    if let Ok(d) = humantime::parse_duration(value.trim()) {
        return Ok(now_ms() - d.as_millis() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            format!("{value:?} is neither a time like 2026-11-25T08:00:00Z nor a duration like 2h")
        })
}
