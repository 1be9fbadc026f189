//! The campaign worker's [`CallPlacer`] on the real engine: loads and compiles the launch's
//! scenario from storage, places the call ([`ivory_engine::place_call`]) and turns its call-log
//! line into what the delivery report needs.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ivory_engine::Engine;
use ivory_engine::call_log::CallRecord;
use ivory_engine::place_call::{PlaceCall, PlacedCall};

use crate::campaign::{CallPlacer, PlaceOutcome, PlaceRequest, PlaceResult};
use crate::storage::{CallSummary, Storage};

/// Places campaign calls through the engine.
pub struct EnginePlacer {
    pub engine: Arc<Engine>,
    pub storage: Storage,
}

impl CallPlacer for EnginePlacer {
    fn place(&self, request: PlaceRequest) -> Pin<Box<dyn Future<Output = PlaceOutcome> + Send>> {
        let engine = self.engine.clone();
        let storage = self.storage.clone();
        Box::pin(async move {
            let (scenario_name, program) = match load_program(&storage, &request).await {
                Ok(found) => found,
                Err(reason) => {
                    tracing::warn!(message_id = %request.message_id, %reason, "campaign call not placed");
                    return PlaceOutcome {
                        result: PlaceResult::Failed { permanent: true },
                        sip_code: None,
                        answered_at_ms: None,
                        ended_at_ms: now_ms(),
                        summary: CallSummary::default(),
                    };
                }
            };
            let placed = engine
                .place_call(PlaceCall {
                    to: request.to.clone(),
                    from: request.from.clone(),
                    scenario_name,
                    program,
                    variables: request.parameters.clone(),
                    ring_timeout: request.ring_timeout,
                    pause: request.pause,
                    max_duration: request.call_timeout,
                    record: request.record,
                })
                .await;
            outcome(&placed)
        })
    }
}

async fn load_program(
    storage: &Storage,
    request: &PlaceRequest,
) -> Result<(String, Arc<ivory_scenario::Program>), String> {
    let id = request
        .scenario_id
        .as_deref()
        .ok_or("the launch names no scenario")?;
    let scenario = storage
        .scenario(id)
        .await
        .map_err(|error| format!("scenario {id}: {error}"))?;
    let body: serde_json::Value =
        serde_json::from_str(&scenario.body).map_err(|error| format!("scenario {id}: {error}"))?;
    let program = ivory_scenario::compile_value(&body)
        .map_err(|errors| format!("scenario {id} no longer compiles: {errors}"))?;
    Ok((scenario.name, Arc::new(program)))
}

fn outcome(placed: &PlacedCall) -> PlaceOutcome {
    let record = &placed.record;
    let answered = placed.status == Some(200);
    let result = match PlaceResult::from_sip_status(placed.status) {
        // The scenario's `machineDetection` verdict, for the report.
        PlaceResult::Answered { .. } => PlaceResult::Answered {
            machine: record
                .variables
                .get("machineAnswered")
                .and_then(|verdict| verdict.parse::<bool>().ok()),
        },
        other => other,
    };
    PlaceOutcome {
        result,
        sip_code: placed.status,
        answered_at_ms: if answered {
            record.answer_time.as_deref().and_then(parse_ms)
        } else {
            None
        },
        ended_at_ms: parse_ms(&record.end_time).unwrap_or_else(now_ms),
        summary: summary(record),
    }
}

fn summary(record: &CallRecord) -> CallSummary {
    let digits: Vec<String> = record.digits.iter().map(|d| d.digit.to_string()).collect();
    let mut collected = BTreeMap::new();
    let mut mapped = BTreeMap::new();
    for (name, value) in &record.variables {
        match name.strip_suffix("_Meaning") {
            Some(base) => {
                mapped.insert(base.to_string(), value.clone());
            }
            None => {
                collected.insert(name.clone(), value.clone());
            }
        }
    }
    CallSummary {
        call_id: Some(record.call_id.clone()),
        scenario_name: record.scenario.clone(),
        dtmf_codes: (!digits.is_empty()).then(|| digits.join(",")),
        collected_dtmfs: collected,
        collected_mapped_dtmfs: mapped,
        spoken_input: record.speech.last().map(|answer| answer.text.clone()),
        matched_spoken_input: record
            .speech
            .last()
            .and_then(|answer| answer.matched.clone()),
    }
}

fn parse_ms(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|timestamp| timestamp.as_millisecond())
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
