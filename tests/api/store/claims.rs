//! Claims and leases: an expired lease comes back, concurrent claims never share a job, the
//! push slot admits one job.

use std::time::Duration;

use hrflow_relay::job::{Status, Step};
use hrflow_relay::store::{AttemptRecord, Finish, PushSlot};

use super::{event, record, store};

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
