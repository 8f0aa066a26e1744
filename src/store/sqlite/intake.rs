//! SQLite's intake, run by the writer thread inside its batch's transaction: a prepared
//! statement per row, with no trip between threads (PostgreSQL's is `postgres/intake.rs`).

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;

use crate::store::intake::Plan;
use crate::store::{Ingested, NewEvent};

/// Events arriving together, each with the routes it makes a job on.
pub(crate) type Events = Vec<(NewEvent, Vec<String>)>;

/// One request's events: each body's first event, with its jobs, is stored where the dedupe
/// key now names it (new, or last accepted before the window); the others are duplicates of
/// whichever event holds their body.
pub(super) fn intake(
    conn: &Connection,
    events: &Events,
    window_ms: i64,
) -> Result<Vec<Ingested>, rusqlite::Error> {
    let now = crate::store::now_ms();
    let cutoff = now - window_ms;
    let events: Vec<(&NewEvent, &[String])> =
        events.iter().map(|(e, r)| (e, r.as_slice())).collect();
    let plan = Plan::of(&events);
    let holders = store_firsts(conn, &plan, now, cutoff)?;
    let answers = plan.answers(&events, &holders);
    log_the_others(conn, &events, &answers, now)?;
    Ok(answers)
}

/// Takes each body's dedupe key and stores its first event with one job per route; answers
/// which event holds each body (this batch's, or one accepted within the window).
fn store_firsts(
    conn: &Connection,
    plan: &Plan<'_>,
    now: i64,
    cutoff: i64,
) -> Result<HashMap<String, String>, rusqlite::Error> {
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
    Ok(holders)
}

/// The routes an operator paused: their new jobs are made paused (out of the due index).
fn paused_routes(conn: &Connection) -> Result<HashSet<String>, rusqlite::Error> {
    let mut q = conn.prepare_cached("SELECT route FROM route_pauses")?;
    q.query_map((), |r| r.get(0))?.collect()
}

/// The events log: a duplicate names the event holding its body; an ignored one says why.
fn log_the_others(
    conn: &Connection,
    events: &[(&NewEvent, &[String])],
    answers: &[Ingested],
    now: i64,
) -> Result<(), rusqlite::Error> {
    let mut logged = conn.prepare_cached(
        "INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at, outcome, reason, original_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for ((e, _), answer) in events.iter().zip(answers) {
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
    Ok(())
}
