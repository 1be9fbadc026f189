//! [`MediaSession`]: one call leg's RTP, tying together pacing, playback, latching, the jitter
//! buffer and digit detection. The run loop is in the crate docs.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ivory_dsp::{Codec, DtmfDigit, FRAME_SAMPLES, InbandDtmfDetector};

use crate::jitter_buffer::JitterBuffer;
use crate::latching::RemoteLatch;
use crate::live::{Frame, FrameRing};
use crate::pacing::{PendingFrame, TickClock, TransmitQueue};
use crate::packet::{Datagram, RTP_HEADER_LEN, RtpHeader, RtpPacket};
use crate::playback::{FrameAudio, Playback};
use crate::tap::Tap;
use crate::telephone_event::{
    TELEPHONE_EVENT_PAYLOAD_LEN, TelephoneEventPayload, TelephoneEventReceiver,
};
use crate::telephone_event_sender::TelephoneEventSender;
use crate::{PayloadType, PlaybackId, Prompt, RtpError, RtpTimestamp, SeqNo, Ssrc};

/// Smallest `out` buffer [`MediaSession::poll_transmit`] writes into (one G.711 packet).
pub const MIN_TRANSMIT_BUFFER: usize = RTP_HEADER_LEN + FRAME_SAMPLES;

/// What the session needs to know, from SDP and the caller's random choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    pub codec: Codec,
    pub audio_payload_type: PayloadType,
    pub telephone_event_payload_type: Option<PayloadType>,
    /// The address from SDP; symmetric RTP latching overrides it.
    pub remote: Option<SocketAddr>,
    pub ssrc: Ssrc,
    pub initial_sequence: SeqNo,
    pub initial_timestamp: RtpTimestamp,
    /// Run the in-band DTMF detector on received audio (until RFC 4733 shows up).
    pub inband_dtmf: bool,
}

/// Something the IVR must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A key press, reported once.
    Digit {
        digit: DtmfDigit,
        source: DigitSource,
    },
    /// The prompt started by [`MediaSession::play`] has been sent completely (reported on the
    /// tick after its last frame, i.e. once that frame's 20 ms are over). Not reported for a
    /// prompt that was replaced or stopped.
    PlaybackFinished { id: PlaybackId },
}

/// How a digit arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigitSource {
    /// RFC 4733 telephone-event packets.
    Rfc4733,
    /// DTMF tones in the audio.
    Inband,
}

/// Counters for the call log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// Valid RTP packets of a known payload type accepted from the remote.
    pub packets_in: u64,
    /// RTP packets handed out by `poll_transmit`.
    pub packets_out: u64,
    /// Audio packets never received (RFC 3550: expected minus received).
    pub lost: u64,
    /// Audio packets that arrived after their playout time.
    pub late: u64,
    /// Audio packets received twice.
    pub duplicates: u64,
    /// When the last accepted packet arrived (for RTP-timeout detection).
    pub last_received: Option<Instant>,
}

/// An in-band DTMF detector fed with played-out audio. Implemented by
/// [`ivory_dsp::InbandDtmfDetector`], the default; other implementations serve tests.
pub trait DigitDetector {
    /// Feeds 8 kHz linear samples.
    fn push_samples(&mut self, samples: &[i16]);
    /// The next confirmed digit.
    fn poll_digit(&mut self) -> Option<DtmfDigit>;
}

impl DigitDetector for InbandDtmfDetector {
    fn push_samples(&mut self, samples: &[i16]) {
        InbandDtmfDetector::push_samples(self, samples);
    }

    fn poll_digit(&mut self) -> Option<DtmfDigit> {
        InbandDtmfDetector::poll_digit(self)
    }
}

/// One call leg's media. See the crate docs for the run loop and the contract.
pub struct MediaSession<D = InbandDtmfDetector> {
    codec: Codec,
    silence_byte: u8,
    audio_payload_type: PayloadType,
    event_payload_type: Option<PayloadType>,
    /// A dynamic payload type seen carrying telephone-events although SDP named another (sipp
    /// sends 96 whatever was negotiated).
    learned_event_payload_type: Option<PayloadType>,
    ssrc: Ssrc,
    initial_timestamp: RtpTimestamp,
    next_sequence: SeqNo,
    latch: RemoteLatch,
    clock: TickClock,
    sending: bool,
    marker_pending: bool,
    playback: Playback,
    queue: TransmitQueue,
    jitter_buffer: JitterBuffer,
    telephone_events: TelephoneEventReceiver,
    /// `None` when disabled by config or switched off by RFC 4733.
    inband: Option<D>,
    events: VecDeque<MediaEvent>,
    packets_in: u64,
    packets_out: u64,
    last_received: Option<Instant>,
    played_frame: [i16; FRAME_SAMPLES],
    /// Ivory's linear audio of the current tick, for the tap.
    tap_ivory: [i16; FRAME_SAMPLES],
    digit_sender: TelephoneEventSender,
    tap: Tap,
    /// Frames of the other leg of a bridge, sent in place of silence.
    live: FrameRing,
}

