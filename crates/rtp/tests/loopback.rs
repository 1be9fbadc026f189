//! Two sessions talking through a seeded impaired network, public API only: what one plays, the
//! other receives in order, and the counters agree with the impairments.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ivory_dsp::Codec;
use ivory_rtp::*;

/// xorshift64*, seeded; the test's own impairment source.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn config(remote: Option<SocketAddr>, ssrc: u32) -> MediaConfig {
    MediaConfig {
        codec: Codec::Pcmu,
        audio_payload_type: PayloadType::new(0).unwrap(),
        telephone_event_payload_type: Some(PayloadType::new(101).unwrap()),
        remote,
        ssrc: Ssrc(ssrc),
        initial_sequence: SeqNo(65_500),
        initial_timestamp: RtpTimestamp(4_000_000_000),
        inband_dtmf: false,
    }
}

#[test]
fn one_session_plays_to_another_through_jitter_and_loss() {
    let start = Instant::now();
    let ivory = SocketAddr::from(([127, 0, 0, 1], 20_000));
    let phone = SocketAddr::from(([127, 0, 0, 1], 30_000));
    let mut sender = MediaSession::new(config(Some(phone), 1), start);
    // The receiver learns the sender's address by latching.
    let mut receiver = MediaSession::new(config(None, 2), start + Duration::from_millis(3));
    let prompt = Prompt::from_samples(Arc::from(vec![1234i16; 8000 * 5]));
    let id = sender.play(prompt);

    let mut random = Random(0x5eed);
    let mut in_flight: Vec<(Instant, Vec<u8>)> = Vec::new();
    let mut buffer = [0u8; 1500];
    let mut finished_at = None;
    let mut dropped = 0u64;
    let mut now = start;
    let end = start + Duration::from_secs(6);
    while now < end {
        let next = sender
            .poll_timeout()
            .unwrap()
            .min(receiver.poll_timeout().unwrap());
        let next_arrival = in_flight.iter().map(|(at, _)| *at).min();
        now = next_arrival.map_or(next, |arrival| arrival.min(next));
        in_flight.sort_by_key(|(at, _)| *at);
        while in_flight.first().is_some_and(|(at, _)| *at <= now) {
            let (at, bytes) = in_flight.remove(0);
            receiver.handle_datagram(at, ivory, &bytes);
        }
        sender.handle_timeout(now);
        receiver.handle_timeout(now);
        while let Some((length, to)) = sender.poll_transmit(&mut buffer) {
            assert_eq!(to, phone);
            if random.next() % 100 < 3 {
                dropped += 1;
                continue;
            }
            let delay = Duration::from_millis(30 + random.next() % 60);
            in_flight.push((now + delay, buffer[..length].to_vec()));
        }
        while let Some(event) = sender.poll_event() {
            if let MediaEvent::PlaybackFinished { id: finished } = event {
                assert_eq!(finished, id);
                assert!(finished_at.is_none(), "finished twice");
                finished_at = Some(now);
            }
        }
        while receiver.poll_transmit(&mut buffer).is_some() {}
    }
    assert_eq!(finished_at, Some(start + Duration::from_secs(5)));
    assert_eq!(receiver.remote(), Some(ivory));
    let stats = receiver.stats();
    let sent = sender.stats().packets_out;
    // Ticks at 0, 20, ..., 6000 ms (the loop runs the tick that reaches the end).
    assert_eq!(sent, 301);
    // Everything not dropped and not still in flight arrived and was counted.
    assert_eq!(stats.packets_in + dropped + in_flight.len() as u64, sent);
    assert!(
        stats.lost >= dropped.saturating_sub(3) && stats.lost <= dropped,
        "{stats:?} dropped {dropped}"
    );
    assert_eq!(stats.duplicates, 0);
    assert!(stats.late <= 3, "{stats:?}");
    assert!(receiver.playout_delay() >= Duration::from_millis(50));
}
