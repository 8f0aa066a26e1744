//! Friction on guessing credentials: after `LIMIT` failed logins from one client address within
//! `WINDOW`, that address is answered 429 (with `Retry-After`) until the window has passed,
//! whatever it presents. Counted per process: N replicas let N times as many guesses through,
//! still a few a second at most instead of thousands. Each burst is logged once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins from one address within `WINDOW` before it is refused.
pub const LIMIT: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses followed at once; past it, the windows that ended are forgotten first, and an
/// address that finds no room is not followed (a flood of addresses gets no less friction than
/// the rate limits of whatever is in front of the relay).
const MAX_TRACKED: usize = 10_000;

/// Which credentials: the admin area's and the careers API's are counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    Admin,
    Careers,
}

impl Area {
    pub fn label(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Careers => "careers",
        }
    }
}

struct Window {
    started: Instant,
    failures: u32,
}

#[derive(Default)]
pub struct Throttle(Mutex<HashMap<(Area, IpAddr), Window>>);

impl Throttle {
    /// `Err(wait)` when `ip` is refused in `area` for `wait` more.
    pub fn check(&self, area: Area, ip: Option<IpAddr>) -> Result<(), Duration> {
        self.check_at(area, ip, Instant::now())
    }

    /// Counts a failed login; true when it is the one that starts a burst (to log, once).
    pub fn failed(&self, area: Area, ip: Option<IpAddr>) -> bool {
        self.failed_at(area, ip, Instant::now())
    }

    fn check_at(&self, area: Area, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let (Some(ip), Ok(windows)) = (ip, self.0.lock()) else {
            return Ok(());
        };
        match windows.get(&(area, ip)) {
            Some(w) if w.failures >= LIMIT && now < w.started + WINDOW => {
                Err(w.started + WINDOW - now)
            }
            _ => Ok(()),
        }
    }

    fn failed_at(&self, area: Area, ip: Option<IpAddr>, now: Instant) -> bool {
        let (Some(ip), Ok(mut windows)) = (ip, self.0.lock()) else {
            return false;
        };
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&(area, ip)) {
            windows.retain(|_, w| now < w.started + WINDOW);
            if windows.len() >= MAX_TRACKED {
                return false;
            }
        }
        let w = windows.entry((area, ip)).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= w.started + WINDOW {
            *w = Window {
                started: now,
                failures: 0,
            };
        }
        w.failures += 1;
        w.failures == LIMIT
    }
}

/// `Retry-After`'s whole seconds, rounded up so a client never comes back early.
pub fn retry_after(wait: Duration) -> String {
    wait.as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
        .max(1)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_in_a_minute_refuse_the_address_until_the_minute_has_passed() {
        let t = Throttle::default();
        let ip: Option<IpAddr> = "192.0.2.7".parse().ok();
        let other: Option<IpAddr> = "192.0.2.8".parse().ok();
        let start = Instant::now();
        let bursts: Vec<bool> = (0..12)
            .map(|i| t.failed_at(Area::Admin, ip, start + Duration::from_secs(i)))
            .collect();
        assert_eq!(bursts.iter().filter(|b| **b).count(), 1, "logged once");
        assert!(bursts[9], "the tenth failure starts the burst");
        let later = start + Duration::from_secs(20);
        assert_eq!(
            t.check_at(Area::Admin, ip, later),
            Err(Duration::from_secs(40))
        );
        // Another address, and the careers credentials, are counted apart.
        assert!(t.check_at(Area::Admin, other, later).is_ok());
        assert!(t.check_at(Area::Careers, ip, later).is_ok());
        // Once the minute has passed, the address may try again, and a new burst is logged.
        let after = start + WINDOW;
        assert!(t.check_at(Area::Admin, ip, after).is_ok());
        let again: Vec<bool> = (0..10)
            .map(|i| t.failed_at(Area::Admin, ip, after + Duration::from_millis(i)))
            .collect();
        assert!(again[9]);
        assert_eq!(retry_after(Duration::from_millis(59_001)), "60");
        assert_eq!(retry_after(Duration::ZERO), "1");
    }

    #[test]
    fn nine_failures_a_minute_never_refuse() {
        let t = Throttle::default();
        let ip: Option<IpAddr> = "2001:db8::1".parse().ok();
        let start = Instant::now();
        for minute in 0..3 {
            for i in 0..9 {
                let at = start + WINDOW * minute + Duration::from_secs(i);
                assert!(!t.failed_at(Area::Careers, ip, at));
                assert!(t.check_at(Area::Careers, ip, at).is_ok());
            }
        }
    }
}
