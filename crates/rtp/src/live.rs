//! Live audio: 20 ms frames that arrive from elsewhere while the call runs (the other leg of a
//! bridge) and are sent in place of silence.
//!
//! [`FrameRing`] is a fixed ring of frames, no allocation after creation. A session keeps one as
//! its live input ([`crate::MediaSession::push_live_frame`]): each tick that plays no prompt and
//! sends no digit takes the oldest frame, or sends silence when none is waiting. The ring is
//! short on purpose: a producer that runs ahead (another thread's clock) must not build up delay,
//! so when it is full the oldest frame is dropped and counted. The bridge between two media slots
//! uses the same ring as its pipe.

use ivory_dsp::FRAME_SAMPLES;

/// One 20 ms frame of 8 kHz linear audio.
pub type Frame = [i16; FRAME_SAMPLES];

/// Frames a live input holds (60 ms): enough for a producer one tick out of phase, little
/// enough that a stalled consumer adds at most 60 ms of delay.
pub const LIVE_FRAMES: usize = 3;

/// A fixed ring of frames; the oldest is dropped when a push finds it full.
#[derive(Debug, Clone)]
pub struct FrameRing<const N: usize = LIVE_FRAMES> {
    frames: [Frame; N],
    head: usize,
    len: usize,
    dropped: u64,
}

impl<const N: usize> Default for FrameRing<N> {
    fn default() -> Self {
        Self {
            frames: [[0; FRAME_SAMPLES]; N],
            head: 0,
            len: 0,
            dropped: 0,
        }
    }
}

impl<const N: usize> FrameRing<N> {
    /// Stores a frame; when full, the oldest is dropped (and counted) first.
    pub fn push(&mut self, frame: &Frame) {
        if N == 0 {
            self.dropped += 1;
            return;
        }
        if self.len == N {
            self.head = (self.head + 1) % N;
            self.len -= 1;
            self.dropped += 1;
        }
        self.frames[(self.head + self.len) % N] = *frame;
        self.len += 1;
    }

    /// Copies the oldest frame into `out`; `false` when empty.
    pub fn pop_into(&mut self, out: &mut Frame) -> bool {
        if self.len == 0 {
            return false;
        }
        *out = self.frames[self.head];
        self.head = (self.head + 1) % N;
        self.len -= 1;
        true
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every waiting frame (the drop counter stays).
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Frames dropped because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(value: i16) -> Frame {
        [value; FRAME_SAMPLES]
    }

    #[test]
    fn frames_come_out_in_order() {
        let mut ring = FrameRing::<3>::default();
        ring.push(&frame(1));
        ring.push(&frame(2));
        let mut out = frame(0);
        assert!(ring.pop_into(&mut out));
        assert_eq!(out[0], 1);
        assert!(ring.pop_into(&mut out));
        assert_eq!(out[159], 2);
        assert!(!ring.pop_into(&mut out));
        assert!(ring.is_empty());
    }

    #[test]
    fn a_full_ring_drops_the_oldest() {
        let mut ring = FrameRing::<3>::default();
        for value in 1..=5 {
            ring.push(&frame(value));
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.dropped(), 2);
        let mut out = frame(0);
        let mut seen = Vec::new();
        while ring.pop_into(&mut out) {
            seen.push(out[0]);
        }
        assert_eq!(seen, vec![3, 4, 5]);
    }

    #[test]
    fn clear_empties_but_keeps_the_count() {
        let mut ring = FrameRing::<2>::default();
        for value in 0..3 {
            ring.push(&frame(value));
        }
        ring.clear();
        assert!(ring.is_empty());
        assert_eq!(ring.dropped(), 1);
        ring.push(&frame(9));
        let mut out = frame(0);
        assert!(ring.pop_into(&mut out));
        assert_eq!(out[0], 9);
    }
}
