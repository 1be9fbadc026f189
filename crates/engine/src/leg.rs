//! One inbound call leg: the SIP dialog and the scenario run, owned by one task; its media runs on a
//! media worker ([`crate::media_worker`]) and is driven through a [`MediaHandle`].
//!
//! The task is a thin driver around the sans-IO [`Run`]: it waits for its dialog's events, its
//! media slot's notices (digits, prompt ends, recording outcomes, RTP timeout) and the completions
//! of slow work done elsewhere (prompt loads, HTTP requests), feeds them in with the current time,
//! drains scenario commands, and sleeps until the run's next deadline. It does not wake for RTP
//! packets or media ticks. Scenario commands are carried out in [`crate::leg_commands`]. Nothing is
//! shared with other calls but the prompt cache and the recordings index.

use std::sync::Arc;
use std::time::Duration;

use ivory_rtp::Prompt;
use ivory_scenario::{Event, Run};
use ivory_sip::CallEvent;
use ivory_sip::sdp::{LocalMedia, MediaDirection};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::Engine;
use crate::call_log::CallRecord;
use crate::call_log::{HangupBy, LoggedDigit};
use crate::leg_dialog::LegDialog;
use crate::leg_setup::{self, CallOutcome, RecordBuilder};
use crate::media_worker::{MediaHandle, MediaNotice};
use crate::tap_listeners::{TapListeners, TapOutcome};

/// How long `onHangup` actions may run after the caller has gone.
const ON_HANGUP_BUDGET: Duration = Duration::from_secs(30);
/// How long the media slot's close may take (normally under one 20 ms tick).
const MEDIA_CLOSE_WAIT: Duration = Duration::from_secs(2);

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
    /// A `capture`'s recognition.
    Speech(crate::leg_speech::SpeechResult),
}

pub(crate) struct Leg {
    pub(crate) engine: Arc<Engine>,
    pub(crate) call: LegDialog,
    pub(crate) media: MediaHandle,
    pub(crate) run: Run,
    local: LocalMedia,
    pub(crate) record: RecordBuilder,
    answered_at: Instant,
    /// The longest the call may last (`calls.max_duration_seconds`, or a launch's `callTimeout`).
    pub(crate) max_duration: Duration,
    pub(crate) completions_tx: mpsc::UnboundedSender<Completion>,
    completions_rx: mpsc::UnboundedReceiver<Completion>,
    /// Bumped on every play/stop so that a slow load for a superseded prompt, or the end of a
    /// superseded prompt, is ignored.
    pub(crate) generation: u64,
    /// A `record` was started and its end not yet reported: SIP INFO digits go to the recorder.
    pub(crate) recording_active: bool,
    pub(crate) recordings_made: u32,
    pub(crate) outcome: Option<CallOutcome>,
    /// The `capture` listened or recognised for; bumped when one starts or is stopped, so a
    /// late result for an earlier one is ignored.
    pub(crate) capture: Option<crate::leg_speech::PendingCapture>,
    pub(crate) capture_generation: u64,
}

impl Leg {
    pub(crate) fn new(
        engine: Arc<Engine>,
        call: LegDialog,
        media: MediaHandle,
        run: Run,
        local: LocalMedia,
        record: RecordBuilder,
    ) -> Self {
        let (completions_tx, completions_rx) = mpsc::unbounded_channel();
        let max_duration = engine.config.max_call_duration;
        Self {
            engine,
            call,
            media,
            run,
            local,
            record,
            answered_at: Instant::now(),
            max_duration,
            completions_tx,
            completions_rx,
            generation: 0,
            recording_active: false,
            recordings_made: 0,
            outcome: None,
            capture: None,
            capture_generation: 0,
        }
    }

    /// Starts the whole-call recording (caller left, ivory right).
    pub(crate) fn record_whole_call(&mut self) {
        let (file, path) = self
            .engine
            .recordings
            .path_for(self.call.info().call_id.as_str(), "call");
        match TapListeners::create_whole_call(&path) {
            Ok(writer) => {
                self.media.record_whole_call(writer);
                self.record.whole_call_file = Some(file);
            }
            Err(reason) => self
                .record
                .notes
                .push(format!("whole-call recording failed: {reason}")),
        }
    }

