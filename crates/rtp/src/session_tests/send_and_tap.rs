//! Sending RFC 4733 digits and the recording tap.

use super::*;
use crate::TAP_FRAMES;
use crate::telephone_event::TelephoneEventReceiver;

const AUDIO_TIMESTAMP_STEP: u32 = 160;

fn timestamp_of_tick(tick: u32) -> RtpTimestamp {
    RtpTimestamp(INITIAL_TIMESTAMP.wrapping_add(tick * AUDIO_TIMESTAMP_STEP))
}

#[test]
fn a_sent_digit_replaces_audio_with_rfc4733_packets() {
    let mut harness = Harness::new(config(Some(address(4000))));
    harness.run_until(harness.at(100));
    assert_eq!(harness.sent.len(), 6);
    harness
        .session
        .send_digit(DtmfDigit::D5, Duration::from_millis(100))
        .unwrap();
    assert!(harness.session.is_sending_digits());
    harness.run_until(harness.at(400));
    assert!(!harness.session.is_sending_digits());
    let packets: Vec<RtpPacket<'_>> = harness.sent.iter().map(Sent::packet).collect();
    // Sequence numbers run on without a gap across audio and events.
    for (index, packet) in packets.iter().enumerate() {
        assert_eq!(packet.sequence, SeqNo(65_000u16.wrapping_add(index as u16)));
    }
    // Ticks 6..=12 carry the event: 5 updates (the 5th with the end bit) and 2 more end packets.
    for (offset, packet) in packets[6..13].iter().enumerate() {
        assert_eq!(packet.payload_type.value(), EVENT_PT);
        assert_eq!(packet.timestamp, timestamp_of_tick(6), "event start");
        assert_eq!(packet.marker, offset == 0);
        let block = TelephoneEventPayload::parse(packet.payload).unwrap();
        assert_eq!(packet.payload.len(), 4);
        assert_eq!(block.event, DtmfDigit::D5.event_code());
        assert_eq!(block.volume, 10);
        assert_eq!(block.end, offset >= 4);
        assert_eq!(block.duration, 160 * (offset.min(4) as u16 + 1));
        assert_eq!(
            harness.sent[6 + offset].at,
            harness.at(120 + 20 * offset as u64)
        );
    }
    assert_eq!(harness.sent[6].bytes.len(), RTP_HEADER_LEN + 4);
    // Audio resumes on the running clock.
    for (tick, packet) in packets.iter().enumerate().skip(13) {
        assert_eq!(packet.payload_type.value(), AUDIO_PT);
        assert_eq!(packet.timestamp, timestamp_of_tick(tick as u32));
        assert!(!packet.marker);
    }
    assert_eq!(packets[5].payload_type.value(), AUDIO_PT);
    // A receiver hears exactly one digit.
    let mut receiver = TelephoneEventReceiver::new();
    let digits: Vec<DtmfDigit> = harness.sent[6..13]
        .iter()
        .filter_map(|sent| receiver.handle_packet(sent.at, &sent.packet()))
        .collect();
    assert_eq!(digits, vec![DtmfDigit::D5]);
}

#[test]
fn queued_digits_are_separate_presses_and_prompts_keep_time() {
    let mut harness = Harness::new(config(Some(address(4000))));
    let playing = harness.session.play(prompt(160 * 20));
    harness
        .session
        .send_digit(DtmfDigit::D1, Duration::from_millis(40))
        .unwrap();
    harness
        .session
        .send_digit(DtmfDigit::D1, Duration::from_millis(40))
        .unwrap();
    harness.run_until(harness.at(600));
    let mut receiver = TelephoneEventReceiver::new();
    let mut digits = Vec::new();
    let mut event_packets = 0;
    for sent in &harness.sent {
        let packet = sent.packet();
        if packet.payload_type.value() == EVENT_PT {
            event_packets += 1;
            digits.extend(receiver.handle_packet(sent.at, &packet));
        }
    }
    assert_eq!(event_packets, 8);
    assert_eq!(digits, vec![DtmfDigit::D1, DtmfDigit::D1]);
    // The prompt ran on while the digits were sent: it still finishes after 20 frames.
    assert_eq!(harness.finished(), vec![(harness.at(400), playing)]);
}

#[test]
fn sending_digits_needs_a_telephone_event_payload_type() {
    let mut without = config(Some(address(4000)));
    without.telephone_event_payload_type = None;
    let mut harness = Harness::new(without);
    assert_eq!(
        harness
            .session
            .send_digit(DtmfDigit::D1, Duration::from_millis(100)),
        Err(RtpError::TelephoneEventNotNegotiated)
    );
    harness
        .session
        .send_digit(DtmfDigit::D1, Duration::ZERO)
        .unwrap_err();
}

