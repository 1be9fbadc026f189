//! Session tests in virtual time: a driver harness here, the send side in `transmit`, the
//! receive side in `receive`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::*;

mod live;
mod receive;
mod send_and_tap;
mod transmit;

const AUDIO_PT: u8 = 0;
const EVENT_PT: u8 = 101;
/// µ-law byte the fake detector treats as "a tone".
const TONE_BYTE: u8 = 0x10;
/// Reaches 0 after 500 packets.
const INITIAL_TIMESTAMP: u32 = 0u32.wrapping_sub(160 * 500);

fn address(port: u16) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, 7], port))
}

fn config(remote: Option<SocketAddr>) -> MediaConfig {
    MediaConfig {
        codec: Codec::Pcmu,
        audio_payload_type: PayloadType::new(AUDIO_PT).unwrap(),
        telephone_event_payload_type: Some(PayloadType::new(EVENT_PT).unwrap()),
        remote,
        ssrc: Ssrc(0xCAFE),
        initial_sequence: SeqNo(65_000),
        initial_timestamp: RtpTimestamp(INITIAL_TIMESTAMP),
        inband_dtmf: true,
    }
}

/// Records every sample and reports `D1` for each frame that starts with the tone value.
#[derive(Debug, Default, Clone)]
struct FakeDetector {
    samples: Rc<RefCell<Vec<i16>>>,
    pending: usize,
}

impl DigitDetector for FakeDetector {
    fn push_samples(&mut self, samples: &[i16]) {
        self.samples.borrow_mut().extend_from_slice(samples);
        if samples.first() == Some(&Codec::Pcmu.decode_sample(TONE_BYTE)) {
            self.pending += 1;
        }
    }

    fn poll_digit(&mut self) -> Option<DtmfDigit> {
        self.pending.checked_sub(1).map(|pending| {
            self.pending = pending;
            DtmfDigit::D1
        })
    }
}

#[derive(Debug)]
struct Sent {
    at: Instant,
    to: SocketAddr,
    bytes: Vec<u8>,
}

impl Sent {
    fn packet(&self) -> RtpPacket<'_> {
        match Datagram::parse(&self.bytes) {
            Ok(Datagram::Rtp(packet)) => packet,
            other => panic!("sent something that is not RTP: {other:?}"),
        }
    }
}

/// Drives a session like a real driver would, on a virtual clock.
struct Harness {
    session: MediaSession<FakeDetector>,
    detector_samples: Rc<RefCell<Vec<i16>>>,
    start: Instant,
    now: Instant,
    sent: Vec<Sent>,
    events: Vec<(Instant, MediaEvent)>,
    /// Frames a test took from the recording tap.
    tapped: Vec<([i16; 160], [i16; 160])>,
}

impl Harness {
    fn new(config: MediaConfig) -> Self {
        let start = Instant::now();
        let detector = FakeDetector::default();
        let detector_samples = detector.samples.clone();
        Harness {
            session: MediaSession::with_detector(config, start, detector),
            detector_samples,
            start,
            now: start,
            sent: Vec::new(),
            events: Vec::new(),
            tapped: Vec::new(),
        }
    }

    fn at(&self, millis: u64) -> Instant {
        self.start + Duration::from_millis(millis)
    }

    /// Runs every deadline up to and including `end`, waking exactly on time.
    fn run_until(&mut self, end: Instant) {
        while let Some(deadline) = self.session.poll_timeout() {
            if deadline > end {
                break;
            }
            self.now = self.now.max(deadline);
            self.session.handle_timeout(self.now);
            self.drain();
        }
        self.now = self.now.max(end);
    }

    /// A datagram arriving at `millis` after start.
    fn deliver(&mut self, millis: u64, from: SocketAddr, bytes: &[u8]) {
        let at = self.at(millis);
        self.run_until(at);
        self.session.handle_datagram(at, from, bytes);
        self.drain();
    }

    fn drain(&mut self) {
        let mut buffer = [0u8; 1500];
        while let Some((length, to)) = self.session.poll_transmit(&mut buffer) {
            self.sent.push(Sent {
                at: self.now,
                to,
                bytes: buffer[..length].to_vec(),
            });
        }
        while let Some(event) = self.session.poll_event() {
            self.events.push((self.now, event));
        }
    }

    fn digits(&self) -> Vec<(DtmfDigit, DigitSource)> {
        self.events
            .iter()
            .filter_map(|(_, event)| match event {
                MediaEvent::Digit { digit, source } => Some((*digit, *source)),
                MediaEvent::PlaybackFinished { .. } => None,
            })
            .collect()
    }

    fn finished(&self) -> Vec<(Instant, PlaybackId)> {
        self.events
            .iter()
            .filter_map(|(at, event)| match event {
                MediaEvent::PlaybackFinished { id } => Some((*at, *id)),
                MediaEvent::Digit { .. } => None,
            })
            .collect()
    }
}

fn rtp(
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let header = RtpHeader {
        marker,
        payload_type: PayloadType::new(payload_type).unwrap(),
        sequence: SeqNo(sequence),
        timestamp: RtpTimestamp(timestamp),
        ssrc: Ssrc(ssrc),
    };
    let mut bytes = vec![0u8; RTP_HEADER_LEN + payload.len()];
    header.write_packet(payload, &mut bytes).unwrap();
    bytes
}

fn audio(sequence: u16, byte: u8) -> Vec<u8> {
    rtp(
        AUDIO_PT,
        false,
        sequence,
        u32::from(sequence) * 160,
        0xAAAA,
        &[byte; 160],
    )
}

/// A telephone-event packet; positional arguments read like the wire fields they set.
#[allow(clippy::too_many_arguments)]
fn event(
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    digit: DtmfDigit,
    end: bool,
    duration: u16,
) -> Vec<u8> {
    let mut block = [0u8; 4];
    TelephoneEventPayload {
        event: digit.event_code(),
        end,
        volume: 10,
        duration,
    }
    .write(&mut block)
    .unwrap();
    rtp(payload_type, marker, sequence, timestamp, ssrc, &block)
}

fn prompt(samples: usize) -> Prompt {
    Prompt::from_samples(
        (0..samples)
            .map(|index| (index as i16 % 200) * 50)
            .collect::<Arc<[i16]>>(),
    )
}
