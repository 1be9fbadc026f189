//! Calls that ivory places and then runs a scenario on: a campaign's destinations
//! ([`Engine::place_call`]).
//!
//! The destination is planned like a `dial` target ([`crate::outbound_routing`]; for a registered
//! user, its first binding), rung for `ring_timeout`, and, once answered, becomes a leg like an
//! inbound call: its media on a worker, the scenario run with `direction` = `OUTBOUND`, `from`,
//! `to`, `callId` and the launch's `parameters` as variables, after `pause`. The call is counted in
//! `max_calls` like any other (over it, it fails at once with 503), lasts at most
//! `max_duration`, and writes one call-log line (direction `outbound`), also when unanswered.
//! Dropping the future of [`Engine::place_call`] hangs the call up (or cancels it).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ivory_scenario::{Program, Run, RunOptions};
use ivory_sip::{CallInfo, OutboundEvent, TransportKind};
use tokio::time::Instant;
use tracing::{Instrument, info, warn};

use crate::Engine;
use crate::call_log::{CallRecord, HangupBy};
use crate::leg::Leg;
use crate::leg_dialog::LegDialog;
use crate::leg_setup::{self, RecordBuilder};
use crate::outbound_routing::CallerId;

/// What to call and run.
#[derive(Debug, Clone)]
pub struct PlaceCall {
    /// A dial string: a number routed through `[[routes]]`, `user:NAME` or a `sip:` URI.
    pub to: String,
    /// The caller id (`from` of the launch); else the trunk's default.
    pub from: Option<String>,
    pub scenario_name: String,
    pub program: Arc<Program>,
    /// Extra scenario variables (the launch's `parameters`).
    pub variables: BTreeMap<String, String>,
    pub ring_timeout: Duration,
    /// Silence before the scenario starts once answered.
    pub pause: Duration,
    /// The longest the answered call may last; `None`: `calls.max_duration_seconds`.
    pub max_duration: Option<Duration>,
    /// Record the whole call.
    pub record: bool,
}

/// How a placed call went.
#[derive(Debug, Clone)]
pub struct PlacedCall {
    /// The final SIP status: 200 once answered; 408 for the ring timeout; `None` when it was never
    /// sent (no route, no RTP port, over `max_calls`).
    pub status: Option<u16>,
    /// Why it was not answered, in words.
    pub reason: Option<String>,
    /// Its call-log line (also written to the call log).
    pub record: CallRecord,
}

impl Engine {
    /// Places `call` and, when answered, runs its scenario; resolves when the call is over.
    pub async fn place_call(self: &Arc<Self>, call: PlaceCall) -> PlacedCall {
        let span = tracing::info_span!("outbound", to = %call.to);
        let engine = self.clone();
        async move { engine.place_call_inner(call).await }
            .instrument(span)
            .await
    }

