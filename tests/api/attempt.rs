//! One attempt, driven directly: a test claims a job and runs `Attempts::run` on it, with no
//! worker loop to wait for.

use std::sync::Arc;
use std::time::Duration;

use hrflow_relay::config::Settings;
use hrflow_relay::store::{Finish, NewEvent, Store};

use crate::helpers::*;

#[tokio::test]
async fn one_attempt_delivers_then_a_failure_is_decided_without_a_loop() {
    let Some(db) = TestDb::fresh().await else {
        return;
    };
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let path = db.dir.path().join("relay.toml");
    std::fs::write(&path, base_config(&hrflow.url, &flatchr.url)).unwrap();
    let settings = Settings::load_from(Some(&path), Default::default()).unwrap();
    let scripts = hrflow_relay::startup::check(&settings).unwrap();
    let store = Store::connect(&db.url, 2).await.unwrap();
    let settings = Arc::new(settings);
    let attempts =
        hrflow_relay::startup::attempts(&settings, scripts, &store, &reqwest::Client::new(), None);
    let routes = vec!["flatchr".to_string()];
    for (i, key) in ["direct-1", "direct-2"].iter().enumerate() {
        let event = NewEvent {
            id: format!("e{i}"),
            body_hash: format!("h{i}"),
            event_type: "profile.parsing.success".into(),
            profile_key: key.to_string(),
            source_key: SOURCE.into(),
            ignored: None,
        };
        store.ingest(&event, &routes, 60_000).await.unwrap();
    }
    let lease = Duration::from_secs(30);
    let job = store.claim(&attempts.owner, lease).await.unwrap().unwrap();
    assert_eq!(attempts.run(job).await, Finish::Delivered);
    assert_eq!(flatchr.candidates().len(), 1);
    assert_eq!(flatchr.enriched().len(), 1);

    // Flatchr down: the attempt is decided as a retry, at once, with its attempt recorded.
    flatchr.faults(vec![Fault::Status(503, None)], vec![]);
    let job = store.claim(&attempts.owner, lease).await.unwrap().unwrap();
    let id = job.id;
    assert!(matches!(attempts.run(job).await, Finish::Retry { .. }));
    let tried = store.attempts(id).await.unwrap();
    assert_eq!(
        (tried.len(), tried[0].http_status, tried[0].outcome.as_str()),
        (1, Some(503), "retry")
    );
}
