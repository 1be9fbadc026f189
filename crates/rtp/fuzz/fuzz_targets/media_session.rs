//! A media session fed arbitrary datagrams (split from the input at arbitrary points) and driven
//! through time never panics; packet parsing sees every shape of header, padding and extension.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ivory_dsp::Codec;
use ivory_rtp::{MediaConfig, MediaSession, PayloadType, RtpTimestamp, SeqNo, Ssrc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let remote: SocketAddr = "127.0.0.1:40000".parse().expect("literal address");
    let config = MediaConfig {
        codec: Codec::Pcmu,
        audio_payload_type: PayloadType::new(0).expect("0 is a payload type"),
        telephone_event_payload_type: Some(PayloadType::new(101).expect("101 is a payload type")),
        remote: Some(remote),
        ssrc: Ssrc(1),
        initial_sequence: SeqNo(65_500),
        initial_timestamp: RtpTimestamp(u32::MAX - 500),
        inband_dtmf: true,
    };
    let mut session = MediaSession::new(config, start);
    let mut out = [0u8; 1500];
    let mut now = start;
    // Each chunk: 1 length byte, 1 time-step byte, then the datagram.
    let mut rest = data;
    while rest.len() >= 2 {
        let length = usize::from(rest[0]) * 2;
        now += Duration::from_millis(u64::from(rest[1]) % 60);
        rest = &rest[2..];
        let take = length.min(rest.len());
        session.handle_datagram(now, remote, &rest[..take]);
        rest = &rest[take..];
        session.handle_timeout(now);
        while session.poll_transmit(&mut out).is_some() {}
        while session.poll_event().is_some() {}
    }
});
