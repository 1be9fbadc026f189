//! The transmit clock and the small queue of frames waiting for `poll_transmit`.
//!
//! Ticks fall on `start + n · 20 ms`, computed from `n` each time rather than by adding 20 ms to
//! the previous deadline, so a driver that wakes a little late never shifts the schedule.
//! When it wakes very late, at most [`MAX_BURST`] due ticks are sent at once and the older ones
//! are skipped: a burst of stale packets is worse than a gap, because the peer's jitter buffer
//! would drop them as late anyway and the burst can overflow its buffer or a NAT's queue, while a
//! gap is concealed by the peer like any loss. Skipped ticks still advance the RTP timestamp
//! (media time passed), but not the prompt: nothing of a prompt is lost, it resumes after a pause.

use std::time::{Duration, Instant};

use ivory_dsp::FRAME_SAMPLES;

use crate::RtpTimestamp;
use crate::playback::FrameAudio;

/// One packet every 20 ms (ptime 20).
pub const FRAME_DURATION: Duration = Duration::from_millis(20);
/// Most packets sent for one wake-up of the driver.
pub const MAX_BURST: usize = 3;

const FRAME_NANOS: u128 = FRAME_DURATION.as_nanos();

/// Drift-free tick schedule.
#[derive(Debug, Clone)]
pub(crate) struct TickClock {
    start: Instant,
    next_tick: u64,
}

/// Ticks to process for one wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DueTicks {
    /// Ticks passed over without sending.
    pub(crate) skipped: u64,
    /// Index of the first tick to process.
    pub(crate) first: u64,
    /// How many ticks to process (at most [`MAX_BURST`]).
    pub(crate) count: u64,
}

impl TickClock {
    pub(crate) fn new(start: Instant) -> Self {
        TickClock {
            start,
            next_tick: 0,
        }
    }

