//! Hot pieces of the RTP path: packet parse and header write, the jitter buffer (one insert and
//! one pull per 20 ms frame), and a whole `MediaSession` tick (receive one audio packet, run the
//! tick, send one packet) — idle, playing a prompt, and sending a bridged live frame.
//!
//! Virtual time only: `now` starts at one `Instant::now()` and advances 20 ms per iteration; no
//! sockets. Run: `cargo bench -p ivory-rtp --bench rtp`.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use ivory_dsp::{Codec, FRAME_SAMPLES, tone};
use ivory_rtp::jitter_buffer::JitterBuffer;
use ivory_rtp::packet::{Datagram, RtpHeader, RtpPacket};
use ivory_rtp::{
    FRAME_DURATION, Frame, MIN_TRANSMIT_BUFFER, MediaConfig, MediaEvent, MediaSession, PayloadType,
    Prompt, RtpTimestamp, SeqNo, Ssrc,
};

const FRAME_TIMESTAMP_STEP: u32 = FRAME_SAMPLES as u32;

fn pcmu() -> PayloadType {
    PayloadType::new(0).expect("0 is a valid payload type")
}

/// 50 frames (1 s) of the caller's audio, µ-law encoded, to cycle through.
fn caller_payloads() -> Vec<[u8; FRAME_SAMPLES]> {
    let noise = tone::white_noise(1000, -20.0, 11);
    noise
        .chunks_exact(FRAME_SAMPLES)
        .map(|samples| {
            let mut payload = [0u8; FRAME_SAMPLES];
            Codec::Pcmu.encode(samples, &mut payload);
            payload
        })
        .collect()
}

/// The caller's stream: writes packet `index` (sequence and timestamp follow from it) into `out`.
fn caller_packet(index: u32, payload: &[u8], out: &mut [u8]) -> usize {
    RtpHeader {
        marker: index == 0,
        payload_type: pcmu(),
        sequence: SeqNo(index as u16),
        timestamp: RtpTimestamp(index.wrapping_mul(FRAME_TIMESTAMP_STEP)),
        ssrc: Ssrc(0xCAFE_F00D),
    }
    .write_packet(payload, out)
    .expect("a 1500-byte buffer holds a 172-byte packet")
}

fn packets(criterion: &mut Criterion) {
    let payloads = caller_payloads();
    let mut datagram = [0u8; 1500];
    let length = caller_packet(7, &payloads[0], &mut datagram);
    let datagram = &datagram[..length];
    criterion.bench_function("rtp_packet/parse", |bencher| {
        bencher.iter(|| {
            let parsed = Datagram::parse(black_box(datagram));
            black_box(parsed).expect("a well-formed RTP packet")
        });
    });
    let header = RtpHeader {
        marker: false,
        payload_type: pcmu(),
        sequence: SeqNo(4711),
        timestamp: RtpTimestamp(123_456),
        ssrc: Ssrc(0x1234_5678),
    };
    criterion.bench_function("rtp_packet/write_header", |bencher| {
        let mut out = [0u8; MIN_TRANSMIT_BUFFER];
        bencher.iter(|| {
            let written = black_box(&header).write(&mut out);
            black_box(&out);
            black_box(written).expect("the buffer holds a header")
        });
    });
    criterion.bench_function("rtp_packet/write_packet_160", |bencher| {
        let mut out = [0u8; MIN_TRANSMIT_BUFFER];
        bencher.iter(|| {
            let written = black_box(&header).write_packet(black_box(&payloads[0]), &mut out);
            black_box(&out);
            black_box(written).expect("the buffer holds a packet")
        });
    });
}

