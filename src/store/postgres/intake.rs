//! PostgreSQL's intake: a batch of events in one transaction, with a multi-row statement per
//! table (SQLite's writer thread runs a prepared statement per row: `sqlite/intake.rs`).

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use crate::store::intake::Plan;
use crate::store::sql::{ROWS_PER_STATEMENT, placeholders, tuples};
use crate::store::{Durability, Ingested, NewEvent, Store, StoreError};

/// Events with the routes that take them, in the order they came.
type Events<'a> = [(&'a NewEvent, &'a [String])];

impl Store {
    /// Stores `all` (see `ingest_many`); RETURNING names the bodies accepted.
    pub(in crate::store) async fn ingest_postgres(
        &self,
        all: &Events<'_>,
        now: i64,
        window_ms: i64,
    ) -> Result<Vec<Ingested>, StoreError> {
        let plan = Plan::of(all);
        let events = plan.firsts.as_slice();
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        // A paused route's new jobs are made paused. The rows are share-locked: a resume
        // (which deletes its row, then unpauses its jobs) waits for this commit, so it sees
        // the jobs made here.
        let paused = self.paused_in(&mut tx).await?;
        // 1. The dedupe keys, 2. who holds the others.
        let fresh = take_dedupe_keys(&mut tx, events, now, now - window_ms).await?;
        let mut holders = holders_of_others(&mut tx, events, &fresh).await?;
        // 3. The new events, and 4. their jobs.
        let stored: Vec<&(&NewEvent, &[String])> = events
            .iter()
            .filter(|(e, _)| fresh.contains(&e.body_hash))
            .collect();
        insert_events(&mut tx, &stored, now).await?;
        insert_jobs(&mut tx, &stored, &paused, now).await?;
        for (e, _) in stored {
            holders.insert(e.body_hash.clone(), e.id.clone());
        }
        let answers = plan.answers(all, &holders);
        // 5. The events log: duplicates and ignored events.
        log_events(&mut tx, all, &answers, now).await?;
        tx.commit().await?;
        Ok(answers)
    }
}

/// The bodies whose dedupe key this batch now holds: new, or last accepted before `cutoff`
/// (RETURNING names them).
async fn take_dedupe_keys(
    conn: &mut AnyConnection,
    events: &Events<'_>,
    now: i64,
    cutoff: i64,
) -> Result<HashSet<String>, StoreError> {
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
        for row in q.bind(cutoff).fetch_all(&mut *conn).await? {
            fresh.insert(row.get::<String, _>(0));
        }
    }
    Ok(fresh)
}

/// The event holding each body that is not `fresh`, by body hash.
async fn holders_of_others(
    conn: &mut AnyConnection,
    events: &Events<'_>,
    fresh: &HashSet<String>,
) -> Result<HashMap<String, String>, StoreError> {
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
        for row in q.fetch_all(&mut *conn).await? {
            holders.insert(row.get(0), row.get(1));
        }
    }
    Ok(holders)
}

async fn insert_events(
    conn: &mut AnyConnection,
    stored: &[&(&NewEvent, &[String])],
    now: i64,
) -> Result<(), StoreError> {
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
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// One job per route of each stored event, paused if its route is.
async fn insert_jobs(
    conn: &mut AnyConnection,
    stored: &[&(&NewEvent, &[String])],
    paused: &HashSet<String>,
    now: i64,
) -> Result<(), StoreError> {
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
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The events log's rows for what was not accepted: a duplicate names the event holding its
/// body, an ignored one says why.
async fn log_events(
    conn: &mut AnyConnection,
    all: &Events<'_>,
    answers: &[Ingested],
    now: i64,
) -> Result<(), StoreError> {
    let logged: Vec<(&NewEvent, &str, Option<&str>, Option<&str>)> = all
        .iter()
        .zip(answers)
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
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
