//! The operator's HTTP side: `/admin/api` behind `[admin]` credentials (never the careers
//! ones), bulk retry after an expired key, cancel, alerts, purge and erase.

mod alerts;
mod auth;
mod jobs;

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use serde_json::Value;

use crate::helpers::*;

pub const ADMIN_TOKEN: &str = "admin-token-789-long-enough";
pub const ADMIN_USER: &str = "ops:admin-pass-012";

pub fn admin_section() -> String {
    format!("[admin]\ntokens = [\"{ADMIN_TOKEN}\"]\nbasic_users = [\"{ADMIN_USER}\"]\n")
}

pub fn basic(user: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user)
    )
}

/// A request to the admin area with `auth` (an Authorization value, or none).
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app.http.request(method, format!("{}{path}", app.address));
    if let Some(a) = auth {
        r = r.header("Authorization", a);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn bearer() -> String {
    format!("Bearer {ADMIN_TOKEN}")
}

/// An incoming-webhook stand-in that records every message.
pub struct AlertSink {
    pub url: String,
    pub messages: Arc<Mutex<Vec<Value>>>,
}

impl AlertSink {
    pub async fn start() -> Self {
        let messages = Arc::new(Mutex::new(Vec::new()));
        let data = web::Data::from(messages.clone());
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).route(
                "/hooks/T000/B000/XXXX",
                web::post().to(
                    |body: web::Json<Value>, m: web::Data<Mutex<Vec<Value>>>| async move {
                        m.lock().unwrap().push(body.0);
                        HttpResponse::Ok().body("ok")
                    },
                ),
            )
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}/hooks/T000/B000/XXXX"),
            messages,
        }
    }

    pub fn texts(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}