    async fn place_call_inner(self: Arc<Self>, call: PlaceCall) -> PlacedCall {
        let mut info = CallInfo {
            call_id: String::new(),
            from_user: call.from.clone().unwrap_or_default(),
            from_uri: String::new(),
            to_user: call.to.clone(),
            request_user: call.to.clone(),
            remote: SocketAddr::from(([0, 0, 0, 0], 0)),
            transport: TransportKind::Udp,
            local_ip: self.config.rtp_bind_ip,
            local_port: 0,
        };
        let Ok(permit) = self.calls.clone().try_acquire_owned() else {
            return self.not_placed(&info, &call, Some(503), "max-calls");
        };
        let Some(outbound) = self.outbound.clone() else {
            return self.not_placed(&info, &call, None, "no SIP layer to dial with");
        };
        let plan = outbound.plan(
            &call.to,
            CallerId {
                sender_id: call.from.as_deref(),
                caller_number: None,
            },
        );
        let plan = match plan.map(|plans| plans.into_iter().next()) {
            Ok(Some(plan)) => plan,
            Ok(None) => return self.not_placed(&info, &call, None, "nothing to dial"),
            Err(error) => return self.not_placed(&info, &call, None, &error.to_string()),
        };
        let ports = match self.ports.allocate() {
            Ok(ports) => ports,
            Err(error) => return self.not_placed(&info, &call, Some(503), &error.to_string()),
        };
        let (local, offer) = outbound.offer(&plan, ports.rtp_port);
        info.from_user = plan.from_user.clone();
        info.from_uri = format!("sip:{}", plan.from_user);
        info.local_ip = local.address;
        if let Some(destination) = plan.destination {
            info.remote = destination;
        }
        let mut sip_call = match outbound.dialer.call(plan.into_request(offer)) {
            Ok(sip_call) => sip_call,
            Err(error) => return self.not_placed(&info, &call, None, &error.to_string()),
        };
        info.call_id = sip_call.call_id().to_string();
        // The call's record starts with its INVITE, as an inbound call's does.
        let mut record = outbound_record(&info, &call);
        let ring_end = Instant::now() + call.ring_timeout;
        let answer_sdp = loop {
            let event = tokio::select! {
                event = sip_call.next_event() => event,
                () = tokio::time::sleep_until(ring_end) => {
                    sip_call.hangup().await.ok();
                    return self.not_answered(record, Some(408), "no-answer");
                }
            };
            match event {
                Some(OutboundEvent::Answered { sdp }) => break sdp,
                Some(OutboundEvent::Failed { status, reason }) => {
                    return self.not_answered(record, Some(status), &reason);
                }
                Some(OutboundEvent::RemoteHangup | OutboundEvent::Ended { .. }) | None => {
                    return self.not_answered(record, None, "the call ended before an answer");
                }
                Some(_) => {}
            }
        };
        let media = ivory_sip::sdp::answer_offer(&answer_sdp, &local)
            .map_err(|e| e.to_string())
            .and_then(|answer| leg_setup::media_config(&answer))
            .and_then(|config| {
                self.media
                    .attach(
                        config,
                        ports,
                        self.config.rtp_timeout,
                        tracing::Span::current(),
                    )
                    .map_err(|e| e.to_string())
            });
        let media = match media {
            Ok(media) => media,
            Err(reason) => {
                warn!(%reason, "answered call without usable media");
                sip_call.hangup().await.ok();
                return self.not_answered(record, Some(488), &reason);
            }
        };
        info!(call_id = %info.call_id, "placed call answered");
        record.answer_time = Some(leg_setup::wall_clock_now());
        if !call.pause.is_zero() {
            tokio::time::sleep(call.pause).await;
        }
        let mut variables = leg_setup::implicit_variables(&info, &record);
        variables.extend(call.variables.clone());
        let run = Run::with_options(
            call.program.clone(),
            variables,
            std::time::Instant::now(),
            RunOptions {
                unix_time_ms_at_start: u64::try_from(jiff::Timestamp::now().as_millisecond()).ok(),
                schedules: Some(self.schedules.clone()),
                ..RunOptions::default()
            },
        );
        let mut leg = Leg::new(
            self.clone(),
            LegDialog::Outbound {
                call: sip_call,
                info,
            },
            media,
            run,
            local,
            record,
        );
        if let Some(limit) = call.max_duration {
            leg.max_duration = limit;
        }
        if call.record {
            leg.record_whole_call();
        }
        let record = leg.run().await;
        drop(permit);
        PlacedCall {
            status: Some(200),
            reason: None,
            record,
        }
    }

    /// A call that ended without an answer: its call-log line and outcome.
    fn not_placed(
        &self,
        info: &CallInfo,
        call: &PlaceCall,
        status: Option<u16>,
        reason: &str,
    ) -> PlacedCall {
        self.not_answered(outbound_record(info, call), status, reason)
    }

    /// As [`Self::not_placed`], for a call whose INVITE went out (its record started then).
    fn not_answered(
        &self,
        builder: RecordBuilder,
        status: Option<u16>,
        reason: &str,
    ) -> PlacedCall {
        info!(?status, reason, "placed call not answered");
        let record = builder.finish_unanswered(status.unwrap_or(0), HangupBy::System, reason);
        self.call_log.append(record.clone());
        PlacedCall {
            status,
            reason: Some(reason.to_string()),
            record,
        }
    }
}

/// A call-log record for an outbound call, started now.
fn outbound_record(info: &CallInfo, call: &PlaceCall) -> RecordBuilder {
    let mut record = RecordBuilder::new(info);
    record.direction = "outbound";
    record.scenario = Some(call.scenario_name.clone());
    record
}
