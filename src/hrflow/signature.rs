//! HrFlow webhook signatures, in the three forms HrFlow's documents describe
//! (reference/hrflow.md): `sdk` (`b64url(hex_hmac(payload)).b64url(payload)`), `sdk-raw`
//! (`b64url(raw_hmac(encoded payload text)).encoded payload`) and `body-hex` (hex HMAC of the
//! raw body). Any configured secret may have signed it (rotation). Every comparison is
//! constant-time, and every candidate is checked, so the time taken does not say which matched.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How the webhook signature header is read (`hrflow.signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum SignatureMode {
    /// Whichever of the three forms the header is.
    Auto,
    /// `<signature>.<payload>` in base64url, the signature a hex HMAC of the decoded payload
    /// (HrFlow's SDK).
    Sdk,
    /// `<signature>.<payload>` in base64url, the signature a raw HMAC of the payload as sent.
    SdkRaw,
    /// The hex HMAC of the body itself.
    BodyHex,
    /// Not checked: something in front of the relay authenticates HrFlow.
    None,
}

impl TryFrom<String> for SignatureMode {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let all = [
            Self::Auto,
            Self::Sdk,
            Self::SdkRaw,
            Self::BodyHex,
            Self::None,
        ];
        all.into_iter()
            .find(|m| m.as_str() == text)
            .ok_or_else(|| "must be one of auto, sdk, sdk-raw, body-hex, none".into())
    }
}

impl SignatureMode {
    /// As the configuration writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Sdk => "sdk",
            Self::SdkRaw => "sdk-raw",
            Self::BodyHex => "body-hex",
            Self::None => "none",
        }
    }
}

/// The header names HrFlow has used, in the order they are read.
pub const HEADERS: [&str; 3] = [
    "HTTP-HRFLOW-SIGNATURE",
    "HRFLOW-SIGNATURE",
    "HTTP-RIMINDER-SIGNATURE",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the signature header is missing")]
    Missing,
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature does not match")]
    Mismatch,
}

/// Verifies `header` against the raw `body` with any of `secrets`. Returns the signed payload:
/// the body itself, or, for the two header-payload forms, the payload the header carries (that
/// payload is the event; the body is not used).
pub fn verify(
    mode: SignatureMode,
    secrets: &[&[u8]],
    header: Option<&str>,
    body: &[u8],
) -> Result<Vec<u8>, SignatureError> {
    if mode == SignatureMode::None {
        return Ok(body.to_vec());
    }
    let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return Err(SignatureError::Missing);
    };
    let try_sdk = matches!(mode, SignatureMode::Auto | SignatureMode::Sdk);
    let try_raw = matches!(mode, SignatureMode::Auto | SignatureMode::SdkRaw);
    let try_body = matches!(mode, SignatureMode::Auto | SignatureMode::BodyHex);

    // What each form presents, when the header parses as that form.
    let dotted = header.split_once('.').and_then(|(sig, payload_text)| {
        Some((
            decode_b64url(sig)?,
            payload_text,
            decode_b64url(payload_text)?,
        ))
    });
    let sdk_mac = dotted
        .as_ref()
        .filter(|_| try_sdk)
        .and_then(|(sig, _, _)| hex_bytes(sig));
    let raw_mac = dotted
        .as_ref()
        .filter(|_| try_raw)
        .map(|(sig, _, _)| sig.clone())
        .filter(|sig| sig.len() == 32);
    let body_mac = Some(header)
        .filter(|_| try_body)
        .and_then(|h| hex_bytes(h.as_bytes()));
    if sdk_mac.is_none() && raw_mac.is_none() && body_mac.is_none() {
        return Err(SignatureError::Malformed);
    }

    let mut header_form = false;
    let mut body_form = false;
    for secret in secrets {
        if let (Some(mac), Some((_, _, payload))) = (&sdk_mac, &dotted) {
            header_form |= matches(secret, payload, mac);
        }
        if let (Some(mac), Some((_, payload_text, _))) = (&raw_mac, &dotted) {
            header_form |= matches(secret, payload_text.as_bytes(), mac);
        }
        if let Some(mac) = &body_mac {
            body_form |= matches(secret, body, mac);
        }
    }
    match dotted {
        Some((_, _, payload)) if header_form => Ok(payload),
        _ if body_form => Ok(body.to_vec()),
        _ => Err(SignatureError::Mismatch),
    }
}

