//! SQLite's one writer: a thread that owns a rusqlite connection and commits whatever the
//! event endpoint and the worker sent while it was busy as one IMMEDIATE transaction, with
//! prepared statements and one commit (FULL if any write needs it). A caller crosses threads
//! once each way. A write that fails is taken out and the rest run again without it, so one bad
//! write never refuses its neighbours. Colder writes (retention, careers, backfill, operators)
//! keep sqlx's connection; while one of them holds it, this thread waits (`Item::Pause`).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode};
use tokio::sync::{mpsc, oneshot};

use crate::store::intake::Plan;
use crate::store::write::{Arg, Row, Value, Write};
use crate::store::{Durability, Ingested, NewEvent, StoreError};

/// A batch stops growing at this many bound values (a bound on the time one batch holds the
/// write lock, and on the memory its answers take).
const MAX_ARGS: usize = 20_000;

/// The longest the thread waits for a lent connection (see `Item::Pause`).
const PAUSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How often, at most, the writer copies the WAL into the database between batches.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// Prepared statements kept: the hot writes are a dozen texts, whatever the batch holds.
const KEPT_STATEMENTS: usize = 64;

pub(crate) type Events = Vec<(NewEvent, Vec<String>)>;

pub(crate) enum Item {
    Write(Write, oneshot::Sender<Result<Vec<Row>, StoreError>>),
    /// One request's events: they stand or fall together, answered in order.
    Intake {
        events: Events,
        window_ms: i64,
        reply: oneshot::Sender<Result<Vec<Ingested>, StoreError>>,
    },
    /// Another connection is about to write: say when this thread has stopped, and wait until
    /// `resume` is dropped. Without it, that connection would poll SQLite's lock while this
    /// thread, under load, takes it back batch after batch.
    Pause {
        paused: oneshot::Sender<()>,
        resume: std::sync::mpsc::Receiver<()>,
    },
    /// The store is closing: let the connection go and stop.
    Close(oneshot::Sender<()>),
}

impl Item {
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

struct Thread {
    path: PathBuf,
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

    fn transaction(&mut self, batch: &[Item]) -> Result<Vec<Answer>, Fault> {
        let durability = if batch.iter().any(|i| {
            matches!(i, Item::Intake { .. })
                || matches!(i, Item::Write(w, _) if w.durability == Durability::Full)
        }) {
            Durability::Full
        } else {
            Durability::Normal
        };
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
        let conn = self.conn.as_mut().ok_or(Fault::All(StoreError::Closed))?;
        conn.prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut s| s.raw_execute())
            .map_err(|e| Fault::All(e.into()))?;
        let mut answers = Vec::with_capacity(batch.len());
        for (i, item) in batch.iter().enumerate() {
            let answer = match item {
                Item::Write(w, _) => statements(conn, w).map(Answer::Rows),
                Item::Intake {
                    events, window_ms, ..
                } => intake(conn, events, *window_ms).map(Answer::Ingested),
                Item::Pause { .. } | Item::Close(_) => Ok(Answer::Rows(Vec::new())),
            };
            match answer {
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

/// Runs a write's statements in order, each bound to the parameters it names; the rows they
/// return.
fn statements(conn: &Connection, write: &Write) -> Result<Vec<Row>, rusqlite::Error> {
    let mut rows = Vec::new();
    for sql in &write.sql {
        let mut stmt = conn.prepare_cached(sql)?;
        for index in 1..=stmt.parameter_count() {
            match write.args.get(index - 1) {
                Some(Arg::Int(v)) => stmt.raw_bind_parameter(index, v)?,
                Some(Arg::Text(v)) => stmt.raw_bind_parameter(index, v)?,
                Some(Arg::MaybeInt(v)) => stmt.raw_bind_parameter(index, v)?,
                Some(Arg::MaybeText(v)) => stmt.raw_bind_parameter(index, v)?,
                None => {
                    return Err(rusqlite::Error::InvalidParameterCount(
                        index,
                        write.args.len(),
                    ));
                }
            }
        }
        let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
        let mut found = stmt.raw_query();
        while let Some(row) = found.next()? {
            let values = (0..names.len())
                .map(|i| row.get_ref(i).map(value))
                .collect::<Result<_, _>>()?;
            rows.push(Row::new(&names, values));
        }
    }
    Ok(rows)
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Int(f as i64),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into()),
    }
}

/// The routes an operator paused: their new jobs are made paused (out of the due index).
fn paused_routes(conn: &Connection) -> Result<HashSet<String>, rusqlite::Error> {
    let mut q = conn.prepare_cached("SELECT route FROM route_pauses")?;
    q.query_map((), |r| r.get(0))?.collect()
}

/// One request's events: each body's first event, with its jobs, is stored where the dedupe
/// key now names it (new, or last accepted before the window); the others are duplicates of
/// whichever event holds their body.
fn intake(
    conn: &Connection,
    events: &Events,
    window_ms: i64,
) -> Result<Vec<Ingested>, rusqlite::Error> {
    let now = crate::store::now_ms();
    let cutoff = now - window_ms;
    let events: Vec<(&NewEvent, &[String])> =
        events.iter().map(|(e, r)| (e, r.as_slice())).collect();
    let plan = Plan::of(&events);
    let mut take = conn.prepare_cached(
        "INSERT INTO event_dedupe (body_hash, event_id, received_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (body_hash) DO UPDATE SET event_id = excluded.event_id, received_at = excluded.received_at
         WHERE event_dedupe.received_at < ?4
         RETURNING event_id",
    )?;
    let mut holder =
        conn.prepare_cached("SELECT event_id FROM event_dedupe WHERE body_hash = ?1")?;
    let mut event = conn.prepare_cached(
        "INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut job = conn.prepare_cached(
        "INSERT INTO jobs (event_id, route, profile_key, source_key, next_attempt_at, created_at, updated_at, paused)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, ?6)",
    )?;
    let paused = paused_routes(conn)?;
    let mut holders: HashMap<String, String> = HashMap::with_capacity(plan.firsts.len());
    for (e, routes) in &plan.firsts {
        let fresh = take
            .query((&e.body_hash, &e.id, now, cutoff))?
            .next()?
            .is_some();
        if !fresh {
            let held: Option<String> = holder
                .query((&e.body_hash,))?
                .next()?
                .map(|r| r.get(0))
                .transpose()?;
            if let Some(held) = held {
                holders.insert(e.body_hash.clone(), held);
            }
            continue;
        }
        event.execute((
            &e.id,
            &e.body_hash,
            &e.event_type,
            &e.profile_key,
            &e.source_key,
            now,
        ))?;
        for route in routes.iter() {
            let paused = i64::from(paused.contains(route.as_str()));
            job.execute((&e.id, route, &e.profile_key, &e.source_key, now, paused))?;
        }
        holders.insert(e.body_hash.clone(), e.id.clone());
    }
    let answers = plan.answers(&events, &holders);
    // The events log: a duplicate names the event holding its body; an ignored one says why.
    let mut logged = conn.prepare_cached(
        "INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at, outcome, reason, original_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for ((e, _), answer) in events.iter().zip(&answers) {
        let (outcome, reason, original) = match answer {
            Ingested::Accepted { .. } => continue,
            Ingested::Duplicate { event_id } => ("duplicate", None, Some(event_id)),
            Ingested::Ignored { reason } => ("ignored", Some(reason), None),
        };
        logged.execute((
            &e.id,
            &e.body_hash,
            &e.event_type,
            &e.profile_key,
            &e.source_key,
            now,
            outcome,
            reason,
            original,
        ))?;
    }
    Ok(answers)
}
