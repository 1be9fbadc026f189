//! `deliveryTimeWindow`: the UTC days and hours in which calls may start.
//!
//! Times are UTC minutes of the day; `from` is inclusive, `to` exclusive, and a window spans
//! at least one hour within a day (as Infobip requires). Computed from milliseconds since the
//! Unix epoch: day `d` since 1970-01-01 (a Thursday) is weekday `(d + 3) mod 7` counted from
//! Monday.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::from_unix_millis;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const MINUTES_PER_DAY: u16 = 1_440;

/// A day of the week, by its English name in capitals as the API writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    fn from_day_number(day: i64) -> Weekday {
        // 1970-01-01 was a Thursday (index 3 from Monday).
        Weekday::ALL[(day + 3).rem_euclid(7) as usize]
    }
}

/// Why a window cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("at least one day is required")]
    NoDays,
    #[error("a time of day must be 00:00 to 23:59 (or 24:00 for `to`)")]
    TimeOutOfRange,
    #[error("the window must span at least one hour, from before to")]
    TooShort,
}

/// The UTC days and hours in which calls may start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliveryTimeWindow {
    days: Vec<Weekday>,
    from_minute: u16,
    to_minute: u16,
}

impl DeliveryTimeWindow {
    /// `from`/`to` as (hour, minute), UTC; `to` may be (24, 0).
    pub fn new(
        days: &[Weekday],
        from: (u8, u8),
        to: (u8, u8),
    ) -> Result<DeliveryTimeWindow, WindowError> {
        if days.is_empty() {
            return Err(WindowError::NoDays);
        }
        let minute_of_day = |(hour, minute): (u8, u8)| {
            (hour < 24 && minute < 60)
                .then(|| u16::from(hour) * 60 + u16::from(minute))
                .ok_or(WindowError::TimeOutOfRange)
        };
        let from_minute = minute_of_day(from)?;
        // `to` may be 24:00, the end of the day.
        let to_minute = if to == (24, 0) {
            MINUTES_PER_DAY
        } else {
            minute_of_day(to)?
        };
        if to_minute < from_minute + 60 {
            return Err(WindowError::TooShort);
        }
        let mut days = days.to_vec();
        days.sort();
        days.dedup();
        Ok(DeliveryTimeWindow {
            days,
            from_minute,
            to_minute,
        })
    }

    /// Whether a call may start at `at`.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let millis = at.as_millisecond();
        let day = millis.div_euclid(DAY_MS);
        let minute = (millis.rem_euclid(DAY_MS) / MINUTE_MS) as u16;
        self.days.contains(&Weekday::from_day_number(day))
            && (self.from_minute..self.to_minute).contains(&minute)
    }

    /// `at` itself when the window is open then, else the next moment it opens.
    pub fn next_open(&self, at: Timestamp) -> Timestamp {
        if self.is_open(at) {
            return at;
        }
        let millis = at.as_millisecond();
        let today = millis.div_euclid(DAY_MS);
        let minute = (millis.rem_euclid(DAY_MS) / MINUTE_MS) as u16;
        // Today's opening if it is still ahead, else the first listed day after today.
        let first_day = if minute < self.from_minute {
            today
        } else {
            today + 1
        };
        let day = (first_day..first_day + 7)
            .find(|&day| self.days.contains(&Weekday::from_day_number(day)))
            .unwrap_or(first_day);
        from_unix_millis(day * DAY_MS + i64::from(self.from_minute) * MINUTE_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn weekdays_follow_the_calendar() {
        // 2026-11-23 is a Monday.
        let monday = at("2026-11-23T12:00:00Z")
            .as_millisecond()
            .div_euclid(DAY_MS);
        assert_eq!(Weekday::from_day_number(monday), Weekday::Monday);
        assert_eq!(Weekday::from_day_number(monday + 6), Weekday::Sunday);
        assert_eq!(Weekday::from_day_number(0), Weekday::Thursday);
    }

    #[test]
    fn open_only_on_listed_days_between_from_and_to() {
        let window =
            DeliveryTimeWindow::new(&[Weekday::Monday, Weekday::Wednesday], (9, 0), (17, 30))
                .expect("valid");
        assert!(window.is_open(at("2026-11-23T09:00:00Z")));
        assert!(window.is_open(at("2026-11-23T17:29:59Z")));
        assert!(!window.is_open(at("2026-11-23T17:30:00Z")));
        assert!(!window.is_open(at("2026-11-23T08:59:59Z")));
        assert!(!window.is_open(at("2026-11-24T12:00:00Z")));
        assert!(window.is_open(at("2026-11-25T12:00:00Z")));
    }

    #[test]
    fn the_next_opening_is_today_or_a_later_listed_day() {
        let window =
            DeliveryTimeWindow::new(&[Weekday::Monday, Weekday::Wednesday], (9, 0), (17, 0))
                .expect("valid");
        let open = at("2026-11-23T10:00:00Z");
        assert_eq!(window.next_open(open), open);
        assert_eq!(
            window.next_open(at("2026-11-23T06:00:00Z")),
            at("2026-11-23T09:00:00Z")
        );
        assert_eq!(
            window.next_open(at("2026-11-23T18:00:00Z")),
            at("2026-11-25T09:00:00Z")
        );
        // Wednesday evening: next Monday.
        assert_eq!(
            window.next_open(at("2026-11-25T17:00:00Z")),
            at("2026-11-30T09:00:00Z")
        );
    }

    #[test]
    fn bad_windows_are_refused() {
        assert_eq!(
            DeliveryTimeWindow::new(&[], (9, 0), (17, 0)),
            Err(WindowError::NoDays)
        );
        assert_eq!(
            DeliveryTimeWindow::new(&[Weekday::Friday], (24, 0), (17, 0)),
            Err(WindowError::TimeOutOfRange)
        );
        assert_eq!(
            DeliveryTimeWindow::new(&[Weekday::Friday], (9, 0), (9, 59)),
            Err(WindowError::TooShort)
        );
        assert_eq!(
            DeliveryTimeWindow::new(&[Weekday::Friday], (17, 0), (9, 0)),
            Err(WindowError::TooShort)
        );
        let whole_day = DeliveryTimeWindow::new(&[Weekday::Friday], (0, 0), (24, 0))
            .expect("24:00 ends the day");
        assert!(whole_day.is_open(at("2026-11-27T23:59:59Z")));
        assert!(!whole_day.is_open(at("2026-11-28T00:00:00Z")));
    }
}
