//! `POST /hrflow/events`: every answer of the contract, and the error shape of every 4xx.

use base64::Engine as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// Nothing is delivered in these tests: upstreams point at a closed port.
fn closed_config() -> String {
    base_config("http://127.0.0.1:9", "http://127.0.0.1:9")
}

#[tokio::test]
async fn accepted_then_duplicate_within_the_window() {
    let app = spawn!(&closed_config());
    let body = event_body("p1", SOURCE);
    let r = app.post_event(&body).await;
    assert_eq!(r.status(), 202);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["status"], "accepted");
    assert_eq!(first["jobs"], 1);
    let r = app.post_event(&body).await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    assert_eq!(
        second,
        json!({"status": "duplicate", "event_id": first["event_id"]})
    );
    assert_eq!(app.jobs().await.len(), 1, "a redelivery creates no job");
    // A different event type for the same profile is a new event.
    let other = body.replace("parsing.success", "storing.success");
    assert_eq!(app.post_event(&other).await.status(), 202);
    assert_eq!(app.jobs().await.len(), 2);
}

#[tokio::test]
async fn sdk_signature_carries_the_event_in_the_header() {
    let app = spawn!(&closed_config());
    let payload = event_body("p-sdk", SOURCE);
    let header = hrflow_relay::hrflow::signature::sdk_header(SECRET.as_bytes(), payload.as_bytes());
    for name in ["HTTP-HRFLOW-SIGNATURE", "HRFLOW-SIGNATURE"] {
        let r = app
            .http
            .post(format!("{}/hrflow/events", app.address))
            .header("Content-Type", "application/json")
            .header(name, &header)
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(
            status == 202 || body["status"] == "duplicate",
            "{name}: {status} {body}"
        );
    }
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].profile_key, "p-sdk");
    // A payload swapped inside a valid-looking header is refused.
    let (sig, _) = header.split_once('.').unwrap();
    let forged = format!(
        "{sig}.{}",
        base64::engine::general_purpose::URL_SAFE.encode(event_body("evil", SOURCE))
    );
    let r = app
        .http
        .post(format!("{}/hrflow/events", app.address))
        .header("HTTP-HRFLOW-SIGNATURE", forged)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn ignored_without_profile_or_route() {
    let config = closed_config().replace(
        "vacancy = \"k0M5O9ylKZnxbQBy\"",
        "vacancy = \"k0M5O9ylKZnxbQBy\"\nsources = [\"only-this-source\"]",
    );
    let app = spawn!(&config);
    let r = app
        .post_event(r#"{"type": "job.parsing.success", "job": {"key": "j"}}"#)
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ignored");
    assert!(body["reason"].as_str().unwrap().contains("no profile"));
    let r = app.post_event(&event_body("p", "another-source")).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ignored");
    assert!(body["reason"].as_str().unwrap().contains("no route"));
    assert!(app.jobs().await.is_empty());
}

#[tokio::test]
async fn every_client_error_has_the_errors_shape() {
    let app = spawn!(&closed_config());
    let url = format!("{}/hrflow/events", app.address);
    let cases: Vec<(u16, reqwest::RequestBuilder)> = vec![
        (
            400,
            app.http
                .post(&url)
                .header("Content-Type", "application/json")
                .header("HTTP-HRFLOW-SIGNATURE", sign("not json"))
                .body("not json"),
        ),
        (400, {
            let b = r#"{"type":"profile.parsing.success","profile":{"source":{}}}"#;
            app.http
                .post(&url)
                .header("HTTP-HRFLOW-SIGNATURE", sign(b))
                .body(b)
        }),
        (401, app.http.post(&url).body(event_body("p", SOURCE))),
        (
            401,
            app.http
                .post(&url)
                .header("HTTP-HRFLOW-SIGNATURE", sign("other"))
                .body(event_body("p", SOURCE)),
        ),
        (
            401,
            app.http
                .post(&url)
                .header("HTTP-HRFLOW-SIGNATURE", "%%%.###")
                .body(event_body("p", SOURCE)),
        ),
        (
            413,
            app.http
                .post(&url)
                .header("Content-Type", "application/json")
                .body(vec![b' '; 2 * 1024 * 1024]),
        ),
        (
            415,
            app.http
                .post(&url)
                .header("Content-Type", "text/plain")
                .body(event_body("p", SOURCE)),
        ),
        (405, app.http.get(&url)),
        (404, app.http.get(format!("{}/nowhere", app.address))),
    ];
    for (expected, request) in cases {
        let r = request.send().await.unwrap();
        assert_eq!(r.status().as_u16(), expected);
        let body: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{expected}: not JSON: {e}"));
        assert_error_shape(&body);
    }
    // The 400 for a profile without keys names both fields.
    let b = r#"{"profile":{"source":{}}}"#;
    let body: Value = app.post_event(b).await.json().await.unwrap();
    assert!(
        body["errors"]["profile.key"].is_array() && body["errors"]["profile.source.key"].is_array(),
        "{body}"
    );
    assert!(app.jobs().await.is_empty());
}

#[tokio::test]
async fn an_empty_secret_does_not_start_unless_signature_none_says_so() {
    let config = base_config("http://127.0.0.1:9", "http://127.0.0.1:9").replace(
        &format!("webhook_secret = \"{SECRET}\""),
        "webhook_secret = \"\"",
    );
    let Some(db) = TestDb::fresh().await else {
        return;
    };
    let path = db.dir.path().join("relay.toml");
    std::fs::write(&path, &config).unwrap();
    // The file sets a secret; an empty variable (an unset shell variable in `docker run -e`)
    // overrides it: that must stop the start, not open the door.
    std::fs::write(
        &path,
        base_config("http://127.0.0.1:9", "http://127.0.0.1:9"),
    )
    .unwrap();
    let env = std::collections::HashMap::from([
        ("RELAY__DATABASE__URL".to_string(), db.url.clone()),
        ("RELAY__HRFLOW__WEBHOOK_SECRET".to_string(), String::new()),
    ]);
    let settings = hrflow_relay::config::Settings::load_from(Some(&path), env).unwrap();
    let refused = hrflow_relay::startup::Application::build(settings).await;
    let Err(e) = refused else {
        panic!("the relay started with an empty webhook secret");
    };
    assert!(
        format!("{e:#}").contains("hrflow.webhook_secret is empty while routes are configured"),
        "{e:#}"
    );
    let config = config.replace("[hrflow]", "[hrflow]\nsignature = \"none\"");
    let app = TestApp::spawn_on(&config, db).await;
    let r = app
        .http
        .post(format!("{}/hrflow/events", app.address))
        .body(event_body("p", SOURCE))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

/// Posts `body` with `header: value` (no other signature header).
async fn post_signed(app: &TestApp, header: &str, value: &str, body: &str) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/hrflow/events", app.address))
        .header("Content-Type", "application/json")
        .header(header, value)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn typed(profile_key: &str, event_type: &str) -> String {
    event_body(profile_key, SOURCE).replace("profile.parsing.success", event_type)
}

#[tokio::test]
async fn every_signature_form_under_every_header_name_and_a_rotated_secret() {
    use hrflow_relay::hrflow::signature::{hex_hmac, sdk_header, sdk_raw_header};
    // Rotation, step 1: the new secret is added beside the old one.
    let config = closed_config().replace(
        &format!("webhook_secret = \"{SECRET}\""),
        &format!("webhook_secret = [\"whsec_new\", \"{SECRET}\"]"),
    );
    let app = spawn!(&config);
    let headers = [
        "HTTP-HRFLOW-SIGNATURE",
        "HRFLOW-SIGNATURE",
        "HTTP-RIMINDER-SIGNATURE",
    ];
    let mut n = 0;
    for secret in [SECRET, "whsec_new"] {
        for header in headers {
            for form in ["sdk", "sdk-raw", "body-hex"] {
                n += 1;
                let body = event_body(&format!("p-{n}"), SOURCE);
                let (value, sent) = match form {
                    "sdk" => (
                        sdk_header(secret.as_bytes(), body.as_bytes()),
                        "{}".to_string(),
                    ),
                    "sdk-raw" => (
                        sdk_raw_header(secret.as_bytes(), body.as_bytes()),
                        String::new(),
                    ),
                    _ => (hex_hmac(secret.as_bytes(), body.as_bytes()), body.clone()),
                };
                let (status, answer) = post_signed(&app, header, &value, &sent).await;
                assert_eq!(status, 202, "{secret} {header} {form}: {answer}");
            }
        }
    }
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), n, "one job per signed event");
    // A wrong signature is one 401 whatever its form, with the errors shape.
    let body = event_body("p-wrong", SOURCE);
    for value in [
        sdk_header(b"whsec_other", body.as_bytes()),
        sdk_raw_header(b"whsec_other", body.as_bytes()),
        hex_hmac(b"whsec_other", body.as_bytes()),
        "bm90LWEtc2ln.bm90LWpzb24".to_string(),
    ] {
        for header in headers {
            let (status, answer) = post_signed(&app, header, &value, &body).await;
            assert_eq!(status, 401, "{header} {value}: {answer}");
            assert_error_shape(&answer);
        }
    }
    assert_eq!(app.jobs().await.len(), n);
}

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

