//! SQLite's one writer: a thread that owns a rusqlite connection and commits whatever the
//! event endpoint and the worker sent while it was busy as one IMMEDIATE transaction, with
//! prepared statements and one commit (FULL if any write needs it). A caller crosses threads
//! once each way. A write that fails is taken out and the rest run again without it, so one bad
//! write never refuses its neighbours. Colder writes (retention, careers, backfill, operators)
//! keep sqlx's connection; while one of them holds it, this thread waits (`Item::Pause`).

use std::path::PathBuf;

use rusqlite::{Connection, ErrorCode};
use tokio::sync::{mpsc, oneshot};

use super::intake::{Events, intake};
use super::statements::statements;
use crate::store::write::{Row, Write};
use crate::store::{Durability, Ingested, StoreError};

/// A batch stops growing at this many bound values (a bound on the time one batch holds the
/// write lock, and on the memory its answers take).
const MAX_ARGS: usize = 20_000;

/// The longest the thread waits for a lent connection (see `Item::Pause`).
const PAUSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How often, at most, the writer copies the WAL into the database between batches.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// Prepared statements kept: the hot writes are a dozen texts, whatever the batch holds.
const KEPT_STATEMENTS: usize = 64;

/// What the thread is sent: writes to batch, or a word about its connection.
pub(crate) enum Item {
    /// A write of the worker's (or another hot one), answered the rows it returned.
    Write(Write, oneshot::Sender<Result<Vec<Row>, StoreError>>),
    /// One request's events: they stand or fall together, answered in order.
    Intake {
        /// Each event with the routes that take it.
        events: Events,
        /// The dedupe window: a body accepted within it is a duplicate.
        window_ms: i64,
        /// Where the request waits for one answer per event.
        reply: oneshot::Sender<Result<Vec<Ingested>, StoreError>>,
    },
    /// Another connection is about to write: say when this thread has stopped, and wait until
    /// `resume` is dropped. Without it, that connection would poll SQLite's lock while this
    /// thread, under load, takes it back batch after batch.
    Pause {
        /// Told once the thread has stopped (what it held committed).
        paused: oneshot::Sender<()>,
        /// Disconnected when the other writer is done: the thread goes on.
        resume: std::sync::mpsc::Receiver<()>,
    },
    /// The store is closing: let the connection go and stop.
    Close(oneshot::Sender<()>),
}

impl Item {
    /// What the item adds to a batch, counted in bound values (see `MAX_ARGS`).
    fn weight(&self) -> usize {
        match self {
            Item::Write(w, _) => w.args.len(),
            Item::Intake { events, .. } => events.len() * 5,
            Item::Pause { .. } | Item::Close(_) => 0,
        }
    }
}

/// Starts the thread for the database at `path`; it ends when every sender is gone.
pub(crate) fn start(path: PathBuf) -> mpsc::Sender<Item> {
    let (tx, rx) = mpsc::channel(1024);
    let spawned = std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || run(path, rx));
    if let Err(e) = spawned {
        // The receiver is gone with the closure: every write answers "shutting down".
        tracing::error!(error = %e, "cannot start the SQLite writer thread");
    }
    tx
}

/// What a batch's item answers once the batch commits.
enum Answer {
    Rows(Vec<Row>),
    Ingested(Vec<Ingested>),
}

fn run(path: PathBuf, mut rx: mpsc::Receiver<Item>) {
    let mut writer = Thread {
        path,
        conn: None,
        level: None,
        unchecked: None,
    };
    let mut next = None;
    loop {
        let Some(first) = next.take().or_else(|| rx.blocking_recv()) else {
            return;
        };
        let mut batch = Vec::new();
        let mut weight = 0;
        let mut stop = Some(first);
        while let Some(item) = stop.take() {
            match item {
                Item::Pause { .. } | Item::Close(_) if !batch.is_empty() => {
                    // What came before it commits first.
                    next = Some(item);
                    break;
                }
                Item::Pause { paused, resume } => {
                    // Err(Disconnected) when the other writer is done (its guard is dropped).
                    if paused.send(()).is_ok()
                        && resume.recv_timeout(PAUSE_LIMIT)
                            == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    {
                        // Correct either way (SQLite's lock orders the two connections): this
                        // only stops a lender that waits on a hot write from waiting forever.
                        tracing::warn!(
                            "the colder writes' connection was lent for over {} s; writing alongside it",
                            PAUSE_LIMIT.as_secs()
                        );
                    }
                    break;
                }
                Item::Close(done) => {
                    writer.conn = None;
                    let _ = done.send(());
                    return;
                }
                item => {
                    weight += item.weight();
                    batch.push(item);
                    if weight < MAX_ARGS {
                        stop = rx.try_recv().ok();
                    }
                }
            }
        }
        if !batch.is_empty() {
            writer.commit(batch);
            writer.checkpoint(rx.is_empty());
        }
    }
}

/// The thread's state between batches.
struct Thread {
    /// The database file, opened again after a connection was let go.
    path: PathBuf,
    /// The connection, once opened; None after a failed rollback or a close.
    conn: Option<Connection>,
    /// The connection's `synchronous` level as last set.
    level: Option<Durability>,
    /// When the first batch after the last checkpoint committed.
    unchecked: Option<std::time::Instant>,
}

/// Why a batch stopped: one item's own fault (it fails alone), or the database's (all fail).
enum Fault {
    Item(usize, StoreError),
    All(StoreError),
}

impl Thread {
    fn connection(&mut self) -> Result<&mut Connection, StoreError> {
        if self.conn.is_none() {
            let conn = Connection::open(&self.path)?;
            // As sqlx's connections are set up (see `Store::lazy`).
            conn.execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA busy_timeout = 10000;
                 PRAGMA foreign_keys = ON;
                 PRAGMA secure_delete = ON;
                 PRAGMA wal_autocheckpoint = 4000;",
            )?;
            conn.set_prepared_statement_cache_capacity(KEPT_STATEMENTS);
            self.level = Some(Durability::Full);
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or(StoreError::Closed)
    }

