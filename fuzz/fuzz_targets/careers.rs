//! What Huntflow (or anyone) sends the careers API: a query string, an Authorization header,
//! a path id and a JSON body. Parsing must never panic, paging stays within its bounds, and a
//! refusal always renders the errors shape.
#![no_main]

use hrflow_relay::careers::{auth, paging::Paging, parse_id, vacancy};
use hrflow_relay::config::Secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let query = parts.next().unwrap_or_default();
    let authorization = parts.next().unwrap_or_default();
    let id = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();

    match Paging::parse(query) {
        Ok(p) => {
            assert!((1..=100).contains(&p.per_page), "{p:?}");
            assert!(p.page >= 1, "{p:?}");
            assert!(p.offset() >= 0, "{p:?}");
            let page = p.envelope(vec![], i64::from(u32::MAX));
            assert!(page["pages"].as_i64().is_some_and(|n| n >= 1));
        }
        Err(e) => assert!(e.body()["errors"]["common"].is_array()),
    }

    let tokens = [Secret::new("token-1")];
    let users = [Secret::new("huntflow:pass")];
    if let Err(e) = auth::check(Some(authorization), &tokens, &users) {
        assert!(e.body()["errors"]["common"].is_array());
    }

    if let Some(id) = parse_id(id) {
        assert!(id > 0);
    }

    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(body) {
        if let Err(e) = vacancy::validate(&fields) {
            assert!(e.body()["errors"]["common"].is_array());
        }
    }
});
