//! One inbound call leg: the SIP dialog, the RTP session and the scenario run, owned by one task.
//!
//! The task is a thin driver around two sans-IO machines ([`MediaSession`] and [`Run`]): it reads the
//! call's RTP/RTCP sockets, its dialog events and finished prompt loads, feeds them in with the
//! current time, drains transmits, media events and scenario commands, and sleeps until the earliest
//! deadline either machine asks for. Nothing is shared with other calls but the prompt cache.

use std::sync::Arc;
use std::time::Duration;

use ivory_rtp::{DigitSource, MediaEvent, MediaSession, PlaybackId, Prompt};
use ivory_scenario::{Command, Event, FinishReason, Run};
use ivory_sip::sdp::{LocalMedia, MediaDirection};
use ivory_sip::{CallEvent, InboundCall};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::Engine;
use crate::call_log::{HangupBy, LoggedDigit};
use crate::leg_setup::{self, CallOutcome, RecordBuilder};
use crate::ports::PortPair;

/// A prompt load finished (or failed) on another task.
struct LoadedPrompt {
    generation: u64,
    result: Result<Prompt, String>,
    loop_count: u32,
}

/// What is playing now.
struct CurrentPlayback {
    id: PlaybackId,
    prompt: Prompt,
    loops_left: u32,
}

