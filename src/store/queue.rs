//! SQLite's hot writes, gathered. The event endpoint's events and the worker's bookkeeping
//! (claims, push slots, pushed marks, attempts) that arrive while the writer is busy go out
//! together as one string of statements in one IMMEDIATE transaction: one call to sqlx's
//! database thread and one commit for the lot, FULL if any of them needs it. Rows that touch
//! the same pages (the queue's index, the newest events) are written once per batch, not once
//! per caller. PostgreSQL has a pool and no single writer: there a write runs at once.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::Row;
use sqlx::any::AnyRow;
use tokio::sync::{mpsc, oneshot};

use super::{Durability, Ingested, NewEvent, Store, StoreError};

/// A batch stops growing at this many bound values (SQLite allows 32,766 in one call).
const MAX_ARGS: usize = 20_000;

/// Prepared statements the writer keeps before it lets them all go.
const MAX_KEPT: usize = 32;

/// A value bound to a statement.
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    MaybeInt(Option<i64>),
    MaybeText(Option<String>),
}

/// One caller's statements. Parameters are numbered from `$1`; `$0` stands for the caller's
/// place in the batch, and every row the statements return starts with it, named `tag`
/// (`RETURNING $0 AS tag, ...`).
pub(crate) struct Write {
    pub sql: String,
    pub args: Vec<Arg>,
    pub durability: Durability,
}

type Events = Vec<(NewEvent, Vec<String>)>;

enum Item {
    Write(Write, oneshot::Sender<Result<Vec<AnyRow>, StoreError>>),
    /// One request's events: they stand or fall together, answered in order.
    Intake {
        events: Events,
        window_ms: i64,
        reply: oneshot::Sender<Result<Vec<Ingested>, StoreError>>,
    },
}

impl Item {
    fn weight(&self) -> usize {
        match self {
            Item::Write(w, _) => w.args.len(),
            // Five per event; routes are bound once per batch, a handful at most.
            Item::Intake { events, .. } => events.len() * 5,
        }
    }
}

/// The queue's sending end, shared by every clone of the store.
#[derive(Clone, Default)]
pub(crate) struct Queue {
    tx: Arc<std::sync::OnceLock<mpsc::Sender<Item>>>,
}

impl Store {
    /// Starts the queue's task on the current runtime (the service calls this at startup;
    /// otherwise the first write does).
    pub fn start_queue(&self) {
        self.queue_sender();
    }

