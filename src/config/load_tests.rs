use std::collections::HashMap;

use super::*;
use crate::config::Settings;

fn problems(file: &str, env: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.toml");
    std::fs::write(&path, file).unwrap();
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match Settings::load_from(Some(&path), env) {
        Ok(s) => s.validate(),
        Err(ConfigError::Invalid(p)) => p,
        Err(e) => vec![e.to_string()],
    }
}

fn has(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "missing {needle:?} in {problems:#?}"
    );
}

const ROUTE: &str = r#"
[hrflow]
api_key = "k"
user_email = "u@x.org"
webhook_secret = "s"
[flatchr]
api_key = "fk"
company = "C"
"#;

#[test]
fn unknown_keys_are_named_where_they_stand_with_the_nearest_known_key() {
    let file = format!(
        "{ROUTE}compnay = \"x\"\n[server]\nprot = 9000\n[servr]\nport = 1\n[flatchr.accounts.agency]\napi_kye = \"a\"\n[[routes]]\nname = \"r\"\ndestination = \"flatchr\"\nvacancy = \"v\"\nlogicz = [\"a\"]\n"
    );
    let p = problems(
        &file,
        &[
            ("RELAY__WORKER__CONCURENCY", "4"),
            ("RELAY__SERVER__PORT", "9001"),
        ],
    );
    has(&p, "server.prot (in ");
    has(&p, "server.prot (in ");
    has(&p, ": unknown key (did you mean port?)");
    has(&p, "flatchr.compnay");
    has(&p, "unknown key (did you mean company?)");
    has(&p, "routes[0].logicz");
    has(&p, "(did you mean logics?)");
    has(&p, "flatchr.accounts.agency.api_kye");
    has(&p, "(did you mean api_key?)");
    has(&p, "servr (in ");
    has(&p, "(did you mean server?)");
    has(
        &p,
        "worker.concurency (from RELAY__WORKER__CONCURENCY): unknown key (did you mean concurrency?)",
    );
    assert_eq!(
        p.iter().filter(|p| p.contains("unknown key")).count(),
        6,
        "{p:#?}"
    );
}

#[test]
fn a_key_far_from_every_known_one_lists_them() {
    let p = problems("[retention]\nzzzzzz = 1\n", &[]);
    has(&p, "retention.zzzzzz (in ");
    has(
        &p,
        "unknown key (expected one of dead, events, finished, interval)",
    );
}

#[test]
fn every_value_of_the_wrong_type_is_listed_not_the_first_only() {
    let file = format!(
        "{ROUTE}[server]\nport = \"eighty\"\n[worker]\nconcurrency = \"many\"\n[backfill]\npage_size = [1]\n[[routes]]\nname = \"r\"\ndestination = \"flatchr\"\nvacancy = \"v\"\nenrich = [true]\nlogics = 5\n"
    );
    let p = problems(&file, &[("RELAY__DATABASE__MAX_CONNECTIONS", "lots")]);
    for needle in [
        "server.port (in ",
        "worker.concurrency (in ",
        "backfill.page_size (in ",
        "routes[0].enrich (in ",
        "routes[0].logics (in ",
        "database.max_connections (from RELAY__DATABASE__MAX_CONNECTIONS): must be an integer (found a string)",
    ] {
        has(&p, needle);
    }
}

#[test]
fn a_clean_file_reads_with_no_problem() {
    let file =
        format!("{ROUTE}[[routes]]\nname = \"r\"\ndestination = \"flatchr\"\nvacancy = \"v\"\n");
    assert!(problems(&file, &[]).is_empty());
}

#[test]
fn keys_are_parsed_back_into_paths() {
    assert_eq!(
        parse_key("routes[2].headers"),
        [
            Segment::Key("routes".into()),
            Segment::Index(2),
            Segment::Key("headers".into())
        ]
    );
    assert_eq!(
        key_text(&parse_key("worker.retry_schedule[1]")),
        "worker.retry_schedule[1]"
    );
}

#[test]
fn the_nearest_key_is_close_or_none() {
    let known: Vec<String> = ["port", "host", "public_url"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(nearest("prot", &known), Some("port"));
    assert_eq!(nearest("PORT", &known), Some("port"));
    assert_eq!(nearest("public", &known), Some("public_url"));
    assert_eq!(nearest("database", &known), None);
}

#[test]
fn a_value_in_the_wrong_place_is_never_shown_and_digits_are_secrets_too() {
    let p = problems(
        "[flatchr.accounts]\nagency = \"sk-secret-value\"\n[admin]\ntokens = { a = \"sk-other-secret\" }\n",
        &[],
    );
    has(&p, "flatchr.accounts.agency (in ");
    has(&p, "admin.tokens (in ");
    for problem in &p {
        assert!(!problem.contains("sk-"), "{problem}");
    }
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<String, String> = [
        ("RELAY__ADMIN__TOKENS", "1234567890123456789"),
        ("RELAY__HRFLOW__WEBHOOK_SECRET", "98765432109876"),
        ("RELAY__CAREERS__BASIC_USERS", "huntflow:1234"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let path = dir.path().join("relay.toml");
    std::fs::write(&path, "").unwrap();
    let s = Settings::load_from(Some(&path), env).unwrap();
    assert!(s.read_problems.is_empty(), "{:?}", s.read_problems);
    assert_eq!(s.admin.tokens[0].expose(), "1234567890123456789");
    assert_eq!(
        s.hrflow.webhook_secret.keys(),
        [b"98765432109876".as_slice()]
    );
    assert_eq!(s.careers.basic_users[0].expose(), "huntflow:1234");
}

#[test]
fn a_list_element_taken_out_does_not_renumber_the_next_problems() {
    let file = format!(
        "{ROUTE}[[routes]]\nname = \"a\"\ndestination = \"flatchr\"\nvacancy = \"v\"\nsources = [{{ x = 1 }}, \"ok\", [2]]\n[[routes]]\nname = \"b\"\ndestination = \"flatchr\"\nvacancy = \"v\"\nsourcez = []\n"
    );
    let p = problems(&file, &[]);
    has(&p, "routes[0].sources[0] (in ");
    has(&p, "routes[0].sources[2] (in ");
    has(&p, "routes[1].sourcez (in ");
    assert!(!p.iter().any(|p| p.contains("sources[1]")), "{p:#?}");
}
