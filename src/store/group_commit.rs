//! Group commit for the event endpoint: events arriving together are stored in one
//! transaction, so a burst pays for one durable commit instead of one per event. Each sender
//! is answered only after the commit that holds its event. On SQLite the writer thread
//! (`writer.rs`) does the gathering, with the worker's writes; PostgreSQL has a committer task
//! of its own.

use std::collections::{HashMap, HashSet};

use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use super::{Ingested, NewEvent, Store, StoreError};

/// Events from several requests share a commit until it holds this many; more wait for the
/// next one. A single array larger than this is still one commit (it is capped at the edge).
const MAX_BATCH: usize = 256;

/// One request's events: all of them stand or fall together.
struct Request {
    events: Vec<(NewEvent, Vec<String>)>,
    reply: oneshot::Sender<Result<Vec<Ingested>, StoreError>>,
}

/// The handle the event endpoint sends through; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    via: Via,
}

#[derive(Clone)]
enum Via {
    /// SQLite: the store's writer thread, which gathers events with the worker's writes.
    Queue { store: Store, window_ms: i64 },
    /// PostgreSQL: a committer task of its own.
    Committer(mpsc::Sender<Request>),
}

impl GroupCommit {
    /// Starts the committer (on SQLite, the store's writer thread); it ends when every handle
    /// is dropped.
    pub fn start(store: Store, window_ms: i64) -> Self {
        if store.backend == super::Backend::Sqlite {
            store.start_queue();
            return Self {
                via: Via::Queue { store, window_ms },
            };
        }
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(store, window_ms, rx));
        Self {
            via: Via::Committer(tx),
        }
    }

    /// Stores the events of one request, each with its jobs, in one transaction; returns once
    /// they are durably committed, with one answer per event in order.
    pub async fn ingest(
        &self,
        events: Vec<(NewEvent, Vec<String>)>,
    ) -> Result<Vec<Ingested>, StoreError> {
        let tx = match &self.via {
            Via::Queue { store, window_ms } => {
                return store.enqueue_intake(events, *window_ms).await;
            }
            Via::Committer(tx) => tx,
        };
        let (reply, answer) = oneshot::channel();
        tx.send(Request { events, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(store: Store, window_ms: i64, mut rx: mpsc::Receiver<Request>) {
    while let Some(first) = rx.recv().await {
        let mut size = first.events.len();
        let mut batch = vec![first];
        while size < MAX_BATCH {
            match rx.try_recv() {
                Ok(request) => {
                    size += request.events.len();
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
        let items: Vec<(&NewEvent, &[String])> = batch
            .iter()
            .flat_map(|r| r.events.iter().map(|(e, routes)| (e, routes.as_slice())))
            .collect();
        let stored = store.ingest_many(&items, window_ms).await;
        drop(items);
        match stored {
            Ok(mut answers) => {
                for request in batch {
                    let rest = answers.split_off(request.events.len().min(answers.len()));
                    let _ = request
                        .reply
                        .send(Ok(std::mem::replace(&mut answers, rest)));
                }
            }
            // One bad request must not refuse its neighbours: each is tried on its own, whole.
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, requests = batch.len(), "group commit failed; storing request by request");
                for request in batch {
                    let items: Vec<(&NewEvent, &[String])> = request
                        .events
                        .iter()
                        .map(|(e, routes)| (e, routes.as_slice()))
                        .collect();
                    let answer = store.ingest_many(&items, window_ms).await;
                    drop(items);
                    let _ = request.reply.send(answer);
                }
            }
            Err(e) => {
                if let Some(request) = batch.pop() {
                    let _ = request.reply.send(Err(e));
                }
            }
        }
    }
}

/// Rows per multi-row INSERT: well under either database's limit on bound parameters.
pub(super) const ROWS_PER_STATEMENT: usize = 500;

/// `($1, $2, $3), ($4, $5, $6), ...`: `rows` tuples of `width` numbered placeholders.
pub(super) fn tuples(rows: usize, width: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * width * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + r * width + c).to_string());
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, ...`: `count` numbered placeholders, for an `IN (...)` list.
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A batch's events: the first of each body is the one stored; the others are its duplicates.
pub(super) struct Plan<'a> {
    first_of: HashMap<&'a str, usize>,
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

impl Store {
    /// Several events in one transaction: a burst costs one durable commit (on SQLite shared
    /// with the worker's writes of the moment, by the writer thread; on PostgreSQL with one
    /// statement per table rather than per event). Answers are in the order given and stand only once this returns
    /// Ok; on an error none was stored. Equal bodies in one batch are one event: the first is
    /// stored, the others are duplicates.
    pub async fn ingest_many(
        &self,
        events: &[(&NewEvent, &[String])],
        window_ms: i64,
    ) -> Result<Vec<Ingested>, StoreError> {
        if self.backend == super::Backend::Sqlite {
            let owned = events
                .iter()
                .map(|(e, r)| ((*e).clone(), r.to_vec()))
                .collect();
            return self.enqueue_intake(owned, window_ms).await;
        }
        self.store_postgres(events, super::now_ms(), window_ms)
            .await
    }

    /// PostgreSQL: a statement per table (multi-row), RETURNING names the bodies accepted.
    async fn store_postgres(
        &self,
        all: &[(&NewEvent, &[String])],
        now: i64,
        window_ms: i64,
    ) -> Result<Vec<Ingested>, StoreError> {
        let plan = Plan::of(all);
        let events = plan.firsts.as_slice();
        let mut conn = self.write_conn(super::Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        // A paused route's new jobs are made paused. The rows are share-locked: a resume
        // (which deletes its row, then unpauses its jobs) waits for this commit, so it sees
        // the jobs made here.
        let paused: HashSet<String> =
            sqlx::query_scalar("SELECT route FROM route_pauses FOR SHARE")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        // 1. The dedupe keys: RETURNING names the bodies not accepted within the window.
        let mut fresh: HashSet<String> = HashSet::new();
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let last = chunk.len() * 3 + 1;
            let sql = format!(
                "INSERT INTO event_dedupe (body_hash, event_id, received_at) VALUES {}
                 ON CONFLICT (body_hash) DO UPDATE SET event_id = excluded.event_id, received_at = excluded.received_at
                 WHERE event_dedupe.received_at < ${last}
                 RETURNING body_hash",
                tuples(chunk.len(), 3, 1)
            );
            let mut q = sqlx::query(&sql).persistent(false);
            for (e, _) in chunk {
                q = q.bind(&e.body_hash).bind(&e.id).bind(now);
            }
            for row in q.bind(now - window_ms).fetch_all(&mut *tx).await? {
                fresh.insert(row.get::<String, _>(0));
            }
        }
        // 2. Who holds the others.
        let mut holders: HashMap<String, String> = HashMap::new();
        let stale: Vec<&str> = events
            .iter()
            .map(|(e, _)| e.body_hash.as_str())
            .filter(|h| !fresh.contains(*h))
            .collect();
        for chunk in stale.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT body_hash, event_id FROM event_dedupe WHERE body_hash IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql).persistent(false);
            for h in chunk {
                q = q.bind(*h);
            }
            for row in q.fetch_all(&mut *tx).await? {
                holders.insert(row.get(0), row.get(1));
            }
        }
        // 3. The new events, and 4. their jobs.
        let stored: Vec<&(&NewEvent, &[String])> = events
            .iter()
            .filter(|(e, _)| fresh.contains(&e.body_hash))
            .collect();
        for chunk in stored.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at) VALUES {}",
                tuples(chunk.len(), 6, 1)
            );
            let mut q = sqlx::query(&sql).persistent(false);
            for (e, _) in chunk {
                q = q
                    .bind(&e.id)
                    .bind(&e.body_hash)
                    .bind(&e.event_type)
                    .bind(&e.profile_key)
                    .bind(&e.source_key)
                    .bind(now);
            }
            q.execute(&mut *tx).await?;
        }
        let jobs: Vec<(&NewEvent, &String)> = stored
            .iter()
            .flat_map(|(e, routes)| routes.iter().map(move |route| (*e, route)))
            .collect();
        for chunk in jobs.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO jobs (event_id, route, profile_key, source_key, next_attempt_at, created_at, updated_at, paused) VALUES {}",
                tuples(chunk.len(), 8, 1)
            );
            let mut q = sqlx::query(&sql).persistent(false);
            for (e, route) in chunk {
                q = q
                    .bind(&e.id)
                    .bind(*route)
                    .bind(&e.profile_key)
                    .bind(&e.source_key)
                    .bind(now)
                    .bind(now)
                    .bind(now)
                    .bind(i64::from(paused.contains(route.as_str())));
            }
            q.execute(&mut *tx).await?;
        }
        for (e, _) in stored {
            holders.insert(e.body_hash.clone(), e.id.clone());
        }
        let answers = plan.answers(all, &holders);
        // 5. The events log: duplicates and ignored events.
        let logged: Vec<(&NewEvent, &str, Option<&str>, Option<&str>)> = all
            .iter()
            .zip(&answers)
            .filter_map(|((e, _), answer)| match answer {
                Ingested::Accepted { .. } => None,
                Ingested::Duplicate { event_id } => {
                    Some((*e, "duplicate", None, Some(event_id.as_str())))
                }
                Ingested::Ignored { reason } => Some((*e, "ignored", Some(reason.as_str()), None)),
            })
            .collect();
        for chunk in logged.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at, outcome, reason, original_id) VALUES {}",
                tuples(chunk.len(), 9, 1)
            );
            let mut q = sqlx::query(&sql).persistent(false);
            for (e, outcome, reason, original) in chunk {
                q = q
                    .bind(&e.id)
                    .bind(&e.body_hash)
                    .bind(&e.event_type)
                    .bind(&e.profile_key)
                    .bind(&e.source_key)
                    .bind(now)
                    .bind(*outcome)
                    .bind(*reason)
                    .bind(*original);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(answers)
    }
}