#[test]
fn cancelled_digits_stop_at_once() {
    let mut harness = Harness::new(config(Some(address(4000))));
    harness
        .session
        .send_digit(DtmfDigit::D3, Duration::from_millis(1000))
        .unwrap();
    harness.run_until(harness.at(40));
    harness.session.cancel_digits();
    harness.run_until(harness.at(100));
    let kinds: Vec<u8> = harness
        .sent
        .iter()
        .map(|sent| sent.packet().payload_type.value())
        .collect();
    assert_eq!(
        kinds,
        vec![EVENT_PT, EVENT_PT, EVENT_PT, AUDIO_PT, AUDIO_PT, AUDIO_PT]
    );
}

/// Runs tick by tick, draining the tap after each; returns the tapped frames.
fn run_tapped(harness: &mut Harness, until_millis: u64) -> Vec<([i16; 160], [i16; 160])> {
    let mut frames = Vec::new();
    let mut caller = [0i16; 160];
    let mut ivory = [0i16; 160];
    let mut millis = harness.now.duration_since(harness.start).as_millis() as u64;
    loop {
        let target = millis.min(until_millis);
        harness.run_until(harness.at(target));
        while harness.session.poll_tapped_frame(&mut caller, &mut ivory) {
            frames.push((caller, ivory));
        }
        if target == until_millis {
            return frames;
        }
        millis += 20;
    }
}

#[test]
fn the_tap_gives_both_directions_every_tick() {
    let mut harness = Harness::new(config(Some(address(4000))));
    harness.session.set_tap(true);
    let prompt = prompt(160 * 10 + 40);
    harness.session.play(prompt.clone());
    for sequence in 0..30u16 {
        harness.deliver(
            5 + u64::from(sequence) * 20,
            address(4000),
            &audio(sequence, 0x55),
        );
        let mut caller = [0i16; 160];
        let mut ivory = [0i16; 160];
        let mut frames = Vec::new();
        while harness.session.poll_tapped_frame(&mut caller, &mut ivory) {
            frames.push((caller, ivory));
        }
        assert!(frames.len() <= 1);
        harness.tapped.extend(frames);
    }
    let rest = run_tapped(&mut harness, 1000);
    harness.tapped.extend(rest);
    let frames = &harness.tapped;
    // One tapped tick per 20 ms tick, 0 ms to 1000 ms.
    assert_eq!(frames.len(), 51);
    // Ivory: the prompt frame by frame (the last one padded), then silence.
    for (index, (_, ivory)) in frames.iter().enumerate() {
        let expected = prompt.samples().chunks(160).nth(index).unwrap_or(&[]);
        assert_eq!(&ivory[..expected.len()], expected, "tick {index}");
        assert!(ivory[expected.len()..].iter().all(|&sample| sample == 0));
    }
    // Caller: 30 frames of the decoded byte, after the jitter buffer's delay.
    let heard = Codec::Pcmu.decode_sample(0x55);
    let caller_frames: Vec<bool> = frames
        .iter()
        .map(|(caller, _)| caller.iter().all(|&sample| sample == heard))
        .collect();
    assert_eq!(caller_frames.iter().filter(|&&full| full).count(), 30);
    let first = caller_frames.iter().position(|&full| full).unwrap();
    assert!(
        (1..=4).contains(&first),
        "first caller frame at tick {first}"
    );
    assert!(
        frames[..first]
            .iter()
            .all(|(caller, _)| caller.iter().all(|&s| s == 0))
    );
    assert_eq!(harness.session.tapped_frames_dropped(), 0);
}

#[test]
fn an_undrained_tap_keeps_the_newest_ticks_and_a_late_driver_gets_silence() {
    let mut harness = Harness::new(config(Some(address(4000))));
    harness.session.set_tap(true);
    harness.run_until(harness.at(20 * 40));
    assert_eq!(
        harness.session.tapped_frames_dropped(),
        41 - TAP_FRAMES as u64
    );
    let mut caller = [1i16; 160];
    let mut ivory = [1i16; 160];
    let mut count = 0;
    while harness.session.poll_tapped_frame(&mut caller, &mut ivory) {
        count += 1;
    }
    assert_eq!(count, TAP_FRAMES);
    // The driver oversleeps 200 ms: ten ticks are due, three are run, seven are skipped; the
    // tap still gets ten.
    harness.now = harness.at(20 * 40 + 200);
    harness.session.handle_timeout(harness.now);
    count = 0;
    while harness.session.poll_tapped_frame(&mut caller, &mut ivory) {
        count += 1;
    }
    assert_eq!(count, 10);
    harness.session.set_tap(false);
    harness.run_until(harness.at(20 * 60));
    assert!(!harness.session.poll_tapped_frame(&mut caller, &mut ivory));
}
