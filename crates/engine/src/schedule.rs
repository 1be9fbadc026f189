//! Business-hours schedules: `[schedules.NAME]` in TOML, evaluated at the moment a call arrives.
//!
//! ```toml
//! [schedules.office]
//! timezone = "Europe/Stockholm"
//! open = ["mon-fri 08:00-17:00", "sat 10:00-14:00", "sun 22:00-02:00"]
//! closed_dates = ["2026-12-24..2026-12-26", "2027-01-01"]
//! open_dates = ["2026-12-27 10:00-14:00", "2026-12-28..2026-12-30 09:00-12:00"]
//! ```
//!
//! An `open` entry is a day set and a time range. Days are `mon`..`sun`, ranges (`mon-fri`, which
//! may wrap: `fri-mon`), comma lists (`mon,wed,fri`) or `daily`. Times are `HH:MM` in the schedule's
//! timezone (the IANA database is compiled in, so daylight-saving changes need no system files);
//! `24:00` ends at midnight; an end before the start runs past midnight into the next day (the hours
//! after midnight belong to the day the range started).
//!
//! A `closed_dates` entry is a date `YYYY-MM-DD` or an inclusive range `FIRST..LAST`; each of those
//! days is closed for the whole calendar day, including the after-midnight tail of a weekly range
//! that started the day before it.
//!
//! An `open_dates` entry (an exceptional opening) is a date or an inclusive date range, a space,
//! then a time range with the same rules as `open` (on each of those dates; an overnight range's
//! tail belongs to the date it started on). Exceptions win: inside one the schedule is open even on
//! a closed date or outside the weekly hours. Outside them the weekly hours and closed dates apply
//! as usual (an exception never closes anything).
//!
//! A wall-clock time that daylight saving skips or repeats is judged by the local time the instant
//! shows, so a range `02:00-03:00` is simply shorter (or longer) on those nights.

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

/// A parsed, validated schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    timezone: TimeZone,
    open: Vec<OpenRange>,
    closed_dates: Vec<DateRange>,
    open_dates: Vec<ExceptionalOpening>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenRange {
    /// Bit n set = open on the weekday `n` days after Monday.
    days: u8,
    times: TimeRange,
}

/// Minutes since local midnight; `end_minute < start_minute` runs past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeRange {
    start_minute: u16,
    end_minute: u16,
}

/// Inclusive on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DateRange {
    first: Date,
    last: Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ExceptionalOpening {
    dates: DateRange,
    times: TimeRange,
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
    #[error("closed_dates[{index}] = {entry:?}: {reason}")]
    ClosedDate {
        index: usize,
        entry: String,
        reason: String,
    },
    #[error("open_dates[{index}] = {entry:?}: {reason}")]
    OpenDate {
        index: usize,
        entry: String,
        reason: String,
    },
}

impl Schedule {
    /// A schedule without exceptional openings; see [`Schedule::parse_with_exceptions`].
    pub fn parse(
        timezone: &str,
        open: &[String],
        closed_dates: &[String],
    ) -> Result<Self, ScheduleError> {
        Self::parse_with_exceptions(timezone, open, closed_dates, &[])
    }

    /// Parses a whole schedule: `timezone` (IANA name), weekly `open` periods, `closed_dates`
    /// (dates or `FIRST..LAST` ranges) and `open_dates` (exceptional openings, which win over
    /// closed dates). The first bad entry is the error.
    pub fn parse_with_exceptions(
        timezone: &str,
        open: &[String],
        closed_dates: &[String],
        open_dates: &[String],
    ) -> Result<Self, ScheduleError> {
        let timezone =
            TimeZone::get(timezone).map_err(|_| ScheduleError::Timezone(timezone.to_string()))?;
        let open = parse_entries(open, parse_open, |index, entry, reason| {
            ScheduleError::Open {
                index,
                entry,
                reason,
            }
        })?;
        let closed_dates =
            parse_entries(closed_dates, parse_date_range, |index, entry, reason| {
                ScheduleError::ClosedDate {
                    index,
                    entry,
                    reason,
                }
            })?;
        let open_dates = parse_entries(open_dates, parse_exception, |index, entry, reason| {
            ScheduleError::OpenDate {
                index,
                entry,
                reason,
            }
        })?;
        Ok(Self {
            timezone,
            open,
            closed_dates,
            open_dates,
        })
    }

