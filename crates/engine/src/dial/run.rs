//! The dial loop: runs inside the caller's leg task while the scenario waits for the dial, and
//! watches the caller's dialog and media, every dialled leg's SIP events and the bridged leg's
//! media, and the ring and call-duration timers. See the module docs of [`super`].

use std::time::Duration;

use ivory_dsp::DtmfDigit;
use ivory_scenario::{DialStatus, Event};
use ivory_sip::{CallEvent, OutboundEvent};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

use super::attempt::{Attempt, AttemptEvent, AttemptState};
use super::{Outbound, TargetEnd, ringback, status_for};
use crate::leg::Leg;
use crate::media_worker::{BridgeEnd, MediaNotice};
use crate::outbound_routing::{CallerId, DialPlan};

/// How long a digit crossing the bridge is sent for.
const BRIDGED_DIGIT: Duration = Duration::from_millis(100);

/// A `dial`/`dialToMany` command.
pub(crate) struct DialRequest {
    pub destinations: Vec<String>,
    pub parallel: bool,
    pub sender_id: Option<String>,
    pub ring_timeout: Duration,
    pub max_call_duration: Option<Duration>,
}

/// What woke the loop.
enum Wake {
    Caller(Option<CallEvent>),
    CallerMedia(Option<MediaNotice>),
    Attempt(AttemptEvent),
    CalleeMedia(Option<MediaNotice>),
    Timer,
}

/// One dial string, planned.
struct Target {
    text: String,
    plans: Result<Vec<DialPlan>, String>,
}

/// The dial's state besides the leg.
struct Dial {
    attempts: Vec<Attempt>,
    /// Outcomes of targets that ended without an answer.
    ends: Vec<TargetEnd>,
    /// Groups to ring, in order (one per target, or one for all when parallel).
    groups: Vec<Vec<Target>>,
    next_group: usize,
    ring_deadline: Instant,
    /// The attempt whose early media the caller hears.
    early: Option<usize>,
    connected: Option<usize>,
    bridge_deadline: Option<Instant>,
    events: mpsc::UnboundedSender<AttemptEvent>,
    ring_timeout: Duration,
    max_call_duration: Option<Duration>,
}

impl Leg {
    /// Carries out a dial and tells the run how it went ([`Event::DialFinished`]).
    pub(crate) async fn dial(&mut self, request: DialRequest) {
        let Some(outbound) = self.engine.outbound.clone() else {
            self.fail_action("dialling out needs [[trunks]], [[users]] or a sip: URI target, and the SIP layer; none is configured");
            return;
        };
        let targets = self.plan_targets(&outbound, &request);
        let groups: Vec<Vec<Target>> = if request.parallel {
            vec![targets]
        } else {
            targets.into_iter().map(|target| vec![target]).collect()
        };
        let (events, mut event_receiver) = mpsc::unbounded_channel();
        let mut dial = Dial {
            attempts: Vec::new(),
            ends: Vec::new(),
            groups,
            next_group: 0,
            ring_deadline: Instant::now(),
            early: None,
            connected: None,
            bridge_deadline: None,
            events,
            ring_timeout: request.ring_timeout,
            max_call_duration: request.max_call_duration,
        };
        self.start_ringback();
        let mut finished = !self.ring_next_group(&outbound, &mut dial);
        if finished {
            // Nothing could be dialled at all.
            self.tell_dial_result(&dial, false);
        }
        while !finished {
            let deadline = self.dial_deadline(&dial);
            let bridged = dial.connected.or(dial.early);
            let wake = tokio::select! {
                event = self.call.next_event() => Wake::Caller(event),
                notice = self.media.next_notice(), if !self.media.is_closed() => {
                    Wake::CallerMedia(notice)
                }
                Some(event) = event_receiver.recv() => Wake::Attempt(event),
                notice = callee_notice(&mut dial.attempts, bridged) => Wake::CalleeMedia(notice),
                () = tokio::time::sleep_until(deadline) => Wake::Timer,
            };
            finished = match wake {
                Wake::Caller(event) => self.dial_caller_event(&mut dial, event).await,
                Wake::CallerMedia(notice) => self.dial_caller_media(&mut dial, notice).await,
                Wake::Attempt((index, event)) => {
                    self.dial_attempt_event(&outbound, &mut dial, index, event)
                        .await
                }
                Wake::CalleeMedia(notice) => self.dial_callee_media(&mut dial, notice),
                Wake::Timer => self.dial_timer(&outbound, &mut dial).await,
            };
        }
        self.finish_dial(dial).await;
    }

