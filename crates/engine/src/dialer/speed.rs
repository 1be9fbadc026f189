//! `sendingSpeed`: at most `speed` calls per `timeUnit` for one launch.
//!
//! A token bucket that holds one token: calls are spread evenly, one every `timeUnit /
//! speed`, rather than `speed` at once at the start of each unit (a burst of 1,000 calls at
//! the top of the minute is what a sending speed is there to prevent). Written as the
//! equivalent "next allowed time" (GCRA), which needs no refill arithmetic.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::add;

/// `sendingSpeed.timeUnit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeUnit {
    Second,
    #[default]
    Minute,
    Hour,
    Day,
}

impl TimeUnit {
    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            TimeUnit::Second => 1,
            TimeUnit::Minute => 60,
            TimeUnit::Hour => 3_600,
            TimeUnit::Day => 86_400,
        })
    }
}

/// `sendingSpeed`: `speed` calls per `time_unit` (speed ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendingSpeed {
    pub speed: u32,
    pub time_unit: TimeUnit,
}

impl SendingSpeed {
    /// The spacing between two calls of the launch.
    pub fn interval(&self) -> Duration {
        self.time_unit.duration() / self.speed.max(1)
    }
}

/// One launch's pacing state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pace {
    interval: Duration,
    next_allowed: Option<Timestamp>,
}

impl Pace {
    pub fn new(speed: SendingSpeed) -> Pace {
        Pace {
            interval: speed.interval(),
            next_allowed: None,
        }
    }

    /// Takes the token if a call may start at `now`.
    pub fn try_take(&mut self, now: Timestamp) -> bool {
        match self.next_allowed {
            Some(next) if now < next => false,
            _ => {
                self.next_allowed = Some(add(now, self.interval));
                true
            }
        }
    }

    /// When the next call may start (`None`: now).
    pub fn next_allowed(&self) -> Option<Timestamp> {
        self.next_allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_spread_evenly_over_the_unit() {
        let speed = SendingSpeed {
            speed: 4,
            time_unit: TimeUnit::Minute,
        };
        assert_eq!(speed.interval(), Duration::from_secs(15));
        let mut pace = Pace::new(speed);
        let start: Timestamp = "2026-11-23T10:00:00Z".parse().expect("timestamp");
        assert!(pace.try_take(start));
        assert!(!pace.try_take(start));
        assert!(!pace.try_take(add(start, Duration::from_secs(14))));
        assert!(pace.try_take(add(start, Duration::from_secs(15))));
        assert_eq!(
            pace.next_allowed(),
            Some(add(start, Duration::from_secs(30)))
        );
    }

    #[test]
    fn idle_time_does_not_build_up_a_burst() {
        let mut pace = Pace::new(SendingSpeed {
            speed: 1,
            time_unit: TimeUnit::Second,
        });
        let start: Timestamp = "2026-11-23T10:00:00Z".parse().expect("timestamp");
        assert!(pace.try_take(start));
        let later = add(start, Duration::from_secs(3_600));
        assert!(pace.try_take(later));
        assert!(!pace.try_take(later));
    }
}