    /// Whether the schedule is open at an instant.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = at.to_zoned(self.timezone.clone());
        let date = local.date();
        let minute =
            u16::from(local.hour().unsigned_abs()) * 60 + u16::from(local.minute().unsigned_abs());
        // The day before `date`; `None` only on jiff's first representable day.
        let yesterday = date.yesterday().ok();
        let in_exception = self.open_dates.iter().any(|exception| {
            exception.times.covers(
                minute,
                exception.dates.contains(date),
                yesterday.is_some_and(|day| exception.dates.contains(day)),
            )
        });
        if in_exception {
            return true;
        }
        if self.closed_dates.iter().any(|range| range.contains(date)) {
            return false;
        }
        let today_bit = weekday_bit(date.weekday());
        let yesterday_bit = weekday_bit(date.weekday().previous());
        self.open.iter().any(|range| {
            range.times.covers(
                minute,
                range.days & today_bit != 0,
                range.days & yesterday_bit != 0,
            )
        })
    }
}

impl TimeRange {
    /// Whether `minute` of a day is inside this range, given whether the range applies to that
    /// day (`today`) and to the day before (`yesterday`, for the after-midnight tail).
    fn covers(self, minute: u16, today: bool, yesterday: bool) -> bool {
        if self.start_minute < self.end_minute {
            today && (self.start_minute..self.end_minute).contains(&minute)
        } else {
            // Past midnight: the evening part today, or the morning tail of yesterday's range.
            (today && minute >= self.start_minute) || (yesterday && minute < self.end_minute)
        }
    }
}

impl DateRange {
    fn contains(self, date: Date) -> bool {
        self.first <= date && date <= self.last
    }
}

fn parse_entries<T>(
    entries: &[String],
    parse: fn(&str) -> Result<T, String>,
    error: fn(usize, String, String) -> ScheduleError,
) -> Result<Vec<T>, ScheduleError> {
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| parse(entry).map_err(|reason| error(index, entry.clone(), reason)))
        .collect()
}

fn weekday_bit(day: Weekday) -> u8 {
    1 << day.to_monday_zero_offset()
}

fn parse_open(entry: &str) -> Result<OpenRange, String> {
    let (days, times) = entry
        .trim()
        .split_once(char::is_whitespace)
        .ok_or("expected \"DAYS HH:MM-HH:MM\"")?;
    Ok(OpenRange {
        days: parse_days(days)?,
        times: parse_time_range(times)?,
    })
}

fn parse_exception(entry: &str) -> Result<ExceptionalOpening, String> {
    let (dates, times) = entry
        .trim()
        .split_once(char::is_whitespace)
        .ok_or("expected \"YYYY-MM-DD HH:MM-HH:MM\" or \"YYYY-MM-DD..YYYY-MM-DD HH:MM-HH:MM\"")?;
    Ok(ExceptionalOpening {
        dates: parse_date_range(dates)?,
        times: parse_time_range(times)?,
    })
}

fn parse_date_range(text: &str) -> Result<DateRange, String> {
    let text = text.trim();
    let (first, last) = match text.split_once("..") {
        Some((first, last)) => (parse_date(first)?, parse_date(last)?),
        None => {
            let date = parse_date(text)?;
            (date, date)
        }
    };
    if last < first {
        return Err(format!(
            "the range ends ({last}) before it starts ({first})"
        ));
    }
    Ok(DateRange { first, last })
}

fn parse_date(text: &str) -> Result<Date, String> {
    let text = text.trim();
    // jiff also reads longer ISO 8601 forms; a schedule entry is a plain calendar date.
    let plain = has_shape(text, "0000-00-00");
    if !plain {
        return Err(format!("{text:?} is not a YYYY-MM-DD date"));
    }
    text.parse()
        .map_err(|_| format!("{text:?} is not a valid date"))
}

/// Whether `text` is `shape` with each `0` standing for any ASCII digit.
fn has_shape(text: &str, shape: &str) -> bool {
    text.len() == shape.len()
        && text.bytes().zip(shape.bytes()).all(|(byte, expected)| {
            if expected == b'0' {
                byte.is_ascii_digit()
            } else {
                byte == expected
            }
        })
}

