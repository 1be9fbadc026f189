//! One call's media on a worker: its [`MediaSession`], its RTP and RTCP sockets, the listeners on
//! its tapped audio, and the playback bookkeeping (loops, the beep before a recording) that must
//! not wait for a round trip to the leg.
//!
//! A worker does two things for a call every 20 ms. First, for all its calls in a row,
//! [`MediaSlot::send_held`] sends the packets the previous tick produced: a tight loop of `send_to`
//! calls, so when a packet leaves does not depend on how long the calls before it took to process
//! (the in-band DTMF detector, the jitter buffer). Then [`MediaSlot::tick`] applies the leg's
//! commands, drains the sockets, advances the session, holds the packets it produced for the next
//! tick, feeds the tap listeners and forwards what the leg must hear. Outgoing audio thus leaves one
//! tick (20 ms) after the session produced it, on a steady beat. Nothing blocks or allocates per
//! packet: the buffers are the slot's held packets and the worker's [`Scratch`].

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use ivory_dsp::FRAME_SAMPLES;
use ivory_rtp::{
    DigitSource, MAX_BURST, MIN_TRANSMIT_BUFFER, MediaConfig, MediaEvent, MediaSession, PlaybackId,
    Prompt,
};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{Span, debug};

use super::bridge::BridgeEnd;
use super::handle::{MediaCommand, MediaNotice, SlotKey};
use crate::ports::PortPair;
use crate::tap_listeners::{RecordingRequest, TapListeners};

/// Most datagrams read from one socket per tick: a flood cannot hold the worker, and a normal
/// call has one or two waiting.
const MAX_READS_PER_TICK: usize = 32;
/// RTCP is read (and dropped) every this many ticks: peers send a report every few seconds, and the
/// socket's buffer holds far more, so there is no need for a receive call per tick.
const RTCP_DRAIN_TICKS: u64 = 25;
/// Level of a digit sent as a tone (ITU-T Q.23 asks for -4 to -15 dBm0 per frequency).
const DIGIT_TONE_DBM0: f32 = -10.0;
/// RTP silence is checked every this many ticks (once a second).
const TIMEOUT_CHECK_TICKS: u64 = 50;

/// What a worker needs to take a call on.
pub(crate) struct NewSlot {
    pub config: MediaConfig,
    pub ports: PortPair,
    /// The slot's tag on its worker's command queue.
    pub key: SlotKey,
    pub notices: UnboundedSender<MediaNotice>,
    pub rtp_timeout: Duration,
    /// The leg's tracing span, so the worker's few log lines name the call.
    pub span: Span,
}

/// Buffers one worker reuses for every slot and tick.
pub(crate) struct Scratch {
    datagram: [u8; 2048],
    caller: [i16; FRAME_SAMPLES],
    ivory: [i16; FRAME_SAMPLES],
}

impl Default for Scratch {
    fn default() -> Self {
        Self {
            datagram: [0; 2048],
            caller: [0; FRAME_SAMPLES],
            ivory: [0; FRAME_SAMPLES],
        }
    }
}

/// Packets produced by a tick, sent at the start of the next one.
struct HeldPackets {
    packets: [[u8; MIN_TRANSMIT_BUFFER]; MAX_BURST],
    lengths: [usize; MAX_BURST],
    count: usize,
}

impl Default for HeldPackets {
    fn default() -> Self {
        Self {
            packets: [[0; MIN_TRANSMIT_BUFFER]; MAX_BURST],
            lengths: [0; MAX_BURST],
            count: 0,
        }
    }
}

/// Whether a slot lives on after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    Open,
    /// Closed (on the leg's request or because the leg is gone): remove it.
    Closed,
}

struct SlotPlayback {
    id: PlaybackId,
    generation: u64,
    prompt: Prompt,
    loops_left: u32,
    then_record: Option<Box<RecordingRequest>>,
}

pub(crate) struct MediaSlot {
    session: MediaSession,
    ports: PortPair,
    key: SlotKey,
    /// The leg asked to close (or let go): the slot closes on its next tick.
    close_requested: bool,
    notices: UnboundedSender<MediaNotice>,
    tap: TapListeners,
    playing: Option<SlotPlayback>,
    bridge: Option<BridgeEnd>,
    held: HeldPackets,
    rtp_timeout: Duration,
    attached_at: Instant,
    on_hold: bool,
    timeout_reported: bool,
    ticks: u64,
    /// Packets not sent because the socket's buffer was full.
    send_drops: u64,
    span: Span,
}

impl MediaSlot {
    /// A slot whose session's 20 ms clock starts at `tick_time`, a tick of the worker's grid, so
    /// each of the worker's ticks is exactly one of the session's.
    pub(crate) fn new(new: NewSlot, tick_time: Instant) -> Self {
        let NewSlot {
            config,
            ports,
            key,
            notices,
            rtp_timeout,
            span,
        } = new;
        Self {
            session: MediaSession::new(config, tick_time),
            ports,
            key,
            close_requested: false,
            notices,
            tap: TapListeners::default(),
            playing: None,
            bridge: None,
            held: HeldPackets::default(),
            rtp_timeout,
            attached_at: tick_time,
            on_hold: false,
            timeout_reported: false,
            ticks: 0,
            send_drops: 0,
            span,
        }
    }