pub(crate) struct Leg {
    engine: Arc<Engine>,
    call: InboundCall,
    media: MediaSession,
    run: Run,
    ports: PortPair,
    local: LocalMedia,
    record: RecordBuilder,
    answered_at: Instant,
    loads_tx: mpsc::UnboundedSender<LoadedPrompt>,
    loads_rx: mpsc::UnboundedReceiver<LoadedPrompt>,
    /// Bumped on every play/stop so that a slow load for a superseded prompt is ignored.
    generation: u64,
    playing: Option<CurrentPlayback>,
    on_hold: bool,
    outcome: Option<CallOutcome>,
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
        let (loads_tx, loads_rx) = mpsc::unbounded_channel();
        Self {
            engine,
            call,
            media,
            run,
            ports,
            local,
            record,
            answered_at: Instant::now(),
            loads_tx,
            loads_rx,
            generation: 0,
            playing: None,
            on_hold: false,
            outcome: None,
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
                Some(loaded) = self.loads_rx.recv() => self.on_prompt_loaded(loaded),
                () = tokio::time::sleep_until(deadline) => {}
            }
            let now = Instant::now();
            if now >= max_end {
                self.end_by_ivory(HangupBy::System, "max-duration").await;
            } else if self.rtp_timed_out(now) {
                self.end_by_ivory(HangupBy::System, "rtp-timeout").await;
            }
        }
        self.finish();
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
        let timeout = self.engine.config.rtp_timeout;
        let last = self
            .media
            .stats()
            .last_received
            .map(Instant::from_std)
            .unwrap_or(self.answered_at);
        now.duration_since(last) > timeout
    }

    /// Feeds time to both machines and drains everything they produced, until both are quiet.
    async fn pump(&mut self) {
        let mut out = [0u8; 1500];
        loop {
            let now = Instant::now().into_std();
            self.media.handle_timeout(now);
            self.run.handle_timeout(now);
            let mut progressed = false;
            while let Some((len, to)) = self.media.poll_transmit(&mut out) {
                if let Err(error) = self.ports.rtp.send_to(&out[..len], to).await {
                    debug!(%error, %to, "RTP send failed");
                }
            }
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

    fn on_media_event(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Digit { digit, source } => {
                let source = match source {
                    DigitSource::Rfc4733 => "rfc4733",
                    DigitSource::Inband => "inband",
                };
                self.on_digit(digit.to_char(), source);
            }
            MediaEvent::PlaybackFinished { id } => {
                let Some(current) = self.playing.as_mut().filter(|p| p.id == id) else {
                    return;
                };
                if current.loops_left > 1 {
                    current.loops_left -= 1;
                    let prompt = current.prompt.clone();
                    current.id = self.media.play(prompt);
                } else {
                    self.playing = None;
                    self.run
                        .handle_event(Instant::now().into_std(), Event::PlaybackFinished);
                }
            }
        }
    }

    fn on_digit(&mut self, digit: char, source: &'static str) {
        info!(source, "digit received");
        self.record.digits.push(LoggedDigit {
            digit,
            source,
            at_ms: self.record.elapsed_ms(),
        });
        self.run
            .handle_event(Instant::now().into_std(), Event::Digit(digit));
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Play {
                source, loop_count, ..
            } => {
                let generation = self.start_load();
                let prompts = self.engine.prompts.clone();
                let loads = self.loads_tx.clone();
                tokio::spawn(async move {
                    let result = prompts.file(&source).await.map_err(|e| e.to_string());
                    loads
                        .send(LoadedPrompt {
                            generation,
                            result,
                            loop_count,
                        })
                        .ok();
                });
            }
            Command::Say {
                text,
                language,
                speech_rate,
                ..
            } => {
                let generation = self.start_load();
                let prompts = self.engine.prompts.clone();
                let loads = self.loads_tx.clone();
                tokio::spawn(async move {
                    let result = prompts
                        .say(&text, language.as_deref(), speech_rate)
                        .await
                        .map_err(|e| e.to_string());
                    loads
                        .send(LoadedPrompt {
                            generation,
                            result,
                            loop_count: 1,
                        })
                        .ok();
                });
            }
            Command::StopPlayback => {
                self.generation += 1;
                self.playing = None;
                self.media.stop_playback();
            }
            Command::Hangup => {
                let reason = match self.run.finish_reason() {
                    Some(FinishReason::HangupAction) => "hangup-action",
                    Some(FinishReason::StepLimit) => "step-limit",
                    _ => "scenario-end",
                };
                self.end_by_ivory(HangupBy::Ivory, reason).await;
            }
            Command::Note(note) => {
                info!(%note, "scenario note");
                self.record.notes.push(note);
            }
            other => {
                let note = format!("command not carried out by this runtime: {other:?}");
                warn!(%note);
                self.record.notes.push(note);
            }
        }
    }

    fn start_load(&mut self) -> u64 {
        self.generation += 1;
        self.playing = None;
        self.media.stop_playback();
        self.generation
    }

    fn on_prompt_loaded(&mut self, loaded: LoadedPrompt) {
        if loaded.generation != self.generation {
            return;
        }
        match loaded.result {
            Ok(prompt) => {
                let id = self.media.play(prompt.clone());
                self.playing = Some(CurrentPlayback {
                    id,
                    prompt,
                    loops_left: loaded.loop_count.max(1),
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
        let now = Instant::now().into_std();
        match event {
            Some(CallEvent::Confirmed) => debug!("ACK received"),
            Some(CallEvent::RemoteHangup) => {
                self.run.handle_event(now, Event::CallerHungUp);
                self.outcome = Some(CallOutcome::new(HangupBy::Caller, "bye"));
            }
            Some(CallEvent::Cancelled) => {
                self.run.handle_event(now, Event::CallerHungUp);
                self.outcome = Some(CallOutcome::new(HangupBy::Caller, "cancel"));
            }
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
            Some(CallEvent::Ended { reason }) => {
                self.run.handle_event(now, Event::CallerHungUp);
                self.outcome = Some(CallOutcome::new(HangupBy::System, &reason));
            }
            None => {
                self.run.handle_event(now, Event::CallerHungUp);
                self.outcome = Some(CallOutcome::new(HangupBy::System, "dialog-gone"));
            }
        }
    }

    async fn end_by_ivory(&mut self, by: HangupBy, reason: &str) {
        if self.outcome.is_some() {
            return;
        }
        self.outcome = Some(CallOutcome::new(by, reason));
        self.media.stop_playback();
        if let Err(error) = self.call.hangup().await {
            warn!(%error, "BYE failed");
        }
    }

    fn finish(self) {
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