    fn queue_sender(&self) -> &mpsc::Sender<Item> {
        self.queue.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel(1024);
            // The task's own store has no queue of its own: nothing keeps the channel open
            // once every store that sends is gone.
            let mut store = self.clone();
            store.queue = Queue::default();
            tokio::spawn(run(store, rx));
            tx
        })
    }

    /// Runs `write` in the next batch; answers the rows its statements returned. On
    /// PostgreSQL (no queue) it runs at once on a pooled connection, and must be one statement.
    pub(crate) async fn write(&self, write: Write) -> Result<Vec<AnyRow>, StoreError> {
        if self.backend == super::Backend::Postgres {
            let mut sql = String::new();
            renumber(&write.sql, 0, 0, &mut sql);
            let query = bind(sqlx::query(&sql), &write.args);
            return Ok(query.fetch_all(&mut *self.lend().await?).await?);
        }
        let (reply, answer) = oneshot::channel();
        self.queue_sender()
            .send(Item::Write(write, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Stores one request's events in the next batch (see `ingest_many`).
    pub(crate) async fn enqueue_intake(
        &self,
        events: Events,
        window_ms: i64,
    ) -> Result<Vec<Ingested>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue_sender()
            .send(Item::Intake {
                events,
                window_ms,
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Item>) {
    while let Some(first) = rx.recv().await {
        let mut weight = first.weight();
        let mut batch = vec![first];
        while weight < MAX_ARGS {
            match rx.try_recv() {
                Ok(item) => {
                    weight += item.weight();
                    batch.push(item);
                }
                Err(_) => break,
            }
        }
        commit(&store, batch).await;
    }
}

/// Commits a batch and answers each caller; if the batch fails, each is tried on its own, so
/// one bad write never refuses its neighbours.
async fn commit(store: &Store, batch: Vec<Item>) {
    let mut writes = Vec::new();
    let mut intake = Vec::new();
    for item in batch {
        match item {
            Item::Write(w, reply) => writes.push((w, reply)),
            Item::Intake {
                events,
                window_ms,
                reply,
            } => intake.push((events, window_ms, reply)),
        }
    }
    // Writes of the same kind side by side: the batch's text then depends on how many of each
    // kind it holds, not on the order they came in (which is a race anyway: no caller has two
    // writes in one batch), so far fewer shapes exist and their prepared statements are reused.
    writes.sort_by(|a, b| a.0.sql.cmp(&b.0.sql));
    let alone = writes.len() + intake.len() == 1;
    let all_writes: Vec<&Write> = writes.iter().map(|(w, _)| w).collect();
    let all_intake: Vec<(&Events, i64)> = intake.iter().map(|(e, w, _)| (e, *w)).collect();
    let result = together(store, &all_writes, &all_intake).await;
    drop((all_writes, all_intake));
    match result {
        Ok((rows, answers)) => {
            for ((_, reply), rows) in writes.into_iter().zip(rows) {
                let _ = reply.send(Ok(rows));
            }
            for ((_, _, reply), answer) in intake.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(e) if alone => {
            if let Some((_, reply)) = writes.pop() {
                let _ = reply.send(Err(e));
            } else if let Some((_, _, reply)) = intake.pop() {
                let _ = reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, callers = writes.len() + intake.len(), "batched write failed; writing caller by caller");
            for (w, reply) in writes {
                let answer = together(store, &[&w], &[])
                    .await
                    .map(|(mut rows, _)| rows.pop().unwrap_or_default());
                let _ = reply.send(answer);
            }
            for (events, window_ms, reply) in intake {
                let answer = together(store, &[], &[(&events, window_ms)])
                    .await
                    .map(|(_, mut answers)| answers.pop().unwrap_or_default());
                let _ = reply.send(answer);
            }
        }
    }
}

type Answers = (Vec<Vec<AnyRow>>, Vec<Vec<Ingested>>);

/// One transaction for the writes and the requests' events; their rows and answers in order.
async fn together(
    store: &Store,
    writes: &[&Write],
    intake: &[(&Events, i64)],
) -> Result<Answers, StoreError> {
    // Every request's events in one intake statement set, placed after the writes.
    let events: Vec<(&NewEvent, &[String])> = intake
        .iter()
        .flat_map(|(events, _)| events.iter().map(|(e, r)| (e, r.as_slice())))
        .collect();
    let window_ms = intake.first().map(|(_, w)| *w).unwrap_or_default();
    let now = super::now_ms();
    let plan = super::group_commit::Plan::of(&events);
    let intake_write = (!events.is_empty())
        .then(|| super::group_commit::sqlite_write(&plan.firsts, now, window_ms));

    let all: Vec<&Write> = writes
        .iter()
        .copied()
        .chain(intake_write.as_ref())
        .collect();
    let durability = if all.iter().any(|w| w.durability == Durability::Full) {
        Durability::Full
    } else {
        Durability::Normal
    };
    let mut sql = String::new();
    let mut offset = 0;
    for (place, w) in all.iter().enumerate() {
        renumber(&w.sql, offset, place, &mut sql);
        sql.push_str(";\n");
        offset += w.args.len();
    }
    let mut writer = store.writer(durability).await?;
    let sql = writer.transaction_sql(sql.trim_end().trim_end_matches(';'));
    // Without events the text depends only on which writes are in the batch, in what order: a
    // few shapes recur, so they are prepared once and kept. Events vary in number.
    let mut query = sqlx::query(&sql).persistent(intake_write.is_none());
    for w in &all {
        query = bind(query, &w.args);
    }
    let rows = writer.run(query).await?;
    // Kept shapes cost memory (a batch of a dozen statements holds a dozen prepared ones): past
    // a few dozen, start again, so memory stays flat however many shapes a long run meets.
    if sqlx::Connection::cached_statements_size(&*writer.conn) > MAX_KEPT {
        let _ = sqlx::Connection::clear_cached_statements(&mut *writer.conn).await;
    }
    drop(writer);

    let mut by_place: Vec<Vec<AnyRow>> = std::iter::repeat_with(Vec::new).take(all.len()).collect();
    for row in rows {
        let place: i64 = row.try_get("tag")?;
        if let Some(rows) = usize::try_from(place)
            .ok()
            .and_then(|p| by_place.get_mut(p))
        {
            rows.push(row);
        }
    }
    let mut answers = Vec::new();
    if intake_write.is_some() {
        let holders: HashMap<String, String> = by_place
            .pop()
            .unwrap_or_default()
            .into_iter()
            .map(|row| Ok((row.try_get("body_hash")?, row.try_get("event_id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let mut all_answers = plan.answers(&events, &holders).into_iter();
        for (request, _) in intake {
            answers.push(all_answers.by_ref().take(request.len()).collect());
        }
    }
    Ok((by_place, answers))
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

/// Appends `sql` to `out` with `$k` as `$(offset + k)` and `$0` as the literal `place`.
fn renumber(sql: &str, offset: usize, place: usize, out: &mut String) {
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while let Some((j, d)) = chars.peek().copied() {
            if !d.is_ascii_digit() {
                break;
            }
            end = j + 1;
            chars.next();
        }
        match sql[start..end].parse::<usize>() {
            Ok(0) => out.push_str(&place.to_string()),
            Ok(k) => {
                out.push('$');
                out.push_str(&(offset + k).to_string());
            }
            Err(_) => out.push('$'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Arg, Write, renumber};
    use crate::store::{Durability, Store};

    fn heartbeat(id: &str, table: &str) -> Write {
        Write {
            sql: format!(
                "INSERT INTO {table} (id, last_seen) VALUES ($1, $2) RETURNING $0 AS tag, id"
            ),
            args: vec![Arg::Text(id.into()), Arg::Int(1)],
            durability: Durability::Normal,
        }
    }

    #[tokio::test]
    async fn writes_waiting_together_share_a_call_and_a_bad_one_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url, 2).await.unwrap();
        // Hold the writer so that every write below is waiting when the queue gets it.
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
                let id: String = sqlx::Row::get(&rows[0], "id");
                assert_eq!(id, format!("r{i}"));
            }
        }
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replicas")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(stored, 19, "its neighbours are stored");
    }

    #[test]
    fn parameters_move_by_the_offset_and_the_tag_is_the_place() {
        let mut out = String::new();
        renumber(
            "UPDATE t SET a = $1, b = $12 WHERE c = $2 RETURNING $0 AS tag, id",
            10,
            3,
            &mut out,
        );
        assert_eq!(
            out,
            "UPDATE t SET a = $11, b = $22 WHERE c = $12 RETURNING 3 AS tag, id"
        );
        out.clear();
        renumber("SELECT '$' || $1", 0, 0, &mut out);
        assert_eq!(out, "SELECT '$' || $1");
    }
}
