//! Send side: pacing, late wake-ups, playback, hold, symmetric RTP.

use super::*;
use crate::MAX_BURST;

#[test]
fn pacing_sends_a_thousand_packets_without_drift_and_wraps() {
    let remote = address(4000);
    let mut harness = Harness::new(config(Some(remote)));
    harness.run_until(harness.at(19_990));
    assert_eq!(harness.sent.len(), 1000);
    for (index, sent) in harness.sent.iter().enumerate() {
        let packet = sent.packet();
        assert_eq!(sent.at, harness.at(20 * index as u64));
        assert_eq!(sent.to, remote);
        assert_eq!(sent.bytes.len(), MIN_TRANSMIT_BUFFER);
        assert_eq!(packet.sequence, SeqNo(65_000u16.wrapping_add(index as u16)));
        assert_eq!(
            packet.timestamp,
            RtpTimestamp(INITIAL_TIMESTAMP.wrapping_add(160 * index as u32))
        );
        assert_eq!(packet.ssrc, Ssrc(0xCAFE));
        assert_eq!(packet.payload_type.value(), AUDIO_PT);
        assert_eq!(packet.marker, index == 0);
        assert!(
            packet.payload.iter().all(|byte| *byte == 0xFF),
            "µ-law silence"
        );
    }
    // Both counters wrapped inside the run.
    assert_eq!(harness.sent[536].packet().sequence, SeqNo(0));
    assert_eq!(harness.sent[500].packet().timestamp, RtpTimestamp(0));
    assert_eq!(harness.session.stats().packets_out, 1000);
    assert_eq!(harness.session.poll_timeout(), Some(harness.at(20_000)));
}

#[test]
fn late_wake_up_sends_three_then_skips_ahead() {
    let mut harness = Harness::new(config(Some(address(4000))));
    harness.run_until(harness.at(0));
    assert_eq!(harness.sent.len(), 1);
    // The driver oversleeps 150 ms: ticks 1..=7 are due; only 5, 6, 7 go out.
    harness.now = harness.at(150);
    harness.session.handle_timeout(harness.now);
    harness.drain();
    assert_eq!(harness.sent.len(), 1 + MAX_BURST);
    let first = harness.sent[0].packet().timestamp;
    let offsets: Vec<i64> = harness.sent[1..]
        .iter()
        .map(|sent| first.distance_to(sent.packet().timestamp) / 160)
        .collect();
    assert_eq!(offsets, vec![5, 6, 7]);
    let sequences: Vec<u16> = harness
        .sent
        .iter()
        .map(|sent| sent.packet().sequence.0)
        .collect();
    assert_eq!(sequences, vec![65_000, 65_001, 65_002, 65_003]);
    // Back on the original grid.
    assert_eq!(harness.session.poll_timeout(), Some(harness.at(160)));
    harness.run_until(harness.at(160));
    assert_eq!(harness.sent.len(), 5);
    assert_eq!(
        first.distance_to(harness.sent[4].packet().timestamp),
        8 * 160
    );
}

#[test]
fn a_slightly_late_driver_still_sends_every_packet() {
    let mut harness = Harness::new(config(Some(address(4000))));
    for tick in 0..50u64 {
        harness.now = harness.at(tick * 20 + 7);
        harness.session.handle_timeout(harness.now);
        harness.drain();
    }
    assert_eq!(harness.sent.len(), 50);
}

#[test]
fn nothing_is_sent_before_a_remote_is_known() {
    let mut harness = Harness::new(config(None));
    harness.run_until(harness.at(200));
    assert!(harness.sent.is_empty());
    harness.session.set_remote(address(5000));
    harness.run_until(harness.at(260));
    assert_eq!(harness.sent.len(), 3);
    assert!(harness.sent[0].packet().marker);
    assert_eq!(harness.sent[0].to, address(5000));
    // The timestamp reflects the time that passed.
    let initial = RtpTimestamp(INITIAL_TIMESTAMP);
    assert_eq!(
        initial.distance_to(harness.sent[0].packet().timestamp),
        11 * 160
    );
    assert_eq!(harness.sent[0].packet().sequence, SeqNo(65_000));
}

#[test]
fn too_small_buffers_get_nothing() {
    let mut harness = Harness::new(config(Some(address(4000))));
    harness.session.handle_timeout(harness.start);
    let mut small = [0u8; MIN_TRANSMIT_BUFFER - 1];
    assert!(harness.session.poll_transmit(&mut small).is_none());
    let mut exact = [0u8; MIN_TRANSMIT_BUFFER];
    assert_eq!(
        harness.session.poll_transmit(&mut exact),
        Some((MIN_TRANSMIT_BUFFER, address(4000)))
    );
}