    /// When the call must end at the latest (`calls.max_duration_seconds` after the answer).
    pub(crate) fn max_end(&self) -> Instant {
        self.answered_at + self.max_duration
    }

    /// Runs the call to its end, writes its call-log line and returns it.
    pub(crate) async fn run(mut self) -> CallRecord {
        let max_end = self.max_end();
        loop {
            self.pump().await;
            if self.outcome.is_some() {
                break;
            }
            let deadline = self
                .run
                .poll_timeout()
                .map(Instant::from_std)
                .map_or(max_end, |deadline| deadline.min(max_end));
            tokio::select! {
                event = self.call.next_event() => self.on_call_event(event).await,
                notice = self.media.next_notice(), if !self.media.is_closed() => {
                    self.on_media_notice(notice).await;
                }
                Some(completion) = self.completions_rx.recv() => self.on_completion(completion),
                () = tokio::time::sleep_until(deadline) => {}
            }
            if Instant::now() >= max_end {
                self.end_by_ivory(HangupBy::System, "max-duration").await;
            }
        }
        self.close_media().await;
        self.finish_on_hangup_actions().await;
        self.finish().await
    }

    /// Feeds time to the run and carries out its commands, until it is quiet.
    async fn pump(&mut self) {
        loop {
            self.run.handle_timeout(Instant::now().into_std());
            let mut progressed = false;
            while let Some(command) = self.run.poll_command() {
                progressed = true;
                self.on_command(command).await;
            }
            if !progressed || self.outcome.is_some() {
                return;
            }
        }
    }

    pub(crate) async fn on_media_notice(&mut self, notice: Option<MediaNotice>) {
        let now = Instant::now().into_std();
        match notice {
            Some(MediaNotice::Digit {
                digit,
                source,
                for_scenario,
            }) => {
                self.log_digit(digit, source);
                if for_scenario {
                    self.run.handle_event(now, Event::Digit(digit));
                }
            }
            Some(MediaNotice::RecorderDeclined(digit)) => {
                self.run.handle_event(now, Event::Digit(digit));
            }
            Some(MediaNotice::PlaybackFinished { generation }) => {
                if generation == self.generation {
                    self.run.handle_event(now, Event::PlaybackFinished);
                }
            }
            Some(MediaNotice::RecordingDropped) => self.recording_active = false,
            Some(MediaNotice::Tap(outcome)) => self.on_tap_outcome(outcome).await,
            Some(MediaNotice::DigitNotSent { reason }) => {
                warn!(%reason, "digit not sent");
                self.record.notes.push(format!("digit not sent: {reason}"));
            }
            // `next_notice` keeps the close to itself.
            Some(MediaNotice::Closed { .. }) => {}
            Some(MediaNotice::RtpTimeout) => {
                self.end_by_ivory(HangupBy::System, "rtp-timeout").await;
            }
            None => {
                // Closed only by this leg, after its loop; otherwise the worker lost the call.
                warn!("the call's media slot is gone");
                self.record.notes.push("media failed".into());
                self.end_by_ivory(HangupBy::System, "error").await;
            }
        }
    }

    /// Acts on a recording's end or a machine verdict, telling the run.
    pub(crate) async fn on_tap_outcome(&mut self, outcome: TapOutcome) {
        let event = match outcome {
            TapOutcome::RecordingStopped {
                identifier,
                file,
                duration_ms,
                reason,
            } => {
                info!(%identifier, duration_ms, %reason, "recording finished");
                self.recording_active = false;
                self.index_recording(&identifier, &file, duration_ms, "record")
                    .await;
                self.record.recordings.push(file);
                Event::RecordingFinished {
                    identifier,
                    duration_ms,
                }
            }
            TapOutcome::RecordingFailed { reason } => {
                self.recording_active = false;
                Event::ActionFailed {
                    reason: format!("recording failed: {reason}"),
                }
            }
            TapOutcome::Machine { machine } => Event::MachineDetected { machine },
            TapOutcome::SpeechCaptured { utterance, outcome } => {
                self.on_speech_captured(utterance, outcome);
                return;
            }
        };
        self.run.handle_event(Instant::now().into_std(), event);
    }