    /// Sends the packets the previous tick held, to where the session sends now (a re-INVITE or a
    /// re-latch since then applies); nothing while on hold.
    pub(crate) fn send_held(&mut self) {
        let count = std::mem::take(&mut self.held.count);
        let Some(destination) = self.session.remote() else {
            return;
        };
        if !self.session.is_sending() {
            return;
        }
        for (packet, &length) in self.held.packets.iter().zip(&self.held.lengths).take(count) {
            match self.ports.rtp.send_to(&packet[..length], destination) {
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock => self.send_drops += 1,
                Err(error) => {
                    let _entered = self.span.enter();
                    debug!(%error, %destination, "RTP send failed");
                }
            }
        }
    }

    /// One 20 ms tick at `now`; its packets are held for [`Self::send_held`].
    pub(crate) fn tick(&mut self, now: Instant, scratch: &mut Scratch) -> SlotState {
        if self.close_requested {
            self.close();
            return SlotState::Closed;
        }
        self.receive(now, scratch);
        if let Some(bridge) = &self.bridge {
            let session = &mut self.session;
            bridge.take_frames_to_send(|frame| session.push_live_frame(frame));
        }
        self.session.handle_timeout(now);
        self.hold_transmits();
        self.feed_tap(scratch);
        self.forward_events();
        self.check_rtp_timeout(now);
        self.ticks += 1;
        SlotState::Open
    }

    /// Closes the slot at once (its leg is gone or its worker is stopping).
    pub(crate) fn close(&mut self) {
        self.tap.close_all();
        self.forward_tap_outcomes();
        if self.send_drops > 0 {
            let _entered = self.span.enter();
            debug!(
                packets = self.send_drops,
                "RTP packets dropped on a full socket"
            );
        }
        self.notify(MediaNotice::Closed {
            stats: self.session.stats(),
        });
    }

    /// The slot's tag on its worker's command queue.
    pub(crate) fn key(&self) -> SlotKey {
        self.key
    }

