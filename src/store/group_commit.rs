//! Group commit for the event endpoint: events arriving together are stored in one
//! transaction, so a burst pays for one durable commit instead of one per event. Each sender
//! is answered only after the commit that holds its event.

use tokio::sync::{mpsc, oneshot};

use super::{Ingested, NewEvent, Store, StoreError};

/// At most this many events share a commit; more wait for the next one.
const MAX_BATCH: usize = 256;

struct Request {
    event: NewEvent,
    routes: Vec<String>,
    reply: oneshot::Sender<Result<Ingested, StoreError>>,
}

/// The handle the event endpoint sends through; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    tx: mpsc::Sender<Request>,
}

impl GroupCommit {
    /// Starts the committer task; it ends when every handle is dropped.
    pub fn start(store: Store, window_ms: i64) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(store, window_ms, rx));
        Self { tx }
    }

    /// Stores the event and its jobs; returns once they are durably committed.
    pub async fn ingest(
        &self,
        event: NewEvent,
        routes: Vec<String>,
    ) -> Result<Ingested, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request {
                event,
                routes,
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(store: Store, window_ms: i64, mut rx: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let items: Vec<(&NewEvent, &[String])> = batch
            .iter()
            .map(|r: &Request| (&r.event, r.routes.as_slice()))
            .collect();
        let stored = store.ingest_many(&items, window_ms).await;
        drop(items);
        match stored {
            Ok(answers) => {
                for (request, answer) in batch.drain(..).zip(answers) {
                    let _ = request.reply.send(Ok(answer));
                }
            }
            // One bad event must not refuse its neighbours: each is tried on its own.
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, events = batch.len(), "group commit failed; storing one by one");
                for request in batch.drain(..) {
                    let answer = store
                        .ingest(&request.event, &request.routes, window_ms)
                        .await;
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
