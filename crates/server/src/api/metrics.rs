//! `GET /metrics`: Prometheus (OpenMetrics text) counters and gauges.
//!
//! [`Metrics`] owns the registry and offers one method per event, so the engine and the
//! dialer update it without knowing prometheus-client. The HTTP request counter is wired
//! here ([`count_requests`], labelled by the route template, not the raw path, so ids do not
//! explode the label set).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `ivory_calls_live` | gauge | |
//! | `ivory_calls_total` | counter | `direction`, `outcome` |
//! | `ivory_legs_live` | gauge | |
//! | `ivory_rtp_packets_total` | counter | `direction` (`in`, `out`) |
//! | `ivory_rtp_packets_late_total`, `ivory_rtp_packets_lost_total` | counter | |
//! | `ivory_dtmf_digits_total` | counter | `source` (`rfc4733`, `inband`, `info`) |
//! | `ivory_http_requests_total` | counter | `method`, `route`, `status` |
//! | `ivory_dialer_queue_depth` | gauge | `phase` (`waiting`, `calling`) |
//! | `ivory_webhooks_total` | counter | `result` (`delivered`, `failed`, `abandoned`) |

use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::ApiState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    direction: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabels {
    direction: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

/// ivory's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    calls_live: Gauge,
    calls: Family<CallLabels, Counter>,
    legs_live: Gauge,
    rtp_packets: Family<DirectionLabels, Counter>,
    rtp_late: Counter,
    rtp_lost: Counter,
    dtmf_digits: Family<SourceLabels, Counter>,
    http_requests: Family<HttpLabels, Counter>,
    queue_depth: Family<PhaseLabels, Gauge>,
    webhooks: Family<ResultLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let metrics = Metrics {
            registry: Mutex::new(Registry::with_prefix("ivory")),
            calls_live: Gauge::default(),
            calls: Family::default(),
            legs_live: Gauge::default(),
            rtp_packets: Family::default(),
            rtp_late: Counter::default(),
            rtp_lost: Counter::default(),
            dtmf_digits: Family::default(),
            http_requests: Family::default(),
            queue_depth: Family::default(),
            webhooks: Family::default(),
        };
        if let Ok(mut registry) = metrics.registry.lock() {
            let r = &mut *registry;
            r.register(
                "calls_live",
                "Calls in progress",
                metrics.calls_live.clone(),
            );
            r.register(
                "calls",
                "Calls ended, by direction and outcome",
                metrics.calls.clone(),
            );
            r.register(
                "legs_live",
                "Call legs in progress",
                metrics.legs_live.clone(),
            );
            r.register(
                "rtp_packets",
                "RTP packets received and sent",
                metrics.rtp_packets.clone(),
            );
            r.register(
                "rtp_packets_late",
                "RTP packets that arrived too late to play",
                metrics.rtp_late.clone(),
            );
            r.register(
                "rtp_packets_lost",
                "RTP packets never received",
                metrics.rtp_lost.clone(),
            );
            r.register(
                "dtmf_digits",
                "DTMF digits received, by source",
                metrics.dtmf_digits.clone(),
            );
            r.register(
                "http_requests",
                "HTTP API requests, by route and status",
                metrics.http_requests.clone(),
            );
            r.register(
                "dialer_queue_depth",
                "Outbound destinations waiting or being called",
                metrics.queue_depth.clone(),
            );
            r.register(
                "webhooks",
                "Delivery report webhooks, by result",
                metrics.webhooks.clone(),
            );
        }
        metrics
    }

    /// A finished call, counted by direction (`inbound`/`outbound`) and outcome (`answered`, or
    /// the hang-up reason); the live gauges are set apart, by [`Self::set_live`].
    pub fn call_counted(&self, direction: &str, outcome: &str) {
        self.calls
            .get_or_create(&CallLabels {
                direction: direction.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Calls and legs in progress now.
    pub fn set_live(&self, calls: usize, legs: usize) {
        self.calls_live
            .set(i64::try_from(calls).unwrap_or(i64::MAX));
        self.legs_live.set(i64::try_from(legs).unwrap_or(i64::MAX));
    }

    /// Adds a call's RTP totals (typically when it ends).
    pub fn rtp(&self, packets_in: u64, packets_out: u64, late: u64, lost: u64) {
        for (direction, count) in [("in", packets_in), ("out", packets_out)] {
            self.rtp_packets
                .get_or_create(&DirectionLabels {
                    direction: direction.to_string(),
                })
                .inc_by(count);
        }
        self.rtp_late.inc_by(late);
        self.rtp_lost.inc_by(lost);
    }

    /// A digit from `source` (`rfc4733`, `inband`, `info`).
    pub fn dtmf_digit(&self, source: &str) {
        self.dtmf_digits
            .get_or_create(&SourceLabels {
                source: source.to_string(),
            })
            .inc();
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
    }

    pub fn set_queue_depth(&self, waiting: u64, calling: u64) {
        for (phase, count) in [("waiting", waiting), ("calling", calling)] {
            self.queue_depth
                .get_or_create(&PhaseLabels {
                    phase: phase.to_string(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// A webhook try ended: `delivered`, `failed` (will retry) or `abandoned`.
    pub fn webhook(&self, result: &str) {
        self.webhooks
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Ok(registry) = self.registry.lock() {
            // Writing to a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        }
        text
    }
}

/// `GET /metrics`.
pub(super) async fn scrape(State(state): State<ApiState>) -> Response {
    if let Ok(depth) = state.storage.queue_depth().await {
        state.metrics.set_queue_depth(depth.waiting, depth.calling);
    }
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

/// Counts every request to a known route, with its status.
pub(super) async fn count_requests(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    state
        .metrics
        .http_request(&method, &route, response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_show_up_in_the_text() {
        let metrics = Metrics::new();
        metrics.set_live(1, 2);
        metrics.call_counted("outbound", "answered");
        metrics.rtp(10, 12, 1, 2);
        metrics.dtmf_digit("rfc4733");
        metrics.http_request("GET", "/voice/ivr/1/reports", 200);
        metrics.set_queue_depth(5, 1);
        let text = metrics.encode();
        assert!(text.contains("ivory_calls_live 1"), "{text}");
        assert!(text.contains("ivory_legs_live 2"), "{text}");
        assert!(text.contains("ivory_calls_total{direction=\"outbound\",outcome=\"answered\"} 1"));
        assert!(text.contains("ivory_rtp_packets_total{direction=\"in\"} 10"));
        assert!(text.contains("ivory_rtp_packets_lost_total 2"));
        assert!(text.contains("ivory_dtmf_digits_total{source=\"rfc4733\"} 1"));
        assert!(text.contains(
            "ivory_http_requests_total{method=\"GET\",route=\"/voice/ivr/1/reports\",status=\"200\"} 1"
        ));
        assert!(text.contains("ivory_dialer_queue_depth{phase=\"waiting\"} 5"));
    }
}
