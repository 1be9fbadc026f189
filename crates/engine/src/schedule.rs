//! Business-hours schedules: `[schedules.NAME]` in TOML, evaluated at the moment a call arrives.
//!
//! ```toml
//! [schedules.office]
//! timezone = "Europe/Stockholm"
//! open = ["mon-fri 08:00-17:00", "sat 10:00-14:00", "sun 22:00-02:00"]
//! closed_dates = ["2026-12-24", "2026-12-25"]
//! ```
//!
//! An `open` entry is a day set and a time range. Days are `mon`..`sun`, ranges (`mon-fri`, which
//! may wrap: `fri-mon`), comma lists (`mon,wed,fri`) or `daily`. Times are `HH:MM` in the schedule's
//! timezone (the IANA database is compiled in, so daylight-saving changes need no system files);
//! `24:00` ends at midnight; an end before the start runs past midnight into the next day (the hours
//! after midnight belong to the day the range started). A `closed_dates` day is closed for the whole
//! calendar day, including the after-midnight tail of a range that started the day before it.

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

/// A parsed, validated schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    timezone: TimeZone,
    open: Vec<OpenRange>,
    closed_dates: Vec<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenRange {
    /// Bit n set = open on the weekday `n` days after Monday.
    days: u8,
    start_minute: u16,
    end_minute: u16,
}

/// A schedule that cannot be parsed; the message names the offending entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("unknown timezone {0:?} (use an IANA name such as \"Europe/Stockholm\")")]
    Timezone(String),
    #[error("open[{index}] = {entry:?}: {reason}")]
    Open {
        index: usize,
        entry: String,
        reason: String,
    },
    #[error("closed_dates[{index}] = {entry:?}: not a YYYY-MM-DD date")]
    ClosedDate { index: usize, entry: String },
}

impl Schedule {
    pub fn parse(
        timezone: &str,
        open: &[String],
        closed_dates: &[String],
    ) -> Result<Self, ScheduleError> {
        let timezone =
            TimeZone::get(timezone).map_err(|_| ScheduleError::Timezone(timezone.to_string()))?;
        let open = open
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                parse_open(entry).map_err(|reason| ScheduleError::Open {
                    index,
                    entry: entry.clone(),
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        let closed_dates = closed_dates
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                entry
                    .trim()
                    .parse::<Date>()
                    .map_err(|_| ScheduleError::ClosedDate {
                        index,
                        entry: entry.clone(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            timezone,
            open,
            closed_dates,
        })
    }

    /// Whether the schedule is open at an instant.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = at.to_zoned(self.timezone.clone());
        let date = local.date();
        let minute =
            u16::from(local.hour().unsigned_abs()) * 60 + u16::from(local.minute().unsigned_abs());
        if self.closed_dates.contains(&date) {
            return false;
        }
        let today = weekday_bit(date.weekday());
        let yesterday = weekday_bit(date.weekday().previous());
        self.open.iter().any(|range| {
            if range.start_minute < range.end_minute {
                range.days & today != 0 && (range.start_minute..range.end_minute).contains(&minute)
            } else {
                // Past midnight: the evening part today, or the morning tail of yesterday's range.
                (range.days & today != 0 && minute >= range.start_minute)
                    || (range.days & yesterday != 0 && minute < range.end_minute)
            }
        })
    }
}

fn weekday_bit(day: Weekday) -> u8 {
    1 << day.to_monday_zero_offset()
}

fn parse_open(entry: &str) -> Result<OpenRange, String> {
    let (days, times) = entry
        .trim()
        .split_once(char::is_whitespace)
        .ok_or("expected \"DAYS HH:MM-HH:MM\"")?;
    let days = parse_days(days)?;
    let (start, end) = times
        .trim()
        .split_once('-')
        .ok_or("expected a time range HH:MM-HH:MM")?;
    let start_minute = parse_minute(start)?;
    let end_minute = parse_minute(end)?;
    if start_minute == end_minute {
        return Err("the range is empty (start equals end)".into());
    }
    if start_minute == 24 * 60 {
        return Err("a range cannot start at 24:00".into());
    }
    Ok(OpenRange {
        days,
        start_minute,
        end_minute: if end_minute == 24 * 60 && start_minute > 0 {
            24 * 60
        } else {
            end_minute
        },
    })
}

fn parse_days(text: &str) -> Result<u8, String> {
    if text.eq_ignore_ascii_case("daily") {
        return Ok(0x7f);
    }
    let mut days = 0u8;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let from = parse_day(from)?;
                let to = parse_day(to)?;
                let mut day = from;
                loop {
                    days |= 1 << day;
                    if day == to {
                        break;
                    }
                    day = (day + 1) % 7;
                }
            }
            None => days |= 1 << parse_day(part)?,
        }
    }
    Ok(days)
}

