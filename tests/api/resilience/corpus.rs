//! The hostile corpus: every public route, with what an attacker or a broken client sends.

use base64::Engine as _;

use super::{TOKEN, basic_header};
use crate::helpers::*;

/// One hostile request: method, path, headers, body.
pub struct Hostile {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(&'static str, Vec<u8>)>,
    pub body: Vec<u8>,
}

fn req(method: &'static str, path: impl Into<String>) -> Hostile {
    Hostile {
        method,
        path: path.into(),
        headers: vec![],
        body: vec![],
    }
}

impl Hostile {
    fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn json(self, body: impl Into<Vec<u8>>) -> Self {
        let mut s = self.header("Content-Type", "application/json");
        s.body = body.into();
        s
    }
    fn token(self) -> Self {
        self.header("Authorization", format!("Bearer {TOKEN}"))
    }
    fn signed(self) -> Self {
        let sig = hrflow_relay::hrflow::signature::hex_hmac(SECRET.as_bytes(), &self.body);
        self.header("HTTP-HRFLOW-SIGNATURE", sig)
    }
}

fn nested(depth: usize) -> Vec<u8> {
    let mut v = "[".repeat(depth);
    v.push_str(&"]".repeat(depth));
    v.into_bytes()
}

fn nested_object(depth: usize) -> Vec<u8> {
    let mut v = String::from("{\"type\":\"profile.parsing.success\",\"profile\":");
    v.push_str(&"{\"a\":".repeat(depth));
    v.push('1');
    v.push_str(&"}".repeat(depth + 1));
    v.into_bytes()
}

/// The corpus: every public route, with what an attacker or a broken client sends.
pub fn corpus() -> Vec<Hostile> {
    let mut c = Vec::new();
    let event = event_body("hostile-ok", SOURCE).into_bytes();
    let huge = vec![b'x'; 3 << 20];
    // The event endpoint.
    for body in [
        b"{".to_vec(),
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"profile\"".to_vec(),
        b"1e999999".to_vec(),
        b"{\"profile\": 1}".to_vec(),
        b"{\"profile\": {\"key\": 1, \"source\": {\"key\": []}}}".to_vec(),
        b"{\"profile\": {\"key\": \"\", \"source\": {\"key\": \"\"}}}".to_vec(),
        b"{\"profile\": {\"key\": \"k\", \"source\": {}}}".to_vec(),
        b"\xff\xfe\x00{".to_vec(),
        b"{\"a\": \"\\ud800\"}".to_vec(),
        nested(100_000),
        nested_object(5_000),
        huge.clone(),
    ] {
        c.push(req("POST", "/hrflow/events").json(body.clone()).signed());
        c.push(req("POST", "/hrflow/events").json(body));
    }
    let long_key = "k".repeat(100_000);
    c.push(
        req("POST", "/hrflow/events")
            .json(event_body(&long_key, SOURCE))
            .signed(),
    );
    c.push(
        req("POST", "/hrflow/events")
            .json(event_body(
                "../../etc/passwd\u{0}'; DROP TABLE jobs;--",
                "\u{202e}",
            ))
            .signed(),
    );
    for sig in [
        b"".to_vec(),
        b"zz".to_vec(),
        "0".repeat(64).into_bytes(),
        "0".repeat(63).into_bytes(),
        "a".repeat(10_000).into_bytes(),
        b"\xff\xfe\x80".to_vec(),
        b"Bearer x".to_vec(),
        hrflow_relay::hrflow::signature::hex_hmac(b"wrong-secret", &event).into_bytes(),
        hrflow_relay::hrflow::signature::hex_hmac(SECRET.as_bytes(), b"another body").into_bytes(),
    ] {
        c.push(
            req("POST", "/hrflow/events")
                .json(event.clone())
                .header("HTTP-HRFLOW-SIGNATURE", sig),
        );
    }
    c.push(
        req("POST", "/hrflow/events")
            .header("Content-Type", "text/plain")
            .json(event.clone())
            .signed(),
    );
    c.push(
        req("POST", "/hrflow/events")
            .header("Content-Type", "multipart/form-data; boundary=x")
            .json(b"--x--".to_vec()),
    );
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        c.push(req(method, "/hrflow/events"));
    }
    // The service routes.
    for path in ["/health/live", "/health/ready", "/metrics", "/openapi.json"] {
        c.push(req("POST", path).json(huge.clone()));
        c.push(req("DELETE", path));
        c.push(req("GET", format!("{path}?page=-1&x=%ff%00")));
    }
    // The careers API: broken Authorization first.
    let v = "/careers/vacancies/1/responses";
    for auth in [
        b"".to_vec(),
        b"Bearer".to_vec(),
        b"Bearer ".to_vec(),
        format!("Bearer {}", "t".repeat(20_000)).into_bytes(),
        format!("Bearer {TOKEN}x").into_bytes(),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]).into_bytes(),
        b"Token".to_vec(),
        b"Basic".to_vec(),
        b"Basic !!!not-base64!!!".to_vec(),
        basic_header("no-colon").into_bytes(),
        basic_header(":").into_bytes(),
        basic_header("huntflow:wrong").into_bytes(),
        b"Basic \xff\xfe".to_vec(),
        [
            b"Basic ".to_vec(),
            base64::engine::general_purpose::STANDARD
                .encode(b"\xff:\xfe")
                .into_bytes(),
        ]
        .concat(),
        b"Digest username=\"x\"".to_vec(),
        b"\xc3\x28 \xa0\xa1".to_vec(),
    ] {
        c.push(req("GET", v).header("Authorization", auth.clone()));
        c.push(
            req("POST", "/careers/vacancies")
                .json(b"{}".to_vec())
                .header("Authorization", auth),
        );
    }
    c.push(req("GET", v));
    // Hostile ids, on both forms.
    for id in [
        "0",
        "-1",
        "99999999999999999999999999",
        "9223372036854775807",
        "1e3",
        "abc",
        "%00",
        "%F0%9F%92%A9",
        "1%20OR%201=1",
        "..%2F..%2Fetc%2Fpasswd",
        &"9".repeat(5_000),
    ] {
        for path in [
            format!("/careers/vacancies/{id}"),
            format!("/careers/vacancies/{id}/responses"),
            format!("/careers/vacancies/1/responses/{id}/letters"),
            format!("/careers/vacancy/{id}/response"),
            format!("/careers/vacancy/1/response/{id}"),
        ] {
            c.push(req("GET", path.clone()).token());
        }
        c.push(
            req("PUT", format!("/careers/vacancies/{id}"))
                .json(b"{}".to_vec())
                .token(),
        );
        c.push(req("DELETE", format!("/careers/vacancies/{id}")).token());
        c.push(
            req("PUT", format!("/careers/vacancy/{id}"))
                .json(b"{}".to_vec())
                .token(),
        );
        c.push(req("DELETE", format!("/careers/vacancy/{id}")).token());
    }
    // Hostile paging.
    for q in [
        "page=-1",
        "page=abc",
        "page=99999999999999999999",
        "page=9223372036854775807",
        "page=1&page=2",
        "per_page=0",
        "per_page=-5",
        "per_page=1000000",
        "per_page=99999999999999999999",
        "count=abc",
        "count=-1&per_page=5",
        "page=NaN&per_page=Infinity",
        "page[]=1",
        "page=%00",
        "page=1%20",
        "=&&&=",
        "since=yesterday",
    ] {
        c.push(req("GET", format!("{v}?{q}")).token());
        c.push(req("GET", format!("/careers/vacancy/1/response?{q}")).token());
    }
    // Hostile bodies for publishing and editing.
    for body in [
        b"{".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"{\"id\": []}".to_vec(),
        b"{\"id\": 1e400, \"position\": {}}".to_vec(),
        b"{\"id\": -1, \"position\": \"x\"}".to_vec(),
        b"{\"id\": \"\\u0000\", \"position\": \"x\"}".to_vec(),
        b"{\"id\": 99999999999999999999999, \"position\": \"x\"}".to_vec(),
        b"{\"id\": 1, \"position\": \"x\", \"account\": {\"id\": \"x\"}, \"money\": [1, {}]}"
            .to_vec(),
        nested(100_000),
        nested_object(5_000),
        huge.clone(),
        b"\xff\xfe".to_vec(),
    ] {
        c.push(req("POST", "/careers/vacancies").json(body.clone()).token());
        c.push(req("POST", "/careers/publish").json(body.clone()).token());
        c.push(
            req("PUT", "/careers/vacancies/1")
                .json(body.clone())
                .token(),
        );
        c.push(req("PUT", "/careers/vacancy/1").json(body).token());
    }
    c.push(
        req("POST", "/careers/vacancies")
            .header("Content-Type", "text/xml")
            .token(),
    );
    c.push(req("PATCH", "/careers/vacancies/1").token());
    c.push(req("GET", "/careers/version?x=%ff").token());
    // Unknown paths.
    for path in [
        "/",
        "/careers",
        "/careers/../../etc/passwd",
        "/%ff%fe",
        "/hrflow/events/1",
    ] {
        c.push(req("GET", path));
    }
    c
}