    /// A command from the leg (the worker hands them over before the slot's tick).
    pub(crate) fn command(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Close => self.close_requested = true,
            command => self.apply(command),
        }
    }

    fn apply(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Play {
                generation,
                prompt,
                loops,
                then_record,
            } => {
                self.drop_playback();
                let id = self.session.play(prompt.clone());
                self.playing = Some(SlotPlayback {
                    id,
                    generation,
                    prompt,
                    loops_left: loops.max(1),
                    then_record,
                });
            }
            MediaCommand::StopPlayback => {
                self.drop_playback();
                self.session.stop_playback();
            }
            MediaCommand::SetRemote(remote) => self.session.set_remote(remote),
            MediaCommand::SetSending(sending) => {
                self.session.set_sending(sending);
                self.on_hold = !sending;
            }
            MediaCommand::StartRecording(request) => {
                self.tap.start_recording(*request);
                self.forward_tap_outcomes();
            }
            MediaCommand::RecordWholeCall(writer) => self.tap.start_whole_call(*writer),
            MediaCommand::DetectMachine => self.tap.start_detection(),
            MediaCommand::StartCapture(config) => self.tap.start_capture(config),
            MediaCommand::StopCapture => self.tap.stop_capture(),
            MediaCommand::RecorderDigit(digit) => {
                if self.tap.is_recording() {
                    self.tap.on_digit(digit);
                    self.forward_tap_outcomes();
                } else {
                    self.notify(MediaNotice::RecorderDeclined(digit));
                }
            }
            MediaCommand::SendDigit { digit, duration } => self.send_digit(digit, duration),
            MediaCommand::Bridge(end) => self.bridge = Some(end),
            MediaCommand::Unbridge => {
                self.bridge = None;
                self.session.clear_live_frames();
            }
            // Taken by `command` before it gets here.
            MediaCommand::Close => {}
        }
    }

    /// Sends a digit as RFC 4733 events; to a leg that negotiated none, as a tone in the audio
    /// (when no prompt of the leg's plays, which the tone would cut short).
    fn send_digit(&mut self, digit: ivory_dsp::DtmfDigit, duration: Duration) {
        let Err(error) = self.session.send_digit(digit, duration) else {
            return;
        };
        if matches!(error, ivory_rtp::RtpError::TelephoneEventNotNegotiated)
            && self.playing.is_none()
        {
            let millis = u32::try_from(duration.as_millis()).unwrap_or(u32::MAX);
            let tone = ivory_dsp::tone::dtmf(digit, millis.clamp(40, 1000), DIGIT_TONE_DBM0);
            self.session.play(Prompt::from_samples(tone.into()));
            return;
        }
        self.notify(MediaNotice::DigitNotSent {
            reason: error.to_string(),
        });
    }

    /// Forgets the current prompt; a beep's pending recording is dropped and the leg told.
    fn drop_playback(&mut self) {
        if let Some(old) = self.playing.take()
            && old.then_record.is_some()
        {
            self.notify(MediaNotice::RecordingDropped);
        }
    }

    fn receive(&mut self, now: Instant, scratch: &mut Scratch) {
        let session = &mut self.session;
        drain_socket(&self.ports.rtp, &mut scratch.datagram, |from, datagram| {
            session.handle_datagram(now, from, datagram);
        });
        if self.ticks.is_multiple_of(RTCP_DRAIN_TICKS) {
            // Reports are not read yet; the socket is drained so it never fills.
            drain_socket(&self.ports.rtcp, &mut scratch.datagram, |_, _| {});
        }
    }

    /// Takes the session's packets (at most [`MAX_BURST`], all a tick can produce) for the next
    /// [`Self::send_held`].
    fn hold_transmits(&mut self) {
        let held = &mut self.held;
        while held.count < MAX_BURST {
            let Some((length, _)) = self.session.poll_transmit(&mut held.packets[held.count])
            else {
                break;
            };
            held.lengths[held.count] = length;
            held.count += 1;
        }
    }

    /// Hands the tapped frames to the listeners and the bridge; the tap is on only while one of
    /// them listens.
    fn feed_tap(&mut self, scratch: &mut Scratch) {
        let listeners = self.tap.wants_audio();
        let wants = listeners || self.bridge.is_some();
        self.session.set_tap(wants);
        if !wants {
            return;
        }
        {
            let _entered = self.span.enter();
            while self
                .session
                .poll_tapped_frame(&mut scratch.caller, &mut scratch.ivory)
            {
                if let Some(bridge) = &self.bridge {
                    bridge.hear(&scratch.caller);
                }
                if listeners {
                    self.tap.on_frame(&scratch.caller, &scratch.ivory);
                }
            }
        }
        self.forward_tap_outcomes();
    }

    fn forward_events(&mut self) {
        while let Some(event) = self.session.poll_event() {
            match event {
                MediaEvent::Digit { digit, source } => {
                    let digit = digit.to_char();
                    // During a recording, digits are the recorder's (escape digits), not the
                    // scenario's; the leg logs them either way.
                    let for_scenario = !self.tap.is_recording();
                    if !for_scenario {
                        self.tap.on_digit(digit);
                    }
                    self.notify(MediaNotice::Digit {
                        digit,
                        source: match source {
                            DigitSource::Rfc4733 => "rfc4733",
                            DigitSource::Inband => "inband",
                        },
                        for_scenario,
                    });
                    self.forward_tap_outcomes();
                }
                MediaEvent::PlaybackFinished { id } => self.on_playback_finished(id),
            }
        }
    }

    fn on_playback_finished(&mut self, id: PlaybackId) {
        let Some(current) = self.playing.as_mut().filter(|playing| playing.id == id) else {
            return;
        };
        if current.loops_left > 1 {
            current.loops_left -= 1;
            current.id = self.session.play(current.prompt.clone());
            return;
        }
        let Some(finished) = self.playing.take() else {
            return;
        };
        match finished.then_record {
            // The beep is over: the recording starts now; the scenario is not told of the beep.
            Some(request) => {
                self.tap.start_recording(*request);
                self.forward_tap_outcomes();
            }
            None => self.notify(MediaNotice::PlaybackFinished {
                generation: finished.generation,
            }),
        }
    }

    fn check_rtp_timeout(&mut self, now: Instant) {
        if self.on_hold || self.timeout_reported || !self.ticks.is_multiple_of(TIMEOUT_CHECK_TICKS)
        {
            return;
        }
        let last = self
            .session
            .stats()
            .last_received
            .unwrap_or(self.attached_at);
        if now.saturating_duration_since(last) > self.rtp_timeout {
            self.timeout_reported = true;
            self.notify(MediaNotice::RtpTimeout);
        }
    }

    fn forward_tap_outcomes(&mut self) {
        for outcome in self.tap.drain_outcomes() {
            self.notices.send(MediaNotice::Tap(outcome)).ok();
        }
    }

    /// A leg that is gone no longer listens; its slot closes on the next tick.
    fn notify(&self, notice: MediaNotice) {
        self.notices.send(notice).ok();
    }
}

/// Reads up to [`MAX_READS_PER_TICK`] datagrams without blocking into `buffer`.
fn drain_socket(
    socket: &UdpSocket,
    buffer: &mut [u8],
    mut handle: impl FnMut(std::net::SocketAddr, &[u8]),
) {
    for _ in 0..MAX_READS_PER_TICK {
        match socket.recv_from(buffer) {
            Ok((length, from)) => handle(from, &buffer[..length]),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            // WouldBlock: drained. Anything else (an ICMP error reported on the socket) is not
            // the call's end; the RTP timeout decides that.
            Err(_) => return,
        }
    }
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod bridge_tests;
#[cfg(test)]
#[path = "slot_tests.rs"]
mod slot_tests;