    /// Copies the WAL back into the database when nothing waits, at most every
    /// `CHECKPOINT_EVERY`: SQLite's own checkpoint runs inside the commit that crosses its
    /// threshold, and the callers of that batch (events among them) waited for it. SQLite's
    /// own, at a higher threshold, still bounds the WAL when the writer never idles.
    fn checkpoint(&mut self, idle: bool) {
        let since = *self.unchecked.get_or_insert_with(std::time::Instant::now);
        if !idle || since.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        // PASSIVE: copies what no reader still needs and never waits; a later one does the rest.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed; SQLite's own will run");
        }
        self.unchecked = None;
    }

    /// Commits `batch` and answers each item; an item at fault is answered its error and the
    /// others run again without it.
    fn commit(&mut self, mut batch: Vec<Item>) {
        while !batch.is_empty() {
            match self.transaction(&batch) {
                Ok(answers) => {
                    for (item, answer) in batch.into_iter().zip(answers) {
                        reply(item, Ok(answer));
                    }
                    return;
                }
                Err(Fault::Item(i, e)) => {
                    if batch.len() > 1 {
                        tracing::warn!(error = %e, callers = batch.len(), "a batched write failed; the others are written without it");
                    }
                    reply(batch.remove(i), Err(e));
                }
                Err(Fault::All(e)) => {
                    let Some(last) = batch.pop() else { return };
                    for item in batch {
                        reply(item, Err(StoreError::Write(e.to_string())));
                    }
                    reply(last, Err(e));
                    return;
                }
            }
        }
    }

    /// Runs the batch's items in one transaction, committed at the level the most durable
    /// of them needs; on a failure, rolls back and says whose fault it was.
    fn transaction(&mut self, batch: &[Item]) -> Result<Vec<Answer>, Fault> {
        let durability = durability_of(batch);
        let conn = self.at_level(durability)?;
        conn.prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut s| s.raw_execute())
            .map_err(|e| Fault::All(e.into()))?;
        let mut answers = Vec::with_capacity(batch.len());
        for (i, item) in batch.iter().enumerate() {
            match run_item(conn, item) {
                Ok(answer) => answers.push(answer),
                Err(e) => {
                    let whose = blame(&e);
                    self.rollback();
                    return Err(if whose {
                        Fault::Item(i, e.into())
                    } else {
                        Fault::All(e.into())
                    });
                }
            }
        }
        let started = std::time::Instant::now();
        let committed = conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.raw_execute());
        let sync = match durability {
            Durability::Full => "full",
            Durability::Normal => "normal",
        };
        crate::telemetry::committed_in(sync, started.elapsed().as_secs_f64());
        if let Err(e) = committed {
            self.rollback();
            return Err(Fault::All(e.into()));
        }
        Ok(answers)
    }

    /// The connection (opened if need be), its `synchronous` level set to `durability`'s.
    fn at_level(&mut self, durability: Durability) -> Result<&mut Connection, Fault> {
        let level = self.level;
        let conn = self.connection().map_err(Fault::All)?;
        if level != Some(durability) {
            let pragma = match durability {
                Durability::Full => "PRAGMA synchronous = FULL",
                Durability::Normal => "PRAGMA synchronous = NORMAL",
            };
            conn.execute_batch(pragma)
                .map_err(|e| Fault::All(e.into()))?;
        }
        self.level = Some(durability);
        self.conn.as_mut().ok_or(Fault::All(StoreError::Closed))
    }

    /// Ends the open transaction; a connection that cannot is let go (the next batch opens
    /// another, and SQLite rolls back what a closed connection left).
    fn rollback(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            self.conn = None;
            self.level = None;
        }
    }
}

/// FULL if any item needs it (events always do: a 202 rests on them), else NORMAL.
fn durability_of(batch: &[Item]) -> Durability {
    if batch.iter().any(|i| {
        matches!(i, Item::Intake { .. })
            || matches!(i, Item::Write(w, _) if w.durability == Durability::Full)
    }) {
        Durability::Full
    } else {
        Durability::Normal
    }
}

/// One item's statements, inside the batch's transaction.
fn run_item(conn: &Connection, item: &Item) -> Result<Answer, rusqlite::Error> {
    match item {
        Item::Write(w, _) => statements(conn, w).map(Answer::Rows),
        Item::Intake {
            events, window_ms, ..
        } => intake(conn, events, *window_ms).map(Answer::Ingested),
        Item::Pause { .. } | Item::Close(_) => Ok(Answer::Rows(Vec::new())),
    }
}

/// Whether a failure is the write's own (its SQL, its values) rather than the database's (the
/// disk, the lock), which every other write of the batch would meet as well.
fn blame(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => matches!(
            f.code,
            ErrorCode::ConstraintViolation
                | ErrorCode::Unknown
                | ErrorCode::TypeMismatch
                | ErrorCode::ParameterOutOfRange
                | ErrorCode::TooBig
        ),
        _ => true,
    }
}

fn reply(item: Item, answer: Result<Answer, StoreError>) {
    match item {
        Item::Write(_, reply) => {
            let _ = reply.send(answer.map(|a| match a {
                Answer::Rows(rows) => rows,
                Answer::Ingested(_) => Vec::new(),
            }));
        }
        Item::Intake { reply, .. } => {
            let _ = reply.send(answer.map(|a| match a {
                Answer::Ingested(answers) => answers,
                Answer::Rows(_) => Vec::new(),
            }));
        }
        Item::Pause { .. } | Item::Close(_) => {}
    }
}
