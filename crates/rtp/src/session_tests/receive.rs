//! Receive side: played-out audio, in-band and RFC 4733 digits, counters.

use super::*;
use crate::FRAME_DURATION;
use crate::telephone_event::END_PACKET_TIMEOUT;

#[test]
fn received_audio_is_played_out_to_the_detector_every_tick() {
    let mut harness = Harness::new(config(Some(address(4000))));
    for sequence in 0..50u16 {
        harness.deliver(
            10 + u64::from(sequence) * 20,
            address(4000),
            &audio(sequence, 0x55),
        );
    }
    harness.run_until(harness.at(1200));
    let samples = harness.detector_samples.borrow();
    // One frame per tick from the first packet on.
    assert_eq!(samples.len() % 160, 0);
    assert!(samples.len() >= 59 * 160, "{}", samples.len());
    let expected = Codec::Pcmu.decode_sample(0x55);
    let heard = samples.iter().filter(|sample| **sample == expected).count();
    assert_eq!(heard, 50 * 160);
    let stats = harness.session.stats();
    assert_eq!(
        (stats.packets_in, stats.lost, stats.late, stats.duplicates),
        (50, 0, 0, 0)
    );
    assert_eq!(stats.last_received, Some(harness.at(990)));
}

#[test]
fn inband_digits_stop_once_telephone_events_arrive() {
    let mut harness = Harness::new(config(Some(address(4000))));
    for sequence in 0..3u16 {
        harness.deliver(
            10 + u64::from(sequence) * 20,
            address(4000),
            &audio(sequence, TONE_BYTE),
        );
    }
    harness.run_until(harness.at(200));
    assert_eq!(
        harness.digits(),
        vec![(DtmfDigit::D1, DigitSource::Inband); 3]
    );
    // The caller also sends RFC 4733 for the next key: that digit is reported once, and the
    // tone in its audio no longer is.
    harness.deliver(
        205,
        address(4000),
        &event(EVENT_PT, true, 100, 5000, 0xAAAA, DtmfDigit::D2, false, 0),
    );
    for sequence in 3..10u16 {
        harness.deliver(
            210 + u64::from(sequence) * 20,
            address(4000),
            &audio(sequence, TONE_BYTE),
        );
    }
    harness.run_until(harness.at(800));
    assert_eq!(
        harness.digits()[3..],
        [(DtmfDigit::D2, DigitSource::Rfc4733)]
    );
}

#[test]
fn inband_detection_can_be_disabled() {
    let mut harness = Harness::new(MediaConfig {
        inband_dtmf: false,
        ..config(Some(address(4000)))
    });
    for sequence in 0..5u16 {
        harness.deliver(
            10 + u64::from(sequence) * 20,
            address(4000),
            &audio(sequence, TONE_BYTE),
        );
    }
    harness.run_until(harness.at(300));
    assert!(harness.digits().is_empty());
    assert!(harness.detector_samples.borrow().is_empty());
}

#[test]
fn rfc4733_press_with_three_end_packets_gives_one_digit() {
    let mut harness = Harness::new(config(Some(address(4000))));
    let mut millis = 100;
    for (index, duration) in [0u16, 400, 800, 1200].into_iter().enumerate() {
        let packet = event(
            EVENT_PT,
            index == 0,
            index as u16,
            8000,
            9,
            DtmfDigit::Star,
            false,
            duration,
        );
        harness.deliver(millis, address(4000), &packet);
        millis += 50;
    }
    for index in 0..3u16 {
        harness.deliver(
            millis,
            address(4000),
            &event(
                EVENT_PT,
                false,
                4 + index,
                8000,
                9,
                DtmfDigit::Star,
                true,
                1600,
            ),
        );
        millis += 5;
    }
    harness.run_until(harness.at(2000));
    assert_eq!(
        harness.digits(),
        vec![(DtmfDigit::Star, DigitSource::Rfc4733)]
    );
    let (reported_at, _) = harness.events[0];
    assert_eq!(reported_at, harness.at(100), "reported on the first packet");
}

#[test]
fn end_packet_deadline_is_part_of_poll_timeout() {
    let mut harness = Harness::new(config(Some(address(4000))));
    harness.deliver(
        5,
        address(4000),
        &event(EVENT_PT, true, 1, 8000, 9, DtmfDigit::D0, false, 0),
    );
    harness.run_until(harness.at(140));
    assert_eq!(
        harness.session.poll_timeout(),
        Some(harness.at(5) + END_PACKET_TIMEOUT)
    );
    harness.run_until(harness.at(156));
    assert_eq!(harness.session.poll_timeout(), Some(harness.at(160)));
    // The press is over: the same digit with a new event timestamp is a new press.
    harness.deliver(
        170,
        address(4000),
        &event(EVENT_PT, true, 2, 9600, 9, DtmfDigit::D0, false, 0),
    );
    assert_eq!(harness.digits().len(), 2);
}

