//! Alerts: an endpoint that never answers does not slow delivery.

use std::time::{Duration, Instant};

use hrflow_relay::job::Status;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_alert_endpoint_never_slows_delivery() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // Every message would wait for its 10 s timeout.
    let hook = silent_server().await;
    flatchr.faults(vec![Fault::Status(401, None); 10], vec![]);
    let config = format!(
        "{}\n[alerts]\nwebhook_url = \"{hook}/hook\"\nmin_interval = \"1s\"\n",
        base_config(&hrflow.url, &flatchr.url)
    );
    let app = spawn_stepped!(&config);
    let started = Instant::now();
    for i in 0..10 {
        app.post_event(&event_body(&format!("dead-{i}"), SOURCE))
            .await;
    }
    let jobs = app.dispatch().await;
    assert!(jobs.iter().all(|j| j.status == Status::Dead));
    for i in 0..10 {
        app.post_event(&event_body(&format!("alive-{i}"), SOURCE))
            .await;
    }
    let jobs = app.dispatch().await;
    assert_eq!(
        jobs.iter()
            .filter(|j| j.status == Status::Delivered)
            .count(),
        10
    );
    // Twenty deliveries, ten of them with an alert each stuck: far less than one alert timeout.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}
