use std::time::Duration;

use super::failure::parse_retry_after;
use super::*;

#[test]
fn schedule_is_followed_with_jitter_then_exhausted() {
    let schedule = [Duration::from_secs(10), Duration::from_secs(100)];
    for _ in 0..50 {
        let d = next_delay(&schedule, 1, None).unwrap();
        assert!(
            d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
            "{d:?}"
        );
        let d = next_delay(&schedule, 2, None).unwrap();
        assert!(d >= Duration::from_secs(80) && d <= Duration::from_secs(120));
    }
    assert_eq!(next_delay(&schedule, 3, None), None);
    assert_eq!(next_delay(&schedule, 0, None), None);
}

#[test]
fn retry_after_is_a_floor_with_a_ceiling() {
    let schedule = [Duration::from_millis(10)];
    assert!(
        next_delay(&schedule, 1, Some(Duration::from_secs(3))).unwrap() >= Duration::from_secs(3)
    );
    assert_eq!(
        next_delay(&schedule, 1, Some(Duration::from_secs(10_000_000))).unwrap(),
        MAX_RETRY_AFTER
    );
    assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
}

#[test]
fn a_status_reads_back_as_written_and_an_unknown_one_is_refused() {
    for s in Status::ALL {
        assert_eq!(Status::from_db(s.as_str()), s);
        assert_eq!(s.as_str().parse(), Ok(s));
        assert_eq!(s.to_string(), s.as_str());
    }
    assert_eq!("lost".parse::<Status>(), Err(UnknownStatus));
    assert_eq!("Dead".parse::<Status>(), Err(UnknownStatus));
    assert_eq!(Status::from_db("lost"), Status::Dead, "shown, not hidden");
}

#[test]
fn a_step_reads_back_as_written() {
    for s in [Step::New, Step::Fetched, Step::reached("pushed")] {
        assert_eq!(Step::from_db(s.as_str()), s);
    }
    assert_eq!(Step::from_db(""), Step::New);
}
