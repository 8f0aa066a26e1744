//! The store on this crate's backend: dedupe, claims and leases, the push slot, responses.

use std::time::Duration;

use hrflow_relay::job::{Status, Step};
use hrflow_relay::store::careers::NewLetter;
use hrflow_relay::store::{AttemptRecord, Finish, Ingested, NewEvent, PushSlot, Store};
use serde_json::json;

use crate::helpers::TestDb;

async fn store() -> Option<(Store, TestDb)> {
    let db = TestDb::fresh().await?;
    Some((Store::connect(&db.url, 4).await.unwrap(), db))
}

fn event(id: &str, hash: &str) -> NewEvent {
    NewEvent {
        id: id.into(),
        body_hash: hash.into(),
        event_type: "t".into(),
        profile_key: "p".into(),
        source_key: "s".into(),
        ignored: None,
    }
}

fn record() -> AttemptRecord {
    AttemptRecord {
        started_at: 0,
        duration_ms: 1,
        step: Step::New,
        http_status: None,
        error: None,
        profile: None,
        email_hash: None,
        note: None,
        created: false,
    }
}

#[tokio::test]
async fn dedupe_window_and_jobs() {
    let Some((s, _db)) = store().await else {
        return;
    };
    let routes = vec!["a".to_string(), "b".to_string()];
    assert_eq!(
        s.ingest(&event("e1", "h"), &routes, 60_000).await.unwrap(),
        Ingested::Accepted {
            event_id: "e1".into(),
            jobs: 2
        }
    );
    assert_eq!(
        s.ingest(&event("e2", "h"), &routes, 60_000).await.unwrap(),
        Ingested::Duplicate {
            event_id: "e1".into()
        }
    );
    // Outside the window the same body is a new event.
    assert_eq!(
        s.ingest(&event("e3", "h"), &routes, -1).await.unwrap(),
        Ingested::Accepted {
            event_id: "e3".into(),
            jobs: 2
        }
    );
    assert_eq!(s.queue_gauges().await.unwrap().pending, 4);
}

