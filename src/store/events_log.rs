//! The events log: every event received, whatever became of it (accepted, duplicate,
//! ignored), with the jobs it made. `[retention].events` forgets it.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, sql::placeholders};

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventOutcome {
    Accepted,
    Duplicate,
    Ignored,
}

impl EventOutcome {
    pub const ALL: [Self; 3] = [Self::Accepted, Self::Duplicate, Self::Ignored];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// One event as the log shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    /// The event's UUID (`event_id` in the 202).
    pub id: String,
    /// HrFlow's event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Absent when the event named none (an error event, one without a profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    /// The profile it named, when it named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_key: Option<String>,
    /// When it arrived (ms since the epoch).
    #[serde(serialize_with = "crate::time::ser")]
    pub received_at: i64,
    /// Accepted, a duplicate, or ignored.
    pub outcome: EventOutcome,
    /// Why it was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A duplicate's original: the event that holds its body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_id: Option<String>,
    /// The jobs it made (ids), one per route that took it.
    pub jobs: Vec<i64>,
}

/// Which events; every field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Events about this profile key.
    pub profile: Option<String>,
    /// Events from this source key.
    pub source: Option<String>,
    /// Only events of this type.
    pub event_type: Option<String>,
    /// Only events with this outcome (accepted, duplicate, ignored).
    pub outcome: Option<EventOutcome>,
}

const COLUMNS: &str =
    "id, event_type, source_key, profile_key, received_at, outcome, reason, original_id";

/// The filter's WHERE clause on `$1`..`$4` (a NULL matches everything).
const MATCHES: &str = "(CAST($1 AS TEXT) IS NULL OR profile_key = CAST($1 AS TEXT))
    AND (CAST($2 AS TEXT) IS NULL OR source_key = CAST($2 AS TEXT))
    AND (CAST($3 AS TEXT) IS NULL OR event_type = CAST($3 AS TEXT))
    AND (CAST($4 AS TEXT) IS NULL OR outcome = CAST($4 AS TEXT))";

fn view(r: &sqlx::any::AnyRow) -> EventView {
    let named = |c: &str| Some(r.get::<String, _>(c)).filter(|s| !s.is_empty());
    EventView {
        id: r.get("id"),
        event_type: r.get("event_type"),
        source_key: named("source_key"),
        profile_key: named("profile_key"),
        received_at: r.get("received_at"),
        outcome: EventOutcome::parse(&r.get::<String, _>("outcome"))
            .unwrap_or(EventOutcome::Accepted),
        reason: r.get("reason"),
        original_id: r.get("original_id"),
        jobs: Vec::new(),
    }
}

impl Store {
    /// Events matching `filter`, newest first.
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<EventView>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE {MATCHES} ORDER BY received_at DESC, id DESC LIMIT $5 OFFSET $6"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.profile.as_deref())
            .bind(filter.source.as_deref())
            .bind(filter.event_type.as_deref())
            .bind(filter.outcome.map(EventOutcome::as_str))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        self.with_jobs(rows.iter().map(view).collect()).await
    }

    pub async fn count_events(&self, filter: &EventFilter) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) AS n FROM events WHERE {MATCHES}");
        let row = sqlx::query(&sql)
            .bind(filter.profile.as_deref())
            .bind(filter.source.as_deref())
            .bind(filter.event_type.as_deref())
            .bind(filter.outcome.map(EventOutcome::as_str))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get("n"))
    }

    /// Every event received for the candidate, oldest first.
    pub async fn events_of(&self, profile_key: &str) -> Result<Vec<EventView>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM events WHERE profile_key = $1 ORDER BY received_at, id");
        let rows = sqlx::query(&sql)
            .bind(profile_key)
            .fetch_all(&self.pool)
            .await?;
        self.with_jobs(rows.iter().map(view).collect()).await
    }

    pub async fn event(&self, id: &str) -> Result<Option<EventView>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(self.with_jobs(row.iter().map(view).collect()).await?.pop())
    }

    /// Fills in each event's jobs: one look-up of the jobs' event index for them all.
    async fn with_jobs(&self, mut events: Vec<EventView>) -> Result<Vec<EventView>, StoreError> {
        let ids: Vec<&str> = events
            .iter()
            .filter(|e| e.outcome == EventOutcome::Accepted)
            .map(|e| e.id.as_str())
            .collect();
        if ids.is_empty() {
            return Ok(events);
        }
        let sql = format!(
            "SELECT id, event_id FROM jobs WHERE event_id IN ({}) ORDER BY id",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query(&sql).persistent(false);
        for id in &ids {
            q = q.bind(*id);
        }
        let mut jobs: HashMap<String, Vec<i64>> = HashMap::new();
        for r in q.fetch_all(&self.pool).await? {
            jobs.entry(r.get("event_id")).or_default().push(r.get("id"));
        }
        for e in &mut events {
            e.jobs = jobs.remove(&e.id).unwrap_or_default();
        }
        Ok(events)
    }
}
