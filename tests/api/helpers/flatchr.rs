//! `FakeFlatchr`: a stateful Flatchr stand-in (candidates created by push, found by search)
//! that refuses, throttles or hangs on demand.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// What the fake Flatchr does with the next push.
#[derive(Clone, Debug)]
pub enum Fault {
    Status(u16, Option<u64>),
    /// Answers after this long (past the relay's timeout: a hang).
    Hang(Duration),
    /// Creates the candidate, then hangs: the relay cannot know it succeeded.
    CreateThenHang(Duration),
}

#[derive(Default)]
pub struct FlatchrState {
    pub candidates: Vec<Value>,
    pub enriched: Vec<Value>,
    pub searches: usize,
    pub push_requests: usize,
    pub push_faults: VecDeque<Fault>,
    pub enrich_faults: VecDeque<Fault>,
    pub authorizations: Vec<String>,
    pub push_times: Vec<Instant>,
    /// Once the queues are empty: every n-th push (enrich) gets this fault.
    pub push_pattern: Vec<(usize, Fault)>,
    pub enrich_pattern: Vec<(usize, Fault)>,
    pub enrich_requests: usize,
    pub faults_injected: usize,
    /// (call, company in the path, Authorization) of every enrich and search.
    pub api_calls: Vec<(&'static str, String, String)>,
}

fn from_pattern(pattern: &[(usize, Fault)], n: usize) -> Option<Fault> {
    pattern
        .iter()
        .find(|(every, _)| n.is_multiple_of(*every))
        .map(|(_, f)| f.clone())
}

/// A stateful Flatchr stand-in: candidates are created by push and found by search.
pub struct FakeFlatchr {
    pub url: String,
    pub state: Arc<Mutex<FlatchrState>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeFlatchr {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FlatchrState::default()));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::JsonConfig::default().limit(64 << 20))
                .route("/vacancy/candidate/json", web::post().to(push))
                .route(
                    "/company/{company}/search/candidate",
                    web::post().to(enrich),
                )
                .route(
                    "/company/{company}/search/applicants",
                    web::post().to(search),
                )
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    pub fn faults(&self, push: Vec<Fault>, enrich: Vec<Fault>) {
        let mut s = self.state.lock().unwrap();
        s.push_faults = push.into();
        s.enrich_faults = enrich.into();
    }

    pub fn candidates(&self) -> Vec<Value> {
        self.state.lock().unwrap().candidates.clone()
    }

    pub fn enriched(&self) -> Vec<Value> {
        self.state.lock().unwrap().enriched.clone()
    }

    /// Each candidate's email, and how many times Flatchr received it.
    pub fn pushes_per_email(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for c in self.candidates() {
            *counts
                .entry(c["email"].as_str().unwrap_or("").to_string())
                .or_insert(0) += 1;
        }
        counts
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn fault_answer(fault: Option<Fault>) -> Option<HttpResponse> {
    match fault? {
        Fault::Status(code, retry_after) => {
            let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap());
            if let Some(s) = retry_after {
                r.insert_header(("Retry-After", s.to_string()));
            }
            Some(r.json(json!({"error": "injected"})))
        }
        Fault::Hang(d) | Fault::CreateThenHang(d) => {
            tokio::time::sleep(d).await;
            Some(HttpResponse::GatewayTimeout().finish())
        }
    }
}

async fn push(
    req: actix_web::HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Mutex<FlatchrState>>,
) -> HttpResponse {
    let fault = {
        let mut s = state.lock().unwrap();
        s.push_requests += 1;
        s.push_times.push(Instant::now());
        if let Some(a) = req.headers().get("authorization") {
            s.authorizations.push(a.to_str().unwrap_or("").to_string());
        }
        let n = s.push_requests;
        let fault = s
            .push_faults
            .pop_front()
            .or_else(|| from_pattern(&s.push_pattern, n));
        s.faults_injected += usize::from(fault.is_some());
        if matches!(fault, None | Some(Fault::CreateThenHang(_))) {
            s.candidates.push(body.0.clone());
        }
        fault
    };
    if let Some(r) = fault_answer(fault).await {
        return r;
    }
    HttpResponse::Ok().json(json!({"status": 200, "response": "applicant created"}))
}

/// The company in the path and the Authorization header of an API call.
fn api_call(req: &actix_web::HttpRequest) -> (String, String) {
    (
        req.match_info()
            .get("company")
            .unwrap_or_default()
            .to_string(),
        req.headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    )
}

async fn enrich(
    req: actix_web::HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Mutex<FlatchrState>>,
) -> HttpResponse {
    let fault = {
        let mut s = state.lock().unwrap();
        let (company, auth) = api_call(&req);
        s.api_calls.push(("enrich", company, auth));
        s.enrich_requests += 1;
        let n = s.enrich_requests;
        let fault = s
            .enrich_faults
            .pop_front()
            .or_else(|| from_pattern(&s.enrich_pattern, n));
        s.faults_injected += usize::from(fault.is_some());
        if fault.is_none() {
            s.enriched.push(body.0.clone());
        }
        fault
    };
    if let Some(r) = fault_answer(fault).await {
        return r;
    }
    HttpResponse::Ok().json(
        json!({"statusCode": 200, "message": {"resource_type": "attribute", "action": "created"}}),
    )
}

async fn search(
    req: actix_web::HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Mutex<FlatchrState>>,
) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.searches += 1;
    let (company, auth) = api_call(&req);
    s.api_calls.push(("search", company, auth));
    let email = body.get("email").and_then(Value::as_str).unwrap_or("");
    let found: Vec<Value> = s
        .candidates
        .iter()
        .filter(|c| c["email"] == email)
        .map(|c| json!({"applicant": "a1", "vacancy": c["vacancy"], "firstname": c["firstname"], "lastname": c["lastname"], "email": c["email"]}))
        .collect();
    HttpResponse::Ok().json(found)
}
