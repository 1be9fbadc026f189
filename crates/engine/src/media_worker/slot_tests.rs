//! A slot driven tick by tick in virtual time, with real loopback sockets (loopback delivers a
//! datagram before `send_to` returns, so what a tick reads is exactly what was sent before it).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use ivory_dsp::Codec;
use ivory_rtp::{FRAME_DURATION, PayloadType, RtpTimestamp, SeqNo, Ssrc};

use super::*;
use crate::media_worker::MediaHandle;
use crate::media_worker::handle::SlotKey;
use crate::ports::PortAllocator;
use crate::tap_listeners::TapOutcome;

/// Each test takes its own port range, so tests running in parallel never share one.
fn ports() -> PortPair {
    static NEXT: AtomicU16 = AtomicU16::new(47_000);
    let first = NEXT.fetch_add(20, Ordering::Relaxed);
    PortAllocator::new(IpAddr::from([127, 0, 0, 1]), first, first + 19)
        .expect("valid range")
        .allocate()
        .expect("free ports")
}

pub(super) struct Harness {
    slot: MediaSlot,
    pub(super) handle: MediaHandle,
    /// The worker's side of the handle's command queue.
    commands: std::sync::mpsc::Receiver<(SlotKey, MediaCommand)>,
    pub(super) peer: UdpSocket,
    pub(super) slot_address: SocketAddr,
    start: Instant,
    ticks: u32,
    scratch: Scratch,
}

impl Harness {
    pub(super) fn new(rtp_timeout: Duration) -> Self {
        Self::with_codec(rtp_timeout, Codec::Pcmu, true)
    }

    pub(super) fn with_codec(rtp_timeout: Duration, codec: Codec, telephone_events: bool) -> Self {
        let peer = UdpSocket::bind("127.0.0.1:0").expect("peer socket");
        peer.set_nonblocking(true).expect("non-blocking");
        let ports = ports();
        let slot_address = SocketAddr::from(([127, 0, 0, 1], ports.rtp_port));
        let (commands, command_receiver) = std::sync::mpsc::channel();
        let key = 7;
        let (notices, notice_receiver) = tokio::sync::mpsc::unbounded_channel();
        let config = MediaConfig {
            codec,
            audio_payload_type: PayloadType::new(match codec {
                Codec::Pcmu => 0,
                Codec::Pcma => 8,
            })
            .expect("valid"),
            telephone_event_payload_type: telephone_events
                .then(|| PayloadType::new(101).expect("valid")),
            remote: Some(peer.local_addr().expect("bound")),
            ssrc: Ssrc(1),
            initial_sequence: SeqNo(1),
            initial_timestamp: RtpTimestamp(0),
            inband_dtmf: true,
        };
        let start = Instant::now();
        let slot = MediaSlot::new(
            NewSlot {
                config,
                ports,
                key,
                notices,
                rtp_timeout,
                span: Span::none(),
            },
            start,
        );
        Self {
            slot,
            handle: MediaHandle::new(commands, key, notice_receiver, 0, codec),
            commands: command_receiver,
            peer,
            slot_address,
            start,
            ticks: 0,
            scratch: Scratch::default(),
        }
    }

    /// Runs the next tick, on time, as a worker does: the last tick's packets go first, then
    /// the handle's commands.
    pub(super) fn tick(&mut self) -> SlotState {
        let now = self.start + FRAME_DURATION * self.ticks;
        self.ticks += 1;
        self.slot.send_held();
        for (key, command) in self.commands.try_iter() {
            assert_eq!(
                key,
                self.slot.key(),
                "the handle tags commands with its slot's key"
            );
            self.slot.command(command);
        }
        self.slot.tick(now, &mut self.scratch)
    }

    fn received(&self) -> usize {
        let mut buffer = [0u8; 1500];
        std::iter::from_fn(|| self.peer.recv_from(&mut buffer).ok()).count()
    }

    pub(super) fn notices(&mut self) -> Vec<MediaNotice> {
        std::iter::from_fn(|| self.handle.try_notice()).collect()
    }

    /// An RFC 4733 start packet for `event` (0-9, 10 = '*', 11 = '#').
    fn send_event(&self, event: u8, timestamp: u32, sequence: u16) {
        let mut packet = vec![0x80, 0x80 | 101];
        packet.extend_from_slice(&sequence.to_be_bytes());
        packet.extend_from_slice(&timestamp.to_be_bytes());
        packet.extend_from_slice(&0x0bad_cafe_u32.to_be_bytes());
        packet.extend_from_slice(&[event, 10, 0, 160]);
        self.peer
            .send_to(&packet, self.slot_address)
            .expect("sent on loopback");
    }
}

