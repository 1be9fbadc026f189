//! The rules of a launch request, checked all at once (every problem with its path).
//!
//! | field | rule |
//! |---|---|
//! | `messages` | at least one; at most 20,000 destinations in the whole request |
//! | `bulkId`, `destinations[].messageId` | 1–100 characters (generated when absent) |
//! | `scenarioId` | an existing scenario (checked by the handler) |
//! | `from` | 3–14 digits |
//! | `destinations[].to` | E.164 digits (`+` optional, 3–15 digits, no leading 0), else that destination is REJECTED |
//! | `notifyUrl` | `http://` or `https://` |
//! | `notifyContentType` | `application/json` (default) or `application/xml` |
//! | `notifyContentVersion` | 2 (the v2 model; 1 is deprecated and not offered) |
//! | `callbackData` | at most 200 characters |
//! | `validityPeriod` | minutes, at least 1; above 48 h it is set to 48 h (default 48 h) |
//! | `sendAt` | an RFC 3339 time (`2026-11-23T10:00:00Z`, `+01:00` or `+0100`); past: now |
//! | `retry` | `minPeriod`, `maxPeriod` ≥ 1 min, min ≤ max; `maxPeriod` off the ladder is rounded up (24 h at most); `maxCount` ≥ 0, above 4 set to 4 |
//! | `ringTimeout` | 1–300 s, default 45 |
//! | `sendingSpeed` | `speed` 1–100,000 per `timeUnit` (`SECOND`, `MINUTE` (default), `HOUR`, `DAY`) |
//! | `parameters` | strings, numbers or booleans, under names that are not read-only variables |
//! | `pause` | 0–10 s |
//! | `deliveryTimeWindow` | `days` (at least one), `from`/`to` `{hour, minute}` UTC (default 00:00–24:00), at least one hour apart |
//! | `callTimeout` | 1–86,400 s |

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use ivory_engine::dialer::{self, LaunchPolicy, RetryPolicy, SendingSpeed};

use super::error::{ApiError, Problem};
use super::launch::{LaunchRequest, MessageRequest, window};
use super::scenarios::new_id;
use crate::storage::report::Rejection;
use crate::storage::{CallOptions, NewDestination, NewLaunch, NewLaunchGroup, NotifyTarget};

pub const MAXIMUM_DESTINATIONS: usize = 20_000;
const MAXIMUM_CALLBACK_DATA: usize = 200;
const MAXIMUM_ID_LENGTH: usize = 100;
const MAXIMUM_VALIDITY_MINUTES: i64 = 48 * 60;
const DEFAULT_RING_TIMEOUT: u32 = 45;

/// Checks and normalises a launch; `raw` is the request as received, `now` the acceptance.
pub(super) fn check(request: LaunchRequest, raw: String, now: i64) -> Result<NewLaunch, ApiError> {
    let mut problems = Vec::new();
    if request.messages.is_empty() {
        problems.push(Problem::new("messages", "at least one message is required"));
    }
    let total: usize = request.messages.iter().map(|m| m.destinations.len()).sum();
    if total > MAXIMUM_DESTINATIONS {
        problems.push(Problem::new(
            "messages",
            format!(
                "at most {MAXIMUM_DESTINATIONS} destinations per request; this one has {total}"
            ),
        ));
    }
    let bulk_id = match request.bulk_id {
        Some(id) => {
            check_id(&mut problems, "bulkId", &id);
            id
        }
        None => new_id(),
    };
    let mut seen_ids = HashSet::new();
    let mut groups = Vec::with_capacity(request.messages.len());
    for (index, message) in request.messages.into_iter().enumerate() {
        let path = format!("messages[{index}]");
        if message.destinations.is_empty() {
            problems.push(Problem::new(
                format!("{path}.destinations"),
                "at least one destination is required",
            ));
        }
        if let Some(group) = check_message(
            &mut problems,
            &path,
            &bulk_id,
            index,
            message,
            now,
            &mut seen_ids,
        ) {
            groups.push(group);
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::BadRequest { problems });
    }
    Ok(NewLaunch {
        bulk_id,
        request: raw,
        accepted_at: now,
        groups,
    })
}

