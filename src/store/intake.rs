//! Intake: an event and its jobs, stored in one transaction, once per body within the dedupe
//! window. The group committer (`group_commit.rs`) batches them; each backend stores a batch
//! its own way (`sqlite/intake.rs`, `postgres/intake.rs`) after the same `Plan`.

use std::collections::HashMap;

use super::{Backend, Store, StoreError, now_ms};

#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The event's own id (a UUID the relay gives it): what its jobs and the log name.
    pub id: String,
    /// A hash of the event's body: the dedupe key, so a redelivery is a duplicate.
    pub body_hash: String,
    /// HrFlow's event type (`profile.parsing.success`, ...).
    pub event_type: String,
    /// The profile each job fetches and delivers; empty when the event names none.
    pub profile_key: String,
    /// The HrFlow source holding the profile; empty when the event names none.
    pub source_key: String,
    /// Why no job comes of it (no route takes it, an error event, no profile): the events log
    /// keeps it with this reason, outside the dedupe window. None for an event to store.
    pub ignored: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Accepted {
        event_id: String,
        /// How many jobs it made: one per route that takes it.
        jobs: usize,
    },
    Duplicate {
        /// The event that holds the same body: the one whose jobs do the work.
        event_id: String,
    },
    /// Logged, with why; no job.
    Ignored { reason: String },
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

    /// Several events in one transaction: a burst costs one durable commit (on SQLite shared
    /// with the worker's writes of the moment, by the writer thread; on PostgreSQL with one
    /// statement per table rather than per event). Answers are in the order given and stand
    /// only once this returns Ok; on an error none was stored. Equal bodies in one batch are
    /// one event: the first is stored, the others are duplicates.
    pub async fn ingest_many(
        &self,
        events: &[(&NewEvent, &[String])],
        window_ms: i64,
    ) -> Result<Vec<Ingested>, StoreError> {
        if self.backend == Backend::Sqlite {
            let owned = events
                .iter()
                .map(|(e, r)| ((*e).clone(), r.to_vec()))
                .collect();
            return self.enqueue_intake(owned, window_ms).await;
        }
        self.ingest_postgres(events, now_ms(), window_ms).await
    }
}

/// A batch's events: the first of each body is the one stored; the others are its duplicates.
pub(super) struct Plan<'a> {
    /// Each body's first event, by body hash: its index in the batch.
    first_of: HashMap<&'a str, usize>,
    /// The events to store (each body's first, ignored ones aside), with their routes.
    pub firsts: Vec<(&'a NewEvent, &'a [String])>,
}

impl<'a> Plan<'a> {
    pub fn of(events: &[(&'a NewEvent, &'a [String])]) -> Self {
        let mut first_of: HashMap<&str, usize> = HashMap::new();
        let mut firsts = Vec::new();
        for (i, (event, routes)) in events.iter().enumerate() {
            // An ignored event is logged, never deduped: it holds no body.
            if event.ignored.is_some() {
                continue;
            }
            first_of.entry(event.body_hash.as_str()).or_insert_with(|| {
                firsts.push((*event, *routes));
                i
            });
        }
        Self { first_of, firsts }
    }

    /// One answer per event, given which event now holds each body (this batch's first, or
    /// one accepted within the window).
    pub fn answers(
        &self,
        events: &[(&NewEvent, &[String])],
        holders: &HashMap<String, String>,
    ) -> Vec<Ingested> {
        events
            .iter()
            .enumerate()
            .map(|(i, (event, routes))| {
                if let Some(reason) = &event.ignored {
                    return Ingested::Ignored {
                        reason: reason.clone(),
                    };
                }
                let hash = event.body_hash.as_str();
                let first_at = self.first_of.get(hash).copied().unwrap_or(i);
                let first = events[first_at].0;
                match holders.get(hash) {
                    Some(holder) if *holder == first.id && first_at == i => Ingested::Accepted {
                        event_id: event.id.clone(),
                        jobs: routes.len(),
                    },
                    Some(holder) if *holder == first.id => Ingested::Duplicate {
                        event_id: first.id.clone(),
                    },
                    holder => Ingested::Duplicate {
                        event_id: holder.cloned().unwrap_or_default(),
                    },
                }
            })
            .collect()
    }
}
