//! Whatever arrives on the RTP port, the session never panics: random bytes, truncated and
//! mutated valid packets, and valid packets with hostile header values and timing.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ivory_dsp::{Codec, DtmfDigit};
use ivory_rtp::packet::{Datagram, RtpHeader};
use ivory_rtp::telephone_event::TelephoneEventPayload;
use ivory_rtp::*;
use proptest::prelude::*;

fn session(start: Instant) -> MediaSession {
    let mut session = MediaSession::new(
        MediaConfig {
            codec: Codec::Pcma,
            audio_payload_type: PayloadType::new(8).unwrap(),
            telephone_event_payload_type: Some(PayloadType::new(101).unwrap()),
            remote: None,
            ssrc: Ssrc(1),
            initial_sequence: SeqNo(65_535),
            initial_timestamp: RtpTimestamp(u32::MAX),
            inband_dtmf: true,
        },
        start,
    );
    session.play(Prompt::from_samples(Arc::from(vec![500i16; 1234])));
    session
}

fn drain(session: &mut MediaSession) {
    let mut buffer = [0u8; 1500];
    while let Some((length, _)) = session.poll_transmit(&mut buffer) {
        assert!(matches!(
            Datagram::parse(&buffer[..length]),
            Ok(Datagram::Rtp(_))
        ));
    }
    while session.poll_event().is_some() {}
}

fn valid_packet(
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut bytes = vec![0u8; 12 + payload.len()];
    RtpHeader {
        marker,
        payload_type: PayloadType::new(payload_type).unwrap(),
        sequence: SeqNo(sequence),
        timestamp: RtpTimestamp(timestamp),
        ssrc: Ssrc(ssrc),
    }
    .write_packet(payload, &mut bytes)
    .unwrap();
    bytes
}

fn source(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], port))
}

proptest! {
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Datagram::parse(&bytes);
        let _ = TelephoneEventPayload::parse(&bytes);
        // Force version 2 to get past the first check and into the header arithmetic.
        let mut versioned = bytes.clone();
        if let Some(first) = versioned.first_mut() {
            *first = (*first & 0x3f) | 0x80;
        }
        if let Ok(Datagram::Rtp(packet)) = Datagram::parse(&versioned) {
            prop_assert!(packet.payload.len() <= versioned.len() - 12);
        }
    }

    #[test]
    fn random_datagrams_never_panic(
        datagrams in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..300), 0u64..50, 0u16..3),
            1..60,
        )
    ) {
        let start = Instant::now();
        let mut session = session(start);
        let mut now = start;
        for (bytes, gap_ms, port) in datagrams {
            now += Duration::from_millis(gap_ms);
            session.handle_timeout(now);
            session.handle_datagram(now, source(port), &bytes);
            drain(&mut session);
        }
    }

    #[test]
    fn truncated_and_mutated_valid_packets_never_panic(
        packets in proptest::collection::vec(
            (0usize..4, 0usize..200, proptest::collection::vec((0usize..200, any::<u8>()), 0..4)),
            1..40,
        )
    ) {
        let start = Instant::now();
        let mut session = session(start);
        let mut event = [0u8; 4];
        TelephoneEventPayload { event: 5, end: false, volume: 10, duration: 400 }
            .write(&mut event)
            .unwrap();
        let templates = [
            valid_packet(8, false, 100, 16_000, 7, &[0xD5; 160]),
            valid_packet(101, true, 101, 16_160, 7, &event),
            valid_packet(96, true, 102, 16_320, 7, &event),
            // CSRCs, extension and padding, to be cut anywhere.
            {
                let mut packet = vec![0xB1, 8, 0, 103, 0, 0, 0x3F, 0x80, 0, 0, 0, 7];
                packet.extend_from_slice(&[1, 2, 3, 4, 0xBE, 0xDE, 0, 1, 9, 9, 9, 9]);
                packet.extend_from_slice(&[0xD5; 160]);
                packet.extend_from_slice(&[0, 0, 0, 4]);
                packet
            },
        ];
        let mut now = start;
        for (template, cut, flips) in packets {
            let mut bytes = templates[template].clone();
            for (position, value) in flips {
                if let Some(byte) = bytes.get_mut(position) {
                    *byte ^= value;
                }
            }
            bytes.truncate(cut);
            now += Duration::from_millis(7);
            session.handle_timeout(now);
            session.handle_datagram(now, source(1), &bytes);
            drain(&mut session);
        }
    }

    #[test]
    fn hostile_header_values_and_timing_never_panic(
        packets in proptest::collection::vec(
            (
                prop_oneof![Just(8u8), Just(101u8), Just(96u8), 0u8..128],
                any::<bool>(),
                any::<u16>(),
                any::<u32>(),
                0u32..3,
                0usize..500,
                0u64..3_000,
                any::<u8>(),
            ),
            1..80,
        ),
        late_wake_ms in 0u64..100_000,
    ) {
        let start = Instant::now();
        let mut session = session(start);
        let mut now = start;
        for (payload_type, marker, sequence, timestamp, ssrc, length, gap_ms, fill) in packets {
            now += Duration::from_millis(gap_ms);
            let payload = vec![fill; length];
            session.handle_datagram(now, source(1), &valid_packet(payload_type, marker, sequence, timestamp, ssrc, &payload));
            session.handle_timeout(now);
            drain(&mut session);
        }
        now += Duration::from_millis(late_wake_ms);
        session.handle_timeout(now);
        drain(&mut session);
        let stats = session.stats();
        prop_assert!(stats.packets_in <= 80);
    }
}

#[test]
fn digits_survive_a_stream_of_garbage() {
    let start = Instant::now();
    let mut session = session(start);
    let mut event = [0u8; 4];
    let mut digits = Vec::new();
    for step in 0..20u64 {
        let now = start + Duration::from_millis(step * 20);
        session.handle_timeout(now);
        session.handle_datagram(now, source(1), &[0x80, 101, 0, 0]);
        TelephoneEventPayload {
            event: 9,
            end: step >= 17,
            volume: 10,
            duration: (step * 160) as u16,
        }
        .write(&mut event)
        .unwrap();
        session.handle_datagram(
            now,
            source(1),
            &valid_packet(101, step == 0, step as u16, 800, 3, &event),
        );
        while let Some(event) = session.poll_event() {
            if let MediaEvent::Digit { digit, .. } = event {
                digits.push(digit);
            }
        }
    }
    assert_eq!(digits, vec![DtmfDigit::D9]);
}
