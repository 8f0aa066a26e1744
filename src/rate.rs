//! Paces requests to an upstream (a Flatchr account, a Huntflow account): at most `rate` per
//! second from this process. The deployment's figure is divided among the live replicas
//! (`share`), which the worker's heartbeat counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

pub struct RateLimiter {
    /// Requests per second as f64 bits; 0 means no limit.
    rate: AtomicU64,
    /// When the next request may leave.
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

    /// Takes this request's slot (slots are 1/rate apart) and waits for it, unless it is more
    /// than `max_wait` away: then nothing is taken, and the answer is how long until the next
    /// free slot, so the caller can step aside instead of holding a worker that long.
    pub async fn acquire(&self, max_wait: Duration) -> Result<(), Duration> {
        let rate = self.rate();
        if rate <= 0.0 {
            return Ok(());
        }
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            if slot > now + max_wait {
                return Err(slot - now);
            }
            *next = slot + Duration::from_secs_f64(1.0 / rate);
            slot
        };
        tokio::time::sleep_until(slot).await;
        Ok(())
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
            limiter.acquire(Duration::from_secs(5)).await.unwrap();
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
            limiter.acquire(Duration::ZERO).await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_far_slot_is_not_taken() {
        let limiter = RateLimiter::new(2.0);
        limiter.acquire(Duration::ZERO).await.unwrap();
        // The next slot is 500 ms away: not taken with a 100 ms patience...
        let wait = limiter
            .acquire(Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(wait > Duration::from_millis(300), "{wait:?}");
        // ...so it is still the next one.
        let wait_again = limiter
            .acquire(Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(wait_again <= wait);
    }
}