#[test]
fn sipp_play_dtmf_is_understood() {
    // sipp: 20 "noop" packets on type 97 first (400 ms), then the digit on type 96 with a
    // marker, timestamps in milliseconds, the end packet three times; SDP may have said 101.
    for negotiated in [96u8, 101] {
        let mut harness = Harness::new(MediaConfig {
            telephone_event_payload_type: Some(PayloadType::new(negotiated).unwrap()),
            ..config(Some(address(4000)))
        });
        let ssrc = 0x4321;
        let mut sequence = 0u16;
        let mut millis = 10;
        for filler in 0..20u32 {
            harness.deliver(
                millis,
                address(4000),
                &rtp(97, false, sequence, 24_000 + filler * 20, ssrc, &[0; 4]),
            );
            sequence += 1;
            millis += 20;
        }
        for digit in [DtmfDigit::D1, DtmfDigit::D1, DtmfDigit::Pound] {
            let timestamp = 24_400 + u32::from(sequence) * 2;
            for step in 0..10u16 {
                harness.deliver(
                    millis,
                    address(4000),
                    &event(
                        96,
                        step == 0,
                        sequence,
                        timestamp,
                        ssrc,
                        digit,
                        false,
                        step * 160,
                    ),
                );
                sequence += 1;
                millis += 20;
            }
            for _ in 0..3 {
                harness.deliver(
                    millis,
                    address(4000),
                    &event(96, false, sequence, timestamp, ssrc, digit, true, 1600),
                );
                sequence += 1;
                millis += 1;
            }
            millis += 200;
        }
        harness.run_until(harness.at(millis + 1000));
        let digits: Vec<char> = harness
            .digits()
            .iter()
            .map(|(digit, _)| digit.to_char())
            .collect();
        assert_eq!(digits, vec!['1', '1', '#'], "negotiated {negotiated}");
    }
}

#[test]
fn payload_type_change_in_the_middle_of_a_press_gives_one_digit() {
    let mut harness = Harness::new(config(Some(address(4000))));
    // The sender announced 101 but switches to 96 within the press (and uses 96 afterwards).
    harness.deliver(
        10,
        address(4000),
        &event(EVENT_PT, true, 1, 800, 5, DtmfDigit::D3, false, 0),
    );
    harness.deliver(
        60,
        address(4000),
        &event(EVENT_PT, false, 2, 800, 5, DtmfDigit::D3, false, 400),
    );
    harness.deliver(
        110,
        address(4000),
        &event(96, false, 3, 800, 5, DtmfDigit::D3, false, 800),
    );
    harness.deliver(
        160,
        address(4000),
        &event(96, false, 4, 800, 5, DtmfDigit::D3, true, 1200),
    );
    harness.deliver(
        400,
        address(4000),
        &event(96, true, 5, 4800, 5, DtmfDigit::D3, false, 0),
    );
    harness.deliver(
        450,
        address(4000),
        &event(96, false, 6, 4800, 5, DtmfDigit::D3, true, 400),
    );
    harness.deliver(
        455,
        address(4000),
        &event(96, false, 7, 4800, 5, DtmfDigit::D3, true, 400),
    );
    harness.run_until(harness.at(1000));
    assert_eq!(
        harness.digits(),
        vec![(DtmfDigit::D3, DigitSource::Rfc4733); 2]
    );
}

#[test]
fn ssrc_change_between_presses_and_lost_end_packets() {
    let mut harness = Harness::new(config(Some(address(4000))));
    // First press: end packets lost.
    harness.deliver(
        10,
        address(4000),
        &event(EVENT_PT, true, 1, 800, 5, DtmfDigit::D7, false, 0),
    );
    harness.deliver(
        60,
        address(4000),
        &event(EVENT_PT, false, 2, 800, 5, DtmfDigit::D7, false, 400),
    );
    // Second press from a new stream starting over with the same timestamp.
    harness.deliver(
        400,
        address(4000),
        &event(EVENT_PT, true, 1, 800, 6, DtmfDigit::D7, false, 0),
    );
    harness.deliver(
        450,
        address(4000),
        &event(EVENT_PT, false, 2, 800, 6, DtmfDigit::D7, true, 400),
    );
    // A retransmitted end packet of the first press, very late.
    harness.deliver(
        500,
        address(4000),
        &event(EVENT_PT, false, 3, 800, 5, DtmfDigit::D7, true, 800),
    );
    harness.run_until(harness.at(1000));
    assert_eq!(
        harness.digits(),
        vec![(DtmfDigit::D7, DigitSource::Rfc4733); 2]
    );
}