fn prompt(frames: usize) -> Prompt {
    Prompt::from_samples(Arc::from(vec![1000i16; frames * FRAME_SAMPLES]))
}

#[test]
fn every_tick_sends_the_last_ticks_packet_and_a_looped_prompt_ends_once_with_its_generation() {
    let mut harness = Harness::new(Duration::from_secs(30));
    harness.handle.play(7, prompt(2), 2, None);
    let mut finished_at = Vec::new();
    for tick in 0..10 {
        assert_eq!(harness.tick(), SlotState::Open);
        let expected = usize::from(tick > 0);
        assert_eq!(harness.received(), expected, "tick {tick}");
        for notice in harness.notices() {
            match notice {
                MediaNotice::PlaybackFinished { generation } => {
                    finished_at.push((tick, generation));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    // Frames on ticks 0-1, end seen on 2 and replayed on 3-4, end reported on tick 5.
    assert_eq!(finished_at, vec![(5, 7)]);
}

#[test]
fn a_stopped_prompt_reports_nothing() {
    let mut harness = Harness::new(Duration::from_secs(30));
    harness.handle.play(1, prompt(2), 1, None);
    harness.tick();
    harness.handle.stop_playback();
    for _ in 0..5 {
        harness.tick();
    }
    assert!(harness.notices().is_empty());
}

#[test]
fn digits_go_to_the_scenario_except_during_a_recording_whose_escape_digit_ends_it() {
    let dir = std::env::temp_dir().join(format!("ivory-slot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut harness = Harness::new(Duration::from_secs(30));
    harness.send_event(5, 1000, 1);
    harness.tick();
    let notices = harness.notices();
    assert!(
        matches!(
            &notices[..],
            [MediaNotice::Digit {
                digit: '5',
                source: "rfc4733",
                for_scenario: true
            }]
        ),
        "{notices:?}"
    );
    let request = RecordingRequest::create(
        "message".into(),
        "message.wav".into(),
        &dir.join("message.wav"),
        None,
        None,
        "#",
    )
    .expect("file opens");
    harness.handle.start_recording(request);
    for _ in 0..10 {
        harness.tick();
    }
    harness.send_event(11, 9000, 2);
    harness.tick();
    let notices = harness.notices();
    assert!(
        matches!(
            &notices[..],
            [
                MediaNotice::Digit {
                    digit: '#',
                    for_scenario: false,
                    ..
                },
                MediaNotice::Tap(TapOutcome::RecordingStopped { identifier, .. }),
            ] if identifier == "message"
        ),
        "{notices:?}"
    );
    // An INFO digit after the recording ended is handed back for the scenario.
    harness.handle.recorder_digit('1');
    harness.tick();
    assert!(matches!(
        &harness.notices()[..],
        [MediaNotice::RecorderDeclined('1')]
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rtp_silence_is_reported_once_but_not_on_hold() {
    let mut harness = Harness::new(Duration::from_millis(1500));
    // Checked once a second: at 1 s the silence is not over the timeout yet, at 2 s it is.
    for _ in 0..100 {
        harness.tick();
    }
    assert!(harness.notices().is_empty());
    harness.tick();
    assert!(matches!(&harness.notices()[..], [MediaNotice::RtpTimeout]));
    for _ in 0..100 {
        harness.tick();
    }
    assert!(harness.notices().is_empty(), "reported once");

    let mut held = Harness::new(Duration::from_millis(1500));
    held.handle.set_sending(false);
    for _ in 0..200 {
        held.tick();
    }
    assert!(held.notices().is_empty());
    assert_eq!(held.received(), 0, "nothing is sent on hold");
}

#[test]
fn close_reports_the_final_counters_and_a_dropped_handle_closes_the_slot() {
    let mut harness = Harness::new(Duration::from_secs(30));
    for _ in 0..3 {
        harness.tick();
    }
    harness.handle.request_close();
    assert_eq!(harness.tick(), SlotState::Closed);
    match &harness.notices()[..] {
        [MediaNotice::Closed { stats }] => assert_eq!(stats.packets_out, 3),
        other => panic!("unexpected {other:?}"),
    }

    let mut dropped = Harness::new(Duration::from_secs(30));
    dropped.tick();
    let Harness {
        mut slot,
        handle,
        commands,
        mut scratch,
        start,
        ..
    } = dropped;
    drop(handle);
    // The worker hands the slot what the dropped handle sent.
    for (_, command) in commands.try_iter() {
        slot.command(command);
    }
    assert_eq!(
        slot.tick(start + FRAME_DURATION, &mut scratch),
        SlotState::Closed
    );
}
