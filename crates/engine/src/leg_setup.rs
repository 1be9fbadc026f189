//! From an INVITE to a running leg: routing, RTP ports, SDP answer, ringing, answer; and the call-log
//! record that every call gets, answered or not.

use std::collections::BTreeMap;
use std::sync::Arc;

use ivory_dsp::Codec;
use ivory_rtp::{MediaConfig, MediaStats, PayloadType, RtpTimestamp, SeqNo, Ssrc};
use ivory_scenario::{Run, RunOptions};
use ivory_sip::sdp::{AudioCodec, LocalMedia, SdpAnswer};
use ivory_sip::{CallEvent, CallInfo, InboundCall};
use tokio::time::Instant;
use tracing::{Instrument, info, warn};

use crate::Engine;
use crate::call_log::{CallRecord, HangupBy, LoggedDigit, RtpSummary};
use crate::leg::Leg;
use crate::leg_dialog::LegDialog;

/// How a call ended.
#[derive(Debug, Clone)]
pub(crate) struct CallOutcome {
    pub by: HangupBy,
    pub reason: String,
}

impl CallOutcome {
    pub(crate) fn new(by: HangupBy, reason: &str) -> Self {
        Self {
            by,
            reason: reason.to_string(),
        }
    }
}

/// Collects a call's facts as it goes; becomes its [`CallRecord`].
pub(crate) struct RecordBuilder {
    info: CallInfo,
    /// `inbound`, or `outbound` for a call ivory placed.
    pub direction: &'static str,
    started: Instant,
    start_time: String,
    pub answer_time: Option<String>,
    number: Option<String>,
    pub scenario: Option<String>,
    pub digits: Vec<LoggedDigit>,
    pub notes: Vec<String>,
    /// Files of the `record` actions of this call.
    pub recordings: Vec<String>,
    /// The whole-call recording's file, when the number records calls.
    pub whole_call_file: Option<String>,
    /// The legs dialled out from this call.
    pub legs: Vec<crate::call_log::DialedLeg>,
    /// What `capture` heard.
    pub speech: Vec<crate::call_log::SpokenAnswer>,
}

impl RecordBuilder {
    pub(crate) fn new(info: &CallInfo) -> Self {
        Self {
            info: info.clone(),
            direction: "inbound",
            started: Instant::now(),
            start_time: wall_clock_now(),
            answer_time: None,
            number: None,
            scenario: None,
            digits: Vec::new(),
            notes: Vec::new(),
            recordings: Vec::new(),
            whole_call_file: None,
            legs: Vec::new(),
            speech: Vec::new(),
        }
    }

    pub(crate) fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn finish(
        self,
        status: u16,
        outcome: CallOutcome,
        variables: BTreeMap<String, String>,
        rtp: RtpSummary,
    ) -> CallRecord {
        let duration_ms = self.elapsed_ms();
        CallRecord {
            call_id: self.info.call_id,
            from: self.info.from_user,
            to: self.info.request_user,
            number: self.number,
            scenario: self.scenario,
            direction: self.direction,
            transport: self.info.transport.as_str(),
            remote: self.info.remote.to_string(),
            start_time: self.start_time,
            answer_time: self.answer_time,
            end_time: wall_clock_now(),
            duration_ms,
            status,
            hangup_by: outcome.by,
            hangup_reason: outcome.reason,
            digits: self.digits,
            variables,
            notes: self.notes,
            recordings: self
                .recordings
                .into_iter()
                .chain(self.whole_call_file)
                .collect(),
            rtp,
            legs: self.legs,
            speech: self.speech,
        }
    }

    pub(crate) fn finish_answered(
        self,
        outcome: CallOutcome,
        variables: BTreeMap<String, String>,
        rtp: RtpSummary,
    ) -> CallRecord {
        self.finish(200, outcome, variables, rtp)
    }

    pub(crate) fn finish_unanswered(self, status: u16, by: HangupBy, reason: &str) -> CallRecord {
        self.finish(
            status,
            CallOutcome::new(by, reason),
            BTreeMap::new(),
            RtpSummary::default(),
        )
    }
}

pub(crate) fn rtp_summary(stats: &MediaStats) -> RtpSummary {
    RtpSummary {
        packets_in: stats.packets_in,
        packets_out: stats.packets_out,
        lost: stats.lost,
        late: stats.late,
    }
}

