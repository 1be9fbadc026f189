//! One outbound leg of a dial: its INVITE (read by a small forwarding task), its RTP ports and
//! SDP, and, once the callee sent SDP (183 or 200), its media slot beside the caller's.

use std::time::Duration;

use ivory_sip::sdp::{LocalMedia, MediaDirection};
use ivory_sip::{OutboundControl, OutboundEvent};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::Engine;
use crate::call_log::DialedLeg;
use crate::leg_setup::{self, rtp_summary};
use crate::media_worker::MediaHandle;
use crate::outbound_routing::DialPlan;
use crate::ports::PortPair;

/// How long the callee's media slot may take to confirm its close.
const MEDIA_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// An event of attempt `index`; `None` after its last event.
pub(crate) type AttemptEvent = (usize, Option<OutboundEvent>);

/// Where an attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptState {
    Calling,
    Answered,
    /// Ended with this final status (200 once it was answered).
    Over(u16),
    /// Given up by us (ring timeout, another answered, the caller left): its events are ignored
    /// and an answer that still comes is hung up at once.
    Abandoned,
}

pub(crate) struct Attempt {
    /// The dial string it came from.
    pub target: String,
    pub state: AttemptState,
    control: OutboundControl,
    call_id: String,
    local: LocalMedia,
    ports: Option<PortPair>,
    pub media: Option<MediaHandle>,
    answered_at: Option<Instant>,
    ended_at: Option<Instant>,
}

impl Attempt {
    /// Sends the INVITE for `plan`; events arrive on `events` tagged `index`.
    pub(crate) fn start(
        engine: &Engine,
        outbound: &super::Outbound,
        plan: DialPlan,
        target: &str,
        index: usize,
        events: UnboundedSender<AttemptEvent>,
    ) -> Result<Attempt, String> {
        let ports = engine.ports.allocate().map_err(|e| e.to_string())?;
        let (local, offer) = outbound.offer(&plan, ports.rtp_port);
        let mut call = outbound
            .dialer
            .call(plan.into_request(offer))
            .map_err(|e| e.to_string())?;
        let control = call.control();
        let call_id = call.call_id().to_string();
        // The leg counts as live until its dialog's last event, also after the dial let go of it.
        let live = engine.count_dialled_leg();
        tokio::spawn(async move {
            let _live = live;
            while let Some(event) = call.next_event().await {
                if events.send((index, Some(event))).is_err() {
                    // The dial is over; dropping the call hangs it up if it is still up.
                    return;
                }
            }
            events.send((index, None)).ok();
        });
        Ok(Attempt {
            target: target.to_string(),
            state: AttemptState::Calling,
            control,
            call_id,
            local,
            ports: Some(ports),
            media: None,
            answered_at: None,
            ended_at: None,
        })
    }

    pub(crate) fn is_live(&self) -> bool {
        matches!(self.state, AttemptState::Calling | AttemptState::Answered)
    }

    /// Takes the callee's SDP (early media or answer): attaches the media slot beside the
    /// caller's on the first, follows a moved address after. `Err` when the SDP is unusable.
    pub(crate) fn take_sdp(
        &mut self,
        engine: &Engine,
        sdp: &[u8],
        near_worker: usize,
    ) -> Result<(), String> {
        let answer =
            ivory_sip::sdp::answer_offer(sdp, &self.local).map_err(|e| format!("SDP: {e}"))?;
        if let Some(media) = &self.media {
            if let Some(remote) = answer.media.remote_rtp {
                media.set_remote(remote);
            }
            return Ok(());
        }
        let Some(ports) = self.ports.take() else {
            return Err("no RTP ports".into());
        };
        let mut config = leg_setup::media_config(&answer)?;
        // Digits from the callee that matter come as RFC 4733; in-band tones reach the caller
        // inside the bridged audio, so the detector would only cost CPU.
        config.inband_dtmf = false;
        let media = engine
            .media
            .attach_near(
                Some(near_worker),
                config,
                ports,
                engine.config.rtp_timeout,
                tracing::Span::current(),
            )
            .map_err(|e| e.to_string())?;
        self.media = Some(media);
        Ok(())
    }

    /// The callee answered.
    pub(crate) fn answered(&mut self) {
        self.state = AttemptState::Answered;
        self.answered_at = Some(Instant::now());
    }

    /// The callee's re-INVITE: answered from our side of the SDP, or refused with 488.
    pub(crate) async fn answer_offer(&mut self, sdp: &[u8], responder: ivory_sip::OfferResponder) {
        self.local.session_version += 1;
        match ivory_sip::sdp::answer_offer(sdp, &self.local) {
            Ok(answer) => {
                if let Some(media) = &self.media {
                    if let Some(remote) = answer.media.remote_rtp {
                        media.set_remote(remote);
                    }
                    media.set_sending(matches!(
                        answer.media.local_direction,
                        MediaDirection::SendRecv | MediaDirection::SendOnly
                    ));
                }
                if let Err(error) = responder.answer(answer.body).await {
                    warn!(%error, "cannot answer the callee's re-INVITE");
                }
            }
            Err(error) => {
                debug!(%error, "callee re-INVITE refused");
                responder.reject(488).await.ok();
            }
        }
    }

    /// Ends it from our side: CANCEL before an answer, BYE after; sent from a task of its own so
    /// the dial's loop never waits for the far end. Its media slot closes.
    pub(crate) fn hang_up(&mut self, abandoned: bool) {
        if abandoned && self.state == AttemptState::Calling {
            self.state = AttemptState::Abandoned;
        } else if self.state == AttemptState::Answered {
            self.state = AttemptState::Over(200);
        }
        self.mark_ended();
        let control = self.control.clone();
        tokio::spawn(async move {
            if let Err(error) = control.hangup().await {
                debug!(%error, "hang-up of a dialled leg failed");
            }
        });
        if let Some(media) = &self.media {
            media.request_close();
        }
    }

    pub(crate) fn mark_ended(&mut self) {
        self.ended_at.get_or_insert_with(Instant::now);
    }

    /// Closes the media slot (if any) and returns the leg's call-log entry.
    pub(crate) async fn finish(mut self) -> DialedLeg {
        self.mark_ended();
        let mut stats = None;
        if let Some(mut media) = self.media.take() {
            media.request_close();
            let drain = async { while media.next_notice().await.is_some() {} };
            if tokio::time::timeout(MEDIA_CLOSE_WAIT, drain).await.is_err() {
                media.abandon();
            }
            stats = media.final_stats();
        }
        let connected_ms = match (self.answered_at, self.ended_at) {
            (Some(answered), Some(ended)) => {
                u64::try_from(ended.saturating_duration_since(answered).as_millis()).unwrap_or(0)
            }
            _ => 0,
        };
        DialedLeg {
            target: self.target,
            call_id: self.call_id,
            status: match self.state {
                AttemptState::Over(code) => Some(code),
                AttemptState::Answered => Some(200),
                AttemptState::Calling | AttemptState::Abandoned => None,
            },
            answered: self.answered_at.is_some(),
            connected_ms,
            rtp: stats.as_ref().map(rtp_summary).unwrap_or_default(),
        }
    }
}
