//! Reception tests: loss, duplicates, reordering, SSRC changes, sipp quirks, packed events.

use super::*;
use crate::PayloadType;
use crate::test_support::SplitMix64;

const PAYLOAD_TYPE: u8 = 101;

/// One telephone-event packet, owned so tests can shuffle and duplicate them.
#[derive(Debug, Clone, Copy)]
struct EventPacket {
    ssrc: u32,
    timestamp: u32,
    marker: bool,
    payload: [u8; 4],
}

impl EventPacket {
    fn feed(&self, receiver: &mut TelephoneEventReceiver, now: Instant) -> Option<DtmfDigit> {
        let packet = RtpPacket {
            marker: self.marker,
            payload_type: PayloadType::new(PAYLOAD_TYPE).expect("valid"),
            sequence: crate::SeqNo(0),
            timestamp: RtpTimestamp(self.timestamp),
            ssrc: Ssrc(self.ssrc),
            payload: &self.payload,
        };
        receiver.handle_packet(now, &packet)
    }
}

/// The packets of one key press as a well-behaved phone sends them: a marker packet, updates
/// every 50 ms (400 samples), then three end packets.
fn key_press(ssrc: u32, timestamp: u32, digit: DtmfDigit, updates: u16) -> Vec<EventPacket> {
    let mut packets = Vec::new();
    for index in 0..=updates {
        packets.push(packet(
            ssrc,
            timestamp,
            index == 0,
            digit,
            false,
            index * 400,
        ));
    }
    for _ in 0..3 {
        packets.push(packet(
            ssrc,
            timestamp,
            false,
            digit,
            true,
            (updates + 1) * 400,
        ));
    }
    packets
}

fn packet(
    ssrc: u32,
    timestamp: u32,
    marker: bool,
    digit: DtmfDigit,
    end: bool,
    duration: u16,
) -> EventPacket {
    let mut payload = [0u8; 4];
    TelephoneEventPayload {
        event: digit.event_code(),
        end,
        volume: 10,
        duration,
    }
    .write(&mut payload)
    .expect("4 bytes");
    EventPacket {
        ssrc,
        timestamp,
        marker,
        payload,
    }
}

/// Feeds packets 20 ms apart from `start`; returns the digits and when each was reported.
fn feed_all(
    receiver: &mut TelephoneEventReceiver,
    start: Instant,
    packets: &[EventPacket],
) -> Vec<(DtmfDigit, usize)> {
    let mut digits = Vec::new();
    for (index, packet) in packets.iter().enumerate() {
        let now = start + Duration::from_millis(20 * index as u64);
        receiver.handle_timeout(now);
        if let Some(digit) = packet.feed(receiver, now) {
            digits.push((digit, index));
        }
    }
    digits
}

#[test]
fn payload_round_trips_and_rejects_short_input() {
    let block = TelephoneEventPayload {
        event: 11,
        end: true,
        volume: 10,
        duration: 1600,
    };
    let mut bytes = [0u8; 4];
    assert_eq!(block.write(&mut bytes), Ok(4));
    assert_eq!(bytes, [11, 0x8A, 0x06, 0x40]);
    assert_eq!(TelephoneEventPayload::parse(&bytes), Ok(block));
    assert_eq!(
        TelephoneEventPayload::parse(&bytes[..3]),
        Err(RtpError::TelephoneEventTooShort { length: 3 })
    );
    assert!(block.write(&mut bytes[..2]).is_err());
}

#[test]
fn one_digit_on_the_first_packet_despite_three_end_packets() {
    let mut receiver = TelephoneEventReceiver::new();
    let packets = key_press(1, 1000, DtmfDigit::D5, 4);
    let digits = feed_all(&mut receiver, Instant::now(), &packets);
    assert_eq!(digits, vec![(DtmfDigit::D5, 0)]);
    assert!(!receiver.is_event_active());
    assert_eq!(receiver.poll_timeout(), None);
}

#[test]
fn duplicated_packets_give_one_digit() {
    let mut receiver = TelephoneEventReceiver::new();
    let packets: Vec<_> = key_press(1, 1000, DtmfDigit::D7, 4)
        .into_iter()
        .flat_map(|packet| [packet, packet])
        .collect();
    let digits = feed_all(&mut receiver, Instant::now(), &packets);
    assert_eq!(digits.len(), 1);
    assert_eq!(digits[0].0, DtmfDigit::D7);
}