pub(crate) fn wall_clock_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Handles one new call from INVITE to its call-log line.
pub(crate) async fn handle_inbound(engine: Arc<Engine>, call: InboundCall) {
    let span = tracing::info_span!("call", call_id = %call.info().call_id);
    async move {
        let mut record = RecordBuilder::new(call.info());
        let reject =
            |call: &InboundCall, record: RecordBuilder, status: u16, by: HangupBy, reason: &str| {
                if let Err(error) = call.reject(status) {
                    warn!(%error, status, "cannot send the rejection");
                }
                info!(status, reason, "call refused");
                engine
                    .call_log
                    .append(record.finish_unanswered(status, by, reason));
            };

        let Some(route) = engine.router.route(&call.info().request_user).cloned() else {
            return reject(&call, record, 404, HangupBy::Ivory, "not-found");
        };
        record.number = Some(route.pattern.clone());
        let Some((scenario_name, program)) = route.select(jiff::Timestamp::now()) else {
            return reject(&call, record, 480, HangupBy::Ivory, "closed");
        };
        let (scenario_name, program) = (scenario_name.to_string(), program.clone());
        record.scenario = Some(scenario_name.clone());

        let ports = match engine.ports.allocate() {
            Ok(ports) => ports,
            Err(error) => {
                warn!(%error, "no RTP ports");
                return reject(&call, record, 503, HangupBy::System, "no-rtp-ports");
            }
        };
        let local = LocalMedia {
            address: call.info().local_ip,
            rtp_port: ports.rtp_port,
            session_id: rand::random::<u32>().into(),
            session_version: 1,
            codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
        };
        let answer = match ivory_sip::sdp::answer_offer(call.offer(), &local) {
            Ok(answer) => answer,
            Err(error) => {
                info!(%error, "offer not acceptable");
                record.notes.push(format!("SDP: {error}"));
                return reject(&call, record, 488, HangupBy::Ivory, "unsupported-media");
            }
        };

        let mut call = call;
        if let Err(error) = call.ring() {
            warn!(%error, "cannot send 180");
        }
        if !route.answer_after.is_zero()
            && let Some(cancelled) = ring_for(&mut call, route.answer_after).await
        {
            let record = record.finish_unanswered(487, HangupBy::Caller, &cancelled);
            engine.call_log.append(record);
            return;
        }
        let media_config = match media_config(&answer) {
            Ok(config) => config,
            Err(reason) => {
                record.notes.push(reason);
                return reject(&call, record, 488, HangupBy::Ivory, "unsupported-media");
            }
        };
        let media = match engine.media.attach(
            media_config,
            ports,
            engine.config.rtp_timeout,
            tracing::Span::current(),
        ) {
            Ok(media) => media,
            Err(error) => {
                warn!(%error, "no media worker");
                return reject(&call, record, 503, HangupBy::System, "error");
            }
        };
        if let Err(error) = call.answer(answer.body.clone()) {
            warn!(%error, "cannot answer");
            return reject(&call, record, 500, HangupBy::System, "error");
        }
        record.answer_time = Some(wall_clock_now());
        info!(number = %route.pattern, scenario = %scenario_name, "answered");
        let unix_time_ms_at_start = u64::try_from(jiff::Timestamp::now().as_millisecond()).ok();
        let run = Run::with_options(
            program,
            implicit_variables(call.info(), &record),
            std::time::Instant::now(),
            RunOptions {
                unix_time_ms_at_start,
                schedules: Some(engine.schedules.clone()),
                ..RunOptions::default()
            },
        );
        let mut leg = Leg::new(
            engine.clone(),
            LegDialog::Inbound(call),
            media,
            run,
            local,
            record,
        );
        if route.record_calls {
            leg.record_whole_call();
        }
        leg.run().await;
    }
    .instrument(span)
    .await
}

/// Refuses a call before any routing (the engine is at `max_calls`), with its call-log line.
pub(crate) fn refuse(engine: &Engine, call: &InboundCall, status: u16, reason: &str) {
    if let Err(error) = call.reject(status) {
        warn!(%error, status, "cannot send the rejection");
    }
    let record =
        RecordBuilder::new(call.info()).finish_unanswered(status, HangupBy::System, reason);
    engine.call_log.append(record);
}

/// Rings for `duration`; `Some(reason)` when the caller gave up (CANCEL) or the dialog ended.
async fn ring_for(call: &mut InboundCall, duration: std::time::Duration) -> Option<String> {
    let until = Instant::now() + duration;
    loop {
        tokio::select! {
            event = call.next_event() => match event {
                Some(CallEvent::Cancelled) => return Some("cancel".into()),
                Some(CallEvent::Ended { reason }) => return Some(reason),
                None => return Some("dialog-gone".into()),
                Some(_) => {}
            },
            () = tokio::time::sleep_until(until) => return None,
        }
    }
}

/// The media session's settings from the SDP answer and fresh random identifiers.
pub(crate) fn media_config(answer: &SdpAnswer) -> Result<MediaConfig, String> {
    let media = &answer.media;
    let codec = match media.codec {
        AudioCodec::Pcmu => Codec::Pcmu,
        AudioCodec::Pcma => Codec::Pcma,
    };
    let payload_type = |pt: u8| PayloadType::new(pt).map_err(|e| format!("payload type {pt}: {e}"));
    Ok(MediaConfig {
        codec,
        audio_payload_type: payload_type(media.audio_payload_type)?,
        telephone_event_payload_type: media
            .telephone_event_payload_type
            .map(payload_type)
            .transpose()?,
        remote: media.remote_rtp,
        ssrc: Ssrc(rand::random()),
        initial_sequence: SeqNo(rand::random()),
        initial_timestamp: RtpTimestamp(rand::random()),
        inband_dtmf: true,
    })
}

pub(crate) fn implicit_variables(
    info: &CallInfo,
    record: &RecordBuilder,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("from".to_string(), info.from_user.clone()),
        ("to".to_string(), info.request_user.clone()),
        ("callId".to_string(), info.call_id.clone()),
        (
            "direction".to_string(),
            record.direction.to_ascii_uppercase(),
        ),
        ("startTime".to_string(), record.start_time.clone()),
        (
            "answerTime".to_string(),
            record.answer_time.clone().unwrap_or_default(),
        ),
    ])
}
