//! The leg's side of a media slot: commands in, notices out.
//!
//! Commands go over an unbounded `std` channel that the worker polls (without blocking) at the start
//! of every tick, so a command takes effect on the next 20 ms tick, where it would have taken effect
//! anyway (a prompt starts on a tick). Notices come back over a per-leg tokio channel: sending from
//! the worker thread never blocks it, and the leg's task wakes only when something happened (a
//! digit, a prompt's end, a recording's end, an RTP timeout), never per packet.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use ivory_dsp::{Codec, DtmfDigit, WavFileWriter};
use ivory_rtp::{MediaStats, Prompt};
use tokio::sync::mpsc::UnboundedReceiver;

use super::bridge::BridgeEnd;
use crate::tap_listeners::{RecordingRequest, TapOutcome};

/// What a leg asks of its media slot.
pub(crate) enum MediaCommand {
    /// Plays `prompt` `loops` times (at least once), replacing what plays. When the last loop ends
    /// the slot reports [`MediaNotice::PlaybackFinished`] with `generation`, or, with
    /// `then_record`, starts that recording instead (the beep before a `record`).
    Play {
        generation: u64,
        prompt: Prompt,
        loops: u32,
        then_record: Option<Box<RecordingRequest>>,
    },
    /// Stops the prompt (no notice for it).
    StopPlayback,
    /// The media moved (re-INVITE).
    SetRemote(SocketAddr),
    /// Hold (`false`) or resume (`true`); no RTP timeout while on hold.
    SetSending(bool),
    StartRecording(Box<RecordingRequest>),
    RecordWholeCall(Box<WavFileWriter>),
    DetectMachine,
    /// Starts listening for a `capture`'s spoken answer; the slot reports it as
    /// [`crate::tap_listeners::TapOutcome::SpeechCaptured`].
    StartCapture(ivory_dsp::EndpointConfig),
    /// Stops listening, without an outcome.
    StopCapture,
    /// A digit that did not come through RTP (SIP INFO) while the leg believes a recording runs: the
    /// recorder takes it, or the slot hands it back as [`MediaNotice::RecorderDeclined`].
    RecorderDigit(char),
    /// Sends a digit as RFC 4733 events (for dialling and bridging).
    SendDigit {
        digit: DtmfDigit,
        duration: Duration,
    },
    /// Sends what the other leg hears and hears for it ([`super::bridge`]); replaces a bridge in
    /// place. Prompts still win over the bridged audio while they play.
    Bridge(BridgeEnd),
    /// Ends the bridge: silence (or prompts) again.
    Unbridge,
    /// Closes recordings, reports them, then [`MediaNotice::Closed`]; the slot is gone after it.
    Close,
}

/// What the media slot tells its leg.
#[derive(Debug)]
pub(crate) enum MediaNotice {
    /// A digit from RTP: RFC 4733 or in-band. `for_scenario` is false when a recording took it
    /// (escape digits are the recorder's); it is logged either way.
    Digit {
        digit: char,
        source: &'static str,
        for_scenario: bool,
    },
    /// A [`MediaCommand::RecorderDigit`] no recording wanted: it is the scenario's.
    RecorderDeclined(char),
    /// All loops of the prompt of this generation have been sent.
    PlaybackFinished { generation: u64 },
    /// A beep's recording never started: another prompt or a stop replaced the beep.
    RecordingDropped,
    /// A recording ended, failed, or machine detection decided.
    Tap(TapOutcome),
    /// A digit could not be sent (no telephone-event negotiated, or too many queued).
    DigitNotSent { reason: String },
    /// No RTP for longer than the RTP timeout, while not on hold. Reported once.
    RtpTimeout,
    /// The answer to [`MediaCommand::Close`]: the session's final counters. Nothing follows.
    Closed { stats: MediaStats },
}

/// Identifies a slot among its worker's: commands travel on one queue per worker, tagged with it.
pub(crate) type SlotKey = u64;

/// A leg's link to its media slot. Dropping it closes the slot (recordings are closed properly).
pub(crate) struct MediaHandle {
    /// The worker's command queue, shared by all its slots' handles.
    commands: mpsc::Sender<(SlotKey, MediaCommand)>,
    key: SlotKey,
    notices: UnboundedReceiver<MediaNotice>,
    /// The worker the slot runs on (a bridged leg is put beside it).
    worker: usize,
    /// The session's codec: prompts are encoded to it here, before they reach the worker.
    codec: Codec,
    /// Set once the slot answered [`MediaCommand::Close`] or vanished.
    final_stats: Option<MediaStats>,
}

