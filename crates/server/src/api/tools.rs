//! ivory's scenario tools over HTTP: validate, simulate, graph (the same as `ivory check`,
//! `ivory simulate` and `ivory graph`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use ivory_scenario::{GraphFormat, ScriptedHttp, SimulationOptions};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use super::json::ValidJson;

/// `POST /voice/ivr/1/scenarios/validate`: always 200 for a JSON body; `valid` says whether
/// it compiles.
pub(super) async fn validate(ValidJson(body): ValidJson<Value>) -> Json<Value> {
    let describe = |diagnostics: &[ivory_scenario::Diagnostic]| {
        diagnostics
            .iter()
            .map(|d| json!({"path": d.path, "message": d.message}))
            .collect::<Vec<_>>()
    };
    match ivory_scenario::compile_value(&body) {
        Ok(program) => Json(json!({
            "valid": true, "errors": [], "warnings": describe(program.warnings())
        })),
        Err(errors) => Json(json!({
            "valid": false,
            "errors": describe(&errors.errors),
            "warnings": describe(&errors.warnings),
        })),
    }
}

/// One scripted HTTP answer: `"URL=STATUS:BODY"` or `{url, status, body}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum HttpAnswer {
    Spec(String),
    Parts {
        url: String,
        status: u16,
        #[serde(default)]
        body: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SimulateRequest {
    /// The caller's script: `1 # wait:6s speech:"agent" dial:BUSY machine:yes hangup`.
    #[serde(default)]
    input: String,
    #[serde(default)]
    http: Vec<HttpAnswer>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

/// `POST /voice/ivr/1/scenarios/{id}/simulate`.
pub(super) async fn simulate(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ValidJson(request): ValidJson<SimulateRequest>,
) -> Result<Json<Value>, ApiError> {
    let program = load(&state, &id).await?;
    let inputs = ivory_scenario::parse_simulation_input(&request.input)
        .map_err(|error| ApiError::bad_request("input", error.to_string()))?;
    let mut http = ScriptedHttp::new();
    for (index, answer) in request.http.iter().enumerate() {
        match answer {
            HttpAnswer::Spec(spec) => http.insert_spec(spec).map_err(|error| {
                ApiError::bad_request(format!("http[{index}]"), error.to_string())
            })?,
            HttpAnswer::Parts { url, status, body } => {
                if !(100..=599).contains(status) {
                    return Err(ApiError::bad_request(
                        format!("http[{index}].status"),
                        "not an HTTP status",
                    ));
                }
                http.insert(url, *status, body);
            }
        }
    }
    let mut variables = BTreeMap::from([
        ("from".to_string(), "simulator".to_string()),
        ("to".to_string(), "1000".to_string()),
        ("callId".to_string(), "simulated-call".to_string()),
        ("direction".to_string(), "OUTBOUND".to_string()),
    ]);
    variables.extend(request.variables);
    let mut options = SimulationOptions::new(std::time::Instant::now());
    options.unix_time_ms_at_start = u64::try_from(state.now()).ok();
    // The simulation runs in virtual time, but a long script is still CPU work: keep it off
    // the async workers.
    let report = tokio::task::spawn_blocking(move || {
        ivory_scenario::simulate(program, &inputs, &http, variables, &options)
    })
    .await
    .map_err(|error| ApiError::bad_request("", format!("the simulation failed: {error}")))?;
    Ok(Json(json!({
        "trace": report.trace.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "steps": report.trace.iter().map(|line| json!({
            "atMs": u64::try_from(line.at.as_millis()).unwrap_or(u64::MAX),
            "text": line.text,
        })).collect::<Vec<_>>(),
        "variables": report.variables,
        "notes": report.notes,
        "endedNormally": report.ended_normally,
        "finishReason": report.finish_reason.map(|reason| format!("{reason:?}")),
        "durationMs": u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GraphQuery {
    format: Option<String>,
}

/// `GET /voice/ivr/1/scenarios/{id}/graph?format=dot|mermaid`.
pub(super) async fn graph(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    query: Result<Query<GraphQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::bad_request("", rejection.body_text()))?;
    let (format, content_type) = match query.format.as_deref().unwrap_or("dot") {
        "dot" => (GraphFormat::Dot, "text/vnd.graphviz; charset=utf-8"),
        "mermaid" => (GraphFormat::Mermaid, "text/plain; charset=utf-8"),
        other => {
            return Err(ApiError::bad_request(
                "format",
                format!("unknown format {other:?}: dot or mermaid"),
            ));
        }
    };
    let program = load(&state, &id).await?;
    Ok((
        [(CONTENT_TYPE, content_type)],
        ivory_scenario::graph(&program, format),
    )
        .into_response())
}

async fn load(state: &ApiState, id: &str) -> Result<Arc<ivory_scenario::Program>, ApiError> {
    let record = state.storage.scenario(id).await?;
    // It compiled when stored; a compiler grown stricter since then makes this a conflict.
    ivory_scenario::compile(&record.body)
        .map(Arc::new)
        .map_err(|errors| ApiError::Conflict {
            what: format!("stored scenario {id} no longer compiles: {errors}"),
        })
}
