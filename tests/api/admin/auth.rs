//! Who gets in: the admin credentials and only them, and ten wrong guesses lock logins out
//! for a minute.

use serde_json::json;

use super::{ADMIN_USER, admin_section, basic, bearer, call};
use crate::helpers::*;

#[tokio::test]
async fn the_admin_api_needs_its_own_credentials() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // No [admin] credentials: closed to everyone, even with the careers token.
    let closed = format!(
        "{}\n[careers]\ntokens = [\"careers-token\"]\n",
        base_config(&hrflow.url, &flatchr.url)
    );
    let app = spawn!(&closed);
    for auth in [None, Some("Bearer careers-token"), Some("Bearer ")] {
        let (status, body) = call(&app, reqwest::Method::GET, "/admin/api/jobs", auth, None).await;
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert_error_shape(&body);
    }
    let r = app
        .http
        .get(format!("{}/admin", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"),
        "a browser must be asked for Basic credentials"
    );
    drop(app);

    let open = format!(
        "{}\n[careers]\ntokens = [\"careers-token\"]\nbasic_users = [\"hf:hf-pass\"]\n{}",
        base_config(&hrflow.url, &flatchr.url),
        admin_section()
    );
    let app = spawn!(&open);
    for (auth, want) in [
        (None, 401),
        (Some("Bearer wrong".to_string()), 401),
        (Some("Bearer careers-token".to_string()), 401),
        (Some(basic("hf:hf-pass")), 401),
        (Some(basic("ops:wrong")), 401),
        (Some("Digest abc".to_string()), 401),
        (Some(bearer()), 200),
        (Some(basic(ADMIN_USER)), 200),
    ] {
        let (status, body) = call(
            &app,
            reqwest::Method::GET,
            "/admin/api/jobs",
            auth.as_deref(),
            None,
        )
        .await;
        assert_eq!(status, want, "{auth:?}: {body}");
        if want == 401 {
            assert_error_shape(&body);
        } else {
            assert_eq!(
                body,
                json!({"items": [], "page": 1, "pages": 1, "per_page": 20, "found": 0})
            );
        }
    }
    // Bad input: clear errors in the usual shape.
    let b = bearer();
    for (method, path, body, want, field) in [
        (
            reqwest::Method::GET,
            "/admin/api/jobs?status=lost",
            None,
            400,
            Some("status"),
        ),
        (
            reqwest::Method::GET,
            "/admin/api/jobs?page=-1",
            None,
            400,
            Some("page"),
        ),
        (
            reqwest::Method::GET,
            "/admin/api/jobs/12345",
            None,
            404,
            None,
        ),
        (reqwest::Method::GET, "/admin/api/jobs/abc", None, 404, None),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/12345/retry",
            None,
            404,
            None,
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/12345/cancel",
            None,
            404,
            None,
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/retry",
            Some(json!({"status": "pending"})),
            400,
            Some("status"),
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/retry",
            Some(json!({"status": "dead", "rout": "x"})),
            400,
            Some("rout"),
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/retry",
            Some(json!({"status": "dead", "since": "yesterday"})),
            400,
            Some("since"),
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/retry",
            Some(json!({"status": 3})),
            400,
            Some("status"),
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/retry",
            Some(json!([1])),
            400,
            None,
        ),
        (reqwest::Method::PUT, "/admin/api/stats", None, 405, None),
    ] {
        let (status, got) = call(&app, method.clone(), path, Some(&b), body.clone()).await;
        assert_eq!(status, want, "{method} {path} {body:?}: {got}");
        assert_error_shape(&got);
        if let Some(f) = field {
            assert!(got["errors"][f].is_array(), "{path}: {got}");
        }
    }
    // The wrong status is answered with the ones that are right.
    let (_, got) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/jobs?status=lost",
        Some(&b),
        None,
    )
    .await;
    assert_eq!(
        got["errors"]["status"],
        json!(["must be pending, delivered, filtered, dead or cancelled"])
    );
    let (_, got) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/jobs/retry",
        Some(&b),
        Some(json!({"status": "pending"})),
    )
    .await;
    assert_eq!(
        got["errors"]["status"],
        json!(["\"pending\": only dead, filtered or cancelled jobs are retried"])
    );
    // Not JSON at all.
    let r = app
        .http
        .post(format!("{}/admin/api/jobs/retry", app.address))
        .header("Authorization", &b)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_error_shape(&r.json().await.unwrap());
    // A browser's Basic credentials alone do not make changes: the page's CSRF token is needed.
    let (status, got) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/jobs/retry",
        Some(&basic(ADMIN_USER)),
        Some(json!({"status": "dead"})),
    )
    .await;
    assert_eq!(status, 403, "{got}");
    assert_error_shape(&got);
}

#[tokio::test]
async fn guessing_logins_is_refused_for_a_minute_after_ten_failures() {
    let config = format!(
        "{}\n{}[careers]\ntokens = [\"careers-token-for-guessing\"]\n",
        base_config("http://127.0.0.1:9", "http://127.0.0.1:9"),
        admin_section()
    );
    let app = spawn!(&config);
    // A browser's first request carries no credentials: no guess, never counted.
    for _ in 0..20 {
        let (status, _) = call(&app, reqwest::Method::GET, "/admin/api/stats", None, None).await;
        assert_eq!(status, 401);
    }
    for i in 0..10 {
        let (status, _) = call(
            &app,
            reqwest::Method::GET,
            "/admin/api/stats",
            Some(&basic(&format!("ops:guess-{i}"))),
            None,
        )
        .await;
        assert_eq!(status, 401, "guess {i}");
    }
    // The eleventh is not even looked at, nor are the right credentials now.
    for auth in [basic("ops:guess-10"), basic(ADMIN_USER), bearer()] {
        let r = app
            .http
            .get(format!("{}/admin/api/stats", app.address))
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        let wait: u64 = r.headers()["Retry-After"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_error_shape(&r.json().await.unwrap());
    }
    // The careers credentials are counted apart: Huntflow is not locked out by the admin's.
    let r = app
        .http
        .get(format!("{}/careers/version", app.address))
        .bearer_auth("careers-token-for-guessing")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for i in 0..10 {
        let r = app
            .http
            .get(format!("{}/careers/version", app.address))
            .bearer_auth(format!("wrong-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = app
        .http
        .get(format!("{}/careers/version", app.address))
        .bearer_auth("careers-token-for-guessing")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}
