//! The per-user send limit: GCRA (the generic cell rate algorithm), one timestamp per user. The
//! state lives in the database (`send_limits`), read under a row lock by the send's transaction,
//! so the limit holds across every connection, node and the edge; this module decides.

use chrono::Duration;

use crate::error::{ApiError, ErrorCode};
use crate::time::Timestamp;

/// Sends per second a user may make, sustained, and how many at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRate {
    /// Sustained sends per second (0: no limit).
    pub per_sec: u32,
    /// Sends allowed at once beyond the sustained rate.
    pub burst: u32,
}

impl Default for UserRate {
    /// 100 per second, bursts of 200.
    fn default() -> Self {
        UserRate { per_sec: 100, burst: 200 }
    }
}

/// Admits one send at `now` given the user's theoretical arrival time `tat`: the new `tat`, or
/// 429 with the seconds to wait.
pub fn admit(tat: Option<Timestamp>, now: Timestamp, rate: UserRate) -> Result<Timestamp, ApiError> {
    if rate.per_sec == 0 {
        return Ok(now);
    }
    let interval = Duration::microseconds(1_000_000 / i64::from(rate.per_sec));
    let tolerance = interval * rate.burst.max(1) as i32;
    let base = tat.map_or(now.0, |t| t.0.max(now.0));
    let next = base + interval;
    let ahead = next - now.0;
    if ahead > tolerance {
        let wait = (ahead - tolerance).num_milliseconds().max(1);
        let mut e = ApiError::new(ErrorCode::RateLimited, "too many messages: slow down");
        e.retry_after = Some(((wait + 999) / 1000) as u64);
        return Err(e);
    }
    Ok(Timestamp(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let rate = UserRate { per_sec: 10, burst: 5 };
        let now = Timestamp::now();
        let mut tat = None;
        for i in 0..5 {
            tat = Some(admit(tat, now, rate).unwrap_or_else(|e| panic!("send {i}: {e}")));
        }
        let e = admit(tat, now, rate).unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert_eq!(e.retry_after, Some(1));
        // 100 ms later one more fits: the sustained rate.
        let later = Timestamp(now.0 + Duration::milliseconds(100));
        let t = admit(tat, later, rate).unwrap();
        assert!(admit(Some(t), later, rate).is_err());
        // After a quiet second the whole burst is back.
        let quiet = Timestamp(now.0 + Duration::seconds(2));
        let mut tat = Some(t);
        for _ in 0..5 {
            tat = Some(admit(tat, quiet, rate).unwrap());
        }
        assert!(admit(tat, quiet, UserRate { per_sec: 0, burst: 0 }).is_ok(), "0: unlimited");
    }
}
