//! One inbound call leg: the SIP dialog, the RTP session and the scenario run, owned by one task.
//!
//! The task is a thin driver around two sans-IO machines ([`MediaSession`] and [`Run`]): it reads the
//! call's RTP/RTCP sockets, its dialog events and the completions of slow work done elsewhere (prompt
//! loads, HTTP requests), feeds them in with the current time, drains transmits, media events, tapped
//! audio and scenario commands, and sleeps until the earliest deadline either machine asks for.
//! Scenario commands are carried out in [`crate::leg_commands`]. Nothing is shared with other calls
//! but the prompt cache and the recordings index.

use std::sync::Arc;
use std::time::Duration;

use ivory_rtp::{DigitSource, MediaEvent, MediaSession, PlaybackId, Prompt};
use ivory_scenario::{Event, Run};
use ivory_sip::sdp::{LocalMedia, MediaDirection};
use ivory_sip::{CallEvent, InboundCall};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::Engine;
use crate::call_log::{HangupBy, LoggedDigit};
use crate::leg_setup::{self, CallOutcome, RecordBuilder};
use crate::ports::PortPair;
use crate::tap_listeners::{TapListeners, TapOutcome};

/// How long `onHangup` actions may run after the caller has gone.
const ON_HANGUP_BUDGET: Duration = Duration::from_secs(30);

/// Slow work finished on another task.
pub(crate) enum Completion {
    /// A prompt load for play generation `generation`.
    Prompt {
        generation: u64,
        result: Result<Prompt, String>,
        loop_count: u32,
    },
    /// An event for the scenario (an HTTP answer, a failed action).
    Scenario(Event),
}

/// What is playing now.
pub(crate) struct CurrentPlayback {
    pub id: PlaybackId,
    pub prompt: Prompt,
    pub loops_left: u32,
    /// The beep before a recording: when it ends, the recording starts (the run is not told).
    pub then_record: Option<crate::leg_commands::PendingRecording>,
}

pub(crate) struct Leg {
    pub(crate) engine: Arc<Engine>,
    pub(crate) call: InboundCall,
    pub(crate) media: MediaSession,
    pub(crate) run: Run,
    ports: PortPair,
    local: LocalMedia,
    pub(crate) record: RecordBuilder,
    answered_at: Instant,
    pub(crate) completions_tx: mpsc::UnboundedSender<Completion>,
    completions_rx: mpsc::UnboundedReceiver<Completion>,
    /// Bumped on every play/stop so that a slow load for a superseded prompt is ignored.
    pub(crate) generation: u64,
    pub(crate) playing: Option<CurrentPlayback>,
    pub(crate) tap: TapListeners,
    pub(crate) recordings_made: u32,
    on_hold: bool,
    pub(crate) outcome: Option<CallOutcome>,
}

impl Leg {
    pub(crate) fn new(
        engine: Arc<Engine>,
        call: InboundCall,
        media: MediaSession,
        run: Run,
        ports: PortPair,
        local: LocalMedia,
        record: RecordBuilder,
    ) -> Self {
        let (completions_tx, completions_rx) = mpsc::unbounded_channel();
        Self {
            engine,
            call,
            media,
            run,
            ports,
            local,
            record,
            answered_at: Instant::now(),
            completions_tx,
            completions_rx,
            generation: 0,
            playing: None,
            tap: TapListeners::default(),
            recordings_made: 0,
            on_hold: false,
            outcome: None,
        }
    }

    /// Starts the whole-call recording (caller left, ivory right).
    pub(crate) fn record_whole_call(&mut self) {
        let (file, path) = self
            .engine
            .recordings
            .path_for(self.call.info().call_id.as_str(), "call");
        match self.tap.start_whole_call(&path) {
            Ok(()) => self.record.whole_call_file = Some(file),
            Err(reason) => self
                .record
                .notes
                .push(format!("whole-call recording failed: {reason}")),
        }
    }

    /// Runs the call to its end and writes its call-log line.
    pub(crate) async fn run(mut self) {
        let mut rtp_buffer = [0u8; 2048];
        let mut rtcp_buffer = [0u8; 1500];
        let max_end = self.answered_at + self.engine.config.max_call_duration;
        loop {
            self.pump().await;
            if self.outcome.is_some() {
                break;
            }
            let deadline = self.next_deadline(max_end);
            tokio::select! {
                event = self.call.next_event() => self.on_call_event(event).await,
                received = self.ports.rtp.recv_from(&mut rtp_buffer) => {
                    if let Ok((len, from)) = received {
                        self.media.handle_datagram(Instant::now().into_std(), from, &rtp_buffer[..len]);
                    }
                }
                // RTCP is drained so the socket never fills; reports are not read yet.
                _ = self.ports.rtcp.recv_from(&mut rtcp_buffer) => {}
                Some(completion) = self.completions_rx.recv() => self.on_completion(completion),
                () = tokio::time::sleep_until(deadline) => {}
            }
            let now = Instant::now();
            if now >= max_end {
                self.end_by_ivory(HangupBy::System, "max-duration").await;
            } else if self.rtp_timed_out(now) {
                self.end_by_ivory(HangupBy::System, "rtp-timeout").await;
            }
        }
        self.close_recordings().await;
        self.finish_on_hangup_actions().await;
        self.finish().await;
    }

