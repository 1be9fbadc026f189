//! The delivery report, Infobip's v2 model, built once when a destination becomes final,
//! and its XML rendering for `notifyContentType: application/xml`.
//!
//! ```json
//! {"bulkId": "...", "messageId": "...", "from": "...", "to": "...",
//!  "sentAt": "...", "doneAt": "...", "callbackData": "...", "attempts": 2,
//!  "voiceCall": {"feature": "Voice-IVR", "startTime": "...", "answerTime": "...", "endTime": "...",
//!                "duration": 12, "dtmfCodes": "1,2",
//!                "ivr": {"scenarioId": "...", "scenarioName": "...", "collectedDtmfs": "{\"choice\":\"1\"}",
//!                        "collectedMappedDtmfs": null, "spokenInput": null, "matchedSpokenInput": null}},
//!  "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET", "description": "..."},
//!  "error": {"groupId": 0, "groupName": "OK", "id": 5000, "name": "VOICE_ANSWERED", "description": "...", "permanent": true}}
//! ```
//!
//! Times are `yyyy-MM-dd'T'HH:mm:ss.SSS+0000` (UTC), as Infobip writes them. `attempts` is an
//! ivory extension. Error ids 5000 (answered by a person) and 5003 (no answer) are Infobip's;
//! the other 500x ids name ivory's outcomes (busy 5002, declined 5004, failed 5005, stopped
//! during the call 5006, validity expired 5007).

use std::collections::BTreeMap;

use ivory_engine::dialer::{AttemptOutcome, FinalStatus};
use serde_json::{Value, json};

/// What a call produced for its report (all optional: an unanswered call has none of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallSummary {
    pub call_id: Option<String>,
    pub scenario_name: Option<String>,
    /// Every digit pressed, in order, e.g. `"1,2"`.
    pub dtmf_codes: Option<String>,
    /// Collected variables (as reported: masked ones masked, NEVER ones absent).
    pub collected_dtmfs: BTreeMap<String, String>,
    pub collected_mapped_dtmfs: BTreeMap<String, String>,
    pub spoken_input: Option<String>,
    pub matched_spoken_input: Option<String>,
}

/// The facts a report is built from.
#[derive(Debug, Clone)]
pub struct ReportFacts<'a> {
    pub bulk_id: &'a str,
    pub message_id: &'a str,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub scenario_id: Option<&'a str>,
    pub callback_data: Option<&'a str>,
    pub status: FinalStatus,
    /// Why it was rejected (REJECTED only), e.g. "invalid destination address".
    pub rejection: Option<Rejection>,
    pub attempts: u32,
    /// The last attempt's outcome, if there was an attempt.
    pub last_outcome: Option<AttemptOutcome>,
    pub sip_code: Option<u16>,
    pub first_started_at: Option<i64>,
    pub started_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub done_at: i64,
    pub summary: &'a CallSummary,
}

/// Why a destination was rejected at launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    InvalidDestination,
    DuplicateMessageId,
}

/// The v2 report object.
pub fn build(facts: &ReportFacts<'_>) -> Value {
    let duration = match (facts.answered_at, facts.ended_at) {
        (Some(answered), Some(ended)) => (ended - answered).max(0) / 1_000,
        _ => 0,
    };
    let as_json_text = |map: &BTreeMap<String, String>| {
        (!map.is_empty()).then(|| serde_json::to_string(map).unwrap_or_default())
    };
    json!({
        "bulkId": facts.bulk_id,
        "messageId": facts.message_id,
        "from": facts.from,
        "to": facts.to,
        "sentAt": facts.first_started_at.map(format_time).unwrap_or_else(|| format_time(facts.done_at)),
        "doneAt": format_time(facts.done_at),
        "callbackData": facts.callback_data,
        "attempts": facts.attempts,
        "voiceCall": {
            "feature": "Voice-IVR",
            "startTime": facts.started_at.map(format_time),
            "answerTime": facts.answered_at.map(format_time),
            "endTime": facts.ended_at.map(format_time),
            "duration": duration,
            "dtmfCodes": facts.summary.dtmf_codes,
            "sipCode": facts.sip_code,
            "ivr": {
                "scenarioId": facts.scenario_id,
                "scenarioName": facts.summary.scenario_name,
                "collectedDtmfs": as_json_text(&facts.summary.collected_dtmfs),
                "collectedMappedDtmfs": as_json_text(&facts.summary.collected_mapped_dtmfs),
                "spokenInput": facts.summary.spoken_input,
                "matchedSpokenInput": facts.summary.matched_spoken_input,
            },
        },
        "status": status_object(facts.status, facts.rejection),
        "error": error_object(facts),
    })
}