#[tokio::test]
async fn a_group_commit_answers_each_event_as_one_by_one_would() {
    let Some((s, _db)) = store().await else {
        return;
    };
    let two = vec!["a".to_string(), "b".to_string()];
    let one = vec!["a".to_string()];
    s.ingest(&event("old", "h-old"), &one, 60_000)
        .await
        .unwrap();
    let batch = [
        event("e1", "h1"),
        event("e2", "h-old"), // accepted before: a duplicate of "old"
        event("e3", "h1"),    // the same body twice in one batch: one event
        event("e4", "h4"),
    ];
    let items: Vec<(&NewEvent, &[String])> = vec![
        (&batch[0], two.as_slice()),
        (&batch[1], one.as_slice()),
        (&batch[2], two.as_slice()),
        (&batch[3], one.as_slice()),
    ];
    let answers = s.ingest_many(&items, 60_000).await.unwrap();
    assert_eq!(
        answers,
        vec![
            Ingested::Accepted {
                event_id: "e1".into(),
                jobs: 2
            },
            Ingested::Duplicate {
                event_id: "old".into()
            },
            Ingested::Duplicate {
                event_id: "e1".into()
            },
            Ingested::Accepted {
                event_id: "e4".into(),
                jobs: 1
            },
        ]
    );
    // 1 (old) + 2 (e1) + 1 (e4) jobs, each naming its event.
    let jobs = s.jobs(None, 100).await.unwrap();
    let mut by_event: Vec<(String, String)> = jobs
        .iter()
        .map(|j| (j.event_id.clone(), j.route.clone()))
        .collect();
    by_event.sort();
    assert_eq!(
        by_event,
        [("e1", "a"), ("e1", "b"), ("e4", "a"), ("old", "a")]
            .map(|(e, r)| (e.to_string(), r.to_string()))
    );
    // A batch of 1,200 spans several statements; past the window, the same bodies are new events.
    let many: Vec<NewEvent> = (0..1200)
        .map(|i| event(&format!("m{i}"), &format!("hm{i}")))
        .collect();
    let items: Vec<(&NewEvent, &[String])> = many.iter().map(|e| (e, one.as_slice())).collect();
    let answers = s.ingest_many(&items, 60_000).await.unwrap();
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, Ingested::Accepted { jobs: 1, .. }))
    );
    assert_eq!(s.queue_gauges().await.unwrap().pending, 4 + 1200);
    let later: Vec<NewEvent> = (0..3)
        .map(|i| event(&format!("n{i}"), &format!("hm{i}")))
        .collect();
    let items: Vec<(&NewEvent, &[String])> = later.iter().map(|e| (e, one.as_slice())).collect();
    let again = s.ingest_many(&items, -1).await.unwrap();
    assert!(
        again.iter().all(|a| matches!(a, Ingested::Accepted { .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn concurrent_redeliveries_create_one_event() {
    let Some((s, _db)) = store().await else {
        return;
    };
    let routes = vec!["a".to_string()];
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            let routes = routes.clone();
            tokio::spawn(async move {
                s.ingest(&event(&format!("e{i}"), "same"), &routes, 60_000)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Ingested::Accepted { .. }) {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1);
    assert_eq!(s.jobs(None, 100).await.unwrap().len(), 1);
}

#[tokio::test]
async fn claims_lease_and_expired_leases_come_back() {
    let Some((s, _db)) = store().await else {
        return;
    };
    s.ingest(&event("e1", "h1"), &["a".into()], 0)
        .await
        .unwrap();
    s.ingest(&event("e2", "h2"), &["a".into()], 0)
        .await
        .unwrap();
    let j = s
        .claim("w1", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j.attempts, 1);
    // The second job is for the same route and profile: it waits for the first.
    assert!(
        s.claim("w2", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    sqlx::query("UPDATE jobs SET lease_until = 0")
        .execute(s.pool())
        .await
        .unwrap();
    let again = s
        .claim("w2", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (j.id, 2));
    // The old owner can no longer finish it.
    assert!(
        !s.finish(&j, "w1", &Finish::Delivered, &record())
            .await
            .unwrap()
    );
    assert!(
        s.finish(&j, "w2", &Finish::Delivered, &record())
            .await
            .unwrap()
    );
    assert_eq!(s.jobs(Some(Status::Delivered), 10).await.unwrap().len(), 1);
    assert_eq!(s.attempts(j.id).await.unwrap().len(), 2);
    // A deferral does not count as an attempt.
    let k = s
        .claim("w3", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(
        s.finish(
            &k,
            "w3",
            &Finish::Defer {
                at: 0,
                reason: "busy".into()
            },
            &record()
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.claim("w3", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap()
            .attempts,
        1
    );
}

#[tokio::test]
async fn concurrent_claims_never_share_a_job() {
    let Some((s, _db)) = store().await else {
        return;
    };
    for i in 0..40 {
        let mut e = event(&format!("e{i}"), &format!("h{i}"));
        e.profile_key = format!("p{i}");
        s.ingest(&e, &["a".into()], 0).await.unwrap();
    }
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(j) = s
                    .claim(&format!("w{w}"), Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    mine.push(j.id);
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (40, 40));
}

#[tokio::test]
async fn the_push_slot_admits_one_job() {
    let Some((s, _db)) = store().await else {
        return;
    };
    s.ingest(&event("e1", "h1"), &["a".into()], 0)
        .await
        .unwrap();
    s.ingest(&event("e2", "h2"), &["a".into()], 0)
        .await
        .unwrap();
    let first = s
        .claim("w1", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.acquire_push("a", "p", first.id).await.unwrap(),
        PushSlot::Free
    );
    // The same job asking again (a retry) finds its own unknown push.
    assert_eq!(
        s.acquire_push("a", "p", first.id).await.unwrap(),
        PushSlot::Unknown
    );
    // Another job, while the holder's lease is live: busy.
    let other = first.id + 1;
    assert_eq!(
        s.acquire_push("a", "p", other).await.unwrap(),
        PushSlot::Busy
    );
    // The holder died (lease expired): the slot is taken over, outcome unknown.
    sqlx::query("UPDATE jobs SET lease_until = 0")
        .execute(s.pool())
        .await
        .unwrap();
    assert_eq!(
        s.acquire_push("a", "p", other).await.unwrap(),
        PushSlot::Unknown
    );
    // An attempt that pushed marks the slot with its record, if the slot is its job's.
    let pushed = AttemptRecord {
        step: Step::reached("pushed"),
        created: true,
        ..record()
    };
    s.finish(&first, "w1", &Finish::Delivered, &pushed)
        .await
        .unwrap();
    assert_eq!(
        s.acquire_push("a", "p", other).await.unwrap(),
        PushSlot::Unknown,
        "the slot is no longer the first job's: left as it was"
    );
    // The holder's own record marks it, lease or not: the push did reach Flatchr.
    let other = hrflow_relay::store::ClaimedJob {
        id: other,
        ..first.clone()
    };
    s.finish(&other, "w2", &Finish::Delivered, &pushed)
        .await
        .unwrap();
    assert_eq!(
        s.acquire_push(&first.route, &first.profile_key, first.id)
            .await
            .unwrap(),
        PushSlot::Pushed
    );
}

#[tokio::test]
async fn responses_upsert_in_place_and_page_newest_first() {
    let Some((s, _db)) = store().await else {
        return;
    };
    let v = s
        .publish_vacancy(&json!({"position": "Dev"}))
        .await
        .unwrap();
    let letter = |c: &str| NewLetter {
        kind: "response".into(),
        comment: c.into(),
        author: None,
        created_at: None,
    };
    let id = s
        .upsert_response(v, "p", &json!({"first_name": "A"}), &[letter("one")], 2_000)
        .await
        .unwrap();
    let again = s
        .upsert_response(v, "p", &json!({"first_name": "B"}), &[letter("two")], 5_000)
        .await
        .unwrap();
    assert_eq!(id, again);
    let other = s
        .upsert_response(v, "q", &json!({"first_name": "C"}), &[], 2_999)
        .await
        .unwrap();
    let vacancy = s.vacancy(v).await.unwrap().unwrap();
    assert_eq!(vacancy.responses, 2);
    let page = s.responses_page(&vacancy, 0, 10).await.unwrap();
    // Same second: the higher id first; an update keeps the first `created`.
    assert_eq!(
        page.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [other, id]
    );
    assert_eq!(page.items[1].item["first_name"], "B");
    assert_eq!(page.items[1].created_at, 2_000);
    let letters = s.letters_page(id, 0, 10).await.unwrap();
    assert_eq!(
        (letters.found, letters.items[0].comment.as_str()),
        (1, "two")
    );
    assert!(s.unpublish_vacancy(v).await.unwrap());
    assert!(!s.edit_vacancy(v, &json!({"position": "x"})).await.unwrap());
    assert!(!s.unpublish_vacancy(v + 1).await.unwrap());
}

#[tokio::test]
async fn replicas_are_counted_while_they_heartbeat() {
    let Some((s, _db)) = store().await else {
        return;
    };
    assert_eq!(
        s.heartbeat_replica("a", Duration::from_secs(10))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.heartbeat_replica("b", Duration::from_secs(10))
            .await
            .unwrap(),
        2
    );
    s.remove_replica("a").await.unwrap();
    assert_eq!(
        s.heartbeat_replica("b", Duration::from_secs(10))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_job_of_a_process_whose_heartbeat_stopped_is_taken_back() {
    let Some((s, _db)) = store().await else {
        return;
    };
    for i in 0..3 {
        let mut e = event(&format!("e{i}"), &format!("h{i}"));
        e.profile_key = format!("p{i}");
        s.ingest(&e, &["a".into()], 0).await.unwrap();
    }
    let timeout = Some(Duration::from_secs(15));
    let lease = Duration::from_secs(600);
    // "alive" heartbeats now, "gone" stopped a minute ago, "never" has no heartbeat row.
    s.heartbeat_replica("alive", Duration::from_secs(10))
        .await
        .unwrap();
    s.heartbeat_replica("gone", Duration::from_secs(10))
        .await
        .unwrap();
    let mine = |owner: &'static str| {
        let s = s.clone();
        async move { s.claim_with(owner, lease, timeout).await.unwrap().unwrap() }
    };
    let (a, g, n) = (mine("alive").await, mine("gone").await, mine("never").await);
    // Then "gone" stops heartbeating (a minute ago).
    sqlx::query("UPDATE replicas SET last_seen = last_seen - 60000 WHERE id = 'gone'")
        .execute(s.pool())
        .await
        .unwrap();
    // Nothing is due but those three leased jobs: only the one of the process gone comes back.
    let back = s
        .claim_with("rescuer", lease, timeout)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.id, g.id);
    assert_eq!(back.attempts, 2);
    assert!(
        s.claim_with("rescuer", lease, timeout)
            .await
            .unwrap()
            .is_none()
    );
    // The process gone cannot finish it any more; the alive and never-registered keep theirs.
    assert!(
        !s.finish(&g, "gone", &Finish::Delivered, &record())
            .await
            .unwrap()
    );
    assert!(
        s.finish(&a, "alive", &Finish::Delivered, &record())
            .await
            .unwrap()
    );
    assert!(
        s.finish(&n, "never", &Finish::Delivered, &record())
            .await
            .unwrap()
    );
    // Without a timeout (`claim`), a lease is a lease.
    sqlx::query(
        "UPDATE jobs SET status = 'pending', lease_owner = 'gone', lease_until = $1 WHERE id = $2",
    )
    .bind(hrflow_relay::store::now_ms() + 600_000)
    .bind(a.id)
    .execute(s.pool())
    .await
    .unwrap_or_else(|_| panic!("reset"));
    assert!(s.claim("rescuer", lease).await.unwrap().is_none());
}

#[tokio::test]
async fn careers_data_outlives_its_vacancy_by_the_finished_period_only() {
    let Some((store, _db)) = store().await else {
        return;
    };
    let letter = NewLetter {
        kind: "cover".into(),
        comment: "a letter".into(),
        author: None,
        created_at: None,
    };
    let open = store
        .publish_vacancy(&json!({"position": "open"}))
        .await
        .unwrap();
    let closed = store
        .publish_vacancy(&json!({"position": "closed"}))
        .await
        .unwrap();
    for v in [open, closed] {
        store
            .upsert_response(
                v,
                "p1",
                &json!({"first_name": "A"}),
                &[letter.clone(), letter.clone()],
                0,
            )
            .await
            .unwrap();
    }
    assert!(store.unpublish_vacancy(closed).await.unwrap());
    let now = hrflow_relay::store::now_ms();
    let cutoffs = |unpublished_before| hrflow_relay::store::retention::Cutoffs {
        finished_before: 0,
        dead_before: 0,
        dedupe_before: 0,
        events_before: 0,
        unpublished_before,
    };
    // Unpublished a moment ago: kept.
    let kept = store.purge(cutoffs(now - 60_000)).await.unwrap().unwrap();
    assert_eq!((kept.vacancies, kept.responses, kept.letters), (0, 0, 0));
    // Its period over: the vacancy, its response and letters go; the published one stays.
    let gone = store.purge(cutoffs(now + 60_000)).await.unwrap().unwrap();
    assert_eq!((gone.vacancies, gone.responses, gone.letters), (1, 1, 2));
    assert!(store.vacancy(closed).await.unwrap().is_none());
    let open = store.vacancy(open).await.unwrap().unwrap();
    assert_eq!(store.responses_page(&open, 0, 20).await.unwrap().found, 1);
}

#[tokio::test]
async fn a_bulk_retry_matches_its_reason_as_plain_text() {
    let Some((s, _db)) = store().await else {
        return;
    };
    let reasons = [
        "flatchr push answered HTTP 401: expired",
        "50% of the resume is missing",
        "field a_b is required",
        "a path C:\\cv.pdf",
    ];
    for (i, reason) in reasons.iter().enumerate() {
        let mut e = event(&format!("e{i}"), &format!("h{i}"));
        e.profile_key = format!("p{i}");
        s.ingest(&e, &["a".into()], 0).await.unwrap();
        let job = s
            .claim("w", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert!(
            s.finish(&job, "w", &Finish::Dead(reason.to_string()), &record())
                .await
                .unwrap()
        );
    }
    let matching = |text: &str| hrflow_relay::store::control::JobFilter {
        status: Some(Status::Dead),
        reason: Some(text.into()),
        ..Default::default()
    };
    // LIKE's wildcards are characters like any other; the match ignores case.
    for (text, found) in [
        ("%", 1),
        ("_", 1),
        ("\\", 1),
        ("http 401", 1),
        ("a_", 1),
        ("x%y", 0),
        ("", 4),
    ] {
        let filter = hrflow_relay::store::control::JobFilter {
            reason: (!text.is_empty()).then(|| text.to_string()),
            ..matching(text)
        };
        assert_eq!(s.count_jobs(&filter).await.unwrap(), found, "{text:?}");
    }
    assert_eq!(s.retry_matching(&matching("%")).await.unwrap(), 1);
    let pending = s.jobs(Some(Status::Pending), 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].profile_key, "p1");
}