    /// When tick `index` is due.
    pub(crate) fn tick_time(&self, index: u64) -> Instant {
        self.start + FRAME_DURATION.saturating_mul(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// When the next unprocessed tick is due.
    pub(crate) fn next_deadline(&self) -> Instant {
        self.tick_time(self.next_tick)
    }

    /// The RTP timestamp of tick `index`: one frame of samples per tick, wrapping.
    pub(crate) fn timestamp(initial: RtpTimestamp, index: u64) -> RtpTimestamp {
        // Only the low 32 bits matter on a wrapping 32-bit clock.
        initial.advanced_by((index as u32).wrapping_mul(FRAME_SAMPLES as u32))
    }

    /// Claims the ticks due at `now`, skipping all but the last [`MAX_BURST`].
    pub(crate) fn claim_due(&mut self, now: Instant) -> DueTicks {
        let Some(elapsed) = now.checked_duration_since(self.start) else {
            return DueTicks {
                skipped: 0,
                first: self.next_tick,
                count: 0,
            };
        };
        let last_due = u64::try_from(elapsed.as_nanos() / FRAME_NANOS).unwrap_or(u64::MAX - 1);
        if last_due < self.next_tick {
            return DueTicks {
                skipped: 0,
                first: self.next_tick,
                count: 0,
            };
        }
        let due = last_due - self.next_tick + 1;
        let count = due.min(MAX_BURST as u64);
        let skipped = due - count;
        let first = self.next_tick + skipped;
        self.next_tick = last_due + 1;
        DueTicks {
            skipped,
            first,
            count,
        }
    }
}

/// A frame decided at a tick, encoded when the driver asks for it.
#[derive(Debug, Clone)]
pub(crate) struct PendingFrame {
    pub(crate) timestamp: RtpTimestamp,
    pub(crate) marker: bool,
    pub(crate) audio: FrameAudio,
}

/// At most [`MAX_BURST`] frames, oldest first; no allocation after creation.
#[derive(Debug, Default)]
pub(crate) struct TransmitQueue {
    frames: [Option<PendingFrame>; MAX_BURST],
    head: usize,
    len: usize,
}

impl TransmitQueue {
    /// Queues a frame; when full (the driver is not draining), the oldest is dropped because it
    /// is the stalest. Returns whether one was dropped.
    pub(crate) fn push(&mut self, frame: PendingFrame) -> bool {
        let dropped = self.len == MAX_BURST;
        if dropped {
            self.head = (self.head + 1) % MAX_BURST;
            self.len -= 1;
        }
        self.frames[(self.head + self.len) % MAX_BURST] = Some(frame);
        self.len += 1;
        dropped
    }

    pub(crate) fn pop(&mut self) -> Option<PendingFrame> {
        if self.len == 0 {
            return None;
        }
        let frame = self.frames[self.head].take();
        self.head = (self.head + 1) % MAX_BURST;
        self.len -= 1;
        frame
    }

    pub(crate) fn clear(&mut self) {
        while self.pop().is_some() {}
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_drift_free() {
        let start = Instant::now();
        let mut clock = TickClock::new(start);
        for index in 0..1000u64 {
            assert_eq!(
                clock.next_deadline(),
                start + Duration::from_millis(20 * index)
            );
            // Wake 3 ms late every time: the schedule must not slide.
            let due = clock.claim_due(clock.next_deadline() + Duration::from_millis(3));
            assert_eq!(
                due,
                DueTicks {
                    skipped: 0,
                    first: index,
                    count: 1
                }
            );
        }
        assert_eq!(clock.next_deadline(), start + Duration::from_secs(20));
    }

    #[test]
    fn early_wake_up_claims_nothing() {
        let start = Instant::now();
        let mut clock = TickClock::new(start + Duration::from_millis(5));
        assert_eq!(clock.claim_due(start).count, 0);
        assert_eq!(clock.claim_due(start + Duration::from_millis(5)).count, 1);
        assert_eq!(clock.claim_due(start + Duration::from_millis(24)).count, 0);
    }

    #[test]
    fn late_wake_up_sends_at_most_three_and_skips_the_rest() {
        let start = Instant::now();
        let mut clock = TickClock::new(start);
        assert_eq!(clock.claim_due(start).count, 1);
        // 2 ticks due.
        let due = clock.claim_due(start + Duration::from_millis(45));
        assert_eq!((due.skipped, due.first, due.count), (0, 1, 2));
        // Ticks 3..=12 due: 10 of them; send 10, 11, 12.
        let due = clock.claim_due(start + Duration::from_millis(240));
        assert_eq!((due.skipped, due.first, due.count), (7, 10, 3));
        assert_eq!(clock.next_deadline(), start + Duration::from_millis(260));
    }

    #[test]
    fn timestamps_wrap() {
        let initial = RtpTimestamp(u32::MAX - 159);
        assert_eq!(TickClock::timestamp(initial, 0), initial);
        assert_eq!(TickClock::timestamp(initial, 1), RtpTimestamp(0));
        assert_eq!(TickClock::timestamp(initial, 2), RtpTimestamp(160));
    }

    #[test]
    fn queue_keeps_the_newest_three() {
        let mut queue = TransmitQueue::default();
        for index in 0..5u32 {
            let dropped = queue.push(PendingFrame {
                timestamp: RtpTimestamp(index),
                marker: false,
                audio: FrameAudio::Silence,
            });
            assert_eq!(dropped, index >= 3);
        }
        assert_eq!(queue.len(), 3);
        let timestamps: Vec<_> = std::iter::from_fn(|| queue.pop())
            .map(|frame| frame.timestamp.0)
            .collect();
        assert_eq!(timestamps, vec![2, 3, 4]);
        queue.push(PendingFrame {
            timestamp: RtpTimestamp(9),
            marker: true,
            audio: FrameAudio::Silence,
        });
        queue.clear();
        assert!(queue.pop().is_none());
    }
}
