//! A WebDriver client for the browser tests: chromedriver and a headless Chromium session, ended
//! when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
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
pub async fn open_browser(width: u32, height: u32) -> Option<Browser> {
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
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let answer: Value = r.send().await.unwrap().json().await.unwrap();
        assert!(answer["value"]["error"].is_null(), "{path}: {answer}");
        answer["value"].clone()
    }
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }
    pub async fn find_all(&self, css: &str) -> Vec<String> {
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
    pub async fn text(&self, css: &str) -> String {
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
    pub async fn text_with(&self, css: &str, needle: &str) -> String {
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
    pub async fn try_text(&self, css: &str) -> Option<String> {
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
    pub async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }
    pub async fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }
    /// How much wider than the window the page is (0: nothing cut off or scrolled sideways).
    pub async fn overflow(&self) -> Value {
        self.script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
        )
        .await
    }
    pub async fn script(&self, code: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": code, "args": []})),
        )
        .await
    }
    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }
    /// Saves a screenshot in target/artefacts/ and returns its path.
    pub async fn screenshot(&self, name: &str) -> std::path::PathBuf {
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
