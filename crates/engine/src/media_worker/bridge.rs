//! The audio path between two bridged legs' media slots.
//!
//! Each direction is a [`BridgePipe`]: a short ring of 20 ms frames behind a mutex. Every tick a
//! slot pushes the frame it heard (its session's jitter-buffered, concealed playout, decoded to
//! linear) into its `heard` pipe, and moves what waits in its `to_send` pipe into its session's
//! live input, which sends it in place of silence. Decoding to linear and encoding again is
//! what lets a PCMU leg talk to a PCMA leg.
//!
//! Both slots of a bridge are put on the same worker ([`super::MediaWorkers::attach_near`]), so
//! the mutex is never contended and no frame waits for another thread's clock: the one that ticks
//! second in a tick sends the first one's frame at once, the other sends it on the next tick. A
//! pipe is locked once per slot per tick, never across a socket call. On different workers (a
//! fallback) the ring absorbs the phase difference and caps the delay.

use std::sync::{Arc, Mutex};

use ivory_rtp::{Frame, FrameRing};

/// Frames a pipe holds (80 ms).
const PIPE_FRAMES: usize = 4;

/// One direction of a bridge.
#[derive(Debug, Default)]
pub(crate) struct BridgePipe {
    frames: Mutex<FrameRing<PIPE_FRAMES>>,
}

impl BridgePipe {
    fn push(&self, frame: &Frame) {
        if let Ok(mut frames) = self.frames.lock() {
            frames.push(frame);
        }
    }

    /// Moves every waiting frame into `sink`.
    fn drain(&self, mut sink: impl FnMut(&Frame)) {
        let Ok(mut frames) = self.frames.lock() else {
            return;
        };
        let mut frame = [0; ivory_dsp::FRAME_SAMPLES];
        while frames.pop_into(&mut frame) {
            sink(&frame);
        }
    }
}

/// A slot's end of a bridge.
#[derive(Debug, Clone)]
pub(crate) struct BridgeEnd {
    /// What this slot hears goes here, for the other slot to send.
    heard: Arc<BridgePipe>,
    /// What the other slot heard, for this slot to send.
    to_send: Arc<BridgePipe>,
}

impl BridgeEnd {
    /// The two ends of a new bridge.
    pub(crate) fn pair() -> (BridgeEnd, BridgeEnd) {
        let forward = Arc::new(BridgePipe::default());
        let backward = Arc::new(BridgePipe::default());
        (
            BridgeEnd {
                heard: forward.clone(),
                to_send: backward.clone(),
            },
            BridgeEnd {
                heard: backward,
                to_send: forward,
            },
        )
    }

    pub(crate) fn hear(&self, frame: &Frame) {
        self.heard.push(frame);
    }

    pub(crate) fn take_frames_to_send(&self, sink: impl FnMut(&Frame)) {
        self.to_send.drain(sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_end_sends_what_the_other_heard() {
        let (a, b) = BridgeEnd::pair();
        a.hear(&[1; 160]);
        b.hear(&[2; 160]);
        b.hear(&[3; 160]);
        let mut at_b = Vec::new();
        b.take_frames_to_send(|frame| at_b.push(frame[0]));
        let mut at_a = Vec::new();
        a.take_frames_to_send(|frame| at_a.push(frame[0]));
        assert_eq!(at_b, vec![1]);
        assert_eq!(at_a, vec![2, 3]);
        a.take_frames_to_send(|_| panic!("drained already"));
    }

    #[test]
    fn a_stalled_consumer_keeps_only_the_newest_frames() {
        let (a, b) = BridgeEnd::pair();
        for value in 0..10 {
            a.hear(&[value; 160]);
        }
        let mut at_b = Vec::new();
        b.take_frames_to_send(|frame| at_b.push(frame[0]));
        assert_eq!(at_b, vec![6, 7, 8, 9]);
    }
}
