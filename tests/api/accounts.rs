//! Flatchr accounts and their rate limits: a limit never makes a candidate fail, and each
//! account's requests go to its own company with its own key, at its own pace.

use hrflow_relay::job::Status;
use std::time::{Duration, Instant};

use crate::helpers::*;

/// The most requests seen within any one second.
fn busiest_second(times: &[Instant]) -> usize {
    let mut times = times.to_vec();
    times.sort();
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| t.duration_since(times[i]) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_never_makes_a_candidate_fail() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // 16 pushes at once against 8 requests per second, each request timing out after 500 ms:
    // most of them wait for their turn far longer than a request may take.
    let config = base_config(&hrflow.url, &flatchr.url)
        .replace(
            "company = \"LEZBvp5b4LdMoVmg\"",
            "company = \"LEZBvp5b4LdMoVmg\"\nrequests_per_second = 8",
        )
        .replace("concurrency = 4", "concurrency = 16");
    let app = spawn!(&config);
    let n = 16;
    for i in 0..n {
        app.post_event(&event_body(&format!("paced-{i}"), SOURCE))
            .await;
    }
    let jobs = app.settle(Duration::from_secs(30)).await;
    assert_all_delivered(&jobs);
    assert_eq!(flatchr.pushes_per_email().len(), n);
    let s = flatchr.state.lock().unwrap();
    // Pushes alone stay within the rate (push and enrich share it); one slot of slack for
    // the window's edges.
    assert!(
        busiest_second(&s.push_times) <= 9,
        "{} pushes within a second",
        busiest_second(&s.push_times)
    );
}

const OTHER_SOURCE: &str = "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1";
const AGENCY_KEY: &str = "agency-key-999";
const AGENCY_COMPANY: &str = "AGENCYco";

