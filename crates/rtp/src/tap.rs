//! The recording tap: per 20 ms tick, the caller's played-out frame and ivory's sent frame, kept
//! in a small fixed ring until the driver takes them. The ring (10 KB) is allocated when the tap
//! is first enabled, not per packet: most calls never record and do not carry it.

use ivory_dsp::FRAME_SAMPLES;

/// Ticks the tap holds (320 ms); when the driver falls further behind, the oldest are dropped
/// and counted.
pub const TAP_FRAMES: usize = 16;

type Frame = [i16; FRAME_SAMPLES];

#[derive(Debug, Default)]
pub(crate) struct Tap {
    enabled: bool,
    /// Present once the tap has been enabled.
    rings: Option<Box<Rings>>,
    head: usize,
    len: usize,
    dropped: u64,
}

#[derive(Debug)]
struct Rings {
    caller: [Frame; TAP_FRAMES],
    ivory: [Frame; TAP_FRAMES],
}

impl Tap {
    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        if !enabled {
            self.head = 0;
            self.len = 0;
        } else if self.rings.is_none() {
            self.rings = Some(Box::new(Rings {
                caller: [[0; FRAME_SAMPLES]; TAP_FRAMES],
                ivory: [[0; FRAME_SAMPLES]; TAP_FRAMES],
            }));
        }
        self.enabled = enabled;
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Stores one tick: the caller's frame and ivory's samples (shorter is padded with silence).
    pub(crate) fn push(&mut self, caller: &Frame, ivory: &[i16]) {
        let (true, Some(rings)) = (self.enabled, self.rings.as_mut()) else {
            return;
        };
        if self.len == TAP_FRAMES {
            self.head = (self.head + 1) % TAP_FRAMES;
            self.len -= 1;
            self.dropped += 1;
        }
        let slot = (self.head + self.len) % TAP_FRAMES;
        rings.caller[slot] = *caller;
        let length = ivory.len().min(FRAME_SAMPLES);
        rings.ivory[slot][..length].copy_from_slice(&ivory[..length]);
        rings.ivory[slot][length..].fill(0);
        self.len += 1;
    }

    /// Stores a tick of silence on both sides (a tick the driver slept through).
    pub(crate) fn push_silence(&mut self) {
        self.push(&[0; FRAME_SAMPLES], &[]);
    }

    /// Takes the oldest tick.
    pub(crate) fn pop(&mut self, caller: &mut Frame, ivory: &mut Frame) -> bool {
        let Some(rings) = self.rings.as_ref().filter(|_| self.len > 0) else {
            return false;
        };
        *caller = rings.caller[self.head];
        *ivory = rings.ivory[self.head];
        self.head = (self.head + 1) % TAP_FRAMES;
        self.len -= 1;
        true
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_ticks_in_order_and_counts_drops() {
        let mut tap = Tap::default();
        tap.push(&[1; FRAME_SAMPLES], &[2; 10]);
        let (mut caller, mut ivory) = ([9; FRAME_SAMPLES], [9; FRAME_SAMPLES]);
        assert!(!tap.pop(&mut caller, &mut ivory), "disabled");
        tap.set_enabled(true);
        for tick in 0..(TAP_FRAMES as i16 + 3) {
            tap.push(&[tick; FRAME_SAMPLES], &[-tick; FRAME_SAMPLES]);
        }
        assert_eq!(tap.dropped(), 3);
        let mut seen = Vec::new();
        while tap.pop(&mut caller, &mut ivory) {
            assert_eq!(ivory[0], -caller[0]);
            seen.push(caller[0]);
        }
        assert_eq!(seen, (3..TAP_FRAMES as i16 + 3).collect::<Vec<_>>());
        tap.push(&[5; FRAME_SAMPLES], &[7; 100]);
        assert!(tap.pop(&mut caller, &mut ivory));
        assert_eq!((ivory[99], ivory[100]), (7, 0));
        tap.push_silence();
        tap.set_enabled(false);
        tap.set_enabled(true);
        assert!(
            !tap.pop(&mut caller, &mut ivory),
            "disabling empties the tap"
        );
    }
}