#[test]
fn late_and_duplicate_audio_is_counted() {
    let mut harness = Harness::new(config(Some(address(4000))));
    for sequence in 0..30u16 {
        if sequence == 10 {
            continue;
        }
        harness.deliver(
            10 + u64::from(sequence) * 20,
            address(4000),
            &audio(sequence, 0x55),
        );
        if sequence == 5 {
            harness.deliver(
                11 + u64::from(sequence) * 20,
                address(4000),
                &audio(sequence, 0x55),
            );
        }
    }
    harness.deliver(800, address(4000), &audio(10, 0x55));
    harness.run_until(harness.at(900));
    let stats = harness.session.stats();
    assert_eq!(
        (stats.packets_in, stats.duplicates, stats.late, stats.lost),
        (31, 1, 1, 0)
    );
}

#[test]
fn frame_duration_matches_the_codec_frame() {
    assert_eq!(FRAME_DURATION, Duration::from_millis(20));
    assert_eq!(MIN_TRANSMIT_BUFFER, 172);
}

#[test]
fn sessions_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<MediaSession>();
}

#[test]
fn real_inband_detector_hears_tones_through_the_jitter_buffer() {
    // "5" then "9" (770+1336 Hz, 852+1477 Hz), 100 ms of tone and 100 ms of silence each, built
    // here rather than with dsp's generator so the test checks the detector independently.
    let mut samples = Vec::new();
    for (low, high) in [(770.0f32, 1336.0f32), (852.0, 1477.0)] {
        for index in 0..800 {
            let time = index as f32 / 8000.0;
            let value = 7000.0 * (2.0 * std::f32::consts::PI * low * time).sin()
                + 7000.0 * (2.0 * std::f32::consts::PI * high * time).sin();
            samples.push(value as i16);
        }
        samples.extend(std::iter::repeat_n(0i16, 800));
    }
    let start = Instant::now();
    let mut session = MediaSession::new(config(Some(address(4000))), start);
    let mut events = Vec::new();
    let mut buffer = [0u8; 1500];
    for (sequence, frame) in samples.chunks(160).enumerate() {
        let mut payload = [0u8; 160];
        Codec::Pcmu.encode(frame, &mut payload);
        let at = start + Duration::from_millis(20 * sequence as u64 + 5);
        let timestamp = 160 * sequence as u32;
        while let Some(deadline) = session.poll_timeout().filter(|deadline| *deadline <= at) {
            session.handle_timeout(deadline);
        }
        session.handle_datagram(
            at,
            address(4000),
            &rtp(AUDIO_PT, false, sequence as u16, timestamp, 77, &payload),
        );
    }
    let end = start + Duration::from_secs(2);
    while let Some(deadline) = session.poll_timeout().filter(|deadline| *deadline <= end) {
        session.handle_timeout(deadline);
        while session.poll_transmit(&mut buffer).is_some() {}
        events.extend(std::iter::from_fn(|| session.poll_event()));
    }
    events.extend(std::iter::from_fn(|| session.poll_event()));
    assert_eq!(
        events,
        vec![
            MediaEvent::Digit {
                digit: DtmfDigit::D5,
                source: DigitSource::Inband
            },
            MediaEvent::Digit {
                digit: DtmfDigit::D9,
                source: DigitSource::Inband
            },
        ]
    );
}

#[test]
fn every_block_of_a_packed_event_payload_is_a_digit() {
    // RFC 4733 §2.5.1.5: two finished events and a running one in one packet.
    let mut harness = Harness::new(config(Some(address(4000))));
    let mut payload = Vec::new();
    for (digit, end, duration) in [
        (DtmfDigit::D4, true, 800u16),
        (DtmfDigit::D2, true, 800),
        (DtmfDigit::Star, false, 320),
    ] {
        let mut block = [0u8; 4];
        TelephoneEventPayload {
            event: digit.event_code(),
            end,
            volume: 10,
            duration,
        }
        .write(&mut block)
        .unwrap();
        payload.extend_from_slice(&block);
    }
    let packed = rtp(EVENT_PT, true, 10, 4000, 0xAAAA, &payload);
    harness.deliver(100, address(4000), &packed);
    harness.deliver(120, address(4000), &packed);
    harness.run_until(harness.at(500));
    assert_eq!(
        harness.digits(),
        vec![
            (DtmfDigit::D4, DigitSource::Rfc4733),
            (DtmfDigit::D2, DigitSource::Rfc4733),
            (DtmfDigit::Star, DigitSource::Rfc4733),
        ]
    );
}
