//! The Huntflow destination against a local fake of Huntflow's API v2 that keeps applicants,
//! uploads and vacancy links, lets access tokens expire, takes each refresh token once, answers
//! 429 past 10 requests in any second, and can lose a create's answer (it creates, then hangs
//! past the relay's timeout). Every candidate must end as one applicant, one upload, one link.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hrflow_relay::job::{Status, Step};
use serde_json::{Value, json};

use crate::helpers::*;

const ACCOUNT: i64 = 11;
const VACANCY: i64 = 3;
const STATUS: i64 = 206;

#[derive(Default)]
struct Huntflow {
    /// Access token -> when it expires.
    access: HashMap<String, Instant>,
    /// Refresh tokens not used yet.
    refresh: Vec<String>,
    lifetime: Duration,
    issued: usize,
    refreshes: usize,
    /// Refresh tokens presented again (or unknown): a relay that loses its newest pair.
    reused: usize,
    applicants: Vec<Value>,
    uploads: usize,
    attaches: usize,
    /// Every request's arrival, for the 10-per-second limit.
    arrivals: VecDeque<Instant>,
    too_many: usize,
    /// How many creates to answer only after `hang` (created first).
    lose_creates: usize,
    hang: Duration,
    user_agents: Vec<String>,
}

type State = web::Data<Mutex<Huntflow>>;

fn error(status: u16, kind: &str, detail: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(
        json!({"errors": [{"type": kind, "title": format!("{kind} title"), "detail": detail}]}),
    )
}

impl Huntflow {
    fn issue(&mut self) -> (String, String) {
        self.issued += 1;
        let access = format!("access-{}-{}", self.issued, uuid::Uuid::new_v4().simple());
        let refresh = format!("refresh-{}-{}", self.issued, uuid::Uuid::new_v4().simple());
        self.access
            .insert(access.clone(), Instant::now() + self.lifetime);
        self.refresh.push(refresh.clone());
        (access, refresh)
    }

    /// The limit, then the token: `Some(answer)` when the request is refused.
    fn admit(&mut self, req: &HttpRequest, bearer: bool) -> Option<HttpResponse> {
        let now = Instant::now();
        while self
            .arrivals
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(now);
        if self.arrivals.len() > 10 {
            self.too_many += 1;
            return Some(error(429, "too_many_requests", ""));
        }
        let agent = req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        self.user_agents.push(agent.to_string());
        if !bearer {
            return None;
        }
        let token = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        match self.access.get(token) {
            None => Some(error(401, "authorization_error", "Invalid access token")),
            Some(until) if *until < now => Some(error(401, "authorization_error", "token_expired")),
            Some(_) => None,
        }
    }
}

async fn refresh(req: HttpRequest, body: web::Json<Value>, s: State) -> HttpResponse {
    let mut s = s.lock().unwrap();
    if let Some(refused) = s.admit(&req, false) {
        return refused;
    }
    let presented = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(at) = s.refresh.iter().position(|r| *r == presented) else {
        s.reused += 1;
        return error(404, "not_found", "error.robot_token.not_found");
    };
    s.refresh.remove(at);
    s.refreshes += 1;
    let (access, refresh) = s.issue();
    HttpResponse::Ok().json(
        json!({"access_token": access, "token_type": "bearer", "expires_in": 604800,
        "refresh_token_expires_in": 1209600, "refresh_token": refresh}),
    )
}

async fn accounts(req: HttpRequest, s: State) -> HttpResponse {
    if let Some(refused) = s.lock().unwrap().admit(&req, true) {
        return refused;
    }
    HttpResponse::Ok().json(json!({"items": [{"id": ACCOUNT, "name": "Acme", "nick": "acme"}]}))
}

async fn statuses(req: HttpRequest, s: State) -> HttpResponse {
    if let Some(refused) = s.lock().unwrap().admit(&req, true) {
        return refused;
    }
    HttpResponse::Ok().json(
        json!({"items": [{"id": STATUS, "type": "user", "name": "New Lead", "removed": null}]}),
    )
}

async fn vacancies(req: HttpRequest, s: State) -> HttpResponse {
    if let Some(refused) = s.lock().unwrap().admit(&req, true) {
        return refused;
    }
    HttpResponse::Ok().json(
        json!({"page": 1, "count": 100, "total_pages": 1, "total_items": 1,
        "items": [{"id": VACANCY, "position": "Manager", "state": "OPEN"}]}),
    )
}