impl<D> std::fmt::Debug for MediaSession<D> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("MediaSession")
            .field("ssrc", &self.ssrc)
            .field("remote", &self.latch.remote())
            .field("sending", &self.sending)
            .field("playing", &self.playback.is_playing())
            .field("next_deadline", &self.clock.next_deadline())
            .finish_non_exhaustive()
    }
}

/// What a received RTP packet carries.
enum Content {
    Audio,
    TelephoneEvent,
    /// A telephone-event start on a dynamic payload type SDP did not name; learned on accept.
    UnannouncedTelephoneEvent,
}

impl MediaSession<InbandDtmfDetector> {
    /// A session whose clock starts at `now` (the first packet is due at once).
    pub fn new(config: MediaConfig, now: Instant) -> Self {
        Self::with_detector(config, now, InbandDtmfDetector::new())
    }
}

impl<D: DigitDetector> MediaSession<D> {
    /// A session with a specific in-band detector (used only if `config.inband_dtmf`).
    pub fn with_detector(config: MediaConfig, now: Instant, detector: D) -> Self {
        MediaSession {
            codec: config.codec,
            silence_byte: config.codec.encode_sample(0),
            audio_payload_type: config.audio_payload_type,
            event_payload_type: config.telephone_event_payload_type,
            learned_event_payload_type: None,
            ssrc: config.ssrc,
            initial_timestamp: config.initial_timestamp,
            next_sequence: config.initial_sequence,
            latch: RemoteLatch::new(config.remote),
            clock: TickClock::new(now),
            sending: true,
            marker_pending: true,
            playback: Playback::default(),
            queue: TransmitQueue::default(),
            jitter_buffer: JitterBuffer::new(config.codec),
            telephone_events: TelephoneEventReceiver::new(),
            inband: config.inband_dtmf.then_some(detector),
            events: VecDeque::with_capacity(8),
            packets_in: 0,
            packets_out: 0,
            last_received: None,
            played_frame: [0; FRAME_SAMPLES],
            tap_ivory: [0; FRAME_SAMPLES],
            digit_sender: TelephoneEventSender::default(),
            tap: Tap::default(),
            live: FrameRing::default(),
        }
    }