    fn plan_targets(&mut self, outbound: &Outbound, request: &DialRequest) -> Vec<Target> {
        let caller_number = self.call.info().from_user.clone();
        request
            .destinations
            .iter()
            .map(|text| {
                let plans = outbound.plan(
                    text,
                    CallerId {
                        sender_id: request.sender_id.as_deref(),
                        caller_number: Some(caller_number.as_str()),
                    },
                );
                Target {
                    text: text.clone(),
                    plans: plans.map_err(|error| error.to_string()),
                }
            })
            .collect()
    }

    /// Starts the next group's calls; false when no group is left to ring.
    fn ring_next_group(&mut self, outbound: &Outbound, dial: &mut Dial) -> bool {
        while dial.next_group < dial.groups.len() {
            let group = dial.next_group;
            dial.next_group += 1;
            let targets = std::mem::take(&mut dial.groups[group]);
            let mut started = 0;
            for target in targets {
                let plans = match target.plans {
                    Ok(plans) => plans,
                    Err(reason) => {
                        self.note_dial(format!("dial {}: {reason}", target.text));
                        dial.ends.push(TargetEnd::NotDialled);
                        continue;
                    }
                };
                for plan in plans {
                    let uri = plan.request_uri.clone();
                    let index = dial.attempts.len();
                    match Attempt::start(
                        &self.engine,
                        outbound,
                        plan,
                        &target.text,
                        index,
                        dial.events.clone(),
                    ) {
                        Ok(attempt) => {
                            info!(target = %target.text, %uri, "dialling");
                            dial.attempts.push(attempt);
                            started += 1;
                        }
                        Err(reason) => {
                            self.note_dial(format!("dial {} ({uri}): {reason}", target.text));
                            dial.ends.push(TargetEnd::NotDialled);
                        }
                    }
                }
            }
            if started > 0 {
                dial.ring_deadline = Instant::now() + dial.ring_timeout;
                return true;
            }
        }
        false
    }

    fn dial_deadline(&self, dial: &Dial) -> Instant {
        let leg_end = self.max_end();
        match (dial.connected, dial.bridge_deadline) {
            (Some(_), Some(deadline)) => deadline.min(leg_end),
            (Some(_), None) => leg_end,
            (None, _) => dial.ring_deadline.min(leg_end),
        }
    }

    /// The caller's dialog: hang-ups end everything; digits cross the bridge. True when the dial
    /// is over.
    async fn dial_caller_event(&mut self, dial: &mut Dial, event: Option<CallEvent>) -> bool {
        match event {
            Some(CallEvent::InfoDigit(digit)) => {
                self.log_digit(digit, "info");
                if let Some(media) = connected_media(dial)
                    && let Some(digit) = DtmfDigit::from_char(digit)
                {
                    media.send_digit(digit, BRIDGED_DIGIT);
                }
                false
            }
            Some(CallEvent::Confirmed) => false,
            Some(offer @ CallEvent::Offer { .. }) => {
                self.on_call_event(Some(offer)).await;
                false
            }
            ended => {
                self.tell_dial_result(dial, true);
                self.on_call_event(ended).await;
                true
            }
        }
    }

    async fn dial_caller_media(&mut self, dial: &mut Dial, notice: Option<MediaNotice>) -> bool {
        match notice {
            Some(MediaNotice::Digit { digit, source, .. }) => {
                self.log_digit(digit, source);
                // An in-band tone reaches the callee inside the audio already.
                if source == "rfc4733"
                    && let Some(media) = connected_media(dial)
                    && let Some(digit) = DtmfDigit::from_char(digit)
                {
                    media.send_digit(digit, BRIDGED_DIGIT);
                }
                false
            }
            Some(MediaNotice::PlaybackFinished { .. }) => false,
            other => {
                self.on_media_notice(other).await;
                if self.outcome.is_some() {
                    self.tell_dial_result(dial, true);
                    return true;
                }
                false
            }
        }
    }