fn parse_time_range(text: &str) -> Result<TimeRange, String> {
    let (start, end) = text
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
    Ok(TimeRange {
        start_minute,
        end_minute,
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
    // jiff also reads `10`, `1000` and seconds; a schedule entry is exactly `HH:MM`.
    let time: Time = Some(text)
        .filter(|text| has_shape(text, "00:00"))
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("{text:?} is not a time HH:MM"))?;
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

    fn holidays() -> Schedule {
        Schedule::parse_with_exceptions(
            "Europe/Stockholm",
            &["mon-fri 08:00-17:00".into(), "sun 22:00-02:00".into()],
            &["2026-12-24..2026-12-26".into(), "2026-12-28".into()],
            &[
                "2026-12-25 10:00-14:00".into(),
                "2026-12-27 10:00-14:00".into(),
                "2026-12-30..2026-12-31 18:00-20:00".into(),
            ],
        )
        .expect("valid schedule")
    }

    #[test]
    fn closed_date_ranges_are_inclusive() {
        let schedule = holidays();
        // Wed 2026-12-23 open; Thu 24 and Fri 25 (outside the exception) closed; Mon 28 closed.
        assert!(schedule.is_open(at("2026-12-23T09:00:00Z")), "10:00 local");
        assert!(!schedule.is_open(at("2026-12-24T09:00:00Z")), "first day");
        assert!(!schedule.is_open(at("2026-12-25T07:30:00Z")), "middle day");
        assert!(!schedule.is_open(at("2026-12-28T09:00:00Z")), "single date");
        assert!(
            schedule.is_open(at("2026-12-29T09:00:00Z")),
            "after the range"
        );
        // The tail after midnight of Sunday 27's range falls on the closed Monday 28.
        assert!(schedule.is_open(at("2026-12-27T22:00:00Z")), "Sun 23:00");
        assert!(!schedule.is_open(at("2026-12-28T00:30:00Z")), "Mon 01:30");
    }

    #[test]
    fn exceptions_beat_closed_dates_and_weekly_hours() {
        let schedule = holidays();
        // Fri 25 is closed, but open 10:00-14:00 local (09:00-13:00 UTC).
        assert!(!schedule.is_open(at("2026-12-25T08:59:00Z")), "09:59 local");
        assert!(schedule.is_open(at("2026-12-25T09:00:00Z")), "10:00 local");
        assert!(schedule.is_open(at("2026-12-25T12:59:00Z")), "13:59 local");
        assert!(!schedule.is_open(at("2026-12-25T13:00:00Z")), "14:00 local");
        // Sun 27 has no weekly daytime hours, but the exception opens it.
        assert!(schedule.is_open(at("2026-12-27T11:00:00Z")), "Sunday 12:00");
        assert!(
            !schedule.is_open(at("2026-12-27T14:00:00Z")),
            "Sunday 15:00"
        );
        // A range of exceptions adds evening hours on Wed 30 and Thu 31, not on Tue 29.
        assert!(schedule.is_open(at("2026-12-30T17:30:00Z")), "Wed 18:30");
        assert!(schedule.is_open(at("2026-12-31T18:59:00Z")), "Thu 19:59");
        assert!(!schedule.is_open(at("2026-12-31T19:00:00Z")), "Thu 20:00");
        assert!(!schedule.is_open(at("2026-12-29T17:30:00Z")), "Tue 18:30");
        // Exceptions never close: the weekly hours of those days still hold.
        assert!(schedule.is_open(at("2026-12-30T09:00:00Z")), "Wed 10:00");
    }

    #[test]
    fn overnight_exception_tail_belongs_to_its_date() {
        let schedule = Schedule::parse_with_exceptions(
            "UTC",
            &[],
            &["2026-12-24..2026-12-25".into()],
            &["2026-12-24 22:00-02:00".into()],
        )
        .expect("valid");
        assert!(!schedule.is_open(at("2026-12-24T21:59:00Z")));
        assert!(schedule.is_open(at("2026-12-24T22:00:00Z")));
        assert!(
            schedule.is_open(at("2026-12-25T01:59:00Z")),
            "tail on a closed date"
        );
        assert!(!schedule.is_open(at("2026-12-25T02:00:00Z")));
        assert!(
            !schedule.is_open(at("2026-12-23T01:00:00Z")),
            "no tail the day before"
        );
    }

    #[test]
    fn daylight_saving_nights() {
        // Stockholm springs forward on Sun 2026-03-29 at 02:00 (01:00 UTC) and falls back on
        // Sun 2026-10-25 at 03:00 (01:00 UTC).
        let schedule = Schedule::parse_with_exceptions(
            "Europe/Stockholm",
            &["sun 02:00-03:00".into(), "daily 12:00-13:00".into()],
            &["2026-03-30..2026-04-01".into()],
            &["2026-03-29 01:00-04:00".into()],
        )
        .expect("valid");
        // Spring: 01:59 CET, then 03:00 CEST: the exception is two real hours long.
        assert!(!schedule.is_open(at("2026-03-28T23:59:00Z")), "00:59 CET");
        assert!(schedule.is_open(at("2026-03-29T00:59:00Z")), "01:59 CET");
        assert!(schedule.is_open(at("2026-03-29T01:00:00Z")), "03:00 CEST");
        assert!(!schedule.is_open(at("2026-03-29T02:00:00Z")), "04:00 CEST");
        // A closed range after the change is in summer time: noon local is 10:00 UTC.
        assert!(!schedule.is_open(at("2026-03-31T10:30:00Z")));
        assert!(schedule.is_open(at("2026-04-02T10:30:00Z")));
        assert!(!schedule.is_open(at("2026-04-02T11:30:00Z")), "13:30 CEST");
        // Autumn: 02:00-03:00 happens twice, so the weekly range is open two real hours.
        assert!(!schedule.is_open(at("2026-10-24T23:59:00Z")), "01:59 CEST");
        assert!(schedule.is_open(at("2026-10-25T00:00:00Z")), "02:00 CEST");
        assert!(schedule.is_open(at("2026-10-25T01:30:00Z")), "02:30 CET");
        assert!(!schedule.is_open(at("2026-10-25T02:00:00Z")), "03:00 CET");
    }

    #[test]
    fn date_and_exception_errors_name_the_entry() {
        let parse = |closed: &[&str], open_dates: &[&str]| {
            let closed: Vec<String> = closed.iter().map(|entry| entry.to_string()).collect();
            let open_dates: Vec<String> =
                open_dates.iter().map(|entry| entry.to_string()).collect();
            Schedule::parse_with_exceptions("UTC", &[], &closed, &open_dates)
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            parse(&["2026-12-24", "2026-12-26..2026-12-24"], &[]),
            "closed_dates[1] = \"2026-12-26..2026-12-24\": \
             the range ends (2026-12-24) before it starts (2026-12-26)"
        );
        assert_eq!(
            parse(&["2026-12-24..soon"], &[]),
            "closed_dates[0] = \"2026-12-24..soon\": \"soon\" is not a YYYY-MM-DD date"
        );
        assert_eq!(
            parse(&["2026-02-30"], &[]),
            "closed_dates[0] = \"2026-02-30\": \"2026-02-30\" is not a valid date"
        );
        assert_eq!(
            parse(&[], &["2026-12-27 10:00-14:00", "2026-12-27"]),
            "open_dates[1] = \"2026-12-27\": expected \"YYYY-MM-DD HH:MM-HH:MM\" or \
             \"YYYY-MM-DD..YYYY-MM-DD HH:MM-HH:MM\""
        );
        assert_eq!(
            parse(&[], &["2026-12-27 10-14"]),
            "open_dates[0] = \"2026-12-27 10-14\": \"10\" is not a time HH:MM"
        );
        assert_eq!(
            parse(&[], &["27/12 10:00-14:00"]),
            "open_dates[0] = \"27/12 10:00-14:00\": \"27/12\" is not a YYYY-MM-DD date"
        );
        assert!(parse(&[], &["2026-12-27 10:00-10:00"]).contains("empty"));
        assert!(parse(&[], &["2026-12-27 10:00-14:00:00"]).contains("not a time"));
        assert!(parse(&[], &["2026-12-27 10:00-25:00"]).contains("not a time"));
        // `parse` is `parse_with_exceptions` without exceptions.
        let plain = Schedule::parse("UTC", &[], &["2026-12-24..2026-12-26".into()]);
        assert!(plain.is_ok());
    }
}
