//! The pool on real threads: calls spread over workers, a prompt's end comes back, close answers.

use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;

use ivory_dsp::{Codec, FRAME_SAMPLES};
use ivory_rtp::{PayloadType, Prompt, RtpTimestamp, SeqNo, Ssrc};

use super::*;
use crate::ports::PortAllocator;

fn config(remote: std::net::SocketAddr) -> MediaConfig {
    MediaConfig {
        codec: Codec::Pcma,
        audio_payload_type: PayloadType::new(8).expect("valid"),
        telephone_event_payload_type: None,
        remote: Some(remote),
        ssrc: Ssrc(9),
        initial_sequence: SeqNo(1),
        initial_timestamp: RtpTimestamp(0),
        inband_dtmf: false,
    }
}

fn attach(
    workers: &MediaWorkers,
    allocator: &PortAllocator,
    remote: std::net::SocketAddr,
) -> MediaHandle {
    workers
        .attach(
            config(remote),
            allocator.allocate().expect("free ports"),
            Duration::from_secs(30),
            Span::none(),
        )
        .expect("a worker")
}

#[tokio::test]
async fn calls_go_to_the_least_loaded_worker_and_their_prompts_end() {
    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer socket");
    let remote = peer.local_addr().expect("bound");
    let allocator =
        PortAllocator::new(IpAddr::from([127, 0, 0, 1]), 47_900, 47_919).expect("valid range");
    let workers = MediaWorkers::start(2);
    assert_eq!(workers.len(), 2);
    let mut first = attach(&workers, &allocator, remote);
    let second = attach(&workers, &allocator, remote);
    assert_eq!(workers.loads(), vec![1, 1]);

    let prompt = Prompt::from_samples(Arc::from(vec![500i16; 3 * FRAME_SAMPLES]));
    first.play(4, prompt, 1, None);
    let notice = tokio::time::timeout(Duration::from_secs(10), first.next_notice())
        .await
        .expect("a notice before the hang guard");
    assert!(
        matches!(
            notice,
            Some(MediaNotice::PlaybackFinished { generation: 4 })
        ),
        "{notice:?}"
    );

    first.request_close();
    let after_close = tokio::time::timeout(Duration::from_secs(10), first.next_notice())
        .await
        .expect("closed before the hang guard");
    assert!(after_close.is_none());
    let stats = first.final_stats().expect("closed");
    assert!(stats.packets_out >= 4, "{stats:?}");
    assert!(first.is_closed());
    drop(second);
    // The dropped handle closes its slot: the workers' loads fall back to zero.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while workers.loads() != vec![0, 0] {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            workers.loads()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Commands share one queue per worker: each reaches its own slot, including a command sent
/// right after the attach, before the worker has taken the slot in.
#[tokio::test]
async fn each_slots_commands_reach_that_slot() {
    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer socket");
    let remote = peer.local_addr().expect("bound");
    let allocator =
        PortAllocator::new(IpAddr::from([127, 0, 0, 1]), 47_920, 47_939).expect("valid range");
    let workers = MediaWorkers::start(2);
    let mut handles: Vec<MediaHandle> = (0..5)
        .map(|_| attach(&workers, &allocator, remote))
        .collect();
    for (index, handle) in handles.iter().enumerate() {
        // Prompts of different lengths, so the ends come back at different times.
        let frames = 2 + index;
        let prompt = Prompt::from_samples(Arc::from(vec![500i16; frames * FRAME_SAMPLES]));
        handle.play(100 + index as u64, prompt, 1, None);
    }
    for (index, handle) in handles.iter_mut().enumerate() {
        let notice = tokio::time::timeout(Duration::from_secs(10), handle.next_notice())
            .await
            .expect("a notice before the hang guard");
        assert!(
            matches!(notice, Some(MediaNotice::PlaybackFinished { generation }) if generation == 100 + index as u64),
            "slot {index}: {notice:?}"
        );
    }
}