    async fn dial_attempt_event(
        &mut self,
        outbound: &Outbound,
        dial: &mut Dial,
        index: usize,
        event: Option<OutboundEvent>,
    ) -> bool {
        let Some(attempt) = dial.attempts.get_mut(index) else {
            return false;
        };
        if !attempt.is_live() {
            // Given up already: an answer that still comes is hung up at once.
            if matches!(event, Some(OutboundEvent::Answered { .. })) {
                attempt.hang_up(false);
            }
            if let Some(OutboundEvent::Failed { status, .. }) = event
                && attempt.state == AttemptState::Abandoned
            {
                attempt.state = AttemptState::Over(status);
            }
            return false;
        }
        let near = self.media.worker();
        match event {
            Some(OutboundEvent::Trying | OutboundEvent::Ringing) => false,
            Some(OutboundEvent::EarlyMedia { sdp }) => {
                if let Err(reason) = attempt.take_sdp(&self.engine, &sdp, near) {
                    self.note_dial(format!("early media from {}: {reason}", attempt.target));
                    return false;
                }
                if dial.early.is_none() && dial.connected.is_none() {
                    dial.early = Some(index);
                    self.bridge_with(dial, index);
                }
                false
            }
            Some(OutboundEvent::Answered { sdp }) => {
                if dial.connected.is_some() {
                    attempt.hang_up(false);
                    return false;
                }
                if let Err(reason) = attempt.take_sdp(&self.engine, &sdp, near) {
                    self.note_dial(format!("answer from {}: {reason}", attempt.target));
                    attempt.hang_up(false);
                    attempt.state = AttemptState::Over(488);
                    dial.ends.push(TargetEnd::Rejected(488));
                    return self.after_attempt_end(outbound, dial, index);
                }
                attempt.answered();
                info!(target = %attempt.target, "dialled leg answered; bridged");
                dial.connected = Some(index);
                dial.bridge_deadline = dial.max_call_duration.map(|limit| Instant::now() + limit);
                self.bridge_with(dial, index);
                for (other, attempt) in dial.attempts.iter_mut().enumerate() {
                    if other != index && attempt.is_live() {
                        attempt.hang_up(true);
                    }
                }
                false
            }
            Some(OutboundEvent::Failed { status, reason }) => {
                info!(target = %attempt.target, status, %reason, "dialled leg failed");
                attempt.state = AttemptState::Over(status);
                attempt.mark_ended();
                dial.ends.push(TargetEnd::Rejected(status));
                self.after_attempt_end(outbound, dial, index)
            }
            Some(OutboundEvent::RemoteHangup | OutboundEvent::Ended { .. }) | None => {
                let was_connected = dial.connected == Some(index);
                if was_connected {
                    attempt.state = AttemptState::Over(200);
                } else {
                    attempt.state = AttemptState::Over(0);
                    dial.ends.push(TargetEnd::NotDialled);
                }
                attempt.mark_ended();
                if was_connected {
                    self.tell_dial_result(dial, false);
                    return true;
                }
                self.after_attempt_end(outbound, dial, index)
            }
            Some(OutboundEvent::Offer { sdp, responder }) => {
                attempt.answer_offer(&sdp, responder).await;
                false
            }
            Some(OutboundEvent::InfoDigit(digit)) => {
                if dial.connected == Some(index) {
                    self.log_digit(digit, "callee-info");
                    if let Some(digit) = DtmfDigit::from_char(digit) {
                        self.media.send_digit(digit, BRIDGED_DIGIT);
                    }
                }
                false
            }
        }
    }

    /// An attempt ended unanswered: stop hearing its early media; when its group has no live
    /// attempt left, ring the next group or end the dial. True when the dial is over.
    fn after_attempt_end(&mut self, outbound: &Outbound, dial: &mut Dial, index: usize) -> bool {
        if dial.early == Some(index) {
            dial.early = None;
            self.media.unbridge();
            self.start_ringback();
        }
        if dial.connected.is_some() || dial.attempts.iter().any(Attempt::is_live) {
            return false;
        }
        if self.ring_next_group(outbound, dial) {
            return false;
        }
        self.tell_dial_result(dial, false);
        true
    }