/// The `status` object of a PENDING_ACCEPTED destination (launch answers, logs).
pub fn pending_status() -> Value {
    json!({"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED",
           "description": "Message accepted, pending for delivery"})
}

fn status_object(status: FinalStatus, rejection: Option<Rejection>) -> Value {
    let (group_id, group, id, name, description) = match (status, rejection) {
        (FinalStatus::Delivered, _) => (
            3,
            "DELIVERED",
            5,
            "DELIVERED_TO_HANDSET",
            "Message delivered to handset",
        ),
        (FinalStatus::Undeliverable, _) => (
            2,
            "UNDELIVERABLE",
            9,
            "UNDELIVERABLE_NOT_DELIVERED",
            "Message sent, not delivered",
        ),
        (FinalStatus::Expired, _) => (4, "EXPIRED", 15, "EXPIRED_EXPIRED", "Message expired"),
        (FinalStatus::Rejected, Some(Rejection::DuplicateMessageId)) => (
            5,
            "REJECTED",
            23,
            "REJECTED_DUPLICATE_MESSAGE_ID",
            "Rejected: the messageId is already used",
        ),
        (FinalStatus::Rejected, _) => (
            5,
            "REJECTED",
            52,
            "REJECTED_DESTINATION",
            "Rejected: invalid destination address (E.164 expected)",
        ),
    };
    json!({"groupId": group_id, "groupName": group, "id": id, "name": name, "description": description})
}

fn error_object(facts: &ReportFacts<'_>) -> Value {
    let sip = facts
        .sip_code
        .map(|code| format!(" (SIP {code})"))
        .unwrap_or_default();
    let (group_id, group, id, name, description, permanent): (u8, &str, u32, &str, String, bool) =
        match (facts.status, facts.last_outcome) {
            (FinalStatus::Rejected, _) => (
                2,
                "USER_ERRORS",
                52,
                "EC_INVALID_DESTINATION",
                "The request could not be delivered".into(),
                true,
            ),
            (FinalStatus::Expired, _) => (
                3,
                "OPERATOR_ERRORS",
                5007,
                "EC_VALIDITY_EXPIRED",
                "The validity period ended before the call could be made".into(),
                true,
            ),
            (_, Some(AttemptOutcome::Answered { machine })) => {
                if machine == Some(true) {
                    (
                        0,
                        "OK",
                        5001,
                        "VOICE_ANSWERED_MACHINE",
                        "Call answered by machine".into(),
                        true,
                    )
                } else {
                    (
                        0,
                        "OK",
                        5000,
                        "VOICE_ANSWERED",
                        "Call answered by human".into(),
                        true,
                    )
                }
            }
            (_, Some(AttemptOutcome::NoAnswer)) => (
                1,
                "HANDSET_ERRORS",
                5003,
                "EC_VOICE_NO_ANSWER",
                format!("User was notified, but did not answer call{sip}"),
                false,
            ),
            (_, Some(AttemptOutcome::Busy)) => (
                1,
                "HANDSET_ERRORS",
                5002,
                "EC_VOICE_USER_BUSY",
                format!("User was busy{sip}"),
                false,
            ),
            (_, Some(AttemptOutcome::Declined)) => (
                2,
                "USER_ERRORS",
                5004,
                "EC_VOICE_DECLINED",
                format!("User declined the call{sip}"),
                true,
            ),
            (_, Some(AttemptOutcome::Failed { permanent })) => (
                3,
                "OPERATOR_ERRORS",
                5005,
                "EC_VOICE_CALL_FAILED",
                format!("The call could not be set up{sip}"),
                permanent,
            ),
            (_, Some(AttemptOutcome::Interrupted)) => (
                3,
                "OPERATOR_ERRORS",
                5006,
                "EC_VOICE_INTERRUPTED",
                "ivory stopped during the call".into(),
                false,
            ),
            (_, None) => (0, "OK", 0, "NO_ERROR", "No error".into(), false),
        };
    json!({"groupId": group_id, "groupName": group, "id": id, "name": name,
           "description": description, "permanent": permanent})
}

