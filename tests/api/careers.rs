//! The Huntflow response platform, exercised the way Huntflow uses it.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use hrflow_relay::job::Status;
use mockito::Matcher;
use serde_json::{Value, json};

use crate::helpers::*;

const TOKEN: &str = "huntflow-token-1";
const BASIC: &str = "huntflow:s3cret";

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(BASIC)
    )
}

/// The base configuration with a careers route instead of the Flatchr one.
fn careers_config(hrflow: &str, route_extra: &str) -> String {
    let base = base_config(hrflow, "http://127.0.0.1:9");
    let head = base.split("[[routes]]").next().unwrap();
    format!(
        r#"{head}
[careers]
tokens = ["{TOKEN}"]
basic_users = ["{BASIC}"]

[[routes]]
name = "huntflow"
destination = "careers"
vacancy = "1"
vacancy_tag = "huntflow_vacancy"
{route_extra}
"#
    )
}

struct Huntflow<'a> {
    app: &'a TestApp,
    auth: String,
}

impl Huntflow<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}/careers{path}", self.app.address)
    }
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .app
            .http
            .request(method, self.url(path))
            .header("Authorization", &self.auth);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
    /// Every item of a paged listing, page by page, as Huntflow reads it.
    async fn all(&self, path: &str, per_page: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut page = 1;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let (status, body) = self
                .get(&format!("{path}{sep}page={page}&{per_page}"))
                .await;
            assert_eq!(status, 200, "{body}");
            let got = body["items"].as_array().unwrap().clone();
            assert_eq!(body["page"], page);
            if got.is_empty() {
                assert!(
                    page > body["pages"].as_i64().unwrap(),
                    "an empty page inside the range: {body}"
                );
                return items;
            }
            items.extend(got);
            page += 1;
        }
    }
}

async fn hrflow_serving_all() -> mockito::ServerGuard {
    let mut hrflow = mockito::Server::new_async().await;
    for n in 0..40 {
        let profile = fixture(n);
        hrflow_serving(&mut hrflow, &profile).await;
    }
    hrflow
}

fn profile_tag(p: &Value) -> Option<i64> {
    p["tags"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == "huntflow_vacancy")?["value"]
        .as_str()?
        .parse()
        .ok()
}

