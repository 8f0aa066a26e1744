//! The event endpoint's input: a signature header and a body, as anyone on the network can
//! send them. Verification and parsing must never panic; a refusal always renders the errors
//! shape; a body signed with the secret always verifies.
#![no_main]

use hrflow_relay::config::SignatureMode;
use hrflow_relay::hrflow::{event, signature};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"whsec_fuzz";

fn check_refusal(e: &hrflow_relay::error::ApiError) {
    let body = e.body();
    assert!(body["errors"]["common"].is_array(), "{body}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mode = match mode % 4 {
        0 => SignatureMode::Auto,
        1 => SignatureMode::Sdk,
        2 => SignatureMode::BodyHex,
        _ => SignatureMode::None,
    };
    // The header is everything up to the first newline, the body the rest.
    let (header, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let header = std::str::from_utf8(header).ok();
    if let Ok(payload) = signature::verify(mode, SECRET, header, body) {
        if let Err(e) = event::parse(&payload) {
            check_refusal(&e);
        }
    }
    // What a signed sender would get through, and the parser on any bytes at all.
    let signed = signature::hex_hmac(SECRET, body);
    let verified = signature::verify(SignatureMode::BodyHex, SECRET, Some(&signed), body);
    assert_eq!(verified.as_deref().ok(), Some(body));
    if let Err(e) = event::parse(body) {
        check_refusal(&e);
    }
});
