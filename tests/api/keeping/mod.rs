//! Keeping data: `erase` and `DELETE /admin/api/profiles/{key}` remove every row about a
//! candidate and leave nothing readable in the SQLite files; `[retention]` deletes finished
//! jobs after their period, through `purge` and in the service (retention.rs).

mod retention;

use mockito::Matcher;
use serde_json::{Value, json};

use crate::admin::{ADMIN_TOKEN, admin_section};
use crate::helpers::*;

const CAREERS_TOKEN: &str = "careers-token-345";

/// HrFlow serving these fixtures, and their resumes.
async fn hrflow_with(profiles: &[Value]) -> mockito::ServerGuard {
    let mut server = mockito::Server::new_async().await;
    for p in profiles {
        hrflow_serving(&mut server, p).await;
    }
    server
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_status(200)
        .with_body(&b"%PDF-1.4 a resume"[..])
        .create_async()
        .await;
    server
}

/// Every byte of the SQLite database's files (database, WAL, shared memory).
fn sqlite_files(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(app.db.dir.path())
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_string();
            name.starts_with("relay.db")
                .then(|| (name, std::fs::read(&path).unwrap_or_default()))
        })
        .collect()
}

fn found_in(files: &[(String, Vec<u8>)], needle: &str) -> Vec<String> {
    files
        .iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(name, _)| name.clone())
        .collect()
}

async fn count(app: &TestApp, sql: &str, key: &str) -> i64 {
    let sql = if crate::BACKEND == Backend::Sqlite {
        sql.replace('$', "?")
    } else {
        sql.to_string()
    };
    sqlx::query_scalar::<_, i64>(&sql)
        .bind(key)
        .fetch_one(app.store().pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_candidate_removes_every_row_and_leaves_nothing_readable() {
    let gone = fixture(2);
    let kept = fixture(4);
    let hrflow = hrflow_with(&[gone.clone(), kept.clone()]).await;
    let flatchr = FakeFlatchr::start().await;
    // Flatchr is down: the flatchr jobs wait an hour, holding the fetched profile meanwhile.
    flatchr.faults(vec![Fault::Status(503, None); 2], vec![]);
    let config = format!(
        "{}\n[careers]\ntokens = [\"{CAREERS_TOKEN}\"]\n{}\n[[routes]]\nname = \"huntflow\"\ndestination = \"careers\"\nvacancy = \"1\"\n",
        base_config(&hrflow.url(), &flatchr.url)
            .replace("[\"100ms\", \"100ms\", \"100ms\"]", "[\"1h\"]"),
        admin_section()
    );
    let app = spawn_stepped!(&config);
    let r = app
        .http
        .post(format!("{}/careers/publish", app.address))
        .bearer_auth(CAREERS_TOKEN)
        .json(&json!({"position": "Developer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for p in [&gone, &kept] {
        assert_eq!(app.post_event(&event_for(p)).await.status(), 202);
    }
    // Each candidate: a careers response, and a flatchr job pending with the profile it fetched.
    let ran = app.run_due().await;
    assert_eq!(ran.len(), 4, "{ran:?}");
    let key = gone["key"].as_str().unwrap();
    let email = gone["info"]["email"].as_str().unwrap();
    let last_name = gone["info"]["last_name"].as_str().unwrap();
    let first_name = gone["info"]["first_name"].as_str().unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM responses WHERE profile_key = $1",
            key
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM jobs WHERE profile_key = $1 AND profile IS NOT NULL",
            key
        )
        .await,
        1
    );
    if crate::BACKEND == Backend::Sqlite {
        // The scan can see a candidate: before erasure the name and email are in the files.
        let files = sqlite_files(&app);
        assert!(
            !found_in(&files, email).is_empty(),
            "the email is not in the files before erasure"
        );
        assert!(!found_in(&files, last_name).is_empty());
    }

    let r = app
        .http
        .delete(format!("{}/admin/api/profiles/{key}", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let d = &body["deleted"];
    assert_eq!(
        (
            d["jobs"].as_i64(),
            d["events"].as_i64(),
            d["responses"].as_i64()
        ),
        (Some(2), Some(1), Some(1)),
        "{body}"
    );
    assert!(d["attempts"].as_i64().unwrap() >= 2, "{body}");

    for table in ["jobs", "events", "pushes", "responses"] {
        assert_eq!(
            count(
                &app,
                &format!("SELECT COUNT(*) FROM {table} WHERE profile_key = $1"),
                key
            )
            .await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM attempts WHERE job_id NOT IN (SELECT id FROM jobs) AND $1 <> ''",
            key
        )
        .await,
        0
    );
    // The other candidate is untouched, and Huntflow's page counts one response.
    let other = kept["key"].as_str().unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM jobs WHERE profile_key = $1",
            other
        )
        .await,
        2
    );
    let page: Value = app
        .http
        .get(format!("{}/careers/vacancies/1/responses", app.address))
        .bearer_auth(CAREERS_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            page["found"].as_i64(),
            page["items"].as_array().map(Vec::len)
        ),
        (Some(1), Some(1)),
        "{page}"
    );

    if crate::BACKEND == Backend::Sqlite {
        let files = sqlite_files(&app);
        for needle in [email, last_name, first_name, key] {
            assert!(
                found_in(&files, needle).is_empty(),
                "{needle:?} still readable in {:?}",
                found_in(&files, needle)
            );
        }
        assert!(!found_in(&files, kept["info"]["email"].as_str().unwrap()).is_empty());
    }

    // The CLI does the same, beside the running service.
    let (ok, out) = relay_cli(&app, &["erase", "--profile", other]);
    assert!(ok, "{out}");
    let printed: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(printed["deleted"]["jobs"], 2, "{out}");
    assert!(!out.contains(kept["info"]["email"].as_str().unwrap()));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM jobs WHERE profile_key = $1",
            other
        )
        .await,
        0
    );
}

