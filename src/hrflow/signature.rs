//! HrFlow webhook signatures: the SDK form (`b64url(hex_hmac).b64url(payload)`) and the body
//! form (hex HMAC of the raw body). Both compare in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::SignatureMode;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the signature header is missing")]
    Missing,
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature does not match")]
    Mismatch,
}

/// Verifies `header` against the raw `body`. Returns the signed payload: the body itself, or,
/// for the SDK form, the payload carried inside the header (that payload is the event).
pub fn verify(
    mode: SignatureMode,
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
) -> Result<Vec<u8>, SignatureError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    let Some(header) = header else {
        return Err(SignatureError::Missing);
    };
    let sdk = match mode {
        SignatureMode::Sdk => true,
        SignatureMode::BodyHex => false,
        SignatureMode::Auto => header.contains('.'),
        SignatureMode::None => return Ok(body.to_vec()),
    };
    if sdk {
        let (sig_part, payload_part) = header.split_once('.').ok_or(SignatureError::Malformed)?;
        let hex_sig = decode_b64url(sig_part)?;
        let payload = decode_b64url(payload_part)?;
        check_hex(secret, &payload, &hex_sig)?;
        Ok(payload)
    } else {
        check_hex(secret, body, header.as_bytes())?;
        Ok(body.to_vec())
    }
}

fn decode_b64url(part: &str) -> Result<Vec<u8>, SignatureError> {
    URL_SAFE
        .decode(part)
        .or_else(|_| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')))
        .map_err(|_| SignatureError::Malformed)
}

/// `presented` is the hex digest as text; decoding it first makes the comparison a
/// constant-time `verify_slice` on raw bytes.
fn check_hex(secret: &[u8], payload: &[u8], presented: &[u8]) -> Result<(), SignatureError> {
    let presented = std::str::from_utf8(presented).map_err(|_| SignatureError::Malformed)?;
    let raw = hex::decode(presented.trim()).map_err(|_| SignatureError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SignatureError::Malformed)?;
    mac.update(payload);
    mac.verify_slice(&raw).map_err(|_| SignatureError::Mismatch)
}

/// Hex HMAC-SHA256, as HrFlow computes it.
pub fn hex_hmac(secret: &[u8], payload: &[u8]) -> String {
    // An HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// The SDK form of a signature header, as `hrflow` (Python) produces it. Used by tests,
/// `preview` and the bench to sign events.
pub fn sdk_header(secret: &[u8], payload: &[u8]) -> String {
    format!(
        "{}.{}",
        URL_SAFE.encode(hex_hmac(secret, payload)),
        URL_SAFE.encode(payload)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const BODY: &[u8] =
        br#"{"type":"profile.parsing.success","profile":{"key":"k","source":{"key":"s"}}}"#;

    #[test]
    fn body_form_accepts_right_and_rejects_wrong() {
        let sig = hex_hmac(SECRET, BODY);
        assert_eq!(
            verify(SignatureMode::Auto, SECRET, Some(&sig), BODY).unwrap(),
            BODY
        );
        assert_eq!(
            verify(SignatureMode::BodyHex, SECRET, Some(&sig), BODY).unwrap(),
            BODY
        );
        assert_eq!(
            verify(SignatureMode::Auto, b"other", Some(&sig), BODY),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            verify(SignatureMode::Auto, SECRET, Some(&sig), &tampered),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SignatureMode::Auto, SECRET, None, BODY),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SignatureMode::Auto, SECRET, Some("zz-not-hex"), BODY),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn sdk_form_matches_python_and_returns_the_signed_payload() {
        // Produced by the Python snippet in reference/hrflow.md with secret "whsec_test".
        let header = sdk_header(SECRET, BODY);
        let (sig, _) = header.split_once('.').unwrap();
        assert_eq!(
            String::from_utf8(URL_SAFE.decode(sig).unwrap()).unwrap(),
            hex_hmac(SECRET, BODY)
        );
        // The payload comes from the header; the body may be anything.
        assert_eq!(
            verify(SignatureMode::Auto, SECRET, Some(&header), b"ignored").unwrap(),
            BODY
        );
        assert_eq!(
            verify(SignatureMode::Sdk, SECRET, Some(&header), b"").unwrap(),
            BODY
        );
        assert_eq!(
            verify(SignatureMode::Sdk, b"wrong", Some(&header), b""),
            Err(SignatureError::Mismatch)
        );
        // A tampered payload inside the header no longer matches its signature.
        let forged = format!(
            "{}.{}",
            sig,
            URL_SAFE.encode(br#"{"profile":{"key":"evil"}}"#)
        );
        assert_eq!(
            verify(SignatureMode::Sdk, SECRET, Some(&forged), b""),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SignatureMode::Sdk, SECRET, Some("no-dot"), b""),
            Err(SignatureError::Malformed)
        );
        // Python's urlsafe_b64encode pads; unpadded input is accepted too.
        let unpadded = header.replace('=', "");
        assert_eq!(
            verify(SignatureMode::Sdk, SECRET, Some(&unpadded), b"").unwrap(),
            BODY
        );
    }
}
