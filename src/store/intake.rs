//! Intake: an event and its jobs, stored in one transaction, once per body within the dedupe
//! window (the group committer batches them).

use super::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub body_hash: String,
    pub event_type: String,
    pub profile_key: String,
    pub source_key: String,
    /// Why no job comes of it (no route takes it, an error event, no profile): the events log
    /// keeps it with this reason, outside the dedupe window. None for an event to store.
    pub ignored: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Accepted {
        event_id: String,
        jobs: usize,
    },
    Duplicate {
        event_id: String,
    },
    /// Logged, with why; no job.
    Ignored {
        reason: String,
    },
}

impl Store {
    /// Stores the event and one job per route in one transaction, unless the same body was
    /// accepted within `window_ms` (a unique key, so this holds across replicas).
    pub async fn ingest(
        &self,
        event: &NewEvent,
        routes: &[String],
        window_ms: i64,
    ) -> Result<Ingested, StoreError> {
        // A group commit of one: one code path for the endpoint's batches and single events.
        self.ingest_many(&[(event, routes)], window_ms)
            .await?
            .pop()
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }
}
