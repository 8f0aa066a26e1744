//! Paces requests to Flatchr: at most `rate` per second from this process. The deployment's
//! figure is divided among the live replicas (`share`), which the worker's heartbeat counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

pub struct RateLimiter {
    /// Requests per second as f64 bits; 0 means no limit.
    rate: AtomicU64,
    next: Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(rate: f64) -> Self {
        Self {
            rate: AtomicU64::new(rate.to_bits()),
            next: Mutex::new(Instant::now()),
        }
    }

    pub fn set_rate(&self, rate: f64) {
        self.rate.store(rate.to_bits(), Ordering::Relaxed);
    }

    pub fn rate(&self) -> f64 {
        f64::from_bits(self.rate.load(Ordering::Relaxed))
    }

    /// Sets this replica's share of a deployment-wide `total` (0: no limit) among `live`
    /// replicas; true when it changed.
    pub fn share(&self, total: f64, live: i64) -> bool {
        let share = if total > 0.0 {
            total / live.max(1) as f64
        } else {
            0.0
        };
        let changed = (share - self.rate()).abs() > f64::EPSILON;
        if changed {
            self.set_rate(share);
        }
        changed
    }

    /// Waits for this request's slot: slots are 1/rate apart.
    pub async fn wait(&self) {
        let rate = self.rate();
        if rate <= 0.0 {
            return;
        }
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + Duration::from_secs_f64(1.0 / rate);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paces_requests_and_can_be_lifted() {
        let limiter = RateLimiter::new(20.0);
        let started = std::time::Instant::now();
        for _ in 0..11 {
            limiter.wait().await;
        }
        // Ten intervals of 50 ms at least; an upper bound would be a flaky timed test.
        assert!(
            started.elapsed() >= Duration::from_millis(480),
            "{:?}",
            started.elapsed()
        );
        limiter.set_rate(0.0);
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            limiter.wait().await;
        }
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
