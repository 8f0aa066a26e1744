//! Signatures: every form HrFlow signs with, under every header name, rotated secrets, and an
//! empty secret that does not start the relay unless `signature = "none"` says so.

use base64::Engine as _;
use serde_json::Value;

use super::{closed_config, post_signed};
use crate::helpers::*;

#[tokio::test]
async fn sdk_signature_carries_the_event_in_the_header() {
    let app = spawn!(&closed_config());
    let payload = event_body("p-sdk", SOURCE);
    let header = hrflow_relay::hrflow::signature::sdk_header(SECRET.as_bytes(), payload.as_bytes());
    for name in ["HTTP-HRFLOW-SIGNATURE", "HRFLOW-SIGNATURE"] {
        let r = app
            .http
            .post(format!("{}/hrflow/events", app.address))
            .header("Content-Type", "application/json")
            .header(name, &header)
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(
            status == 202 || body["status"] == "duplicate",
            "{name}: {status} {body}"
        );
    }
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].profile_key, "p-sdk");
    // A payload swapped inside a valid-looking header is refused.
    let (sig, _) = header.split_once('.').unwrap();
    let forged = format!(
        "{sig}.{}",
        base64::engine::general_purpose::URL_SAFE.encode(event_body("evil", SOURCE))
    );
    let r = app
        .http
        .post(format!("{}/hrflow/events", app.address))
        .header("HTTP-HRFLOW-SIGNATURE", forged)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn an_empty_secret_does_not_start_unless_signature_none_says_so() {
    let config = base_config("http://127.0.0.1:9", "http://127.0.0.1:9").replace(
        &format!("webhook_secret = \"{SECRET}\""),
        "webhook_secret = \"\"",
    );
    let Some(db) = TestDb::fresh().await else {
        return;
    };
    let path = db.dir.path().join("relay.toml");
    std::fs::write(&path, &config).unwrap();
    // The file sets a secret; an empty variable (an unset shell variable in `docker run -e`)
    // overrides it: that must stop the start, not open the door.
    std::fs::write(
        &path,
        base_config("http://127.0.0.1:9", "http://127.0.0.1:9"),
    )
    .unwrap();
    let env = std::collections::HashMap::from([
        ("RELAY__DATABASE__URL".to_string(), db.url.clone()),
        ("RELAY__HRFLOW__WEBHOOK_SECRET".to_string(), String::new()),
    ]);
    let settings = hrflow_relay::config::Settings::load_from(Some(&path), env).unwrap();
    let refused = hrflow_relay::startup::Application::build(settings).await;
    let Err(e) = refused else {
        panic!("the relay started with an empty webhook secret");
    };
    assert!(
        format!("{e:#}").contains("hrflow.webhook_secret is empty while routes are configured"),
        "{e:#}"
    );
    let config = config.replace("[hrflow]", "[hrflow]\nsignature = \"none\"");
    let app = TestApp::spawn_on(&config, db).await;
    let r = app
        .http
        .post(format!("{}/hrflow/events", app.address))
        .body(event_body("p", SOURCE))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

#[tokio::test]
async fn every_signature_form_under_every_header_name_and_a_rotated_secret() {
    use hrflow_relay::hrflow::signature::{hex_hmac, sdk_header, sdk_raw_header};
    // Rotation, step 1: the new secret is added beside the old one.
    let config = closed_config().replace(
        &format!("webhook_secret = \"{SECRET}\""),
        &format!("webhook_secret = [\"whsec_new\", \"{SECRET}\"]"),
    );
    let app = spawn!(&config);
    let headers = [
        "HTTP-HRFLOW-SIGNATURE",
        "HRFLOW-SIGNATURE",
        "HTTP-RIMINDER-SIGNATURE",
    ];
    let mut n = 0;
    for secret in [SECRET, "whsec_new"] {
        for header in headers {
            for form in ["sdk", "sdk-raw", "body-hex"] {
                n += 1;
                let body = event_body(&format!("p-{n}"), SOURCE);
                let (value, sent) = match form {
                    "sdk" => (
                        sdk_header(secret.as_bytes(), body.as_bytes()),
                        "{}".to_string(),
                    ),
                    "sdk-raw" => (
                        sdk_raw_header(secret.as_bytes(), body.as_bytes()),
                        String::new(),
                    ),
                    _ => (hex_hmac(secret.as_bytes(), body.as_bytes()), body.clone()),
                };
                let (status, answer) = post_signed(&app, header, &value, &sent).await;
                assert_eq!(status, 202, "{secret} {header} {form}: {answer}");
            }
        }
    }
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), n, "one job per signed event");
    // A wrong signature is one 401 whatever its form, with the errors shape.
    let body = event_body("p-wrong", SOURCE);
    for value in [
        sdk_header(b"whsec_other", body.as_bytes()),
        sdk_raw_header(b"whsec_other", body.as_bytes()),
        hex_hmac(b"whsec_other", body.as_bytes()),
        "bm90LWEtc2ln.bm90LWpzb24".to_string(),
    ] {
        for header in headers {
            let (status, answer) = post_signed(&app, header, &value, &body).await;
            assert_eq!(status, 401, "{header} {value}: {answer}");
            assert_error_shape(&answer);
        }
    }
    assert_eq!(app.jobs().await.len(), n);
}
