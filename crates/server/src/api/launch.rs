//! `POST /voice/ivr/1/messages`: launch a scenario toward many destinations.
//!
//! The request is Infobip's: `{"bulkId", "messages": [{"scenarioId", "from", "destinations":
//! [{"to", "messageId"}], "notifyUrl", "notifyContentType", "notifyContentVersion",
//! "callbackData", "validityPeriod", "sendAt", "retry": {"minPeriod", "maxPeriod",
//! "maxCount"}, "ringTimeout", "sendingSpeed": {"speed", "timeUnit"}, "parameters",
//! "pause", "record", "deliveryTimeWindow": {"days", "from": {"hour", "minute"}, "to"},
//! "callTimeout"}]}`; the rules and limits are in [`launch_rules`](super::launch_rules).
//!
//! The answer lists every destination in request order:
//! `{"bulkId": "...", "messages": [{"to": "...", "messageId": "...", "status": {...}}]}`
//! with status PENDING_ACCEPTED (group PENDING), or REJECTED_DESTINATION (a `to` that is not
//! E.164) / REJECTED_DUPLICATE_MESSAGE_ID (group REJECTED). A request that breaks a rule is
//! refused whole (400, every problem with its path) and nothing is stored.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use ivory_engine::dialer::{DeliveryTimeWindow, TimeUnit, Weekday};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, Problem};
use super::json::{ValidJson, from_value};
use super::launch_rules;
use crate::storage::report::{self, Rejection};
use crate::storage::{NewLaunch, StorageError};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LaunchRequest {
    pub bulk_id: Option<String>,
    pub messages: Vec<MessageRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageRequest {
    pub scenario_id: String,
    pub from: Option<String>,
    pub destinations: Vec<DestinationRequest>,
    pub notify_url: Option<String>,
    pub notify_content_type: Option<String>,
    pub notify_content_version: Option<i64>,
    pub callback_data: Option<String>,
    /// Minutes.
    pub validity_period: Option<i64>,
    pub send_at: Option<String>,
    pub retry: Option<RetryRequest>,
    /// Seconds.
    pub ring_timeout: Option<i64>,
    pub sending_speed: Option<SpeedRequest>,
    pub parameters: Option<BTreeMap<String, ParameterValue>>,
    /// Seconds before the scenario starts, after the answer.
    pub pause: Option<i64>,
    pub record: Option<bool>,
    pub delivery_time_window: Option<WindowRequest>,
    /// Seconds: the longest a call may last.
    pub call_timeout: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationRequest {
    pub to: String,
    pub message_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryRequest {
    pub min_period: i64,
    pub max_period: i64,
    pub max_count: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpeedRequest {
    pub speed: i64,
    pub time_unit: Option<TimeUnit>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowRequest {
    pub days: Vec<Weekday>,
    pub from: Option<TimeOfDay>,
    pub to: Option<TimeOfDay>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeOfDay {
    pub hour: i64,
    pub minute: i64,
}

/// A launch parameter: scenario variables are strings, so numbers and booleans are written
/// as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ParameterValue {
    Text(String),
    Number(serde_json::Number),
    Flag(bool),
}

impl ParameterValue {
    pub fn into_text(self) -> String {
        match self {
            ParameterValue::Text(text) => text,
            ParameterValue::Number(number) => number.to_string(),
            ParameterValue::Flag(flag) => flag.to_string(),
        }
    }
}

/// The handler.
pub(super) async fn launch(
    State(state): State<ApiState>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let raw = body.to_string();
    let request: LaunchRequest = from_value(body)?;
    let now = state.now();
    let mut launch = launch_rules::check(request, raw, now)?;
    // Every scenario named must exist (and still compile).
    let mut problems = Vec::new();
    let scenarios: BTreeSet<(usize, String)> = launch
        .groups
        .iter()
        .enumerate()
        .map(|(index, group)| (index, group.scenario_id.clone()))
        .collect();
    for (index, scenario_id) in scenarios {
        match state.storage.scenario(&scenario_id).await {
            Ok(_) => {}
            Err(StorageError::NotFound { .. }) => problems.push(Problem::new(
                format!("messages[{index}].scenarioId"),
                format!("no scenario with id {scenario_id:?}"),
            )),
            Err(error) => return Err(error.into()),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::BadRequest { problems });
    }
    let taken = match state.storage.insert_launch(&mut launch).await {
        Ok(taken) => taken,
        Err(StorageError::Conflict { .. }) => {
            return Err(ApiError::bad_request(
                "bulkId",
                format!("bulkId {:?} is already used", launch.bulk_id),
            ));
        }
        Err(error) => return Err(error.into()),
    };
    tracing::info!(
        bulk_id = %launch.bulk_id,
        destinations = launch.groups.iter().map(|group| group.destinations.len()).sum::<usize>(),
        already_used_ids = taken.len(),
        "launch accepted"
    );
    Ok(Json(answer(&launch)))
}

fn answer(launch: &NewLaunch) -> Value {
    let messages: Vec<Value> = launch
        .groups
        .iter()
        .flat_map(|group| group.destinations.iter())
        .map(|destination| {
            let status = match destination.rejected {
                None => report::pending_status(),
                Some(Rejection::InvalidDestination) => json!({
                    "groupId": 5, "groupName": "REJECTED", "id": 52, "name": "REJECTED_DESTINATION",
                    "description": "Invalid destination address: E.164 expected (country code and number, 3 to 15 digits)"
                }),
                Some(Rejection::DuplicateMessageId) => json!({
                    "groupId": 5, "groupName": "REJECTED", "id": 23, "name": "REJECTED_DUPLICATE_MESSAGE_ID",
                    "description": "The messageId is already used by another destination"
                }),
            };
            json!({"to": destination.to, "messageId": destination.message_id, "status": status})
        })
        .collect();
    json!({"bulkId": launch.bulk_id, "messages": messages})
}

/// `deliveryTimeWindow` into the dialer's window (hours and minutes checked by the caller).
pub(super) fn window(request: &WindowRequest) -> Result<DeliveryTimeWindow, String> {
    let time = |time: &Option<TimeOfDay>, default: (u8, u8)| match time {
        None => Ok(default),
        Some(time) => match (u8::try_from(time.hour), u8::try_from(time.minute)) {
            (Ok(hour), Ok(minute)) => Ok((hour, minute)),
            _ => Err("a time of day must be 00:00 to 23:59 (or 24:00 for `to`)".to_string()),
        },
    };
    DeliveryTimeWindow::new(
        &request.days,
        time(&request.from, (0, 0))?,
        time(&request.to, (24, 0))?,
    )
    .map_err(|error| error.to_string())
}
