//! The checks that keep a door from opening by mistake: an empty webhook secret, weak
//! credentials, a URL where a slug belongs, a URL's secrets in a problem.

use std::collections::HashMap;

use super::*;

fn load(file: &str, env: &[(&str, &str)]) -> Settings {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.toml");
    std::fs::write(&path, file).unwrap();
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load_from(Some(&path), env).unwrap()
}

const ROUTED: &str = r#"
[hrflow]
api_key = "k"
user_email = "u@x.org"
webhook_secret = "the-file-secret"
[flatchr]
api_key = "fk"
company = "C"
[[routes]]
name = "r"
destination = "flatchr"
vacancy = "k0M5O9ylKZnxbQBy"
"#;

#[test]
fn an_empty_secret_from_the_environment_stops_a_relay_with_routes() {
    assert!(load(ROUTED, &[]).validate().is_empty());
    let s = load(ROUTED, &[("RELAY__HRFLOW__WEBHOOK_SECRET", "")]);
    let problems = s.validate().join("\n");
    assert!(
        problems.contains("hrflow.webhook_secret is empty while routes are configured"),
        "{problems}"
    );
    // Said explicitly, it starts (and warns).
    let s = load(
        ROUTED,
        &[
            ("RELAY__HRFLOW__WEBHOOK_SECRET", ""),
            ("RELAY__HRFLOW__SIGNATURE", "none"),
        ],
    );
    assert!(s.validate().is_empty(), "{:?}", s.validate());
    // Without routes nothing is delivered, so nothing opens: a warning, not a stop.
    let s = load("", &[("RELAY__HRFLOW__WEBHOOK_SECRET", "")]);
    assert!(s.validate().is_empty());
}

#[test]
fn a_whole_flatchr_url_as_vacancy_names_the_slug() {
    let file = ROUTED.replace(
        "vacancy = \"k0M5O9ylKZnxbQBy\"",
        "vacancy = \"https://careers.flatchr.io/fr/company/acme/vacancy/k0M5O9ylKZnxbQBy\"",
    );
    let problems = load(&file, &[]).validate().join("\n");
    assert!(
        problems
            .contains("which is a URL, not a vacancy slug: write vacancy = \"k0M5O9ylKZnxbQBy\""),
        "{problems}"
    );
    let file = ROUTED.replace(
        "vacancy = \"k0M5O9ylKZnxbQBy\"",
        "vacancy = \"acme/k0M5O9ylKZnxbQBy?x=1\"",
    );
    let problems = load(&file, &[]).validate().join("\n");
    assert!(
        problems.contains("write vacancy = \"k0M5O9ylKZnxbQBy\""),
        "{problems}"
    );
    let file = ROUTED.replace(
        "vacancy = \"k0M5O9ylKZnxbQBy\"",
        "vacancy = \" k0M5O9ylKZnxbQBy \"",
    );
    let problems = load(&file, &[]).validate().join("\n");
    assert!(
        problems.contains("has spaces around its vacancy"),
        "{problems}"
    );
}

#[test]
fn weak_credentials_are_problems_named_by_position_never_shown() {
    let file = format!(
        "{ROUTED}[admin]\ntokens = [\"x\", \"a-token-of-twenty-chars\"]\nbasic_users = [\"admin:\", \"nocolon\", \":pw\", \"ops:a-good-password\", \"\", \"blank: \"]\n[careers]\nbasic_users = [\"huntflow\"]\ntokens = [\"short\"]\n"
    );
    let problems = load(&file, &[]).validate();
    let all = problems.join("\n");
    for needle in [
        "admin.tokens[0] has 1 character(s); a token needs at least 16",
        "admin.basic_users[0] has an empty password",
        "admin.basic_users[1] has no colon",
        "admin.basic_users[2] has an empty user name",
        "careers.basic_users[0] has no colon",
        "admin.basic_users[5] has an empty password",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in {all}");
    }
    assert_eq!(problems.len(), 6, "{all}");
    assert!(
        !all.contains("nocolon") && !all.contains("huntflow"),
        "{all}"
    );
}

#[test]
fn problems_show_a_url_without_its_password_or_query() {
    let file = format!(
        "{ROUTED}[[routes]]\nname = \"hook\"\ndestination = \"webhook\"\nurl = \"ftp://user:PASS@host/hook?token=TOKEN\"\n"
    );
    let problems = load(
        &file,
        &[("RELAY__HRFLOW__API_URL", "api.hrflow.ai?key=TOKEN2")],
    )
    .validate()
    .join("\n");
    assert!(
        problems.contains("ftp://user:***@host/hook?***"),
        "{problems}"
    );
    assert!(problems.contains("api.hrflow.ai?***"), "{problems}");
    for secret in ["PASS", "TOKEN"] {
        assert!(!problems.contains(secret), "{problems}");
    }
}
