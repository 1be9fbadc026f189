//! The HTTP API: Infobip-compatible IVR endpoints (JSON, `Authorization: App <key>`), ivory's
//! own tools (validate, simulate, graph), the Prometheus `/metrics`, and the webhook pusher.
//!
//! | method | path | |
//! |---|---|---|
//! | POST, GET | `/voice/ivr/1/scenarios` | create; list (`page` from 0, `pageSize` 1–1000, default 20; `name` contains, any case) |
//! | GET, PUT, DELETE | `/voice/ivr/1/scenarios/{id}` | a scenario (DELETE: 409 while a launch still needs it) |
//! | POST | `/voice/ivr/1/scenarios/validate` | compile without storing: `{valid, errors, warnings}` |
//! | POST | `/voice/ivr/1/scenarios/{id}/simulate` | `{input, http, variables}` → trace and variables |
//! | GET | `/voice/ivr/1/scenarios/{id}/graph?format=dot\|mermaid` | the flow graph, as text |
//! | POST | `/voice/ivr/1/messages` | launch (see [`launch`]) |
//! | GET | `/voice/ivr/1/reports` | delivery reports not pulled before (`bulkId`, `messageId`, `limit` ≤ 1000, default 50) |
//! | GET | `/voice/ivr/1/logs` | message logs (`bulkId`, `messageId`, `to`, `generalStatus`, `limit`) |
//! | GET | `/voice/ivr/1/calls` | ivory's call log (`direction`, `limit`) |
//! | GET | `/voice/ivr/1/recordings`, `/voice/ivr/1/recordings/{name}` | the index; one WAV file |
//! | GET | `/metrics` | Prometheus text (no key needed) |
//!
//! Every error answers in one shape ([`error::ApiError`]), Infobip's
//! `{"requestError": {"serviceException": {"messageId", "text", "validationErrors"}}}`, where
//! `validationErrors` maps each JSON path at fault to its problems. Bodies are read with
//! [`json::ValidJson`]: a wrong type or an unknown field is a 400 naming the path, never a
//! 500. With no API key configured every API request is refused (401).

// Parts are used by the dialer worker and the engine once they are wired (see the report).

mod auth;
pub mod error;
pub mod json;
pub mod launch;
mod launch_rules;
pub mod metrics;
mod reports;
mod scenarios;
mod tools;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use metrics::Metrics;
pub use scenarios::warm_stored_scenarios;

use crate::storage::Storage;

/// Milliseconds since the Unix epoch, now. Injected so tests run in virtual time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| jiff::Timestamp::now().as_millisecond())
}

/// A launch of 20,000 destinations is about 1.5 MB of JSON.
const BODY_LIMIT_BYTES: usize = 16 * 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub storage: Storage,
    /// Accepted `Authorization: App <key>` keys; empty refuses every API request.
    pub api_keys: Arc<Vec<String>>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// Where recordings are (`[recordings] dir`); `None`: downloads answer 404.
    pub recordings_dir: Option<PathBuf>,
    /// Where a created or updated scenario's constant `say` texts are synthesised ahead of
    /// calls; `None`: not warmed.
    pub prompts: Option<Arc<ivory_engine::PromptStore>>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ApiState")
            .field("storage", &self.storage)
            .field("api_keys", &self.api_keys.len())
            .field("recordings_dir", &self.recordings_dir)
            .finish_non_exhaustive()
    }
}

impl ApiState {
    /// The state with the wall clock and no recordings directory.
    pub fn new(storage: Storage, api_keys: Vec<String>, metrics: Arc<Metrics>) -> ApiState {
        if api_keys.is_empty() {
            tracing::warn!("http.api_keys is empty: every API request will be refused (401)");
        }
        ApiState {
            storage,
            api_keys: Arc::new(api_keys),
            metrics,
            clock: system_clock(),
            recordings_dir: None,
            prompts: None,
        }
    }

    pub(crate) fn now(&self) -> i64 {
        (self.clock)()
    }
}

/// The API's routes, ready to be merged beside `/health`.
pub fn router(state: ApiState) -> Router {
    let ivr = Router::new()
        .route(
            "/voice/ivr/1/scenarios",
            post(scenarios::create).get(scenarios::list),
        )
        .route("/voice/ivr/1/scenarios/validate", post(tools::validate))
        .route(
            "/voice/ivr/1/scenarios/{id}",
            get(scenarios::read)
                .put(scenarios::update)
                .delete(scenarios::delete),
        )
        .route(
            "/voice/ivr/1/scenarios/{id}/simulate",
            post(tools::simulate),
        )
        .route("/voice/ivr/1/scenarios/{id}/graph", get(tools::graph))
        .route("/voice/ivr/1/messages", post(launch::launch))
        .route("/voice/ivr/1/reports", get(reports::reports))
        .route("/voice/ivr/1/logs", get(reports::logs))
        .route("/voice/ivr/1/calls", get(reports::calls))
        .route("/voice/ivr/1/recordings", get(reports::recordings))
        .route("/voice/ivr/1/recordings/{name}", get(reports::download))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    Router::new()
        .merge(ivr)
        .route("/metrics", get(metrics::scrape))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(state)
}