async fn upload(req: HttpRequest, body: web::Bytes, s: State) -> HttpResponse {
    let mut s = s.lock().unwrap();
    if let Some(refused) = s.admit(&req, true) {
        return refused;
    }
    let multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let text = String::from_utf8_lossy(&body);
    if !multipart || !text.contains("name=\"file\"") || !text.contains("%PDF") {
        return error(400, "bad_request", "no file part");
    }
    s.uploads += 1;
    let id = 1_000 + s.uploads as i64;
    HttpResponse::Ok().json(json!({"id": id, "url": "https://store/x", "content_type": "application/pdf", "name": "resume.pdf"}))
}

async fn create(req: HttpRequest, body: web::Json<Value>, s: State) -> HttpResponse {
    let (id, hang) = {
        let mut s = s.lock().unwrap();
        if let Some(refused) = s.admit(&req, true) {
            return refused;
        }
        let id = s.applicants.len() as i64 + 1;
        let mut applicant = body.into_inner();
        applicant["id"] = json!(id);
        applicant["links"] = json!([]);
        s.applicants.push(applicant);
        let lose = s.lose_creates > 0;
        if lose {
            s.lose_creates -= 1;
        }
        (id, lose.then_some(s.hang))
    };
    if let Some(hang) = hang {
        tokio::time::sleep(hang).await;
    }
    HttpResponse::Ok().json(json!({"id": id, "doubles": [{"double": 8}]}))
}

async fn search(
    req: HttpRequest,
    q: web::Query<HashMap<String, String>>,
    s: State,
) -> HttpResponse {
    let mut s = s.lock().unwrap();
    if let Some(refused) = s.admit(&req, true) {
        return refused;
    }
    let wanted = q.get("q").cloned().unwrap_or_default().to_lowercase();
    let items: Vec<Value> = s
        .applicants
        .iter()
        .filter(|a| a["email"].as_str().map(str::to_lowercase) == Some(wanted.clone()))
        .cloned()
        .collect();
    HttpResponse::Ok().json(json!({"items": items, "next_page_cursor": null}))
}

async fn applicant(req: HttpRequest, path: web::Path<(i64, i64)>, s: State) -> HttpResponse {
    let mut s = s.lock().unwrap();
    if let Some(refused) = s.admit(&req, true) {
        return refused;
    }
    match s.applicants.get((path.1 - 1) as usize) {
        Some(a) => HttpResponse::Ok().json(a),
        None => error(404, "not_found", "applicant"),
    }
}