#[test]
fn prompt_is_sent_frame_by_frame_and_finishes_once_on_time() {
    let mut harness = Harness::new(config(Some(address(4000))));
    harness.run_until(harness.at(45));
    let samples = prompt(1000); // 6 full frames and 40 samples
    let id = harness.session.play(samples.clone());
    assert!(harness.session.is_playing());
    harness.run_until(harness.at(1000));
    // Ticks at 60..=180 ms carry the prompt; the finish is reported at 200 ms.
    assert_eq!(harness.finished(), vec![(harness.at(200), id)]);
    assert!(!harness.session.is_playing());
    let prompt_packets: Vec<&Sent> = harness
        .sent
        .iter()
        .filter(|sent| sent.at >= harness.at(60) && sent.at <= harness.at(180))
        .collect();
    assert_eq!(prompt_packets.len(), 7);
    for (frame, sent) in prompt_packets.iter().enumerate() {
        let expected: Vec<u8> = (0..160)
            .map(|offset| {
                samples
                    .samples()
                    .get(frame * 160 + offset)
                    .map_or(0xFF, |sample| Codec::Pcmu.encode_sample(*sample))
            })
            .collect();
        assert_eq!(sent.packet().payload, expected.as_slice(), "frame {frame}");
    }
    assert!(
        harness
            .sent
            .iter()
            .filter(|sent| sent.at < harness.at(60) || sent.at > harness.at(180))
            .all(|sent| sent.packet().payload.iter().all(|byte| *byte == 0xFF))
    );
}

#[test]
fn replaced_and_stopped_prompts_report_nothing() {
    let mut harness = Harness::new(config(Some(address(4000))));
    let first = harness.session.play(prompt(8000));
    harness.run_until(harness.at(100));
    let second = harness.session.play(prompt(320));
    harness.run_until(harness.at(500));
    assert_eq!(
        harness
            .finished()
            .iter()
            .map(|(_, id)| *id)
            .collect::<Vec<_>>(),
        vec![second]
    );
    assert_ne!(first, second);
    harness.session.play(prompt(8000));
    harness.run_until(harness.at(600));
    harness.session.stop_playback();
    assert!(!harness.session.is_playing());
    harness.run_until(harness.at(2000));
    assert_eq!(harness.finished().len(), 1);
}

#[test]
fn hold_stops_sending_but_keeps_receiving_and_playing() {
    let mut harness = Harness::new(config(Some(address(4000))));
    harness.run_until(harness.at(100));
    let before = harness.sent.len();
    harness.session.set_sending(false);
    assert!(!harness.session.is_sending());
    let id = harness.session.play(prompt(1600));
    for sequence in 0..10u16 {
        harness.deliver(
            120 + u64::from(sequence) * 20,
            address(4000),
            &audio(sequence, 0x55),
        );
    }
    harness.deliver(
        330,
        address(4000),
        &event(EVENT_PT, true, 1, 1, 1, DtmfDigit::D4, false, 0),
    );
    harness.run_until(harness.at(500));
    assert_eq!(harness.sent.len(), before, "nothing sent on hold");
    assert_eq!(harness.session.stats().packets_in, 11);
    assert_eq!(
        harness.digits(),
        vec![(DtmfDigit::D4, DigitSource::Rfc4733)]
    );
    assert!(
        harness
            .finished()
            .iter()
            .any(|(_, finished)| *finished == id)
    );
    harness.session.set_sending(true);
    harness.run_until(harness.at(540));
    let resumed: Vec<_> = harness.sent[before..].iter().map(Sent::packet).collect();
    assert_eq!(resumed.len(), 2);
    assert!(resumed[0].marker && !resumed[1].marker);
    let last_before = harness.sent[before - 1].packet();
    assert_eq!(resumed[0].sequence, last_before.sequence.next());
    assert_eq!(
        last_before.timestamp.distance_to(resumed[0].timestamp),
        21 * 160
    );
}

#[test]
fn symmetric_rtp_latches_and_resists_strays() {
    let mut harness = Harness::new(config(Some(address(4000))));
    // Garbage, RTCP and unknown payload types from elsewhere latch nothing.
    harness.deliver(1, address(6666), &[0x80, 0x00, 1]);
    harness.deliver(2, address(6666), &[0x80, 200, 0, 1, 0, 0, 0, 1]);
    harness.deliver(3, address(6666), &rtp(99, false, 1, 1, 1, &[0; 160]));
    harness.run_until(harness.at(20));
    assert!(harness.sent.iter().all(|sent| sent.to == address(4000)));
    assert_eq!(harness.session.stats().packets_in, 0);
    // The first real packet from the NATed source wins at once.
    harness.deliver(25, address(5000), &audio(1, 0x55));
    harness.run_until(harness.at(40));
    assert_eq!(harness.sent.last().unwrap().to, address(5000));
    // A stray packet is not media and does not move the latch.
    harness.deliver(45, address(7000), &audio(2, 0x55));
    harness.run_until(harness.at(60));
    assert_eq!(harness.sent.last().unwrap().to, address(5000));
    assert_eq!(harness.session.stats().packets_in, 1);
    // Three in a row from a new source do.
    for (index, millis) in [65, 85, 105].into_iter().enumerate() {
        harness.deliver(millis, address(7000), &audio(3 + index as u16, 0x55));
    }
    harness.run_until(harness.at(120));
    assert_eq!(harness.sent.last().unwrap().to, address(7000));
    assert_eq!(harness.session.remote(), Some(address(7000)));
    // A re-INVITE moves the media and re-arms the immediate latch.
    harness.session.set_remote(address(8000));
    harness.run_until(harness.at(140));
    assert_eq!(harness.sent.last().unwrap().to, address(8000));
    harness.deliver(150, address(8001), &audio(6, 0x55));
    harness.run_until(harness.at(160));
    assert_eq!(harness.sent.last().unwrap().to, address(8001));
}