#[tokio::test]
async fn event_types_decide_which_routes_act() {
    let config = format!(
        "{}\n[[routes]]\nname = \"stored-only\"\ndestination = \"flatchr\"\nvacancy = \"v\"\nevents = [\"profile.storing.success\"]\n",
        closed_config()
    );
    let app = spawn!(&config);
    // Error events are ignored, saying why, alone or in an array, and never become jobs.
    for t in [
        "profile.parsing.error",
        "profile.storing.error",
        "profile.indexing.error",
    ] {
        let r = app.post_event(&typed("p-err", t)).await;
        assert_eq!(r.status(), 200);
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["status"], "ignored");
        assert!(
            answer["reason"]
                .as_str()
                .unwrap()
                .contains("could not produce the profile")
        );
    }
    assert!(app.jobs().await.is_empty());
    // The default route (empty `events`) takes the types meaning a profile exists, under
    // every name; the explicit route takes exactly what it lists.
    let expect = [
        ("profile.parsing.success", vec!["flatchr"]),
        ("profile.storing.success", vec!["flatchr", "stored-only"]),
        ("profile.indexing.update", vec!["flatchr"]),
        ("profile.parse.success", vec!["flatchr"]),
        ("profile.tagging.success", vec![]),
    ];
    for (i, (t, routes)) in expect.iter().enumerate() {
        let key = format!("p-{i}");
        let r = app.post_event(&typed(&key, t)).await;
        let answer: Value = r.json().await.unwrap();
        assert_eq!(
            answer["jobs"].as_u64().unwrap_or(0) as usize,
            routes.len(),
            "{t}: {answer}"
        );
        let mut got: Vec<String> = app
            .jobs()
            .await
            .into_iter()
            .filter(|j| j.profile_key == key)
            .map(|j| j.route)
            .collect();
        got.sort();
        assert_eq!(got, *routes, "{t}");
    }
}