/// The response Huntflow reads for `profile` on vacancy 1: (id, created).
async fn response_of(app: &TestApp, profile: &Value) -> Option<(Value, Value)> {
    let page: Value = app
        .http
        .get(format!("{}/careers/vacancies/1/responses", app.address))
        .bearer_auth(CAREERS_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()?
        .iter()
        .find(|i| i["email"] == profile["info"]["email"])
        .map(|i| (i["id"].clone(), i["created"].clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_candidate_sent_again_is_enriched_never_pushed_twice() {
    let mut hrflow = mockito::Server::new_async().await;
    let candidate = with_files(fixture(2), &hrflow.url());
    hrflow_serving(&mut hrflow, &candidate).await;
    hrflow
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_status(200)
        .with_body(&b"%PDF-1.4 a resume"[..])
        .create_async()
        .await;
    let flatchr = FakeFlatchr::start().await;
    let config = format!(
        "{}\n[careers]\ntokens = [\"{CAREERS_TOKEN}\"]\n{}\n[[routes]]\nname = \"huntflow\"\ndestination = \"careers\"\nvacancy = \"1\"\n",
        base_config(&hrflow.url(), &flatchr.url),
        admin_section()
    );
    let app = spawn_stepped!(&config);
    let r = app
        .http
        .post(format!("{}/careers/publish", app.address))
        .bearer_auth(CAREERS_TOKEN)
        .json(&json!({"position": "Developer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.post_event(&event_for(&candidate)).await.status(), 202);
    assert_all_delivered(&app.dispatch().await);
    assert_eq!(flatchr.candidates().len(), 1);
    let before = response_of(&app, &candidate).await.expect("a response");

    let key = candidate["key"].as_str().unwrap();
    let r = app
        .http
        .delete(format!("{}/admin/api/profiles/{key}", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(app.jobs().await.is_empty());
    if crate::BACKEND == Backend::Sqlite {
        let files = sqlite_files(&app);
        for needle in [
            key,
            candidate["info"]["email"].as_str().unwrap(),
            candidate["info"]["last_name"].as_str().unwrap(),
            candidate["info"]["phone"].as_str().unwrap(),
        ] {
            assert!(
                found_in(&files, needle).is_empty(),
                "{needle:?} still readable in {:?}",
                found_in(&files, needle)
            );
        }
    }

    // HrFlow sends the profile again (someone edited it there): the relay knows, without
    // knowing whom, that it pushed this candidate on this route.
    let update = event_for(&candidate).replace("profile.parsing.success", "profile.storing.update");
    assert_eq!(app.post_event(&update).await.status(), 202);
    assert_all_delivered(&app.dispatch().await);
    assert_eq!(
        flatchr.candidates().len(),
        1,
        "a second Flatchr candidate after the erasure"
    );
    assert_eq!(flatchr.enriched().len(), 2, "the update only enriches");
    // Huntflow reads the response it already has: same id, same date.
    assert_eq!(response_of(&app, &candidate).await, Some(before));
}
