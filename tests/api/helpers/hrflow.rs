//! HrFlow and the file host: a mockito HrFlow serving one profile, and `FakeHrflow`, which
//! serves any profile, the resumes it names and a paged listing of sources.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use super::{HRFLOW_KEY, fixture};

/// HrFlow's answer for a profile.
pub fn hrflow_answer(profile: &Value) -> String {
    json!({"code": 200, "message": "Profile retrieved", "data": profile}).to_string()
}

/// A mockito HrFlow that serves `profile` and a file host serving its resume.
pub async fn hrflow_serving(server: &mut mockito::ServerGuard, profile: &Value) -> mockito::Mock {
    server
        .mock("GET", "/profile/indexing")
        .match_query(mockito::Matcher::AllOf(vec![
            mockito::Matcher::UrlEncoded("key".into(), profile["key"].as_str().unwrap().into()),
            mockito::Matcher::UrlEncoded(
                "source_key".into(),
                profile["source"]["key"].as_str().unwrap().into(),
            ),
        ]))
        .match_header("X-API-KEY", HRFLOW_KEY)
        .match_header("X-USER-EMAIL", "ops@example.org")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(hrflow_answer(profile))
        .create_async()
        .await
}

/// The listing side of the HrFlow stand-in (`GET /storing/profiles`).
#[derive(Default)]
pub struct Listing {
    /// Profile keys per source, oldest first.
    pub sources: HashMap<String, Vec<String>>,
    /// Pages that fail (503) the next time they are asked for, once per entry.
    pub fail_once: Vec<u64>,
    /// A page that fails every time (a lasting outage), until cleared.
    pub fail_always: Option<u64>,
    /// When this page is served, these profiles join the source (they arrive while it runs).
    pub add_on_page: Option<(u64, String, Vec<String>)>,
    /// Each listing request waits this long (so a test can interrupt a backfill mid-run).
    pub delay: Duration,
    /// (source, page, limit) of every listing request, in order.
    pub requests: Vec<(String, u64, u64)>,
    /// Requests that did not carry the right credentials.
    pub unauthorized: usize,
    /// The `created_at_min` of every listing request, in order.
    pub created_after: Vec<Option<String>>,
}

/// An HrFlow stand-in serving a profile for any key (fixture 0's shape, the key's own email),
/// the resume files it names, and a paged listing of sources.
pub struct FakeHrflow {
    pub url: String,
    pub listing: Arc<Mutex<Listing>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeHrflow {
    pub async fn start() -> Self {
        let template = web::Data::new(fixture(0));
        let listing = Arc::new(Mutex::new(Listing::default()));
        let listing_data = web::Data::from(listing.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(template.clone())
                .app_data(listing_data.clone())
                .route("/profile/indexing", web::get().to(hrflow_profile))
                .route("/storing/profiles", web::get().to(hrflow_listing))
                .route(
                    "/files/{name}",
                    web::get().to(|| async { HttpResponse::Ok().body(&b"%PDF-1.4 resume"[..]) }),
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
            listing,
            handle,
        }
    }

    /// Puts `keys` in `source`'s listing.
    pub fn source(&self, source: &str, keys: Vec<String>) {
        self.listing
            .lock()
            .unwrap()
            .sources
            .insert(source.to_string(), keys);
    }

    pub fn list_requests(&self) -> usize {
        self.listing.lock().unwrap().requests.len()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn hrflow_profile(
    req: actix_web::HttpRequest,
    q: web::Query<HashMap<String, String>>,
    template: web::Data<Value>,
) -> HttpResponse {
    let key = q.get("key").cloned().unwrap_or_default();
    let mut p = template.get_ref().clone();
    p["key"] = json!(key);
    p["info"]["email"] = json!(format!("{key}@example.org"));
    let base = format!("http://{}", req.connection_info().host());
    p["attachments"] = json!([{"file_name": "resume", "type": "resume", "extension": ".pdf", "public_url": format!("{base}/files/{key}.pdf")}]);
    HttpResponse::Ok().json(json!({"code": 200, "message": "ok", "data": p}))
}

async fn hrflow_listing(
    req: actix_web::HttpRequest,
    q: web::Query<HashMap<String, String>>,
    listing: web::Data<Mutex<Listing>>,
) -> HttpResponse {
    let authorized = req.headers().get("X-API-KEY").and_then(|v| v.to_str().ok())
        == Some(HRFLOW_KEY)
        && req
            .headers()
            .get("X-USER-EMAIL")
            .and_then(|v| v.to_str().ok())
            == Some("ops@example.org");
    let sources: Vec<String> = q
        .get("source_keys")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let limit: u64 = q.get("limit").and_then(|p| p.parse().ok()).unwrap_or(30);
    let delay = listing.lock().unwrap().delay;
    tokio::time::sleep(delay).await;
    let mut l = listing.lock().unwrap();
    if !authorized {
        l.unauthorized += 1;
        return HttpResponse::Unauthorized().json(json!({"code": 401, "message": "Unauthorized"}));
    }
    let [source] = sources.as_slice() else {
        return HttpResponse::BadRequest().json(json!({"code": 400, "message": "one source"}));
    };
    let ordered = q.get("order_by").map(String::as_str) == Some("asc")
        && q.get("sort_by").map(String::as_str) == Some("created_at")
        && q.get("return_profile").map(String::as_str) == Some("false");
    if !ordered {
        return HttpResponse::BadRequest()
            .json(json!({"code": 400, "message": "unexpected order"}));
    }
    l.requests.push((source.clone(), page, limit));
    l.created_after.push(q.get("created_at_min").cloned());
    if let Some(i) = l.fail_once.iter().position(|p| *p == page) {
        l.fail_once.remove(i);
        return HttpResponse::ServiceUnavailable().json(json!({"code": 503, "message": "busy"}));
    }
    if l.fail_always == Some(page) {
        return HttpResponse::ServiceUnavailable().json(json!({"code": 503, "message": "down"}));
    }
    if let Some((p, s, _)) = &l.add_on_page
        && *p == page
        && s == source
        && let Some((_, s, keys)) = l.add_on_page.take()
    {
        l.sources.entry(s).or_default().extend(keys);
    }
    let Some(keys) = l.sources.get(source) else {
        return HttpResponse::Ok().json(json!({"code": 400, "message": "unknown source"}));
    };
    let total = keys.len() as u64;
    let max_page = total.div_ceil(limit).max(1);
    let items: Vec<Value> = keys
        .iter()
        .skip(((page - 1) * limit) as usize)
        .take(limit as usize)
        .map(|k| json!({"key": k, "reference": null, "created_at": "2026-01-01T00:00:00", "updated_at": "2026-01-01T00:00:00"}))
        .collect();
    HttpResponse::Ok().json(json!({"code": 200, "message": "List of profiles",
        "meta": {"page": page, "maxPage": max_page, "count": items.len(), "total": total},
        "data": items}))
}
