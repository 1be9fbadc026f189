//! In-band DTMF detection (Goertzel). Placeholder API; the implementation lands with the dsp work.

use crate::DtmfDigit;

/// Detects DTMF tones in 8 kHz linear audio fed in chunks of any size.
#[derive(Debug, Default)]
pub struct InbandDtmfDetector {
    pending: std::collections::VecDeque<DtmfDigit>,
}

impl InbandDtmfDetector {
    /// A detector with ivory's default thresholds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds samples; any number, any chunking.
    pub fn push_samples(&mut self, _samples: &[i16]) {}

    /// The next digit detected (once per key press, reported when the tone is confirmed).
    pub fn poll_digit(&mut self) -> Option<DtmfDigit> {
        self.pending.pop_front()
    }
}