#[test]
fn reordered_packets_give_one_digit_each_press() {
    let mut random = SplitMix64::new(7);
    for _ in 0..50 {
        let mut receiver = TelephoneEventReceiver::new();
        let mut packets = key_press(9, 5000, DtmfDigit::D1, 5);
        random.shuffle(&mut packets);
        let digits = feed_all(&mut receiver, Instant::now(), &packets);
        assert_eq!(digits.len(), 1, "{packets:?}");
        assert_eq!(digits[0].0, DtmfDigit::D1);
    }
}

#[test]
fn end_packet_overtaking_the_rest_does_not_refire() {
    let mut receiver = TelephoneEventReceiver::new();
    let mut packets = key_press(9, 5000, DtmfDigit::D2, 3);
    // Deliver the end packets first, then the start and updates late.
    packets.rotate_left(4);
    let digits = feed_all(&mut receiver, Instant::now(), &packets);
    assert_eq!(digits, vec![(DtmfDigit::D2, 0)]);
}

#[test]
fn interleaved_presses_keep_their_digits() {
    let mut receiver = TelephoneEventReceiver::new();
    let mut packets = key_press(9, 5000, DtmfDigit::D3, 3);
    let second = key_press(9, 8000, DtmfDigit::D4, 3);
    // The second press starts before the first one's end packets arrive.
    let first_ends = packets.split_off(4);
    packets.extend_from_slice(&second[..2]);
    packets.extend(first_ends);
    packets.extend_from_slice(&second[2..]);
    let digits: Vec<_> = feed_all(&mut receiver, Instant::now(), &packets)
        .into_iter()
        .map(|(digit, _)| digit)
        .collect();
    assert_eq!(digits, vec![DtmfDigit::D3, DtmfDigit::D4]);
}

#[test]
fn lost_end_packets_finish_the_event_after_the_timeout() {
    let mut receiver = TelephoneEventReceiver::new();
    let start = Instant::now();
    let mut packets = key_press(3, 100, DtmfDigit::Pound, 3);
    packets.truncate(4);
    let digits = feed_all(&mut receiver, start, &packets);
    assert_eq!(digits, vec![(DtmfDigit::Pound, 0)]);
    let last_packet_at = start + Duration::from_millis(60);
    assert_eq!(
        receiver.poll_timeout(),
        Some(last_packet_at + END_PACKET_TIMEOUT)
    );
    receiver.handle_timeout(last_packet_at + END_PACKET_TIMEOUT - Duration::from_millis(1));
    assert!(receiver.is_event_active());
    receiver.handle_timeout(last_packet_at + END_PACKET_TIMEOUT);
    assert!(!receiver.is_event_active());
    // A very late end packet of the finished event stays silent ...
    let late_end = packet(3, 100, false, DtmfDigit::Pound, true, 1600);
    assert_eq!(
        late_end.feed(&mut receiver, start + Duration::from_millis(400)),
        None
    );
    // ... and the same key pressed again is a new digit.
    let again = packet(3, 4000, true, DtmfDigit::Pound, false, 0);
    assert_eq!(
        again.feed(&mut receiver, start + Duration::from_millis(500)),
        Some(DtmfDigit::Pound)
    );
}

#[test]
fn same_digit_twice_with_lost_end_packets_gives_two_digits() {
    let mut receiver = TelephoneEventReceiver::new();
    let mut first = key_press(3, 100, DtmfDigit::D1, 2);
    first.truncate(3);
    let second = key_press(3, 2000, DtmfDigit::D1, 2);
    let packets: Vec<_> = first.into_iter().chain(second).collect();
    let digits = feed_all(&mut receiver, Instant::now(), &packets);
    assert_eq!(digits, vec![(DtmfDigit::D1, 0), (DtmfDigit::D1, 3)]);
}

#[test]
fn lost_first_packets_still_report_once() {
    let mut receiver = TelephoneEventReceiver::new();
    let packets = key_press(3, 100, DtmfDigit::D8, 4);
    let digits = feed_all(&mut receiver, Instant::now(), &packets[2..]);
    assert_eq!(digits, vec![(DtmfDigit::D8, 0)]);
    // Only end packets survived: still one digit.
    let mut receiver = TelephoneEventReceiver::new();
    let digits = feed_all(&mut receiver, Instant::now(), &packets[5..]);
    assert_eq!(digits, vec![(DtmfDigit::D8, 0)]);
}

#[test]
fn retransmitted_end_packets_are_remembered() {
    let mut receiver = TelephoneEventReceiver::new();
    let start = Instant::now();
    let packets = key_press(3, 100, DtmfDigit::D6, 2);
    feed_all(&mut receiver, start, &packets);
    let end = packets[packets.len() - 1];
    for late_ms in [200, 500, 900] {
        assert_eq!(
            end.feed(&mut receiver, start + Duration::from_millis(late_ms)),
            None
        );
    }
}

