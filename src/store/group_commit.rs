//! Group commit for the event endpoint: events arriving together are stored in one
//! transaction, so a burst pays for one durable commit instead of one per event. Each sender
//! is answered only after the commit that holds its event. On SQLite the writer thread
//! (`sqlite/writer.rs`) does the gathering, with the worker's writes; PostgreSQL has a
//! committer task of its own. How a batch is stored is `intake.rs`.

use tokio::sync::{mpsc, oneshot};

use super::{Ingested, NewEvent, Store, StoreError};

/// Events from several requests share a commit until it holds this many; more wait for the
/// next one. A single array larger than this is still one commit (it is capped at the edge).
const MAX_BATCH: usize = 256;

/// One request's events: all of them stand or fall together.
struct Request {
    /// Each event with the routes that take it.
    events: Vec<(NewEvent, Vec<String>)>,
    /// Where the request waits for its answers, one per event, after the commit.
    reply: oneshot::Sender<Result<Vec<Ingested>, StoreError>>,
}

/// The handle the event endpoint sends through; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    /// Who gathers the events: the backend decides.
    via: Via,
}

#[derive(Clone)]
enum Via {
    /// SQLite: the store's writer thread, which gathers events with the worker's writes.
    Queue {
        store: Store,
        /// The dedupe window: a body accepted within it is a duplicate.
        window_ms: i64,
    },
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
