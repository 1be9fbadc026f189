//! The HTTP side: `GET /health` here, and the Infobip-compatible API (`crate::api`: scenarios,
//! launches, reports, logs, recordings, `/metrics`) merged in.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use ivory_engine::Engine;

/// Binds the HTTP listener (so a busy port is a start-up error) and returns the server future.
pub async fn bind(
    address: SocketAddr,
    engine: Arc<Engine>,
    api: Router,
) -> std::io::Result<(
    SocketAddr,
    impl std::future::Future<Output = std::io::Result<()>>,
)> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/health", get(health))
        .with_state(engine)
        .merge(api);
    Ok((bound, async move { axum::serve(listener, app).await }))
}

async fn health(State(engine): State<Arc<Engine>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "liveCalls": engine.live_calls(),
        "liveLegs": engine.live_legs(),
    }))
}