#[test]
fn new_ssrc_per_press_gives_one_digit_each() {
    let mut receiver = TelephoneEventReceiver::new();
    let packets: Vec<_> = key_press(10, 100, DtmfDigit::D1, 2)
        .into_iter()
        .chain(key_press(11, 100, DtmfDigit::D2, 2))
        .chain(key_press(12, 100, DtmfDigit::D2, 2))
        .collect();
    let digits: Vec<_> = feed_all(&mut receiver, Instant::now(), &packets)
        .into_iter()
        .map(|(digit, _)| digit)
        .collect();
    assert_eq!(digits, vec![DtmfDigit::D1, DtmfDigit::D2, DtmfDigit::D2]);
}

#[test]
fn ssrc_change_in_the_middle_of_a_press_gives_one_digit() {
    let mut receiver = TelephoneEventReceiver::new();
    let before = key_press(10, 100, DtmfDigit::D9, 4);
    let after = key_press(77, 555_555, DtmfDigit::D9, 4);
    // The relay switches streams after three packets; the new stream never has the marker.
    let packets: Vec<_> = before[..3].iter().chain(&after[3..]).copied().collect();
    let digits = feed_all(&mut receiver, Instant::now(), &packets);
    assert_eq!(digits, vec![(DtmfDigit::D9, 0)]);
}

#[test]
fn long_event_segments_are_one_press() {
    let mut receiver = TelephoneEventReceiver::new();
    let first_segment = [
        packet(5, 1000, true, DtmfDigit::A, false, 0),
        packet(5, 1000, false, DtmfDigit::A, false, 65_000),
    ];
    // RFC 4733 §2.5.1.3: the next segment starts at timestamp + duration, without marker.
    let next_timestamp = 1000 + 65_000;
    let second_segment = key_press(5, next_timestamp, DtmfDigit::A, 2);
    let packets: Vec<_> = first_segment
        .into_iter()
        .chain(second_segment.into_iter().skip(1))
        .collect();
    let digits = feed_all(&mut receiver, Instant::now(), &packets);
    assert_eq!(digits, vec![(DtmfDigit::A, 0)]);
}

#[test]
fn sipp_style_millisecond_timestamps_and_bursts() {
    // sipp's play_dtmf: event timestamps advance 400 per digit (milliseconds, not samples),
    // durations in samples, marker on the first packet, end packet sent three times, and a
    // new SSRC for each burst that starts again from the same timestamp.
    let mut receiver = TelephoneEventReceiver::new();
    let mut packets = Vec::new();
    for (burst, digits) in [
        [DtmfDigit::D1, DtmfDigit::D2],
        [DtmfDigit::D1, DtmfDigit::D2],
    ]
    .into_iter()
    .enumerate()
    {
        for (index, digit) in digits.into_iter().enumerate() {
            let timestamp = 24_400 + 400 * index as u32;
            let ssrc = 0x1234 + burst as u32;
            for step in 0..10u16 {
                packets.push(packet(ssrc, timestamp, step == 0, digit, false, step * 160));
            }
            for _ in 0..3 {
                packets.push(packet(ssrc, timestamp, false, digit, true, 1600));
            }
        }
    }
    let digits: Vec<_> = feed_all(&mut receiver, Instant::now(), &packets)
        .into_iter()
        .map(|(digit, _)| digit.to_char())
        .collect();
    assert_eq!(digits, vec!['1', '2', '1', '2']);
}

#[test]
fn non_digit_events_and_garbage_are_ignored() {
    let mut receiver = TelephoneEventReceiver::new();
    let flash = EventPacket {
        ssrc: 1,
        timestamp: 1,
        marker: true,
        payload: [16, 0x0A, 0, 0],
    };
    assert_eq!(flash.feed(&mut receiver, Instant::now()), None);
    assert!(!receiver.is_event_active());
    let packet = RtpPacket {
        marker: true,
        payload_type: PayloadType::new(PAYLOAD_TYPE).expect("valid"),
        sequence: crate::SeqNo(0),
        timestamp: RtpTimestamp(0),
        ssrc: Ssrc(0),
        payload: &[1, 2],
    };
    assert_eq!(receiver.handle_packet(Instant::now(), &packet), None);
}