    /// Handles one datagram from the RTP socket. Never panics, whatever the bytes; anything
    /// malformed, RTCP, or of an unknown payload type is ignored.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let Ok(Datagram::Rtp(packet)) = Datagram::parse(datagram) else {
            return;
        };
        let Some(content) = self.classify(&packet) else {
            return;
        };
        if !self.latch.observe(from) {
            return;
        }
        self.packets_in += 1;
        self.last_received = Some(now);
        match content {
            Content::Audio => {
                self.jitter_buffer.insert(now, &packet);
            }
            Content::TelephoneEvent | Content::UnannouncedTelephoneEvent => {
                if matches!(content, Content::UnannouncedTelephoneEvent) {
                    self.learned_event_payload_type = Some(packet.payload_type);
                }
                // A caller sending RFC 4733 may send the tone in the audio too; from now on
                // RFC 4733 alone reports digits. Anything the detector half-heard is dropped.
                self.inband = None;
                for digit in self.telephone_events.handle_packet_digits(now, &packet) {
                    self.events.push_back(MediaEvent::Digit {
                        digit,
                        source: DigitSource::Rfc4733,
                    });
                }
            }
        }
    }

    /// Runs the due 20 ms ticks (send, play out, detect) and expires RFC 4733 events.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.telephone_events.handle_timeout(now);
        let due = self.clock.claim_due(now);
        if self.tap.is_enabled() {
            // Ticks slept through are silence in a recording, which keeps its length right.
            for _ in 0..due.skipped.min(crate::tap::TAP_FRAMES as u64) {
                self.tap.push_silence();
            }
        }
        for index in due.first..due.first + due.count {
            self.tick(index);
        }
    }

    /// Writes the next packet into `out` and returns its length and destination. `out` must hold
    /// [`MIN_TRANSMIT_BUFFER`] bytes (a 1500-byte buffer is the usual choice); when it does not,
    /// nothing is written and `None` is returned.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<(usize, SocketAddr)> {
        let packet = out.get_mut(..MIN_TRANSMIT_BUFFER)?;
        let remote = self.latch.remote()?;
        if !self.sending {
            self.queue.clear();
            return None;
        }
        let frame = self.queue.pop()?;
        let payload_type = match (&frame.audio, self.event_payload_type) {
            (FrameAudio::Event(_), Some(event_payload_type)) => event_payload_type,
            _ => self.audio_payload_type,
        };
        let header = RtpHeader {
            marker: frame.marker,
            payload_type,
            sequence: self.next_sequence,
            timestamp: frame.timestamp,
            ssrc: self.ssrc,
        };
        // `packet` is exactly MIN_TRANSMIT_BUFFER long, so the header fits.
        let header_length = header.write(packet).ok()?;
        let payload = &mut packet[header_length..];
        match &frame.audio {
            FrameAudio::Silence => payload.fill(self.silence_byte),
            FrameAudio::Prompt {
                payload: encoded,
                length,
            } => {
                let (audio, padding) = payload.split_at_mut((*length).min(payload.len()));
                audio.copy_from_slice(&encoded[..audio.len()]);
                padding.fill(self.silence_byte);
            }
            FrameAudio::Live(samples) => self.codec.encode(samples, payload),
            FrameAudio::Event(event) => {
                // `payload` has 160 bytes; the block needs 4.
                let length = event.write(payload).ok()?;
                self.next_sequence = self.next_sequence.next();
                self.packets_out += 1;
                return Some((header_length + length, remote));
            }
        }
        self.next_sequence = self.next_sequence.next();
        self.packets_out += 1;
        Some((MIN_TRANSMIT_BUFFER, remote))
    }

    /// The next event for the IVR.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must run next: the next 20 ms tick or an RFC 4733 end-packet
    /// deadline, whichever is first. Always `Some`: the send clock never stops.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let tick = self.clock.next_deadline();
        Some(
            self.telephone_events
                .poll_timeout()
                .map_or(tick, |deadline| deadline.min(tick)),
        )
    }

    /// Starts `prompt` at the next tick, replacing whatever plays (without an event for it).
    pub fn play(&mut self, prompt: Prompt) -> PlaybackId {
        self.playback.play(prompt)
    }

    /// Stops the current prompt (no event); silence follows.
    pub fn stop_playback(&mut self) {
        self.playback.stop();
    }

    pub fn is_playing(&self) -> bool {
        self.playback.is_playing()
    }

    /// Sends `digit` as RFC 4733 telephone-events lasting `duration` (rounded up to whole 20 ms
    /// frames, clamped to 40 ms..8.18 s), after any digits still queued; see
    /// [`crate::telephone_event_sender`]. Audio packets pause while it is sent; prompts go on
    /// in time. On hold or before a remote is known the digit's time passes unsent. Needs a
    /// negotiated telephone-event payload type.
    pub fn send_digit(&mut self, digit: DtmfDigit, duration: Duration) -> Result<(), RtpError> {
        if self.event_payload_type.is_none() {
            return Err(RtpError::TelephoneEventNotNegotiated);
        }
        self.digit_sender.queue(digit, duration)
    }

    /// Whether digits from [`Self::send_digit`] are still being sent or waiting.
    pub fn is_sending_digits(&self) -> bool {
        self.digit_sender.is_busy()
    }

    /// Drops digits not yet sent and the one being sent (without its end packets).
    pub fn cancel_digits(&mut self) {
        self.digit_sender.clear();
    }

    /// Queues a frame of live audio (the other leg of a bridge): each tick that plays no prompt
    /// takes the oldest waiting frame and sends it instead of silence. At most
    /// [`crate::LIVE_FRAMES`] wait; a push beyond that drops the oldest. Push one frame per tick.
    pub fn push_live_frame(&mut self, frame: &Frame) {
        self.live.push(frame);
    }

    /// Forgets live frames not yet sent (the bridge ended).
    pub fn clear_live_frames(&mut self) {
        self.live.clear();
    }

    /// Live frames dropped because more arrived than ticks took.
    pub fn live_frames_dropped(&self) -> u64 {
        self.live.dropped()
    }

    /// Turns the recording tap on or off (off empties it). While on, every 20 ms tick leaves
    /// the caller's played-out frame (jitter-buffered and concealed; silence before the caller's
    /// first packet) and ivory's frame (the prompt samples sent, silence otherwise, also while a
    /// digit is sent or on hold) for [`Self::poll_tapped_frame`]. Ticks a late driver slept
    /// through are tapped as silence, so a recording keeps the call's length.
    pub fn set_tap(&mut self, enabled: bool) {
        self.tap.set_enabled(enabled);
    }

    /// The oldest tapped tick into `caller` and `ivory`; `false` when none is waiting. The tap
    /// holds [`crate::TAP_FRAMES`] ticks; drain it at every wake-up.
    pub fn poll_tapped_frame(
        &mut self,
        caller: &mut [i16; FRAME_SAMPLES],
        ivory: &mut [i16; FRAME_SAMPLES],
    ) -> bool {
        self.tap.pop(caller, ivory)
    }

    /// Tapped ticks lost because the tap was not drained in time.
    pub fn tapped_frames_dropped(&self) -> u64 {
        self.tap.dropped()
    }

    /// The media moved (re-INVITE). Packets go there; the next packet from a different source
    /// latches at once, as at the start of the call.
    pub fn set_remote(&mut self, remote: SocketAddr) {
        self.latch.set_remote(remote);
    }

    /// Where packets go now: the SDP address or the latched source.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.latch.remote()
    }

    /// Hold (`sendonly`/`inactive` from the peer's view): stop or resume sending; receiving goes
    /// on. Time keeps running while not sending: prompts advance and finish, and the RTP
    /// timestamp jumps by the time on hold when sending resumes (with the marker bit).
    pub fn set_sending(&mut self, sending: bool) {
        if sending && !self.sending {
            self.marker_pending = true;
        }
        if !sending {
            self.queue.clear();
        }
        self.sending = sending;
    }

    pub fn is_sending(&self) -> bool {
        self.sending
    }

    pub fn stats(&self) -> MediaStats {
        let jitter = self.jitter_buffer.stats();
        MediaStats {
            packets_in: self.packets_in,
            packets_out: self.packets_out,
            lost: jitter.lost,
            late: jitter.late,
            duplicates: jitter.duplicates,
            last_received: self.last_received,
        }
    }

    /// The jitter buffer's current playout delay.
    pub fn playout_delay(&self) -> std::time::Duration {
        self.jitter_buffer.playout_delay()
    }

    fn classify(&self, packet: &RtpPacket<'_>) -> Option<Content> {
        let payload_type = packet.payload_type;
        if payload_type == self.audio_payload_type {
            return Some(Content::Audio);
        }
        if packet.payload.len() < TELEPHONE_EVENT_PAYLOAD_LEN {
            return None;
        }
        if Some(payload_type) == self.event_payload_type
            || Some(payload_type) == self.learned_event_payload_type
        {
            return Some(Content::TelephoneEvent);
        }
        // Learn an unannounced telephone-event payload type only from an unmistakable event
        // start: dynamic type, marker bit, one 4-byte block, a DTMF code, not an end packet,
        // reserved bit clear. sipp's "noop" filler (type 97, no marker) never qualifies.
        let block = TelephoneEventPayload::parse(packet.payload).ok()?;
        let looks_like_event_start = payload_type.is_dynamic()
            && packet.marker
            && packet.payload.len() == TELEPHONE_EVENT_PAYLOAD_LEN
            && DtmfDigit::from_event_code(block.event).is_some()
            && !block.end
            && packet.payload[1] & 0x40 == 0;
        looks_like_event_start.then_some(Content::UnannouncedTelephoneEvent)
    }

    fn tick(&mut self, index: u64) {
        let (mut audio, finished) = self.playback.tick(self.codec);
        if matches!(audio, FrameAudio::Silence) {
            let mut frame = [0; FRAME_SAMPLES];
            if self.live.pop_into(&mut frame) {
                audio = FrameAudio::Live(frame);
            }
        }
        if let Some(id) = finished {
            self.events.push_back(MediaEvent::PlaybackFinished { id });
        }
        let timestamp = TickClock::timestamp(self.initial_timestamp, index);
        let event = self.digit_sender.tick(timestamp);
        let transmitting = self.sending && self.latch.remote().is_some();
        if self.tap.is_enabled() {
            let sent_audio = match (&audio, event) {
                (FrameAudio::Prompt { .. }, None) if transmitting => {
                    self.playback.frame_just_played()
                }
                (FrameAudio::Live(samples), None) if transmitting => samples,
                _ => &[],
            };
            self.tap_ivory.fill(0);
            self.tap_ivory[..sent_audio.len()].copy_from_slice(sent_audio);
        }
        if transmitting {
            let frame = match event {
                Some(event) => PendingFrame {
                    timestamp: event.timestamp,
                    marker: event.marker,
                    audio: FrameAudio::Event(event.payload),
                },
                None => PendingFrame {
                    timestamp,
                    marker: std::mem::take(&mut self.marker_pending),
                    audio,
                },
            };
            self.queue.push(frame);
        }
        if self.jitter_buffer.has_stream() {
            let tick_time = self.clock.tick_time(index);
            self.jitter_buffer.pull(tick_time, &mut self.played_frame);
            if let Some(detector) = self.inband.as_mut() {
                detector.push_samples(&self.played_frame);
                while let Some(digit) = detector.poll_digit() {
                    self.events.push_back(MediaEvent::Digit {
                        digit,
                        source: DigitSource::Inband,
                    });
                }
            }
            self.tap.push(&self.played_frame, &self.tap_ivory);
        } else {
            self.tap.push(&[0; FRAME_SAMPLES], &self.tap_ivory);
        }
    }
}

#[cfg(test)]
#[path = "session_tests/mod.rs"]
mod tests;