async fn attach(
    req: HttpRequest,
    path: web::Path<(i64, i64)>,
    body: web::Json<Value>,
    s: State,
) -> HttpResponse {
    let mut s = s.lock().unwrap();
    if let Some(refused) = s.admit(&req, true) {
        return refused;
    }
    if !(body["vacancy"].is_i64() && body["status"].is_i64()) {
        return error(400, "bad_request", "vacancy and status are integers");
    }
    s.attaches += 1;
    let Some(a) = s.applicants.get_mut((path.1 - 1) as usize) else {
        return error(404, "not_found", "applicant");
    };
    a["links"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": 7, "vacancy": body["vacancy"], "status": body["status"]}));
    HttpResponse::Ok().json(json!({"id": 7, "vacancy": body["vacancy"], "status": body["status"]}))
}

struct FakeHuntflow {
    url: String,
    state: Arc<Mutex<Huntflow>>,
    /// The pair "a person issued": what the config holds.
    pair: (String, String),
}

impl FakeHuntflow {
    /// The configured pair lives `first`; every refreshed one `lifetime`.
    async fn start(first: Duration, lifetime: Duration) -> Self {
        let mut h = Huntflow {
            lifetime: first,
            hang: Duration::from_millis(900),
            ..Huntflow::default()
        };
        let pair = h.issue();
        h.lifetime = lifetime;
        let state = Arc::new(Mutex::new(h));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v2/token/refresh", web::post().to(refresh))
                .route("/v2/accounts", web::get().to(accounts))
                .route(
                    "/v2/accounts/{a}/vacancies/statuses",
                    web::get().to(statuses),
                )
                .route("/v2/accounts/{a}/vacancies", web::get().to(vacancies))
                .route("/v2/accounts/{a}/upload", web::post().to(upload))
                .route("/v2/accounts/{a}/applicants", web::post().to(create))
                .route(
                    "/v2/accounts/{a}/applicants/search_by_cursor",
                    web::get().to(search),
                )
                .route("/v2/accounts/{a}/applicants/{id}", web::get().to(applicant))
                .route(
                    "/v2/accounts/{a}/applicants/{id}/vacancy",
                    web::post().to(attach),
                )
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/v2"),
            state,
            pair,
        }
    }

    fn config(&self, hrflow: &str, flatchr: &str, route_keys: &str) -> String {
        let base = base_config(hrflow, flatchr);
        let base = base.split("[[routes]]").next().unwrap();
        format!(
            "{base}[huntflow]\napi_url = \"{}\"\naccount_id = {ACCOUNT}\naccess_token = \"{}\"\nrefresh_token = \"{}\"\naccount_source = 209\n\n[[routes]]\nname = \"huntflow\"\ndestination = \"huntflow\"\n{route_keys}\n",
            self.url, self.pair.0, self.pair.1
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_candidate_is_one_applicant_one_upload_one_link_across_expiring_tokens_and_a_lost_create()
 {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // Tokens live 2 s: refreshes during the run, each refresh token used once.
    let huntflow = FakeHuntflow::start(Duration::ZERO, Duration::from_secs(2)).await;
    huntflow.state.lock().unwrap().lose_creates = 1;
    let config = huntflow.config(
        &hrflow.url,
        &flatchr.url,
        &format!("vacancy = \"{VACANCY}\"\nstatus = {STATUS}"),
    );
    let app = spawn!(&config);
    let keys: Vec<String> = (0..8).map(|i| format!("cand-{i}")).collect();
    for key in &keys {
        assert_eq!(app.post_event(&event_body(key, "src")).await.status(), 202);
    }
    let jobs = app.settle(Duration::from_secs(60)).await;
    assert_all_delivered(&jobs);
    {
        let s = huntflow.state.lock().unwrap();
        let mut emails: Vec<String> = s
            .applicants
            .iter()
            .map(|a| a["email"].as_str().unwrap().to_string())
            .collect();
        emails.sort();
        let mut expected: Vec<String> = keys.iter().map(|k| format!("{k}@example.org")).collect();
        expected.sort();
        assert_eq!(emails, expected, "one applicant per candidate");
        assert_eq!(s.uploads, keys.len(), "one upload per candidate");
        assert_eq!(s.attaches, keys.len(), "one link per candidate");
        for a in &s.applicants {
            assert_eq!(a["links"].as_array().unwrap().len(), 1, "{a}");
            assert_eq!(a["externals"][0]["account_source"], 209);
            assert_eq!(a["externals"][0]["files"].as_array().unwrap().len(), 1);
            assert_eq!(a["first_name"], "Margaret", "{a}");
        }
        assert_eq!(
            s.lose_creates, 0,
            "the create whose answer was lost happened"
        );
        assert!(s.refreshes >= 1, "the tokens expired during the run");
        assert_eq!(s.reused, 0, "no refresh token was presented twice");
        assert_eq!(s.too_many, 0, "never past 10 requests in a second");
        assert!(
            s.user_agents.iter().all(|a| a.starts_with("hrflow-relay/")),
            "{:?}",
            s.user_agents.first()
        );
    }
    // Every job reached the vacancy; Huntflow's possible duplicates are on the attempt.
    assert!(
        jobs.iter().all(|j| j.step == Step::reached("attached")),
        "{jobs:?}"
    );
    let mut noted = 0;
    for job in &jobs {
        noted += app
            .attempts(job.id)
            .await
            .iter()
            .filter(|a| {
                a.note
                    .as_deref()
                    .is_some_and(|n| n.contains("possible duplicates: applicant 8"))
            })
            .count();
    }
    // Every create answered has them; the one whose answer was lost was found by search.
    assert_eq!(noted, keys.len() - 1);
    // The newest pair is in the database, not the configured one.
    let stored = app
        .store()
        .credentials("huntflow:default")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.access, huntflow.pair.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_pauses_the_route_and_its_jobs_wait() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // Expired from the start, and the refresh token was used already.
    let huntflow = FakeHuntflow::start(Duration::ZERO, Duration::from_secs(600)).await;
    huntflow.state.lock().unwrap().refresh.clear();
    let config = huntflow.config(&hrflow.url, &flatchr.url, "");
    let app = spawn_stepped!(&config);
    assert_eq!(
        app.post_event(&event_body("ada", "src")).await.status(),
        202
    );
    app.run_due().await;
    assert!(
        !app.store().pauses().await.unwrap().is_empty(),
        "the route was not paused"
    );
    // Made due (its retry is an hour away), the job still waits: the pause keeps it unclaimed.
    sqlx::query("UPDATE jobs SET next_attempt_at = 0")
        .execute(app.store().pool())
        .await
        .unwrap();
    assert_eq!(app.run_due().await, [], "a paused route's job was claimed");
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].status,
        Status::Pending,
        "the job waits, it does not die"
    );
    let attempts = app.attempts(jobs[0].id).await;
    assert!(
        attempts.iter().any(|a| a
            .error
            .as_deref()
            .is_some_and(|e| e.contains("Issue a new token pair in Huntflow"))),
        "{attempts:?}"
    );
    let s = huntflow.state.lock().unwrap();
    assert!(s.applicants.is_empty());
    assert_eq!(
        s.reused, 1,
        "the refused refresh was tried once, not again and again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_put_in_the_config_replaces_the_stored_one() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let huntflow = FakeHuntflow::start(Duration::ZERO, Duration::from_secs(600)).await;
    let config = huntflow.config(&hrflow.url, &flatchr.url, "");
    let app = spawn_stepped!(&config);
    assert_eq!(
        app.post_event(&event_body("ada", "src")).await.status(),
        202
    );
    assert_all_delivered(&app.dispatch().await);
    let refreshed = app
        .store()
        .credentials("huntflow:default")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(refreshed.access, huntflow.pair.0);
    let db = app.stop().await;
    // A person issues a new pair and puts it in the file: it wins over the stored one.
    let (access, refresh) = {
        let mut s = huntflow.state.lock().unwrap();
        s.lifetime = Duration::from_secs(600);
        s.issue()
    };
    let config = config
        .replace(&huntflow.pair.0, &access)
        .replace(&huntflow.pair.1, &refresh);
    let app = TestApp::spawn_stepped_on(&config, db).await;
    assert_eq!(
        app.post_event(&event_body("bob", "src")).await.status(),
        202
    );
    assert_all_delivered(&app.dispatch().await);
    let stored = app
        .store()
        .credentials("huntflow:default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.access, access,
        "the configured pair is the one in use"
    );
    assert_eq!(huntflow.state.lock().unwrap().reused, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_names_what_is_missing_and_online_asks_huntflow() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let huntflow = FakeHuntflow::start(Duration::from_secs(600), Duration::from_secs(600)).await;
    let good = huntflow.config(
        &hrflow.url,
        &flatchr.url,
        &format!("vacancy = \"{VACANCY}\"\nstatus = {STATUS}"),
    );
    let app = spawn!(&good);
    let (ok, out) = relay_cli(&app, &["check-config", "--online"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("huntflow account \"default\": the token sees account_id 11"),
        "{out}"
    );
    assert!(out.contains("vacancy 3 and status 206 exist"), "{out}");
    assert!(!out.contains(&huntflow.pair.0), "a token was printed");
    drop(app);

    let bad = format!(
        "{}[[routes]]\nname = \"nostatus\"\ndestination = \"huntflow\"\nvacancy = \"3\"\n[[routes]]\nname = \"other\"\ndestination = \"huntflow\"\naccount = \"nobody\"\n",
        good.replace(
            &format!("access_token = \"{}\"", huntflow.pair.0),
            "access_token = \"\""
        )
    );
    let path = std::env::temp_dir().join(format!("relay-huntflow-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&path, &bad).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .arg("check-config")
        .env("RELAY_CONFIG", &path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("route \"nostatus\" sends to huntflow with a vacancy but no status"),
        "{text}"
    );
    assert!(
        text.contains("route \"other\" names the Huntflow account \"nobody\""),
        "{text}"
    );
    assert!(
        text.contains("huntflow.access_token or huntflow.refresh_token is empty"),
        "{text}"
    );
    let _ = std::fs::remove_file(path);
}
