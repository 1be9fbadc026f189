//! RFC 4733 telephone-event reception: exactly one digit per key press.
//!
//! A sender repeats an event's packets every 50 ms or so while the key is down (growing
//! `duration`), then sends the end packet three times. Networks and senders add loss,
//! duplicates, reordering, SSRC changes and quirks (sipp counts event timestamps in milliseconds
//! and starts a new stream per digit burst). The receiver's contract:
//!
//! - An event is identified by (SSRC, event timestamp); the payload type plays no part, so a
//!   payload-type change mid-event does not create a second digit.
//! - The digit is reported on the **first** packet seen of a new event, whichever one that is
//!   (marker packet, a later one when the first were lost, or even an end packet), so the
//!   latency is one packet interval.
//! - Finished events are remembered for [`FINISHED_EVENT_MEMORY`]; their retransmitted end
//!   packets, duplicates and late reordered packets never fire again.
//! - An event whose end packet never comes is finished [`END_PACKET_TIMEOUT`] after its last
//!   packet ([`TelephoneEventReceiver::poll_timeout`] reports that deadline). A new event from
//!   the same source finishes the previous one at once.
//! - A packet without the marker bit, for the same digit, while the previous event is still
//!   running, continues that key press when it comes from a new SSRC (a relay switched streams)
//!   or from the same SSRC with a timestamp within the running event (RFC 4733 §2.5.1.3 long
//!   events are split into segments with new timestamps). Anything else is a new key press.
//! - Events 16 and above (flash, tones) are not digits and are ignored.

use std::time::{Duration, Instant};

use ivory_dsp::DtmfDigit;

use crate::packet::RtpPacket;
use crate::{RtpError, RtpTimestamp, Ssrc};

/// Length of one RFC 4733 event block.
pub const TELEPHONE_EVENT_PAYLOAD_LEN: usize = 4;
/// An event with no packet for this long is over even if its end packet never arrived.
pub const END_PACKET_TIMEOUT: Duration = Duration::from_millis(150);
/// How long a finished event's identity is kept to swallow retransmissions and late packets.
pub const FINISHED_EVENT_MEMORY: Duration = Duration::from_secs(1);

/// Remembered finished events; a handful covers the longest plausible burst of retransmissions.
const FINISHED_EVENT_SLOTS: usize = 16;
/// Slack, in timestamp units, when deciding whether a new timestamp continues a long event.
const SEGMENT_SLACK: i64 = 800;

/// One RFC 4733 event block (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEventPayload {
    /// Event code; 0-15 are the DTMF digits.
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level in -dBm0 (0-63).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEventPayload {
    /// Parses the first event block; any further (redundant) blocks are ignored.
    pub fn parse(payload: &[u8]) -> Result<Self, RtpError> {
        let [event, flags, duration_high, duration_low, ..] = *payload else {
            return Err(RtpError::TelephoneEventTooShort {
                length: payload.len(),
            });
        };
        Ok(TelephoneEventPayload {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([duration_high, duration_low]),
        })
    }

    /// Writes the 4-byte block into `out`; returns 4.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RtpError> {
        let Some(block) = out.get_mut(..TELEPHONE_EVENT_PAYLOAD_LEN) else {
            return Err(RtpError::BufferTooSmall {
                needed: TELEPHONE_EVENT_PAYLOAD_LEN,
                available: out.len(),
            });
        };
        block[0] = self.event;
        block[1] = (u8::from(self.end) << 7) | (self.volume & 0x3f);
        block[2..4].copy_from_slice(&self.duration.to_be_bytes());
        Ok(TELEPHONE_EVENT_PAYLOAD_LEN)
    }
}

