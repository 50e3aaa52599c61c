//! When a failed delivery is tried again.
//!
//! A schedule lists the delay before each attempt: `0s,5s,30s` means three attempts, the
//! first at once, the second five seconds after the first failed, the third thirty seconds
//! after that. Delays get ±20 % jitter so that a receiver that comes back is not hit by
//! every queued delivery in the same second.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;

/// Why a schedule or duration text is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{0}` is not a duration: write a number and a unit (ms, s, m, h, d), e.g. `30s`")]
    Duration(String),
    #[error("a retry schedule needs at least one attempt and at most {0}")]
    Length(usize),
    #[error("a retry delay may be at most 7 days")]
    TooLong,
}

/// The longest schedule accepted, in attempts.
pub const MAX_ATTEMPTS: usize = 50;

/// Reads `500ms`, `30s`, `2m`, `1h`, `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, ScheduleError> {
    let text = text.trim();
    let error = || ScheduleError::Duration(text.to_owned());
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(error)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| error())?;
    let millis = match unit.trim() {
        "ms" => 1,
        "s" | "sec" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(error()),
    };
    number
        .checked_mul(millis)
        .map(Duration::from_millis)
        .ok_or_else(error)
}

/// Writes a duration in the largest unit that is exact.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if millis >= size && millis.is_multiple_of(size) {
            return format!("{}{unit}", millis / size);
        }
    }
    if millis == 0 {
        "0s".to_owned()
    } else {
        format!("{millis}ms")
    }
}

/// The delays before each attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl Default for RetrySchedule {
    /// Immediately, 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h, 24 h: eleven
    /// attempts over about two days.
    fn default() -> Self {
        let seconds = [
            0, 5, 30, 120, 600, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400,
        ];
        Self(seconds.into_iter().map(Duration::from_secs).collect())
    }
}

impl RetrySchedule {
    pub fn new(delays: Vec<Duration>) -> Result<Self, ScheduleError> {
        if delays.is_empty() || delays.len() > MAX_ATTEMPTS {
            return Err(ScheduleError::Length(MAX_ATTEMPTS));
        }
        if delays
            .iter()
            .any(|delay| *delay > Duration::from_secs(7 * 86_400))
        {
            return Err(ScheduleError::TooLong);
        }
        Ok(Self(delays))
    }

    pub fn delays(&self) -> &[Duration] {
        &self.0
    }

    pub fn max_attempts(&self) -> usize {
        self.0.len()
    }

    /// The delay before attempt number `attempts_made + 1`, jittered, or `None` when the
    /// schedule is used up.
    pub fn delay_after(&self, attempts_made: usize) -> Option<Duration> {
        self.0.get(attempts_made).map(|delay| jitter(*delay))
    }
}

fn jitter(delay: Duration) -> Duration {
    if delay.is_zero() {
        return delay;
    }
    delay.mul_f64(rand::rng().random_range(0.8..=1.2))
}

impl FromStr for RetrySchedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, ScheduleError> {
        let delays = text
            .split(',')
            .map(parse_duration)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(delays)
    }
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<_> = self.0.iter().map(|d| format_duration(*d)).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_lists_the_delay_before_each_attempt() {
        let schedule: RetrySchedule = "0s,1s,1s".parse().expect("schedule");
        assert_eq!(schedule.max_attempts(), 3);
        assert_eq!(schedule.delay_after(0), Some(Duration::ZERO));
        let second = schedule.delay_after(1).expect("second attempt");
        assert!((Duration::from_millis(800)..=Duration::from_millis(1200)).contains(&second));
        assert_eq!(schedule.delay_after(3), None);
    }

    #[test]
    fn the_default_schedule_round_trips() {
        let text = RetrySchedule::default().to_string();
        assert_eq!(text, "0s,5s,30s,2m,10m,30m,1h,3h,6h,12h,1d");
        assert_eq!(text.parse::<RetrySchedule>(), Ok(RetrySchedule::default()));
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        assert_eq!(
            "".parse::<RetrySchedule>(),
            Err(ScheduleError::Duration(String::new()))
        );
        assert_eq!(
            "5 parsecs".parse::<RetrySchedule>(),
            Err(ScheduleError::Duration("5 parsecs".into()))
        );
        assert_eq!("30d".parse::<RetrySchedule>(), Err(ScheduleError::TooLong));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    }
}