    fn next_deadline(&self, max_end: Instant) -> Instant {
        let rtp_check = Instant::now() + Duration::from_secs(1);
        [self.media.poll_timeout(), self.run.poll_timeout()]
            .into_iter()
            .flatten()
            .map(Instant::from_std)
            .chain([rtp_check, max_end])
            .min()
            .unwrap_or(rtp_check)
    }

    fn rtp_timed_out(&self, now: Instant) -> bool {
        if self.on_hold {
            return false;
        }
        let last = self
            .media
            .stats()
            .last_received
            .map(Instant::from_std)
            .unwrap_or(self.answered_at);
        now.duration_since(last) > self.engine.config.rtp_timeout
    }

    /// Feeds time to both machines and drains everything they produced, until both are quiet.
    async fn pump(&mut self) {
        let mut out = [0u8; 1500];
        loop {
            let now = Instant::now().into_std();
            self.media.handle_timeout(now);
            self.run.handle_timeout(now);
            while let Some((len, to)) = self.media.poll_transmit(&mut out) {
                if let Err(error) = self.ports.rtp.send_to(&out[..len], to).await {
                    debug!(%error, %to, "RTP send failed");
                }
            }
            let mut progressed = self.drain_tap().await;
            while let Some(event) = self.media.poll_event() {
                progressed = true;
                self.on_media_event(event);
            }
            while let Some(command) = self.run.poll_command() {
                progressed = true;
                self.on_command(command).await;
            }
            if !progressed || self.outcome.is_some() {
                return;
            }
        }
    }

    /// Passes tapped audio to whoever listens and acts on what they decided.
    async fn drain_tap(&mut self) -> bool {
        let wants = self.tap.wants_audio();
        self.media.set_tap(wants);
        if wants {
            let mut caller = [0i16; 160];
            let mut ivory = [0i16; 160];
            while self.media.poll_tapped_frame(&mut caller, &mut ivory) {
                self.tap.on_frame(&caller, &ivory);
            }
        }
        self.handle_tap_outcomes().await
    }

    pub(crate) async fn handle_tap_outcomes(&mut self) -> bool {
        let outcomes = self.tap.drain_outcomes();
        let progressed = !outcomes.is_empty();
        let now = Instant::now().into_std();
        for outcome in outcomes {
            let event = match outcome {
                TapOutcome::RecordingStopped {
                    identifier,
                    file,
                    duration_ms,
                    reason,
                } => {
                    info!(%identifier, duration_ms, %reason, "recording finished");
                    self.index_recording(&identifier, &file, duration_ms, "record")
                        .await;
                    self.record.recordings.push(file);
                    Event::RecordingFinished {
                        identifier,
                        duration_ms,
                    }
                }
                TapOutcome::RecordingFailed { reason } => Event::ActionFailed {
                    reason: format!("recording failed: {reason}"),
                },
                TapOutcome::Machine { machine } => Event::MachineDetected { machine },
            };
            self.run.handle_event(now, event);
        }
        progressed
    }

    pub(crate) async fn index_recording(
        &mut self,
        identifier: &str,
        file: &str,
        duration_ms: u64,
        kind: &str,
    ) {
        let entry = crate::recordings::RecordingEntry {
            identifier: identifier.to_string(),
            call_id: self.call.info().call_id.clone(),
            file: file.to_string(),
            duration_ms,
            kind: kind.to_string(),
            created_at: leg_setup::wall_clock_now(),
        };
        if let Err(error) = self.engine.recordings.add(entry).await {
            warn!(%error, "cannot index a recording");
            self.record
                .notes
                .push(format!("recording {file} not indexed: {error}"));
        }
    }

