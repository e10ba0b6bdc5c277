//! Retry policy: exponential backoff with jitter, bounded by attempts and age.
//!
//! The n-th retry waits `min_backoff * 2^(n-1)`, capped at `max_backoff`, with "equal jitter"
//! (a random point in the upper half of that delay) so retries of many notifications do not
//! arrive together. A `Retry-After` from the receiver is honoured when it asks for longer.
//! A notification is given up when `max_attempts` (if not 0) attempts failed or when the next
//! attempt would start after `max_age`.
//!
//! **Invariant:** pure: the random draw and the clock come in as parameters.

use crate::config::DeliveryConfig;
use std::time::Duration;

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after this delay.
    RetryAfter(Duration),
    /// Stop: attempts or age exhausted.
    GiveUp,
}

/// The delay before retry number `retry` (1 for the first retry); `jitter` is uniform in
/// `[0, 1)`.
pub fn backoff(cfg: &DeliveryConfig, retry: u32, jitter: f64) -> Duration {
    let min = cfg.min_backoff.as_duration();
    let max = cfg.max_backoff.as_duration().max(min);
    let shift = retry.saturating_sub(1).min(30);
    let base = min.saturating_mul(1 << shift).min(max);
    let half = base / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// Decides after `attempts` failed attempts, the first of which started `age` ago.
pub fn decide(
    cfg: &DeliveryConfig,
    attempts: u32,
    age: Duration,
    retry_after: Option<Duration>,
    jitter: f64,
) -> RetryDecision {
    if cfg.max_attempts > 0 && u64::from(attempts) >= cfg.max_attempts {
        return RetryDecision::GiveUp;
    }
    let mut wait = backoff(cfg, attempts, jitter);
    if let Some(asked) = retry_after {
        wait = wait.max(asked);
    }
    if age + wait > cfg.max_age.as_duration() {
        return RetryDecision::GiveUp;
    }
    RetryDecision::RetryAfter(wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PromDuration;

    fn cfg(max_attempts: u64) -> DeliveryConfig {
        DeliveryConfig {
            timeout: PromDuration::from_secs(1),
            max_attempts,
            max_age: PromDuration::from_secs(60),
            min_backoff: PromDuration::from_millis(100),
            max_backoff: PromDuration::from_secs(2),
        }
    }

    #[test]
    fn doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let c = cfg(0);
        assert_eq!(backoff(&c, 1, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(&c, 1, 0.5), Duration::from_micros(75_000));
        assert_eq!(backoff(&c, 3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(&c, 10, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(&c, 1000, 0.0), Duration::from_secs(1));
    }

    #[test]
    fn gives_up_on_attempts_or_age() {
        let c = cfg(3);
        assert!(matches!(
            decide(&c, 1, Duration::ZERO, None, 0.5),
            RetryDecision::RetryAfter(_)
        ));
        assert_eq!(
            decide(&c, 3, Duration::ZERO, None, 0.5),
            RetryDecision::GiveUp
        );
        let c = cfg(0);
        assert_eq!(
            decide(&c, 5, Duration::from_secs(59), None, 0.5),
            RetryDecision::GiveUp
        );
        assert_eq!(
            decide(&c, 1, Duration::ZERO, Some(Duration::from_secs(5)), 0.0),
            RetryDecision::RetryAfter(Duration::from_secs(5))
        );
        assert_eq!(
            decide(&c, 1, Duration::ZERO, Some(Duration::from_secs(120)), 0.0),
            RetryDecision::GiveUp
        );
    }
}
