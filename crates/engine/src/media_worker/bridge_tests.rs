//! Two slots bridged, driven tick by tick with real loopback sockets: audio crosses both ways
//! between a PCMU leg and a PCMA leg.

use std::time::Duration;

use ivory_dsp::{Codec, DtmfDigit};

use super::slot_tests::Harness;
use crate::media_worker::BridgeEnd;

/// A 20 ms RTP packet of one repeated byte.
fn audio_packet(payload_type: u8, sequence: u16, byte: u8) -> Vec<u8> {
    let mut packet = vec![0x80, payload_type];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&(u32::from(sequence) * 160).to_be_bytes());
    packet.extend_from_slice(&0x5eed_u32.to_be_bytes());
    packet.extend(std::iter::repeat_n(byte, 160));
    packet
}

/// The first payload byte of every audio packet the peer received.
fn received_payload_bytes(harness: &Harness) -> Vec<u8> {
    let mut buffer = [0u8; 1500];
    let mut bytes = Vec::new();
    while let Ok((length, _)) = harness.peer.recv_from(&mut buffer) {
        if length == 172 {
            bytes.push(buffer[12]);
        }
    }
    bytes
}

#[test]
fn audio_crosses_a_bridge_both_ways_and_is_transcoded() {
    let mut pcmu = Harness::with_codec(Duration::from_secs(30), Codec::Pcmu, true);
    let mut pcma = Harness::with_codec(Duration::from_secs(30), Codec::Pcma, true);
    let (end_u, end_a) = BridgeEnd::pair();
    pcmu.handle.bridge(end_u);
    pcma.handle.bridge(end_a);
    let loud = 6000i16;
    let from_u = Codec::Pcmu.encode_sample(loud);
    let from_a = Codec::Pcma.encode_sample(-loud);
    let mut heard_at_a = Vec::new();
    let mut heard_at_u = Vec::new();
    for sequence in 0..30u16 {
        pcmu.peer
            .send_to(&audio_packet(0, sequence, from_u), pcmu.slot_address)
            .expect("sent");
        pcma.peer
            .send_to(&audio_packet(8, sequence, from_a), pcma.slot_address)
            .expect("sent");
        pcmu.tick();
        pcma.tick();
        heard_at_a.extend(received_payload_bytes(&pcma));
        heard_at_u.extend(received_payload_bytes(&pcmu));
    }
    // After the jitter buffer's delay, each side sends the other's audio in its own codec.
    let expected_at_a = Codec::Pcma.encode_sample(Codec::Pcmu.decode_sample(from_u));
    let expected_at_u = Codec::Pcmu.encode_sample(Codec::Pcma.decode_sample(from_a));
    let bridged_at_a = heard_at_a.iter().filter(|&&b| b == expected_at_a).count();
    let bridged_at_u = heard_at_u.iter().filter(|&&b| b == expected_at_u).count();
    assert!(bridged_at_a >= 20, "{heard_at_a:?}");
    assert!(bridged_at_u >= 20, "{heard_at_u:?}");

    // Unbridged: silence again.
    pcmu.handle.unbridge();
    pcma.handle.unbridge();
    for sequence in 30..40u16 {
        pcmu.peer
            .send_to(&audio_packet(0, sequence, from_u), pcmu.slot_address)
            .expect("sent");
        pcmu.tick();
        pcma.tick();
    }
    received_payload_bytes(&pcma);
    pcmu.tick();
    pcma.tick();
    pcma.tick();
    let after = received_payload_bytes(&pcma);
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|&b| b == Codec::Pcma.encode_sample(0)),
        "{after:?}"
    );
}

#[test]
fn a_digit_for_a_leg_without_telephone_events_is_sent_as_a_tone() {
    let mut harness = Harness::with_codec(Duration::from_secs(30), Codec::Pcmu, false);
    harness
        .handle
        .send_digit(DtmfDigit::D5, Duration::from_millis(100));
    let mut bytes = Vec::new();
    for _ in 0..8 {
        harness.tick();
        bytes.extend(received_payload_bytes(&harness));
    }
    let silence = Codec::Pcmu.encode_sample(0);
    let tone_packets = bytes.iter().filter(|&&b| b != silence).count();
    assert!(tone_packets >= 4, "{bytes:?}");
    assert!(
        harness.notices().is_empty(),
        "the tone is not a prompt: no notice"
    );
}