/// One iteration = the packet of frame `n` arrives, then the frame due at that tick is pulled.
/// `order` maps an iteration to the frame whose packet arrives in it (in order, or pairwise
/// swapped to make the buffer reorder).
fn bench_jitter_buffer(criterion: &mut Criterion, name: &str, order: fn(u32) -> u32) {
    let payloads = caller_payloads();
    criterion.bench_function(name, |bencher| {
        let start = Instant::now();
        let mut buffer = JitterBuffer::new(Codec::Pcmu);
        let mut frame = [0i16; FRAME_SAMPLES];
        let mut iteration = 0u32;
        bencher.iter(|| {
            let index = order(iteration);
            let packet = RtpPacket {
                marker: index == 0,
                payload_type: pcmu(),
                sequence: SeqNo(index as u16),
                timestamp: RtpTimestamp(index.wrapping_mul(FRAME_TIMESTAMP_STEP)),
                ssrc: Ssrc(0xCAFE_F00D),
                payload: &payloads[index as usize % payloads.len()],
            };
            let now = start + FRAME_DURATION * iteration;
            black_box(buffer.insert(now, black_box(&packet)));
            black_box(buffer.pull(now, &mut frame));
            black_box(&frame);
            iteration += 1;
        });
        black_box(buffer.stats());
    });
}

fn jitter_buffer(criterion: &mut Criterion) {
    bench_jitter_buffer(criterion, "jitter_buffer/insert_pull_in_order", |n| n);
    bench_jitter_buffer(criterion, "jitter_buffer/insert_pull_pairs_swapped", |n| {
        n ^ 1
    });
}

#[derive(Clone, Copy)]
enum Outgoing {
    Silence,
    Prompt,
    Live,
}

/// One iteration = one 20 ms cycle of a call: the caller's audio packet arrives, the tick runs
/// (jitter buffer pull, in-band DTMF detection, the outgoing frame), the packet is sent and the
/// events are drained.
fn bench_session(criterion: &mut Criterion, name: &str, outgoing: Outgoing) {
    let payloads = caller_payloads();
    let remote = SocketAddr::from(([127, 0, 0, 1], 40_000));
    // Ten seconds of prompt, restarted when it finishes.
    let prompt = Prompt::from_samples(Arc::from(tone::white_noise(10_000, -15.0, 3)));
    let live_frame: Frame = {
        let samples = tone::sine(440.0, 20, -15.0);
        let mut frame = [0i16; FRAME_SAMPLES];
        frame.copy_from_slice(&samples);
        frame
    };
    criterion.bench_function(name, |bencher| {
        let start = Instant::now();
        let config = MediaConfig {
            codec: Codec::Pcmu,
            audio_payload_type: pcmu(),
            telephone_event_payload_type: Some(
                PayloadType::new(101).expect("101 is a valid payload type"),
            ),
            remote: Some(remote),
            ssrc: Ssrc(0x1234_5678),
            initial_sequence: SeqNo(1000),
            initial_timestamp: RtpTimestamp(160_000),
            inband_dtmf: true,
        };
        let mut session = MediaSession::new(config, start);
        if matches!(outgoing, Outgoing::Prompt) {
            session.play(prompt.clone());
        }
        let mut datagram = [0u8; 1500];
        let mut transmit = [0u8; 1500];
        let mut iteration = 0u32;
        let mut sent = 0u64;
        bencher.iter(|| {
            let now = start + FRAME_DURATION * iteration;
            let length = caller_packet(
                iteration,
                &payloads[iteration as usize % payloads.len()],
                &mut datagram,
            );
            session.handle_datagram(now, remote, black_box(&datagram[..length]));
            if matches!(outgoing, Outgoing::Live) {
                session.push_live_frame(black_box(&live_frame));
            }
            session.handle_timeout(now);
            while let Some((length, destination)) = session.poll_transmit(&mut transmit) {
                black_box((&transmit[..length], destination));
                sent += 1;
            }
            while let Some(event) = session.poll_event() {
                if matches!(event, MediaEvent::PlaybackFinished { .. }) {
                    session.play(prompt.clone());
                }
                black_box(event);
            }
            iteration += 1;
        });
        // Every cycle sent exactly one packet: the schedule kept up with virtual time.
        assert_eq!(sent, u64::from(iteration), "one packet per 20 ms cycle");
    });
}

fn media_session(criterion: &mut Criterion) {
    bench_session(criterion, "media_session_cycle/silence", Outgoing::Silence);
    bench_session(criterion, "media_session_cycle/prompt", Outgoing::Prompt);
    bench_session(criterion, "media_session_cycle/live_frame", Outgoing::Live);
}

criterion_group!(benches, packets, jitter_buffer, media_session);
criterion_main!(benches);
