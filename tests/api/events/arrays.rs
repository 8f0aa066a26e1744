//! Arrays of events: stored in one transaction and answered in order, refused whole when they
//! cannot be taken, nothing kept when the store fails.

use serde_json::{Value, json};

use super::{closed_config, post_signed, typed};
use crate::helpers::*;

#[tokio::test]
async fn an_array_is_stored_in_one_transaction_and_answered_in_order() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let app = spawn_stepped!(&base_config(&hrflow.url, &flatchr.url));
    let array = format!(
        "[{}, {}, {}, {}, {}, {}, {}]",
        event_body("arr-1", SOURCE),
        typed("arr-2", "profile.storing.success"),
        event_body("arr-1", SOURCE), // the same event twice: stored once
        r#"{"type": "profile.parsing.success", "profile": {"source": {}}}"#, // unidentifiable
        typed("arr-err", "profile.parsing.error"), // nothing to fetch
        r#"{"type": "job.parsing.success", "job": {"key": "j"}}"#,
        event_body("arr-3", SOURCE),
    );
    let r = app.post_event(&array).await;
    assert_eq!(r.status(), 202);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["status"], "accepted");
    let results = answer["results"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "accepted",
            "accepted",
            "duplicate",
            "rejected",
            "ignored",
            "ignored",
            "accepted"
        ]
    );
    assert_eq!(results[2]["event_id"], results[0]["event_id"]);
    assert!(results[3]["errors"]["profile.key"].is_array(), "{answer}");
    assert!(
        results[4]["reason"]
            .as_str()
            .unwrap()
            .contains("could not produce the profile"),
        "{answer}"
    );
    let jobs = app.dispatch().await;
    assert_eq!(jobs.len(), 3);
    assert_all_delivered(&jobs);
    assert_eq!(flatchr.candidates().len(), 3);

    // The same array again: a redelivery, answered element by element, nothing new.
    let r = app.post_event(&array).await;
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["results"][0]["event_id"], results[0]["event_id"]);
    assert_eq!(again["results"][6]["event_id"], results[6]["event_id"]);
    assert_eq!(app.jobs().await.len(), 3);

    // An element of an array and the same event alone are one event.
    let r = app.post_event(&event_body("arr-3", SOURCE)).await;
    let alone: Value = r.json().await.unwrap();
    assert_eq!(
        alone,
        json!({"status": "duplicate", "event_id": results[6]["event_id"]})
    );

    // The SDK form can carry an array in its header; the signature covers all of it.
    let payload = format!(
        "[{}, {}]",
        event_body("arr-4", SOURCE),
        event_body("arr-5", SOURCE)
    );
    let header =
        hrflow_relay::hrflow::signature::sdk_raw_header(SECRET.as_bytes(), payload.as_bytes());
    let (status, answer) = post_signed(&app, "HTTP-HRFLOW-SIGNATURE", &header, "").await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["results"].as_array().unwrap().len(), 2);
    // Changing one element of a signed array breaks the signature of the whole.
    let tampered = array.replace("arr-3", "arr-X");
    let (status, _) = post_signed(&app, "HTTP-HRFLOW-SIGNATURE", &sign(&array), &tampered).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn arrays_that_cannot_be_taken_are_refused_whole() {
    let app = spawn!(&closed_config());
    // Empty, over the cap, and every element rejected: 400/413 with the errors shape.
    let over = format!(
        "[{}]",
        vec![event_body("p", SOURCE); hrflow_relay::hrflow::event::MAX_EVENTS + 1].join(",")
    );
    let rejected = r#"[3, {"profile": {"key": "k"}}]"#;
    for (body, expected) in [
        ("[]", 400),
        (over.as_str(), 413),
        (rejected, 400),
        ("[1,", 400),
    ] {
        let r = app.post_event(body).await;
        assert_eq!(
            r.status().as_u16(),
            expected,
            "{}",
            &body[..body.len().min(40)]
        );
        let answer: Value = r.json().await.unwrap();
        assert_error_shape(&answer);
        if body == rejected {
            assert!(
                answer["errors"]["[1].profile.source.key"].is_array(),
                "{answer}"
            );
        }
    }
    // Nothing but ignored events: 200, not 202.
    let ignored = format!(
        "[{}, {}]",
        typed("p", "profile.storing.error"),
        typed("p", "job.x")
    );
    let r = app.post_event(&ignored).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["status"], "ignored");
    assert!(app.jobs().await.is_empty());
}

/// Makes every insert of an event for `profile_key` fail inside the store.
async fn fail_inserts_for(app: &TestApp, profile_key: &str) {
    let pool = app.store().pool();
    match crate::BACKEND {
        Backend::Sqlite => {
            sqlx::query(&format!(
                "CREATE TRIGGER fail_one BEFORE INSERT ON events WHEN NEW.profile_key = '{profile_key}'
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            ))
            .execute(pool)
            .await
            .unwrap();
        }
        Backend::Postgres => {
            sqlx::raw_sql(&format!(
                "CREATE FUNCTION fail_one() RETURNS trigger AS $f$ BEGIN
                   IF NEW.profile_key = '{profile_key}' THEN RAISE EXCEPTION 'injected failure'; END IF;
                   RETURN NEW; END $f$ LANGUAGE plpgsql;
                 CREATE TRIGGER fail_one BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION fail_one();"
            ))
            .execute(pool)
            .await
            .unwrap();
        }
    }
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.store().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_array_whose_store_fails_answers_503_and_keeps_nothing() {
    let app = spawn!(&closed_config());
    fail_inserts_for(&app, "boom").await;
    let array = format!(
        "[{}, {}, {}]",
        event_body("ok-1", SOURCE),
        event_body("boom", SOURCE),
        event_body("ok-2", SOURCE)
    );
    let r = app.post_event(&array).await;
    assert_eq!(r.status(), 503);
    assert_error_shape(&r.json().await.unwrap());
    for table in ["events", "event_dedupe", "jobs"] {
        assert_eq!(
            count(&app, table).await,
            0,
            "{table} kept part of the array"
        );
    }
    // Once the store takes it, HrFlow's redelivery is accepted whole, not a duplicate.
    let drop = match crate::BACKEND {
        Backend::Sqlite => "DROP TRIGGER fail_one",
        Backend::Postgres => "DROP TRIGGER fail_one ON events",
    };
    sqlx::query(drop).execute(app.store().pool()).await.unwrap();
    let r = app.post_event(&array).await;
    assert_eq!(r.status(), 202);
    let answer: Value = r.json().await.unwrap();
    assert!(
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "accepted"),
        "{answer}"
    );
    assert_eq!(count(&app, "jobs").await, 3);
}
