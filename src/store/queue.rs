//! SQLite's hot writes, gathered: the event endpoint's events and the worker's bookkeeping
//! (claims, push slots, pushed marks, attempts) go to the writer thread (`sqlite/writer.rs`), which
//! commits whatever arrived while it was busy in one transaction. PostgreSQL has a pool and no
//! single writer: there a write runs at once.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::sqlite::intake::Events;
use super::sqlite::writer::Item;
use super::write::{Arg, Row, Write};
use super::{Ingested, Store, StoreError};

/// The writer thread's sending end, shared by every clone of the store; the thread starts on
/// the first write.
#[derive(Clone)]
pub(crate) struct Queue {
    /// Set by the first write (or `start_queue`), which starts the thread.
    tx: Arc<OnceLock<mpsc::Sender<Item>>>,
    /// The SQLite database file (None on PostgreSQL).
    path: Option<Arc<PathBuf>>,
}

impl Queue {
    pub(crate) fn new(path: Option<PathBuf>) -> Self {
        Self {
            tx: Arc::default(),
            path: path.map(Arc::new),
        }
    }
}

/// While held, the writer thread waits: another connection writes (see `Store::lend`).
pub(crate) struct Paused(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

impl Store {
    /// Starts the writer thread (the service calls this at startup; otherwise the first write
    /// does).
    pub fn start_queue(&self) {
        self.queue_sender();
    }

    fn queue_sender(&self) -> Option<&mpsc::Sender<Item>> {
        let path = self.queue.path.as_ref()?;
        Some(
            self.queue
                .tx
                .get_or_init(|| super::sqlite::writer::start(path.as_ref().clone())),
        )
    }

    async fn send(&self, item: Item) -> Result<(), StoreError> {
        self.queue_sender()
            .ok_or(StoreError::Closed)?
            .send(item)
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// Runs `write` in the writer thread's next batch; answers the rows its statements
    /// returned. On PostgreSQL it runs at once on a pooled connection.
    pub(crate) async fn write(&self, write: Write) -> Result<Vec<Row>, StoreError> {
        if self.backend == super::Backend::Postgres {
            let [sql] = write.sql.as_slice() else {
                return Err(StoreError::Write(
                    "a PostgreSQL write is one statement".into(),
                ));
            };
            let query = bind(sqlx::query(sql), &write.args);
            let rows = query.fetch_all(&mut *self.lend().await?).await?;
            return Ok(rows.iter().map(Row::of_any).collect());
        }
        // SQLite numbers parameters in order of appearance unless told: `$k` becomes `?k`.
        let write = Write {
            sql: write.sql.iter().map(|s| numbered(s)).collect(),
            ..write
        };
        let (reply, answer) = oneshot::channel();
        self.send(Item::Write(write, reply)).await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Stores one request's events in the writer thread's next batch (see `ingest_many`).
    pub(crate) async fn enqueue_intake(
        &self,
        events: Events,
        window_ms: i64,
    ) -> Result<Vec<Ingested>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Item::Intake {
            events,
            window_ms,
            reply,
        })
        .await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Stops the writer thread until the answer is dropped, once what it holds is committed.
    pub(crate) async fn pause_writer(&self) -> Result<Option<Paused>, StoreError> {
        if self.queue.path.is_none() {
            return Ok(None);
        }
        let (paused, stopped) = oneshot::channel();
        let (resume, waiting) = std::sync::mpsc::channel();
        self.send(Item::Pause {
            paused,
            resume: waiting,
        })
        .await?;
        stopped.await.map_err(|_| StoreError::Closed)?;
        Ok(Some(Paused(resume)))
    }

    /// Lets the writer thread's connection go, once what it holds is committed.
    pub(crate) async fn stop_writer(&self) {
        if let Some(tx) = self.queue.tx.get() {
            let (done, stopped) = oneshot::channel();
            if tx.send(Item::Close(done)).await.is_ok() {
                let _ = stopped.await;
            }
        }
    }
}

/// `query` with `args` bound after what it already has.
fn bind<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for arg in args {
        query = match arg {
            Arg::Int(v) => query.bind(*v),
            Arg::Text(v) => query.bind(v.as_str()),
            Arg::MaybeInt(v) => query.bind(*v),
            Arg::MaybeText(v) => query.bind(v.as_deref()),
        };
    }
    query
}

/// `sql` with each `$k` as `?k`: SQLite takes `$1` for a name and numbers names in the order
/// they first appear, so `$2 ... $1` would bind the wrong values.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::numbered;
    use crate::store::write::{Arg, Write};
    use crate::store::{Durability, Store};

    fn heartbeat(id: &str, table: &str) -> Write {
        Write {
            sql: vec![format!(
                "INSERT INTO {table} (id, last_seen) VALUES ($1, $2) RETURNING id"
            )],
            args: vec![Arg::Text(id.into()), Arg::Int(1)],
            durability: Durability::Normal,
        }
    }

    #[tokio::test]
    async fn writes_waiting_together_share_a_transaction_and_a_bad_one_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url, 2).await.unwrap();
        // Hold the writer so that every write below is waiting when the thread gets it.
        let held = store.lend().await.unwrap();
        let mut calls = Vec::new();
        for i in 0..20 {
            let (store, table) = (
                store.clone(),
                if i == 7 { "no_such_table" } else { "replicas" },
            );
            calls.push(tokio::spawn(async move {
                store.write(heartbeat(&format!("r{i}"), table)).await
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(held);
        for (i, call) in calls.into_iter().enumerate() {
            let rows = call.await.unwrap();
            if i == 7 {
                assert!(rows.is_err(), "the bad write fails");
            } else {
                let rows = rows.unwrap();
                assert_eq!(rows.len(), 1, "each caller gets its own rows");
                let id: String = rows[0].get("id").unwrap();
                assert_eq!(id, format!("r{i}"));
            }
        }
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replicas")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(stored, 19, "its neighbours are stored");
    }

    #[tokio::test]
    async fn parameters_bind_by_number_not_by_order_of_appearance() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url, 2).await.unwrap();
        let rows = store
            .write(Write {
                sql: vec![
                    "INSERT INTO replicas (last_seen, id) VALUES ($2, $1)".into(),
                    "SELECT id, last_seen, $3 AS gone FROM replicas WHERE id = $1".into(),
                ],
                args: vec![Arg::Text("r".into()), Arg::Int(5), Arg::MaybeInt(None)],
                durability: Durability::Full,
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<String>("id").unwrap(), "r");
        assert_eq!(rows[0].get::<i64>("last_seen").unwrap(), 5);
        assert_eq!(rows[0].get::<Option<i64>>("gone").unwrap(), None);
        assert!(
            rows[0].get::<i64>("id").is_err(),
            "text is not read as a number"
        );
    }

    #[test]
    fn dollar_numbers_become_question_numbers() {
        assert_eq!(
            numbered("UPDATE t SET a = $1, b = $12 WHERE c = '$' || $2"),
            "UPDATE t SET a = ?1, b = ?12 WHERE c = '$' || ?2"
        );
    }
}
