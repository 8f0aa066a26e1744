//! Flatchr accounts and their rate limits: a limit never makes a candidate fail, and each
//! account's requests go to its own company with its own key, at its own pace.

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