/// Two routes: `own` (source SOURCE) on `[flatchr]` at `own_url`, `agency` (source
/// OTHER_SOURCE) on `[flatchr.accounts.agency]` at `agency_url` with its own key and company.
fn two_accounts(hrflow: &str, own_url: &str, agency_url: &str, agency_extra: &str) -> String {
    let base = base_config(hrflow, own_url);
    let head = base.split("[[routes]]").next().unwrap();
    format!(
        r#"{head}
[flatchr.accounts.agency]
careers_url = "{agency_url}"
api_url = "{agency_url}"
api_key = "{AGENCY_KEY}"
company = "{AGENCY_COMPANY}"
{agency_extra}

[[routes]]
name = "own"
destination = "flatchr"
vacancy = "k0M5O9ylKZnxbQBy"
sources = ["{SOURCE}"]

[[routes]]
name = "agency"
destination = "flatchr"
account = "agency"
vacancy = "agencyVacancy"
sources = ["{OTHER_SOURCE}"]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_account_reaches_its_own_company_with_its_own_key() {
    let hrflow = FakeHrflow::start().await;
    let own = FakeFlatchr::start().await;
    let agency = FakeFlatchr::start().await;
    // The agency's first push is created, then hangs past the timeout: its outcome is unknown,
    // so the next attempt asks the agency's company (never the other) before pushing again.
    agency.faults(vec![Fault::CreateThenHang(Duration::from_secs(2))], vec![]);
    let app = spawn_stepped!(&two_accounts(&hrflow.url, &own.url, &agency.url, ""));
    for i in 0..3 {
        app.post_event(&event_body(&format!("own-{i}"), SOURCE))
            .await;
        app.post_event(&event_body(&format!("agency-{i}"), OTHER_SOURCE))
            .await;
    }
    let jobs = app.dispatch().await;
    assert_all_delivered(&jobs);
    assert_eq!(jobs.len(), 6);

    for (fake, prefix, key, company, vacancy) in [
        (
            &own,
            "own-",
            FLATCHR_KEY,
            "LEZBvp5b4LdMoVmg",
            "k0M5O9ylKZnxbQBy",
        ),
        (
            &agency,
            "agency-",
            AGENCY_KEY,
            AGENCY_COMPANY,
            "agencyVacancy",
        ),
    ] {
        let s = fake.state.lock().unwrap();
        let emails: Vec<&str> = s
            .candidates
            .iter()
            .map(|c| c["email"].as_str().unwrap())
            .collect();
        assert_eq!(emails.len(), 3, "{emails:?}");
        assert!(emails.iter().all(|e| e.starts_with(prefix)), "{emails:?}");
        assert!(
            s.candidates
                .iter()
                .all(|c| c["token"] == key && c["vacancy"] == vacancy)
        );
        assert!(
            s.authorizations
                .iter()
                .all(|a| *a == format!("Bearer {key}")),
            "{:?}",
            s.authorizations
        );
        assert!(!s.api_calls.is_empty());
        assert!(
            s.api_calls
                .iter()
                .all(|(_, c, a)| c == company && *a == format!("Bearer {key}")),
            "{:?}",
            s.api_calls
        );
    }
    assert_eq!(own.state.lock().unwrap().searches, 0);
    assert_eq!(
        agency.state.lock().unwrap().searches,
        1,
        "the lookup after the unknown push"
    );
    assert_eq!(agency.pushes_per_email().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_account_never_slows_the_other() {
    let hrflow = FakeHrflow::start().await;
    let own = FakeFlatchr::start().await;
    let agency = FakeFlatchr::start().await;
    // The agency: 1 request per second, and its first push answered 429. Its jobs come first
    // and outnumber the workers (4).
    agency.faults(vec![Fault::Status(429, Some(1))], vec![]);
    let app = spawn!(&two_accounts(
        &hrflow.url,
        &own.url,
        &agency.url,
        "requests_per_second = 1"
    ));
    for i in 0..6 {
        app.post_event(&event_body(&format!("agency-{i}"), OTHER_SOURCE))
            .await;
    }
    for i in 0..10 {
        app.post_event(&event_body(&format!("own-{i}"), SOURCE))
            .await;
    }
    // The default account's ten drain while the agency's still wait their turn (six pushes
    // and six enrichments at 1 per second take twelve seconds at least).
    let started = Instant::now();
    loop {
        let jobs = app.jobs().await;
        let done = |route: &str| {
            jobs.iter()
                .filter(|j| j.route == route && j.status == Status::Delivered)
                .count()
        };
        if done("own") == 10 {
            assert!(done("agency") < 6, "the agency finished first: {jobs:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the default account was held up: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the agency's all arrive, none dead, within its limit.
    let jobs = app.settle(Duration::from_secs(30)).await;
    assert_all_delivered(&jobs);
    let s = agency.state.lock().unwrap();
    assert!(
        busiest_second(&s.push_times) <= 2,
        "{}",
        busiest_second(&s.push_times)
    );
}

#[test]
fn check_config_names_an_unknown_account_and_takes_keys_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let toml = two_accounts(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        "",
    )
    .replace(&format!("api_key = \"{AGENCY_KEY}\""), "")
        + "\n[[routes]]\nname = \"typo\"\ndestination = \"flatchr\"\naccount = \"agnecy\"\nvacancy = \"v\"\n";
    std::fs::write(&config, toml).unwrap();
    let run = |env: &[(&str, &str)]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
            .arg("check-config")
            .env("RELAY_CONFIG", &config)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, text) = run(&[]);
    assert_eq!(code, Some(1));
    assert!(
        text.contains(
            "route \"typo\" names the Flatchr account \"agnecy\", which is not configured"
        ),
        "{text}"
    );
    // Without its own key the agency falls back to [flatchr]'s.
    assert!(
        !text.contains("flatchr.accounts.agency.api_key is empty"),
        "{text}"
    );
    let fixed = std::fs::read_to_string(&config)
        .unwrap()
        .replace("account = \"agnecy\"", "account = \"agency\"");
    std::fs::write(&config, fixed).unwrap();
    let (code, text) = run(&[(
        "RELAY__FLATCHR__ACCOUNTS__AGENCY__API_KEY",
        "from-the-environment-77",
    )]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("flatchr account agency:"), "{text}");
    assert!(text.contains("company \"AGENCYco\""), "{text}");
    assert!(!text.contains("from-the-environment-77"), "{text}");
}
