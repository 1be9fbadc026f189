//! RFC 4733 telephone-event sending (for dialling and bridging): one key press becomes a run of
//! event packets on the 20 ms transmit ticks, in place of the audio packets.
//!
//! Per digit of `duration` (rounded up to whole 20 ms frames, `N` frames, within
//! [`MIN_DIGIT_DURATION`]..=[`MAX_DIGIT_DURATION`]):
//! - every packet carries the RTP timestamp of the event's start (the tick it began on);
//! - the first packet has the marker bit;
//! - packet `k` (1-based) reports `duration = k · 160` samples: an update every 20 ms;
//! - packet `N` reports the full duration with the end bit, and is sent three times in all
//!   (ticks `N`, `N+1`, `N+2`), so a single loss does not leave the receiver waiting;
//! - volume [`EVENT_VOLUME`] (−10 dBm0, RFC 4733 §2.3.4's typical DTMF level).
//!
//! Digits queue up ([`MAX_QUEUED_DIGITS`]); the next starts on the tick after the last end
//! packet, with a new timestamp and the marker, so a receiver sees a new key press even for the
//! same digit. Audio packets are not sent while an event is (the RTP clock keeps running).

use std::time::Duration;

use ivory_dsp::{DtmfDigit, FRAME_SAMPLES};

use crate::telephone_event::TelephoneEventPayload;
use crate::{RtpError, RtpTimestamp};

/// Shortest digit sent (ITU-T Q.24: receivers need 40 ms).
pub const MIN_DIGIT_DURATION: Duration = Duration::from_millis(40);
/// Longest digit sent: the largest whole number of frames the 16-bit duration field holds.
pub const MAX_DIGIT_DURATION: Duration = Duration::from_millis(8180);
/// Digits waiting to be sent at most.
pub const MAX_QUEUED_DIGITS: usize = 32;
/// Volume field of sent events, in −dBm0.
pub const EVENT_VOLUME: u8 = 10;
/// Packets with the end bit per event.
pub const END_PACKETS: u32 = 3;

const FRAME: u32 = FRAME_SAMPLES as u32;

/// One event packet to send on a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventPacket {
    pub(crate) payload: TelephoneEventPayload,
    pub(crate) marker: bool,
    /// The event's start.
    pub(crate) timestamp: RtpTimestamp,
}

/// The queue and the event in progress.
#[derive(Debug, Default)]
pub(crate) struct TelephoneEventSender {
    queue: [Option<QueuedDigit>; MAX_QUEUED_DIGITS],
    head: usize,
    len: usize,
    current: Option<Sending>,
}

#[derive(Debug, Clone, Copy)]
struct QueuedDigit {
    digit: DtmfDigit,
    frames: u32,
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    digit: DtmfDigit,
    start: RtpTimestamp,
    frames: u32,
    /// Packets sent so far.
    packets: u32,
}

impl TelephoneEventSender {
    /// Queues `digit` for `duration` (clamped, rounded up to whole frames).
    pub(crate) fn queue(&mut self, digit: DtmfDigit, duration: Duration) -> Result<(), RtpError> {
        if self.len == MAX_QUEUED_DIGITS {
            return Err(RtpError::DigitQueueFull {
                capacity: MAX_QUEUED_DIGITS,
            });
        }
        let duration = duration.clamp(MIN_DIGIT_DURATION, MAX_DIGIT_DURATION);
        let frame_micros = u128::from(FRAME) * 125;
        // At most 409 frames after the clamp.
        let frames = duration.as_micros().div_ceil(frame_micros) as u32;
        self.queue[(self.head + self.len) % MAX_QUEUED_DIGITS] =
            Some(QueuedDigit { digit, frames });
        self.len += 1;
        Ok(())
    }

    /// Whether a digit is being sent or waiting.
    pub(crate) fn is_busy(&self) -> bool {
        self.current.is_some() || self.len > 0
    }

