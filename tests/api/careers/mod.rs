//! The Huntflow response platform, exercised the way Huntflow uses it.

mod delivery;
mod requests;

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
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