fn check_message(
    problems: &mut Vec<Problem>,
    path: &str,
    bulk_id: &str,
    index: usize,
    message: MessageRequest,
    now: i64,
    seen_ids: &mut HashSet<String>,
) -> Option<NewLaunchGroup> {
    let before = problems.len();
    let mut problem = |field: &str, text: String| {
        problems.push(Problem::new(format!("{path}.{field}"), text));
    };
    if let Some(from) = &message.from
        && (!(3..=14).contains(&from.len()) || !from.bytes().all(|b| b.is_ascii_digit()))
    {
        problem("from", "must be 3 to 14 digits".into());
    }
    let notify_url = message.notify_url.filter(|url| !url.is_empty());
    if let Some(url) = &notify_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        problem("notifyUrl", "must be an http:// or https:// URL".into());
    }
    let content_type = match message.notify_content_type.as_deref() {
        None => "application/json".to_string(),
        Some(kind) if kind.eq_ignore_ascii_case("application/json") => "application/json".into(),
        Some(kind) if kind.eq_ignore_ascii_case("application/xml") => "application/xml".into(),
        Some(_) => {
            problem(
                "notifyContentType",
                "must be application/json or application/xml".into(),
            );
            String::new()
        }
    };
    match message.notify_content_version {
        None | Some(2) => {}
        Some(1) => problem(
            "notifyContentVersion",
            "version 1 is deprecated and not supported; use 2".into(),
        ),
        Some(_) => problem("notifyContentVersion", "must be 2".into()),
    }
    if let Some(data) = &message.callback_data
        && data.chars().count() > MAXIMUM_CALLBACK_DATA
    {
        problem(
            "callbackData",
            format!("at most {MAXIMUM_CALLBACK_DATA} characters"),
        );
    }
    let validity_minutes = match message.validity_period {
        None => MAXIMUM_VALIDITY_MINUTES,
        Some(minutes) if minutes < 1 => {
            problem("validityPeriod", "must be at least 1 minute".into());
            1
        }
        // Longer than 48 h is set to 48 h, as Infobip documents.
        Some(minutes) => minutes.min(MAXIMUM_VALIDITY_MINUTES),
    };
    let send_at = match message.send_at.as_deref().map(parse_time) {
        None => None,
        Some(Ok(at)) => Some(at),
        Some(Err(text)) => {
            problem("sendAt", text);
            None
        }
    };
    let retry = message.retry.as_ref().and_then(|retry| {
        let minutes =
            |value: i64| u32::try_from(value).unwrap_or(if value < 0 { 0 } else { u32::MAX });
        if retry.max_count < 0 {
            problem("retry.maxCount", "must be 0 or more".into());
            return None;
        }
        RetryPolicy::new(
            minutes(retry.min_period),
            minutes(retry.max_period),
            minutes(retry.max_count),
        )
        .map_err(|error| problem("retry", error.to_string()))
        .ok()
    });
    let ring_timeout = in_range(&mut problem, "ringTimeout", message.ring_timeout, 1, 300)
        .unwrap_or(DEFAULT_RING_TIMEOUT);
    let call_timeout = in_range(&mut problem, "callTimeout", message.call_timeout, 1, 86_400);
    let pause = in_range(&mut problem, "pause", message.pause, 0, 10).unwrap_or(0);
    let speed = message.sending_speed.as_ref().and_then(|speed| {
        in_range(
            &mut problem,
            "sendingSpeed.speed",
            Some(speed.speed),
            1,
            100_000,
        )
        .map(|calls| SendingSpeed {
            speed: calls,
            time_unit: speed.time_unit.unwrap_or_default(),
        })
    });
    let window = message.delivery_time_window.as_ref().and_then(|request| {
        window(request)
            .map_err(|text| problem("deliveryTimeWindow", text))
            .ok()
    });
    let mut parameters = BTreeMap::new();
    for (name, value) in message.parameters.unwrap_or_default() {
        if name.is_empty() || ivory_scenario::READ_ONLY_VARIABLES.contains(&name.as_str()) {
            problem(
                &format!("parameters.{name}"),
                "not a name a launch may set (empty or read-only)".into(),
            );
        }
        parameters.insert(name, value.into_text());
    }
    let mut destinations = Vec::with_capacity(message.destinations.len());
    for (position, destination) in message.destinations.into_iter().enumerate() {
        let message_id = match destination.message_id {
            Some(id) => {
                if id.is_empty() || id.chars().count() > MAXIMUM_ID_LENGTH {
                    problem(
                        &format!("destinations[{position}].messageId"),
                        format!("must be 1 to {MAXIMUM_ID_LENGTH} characters"),
                    );
                }
                id
            }
            None => new_id(),
        };
        let rejected = if !seen_ids.insert(message_id.clone()) {
            Some(Rejection::DuplicateMessageId)
        } else if !is_e164(&destination.to) {
            Some(Rejection::InvalidDestination)
        } else {
            None
        };
        destinations.push(NewDestination {
            message_id,
            to: destination.to.trim_start_matches('+').to_string(),
            rejected,
        });
    }
    if problems.len() > before {
        return None;
    }
    let accepted = dialer::from_unix_millis(now);
    let first = dialer::first_attempt_at(accepted, send_at);
    let validity = Duration::from_secs(u64::try_from(validity_minutes).unwrap_or(0) * 60);
    Some(NewLaunchGroup {
        launch_key: format!("{bulk_id}#{index}"),
        scenario_id: message.scenario_id,
        from: message.from,
        policy: LaunchPolicy {
            window,
            speed,
            retry,
        },
        call_options: CallOptions {
            ring_timeout_seconds: ring_timeout,
            call_timeout_seconds: call_timeout,
            pause_seconds: pause,
            record: message.record.unwrap_or(false),
        },
        parameters,
        callback_data: message.callback_data,
        notify: notify_url.map(|url| NotifyTarget { url, content_type }),
        first_attempt_at: first.as_millisecond(),
        expires_at: dialer::expiry(first, validity).as_millisecond(),
        destinations,
    })
}

