//! When a failed attempt runs again: the configured schedule, with jitter, and the server's
//! `Retry-After` as a floor.

use std::time::Duration;

use rand::Rng;

/// The longest `Retry-After` honoured, so a hostile or broken server cannot park a job forever.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// The delay before the next attempt, after `attempts` attempts have failed, or `None` when
/// the schedule is exhausted. Jitter is ±20%; `Retry-After` is a floor.
pub fn next_delay(
    schedule: &[Duration],
    attempts: u32,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let planned = *schedule.get((attempts as usize).checked_sub(1)?)?;
    let factor = rand::rng().random_range(0.8..=1.2);
    let jittered = planned.mul_f64(factor);
    Some(match retry_after {
        Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER)),
        None => jittered,
    })
}
