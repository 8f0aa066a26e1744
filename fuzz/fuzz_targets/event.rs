//! The event endpoint's input: a signature header and a body, as anyone on the network can
//! send them. Verification and parsing must never panic; a refusal always renders the errors
//! shape; a body signed with the secret always verifies.
#![no_main]

use hrflow_relay::hrflow::signature::SignatureMode;
use hrflow_relay::hrflow::{event, signature};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"whsec_fuzz";

const OLD: &[u8] = b"whsec_old";

fn check(payload: &[u8]) {
    match event::parse_body(payload) {
        Ok(_) => {}
        Err(e) => {
            let body = hrflow_relay::error::ApiError::from(e).body();
            assert!(body["errors"]["common"].is_array(), "{body}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mode = match mode % 5 {
        0 => SignatureMode::Auto,
        1 => SignatureMode::Sdk,
        2 => SignatureMode::SdkRaw,
        3 => SignatureMode::BodyHex,
        _ => SignatureMode::None,
    };
    // The header is everything up to the first newline, the body the rest.
    let (header, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let header = std::str::from_utf8(header).ok();
    if let Ok(payload) = signature::verify(mode, &[SECRET, OLD], header, body) {
        check(&payload);
    }
    // What a signed sender would get through, in every form and with either secret, and the
    // parser on any bytes at all.
    for secret in [SECRET, OLD] {
        let signed = signature::hex_hmac(secret, body);
        let verified = signature::verify(SignatureMode::Auto, &[SECRET, OLD], Some(&signed), body);
        assert_eq!(verified.as_deref().ok(), Some(body));
        let raw = signature::sdk_raw_header(secret, body);
        let verified = signature::verify(SignatureMode::Auto, &[SECRET, OLD], Some(&raw), b"");
        assert_eq!(verified.as_deref().ok(), Some(body));
    }
    check(body);
});
