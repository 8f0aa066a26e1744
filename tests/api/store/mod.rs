//! The store on this crate's backend: dedupe, claims and leases, the push slot, responses.

mod careers;
mod claims;
mod replicas;

use std::time::Duration;

use hrflow_relay::job::{Status, Step};
use hrflow_relay::store::{AttemptRecord, Finish, Ingested, NewEvent, Store};

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
