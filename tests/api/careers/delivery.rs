//! A careers route's jobs: dead for an unknown or unpublished vacancy or a nameless profile,
//! and a `format` function returning the item and its letters.

use hrflow_relay::job::Status;
use mockito::Matcher;
use serde_json::{Value, json};

use super::{Huntflow, TOKEN, careers_config};
use crate::helpers::*;

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
