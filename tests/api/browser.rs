//! The status page in a real browser: headless Chromium driven through chromedriver (the
//! W3C WebDriver protocol, plain HTTP and JSON). It checks what a person sees (the queue, the
//! chart, the dead jobs and their cause), presses Retry and sees the job go pending, and keeps
//! screenshots in `target/artefacts/`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hrflow_relay::job::Status;
use serde_json::{Value, json};

use crate::admin::{ADMIN_USER, admin_section};
use crate::helpers::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
}

impl Drop for Browser {
    /// Ends the session first (chromedriver then quits the Chromium it started; killing only
    /// the driver left a browser running after every test run), then the driver.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if let Some((host, path)) = self
            .session
            .strip_prefix("http://")
            .and_then(|s| s.split_once('/'))
            && let Ok(mut socket) = std::net::TcpStream::connect(host)
        {
            let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                socket,
                "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            );
            let _ = socket.read_to_end(&mut Vec::new());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// Starts chromedriver and a headless Chromium session; `None` (said loudly) without them.
/// Under CI=true their absence fails the test: `.ci/run` installs them.
async fn open_browser(width: u32, height: u32) -> Option<Browser> {
    let (Some(driver), Some(chromium)) = (which("chromedriver"), which("chromium")) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: the browser test needs chromium and chromedriver (apt-get install chromium chromium-driver)"
        );
        eprintln!("*** chromium or chromedriver missing: the browser test was NOT run ***");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while http.get(format!("{base}/status")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": chromium,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 format!("--window-size={width},{height}"), "--no-first-run", "--disable-extensions"]}}}});
    let created: Value = http
        .post(format!("{base}/session"))
        .json(&caps)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {created}"))
        .to_string();
    Some(Browser {
        http,
        session: format!("{base}/session/{id}"),
        driver: child,
    })
}

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let answer: Value = r.send().await.unwrap().json().await.unwrap();
        assert!(answer["value"]["error"].is_null(), "{path}: {answer}");
        answer["value"].clone()
    }
    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }
    async fn find_all(&self, css: &str) -> Vec<String> {
        self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[ELEMENT].as_str().unwrap().to_string())
        .collect()
    }
    /// The text of the first element matching `css`, waiting for it to appear (a click on a
    /// form button returns before the next page has loaded).
    async fn text(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(text) = self.try_text(css).await {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nothing matches {css}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    /// The text of the first element matching `css` once it contains `needle`. After a click on
    /// a form button the old page may still be showing, and its element goes stale when the next
    /// one loads, so a stale or missing element is looked for again until 10 s have passed.
    async fn text_with(&self, css: &str, needle: &str) -> String {
        let started = Instant::now();
        let mut seen = String::new();
        while started.elapsed() < Duration::from_secs(10) {
            if let Some(text) = self.try_text(css).await {
                if text.contains(needle) {
                    return text;
                }
                seen = text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} never said {needle:?}; last seen: {seen:?}");
    }
    async fn try_text(&self, css: &str) -> Option<String> {
        let found: Value = self
            .http
            .post(format!("{}/elements", self.session))
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let id = found["value"].get(0)?[ELEMENT].as_str()?.to_string();
        let text: Value = self
            .http
            .get(format!("{}/element/{id}/text", self.session))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        text["value"].as_str().map(str::to_string)
    }
    async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }
    async fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }
    /// How much wider than the window the page is (0: nothing cut off or scrolled sideways).
    async fn overflow(&self) -> Value {
        self.script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
        )
        .await
    }
    async fn script(&self, code: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": code, "args": []})),
        )
        .await
    }
    async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }
    /// Saves a screenshot in target/artefacts/ and returns its path.
    async fn screenshot(&self, name: &str) -> std::path::PathBuf {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artefacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

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