fn decode_b64url(part: &str) -> Option<Vec<u8>> {
    URL_SAFE
        .decode(part)
        .or_else(|_| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')))
        .ok()
}

/// A hex digest given as text, decoded so the comparison runs on raw bytes.
fn hex_bytes(text: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    hex::decode(text.trim()).ok().filter(|b| b.len() == 32)
}

/// Constant-time check of a presented MAC (`verify_slice`).
fn matches(secret: &[u8], payload: &[u8], presented: &[u8]) -> bool {
    mac(secret, payload).verify_slice(presented).is_ok()
}

fn mac(secret: &[u8], payload: &[u8]) -> HmacSha256 {
    // An HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(payload);
    mac
}

/// HMAC-SHA256 of `payload`: the one MAC every signature and token of the relay uses.
pub fn hmac_sha256(secret: &[u8], payload: &[u8]) -> Vec<u8> {
    mac(secret, payload).finalize().into_bytes().to_vec()
}

/// Hex HMAC-SHA256, as HrFlow computes it (the `body-hex` form).
pub fn hex_hmac(secret: &[u8], payload: &[u8]) -> String {
    hex::encode(mac(secret, payload).finalize().into_bytes())
}

/// The `sdk` form of a signature header, as `hrflow` (Python) produces it. Used by tests and
/// the bench to sign events.
pub fn sdk_header(secret: &[u8], payload: &[u8]) -> String {
    format!(
        "{}.{}",
        URL_SAFE.encode(hex_hmac(secret, payload)),
        URL_SAFE.encode(payload)
    )
}

/// The `sdk-raw` form (HrFlow's webhook page): the raw HMAC over the encoded payload text.
pub fn sdk_raw_header(secret: &[u8], payload: &[u8]) -> String {
    let encoded = URL_SAFE.encode(payload);
    let raw = mac(secret, encoded.as_bytes()).finalize().into_bytes();
    format!("{}.{encoded}", URL_SAFE.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const OLD: &[u8] = b"whsec_old";
    const BODY: &[u8] =
        br#"{"type":"profile.parsing.success","profile":{"key":"k","source":{"key":"s"}}}"#;

    fn check(
        mode: SignatureMode,
        secrets: &[&[u8]],
        header: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, SignatureError> {
        verify(mode, secrets, Some(header), body)
    }

    #[test]
    fn body_form_accepts_right_and_rejects_wrong() {
        let sig = hex_hmac(SECRET, BODY);
        for mode in [SignatureMode::Auto, SignatureMode::BodyHex] {
            assert_eq!(check(mode, &[SECRET], &sig, BODY).unwrap(), BODY);
        }
        assert_eq!(
            check(SignatureMode::Auto, &[b"other"], &sig, BODY),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            check(SignatureMode::Auto, &[SECRET], &sig, &tampered),
            Err(SignatureError::Mismatch)
        );
        let mut bad_sig = sig.clone().into_bytes();
        bad_sig[0] = if bad_sig[0] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            check(
                SignatureMode::Auto,
                &[SECRET],
                std::str::from_utf8(&bad_sig).unwrap(),
                BODY
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SignatureMode::Auto, &[SECRET], None, BODY),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check(SignatureMode::Auto, &[SECRET], "zz-not-hex", BODY),
            Err(SignatureError::Malformed)
        );
        // Forced to another form, a body signature is not read as one.
        assert!(check(SignatureMode::Sdk, &[SECRET], &sig, BODY).is_err());
    }

    #[test]
    fn sdk_form_matches_python_and_returns_the_signed_payload() {
        // The Python snippet in reference/hrflow.md, secret "whsec_test".
        let header = sdk_header(SECRET, BODY);
        let (sig, _) = header.split_once('.').unwrap();
        assert_eq!(
            String::from_utf8(URL_SAFE.decode(sig).unwrap()).unwrap(),
            hex_hmac(SECRET, BODY)
        );
        // The payload comes from the header; the body may be anything.
        for mode in [SignatureMode::Auto, SignatureMode::Sdk] {
            assert_eq!(check(mode, &[SECRET], &header, b"ignored").unwrap(), BODY);
        }
        assert_eq!(
            check(SignatureMode::Sdk, &[b"wrong"], &header, b""),
            Err(SignatureError::Mismatch)
        );
        // A tampered payload inside the header no longer matches its signature.
        let forged = format!(
            "{sig}.{}",
            URL_SAFE.encode(br#"{"profile":{"key":"evil"}}"#)
        );
        assert_eq!(
            check(SignatureMode::Auto, &[SECRET], &forged, b""),
            Err(SignatureError::Mismatch)
        );
        // A tampered signature: one hex digit of the HMAC changed.
        let mut hex_sig = hex_hmac(SECRET, BODY).into_bytes();
        hex_sig[3] = if hex_sig[3] == b'a' { b'b' } else { b'a' };
        let bad = format!("{}.{}", URL_SAFE.encode(&hex_sig), URL_SAFE.encode(BODY));
        assert_eq!(
            check(SignatureMode::Auto, &[SECRET], &bad, b""),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(SignatureMode::Sdk, &[SECRET], "no-dot", b""),
            Err(SignatureError::Malformed)
        );
        // Python's urlsafe_b64encode pads; unpadded input is accepted too.
        let unpadded = header.replace('=', "");
        assert_eq!(
            check(SignatureMode::Sdk, &[SECRET], &unpadded, b"").unwrap(),
            BODY
        );
        // The SDK form is not accepted when only the raw form is configured.
        assert!(check(SignatureMode::SdkRaw, &[SECRET], &header, b"").is_err());
    }

    #[test]
    fn sdk_raw_form_is_the_raw_hmac_of_the_encoded_payload() {
        // The API reference's form: what its PHP example computes.
        let header = sdk_raw_header(SECRET, BODY);
        let (sig, payload_text) = header.split_once('.').unwrap();
        assert_eq!(payload_text, URL_SAFE.encode(BODY));
        let raw = URL_SAFE.decode(sig).unwrap();
        assert_eq!(raw.len(), 32);
        assert_eq!(hex::encode(&raw), hex_hmac(SECRET, payload_text.as_bytes()));
        for mode in [SignatureMode::Auto, SignatureMode::SdkRaw] {
            assert_eq!(check(mode, &[SECRET], &header, b"").unwrap(), BODY);
        }
        assert_eq!(
            check(SignatureMode::Auto, &[b"wrong"], &header, b""),
            Err(SignatureError::Mismatch)
        );
        // Tampering with the payload text or with the signature is refused.
        let other = URL_SAFE.encode(br#"{"profile":{"key":"evil","source":{"key":"s"}}}"#);
        assert_eq!(
            check(
                SignatureMode::Auto,
                &[SECRET],
                &format!("{sig}.{other}"),
                b""
            ),
            Err(SignatureError::Mismatch)
        );
        let mut raw_bad = raw.clone();
        raw_bad[5] ^= 0x40;
        let bad = format!("{}.{payload_text}", URL_SAFE.encode(raw_bad));
        assert_eq!(
            check(SignatureMode::Auto, &[SECRET], &bad, b""),
            Err(SignatureError::Mismatch)
        );
        assert!(check(SignatureMode::Sdk, &[SECRET], &header, b"").is_err());
        assert!(check(SignatureMode::BodyHex, &[SECRET], &header, b"").is_err());
    }

    #[test]
    fn any_listed_secret_verifies_every_form() {
        // Rotation: the old secret still signs while the new one is added.
        let secrets: [&[u8]; 2] = [SECRET, OLD];
        for signer in secrets {
            for header in [
                hex_hmac(signer, BODY),
                sdk_header(signer, BODY),
                sdk_raw_header(signer, BODY),
            ] {
                assert_eq!(
                    check(SignatureMode::Auto, &secrets, &header, BODY).unwrap(),
                    BODY
                );
            }
        }
        // Once the old secret is removed, its signatures are refused.
        assert_eq!(
            check(SignatureMode::Auto, &[SECRET], &hex_hmac(OLD, BODY), BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(
                SignatureMode::Auto,
                &[SECRET],
                &sdk_raw_header(OLD, BODY),
                BODY
            ),
            Err(SignatureError::Mismatch)
        );
        // With no secret at all nothing verifies.
        assert!(check(SignatureMode::Auto, &[], &hex_hmac(SECRET, BODY), BODY).is_err());
    }
}