#[tokio::test]
async fn huntflow_publishes_collects_pages_and_reads_letters_on_both_forms() {
    let hrflow = hrflow_serving_all().await;
    let app = spawn_stepped!(&careers_config(&hrflow.url(), ""));
    let seed = Huntflow {
        app: &app,
        auth: format!("Bearer {TOKEN}"),
    };
    let v01 = Huntflow {
        app: &app,
        auth: basic(),
    };

    let vacancy = json!({"position": "Python developer", "body": "<p>HTML</p>", "requirements": null, "conditions": "<p>c</p>",
                         "some_dictionary": {"name": "Development department", "foreign": "external_id"}});
    let (status, body) = seed
        .send(reqwest::Method::POST, "/publish", Some(vacancy.clone()))
        .await;
    assert_eq!((status, body.clone()), (200, json!({"id": 1})));
    let (status, body) = v01
        .send(reqwest::Method::POST, "/vacancies", Some(vacancy))
        .await;
    assert_eq!((status, body), (200, json!({"id": 2})));
    let (status, body) = v01
        .send(
            reqwest::Method::POST,
            "/vacancies",
            Some(json!({"position": "Ops"})),
        )
        .await;
    assert_eq!((status, body), (200, json!({"id": 3})));
    assert_eq!(v01.get("/vacancies/2").await, (200, json!({"id": 2})));
    assert_eq!(v01.get("/version").await, (200, json!({"version": "0.1"})));

    for n in 0..40 {
        assert_eq!(app.post_event(&event_for(&fixture(n))).await.status(), 202);
    }
    let jobs = app.dispatch().await;
    assert_all_delivered(&jobs);

    // Where each profile should be: how many, and their emails (some profiles have none).
    let expected = |v: i64| -> (usize, HashSet<String>) {
        let on: Vec<Value> = (0..40)
            .map(fixture)
            .filter(|p| profile_tag(p).unwrap_or(1) == v)
            .collect();
        (
            on.len(),
            on.iter()
                .filter_map(|p| p["info"]["email"].as_str().map(str::to_string))
                .collect(),
        )
    };
    for (vacancy, per_page) in [(1, "per_page=3"), (2, "count=4"), (3, "per_page=1")] {
        let seed_items = seed
            .all(&format!("/vacancy/{vacancy}/response"), per_page)
            .await;
        let v01_items = v01
            .all(&format!("/vacancies/{vacancy}/responses"), per_page)
            .await;
        for (items, form) in [(&seed_items, "seed"), (&v01_items, "0.1")] {
            let ids: HashSet<String> = items.iter().map(|i| i["id"].to_string()).collect();
            assert_eq!(ids.len(), items.len(), "{form}: an item repeated");
            let emails: HashSet<String> = items
                .iter()
                .filter_map(|i| i["email"].as_str().map(str::to_string))
                .collect();
            assert_eq!(
                (items.len(), emails),
                expected(vacancy),
                "{form}: items missed"
            );
            // Newest first; ties by the higher id first.
            let keys: Vec<(String, i64)> = items
                .iter()
                .map(|i| {
                    (
                        i["created"].as_str().unwrap().to_string(),
                        i["id"]
                            .as_i64()
                            .unwrap_or_else(|| i["id"].as_str().unwrap().parse().unwrap()),
                    )
                })
                .collect();
            assert!(
                keys.windows(2).all(|w| w[0] > w[1]),
                "{form}: not newest first: {keys:?}"
            );
        }
        assert!(seed_items.iter().all(|i| i["id"].is_i64()
            && i["resume"].is_array()
            && i.get("resumes").is_none()
            && i.get("photo").is_none()));
        assert!(
            v01_items.iter().all(|i| i["id"].is_string()
                && i["resumes"].is_array()
                && i.get("resume").is_none())
        );
    }

    // One response in detail: profile 2 (vacancy 1, a cover letter, a summary).
    let p = fixture(2);
    let items = v01.all("/vacancies/1/responses", "per_page=100").await;
    let item = items
        .iter()
        .find(|i| i["email"] == p["info"]["email"])
        .unwrap();
    assert_eq!(item["first_name"], p["info"]["first_name"]);
    assert_eq!(item["last_name"], p["info"]["last_name"]);
    assert_eq!(item["phone"], p["info"]["phone"]);
    assert_eq!(item["photo"], p["info"]["picture"]);
    assert_eq!(
        item["resumes"][0]["files"][0]["url"],
        p["attachments"][1]["public_url"]
    );
    assert_eq!(item["resumes"][0]["data"]["body"], p["info"]["summary"]);
    assert!(chrono::DateTime::parse_from_rfc3339(item["created"].as_str().unwrap()).is_ok());
    assert!(item["created"].as_str().unwrap().ends_with('Z'));
    let id = item["id"].as_str().unwrap();
    let letters = v01
        .get(&format!("/vacancies/1/responses/{id}/letters"))
        .await
        .1;
    assert_eq!(letters["found"], 1);
    assert_eq!(letters["items"][0]["type"], "response");
    assert_eq!(letters["items"][0]["comment"], p["metadatas"][0]["value"]);
    assert!(letters["items"][0]["id"].is_string());
    let seed_letters = seed.get(&format!("/vacancy/1/response/{id}")).await.1;
    assert_eq!(
        seed_letters["items"][0]["comment"],
        letters["items"][0]["comment"]
    );
    assert!(seed_letters["items"][0]["id"].is_i64());
    // The birthday is the date of date_birth (profile 1, on vacancy 2).
    let p1 = fixture(1);
    let items = v01.all("/vacancies/2/responses", "per_page=100").await;
    let item1 = items
        .iter()
        .find(|i| i["email"] == p1["info"]["email"])
        .unwrap();
    assert_eq!(item1["birthday"], "1990-04-12");

    // A later event for the same profile updates the response in place.
    let found_before = v01.get("/vacancies/1/responses").await.1["found"].clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.post_event(&event_for(&p).replace("parsing.success", "storing.update"))
        .await;
    app.dispatch().await;
    let after = v01.get("/vacancies/1/responses?per_page=100").await.1;
    assert_eq!(after["found"], found_before);
    let again = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == p["info"]["email"])
        .unwrap();
    assert_eq!(
        (again["id"].clone(), again["created"].clone()),
        (item["id"].clone(), item["created"].clone())
    );
    assert_eq!(
        v01.get(&format!("/vacancies/1/responses/{id}/letters"))
            .await
            .1["found"],
        1
    );
}

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