    /// Closes the media slot: recordings are closed and their outcomes reach the run; the final
    /// counters are kept for the call log. Idempotent.
    async fn close_media(&mut self) {
        self.media.request_close();
        let drain = async {
            while let Some(notice) = self.media.next_notice().await {
                if let MediaNotice::Tap(outcome) = notice {
                    self.on_tap_outcome(outcome).await;
                }
            }
        };
        // A worker answers on its next tick; the bound only keeps a stuck worker (a bug) from
        // keeping the call open.
        if tokio::time::timeout(MEDIA_CLOSE_WAIT, drain).await.is_err() {
            warn!("the media worker did not confirm the close");
            self.media.abandon();
            self.record
                .notes
                .push("media close not confirmed; RTP counters missing".into());
        }
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

    pub(crate) fn log_digit(&mut self, digit: char, source: &'static str) {
        info!(source, "digit received");
        self.record.digits.push(LoggedDigit {
            digit,
            source,
            at_ms: self.record.elapsed_ms(),
        });
    }

    /// A SIP INFO digit. During a recording, digits are the recorder's (escape digits), not the
    /// scenario's; the recorder runs on the media worker, which hands back a digit it does not
    /// want (the recording may have just ended).
    fn on_info_digit(&mut self, digit: char) {
        self.log_digit(digit, "info");
        if self.recording_active {
            self.media.recorder_digit(digit);
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
            Completion::Speech(result) => self.on_speech_result(result),
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
            Ok(prompt) => self.media.play(generation, prompt, loop_count, None),
            Err(reason) => {
                warn!(%reason, "prompt failed");
                self.record.notes.push(format!("prompt failed: {reason}"));
                self.run
                    .handle_event(Instant::now().into_std(), Event::PlaybackFailed { reason });
            }
        }
    }

    pub(crate) async fn on_call_event(&mut self, event: Option<CallEvent>) {
        match event {
            Some(CallEvent::Confirmed) => debug!("ACK received"),
            Some(CallEvent::RemoteHangup) => self.caller_gone(HangupBy::Caller, "bye").await,
            Some(CallEvent::Cancelled) => self.caller_gone(HangupBy::Caller, "cancel").await,
            Some(CallEvent::InfoDigit(digit)) => self.on_info_digit(digit),
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
                        // The media slot stops checking for RTP silence while not sending (hold).
                        self.media.set_sending(sending);
                        info!(on_hold = !sending, "re-INVITE answered");
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

    /// The caller (or the dialog) went away: close the media (and its recordings) first so the run
    /// learns of them, then tell the run.
    async fn caller_gone(&mut self, by: HangupBy, reason: &str) {
        self.close_media().await;
        self.run
            .handle_event(Instant::now().into_std(), Event::CallerHungUp);
        self.outcome = Some(CallOutcome::new(by, reason));
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

    async fn finish(mut self) -> CallRecord {
        if let Some(file) = self.record.whole_call_file.clone() {
            let duration_ms = self.record.elapsed_ms();
            let identifier = format!("{}-call", self.call.info().call_id);
            self.index_recording(&identifier, &file, duration_ms, "call")
                .await;
        }
        let stats = self.media.final_stats().unwrap_or_default();
        let outcome = self
            .outcome
            .unwrap_or_else(|| CallOutcome::new(HangupBy::System, "error"));
        let variables = self.run.report_variables();
        let record =
            self.record
                .finish_answered(outcome, variables, leg_setup::rtp_summary(&stats));
        self.engine.call_log.append(record.clone());
        record
    }
}