    /// Drops the queue and the event in progress (no end packets follow).
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// The event packet for the tick whose audio timestamp is `timestamp`, if a digit is on.
    pub(crate) fn tick(&mut self, timestamp: RtpTimestamp) -> Option<EventPacket> {
        if self.current.is_none() {
            let next = self.pop()?;
            self.current = Some(Sending {
                digit: next.digit,
                start: timestamp,
                frames: next.frames,
                packets: 0,
            });
        }
        let sending = self.current.as_mut()?;
        sending.packets += 1;
        let end = sending.packets >= sending.frames;
        let packet = EventPacket {
            payload: TelephoneEventPayload {
                event: sending.digit.event_code(),
                end,
                volume: EVENT_VOLUME,
                // frames <= 409, so the product fits in 16 bits.
                duration: (sending.packets.min(sending.frames) * FRAME) as u16,
            },
            marker: sending.packets == 1,
            timestamp: sending.start,
        };
        if sending.packets >= sending.frames + END_PACKETS - 1 {
            self.current = None;
        }
        Some(packet)
    }

    fn pop(&mut self) -> Option<QueuedDigit> {
        if self.len == 0 {
            return None;
        }
        let digit = self.queue[self.head].take();
        self.head = (self.head + 1) % MAX_QUEUED_DIGITS;
        self.len -= 1;
        digit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_digit_is_updates_then_three_end_packets() {
        let mut sender = TelephoneEventSender::default();
        sender
            .queue(DtmfDigit::D9, Duration::from_millis(100))
            .unwrap();
        let packets: Vec<EventPacket> = (0..10u32)
            .filter_map(|tick| sender.tick(RtpTimestamp(5000 + tick * FRAME)))
            .collect();
        assert_eq!(packets.len(), 7);
        for (index, packet) in packets.iter().enumerate() {
            assert_eq!(packet.timestamp, RtpTimestamp(5000));
            assert_eq!(packet.marker, index == 0);
            assert_eq!(packet.payload.event, 9);
            assert_eq!(packet.payload.volume, EVENT_VOLUME);
            assert_eq!(packet.payload.end, index >= 4);
            let expected = (index.min(4) as u16 + 1) * 160;
            assert_eq!(packet.payload.duration, expected);
        }
        assert!(!sender.is_busy());
    }

    #[test]
    fn durations_are_clamped_and_rounded_up() {
        let mut sender = TelephoneEventSender::default();
        sender
            .queue(DtmfDigit::D1, Duration::from_millis(5))
            .unwrap();
        sender
            .queue(DtmfDigit::D2, Duration::from_millis(61))
            .unwrap();
        sender
            .queue(DtmfDigit::D3, Duration::from_secs(60))
            .unwrap();
        let mut ends = Vec::new();
        for tick in 0..1000u32 {
            if let Some(packet) = sender.tick(RtpTimestamp(tick * FRAME))
                && packet.payload.end
            {
                ends.push((packet.payload.event, packet.payload.duration));
            }
        }
        ends.dedup();
        assert_eq!(ends, vec![(1, 320), (2, 640), (3, 65_440)]);
    }

    #[test]
    fn queued_digits_follow_with_new_timestamps_and_markers() {
        let mut sender = TelephoneEventSender::default();
        for _ in 0..2 {
            sender
                .queue(DtmfDigit::Pound, Duration::from_millis(40))
                .unwrap();
        }
        let packets: Vec<(u32, EventPacket)> = (0..12u32)
            .filter_map(|tick| {
                sender
                    .tick(RtpTimestamp(tick * FRAME))
                    .map(|packet| (tick, packet))
            })
            .collect();
        assert_eq!(packets.len(), 8);
        let starts: Vec<(u32, u32)> = packets
            .iter()
            .filter(|(_, packet)| packet.marker)
            .map(|(tick, packet)| (*tick, packet.timestamp.0))
            .collect();
        assert_eq!(starts, vec![(0, 0), (4, 4 * 160)]);
    }

    #[test]
    fn the_queue_is_bounded_and_clears() {
        let mut sender = TelephoneEventSender::default();
        for _ in 0..MAX_QUEUED_DIGITS {
            sender
                .queue(DtmfDigit::D0, Duration::from_millis(40))
                .unwrap();
        }
        assert_eq!(
            sender.queue(DtmfDigit::D0, Duration::from_millis(40)),
            Err(RtpError::DigitQueueFull {
                capacity: MAX_QUEUED_DIGITS
            })
        );
        sender.tick(RtpTimestamp(0));
        sender.clear();
        assert!(!sender.is_busy());
        assert_eq!(sender.tick(RtpTimestamp(160)), None);
    }
}