fn parse_day(text: &str) -> Result<u8, String> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let lower = text.trim().to_ascii_lowercase();
    NAMES
        .iter()
        .position(|name| lower.starts_with(name) && lower.len() <= 9)
        .and_then(|index| u8::try_from(index).ok())
        .ok_or_else(|| format!("unknown day {text:?} (mon..sun, ranges like mon-fri, or daily)"))
}

fn parse_minute(text: &str) -> Result<u16, String> {
    let text = text.trim();
    if text == "24:00" {
        return Ok(24 * 60);
    }
    let time: Time = text
        .parse()
        .map_err(|_| format!("{text:?} is not a time HH:MM"))?;
    Ok(u16::from(time.hour().unsigned_abs()) * 60 + u16::from(time.minute().unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("valid timestamp in test")
    }

    fn office() -> Schedule {
        Schedule::parse(
            "Europe/Stockholm",
            &[
                "mon-fri 08:00-17:00".into(),
                "sat 10:00-14:00".into(),
                "sun 22:00-02:00".into(),
            ],
            &["2026-12-24".into()],
        )
        .expect("valid schedule")
    }

    #[test]
    fn weekday_hours_in_local_time() {
        let schedule = office();
        // Monday 2026-11-23: Stockholm is UTC+1 in winter.
        assert!(!schedule.is_open(at("2026-11-23T06:59:00Z")), "07:59 local");
        assert!(schedule.is_open(at("2026-11-23T07:00:00Z")), "08:00 local");
        assert!(schedule.is_open(at("2026-11-23T15:59:00Z")), "16:59 local");
        assert!(
            !schedule.is_open(at("2026-11-23T16:00:00Z")),
            "17:00 local is closed"
        );
        // Saturday 2026-11-28.
        assert!(schedule.is_open(at("2026-11-28T09:30:00Z")), "10:30 local");
        assert!(!schedule.is_open(at("2026-11-28T13:00:00Z")), "14:00 local");
    }

    #[test]
    fn daylight_saving_is_followed() {
        let schedule = office();
        // Monday 2026-06-01: Stockholm is UTC+2 in summer, so 08:00 local is 06:00 UTC.
        assert!(schedule.is_open(at("2026-06-01T06:00:00Z")));
        assert!(!schedule.is_open(at("2026-06-01T05:59:00Z")));
    }

    #[test]
    fn overnight_ranges_and_closed_dates() {
        let schedule = office();
        // Sunday 2026-11-29 23:00 local, and Monday 01:30 local (tail of Sunday's range).
        assert!(schedule.is_open(at("2026-11-29T22:00:00Z")));
        assert!(schedule.is_open(at("2026-11-30T00:30:00Z")));
        assert!(!schedule.is_open(at("2026-11-30T01:00:00Z")), "02:00 local");
        // Thursday 2026-12-24 is closed all day.
        assert!(!schedule.is_open(at("2026-12-24T10:00:00Z")));
        assert!(schedule.is_open(at("2026-12-23T10:00:00Z")));
    }

    #[test]
    fn day_sets() {
        assert_eq!(parse_days("mon-fri"), Ok(0b001_1111));
        assert_eq!(parse_days("fri-mon"), Ok(0b111_0001));
        assert_eq!(parse_days("mon,wed,sun"), Ok(0b100_0101));
        assert_eq!(parse_days("daily"), Ok(0x7f));
        assert!(parse_days("funday").is_err());
    }

    #[test]
    fn errors_name_the_entry() {
        let error = Schedule::parse("Mars/Olympus", &[], &[]).expect_err("bad tz");
        assert!(error.to_string().contains("Mars/Olympus"));
        let error = Schedule::parse("UTC", &["mon 9-17".into()], &[]).expect_err("bad time");
        assert_eq!(
            error.to_string(),
            "open[0] = \"mon 9-17\": \"9\" is not a time HH:MM"
        );
        let error = Schedule::parse("UTC", &["mon 09:00-09:00".into()], &[]).expect_err("empty");
        assert!(error.to_string().contains("empty"));
        let error = Schedule::parse("UTC", &[], &["24/12".into()]).expect_err("bad date");
        assert!(error.to_string().starts_with("closed_dates[0]"));
        let always = Schedule::parse("UTC", &["daily 00:00-24:00".into()], &[]).expect("valid");
        assert!(always.is_open(at("2026-11-23T23:59:59Z")));
        assert!(always.is_open(at("2026-11-23T00:00:00Z")));
    }
}
