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
//! - A payload of several blocks (RFC 4733 §2.5.1.5, consecutive events packed into one packet,
//!   as some gateways send to add redundancy) is read block by block, up to
//!   [`MAX_EVENT_BLOCKS`]: block `n` starts at the packet timestamp plus the durations of the
//!   blocks before it; only the first block carries the packet's marker bit. Every block is an
//!   event as above, so a block repeated in later packets never fires twice.

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
/// Most event blocks read from one packet; a real sender packs two or three.
pub const MAX_EVENT_BLOCKS: usize = 8;

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
    /// Every complete 4-byte block of `payload`, in order (at most [`MAX_EVENT_BLOCKS`]); a
    /// trailing partial block is ignored.
    pub fn parse_blocks(payload: &[u8]) -> impl Iterator<Item = Self> + '_ {
        payload
            .chunks_exact(TELEPHONE_EVENT_PAYLOAD_LEN)
            .take(MAX_EVENT_BLOCKS)
            .filter_map(|block| Self::parse(block).ok())
    }

    /// Parses the first event block; see [`Self::parse_blocks`] for the others.
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

/// The digits one packet started (at most [`MAX_EVENT_BLOCKS`]); iterate to read them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewDigits {
    digits: [Option<DtmfDigit>; MAX_EVENT_BLOCKS],
    len: usize,
    next: usize,
}

impl NewDigits {
    fn push(&mut self, digit: DtmfDigit) {
        if let Some(slot) = self.digits.get_mut(self.len) {
            *slot = Some(digit);
            self.len += 1;
        }
    }
}

impl Iterator for NewDigits {
    type Item = DtmfDigit;

    fn next(&mut self) -> Option<DtmfDigit> {
        if self.next >= self.len {
            return None;
        }
        self.next += 1;
        self.digits[self.next - 1]
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

    /// Feeds one telephone-event packet; returns the first digit that starts a new key press
    /// (a packet of several blocks can start more: use [`Self::handle_packet_digits`]).
    /// Malformed payloads and non-DTMF events return `None`.
    pub fn handle_packet(&mut self, now: Instant, packet: &RtpPacket<'_>) -> Option<DtmfDigit> {
        self.handle_packet_digits(now, packet).next()
    }

    /// Feeds one telephone-event packet, every block of it; returns the digits that start new
    /// key presses, in order.
    pub fn handle_packet_digits(&mut self, now: Instant, packet: &RtpPacket<'_>) -> NewDigits {
        let mut digits = NewDigits::default();
        let mut timestamp = packet.timestamp;
        for (index, block) in TelephoneEventPayload::parse_blocks(packet.payload).enumerate() {
            let marker = packet.marker && index == 0;
            if let Some(digit) = self.handle_block(now, packet.ssrc, timestamp, marker, block) {
                digits.push(digit);
            }
            timestamp = timestamp.advanced_by(u32::from(block.duration));
        }
        digits
    }

    fn handle_block(
        &mut self,
        now: Instant,
        ssrc: Ssrc,
        timestamp: RtpTimestamp,
        marker: bool,
        payload: TelephoneEventPayload,
    ) -> Option<DtmfDigit> {
        let digit = DtmfDigit::from_event_code(payload.event)?;
        self.handle_timeout(now);
        let key = EventKey { ssrc, timestamp };
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
            .is_some_and(|active| continues(&active, key, digit, marker));
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
#[path = "telephone_event_tests.rs"]
mod tests;