    fn on_media_event(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Digit { digit, source } => {
                let source = match source {
                    DigitSource::Rfc4733 => "rfc4733",
                    DigitSource::Inband => "inband",
                };
                self.on_digit(digit.to_char(), source);
            }
            MediaEvent::PlaybackFinished { id } => self.on_playback_finished(id),
        }
    }

    fn on_playback_finished(&mut self, id: PlaybackId) {
        let Some(current) = self.playing.as_mut().filter(|p| p.id == id) else {
            return;
        };
        if current.loops_left > 1 {
            current.loops_left -= 1;
            let prompt = current.prompt.clone();
            current.id = self.media.play(prompt);
            return;
        }
        let then_record = current.then_record.take();
        self.playing = None;
        match then_record {
            Some(pending) => self.start_recording(pending),
            None => self
                .run
                .handle_event(Instant::now().into_std(), Event::PlaybackFinished),
        }
    }

    pub(crate) fn on_digit(&mut self, digit: char, source: &'static str) {
        info!(source, "digit received");
        self.record.digits.push(LoggedDigit {
            digit,
            source,
            at_ms: self.record.elapsed_ms(),
        });
        // During a recording, digits are the recorder's (escape digits), not the scenario's.
        if self.tap.is_recording() {
            self.tap.on_digit(digit);
            return;
        }
        self.run
            .handle_event(Instant::now().into_std(), Event::Digit(digit));
    }

    fn on_completion(&mut self, completion: Completion) {
        match completion {
            Completion::Prompt {
                generation,
                result,
                loop_count,
            } => self.on_prompt_loaded(generation, result, loop_count),
            Completion::Scenario(event) => self.run.handle_event(Instant::now().into_std(), event),
        }
    }

    fn on_prompt_loaded(
        &mut self,
        generation: u64,
        result: Result<Prompt, String>,
        loop_count: u32,
    ) {
        if generation != self.generation {
            return;
        }
        match result {
            Ok(prompt) => {
                let id = self.media.play(prompt.clone());
                self.playing = Some(CurrentPlayback {
                    id,
                    prompt,
                    loops_left: loop_count.max(1),
                    then_record: None,
                });
            }
            Err(reason) => {
                warn!(%reason, "prompt failed");
                self.record.notes.push(format!("prompt failed: {reason}"));
                self.run
                    .handle_event(Instant::now().into_std(), Event::PlaybackFailed { reason });
            }
        }
    }

    async fn on_call_event(&mut self, event: Option<CallEvent>) {
        match event {
            Some(CallEvent::Confirmed) => debug!("ACK received"),
            Some(CallEvent::RemoteHangup) => self.caller_gone(HangupBy::Caller, "bye").await,
            Some(CallEvent::Cancelled) => self.caller_gone(HangupBy::Caller, "cancel").await,
            Some(CallEvent::InfoDigit(digit)) => self.on_digit(digit, "info"),
            Some(CallEvent::Offer { sdp, responder }) => {
                match ivory_sip::sdp::answer_offer(&sdp, &self.local) {
                    Ok(answer) => {
                        let sending = matches!(
                            answer.media.local_direction,
                            MediaDirection::SendRecv | MediaDirection::SendOnly
                        );
                        if let Some(remote) = answer.media.remote_rtp {
                            self.media.set_remote(remote);
                        }
                        self.on_hold = !sending;
                        self.media.set_sending(sending);
                        info!(on_hold = self.on_hold, "re-INVITE answered");
                        if let Err(error) = responder.answer(answer.body).await {
                            warn!(%error, "cannot answer a re-INVITE");
                        }
                    }
                    Err(error) => {
                        warn!(%error, "re-INVITE offer refused");
                        responder.reject(488).await.ok();
                    }
                }
            }
            Some(CallEvent::Ended { reason }) => self.caller_gone(HangupBy::System, &reason).await,
            None => self.caller_gone(HangupBy::System, "dialog-gone").await,
        }
    }

    /// The caller (or the dialog) went away: close recordings first so the run learns of them,
    /// then tell the run.
    async fn caller_gone(&mut self, by: HangupBy, reason: &str) {
        self.close_recordings().await;
        self.run
            .handle_event(Instant::now().into_std(), Event::CallerHungUp);
        self.outcome = Some(CallOutcome::new(by, reason));
    }

    async fn close_recordings(&mut self) {
        self.tap.close_all();
        self.handle_tap_outcomes().await;
    }

    pub(crate) async fn end_by_ivory(&mut self, by: HangupBy, reason: &str) {
        if self.outcome.is_some() {
            return;
        }
        self.outcome = Some(CallOutcome::new(by, reason));
        self.media.stop_playback();
        if let Err(error) = self.call.hangup().await {
            warn!(%error, "BYE failed");
        }
    }

    /// After the caller hung up, `onHangup` actions (Call API, SMS, variables) still run.
    async fn finish_on_hangup_actions(&mut self) {
        let budget_end = Instant::now() + ON_HANGUP_BUDGET;
        while !self.run.is_finished() && Instant::now() < budget_end {
            while let Some(command) = self.run.poll_command() {
                self.on_command_after_hangup(command);
            }
            if self.run.is_finished() {
                break;
            }
            let deadline = self
                .run
                .poll_timeout()
                .map(Instant::from_std)
                .unwrap_or(budget_end)
                .min(budget_end);
            tokio::select! {
                Some(completion) = self.completions_rx.recv() => self.on_completion(completion),
                () = tokio::time::sleep_until(deadline) => {}
            }
            self.run.handle_timeout(Instant::now().into_std());
        }
        if !self.run.is_finished() {
            self.record
                .notes
                .push("onHangup actions did not finish within 30 s".into());
        }
    }

    async fn finish(mut self) {
        if let Some(file) = self.record.whole_call_file.clone() {
            let duration_ms = self.record.elapsed_ms();
            let identifier = format!("{}-call", self.call.info().call_id);
            self.index_recording(&identifier, &file, duration_ms, "call")
                .await;
        }
        let stats = self.media.stats();
        let outcome = self
            .outcome
            .unwrap_or_else(|| CallOutcome::new(HangupBy::System, "error"));
        let variables = self.run.report_variables();
        let record =
            self.record
                .finish_answered(outcome, variables, leg_setup::rtp_summary(&stats));
        self.engine.call_log.append(record);
    }
}