impl MediaHandle {
    pub(crate) fn new(
        commands: mpsc::Sender<(SlotKey, MediaCommand)>,
        key: SlotKey,
        notices: UnboundedReceiver<MediaNotice>,
        worker: usize,
        codec: Codec,
    ) -> Self {
        Self {
            commands,
            key,
            notices,
            worker,
            codec,
            final_stats: None,
        }
    }

    /// Sends a command; a slot that is gone ignores it (the leg learns of it from
    /// [`Self::next_notice`] returning `None`).
    fn send(&self, command: MediaCommand) {
        self.commands.send((self.key, command)).ok();
    }

    pub(crate) fn play(
        &self,
        generation: u64,
        prompt: Prompt,
        loops: u32,
        then_record: Option<RecordingRequest>,
    ) {
        // The prompt's encoding is made once and shared by every call; making it here, on the
        // leg's task, keeps a long prompt's first play from stalling the worker's tick.
        prompt.encoded(self.codec);
        self.send(MediaCommand::Play {
            generation,
            prompt,
            loops: loops.max(1),
            then_record: then_record.map(Box::new),
        });
    }

    pub(crate) fn stop_playback(&self) {
        self.send(MediaCommand::StopPlayback);
    }

    pub(crate) fn set_remote(&self, remote: SocketAddr) {
        self.send(MediaCommand::SetRemote(remote));
    }

    pub(crate) fn set_sending(&self, sending: bool) {
        self.send(MediaCommand::SetSending(sending));
    }

    pub(crate) fn start_recording(&self, request: RecordingRequest) {
        self.send(MediaCommand::StartRecording(Box::new(request)));
    }

    pub(crate) fn record_whole_call(&self, writer: WavFileWriter) {
        self.send(MediaCommand::RecordWholeCall(Box::new(writer)));
    }

    pub(crate) fn detect_machine(&self) {
        self.send(MediaCommand::DetectMachine);
    }

    pub(crate) fn start_capture(&self, config: ivory_dsp::EndpointConfig) {
        self.send(MediaCommand::StartCapture(config));
    }

    pub(crate) fn stop_capture(&self) {
        self.send(MediaCommand::StopCapture);
    }

    pub(crate) fn recorder_digit(&self, digit: char) {
        self.send(MediaCommand::RecorderDigit(digit));
    }

    pub(crate) fn bridge(&self, end: BridgeEnd) {
        self.send(MediaCommand::Bridge(end));
    }

    pub(crate) fn unbridge(&self) {
        self.send(MediaCommand::Unbridge);
    }

    /// The worker the slot runs on.
    pub(crate) fn worker(&self) -> usize {
        self.worker
    }

    pub(crate) fn send_digit(&self, digit: DtmfDigit, duration: Duration) {
        self.send(MediaCommand::SendDigit { digit, duration });
    }

    /// True once the slot is closed (or gone); no notice will come.
    pub(crate) fn is_closed(&self) -> bool {
        self.final_stats.is_some()
    }

    /// The next notice; `None` when the slot is closed or its worker is gone. Cancel-safe.
    pub(crate) async fn next_notice(&mut self) -> Option<MediaNotice> {
        if self.is_closed() {
            return None;
        }
        match self.notices.recv().await {
            Some(MediaNotice::Closed { stats }) => {
                self.final_stats = Some(stats);
                None
            }
            Some(notice) => Some(notice),
            None => {
                self.final_stats = Some(MediaStats::default());
                None
            }
        }
    }

    /// Asks the slot to close; the notices still on their way, ending with the slot's close,
    /// are then read with [`Self::next_notice`] until it returns `None`.
    pub(crate) fn request_close(&self) {
        if !self.is_closed() {
            self.send(MediaCommand::Close);
        }
    }

    /// Stops waiting for a close that does not come (the slot's counters stay unknown: zero).
    pub(crate) fn abandon(&mut self) {
        self.final_stats.get_or_insert_with(MediaStats::default);
    }

    /// The session's final counters (zero when the worker vanished); `None` before the close.
    pub(crate) fn final_stats(&self) -> Option<MediaStats> {
        self.final_stats
    }
}

#[cfg(test)]
impl MediaHandle {
    /// The next notice already sent, without waiting (tests drive slots by hand).
    pub(crate) fn try_notice(&mut self) -> Option<MediaNotice> {
        self.notices.try_recv().ok()
    }
}

impl Drop for MediaHandle {
    /// The slot closes when its leg lets go (a second close, after [`Self::request_close`], finds
    /// no slot and is ignored).
    fn drop(&mut self) {
        if !self.is_closed() {
            self.send(MediaCommand::Close);
        }
    }
}
