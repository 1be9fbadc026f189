//! The ringback tone a caller hears while a dialled party rings without early media: 440 Hz +
//! 480 Hz, 2 s on, 4 s off (the North American cadence, ITU-T E.180's most common form), made
//! once and shared by every call.

use std::sync::{Arc, OnceLock};

use ivory_dsp::tone;
use ivory_rtp::Prompt;

const ON_MS: u32 = 2000;
const OFF_MS: u32 = 4000;
/// Each of the two frequencies; together about -16 dBm0.
const LEVEL_DBM0: f32 = -19.0;

/// One cadence of ringback (6 s), to be looped.
pub(crate) fn ringback() -> Prompt {
    static TONE: OnceLock<Arc<[i16]>> = OnceLock::new();
    let samples = TONE.get_or_init(|| {
        let low = tone::sine(440.0, ON_MS, LEVEL_DBM0);
        let high = tone::sine(480.0, ON_MS, LEVEL_DBM0);
        let mut samples: Vec<i16> = low
            .iter()
            .zip(&high)
            .map(|(a, b)| a.saturating_add(*b))
            .collect();
        samples.extend(tone::silence(OFF_MS));
        samples.into()
    });
    Prompt::from_samples(samples.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_seconds_of_tone_then_four_of_silence() {
        let prompt = ringback();
        let samples = prompt.samples();
        assert_eq!(samples.len(), tone::samples_for(ON_MS + OFF_MS));
        let on = &samples[..tone::samples_for(ON_MS)];
        assert!(on.iter().any(|&s| s.unsigned_abs() > 1000));
        assert!(samples[tone::samples_for(ON_MS)..].iter().all(|&s| s == 0));
    }
}
