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
/// Addresses followed at once; past it, the windows that ended are forgotten, then the oldest.
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

/// One address's failed logins in one area.
struct Window {
    /// The first failure of the window: it ends `WINDOW` later.
    started: Instant,
    /// Failed logins in the window so far.
    failures: u32,
}

/// Failed logins per (area, address): a window each.
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
        let (Some(ip), Ok(windows)) = (ip.map(client), self.0.lock()) else {
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
        let (Some(ip), Ok(mut windows)) = (ip.map(client), self.0.lock()) else {
            return false;
        };
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&(area, ip)) {
            windows.retain(|_, w| now < w.started + WINDOW);
            if windows.len() >= MAX_TRACKED
                && let Some(oldest) = windows
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(k, _)| *k)
            {
                windows.remove(&oldest);
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

/// Who a client is: its IPv4 address, or its IPv6 /64 (one host holds a whole /64, and would
/// otherwise change address at every guess).
fn client(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
            v6.to_ipv4_mapped().map_or(ip, IpAddr::V4)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
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
    fn an_ipv6_host_is_its_slash_64() {
        let t = Throttle::default();
        let start = Instant::now();
        for i in 0..10u16 {
            let ip = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, i, i, i, i);
            t.failed_at(Area::Admin, Some(ip.into()), start);
        }
        let same = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 9, 9, 9, 99);
        let next = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1);
        assert!(t.check_at(Area::Admin, Some(same.into()), start).is_err());
        assert!(t.check_at(Area::Admin, Some(next.into()), start).is_ok());
        // An IPv4 client on a dual-stack socket is itself, not all of ::ffff:0:0/96.
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
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
