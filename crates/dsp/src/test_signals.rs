//! Synthetic speech for the voice-activity, answering-machine and recording tests: vowel-like
//! bursts built from a glottal pulse train (harmonics falling 6 dB per octave) shaped by formant
//! resonances, with a gliding fundamental and a syllable-rate envelope. Deterministic.

use crate::tone;

/// Formant (centre Hz, bandwidth Hz) sets of five vowels, adult-male-like.
pub(crate) const VOWELS: [&[(f64, f64)]; 5] = [
    &[(730.0, 90.0), (1090.0, 110.0), (2440.0, 170.0)],
    &[(270.0, 60.0), (2290.0, 100.0), (3010.0, 120.0)],
    &[(300.0, 60.0), (870.0, 90.0), (2240.0, 150.0)],
    &[(530.0, 70.0), (1840.0, 100.0), (2480.0, 160.0)],
    &[(570.0, 80.0), (840.0, 90.0), (2410.0, 160.0)],
];

/// One vowel-like burst of `duration_ms` at `level_dbm0` RMS, fundamental gliding from
/// `f0_start` to `f0_end` Hz, with 10 ms fades at both ends.
pub(crate) fn vowel(
    f0_start: f64,
    f0_end: f64,
    formants: &[(f64, f64)],
    duration_ms: u32,
    level_dbm0: f32,
) -> Vec<i16> {
    voiced(
        (f0_start, f0_end),
        formants,
        duration_ms,
        level_dbm0,
        Envelope {
            depth: 0.3,
            fade_samples: 80,
        },
    )
}

/// How a voiced burst's loudness moves: a 4 Hz syllable swing of `depth` (0 = steady, 0.5 =
/// down to 0 at its troughs) and linear fades of `fade_samples` at both ends (0: none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope {
    pub depth: f64,
    pub fade_samples: usize,
}

/// A glottal pulse train (harmonics falling 6 dB per octave) through a cascade of formant
/// resonators, fundamental gliding linearly over `(start, end)` Hz, shaped by `envelope`,
/// normalised to `level_dbm0` RMS.
pub(crate) fn voiced(
    (f0_start, f0_end): (f64, f64),
    formants: &[(f64, f64)],
    duration_ms: u32,
    level_dbm0: f32,
    envelope: Envelope,
) -> Vec<i16> {
    let count = tone::samples_for(duration_ms);
    if count == 0 {
        return Vec::new();
    }
    let mut phase = 0.0f64;
    let raw: Vec<f64> = (0..count)
        .map(|index| {
            let progress = index as f64 / count as f64;
            let fundamental = f0_start + (f0_end - f0_start) * progress;
            phase += std::f64::consts::TAU * fundamental / 8000.0;
            let mut value = 0.0;
            let mut harmonic = 1.0;
            while harmonic * fundamental < 3800.0 {
                let frequency = harmonic * fundamental;
                let mut amplitude = 1.0 / harmonic;
                for &(centre, bandwidth) in formants {
                    let ratio = frequency / centre;
                    amplitude /= ((1.0 - ratio * ratio).powi(2)
                        + (frequency * bandwidth / (centre * centre)).powi(2))
                    .sqrt();
                }
                value += amplitude * (harmonic * phase).sin();
                harmonic += 1.0;
            }
            let swing = (1.0 - envelope.depth)
                + envelope.depth * (std::f64::consts::TAU * 4.0 * index as f64 / 8000.0).sin();
            let fade = if envelope.fade_samples == 0 {
                1.0
            } else {
                let fade_samples = envelope.fade_samples as f64;
                (index as f64 / fade_samples)
                    .min((count - 1 - index) as f64 / fade_samples)
                    .min(1.0)
            };
            value * swing * fade
        })
        .collect();
    let rms = (raw.iter().map(|value| value * value).sum::<f64>() / count as f64).sqrt();
    let target = tone::peak_amplitude(level_dbm0) / std::f64::consts::SQRT_2;
    raw.iter()
        .map(|value| (value / rms.max(f64::MIN_POSITIVE) * target).round() as i16)
        .collect()
}

/// Speech-like audio: for each `(burst_ms, gap_ms)`, a vowel burst (cycling through the vowels
/// and a few pitch contours) then silence.
pub(crate) fn speech(pattern: &[(u32, u32)], level_dbm0: f32) -> Vec<i16> {
    let contours = [
        (120.0, 150.0),
        (180.0, 130.0),
        (210.0, 240.0),
        (100.0, 90.0),
    ];
    let mut samples = Vec::new();
    for (index, &(burst_ms, gap_ms)) in pattern.iter().enumerate() {
        let (f0_start, f0_end) = contours[index % contours.len()];
        let formants = VOWELS[index % VOWELS.len()];
        samples.extend(vowel(f0_start, f0_end, formants, burst_ms, level_dbm0));
        samples.extend(tone::silence(gap_ms));
    }
    samples
}

/// Adds `noise` (same length or longer) to `signal`, saturating.
pub(crate) fn mix(signal: &[i16], noise: &[i16]) -> Vec<i16> {
    signal
        .iter()
        .zip(noise.iter().chain(std::iter::repeat(&0)))
        .map(|(&a, &b)| a.saturating_add(b))
        .collect()
}