/// `2026-11-23T10:00:00.000+0000` from milliseconds since the epoch.
pub fn format_time(millis: i64) -> String {
    match jiff::Timestamp::from_millisecond(millis) {
        Ok(timestamp) => timestamp.strftime("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
        Err(_) => String::new(),
    }
}

/// The webhook body: `{"results": [report]}` as JSON, or the same as XML.
pub fn webhook_body(report: &Value, xml: bool) -> String {
    let body = json!({ "results": [report] });
    if xml { to_xml(&body) } else { body.to_string() }
}

/// `{"results": [...]}` as `<reportResponse><results><result>...</result></results></reportResponse>`:
/// one element per field, arrays as repeated `<result>` elements, nulls left out.
pub fn to_xml(value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><reportResponse>");
    if let Value::Object(map) = value {
        for (key, child) in map {
            write_xml(&mut out, key, child);
        }
    }
    out.push_str("</reportResponse>");
    out
}

fn write_xml(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            for item in items {
                write_xml(out, "result", item);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Object(map) => {
            out.push_str(&format!("<{name}>"));
            for (key, child) in map {
                write_xml(out, key, child);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(text) => out.push_str(&format!("<{name}>{}</{name}>", escape_xml(text))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

fn escape_xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(summary: &CallSummary) -> ReportFacts<'_> {
        ReportFacts {
            bulk_id: "b",
            message_id: "m",
            from: Some("4670000000"),
            to: "4670000001",
            scenario_id: Some("s"),
            callback_data: Some("<data & more>"),
            status: FinalStatus::Delivered,
            rejection: None,
            attempts: 2,
            last_outcome: Some(AttemptOutcome::Answered { machine: None }),
            sip_code: Some(200),
            first_started_at: Some(1_000),
            started_at: Some(60_000),
            answered_at: Some(65_000),
            ended_at: Some(77_500),
            done_at: 77_500,
            summary,
        }
    }

    #[test]
    fn a_delivered_report_has_the_v2_fields() {
        let summary = CallSummary {
            collected_dtmfs: BTreeMap::from([("choice".into(), "1".into())]),
            dtmf_codes: Some("1".into()),
            ..CallSummary::default()
        };
        let report = build(&facts(&summary));
        assert_eq!(report["status"]["groupName"], "DELIVERED");
        assert_eq!(report["error"]["name"], "VOICE_ANSWERED");
        assert_eq!(report["error"]["permanent"], true);
        assert_eq!(report["voiceCall"]["duration"], 12);
        assert_eq!(
            report["voiceCall"]["startTime"],
            "1970-01-01T00:01:00.000+0000"
        );
        assert_eq!(
            report["voiceCall"]["ivr"]["collectedDtmfs"],
            "{\"choice\":\"1\"}"
        );
        assert_eq!(report["voiceCall"]["ivr"]["spokenInput"], Value::Null);
        assert_eq!(report["attempts"], 2);
    }

    #[test]
    fn xml_escapes_text_and_skips_nulls() {
        let summary = CallSummary::default();
        let report = build(&facts(&summary));
        let xml = webhook_body(&report, true);
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert!(
            xml.contains("<results><result><attempts>2</attempts>"),
            "{xml}"
        );
        assert!(xml.contains("<callbackData>&lt;data &amp; more&gt;</callbackData>"));
        assert!(!xml.contains("spokenInput"));
        assert!(xml.ends_with("</result></results></reportResponse>"));
    }
}
