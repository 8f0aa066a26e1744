//! A fake of Huntflow's API v2: applicants, uploads and vacancy links kept, access tokens that
//! expire, refresh tokens taken once, 429 past 10 requests in any second, creates whose answer
//! can be lost.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use super::{ACCOUNT, STATUS, VACANCY};
use crate::helpers::*;

#[derive(Default)]
pub struct Huntflow {
    /// Access token -> when it expires.
    pub access: HashMap<String, Instant>,
    /// Refresh tokens not used yet.
    pub refresh: Vec<String>,
    pub lifetime: Duration,
    pub issued: usize,
    pub refreshes: usize,
    /// Refresh tokens presented again (or unknown): a relay that loses its newest pair.
    pub reused: usize,
    pub applicants: Vec<Value>,
    pub uploads: usize,
    pub attaches: usize,
    /// Every request's arrival, for the 10-per-second limit.
    pub arrivals: VecDeque<Instant>,
    pub too_many: usize,
    /// How many creates to answer only after `hang` (created first).
    pub lose_creates: usize,
    pub hang: Duration,
    pub user_agents: Vec<String>,
}

type State = web::Data<Mutex<Huntflow>>;

fn error(status: u16, kind: &str, detail: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(
        json!({"errors": [{"type": kind, "title": format!("{kind} title"), "detail": detail}]}),
    )
}

impl Huntflow {
    pub fn issue(&mut self) -> (String, String) {
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

pub struct FakeHuntflow {
    pub url: String,
    pub state: Arc<Mutex<Huntflow>>,
    /// The pair "a person issued": what the config holds.
    pub pair: (String, String),
}

impl FakeHuntflow {
    /// The configured pair lives `first`; every refreshed one `lifetime`.
    pub async fn start(first: Duration, lifetime: Duration) -> Self {
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

    pub fn config(&self, hrflow: &str, flatchr: &str, route_keys: &str) -> String {
        let base = base_config(hrflow, flatchr);
        let base = base.split("[[routes]]").next().unwrap();
        format!(
            "{base}[huntflow]\napi_url = \"{}\"\naccount_id = {ACCOUNT}\naccess_token = \"{}\"\nrefresh_token = \"{}\"\naccount_source = 209\n\n[[routes]]\nname = \"huntflow\"\ndestination = \"huntflow\"\n{route_keys}\n",
            self.url, self.pair.0, self.pair.1
        )
    }
}
