//! The retry ladder: how long to wait before each retry of an unanswered destination.
//!
//! Infobip's rule, which ivory follows: retries wait 1, 2, 5, 10, 20, 30 min, 1, 2, 4, 8, 16
//! and 24 h, starting at the first step not below `minPeriod` and staying at `maxPeriod` once
//! the ladder reaches it; when `minPeriod == maxPeriod` every wait is that period. `maxPeriod`
//! off the ladder is rounded up to the next step (above 24 h: 24 h); `maxCount` above 4 is 4.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The steps of the ladder, in minutes.
pub const LADDER_MINUTES: [u32; 12] = [1, 2, 5, 10, 20, 30, 60, 120, 240, 480, 960, 1_440];

/// The most retries a destination gets.
pub const MAXIMUM_RETRIES: u32 = 4;

/// A launch's `retry` object, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    pub min_period_minutes: u32,
    pub max_period_minutes: u32,
    /// Retries after the first attempt (0–4).
    pub max_count: u32,
}

/// Why a `retry` object cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RetryPolicyError {
    #[error("minPeriod must be at least 1 minute")]
    MinimumTooSmall,
    #[error("maxPeriod must be at least 1 minute")]
    MaximumTooSmall,
    #[error("minPeriod ({minimum} min) is above maxPeriod ({maximum} min)")]
    MinimumAboveMaximum { minimum: u32, maximum: u32 },
}

impl RetryPolicy {
    /// Normalises a request's values: `max_count` above 4 becomes 4, `max_period` is rounded
    /// up to a ladder step (24 h at most), `min_period` is cut to 24 h.
    pub fn new(
        min_period_minutes: u32,
        max_period_minutes: u32,
        max_count: u32,
    ) -> Result<RetryPolicy, RetryPolicyError> {
        if min_period_minutes == 0 {
            return Err(RetryPolicyError::MinimumTooSmall);
        }
        if max_period_minutes == 0 {
            return Err(RetryPolicyError::MaximumTooSmall);
        }
        if min_period_minutes > max_period_minutes {
            return Err(RetryPolicyError::MinimumAboveMaximum {
                minimum: min_period_minutes,
                maximum: max_period_minutes,
            });
        }
        let last = LADDER_MINUTES[LADDER_MINUTES.len() - 1];
        let rounded_maximum = LADDER_MINUTES
            .iter()
            .copied()
            .find(|&step| step >= max_period_minutes)
            .unwrap_or(last);
        Ok(RetryPolicy {
            min_period_minutes: min_period_minutes.min(last),
            max_period_minutes: rounded_maximum,
            max_count: max_count.min(MAXIMUM_RETRIES),
        })
    }

    /// The wait before retry number `retry` (1 for the first retry), or `None` when the
    /// policy allows no such retry.
    pub fn delay_before(&self, retry: u32) -> Option<Duration> {
        if retry == 0 || retry > self.max_count {
            return None;
        }
        let minutes = if self.min_period_minutes >= self.max_period_minutes {
            self.max_period_minutes
        } else {
            let start = LADDER_MINUTES
                .iter()
                .position(|&step| step >= self.min_period_minutes)
                .unwrap_or(LADDER_MINUTES.len() - 1);
            let index = (start + retry as usize - 1).min(LADDER_MINUTES.len() - 1);
            LADDER_MINUTES[index].clamp(self.min_period_minutes, self.max_period_minutes)
        };
        Some(Duration::from_secs(u64::from(minutes) * 60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutes(policy: &RetryPolicy) -> Vec<u64> {
        (1..=policy.max_count)
            .map(|retry| {
                policy
                    .delay_before(retry)
                    .expect("within max_count")
                    .as_secs()
                    / 60
            })
            .collect()
    }

    #[test]
    fn the_ladder_starts_at_the_minimum_and_stays_at_the_maximum() {
        let policy = RetryPolicy::new(1, 30, 4).expect("valid");
        assert_eq!(minutes(&policy), [1, 2, 5, 10]);
        let policy = RetryPolicy::new(5, 20, 4).expect("valid");
        assert_eq!(minutes(&policy), [5, 10, 20, 20]);
        let policy = RetryPolicy::new(3, 60, 4).expect("valid");
        assert_eq!(minutes(&policy), [5, 10, 20, 30]);
        let policy = RetryPolicy::new(240, 1_440, 4).expect("valid");
        assert_eq!(minutes(&policy), [240, 480, 960, 1_440]);
    }

    #[test]
    fn equal_periods_wait_the_same_every_time() {
        let policy = RetryPolicy::new(15, 15, 3).expect("valid");
        // maxPeriod 15 rounds up to 20, minPeriod stays 15: the ladder clipped to [15, 20].
        assert_eq!(minutes(&policy), [20, 20, 20]);
        let policy = RetryPolicy::new(10, 10, 2).expect("valid");
        assert_eq!(minutes(&policy), [10, 10]);
    }

    #[test]
    fn out_of_range_values_are_clamped_as_documented() {
        let policy = RetryPolicy::new(1, 5_000, 9).expect("valid");
        assert_eq!(policy.max_count, 4);
        assert_eq!(policy.max_period_minutes, 1_440);
        let policy = RetryPolicy::new(1, 45, 1).expect("valid");
        assert_eq!(policy.max_period_minutes, 60);
        assert_eq!(policy.delay_before(2), None);
        assert_eq!(policy.delay_before(0), None);
    }

    #[test]
    fn impossible_periods_are_refused() {
        assert_eq!(
            RetryPolicy::new(0, 5, 1),
            Err(RetryPolicyError::MinimumTooSmall)
        );
        assert_eq!(
            RetryPolicy::new(1, 0, 1),
            Err(RetryPolicyError::MaximumTooSmall)
        );
        assert_eq!(
            RetryPolicy::new(30, 10, 1),
            Err(RetryPolicyError::MinimumAboveMaximum {
                minimum: 30,
                maximum: 10
            })
        );
    }

    #[test]
    fn no_retries_with_a_zero_count() {
        let policy = RetryPolicy::new(1, 1, 0).expect("valid");
        assert_eq!(policy.delay_before(1), None);
    }
}