#[tokio::test]
async fn unknown_or_unpublished_vacancies_and_nameless_profiles_end_dead() {
    let mut hrflow = mockito::Server::new_async().await;
    let mut nameless = fixture(4);
    nameless["key"] = json!("nameless");
    nameless["info"]["first_name"] = Value::Null;
    nameless["info"]["last_name"] = Value::Null;
    nameless["info"]["full_name"] = Value::Null;
    for p in [fixture(4), fixture(5), nameless.clone()] {
        hrflow_serving(&mut hrflow, &p).await;
    }
    hrflow
        .mock("GET", Matcher::Any)
        .with_status(404)
        .create_async()
        .await;
    let app = spawn_stepped!(&careers_config(&hrflow.url(), ""));
    let h = Huntflow {
        app: &app,
        auth: format!("Bearer {TOKEN}"),
    };
    // Profile 4 goes to vacancy 1, which does not exist yet.
    app.post_event(&event_for(&fixture(4))).await;
    app.dispatch().await;
    h.send(
        reqwest::Method::POST,
        "/publish",
        Some(json!({"position": "Dev"})),
    )
    .await;
    h.send(reqwest::Method::DELETE, "/vacancy/1", None).await;
    app.post_event(&event_for(&fixture(5))).await;
    app.post_event(&event_for(&nameless)).await;
    let jobs = app.dispatch().await;
    let reason = |k: &str| {
        jobs.iter()
            .find(|j| j.profile_key == k)
            .unwrap()
            .reason
            .clone()
            .unwrap()
    };
    assert!(reason(fixture(4)["key"].as_str().unwrap()).contains("vacancy 1 is unknown"));
    assert!(reason(fixture(5)["key"].as_str().unwrap()).contains("vacancy 1 is unpublished"));
    assert!(reason("nameless").contains("no candidate name"));
    assert!(jobs.iter().all(|j| j.status == Status::Dead));
}

#[tokio::test]
async fn a_format_function_returns_the_item_and_its_letters() {
    let mut hrflow = mockito::Server::new_async().await;
    hrflow_serving(&mut hrflow, &fixture(17)).await;
    let app = spawn_stepped!(&careers_config(&hrflow.url(), "format = \"huntflow_item\""));
    let h = Huntflow {
        app: &app,
        auth: format!("Token {TOKEN}"),
    };
    h.send(
        reqwest::Method::POST,
        "/vacancies",
        Some(json!({"position": "Dev"})),
    )
    .await;
    h.send(
        reqwest::Method::POST,
        "/vacancies",
        Some(json!({"position": "Ops"})),
    )
    .await;
    app.post_event(&event_for(&fixture(17))).await; // tagged for vacancy 2
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
    let (_, page) = h.get("/vacancy/2/response").await;
    let item = &page["items"][0];
    assert_eq!(
        (
            item["first_name"].as_str(),
            item["last_name"].as_str(),
            item["middle_name"].as_str()
        ),
        (Some("Unknown"), Some("Custom"), Some("M"))
    );
    let (_, letters) = h.get(&format!("/vacancy/2/response/{}", item["id"])).await;
    assert_eq!(letters["items"][0]["type"], "recommendation");
    assert_eq!(
        letters["items"][0]["author"],
        json!({"name": "Sergey Ivanov", "email": "rec@mail.com"})
    );
}
