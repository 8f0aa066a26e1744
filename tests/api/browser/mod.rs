//! The status page in a real browser: headless Chromium driven through chromedriver (the
//! W3C WebDriver protocol, plain HTTP and JSON, in driver.rs). It checks what a person sees (the
//! queue, the chart, the dead jobs and their cause), presses Retry and sees the job go pending,
//! and keeps screenshots in `target/artefacts/`.

mod driver;

use std::time::Duration;

use hrflow_relay::job::Status;
use serde_json::json;

use crate::admin::{ADMIN_USER, admin_section};
use crate::helpers::*;
use driver::open_browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sees_the_dead_jobs_and_retries_one_from_the_page() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // Three candidates refused with an expired key, one delivered.
    flatchr.faults(vec![Fault::Status(401, None); 3], vec![]);
    let config = format!(
        "{}\n{}",
        base_config(&hrflow.url, &flatchr.url)
            .replace("[\"100ms\", \"100ms\", \"100ms\"]", "[\"1h\"]"),
        admin_section()
    );
    let app = spawn!(&config);
    for i in 0..4 {
        app.post_event(&event_body(&format!("page-{i}"), SOURCE))
            .await;
    }
    app.settle(Duration::from_secs(10)).await;
    let Some(browser) = open_browser(1280, 1400).await else {
        return;
    };
    let port = app.address.rsplit(':').next().unwrap();
    let (user, password) = ADMIN_USER.split_once(':').unwrap();
    browser
        .goto(&format!("http://{user}:{password}@127.0.0.1:{port}/admin"))
        .await;

    assert_eq!(browser.text("#dead b").await, "3");
    assert_eq!(browser.text("#pending b").await, "0");
    let routes = browser.text("#routes tbody").await;
    assert!(routes.contains("flatchr"), "{routes}");
    let cause = browser.text("#dead-jobs .cause").await;
    assert!(cause.contains("3 jobs") && cause.contains("401"), "{cause}");
    // The chart: bars for this hour's outcomes, delivered and dead.
    assert!(!browser.find_all("#chart rect.bar.dead").await.is_empty());
    assert!(
        !browser
            .find_all("#chart rect.bar.delivered")
            .await
            .is_empty()
    );
    // Nothing was loaded from anywhere: no script, no stylesheet, no image, no font.
    let loaded = browser
        .script("return performance.getEntriesByType('resource').map(e => e.name)")
        .await;
    assert_eq!(loaded, json!([]), "the page loaded {loaded}");
    browser.screenshot("admin-status.png").await;

    // Flatchr is still down (503): a retried job waits, pending, for its next attempt.
    flatchr.faults(vec![Fault::Status(503, None); 10], vec![]);
    let buttons = browser
        .find_all("#dead-jobs form[action$='/retry'] button.small")
        .await;
    assert_eq!(buttons.len(), 3);
    browser.click(&buttons[0]).await;
    let notice = browser.text_with("[role=status]", "retried").await;
    let url = browser.current_url().await;
    let seen = browser.script("return document.body.innerText").await;
    assert!(
        url.contains("/admin/jobs/") && url.contains("done=retried&n=1"),
        "{url}: {seen}"
    );
    assert_eq!(browser.text("#status").await, "pending");
    assert!(notice.contains("1 job retried"), "{notice}");
    browser.screenshot("admin-job-retried.png").await;
    let id: i64 = url
        .split("/admin/jobs/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let job = app.store().job(id).await.unwrap().unwrap();
    assert_eq!((job.status, job.run), (Status::Pending, 2));

    // Back on the status page, the cause counts two; "Retry all 2" retries both.
    browser
        .goto(&format!("http://127.0.0.1:{port}/admin"))
        .await;
    assert_eq!(browser.text("#dead b").await, "2");
    let all = browser
        .find_all("#dead-jobs form[action='/admin/retry'] button")
        .await;
    browser.click(&all[0]).await;
    browser.text_with("[role=status]", "2 jobs retried").await;
    assert_eq!(browser.text("#dead b").await, "0");
    assert_eq!(
        app.store()
            .jobs(Some(Status::Pending), 10)
            .await
            .unwrap()
            .len(),
        3
    );
    drop(browser);

    // On a phone: one column, nothing wider than the screen.
    let Some(phone) = open_browser(390, 844).await else {
        return;
    };
    phone
        .goto(&format!("http://{user}:{password}@127.0.0.1:{port}/admin"))
        .await;
    assert_eq!(
        phone.overflow().await,
        0,
        "the page is wider than a phone's screen"
    );
    phone.screenshot("admin-status-phone.png").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_finds_a_candidate_by_email_and_pauses_a_route_from_the_page() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let config = format!(
        "{}sources = [\"{SOURCE}\"]\n{}\n[careers]\ntokens = [\"careers-token-long-enough-1234\"]\n[[routes]]\nname = \"careers\"\ndestination = \"careers\"\nvacancy = \"7\"\nsources = [\"none-yet\"]\n",
        base_config(&hrflow.url, &flatchr.url),
        admin_section()
    );
    let app = spawn!(&config);
    for key in ["ada", "bob"] {
        app.post_event(&event_body(key, SOURCE)).await;
    }
    app.post_event(&event_body("eve", "elsewhere")).await;
    app.settle(Duration::from_secs(10)).await;
    let Some(browser) = open_browser(1280, 1200).await else {
        return;
    };
    let port = app.address.rsplit(':').next().unwrap();
    let (user, password) = ADMIN_USER.split_once(':').unwrap();
    let base = format!("http://{user}:{password}@127.0.0.1:{port}");
    browser.goto(&format!("{base}/admin")).await;
    // Every configured route, the one with no job too.
    let routes = browser.text("#routes tbody").await;
    assert!(
        routes.contains("careers") && routes.contains("Huntflow"),
        "{routes}"
    );

    // The search, by email in another case: a GET form, no script; one candidate opens.
    let boxes = browser.find_all("form.search input[name=q]").await;
    browser.type_into(&boxes[0], "ADA@example.org").await;
    browser.screenshot("admin-search.png").await;
    let find = browser.find_all("form.search button").await;
    browser.click(&find[0]).await;
    let timeline = browser.text("#timeline tbody").await;
    assert!(browser.current_url().await.ends_with("/admin/profiles/ada"));
    assert!(
        timeline.contains("event profile.parsing.success") && timeline.contains("job #"),
        "{timeline}"
    );
    assert!(timeline.contains("delivered"), "{timeline}");
    browser.screenshot("admin-timeline.png").await;

    // Pause, then resume, the Flatchr route.
    browser.goto(&format!("{base}/admin")).await;
    let pause = browser
        .find_all("tr[data-route=flatchr] form[action$='/pause'] button")
        .await;
    browser.click(&pause[0]).await;
    browser.text_with("[role=status]", "paused").await;
    browser.text_with("tr[data-route=flatchr]", "paused").await;
    browser.screenshot("admin-routes-paused.png").await;
    assert_eq!(app.store().pauses().await.unwrap().len(), 1);
    let resume = browser
        .find_all("tr[data-route=flatchr] form[action$='/resume'] button")
        .await;
    browser.click(&resume[0]).await;
    browser.text_with("[role=status]", "resumed").await;
    assert!(app.store().pauses().await.unwrap().is_empty());

    // The jobs and events pages.
    browser
        .goto(&format!("{base}/admin/jobs?status=delivered"))
        .await;
    let jobs = browser.text("#jobs tbody").await;
    assert!(jobs.contains("ada") && jobs.contains("bob"), "{jobs}");
    browser.screenshot("admin-jobs.png").await;
    browser
        .goto(&format!("{base}/admin/events?outcome=ignored"))
        .await;
    let events = browser.text("#events tbody").await;
    assert!(
        events.contains("no route takes source") && !events.contains("ada"),
        "{events}"
    );
    browser.screenshot("admin-events.png").await;
    let loaded = browser
        .script("return performance.getEntriesByType('resource').map(e => e.name)")
        .await;
    assert_eq!(loaded, json!([]), "the page loaded {loaded}");
    drop(browser);

    // On a phone, no page is wider than the screen.
    let Some(phone) = open_browser(390, 844).await else {
        return;
    };
    for (path, shot) in [
        ("/admin", "admin-routes-phone.png"),
        ("/admin/profiles/ada", "admin-timeline-phone.png"),
        ("/admin?q=nobody%40example.org", "admin-search-phone.png"),
        ("/admin/jobs", "admin-jobs-phone.png"),
        ("/admin/events", "admin-events-phone.png"),
    ] {
        phone.goto(&format!("{base}{path}")).await;
        assert_eq!(
            phone.overflow().await,
            0,
            "{path} is wider than a phone's screen"
        );
        phone.screenshot(shot).await;
    }
}
