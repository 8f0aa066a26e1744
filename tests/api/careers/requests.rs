//! What the platform answers Huntflow: its authentication schemes and refusals, validation,
//! edits, unpublishing and 404s.

use base64::Engine as _;
use serde_json::json;

use super::{BASIC, Huntflow, TOKEN, basic, careers_config};
use crate::helpers::*;

#[tokio::test]
async fn authentication_schemes_and_refusals() {
    let app = spawn!(&careers_config("http://127.0.0.1:9", ""));
    for auth in [format!("Bearer {TOKEN}"), format!("Token {TOKEN}"), basic()] {
        assert_eq!(Huntflow { app: &app, auth }.get("/version").await.0, 200);
    }
    let wrong_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("huntflow:wrong")
    );
    for auth in [
        Some("Bearer wrong".to_string()),
        Some(format!("Basic {TOKEN}")),
        Some(wrong_basic),
        Some("garbage".into()),
        None,
    ] {
        let mut r = app
            .http
            .get(format!("{}/careers/vacancies/1/responses", app.address));
        if let Some(a) = &auth {
            r = r.header("Authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert!(r.headers().get("www-authenticate").is_some());
        assert_error_shape(&r.json().await.unwrap());
    }
    // No credentials configured: closed to everyone.
    let closed = careers_config("http://127.0.0.1:9", "")
        .replace(&format!("tokens = [\"{TOKEN}\"]"), "tokens = []")
        .replace(&format!("basic_users = [\"{BASIC}\"]"), "basic_users = []");
    let app = spawn!(&closed);
    let r = app
        .http
        .get(format!("{}/careers/version", app.address))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn validation_edit_unpublish_and_404s() {
    let app = spawn!(&careers_config("http://127.0.0.1:9", ""));
    let h = Huntflow {
        app: &app,
        auth: format!("Bearer {TOKEN}"),
    };
    use reqwest::Method as M;
    for (body, field) in [
        (json!({}), "position"),
        (json!({"position": ""}), "position"),
        (json!({"position": 7}), "position"),
        (json!({"position": "Dev", "body": 5}), "body"),
        (
            json!({"position": "Dev", "requirements": ["x"]}),
            "requirements",
        ),
    ] {
        let (status, err) = h.send(M::POST, "/vacancies", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}");
        assert_error_shape(&err);
        assert!(
            err["errors"][field].is_array(),
            "{field} not named in {err}"
        );
    }
    let r = app
        .http
        .post(h.url("/publish"))
        .header("Authorization", &h.auth)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_error_shape(&r.json().await.unwrap());
    let r = app
        .http
        .post(h.url("/publish"))
        .header("Authorization", &h.auth)
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_error_shape(&r.json().await.unwrap());
    let r = app
        .http
        .post(h.url("/publish"))
        .header("Authorization", &h.auth)
        .header("Content-Type", "application/json")
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_error_shape(&r.json().await.unwrap());
    let (status, err) = h.get("/publish").await;
    assert_eq!(status, 405);
    assert_error_shape(&err);

    let (_, v) = h
        .send(
            M::POST,
            "/vacancies",
            Some(json!({"position": "Dev", "team": {"foreign": "x"}})),
        )
        .await;
    let id = v["id"].as_i64().unwrap();
    assert_eq!(
        h.send(
            M::PUT,
            &format!("/vacancies/{id}"),
            Some(json!({"position": "Senior Dev"}))
        )
        .await
        .0,
        204
    );
    assert_eq!(
        h.send(
            M::PUT,
            &format!("/vacancy/{id}"),
            Some(json!({"position": "Lead"}))
        )
        .await
        .0,
        204
    );
    let stored = app.store().vacancy(id).await.unwrap().unwrap();
    assert_eq!(
        stored.fields,
        json!({"position": "Lead"}),
        "edit replaces the fields"
    );
    assert_eq!(
        h.send(
            M::PUT,
            &format!("/vacancies/{id}"),
            Some(json!({"position": ""}))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        h.send(M::PUT, "/vacancies/999", Some(json!({"position": "x"})))
            .await
            .0,
        404
    );

    assert_eq!(
        h.send(M::DELETE, &format!("/vacancies/{id}"), None).await.0,
        204
    );
    assert_eq!(
        h.send(M::DELETE, &format!("/vacancy/{id}"), None).await.0,
        204,
        "a second unpublish is 204 again"
    );
    assert_eq!(
        h.get(&format!("/vacancies/{id}")).await.0,
        404,
        "unpublished reads as absent"
    );
    assert_eq!(
        h.get(&format!("/vacancies/{id}/responses")).await.0,
        200,
        "its responses are kept"
    );
    for path in [
        "/vacancies/999",
        "/vacancies/abc",
        "/vacancies/-1",
        "/vacancies/0",
        "/vacancies/99999999999999999999999",
        "/vacancy/999/response",
        "/vacancies/999/responses",
        "/vacancies/1/responses/5/letters",
    ] {
        let (status, err) = h.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert_error_shape(&err);
    }
    assert_eq!(h.send(M::DELETE, "/vacancies/999", None).await.0, 404);

    // Paging parameters.
    for (query, field) in [
        ("page=-1", "page"),
        ("per_page=abc", "per_page"),
        ("count=1e3", "count"),
        ("page=1.5", "page"),
    ] {
        let (status, err) = h.get(&format!("/vacancies/{id}/responses?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(err["errors"][field].is_array(), "{err}");
    }
    let (_, page) = h
        .get(&format!("/vacancies/{id}/responses?page=50&per_page=1000"))
        .await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["per_page"], 100);
    let (_, page) = h.get(&format!("/vacancies/{id}/responses?page=0")).await;
    assert_eq!(
        (page["page"].clone(), page["per_page"].clone()),
        (json!(1), json!(20))
    );
}