/// A packet of several blocks (RFC 4733 §2.5.1.5), fed at `now`; returns the digits it starts.
fn feed_blocks(
    receiver: &mut TelephoneEventReceiver,
    now: Instant,
    timestamp: u32,
    marker: bool,
    blocks: &[(DtmfDigit, bool, u16)],
) -> Vec<DtmfDigit> {
    let mut payload = Vec::new();
    for &(digit, end, duration) in blocks {
        let mut block = [0u8; 4];
        TelephoneEventPayload {
            event: digit.event_code(),
            end,
            volume: 10,
            duration,
        }
        .write(&mut block)
        .expect("4 bytes");
        payload.extend_from_slice(&block);
    }
    let packet = RtpPacket {
        marker,
        payload_type: PayloadType::new(PAYLOAD_TYPE).expect("valid"),
        sequence: crate::SeqNo(0),
        timestamp: RtpTimestamp(timestamp),
        ssrc: Ssrc(42),
        payload: &payload,
    };
    receiver.handle_packet_digits(now, &packet).collect()
}

#[test]
fn packed_events_each_give_one_digit() {
    let mut receiver = TelephoneEventReceiver::new();
    let start = Instant::now();
    let blocks = [
        (DtmfDigit::D1, true, 800),
        (DtmfDigit::D2, true, 800),
        (DtmfDigit::D3, false, 400),
    ];
    assert_eq!(
        feed_blocks(&mut receiver, start, 1000, true, &blocks),
        vec![DtmfDigit::D1, DtmfDigit::D2, DtmfDigit::D3]
    );
    // The same packet again (a retransmission) and the third event's own end packet: nothing.
    let later = start + Duration::from_millis(20);
    assert!(feed_blocks(&mut receiver, later, 1000, true, &blocks).is_empty());
    let end = [(DtmfDigit::D3, true, 800)];
    assert!(feed_blocks(&mut receiver, later, 1000 + 1600, false, &end).is_empty());
    assert!(!receiver.is_event_active());
}

#[test]
fn redundant_previous_events_do_not_fire_again() {
    // A gateway that repeats the last finished event in front of the running one: the packet
    // timestamp is the finished event's start, the running one starts where it ended.
    let mut receiver = TelephoneEventReceiver::new();
    let start = Instant::now();
    let at = |millis: u64| start + Duration::from_millis(millis);
    let five = DtmfDigit::D5;
    let six = DtmfDigit::D6;
    let mut heard = Vec::new();
    heard.extend(feed_blocks(
        &mut receiver,
        at(0),
        8000,
        true,
        &[(five, false, 160)],
    ));
    heard.extend(feed_blocks(
        &mut receiver,
        at(20),
        8000,
        false,
        &[(five, false, 320)],
    ));
    heard.extend(feed_blocks(
        &mut receiver,
        at(40),
        8000,
        false,
        &[(five, true, 800)],
    ));
    for (millis, duration, end) in [(100, 160, false), (120, 320, false), (140, 800, true)] {
        let blocks = [(five, true, 800), (six, end, duration)];
        heard.extend(feed_blocks(
            &mut receiver,
            at(millis),
            8000,
            millis == 100,
            &blocks,
        ));
    }
    let blocks = [(six, true, 800), (DtmfDigit::D7, false, 160)];
    heard.extend(feed_blocks(&mut receiver, at(200), 8800, true, &blocks));
    assert_eq!(heard, vec![five, six, DtmfDigit::D7]);
    // handle_packet reports the first new digit of a packet.
    let mut receiver = TelephoneEventReceiver::new();
    let packed = [0, 0x8A, 3, 0x20, 1, 0x0A, 0, 0xA0];
    let packet = RtpPacket {
        marker: true,
        payload_type: PayloadType::new(PAYLOAD_TYPE).expect("valid"),
        sequence: crate::SeqNo(0),
        timestamp: RtpTimestamp(0),
        ssrc: Ssrc(1),
        payload: &packed,
    };
    assert_eq!(receiver.handle_packet(start, &packet), Some(DtmfDigit::D0));
}

#[test]
fn block_parsing_ignores_a_partial_tail_and_caps_the_count() {
    let mut payload = vec![5, 0x0A, 0, 160, 6, 0x8A, 1, 0];
    payload.extend_from_slice(&[7, 0x0A]);
    let blocks: Vec<u8> = TelephoneEventPayload::parse_blocks(&payload)
        .map(|block| block.event)
        .collect();
    assert_eq!(blocks, vec![5, 6]);
    let many = [1u8, 0x0A, 0, 160].repeat(MAX_EVENT_BLOCKS + 5);
    assert_eq!(
        TelephoneEventPayload::parse_blocks(&many).count(),
        MAX_EVENT_BLOCKS
    );
}