/// Turns telephone-event packets into digits. Sans-IO; see the module docs for the contract.
#[derive(Debug)]
pub struct TelephoneEventReceiver {
    active: Option<ActiveEvent>,
    finished: [Option<FinishedEvent>; FINISHED_EVENT_SLOTS],
    next_finished_slot: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EventKey {
    ssrc: Ssrc,
    timestamp: RtpTimestamp,
}

#[derive(Debug, Clone, Copy)]
struct ActiveEvent {
    key: EventKey,
    digit: DtmfDigit,
    last_packet_at: Instant,
    /// Largest duration seen, in timestamp units.
    duration: u16,
}

#[derive(Debug, Clone, Copy)]
struct FinishedEvent {
    key: EventKey,
    finished_at: Instant,
}

impl Default for TelephoneEventReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl TelephoneEventReceiver {
    /// A receiver that has seen nothing.
    pub fn new() -> Self {
        TelephoneEventReceiver {
            active: None,
            finished: [None; FINISHED_EVENT_SLOTS],
            next_finished_slot: 0,
        }
    }

    /// Feeds one telephone-event packet; returns the digit when it starts a new key press.
    /// Malformed payloads and non-DTMF events return `None`.
    pub fn handle_packet(&mut self, now: Instant, packet: &RtpPacket<'_>) -> Option<DtmfDigit> {
        let payload = TelephoneEventPayload::parse(packet.payload).ok()?;
        let digit = DtmfDigit::from_event_code(payload.event)?;
        self.handle_timeout(now);
        let key = EventKey {
            ssrc: packet.ssrc,
            timestamp: packet.timestamp,
        };
        if self.is_finished(key, now) {
            return None;
        }
        if let Some(active) = self.active.as_mut()
            && active.key == key
        {
            active.last_packet_at = now;
            active.duration = active.duration.max(payload.duration);
            if payload.end {
                self.finish(now);
            }
            return None;
        }
        let continues_press = self
            .active
            .is_some_and(|active| continues(&active, key, digit, packet.marker));
        if let Some(previous) = self.active.take() {
            // Either the same press under a new identity, or a new press whose predecessor's end
            // packet was lost: the predecessor is over in both cases.
            self.remember_finished(previous.key, now);
        }
        self.active = Some(ActiveEvent {
            key,
            digit,
            last_packet_at: now,
            duration: payload.duration,
        });
        if payload.end {
            self.finish(now);
        }
        (!continues_press).then_some(digit)
    }

    /// Finishes an event whose end packet is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self
            .active
            .is_some_and(|active| now >= active.last_packet_at + END_PACKET_TIMEOUT)
        {
            self.finish(now);
        }
    }

    /// When a running event will be given up for lost end packets.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.active
            .map(|active| active.last_packet_at + END_PACKET_TIMEOUT)
    }

    /// Whether an event is in progress (a key is down).
    pub fn is_event_active(&self) -> bool {
        self.active.is_some()
    }

    fn finish(&mut self, now: Instant) {
        if let Some(active) = self.active.take() {
            self.remember_finished(active.key, now);
        }
    }

    fn remember_finished(&mut self, key: EventKey, now: Instant) {
        self.finished[self.next_finished_slot] = Some(FinishedEvent {
            key,
            finished_at: now,
        });
        self.next_finished_slot = (self.next_finished_slot + 1) % FINISHED_EVENT_SLOTS;
    }

    fn is_finished(&self, key: EventKey, now: Instant) -> bool {
        self.finished.iter().flatten().any(|finished| {
            finished.key == key
                && now.saturating_duration_since(finished.finished_at) < FINISHED_EVENT_MEMORY
        })
    }
}

/// Whether a packet of a new (SSRC, timestamp) continues the running key press; see module docs.
fn continues(active: &ActiveEvent, key: EventKey, digit: DtmfDigit, marker: bool) -> bool {
    if marker || active.digit != digit {
        return false;
    }
    if active.key.ssrc != key.ssrc {
        return true;
    }
    let advance = active.key.timestamp.distance_to(key.timestamp);
    advance > 0 && advance <= i64::from(active.duration) + SEGMENT_SLACK
}

#[cfg(test)]
mod tests {
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
}
