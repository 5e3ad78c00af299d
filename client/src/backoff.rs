//! Reconnect delays: exponential with jitter, so a fleet of clients whose node died does not
//! come back in lockstep.

use std::time::Duration;

/// Exponential backoff with "equal jitter": attempt `n` waits a uniformly random time in
/// `[d/2, d]` where `d = min(max, base · 2^n)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay scale of the first retry.
    pub base: Duration,
    /// Ceiling.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_millis(200), max: Duration::from_secs(10) }
    }
}

impl Backoff {
    /// The ceiling `d` of attempt `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay before attempt `attempt`, with `unit` in `[0, 1)` as the random draw.
    pub fn delay_with(&self, attempt: u32, unit: f64) -> Duration {
        let d = self.ceiling(attempt);
        let half = d / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The delay before attempt `attempt`, randomly jittered.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, random_unit())
    }
}

/// A uniform random number in `[0, 1)`.
pub fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_within_the_jitter_bounds() {
        let b = Backoff { base: Duration::from_millis(100), max: Duration::from_secs(5) };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(20), Duration::from_secs(5));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(5));
        for attempt in 0..40 {
            let d = b.ceiling(attempt);
            assert_eq!(b.delay_with(attempt, 0.0), d / 2);
            assert!(b.delay_with(attempt, 0.999_999) <= d);
            for _ in 0..50 {
                let x = b.delay(attempt);
                assert!(x >= d / 2 && x <= d, "attempt {attempt}: {x:?} outside [{:?}, {d:?}]", d / 2);
            }
        }
        let draws: Vec<f64> = (0..1000).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        // Not constant: jitter actually spreads clients out.
        assert!(draws.iter().any(|u| *u < 0.25) && draws.iter().any(|u| *u > 0.75));
    }
}
