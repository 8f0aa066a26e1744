//! The careers data: responses upserted in place and paged newest first, kept past their
//! vacancy for the finished period only.

use hrflow_relay::store::careers::NewLetter;
use serde_json::json;

use super::store;

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