#[tokio::test]
async fn a_profile_parsed_then_stored_creates_one_candidate() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let app = spawn!(&base_config(&hrflow.url, &flatchr.url));
    // HrFlow sends both events, here even in one array, for one profile.
    let both = format!(
        "[{}, {}]",
        typed("parsed-stored", "profile.parsing.success"),
        typed("parsed-stored", "profile.storing.success")
    );
    let answer: Value = app.post_event(&both).await.json().await.unwrap();
    assert_eq!(answer["results"][0]["status"], "accepted");
    assert_eq!(answer["results"][1]["status"], "accepted");
    // And again separately, later.
    app.post_event(&typed("parsed-stored", "profile.storing.update"))
        .await;
    let jobs = app.settle(Duration::from_secs(10)).await;
    assert_eq!(jobs.len(), 3);
    assert_all_delivered(&jobs);
    let candidates = flatchr.candidates();
    assert_eq!(candidates.len(), 1, "{candidates:?}");
    assert_eq!(candidates[0]["email"], "parsed-stored@example.org");
}

/// Sends a request head announcing a body (a 100-byte one, or chunked) and then one byte of it
/// every 300 ms; returns what the relay answered once it closed the connection, or `None` when
/// it kept the connection open past `wait`.
async fn trickle(address: &str, head: &str, chunked: bool, wait: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let socket = tokio::net::TcpStream::connect(host).await.unwrap();
    let (mut read, mut write) = socket.into_split();
    let framing = if chunked {
        "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"
    } else {
        "Content-Length: 100\r\n\r\n{"
    };
    write
        .write_all(
            format!("{head}Host: {host}\r\nContent-Type: application/json\r\n{framing}").as_bytes(),
        )
        .await
        .unwrap();
    // A byte every 300 ms, for as long as the connection takes them.
    let sender = tokio::spawn(async move {
        let byte: &[u8] = if chunked { b"1\r\na\r\n" } else { b"a" };
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if write.write_all(byte).await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(wait, read.read_to_end(&mut answer)).await;
    sender.abort();
    read.ok()
        .map(|_| String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_body_not_received_whole_in_time_is_408_and_the_connection_closed() {
    let config = format!(
        "{}\n[careers]\ntokens = [\"careers-token-for-slow-bodies\"]\n[admin]\ntokens = [\"admin-token-for-slow-bodies\"]\n",
        base_config("http://127.0.0.1:9", "http://127.0.0.1:9")
            .replace("port = 0", "port = 0\nbody_timeout = \"1s\"")
    );
    let app = spawn!(&config);
    let heads = [
        "POST /hrflow/events HTTP/1.1\r\n".to_string(),
        "POST /careers/publish HTTP/1.1\r\nAuthorization: Bearer careers-token-for-slow-bodies\r\n".into(),
        "POST /admin/api/jobs/retry HTTP/1.1\r\nAuthorization: Bearer admin-token-for-slow-bodies\r\n".into(),
    ];
    for (head, chunked) in heads.iter().flat_map(|h| [(h, false), (h, true)]) {
        let started = std::time::Instant::now();
        let answer = trickle(&app.address, head, chunked, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{head:?} (chunked: {chunked}): still open after 5 s"));
        assert!(answer.starts_with("HTTP/1.1 408"), "{head:?}: {answer}");
        assert!(answer.contains("server.body_timeout"), "{answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        assert_error_shape(&serde_json::from_str(body).unwrap());
        assert!(started.elapsed() >= Duration::from_millis(900), "{head:?}");
    }
    // A route that reads no body answers at once, and the connection does not stay open either.
    for (head, status) in [
        ("GET /health/live HTTP/1.1\r\n", "HTTP/1.1 200"),
        ("POST /health/live HTTP/1.1\r\n", "HTTP/1.1 405"),
    ] {
        for chunked in [false, true] {
            let answer = trickle(&app.address, head, chunked, Duration::from_secs(5)).await;
            assert!(
                answer.as_deref().is_some_and(|a| a.starts_with(status)),
                "{head:?} (chunked: {chunked}): {answer:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_captured_event_replayed_an_hour_later_is_still_a_duplicate() {
    let app = spawn!(&base_config("http://127.0.0.1:9", "http://127.0.0.1:9"));
    let body = event_body("replayed", SOURCE);
    assert_eq!(app.post_event(&body).await.status(), 202);
    let ago = |ms: i64| {
        let sql = if crate::BACKEND == Backend::Sqlite {
            "UPDATE event_dedupe SET received_at = received_at - ?"
        } else {
            "UPDATE event_dedupe SET received_at = received_at - $1"
        };
        sqlx::query(sql).bind(ms).execute(app.store().pool())
    };
    // HrFlow's signature carries no time: the window is the replay guard. An hour is well past
    // the old ten minutes, well within the week.
    ago(3_600_000).await.unwrap();
    let r = app.post_event(&body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "duplicate");
    // Past the window (a week), the same body is an event again.
    ago(7 * 86_400_000).await.unwrap();
    assert_eq!(app.post_event(&body).await.status(), 202);
    assert_eq!(app.jobs().await.len(), 2);
}
