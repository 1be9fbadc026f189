//! Reading back: delivery reports (each returned once), message logs, the call log and
//! recordings.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use crate::storage::report::{format_time, pending_status};
use crate::storage::{LogFilter, LogRow};

const DEFAULT_LIMIT: u32 = 50;
const MAXIMUM_LIMIT: u32 = 1_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ReportQuery {
    bulk_id: Option<String>,
    message_id: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct LogQuery {
    bulk_id: Option<String>,
    message_id: Option<String>,
    to: Option<String>,
    general_status: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CallQuery {
    direction: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RecordingQuery {
    call_id: Option<String>,
    message_id: Option<String>,
    limit: Option<u32>,
}

/// `GET /voice/ivr/1/reports`: reports not returned before, oldest first.
pub(super) async fn reports(
    State(state): State<ApiState>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let filter = LogFilter {
        bulk_id: query.bulk_id,
        message_id: query.message_id,
        limit: limit(query.limit)?,
        ..LogFilter::default()
    };
    let results = state.storage.pull_reports(&filter).await?;
    Ok(Json(json!({ "results": results })))
}

/// `GET /voice/ivr/1/logs`: destinations, newest launch first, final or not.
pub(super) async fn logs(
    State(state): State<ApiState>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let state_filter = match query.general_status.as_deref() {
        None => None,
        Some(status) => Some(match status.to_ascii_uppercase().as_str() {
            "PENDING" => "pending".to_string(),
            "DELIVERED" | "UNDELIVERABLE" | "EXPIRED" | "REJECTED" => status.to_ascii_lowercase(),
            _ => {
                return Err(ApiError::bad_request(
                    "generalStatus",
                    "PENDING, DELIVERED, UNDELIVERABLE, EXPIRED or REJECTED",
                ));
            }
        }),
    };
    let filter = LogFilter {
        bulk_id: query.bulk_id,
        message_id: query.message_id,
        to: query.to,
        state: state_filter,
        limit: limit(query.limit)?,
    };
    let rows = state.storage.list_logs(&filter).await?;
    Ok(Json(
        json!({ "results": rows.iter().map(log_entry).collect::<Vec<_>>() }),
    ))
}

/// `GET /voice/ivr/1/calls`: ivory's call log, newest first.
pub(super) async fn calls(
    State(state): State<ApiState>,
    query: Result<Query<CallQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let direction = query.direction.map(|d| d.to_ascii_lowercase());
    if let Some(direction) = &direction
        && direction != "inbound"
        && direction != "outbound"
    {
        return Err(ApiError::bad_request("direction", "inbound or outbound"));
    }
    let calls = state
        .storage
        .list_call_logs(direction.as_deref(), limit(query.limit)?)
        .await?;
    Ok(Json(json!({
        "results": calls.into_iter().map(|call| call.record).collect::<Vec<_>>()
    })))
}

/// `GET /voice/ivr/1/recordings`.
pub(super) async fn recordings(
    State(state): State<ApiState>,
    query: Result<Query<RecordingQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let rows = state
        .storage
        .list_recordings(
            query.call_id.as_deref(),
            query.message_id.as_deref(),
            limit(query.limit)?,
        )
        .await?;
    let results: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "file": row.file, "identifier": row.identifier, "callId": row.call_id,
                "messageId": row.message_id, "kind": row.kind, "durationMs": row.duration_ms,
                "createTime": format_time(row.created_at),
                "url": format!("/voice/ivr/1/recordings/{}", row.file),
            })
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

/// `GET /voice/ivr/1/recordings/{name}`: the WAV file, by file name or identifier.
pub(super) async fn download(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let row = state.storage.recording(&name).await?;
    let Some(dir) = &state.recordings_dir else {
        return Err(ApiError::NotFound {
            what: format!("recording {name}"),
        });
    };
    // The index names files inside the directory; anything else is not served.
    if row.file.contains(['/', '\\']) || row.file.starts_with('.') {
        return Err(ApiError::NotFound {
            what: format!("recording {name}"),
        });
    }
    let bytes = tokio::fs::read(dir.join(&row.file))
        .await
        .map_err(|_| ApiError::NotFound {
            what: format!("recording file {}", row.file),
        })?;
    Ok((
        [
            (CONTENT_TYPE, "audio/wav".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", row.file),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn log_entry(row: &LogRow) -> Value {
    let report = row.report.as_ref();
    let field = |name: &str| report.and_then(|report| report.get(name)).cloned();
    json!({
        "bulkId": row.bulk_id,
        "messageId": row.message_id,
        "to": row.to,
        "from": row.from,
        "scenarioId": row.scenario_id,
        "state": row.state,
        "attempts": row.attempts,
        "acceptedAt": format_time(row.accepted_at),
        "nextAttemptAt": report.is_none().then(|| format_time(row.next_attempt_at)),
        "sentAt": field("sentAt"),
        "doneAt": row.done_at.map(format_time),
        "duration": field("voiceCall").and_then(|call| call.get("duration").cloned()),
        "callbackData": row.callback_data,
        "status": field("status").unwrap_or_else(pending_status),
        "error": field("error"),
    })
}

fn limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(value) if (1..=MAXIMUM_LIMIT).contains(&value) => Ok(value),
        Some(_) => Err(ApiError::bad_request(
            "limit",
            format!("must be 1 to {MAXIMUM_LIMIT}"),
        )),
    }
}

fn bad_query(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request("", rejection.body_text())
}