fn check_id(problems: &mut Vec<Problem>, path: &str, id: &str) {
    if id.is_empty() || id.chars().count() > MAXIMUM_ID_LENGTH {
        problems.push(Problem::new(
            path,
            format!("must be 1 to {MAXIMUM_ID_LENGTH} characters"),
        ));
    }
}

fn in_range(
    problem: &mut impl FnMut(&str, String),
    field: &str,
    value: Option<i64>,
    minimum: i64,
    maximum: i64,
) -> Option<u32> {
    let value = value?;
    if (minimum..=maximum).contains(&value) {
        u32::try_from(value).ok()
    } else {
        problem(field, format!("must be {minimum} to {maximum}"));
        None
    }
}

/// E.164: an optional `+`, then 3 to 15 digits, the first not 0.
pub fn is_e164(to: &str) -> bool {
    let digits = to.strip_prefix('+').unwrap_or(to);
    (3..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// An RFC 3339 time, also with Infobip's `+0000` offsets.
fn parse_time(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at);
    }
    jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%.f%z", text)
        .or_else(|_| jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%z", text))
        .map_err(|_| format!("{text:?} is not a date-time such as 2026-11-23T10:00:00.000+0000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers() {
        for good in ["41793026727", "+46700000000", "123", "123456789012345"] {
            assert!(is_e164(good), "{good}");
        }
        for bad in [
            "",
            "12",
            "0123456",
            "1234567890123456",
            "+",
            "4670 000",
            "sip:x",
            "46-70",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn times_in_both_offset_forms() {
        let expected: jiff::Timestamp = "2026-11-23T10:00:00Z".parse().expect("time");
        assert_eq!(parse_time("2026-11-23T10:00:00Z"), Ok(expected));
        assert_eq!(parse_time("2026-11-23T11:00:00+01:00"), Ok(expected));
        assert_eq!(parse_time("2026-11-23T10:00:00.000+0000"), Ok(expected));
        assert_eq!(parse_time("2026-11-23T12:00:00+0200"), Ok(expected));
        assert!(parse_time("tomorrow").is_err());
    }
}