    fn dial_callee_media(&mut self, dial: &mut Dial, notice: Option<MediaNotice>) -> bool {
        match notice {
            Some(MediaNotice::Digit { digit, source, .. }) => {
                if dial.connected.is_some() && source == "rfc4733" {
                    self.log_digit(digit, "callee-rfc4733");
                    if let Some(digit) = DtmfDigit::from_char(digit) {
                        self.media.send_digit(digit, BRIDGED_DIGIT);
                    }
                }
                false
            }
            Some(MediaNotice::RtpTimeout) | None if dial.connected.is_some() => {
                self.note_dial("the dialled leg's RTP stopped: hung up".into());
                if let Some(attempt) = dial.connected.and_then(|i| dial.attempts.get_mut(i)) {
                    attempt.hang_up(false);
                }
                self.tell_dial_result(dial, false);
                true
            }
            _ => false,
        }
    }

    async fn dial_timer(&mut self, outbound: &Outbound, dial: &mut Dial) -> bool {
        let now = Instant::now();
        if now >= self.max_end() {
            self.tell_dial_result(dial, true);
            self.end_by_ivory(crate::call_log::HangupBy::System, "max-duration")
                .await;
            return true;
        }
        match dial.connected {
            Some(index) => {
                if dial.bridge_deadline.is_some_and(|deadline| now >= deadline) {
                    self.note_dial("maximumCallDuration reached: dialled leg hung up".into());
                    if let Some(attempt) = dial.attempts.get_mut(index) {
                        attempt.hang_up(false);
                    }
                    self.tell_dial_result(dial, false);
                    return true;
                }
                false
            }
            None if now >= dial.ring_deadline => {
                for attempt in dial.attempts.iter_mut().filter(|a| a.is_live()) {
                    attempt.hang_up(true);
                    dial.ends.push(TargetEnd::RingTimeout);
                }
                if dial.early.take().is_some() {
                    self.media.unbridge();
                    self.start_ringback();
                }
                if self.ring_next_group(outbound, dial) {
                    return false;
                }
                self.tell_dial_result(dial, false);
                true
            }
            None => false,
        }
    }

    /// Tells the run how the dial went. `caller_left`: the caller hung up (or the call ends) while
    /// it rang: NO_ANSWER 487 unless a callee had answered.
    fn tell_dial_result(&mut self, dial: &Dial, caller_left: bool) {
        let (status, sip_code) = if dial.connected.is_some() {
            (DialStatus::Answered, Some(200))
        } else if caller_left {
            (DialStatus::NoAnswer, Some(487))
        } else {
            status_for(&dial.ends)
        };
        info!(%status, ?sip_code, "dial finished");
        self.run.handle_event(
            Instant::now().into_std(),
            Event::DialFinished { status, sip_code },
        );
    }

    /// Hangs up what is still up, unbridges the caller, and logs every dialled leg.
    async fn finish_dial(&mut self, mut dial: Dial) {
        self.generation += 1;
        self.media.unbridge();
        self.media.stop_playback();
        for attempt in &mut dial.attempts {
            if attempt.is_live() {
                attempt.hang_up(true);
            }
        }
        for attempt in dial.attempts {
            let leg = attempt.finish().await;
            self.record.legs.push(leg);
        }
    }

    /// Bridges the caller with attempt `index` (replacing any bridge), ending the ringback.
    fn bridge_with(&mut self, dial: &Dial, index: usize) {
        let Some(media) = dial.attempts.get(index).and_then(|a| a.media.as_ref()) else {
            return;
        };
        self.generation += 1;
        self.media.stop_playback();
        let (caller_end, callee_end) = BridgeEnd::pair();
        self.media.bridge(caller_end);
        media.bridge(callee_end);
    }

    fn start_ringback(&mut self) {
        self.generation += 1;
        self.media
            .play(self.generation, ringback::ringback(), u32::MAX, None);
    }

    fn note_dial(&mut self, note: String) {
        warn!(%note, "dial");
        self.record.notes.push(note);
    }
}

fn connected_media(dial: &Dial) -> Option<&crate::media_worker::MediaHandle> {
    dial.connected
        .and_then(|index| dial.attempts.get(index))
        .and_then(|attempt| attempt.media.as_ref())
}

/// The next notice of the bridged callee's media slot; never resolves when there is none.
async fn callee_notice(attempts: &mut [Attempt], index: Option<usize>) -> Option<MediaNotice> {
    match index
        .and_then(|index| attempts.get_mut(index))
        .and_then(|attempt| attempt.media.as_mut())
    {
        Some(media) if !media.is_closed() => media.next_notice().await,
        _ => std::future::pending().await,
    }
}
