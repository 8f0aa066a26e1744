//! Replicas: counted while they heartbeat, their jobs taken back once the heartbeat stops.

use std::time::Duration;

use hrflow_relay::store::Finish;

use super::{event, record, store};

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
