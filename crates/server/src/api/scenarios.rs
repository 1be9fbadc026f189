//! Scenario endpoints: create, list, read, update, delete. Every write compiles the scenario
//! first; one that does not compile is refused (400) with every problem at its JSON path.
//!
//! A scenario reads back as its JSON plus Infobip's metadata: `id`, `createTime`,
//! `updateTime` (and `warnings`, ivory's compile warnings, when there are any).
//!
//! A stored scenario's constant `say` texts are synthesised in the background (when the state
//! has a prompt store), after a create or update and, for the scenarios already stored, at
//! start ([`warm_stored_scenarios`]): its first call then finds them in the cache.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::HeaderName;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::ApiState;
use super::error::{ApiError, Problem};
use super::json::ValidJson;
use crate::storage::ScenarioRecord;
use crate::storage::report::format_time;

/// Keys Infobip puts on a scenario that are not part of it.
const METADATA: [&str; 5] = [
    "id",
    "createTime",
    "updateTime",
    "lastUsageDate",
    "warnings",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    name: Option<String>,
}

pub(super) async fn create(
    State(state): State<ApiState>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let (body, name, description, program) = checked(body)?;
    let now = state.now();
    let record = ScenarioRecord {
        id: new_id(),
        name,
        description,
        body,
        created_at: now,
        updated_at: now,
    };
    state.storage.insert_scenario(&record).await?;
    warm(&state, &record.name, &program);
    Ok(Json(present(&record, program.warnings())?))
}

pub(super) async fn list(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::bad_request("", rejection.body_text()))?;
    let page_size = query.page_size.unwrap_or(20);
    if !(1..=1_000).contains(&page_size) {
        return Err(ApiError::bad_request("pageSize", "must be 1 to 1000"));
    }
    let page = state
        .storage
        .list_scenarios(query.name.as_deref(), query.page.unwrap_or(0), page_size)
        .await?;
    let scenarios = page
        .scenarios
        .iter()
        .map(|record| present(record, &[]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        [(
            HeaderName::from_static("x-total-count"),
            page.total.to_string(),
        )],
        Json(Value::Array(scenarios)),
    )
        .into_response())
}

pub(super) async fn read(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state.storage.scenario(&id).await?;
    Ok(Json(present(&record, &[])?))
}

pub(super) async fn update(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let (body, name, description, program) = checked(body)?;
    let record = ScenarioRecord {
        id,
        name,
        description,
        body,
        created_at: 0,
        updated_at: state.now(),
    };
    let stored = state.storage.update_scenario(&record).await?;
    warm(&state, &stored.name, &program);
    Ok(Json(present(&stored, program.warnings())?))
}

/// Synthesises `program`'s constant `say` texts on a background task.
fn warm(state: &ApiState, name: &str, program: &ivory_scenario::Program) {
    if let Some(prompts) = &state.prompts {
        prompts.spawn_warming(name.to_string(), program.constant_say_texts());
    }
}

/// How many stored scenarios are read per query while warming at start.
const WARM_PAGE_SIZE: u32 = 100;

/// Starts a background task that synthesises the constant `say` texts of every stored
/// scenario (one after the other, behind the prompt store's warming turn). Problems are
/// warnings: a scenario that no longer compiles is skipped, a storage error ends the task.
pub fn warm_stored_scenarios(
    storage: crate::storage::Storage,
    prompts: std::sync::Arc<ivory_engine::PromptStore>,
) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let mut warmed = 0;
        let mut page = 0;
        loop {
            let scenarios = match storage.list_scenarios(None, page, WARM_PAGE_SIZE).await {
                Ok(listed) => listed.scenarios,
                Err(error) => {
                    tracing::warn!(%error, "cannot list stored scenarios to warm their say texts");
                    break;
                }
            };
            for record in &scenarios {
                let program = serde_json::from_str::<Value>(&record.body)
                    .ok()
                    .and_then(|body| ivory_scenario::compile_value(&body).ok());
                let Some(program) = program else {
                    tracing::warn!(id = %record.id, "stored scenario no longer compiles; not warmed");
                    continue;
                };
                if let Some(task) =
                    prompts.spawn_warming(record.name.clone(), program.constant_say_texts())
                {
                    // One scenario at a time: the store's turn would serialise them anyway,
                    // and waiting keeps at most one page of programs in memory.
                    if task.await.is_ok() {
                        warmed += 1;
                    }
                }
            }
            if scenarios.len() < WARM_PAGE_SIZE as usize {
                break;
            }
            page += 1;
        }
        warmed
    })
}

pub(super) async fn delete(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    state.storage.delete_scenario(&id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Compiles a scenario body: (the JSON to store, name, description, program).
pub(super) fn checked(
    body: Value,
) -> Result<(String, String, Option<String>, ivory_scenario::Program), ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request("", "a scenario is a JSON object"));
    };
    for key in METADATA {
        map.remove(key);
    }
    let body = Value::Object(map);
    let program = ivory_scenario::compile_value(&body).map_err(|errors| ApiError::BadRequest {
        problems: errors
            .errors
            .iter()
            .map(|diagnostic| Problem::new(diagnostic.path.clone(), diagnostic.message.clone()))
            .collect(),
    })?;
    let name = program.name().to_string();
    let description = program.description().map(str::to_string);
    Ok((body.to_string(), name, description, program))
}

/// The stored JSON with its metadata.
fn present(
    record: &ScenarioRecord,
    warnings: &[ivory_scenario::Diagnostic],
) -> Result<Value, ApiError> {
    let mut map: Map<String, Value> = serde_json::from_str(&record.body).map_err(|error| {
        ApiError::Storage(crate::storage::StorageError::corrupt("scenario", error))
    })?;
    map.insert("id".into(), Value::String(record.id.clone()));
    map.insert(
        "createTime".into(),
        Value::String(format_time(record.created_at)),
    );
    map.insert(
        "updateTime".into(),
        Value::String(format_time(record.updated_at)),
    );
    if !warnings.is_empty() {
        map.insert(
            "warnings".into(),
            Value::Array(
                warnings
                    .iter()
                    .map(|warning| Value::String(warning.to_string()))
                    .collect(),
            ),
        );
    }
    Ok(Value::Object(map))
}

/// A random id in UUID form.
pub(super) fn new_id() -> String {
    let bits: u128 = rand::random();
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
