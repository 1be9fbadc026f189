//! Tone generators: DTMF digits and sequences, sines, beeps, silence and seeded white noise.
//!
//! Every generator returns 8 kHz mono `i16` samples ([`crate::SAMPLE_RATE_HZ`]); a duration of
//! `d` ms gives exactly `d * 8` samples. Sums that exceed the `i16` range are clipped, as a real
//! codec would.
//!
//! # Levels in dBm0
//!
//! Levels follow ITU-T G.711: a sine at **0 dBm0** has an RMS 3.17 dB below the RMS of a
//! full-scale sine. With full scale = 32 767 that is an RMS of about 16 085 and a peak of about
//! 22 748 ([`DBM0_REFERENCE_PEAK`]). A DTMF tone at `L` dBm0 has *each* of its two frequencies at
//! `L` dBm0 (so the pair carries `L + 3` dBm0 in total), and noise at `L` dBm0 has the RMS of a
//! sine at `L` dBm0.

use crate::{DtmfDigit, SAMPLE_RATE_HZ};

/// Peak amplitude of a 0 dBm0 sine: full scale (32 767) lowered by 3.17 dB.
pub const DBM0_REFERENCE_PEAK: f64 = 32_767.0 * 0.694_228_5;

/// The mean power (mean of the squared samples) of a 0 dBm0 sine.
pub const DBM0_REFERENCE_POWER: f64 = DBM0_REFERENCE_PEAK * DBM0_REFERENCE_PEAK / 2.0;

/// Frequency of [`beep`] in Hz.
pub const BEEP_FREQUENCY_HZ: f32 = 1000.0;
/// Duration of [`beep`] in ms.
pub const BEEP_DURATION_MS: u32 = 250;
/// Level of [`beep`] in dBm0.
pub const BEEP_LEVEL_DBM0: f32 = -12.0;

/// Peak amplitude of a sine at `level_dbm0`.
pub fn peak_amplitude(level_dbm0: f32) -> f64 {
    DBM0_REFERENCE_PEAK * 10f64.powf(f64::from(level_dbm0) / 20.0)
}

/// The level in dBm0 of a signal with mean power `mean_square` (in squared sample units).
/// Returns `f32::NEG_INFINITY` for silence.
pub fn power_to_dbm0(mean_square: f64) -> f32 {
    if mean_square <= 0.0 {
        return f32::NEG_INFINITY;
    }
    (10.0 * (mean_square / DBM0_REFERENCE_POWER).log10()) as f32
}

/// The DTMF tone of `digit`, both frequencies at `level_dbm0`.
pub fn dtmf(digit: DtmfDigit, duration_ms: u32, level_dbm0: f32) -> Vec<i16> {
    dtmf_with_twist(digit, duration_ms, level_dbm0, level_dbm0)
}

/// The DTMF tone of `digit` with separate levels for the low (row) and high (column) frequency.
/// Twist in the Q.24 sense is `high_dbm0 - low_dbm0`.
pub fn dtmf_with_twist(
    digit: DtmfDigit,
    duration_ms: u32,
    low_dbm0: f32,
    high_dbm0: f32,
) -> Vec<i16> {
    let (low_hz, high_hz) = digit.frequencies_hz();
    sum_of_sines(&[(low_hz, low_dbm0), (high_hz, high_dbm0)], duration_ms)
}

/// The DTMF tone of `digit` with both frequencies multiplied by `1 + frequency_offset_ratio`
/// (e.g. `0.015` for +1.5 %, `-0.035` for -3.5 %).
pub fn dtmf_with_offset(
    digit: DtmfDigit,
    duration_ms: u32,
    level_dbm0: f32,
    frequency_offset_ratio: f32,
) -> Vec<i16> {
    let (low_hz, high_hz) = digit.frequencies_hz();
    let factor = 1.0 + frequency_offset_ratio;
    sum_of_sines(
        &[
            (low_hz * factor, level_dbm0),
            (high_hz * factor, level_dbm0),
        ],
        duration_ms,
    )
}

/// A sine at `frequency_hz` and `level_dbm0`, starting at phase 0.
pub fn sine(frequency_hz: f32, duration_ms: u32, level_dbm0: f32) -> Vec<i16> {
    sum_of_sines(&[(frequency_hz, level_dbm0)], duration_ms)
}

/// Digital silence.
pub fn silence(duration_ms: u32) -> Vec<i16> {
    vec![0; samples_for(duration_ms)]
}

/// Gaussian white noise with the RMS of a sine at `level_dbm0`, from a tiny deterministic PRNG:
/// the same seed always gives the same samples.
pub fn white_noise(duration_ms: u32, level_dbm0: f32, seed: u64) -> Vec<i16> {
    let rms = peak_amplitude(level_dbm0) / std::f64::consts::SQRT_2;
    let mut random = SplitMix64::new(seed);
    (0..samples_for(duration_ms))
        .map(|_| clip(random.next_gaussian() * rms))
        .collect()
}

/// The "record after the beep" tone: [`BEEP_FREQUENCY_HZ`] for [`BEEP_DURATION_MS`] at
/// [`BEEP_LEVEL_DBM0`], with 5 ms fades so that it does not click.
pub fn beep() -> Vec<i16> {
    let mut samples = sine(BEEP_FREQUENCY_HZ, BEEP_DURATION_MS, BEEP_LEVEL_DBM0);
    let fade = samples_for(5).min(samples.len() / 2);
    let length = samples.len();
    for index in 0..fade {
        let gain = index as f64 / fade as f64;
        for position in [index, length - 1 - index] {
            samples[position] = clip(f64::from(samples[position]) * gain);
        }
    }
    samples
}

/// A dialled string: for every DTMF character of `digits` (`0-9`, `*`, `#`, `A-D`, lower case
/// accepted), its tone for `on_ms` then `off_ms` of silence. Other characters (spaces, dashes)
/// are skipped.
pub fn dtmf_sequence(digits: &str, on_ms: u32, off_ms: u32, level_dbm0: f32) -> Vec<i16> {
    let mut samples = Vec::new();
    for digit in digits.chars().filter_map(DtmfDigit::from_char) {
        samples.extend(dtmf(digit, on_ms, level_dbm0));
        samples.extend(silence(off_ms));
    }
    samples
}

/// The number of samples in `duration_ms` at 8 kHz.
pub fn samples_for(duration_ms: u32) -> usize {
    // At most 34 359 738 samples: fits in usize on every target ivory builds for.
    usize::try_from(u64::from(duration_ms) * u64::from(SAMPLE_RATE_HZ) / 1000).unwrap_or(usize::MAX)
}

fn sum_of_sines(components: &[(f32, f32)], duration_ms: u32) -> Vec<i16> {
    let step: Vec<(f64, f64)> = components
        .iter()
        .map(|&(frequency_hz, level_dbm0)| {
            (
                std::f64::consts::TAU * f64::from(frequency_hz) / f64::from(SAMPLE_RATE_HZ),
                peak_amplitude(level_dbm0),
            )
        })
        .collect();
    (0..samples_for(duration_ms))
        .map(|index| {
            let time = index as f64;
            clip(
                step.iter()
                    .map(|&(omega, peak)| peak * (omega * time).sin())
                    .sum(),
            )
        })
        .collect()
}

fn clip(value: f64) -> i16 {
    // Saturating float-to-int cast; NaN becomes 0.
    value
        .round()
        .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// SplitMix64: a tiny, well-mixed PRNG; plenty for test signals, not for anything secret.
struct SplitMix64 {
    state: u64,
    spare_gaussian: Option<f64>,
}

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare_gaussian: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so that `ln` below is finite.
    fn next_unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal deviate (Box-Muller, both outputs used).
    fn next_gaussian(&mut self) -> f64 {
        if let Some(spare) = self.spare_gaussian.take() {
            return spare;
        }
        let radius = (-2.0 * self.next_unit().ln()).sqrt();
        let angle = std::f64::consts::TAU * self.next_unit();
        self.spare_gaussian = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_square(samples: &[i16]) -> f64 {
        samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64
    }

    #[test]
    fn zero_dbm0_sine_has_the_g711_peak() {
        let samples = sine(1004.0, 100, 0.0);
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((22_700..=22_760).contains(&peak), "peak {peak}");
        assert!(power_to_dbm0(mean_square(&samples)).abs() < 0.05);
    }

    #[test]
    fn lengths_follow_the_duration() {
        assert_eq!(silence(20).len(), 160);
        assert_eq!(dtmf(DtmfDigit::D5, 45, -10.0).len(), 360);
        assert_eq!(beep().len(), 2000);
        assert_eq!(dtmf_sequence("12 3x", 50, 50, -10.0).len(), 3 * 800);
        assert!(silence(20).iter().all(|&s| s == 0));
    }

    #[test]
    fn levels_are_per_tone() {
        let pair = dtmf(DtmfDigit::D1, 200, -10.0);
        // Two tones at -10 dBm0 each carry -7 dBm0 together.
        assert!((power_to_dbm0(mean_square(&pair)) + 6.99).abs() < 0.1);
        let twisted = dtmf_with_twist(DtmfDigit::D1, 200, -10.0, -20.0);
        let expected = 10.0 * (10f64.powf(-1.0) + 10f64.powf(-2.0)).log10();
        assert!((f64::from(power_to_dbm0(mean_square(&twisted))) - expected).abs() < 0.1);
    }

    #[test]
    fn noise_is_deterministic_and_at_level() {
        let first = white_noise(1000, -20.0, 7);
        assert_eq!(first, white_noise(1000, -20.0, 7));
        assert_ne!(first, white_noise(1000, -20.0, 8));
        assert!((power_to_dbm0(mean_square(&first)) + 20.0).abs() < 0.2);
        let mean = first.iter().map(|&s| f64::from(s)).sum::<f64>() / first.len() as f64;
        assert!(mean.abs() < 100.0, "mean {mean}");
    }

    #[test]
    fn loud_pairs_clip_instead_of_wrapping() {
        let samples = dtmf(DtmfDigit::D, 100, 3.0);
        assert!(samples.contains(&i16::MAX));
        assert!(samples.contains(&i16::MIN));
    }

    #[test]
    fn beep_fades_in_and_out() {
        let samples = beep();
        assert_eq!(samples[0], 0);
        assert_eq!(*samples.last().unwrap(), 0);
        let middle = &samples[800..1200];
        assert!((power_to_dbm0(mean_square(middle)) - BEEP_LEVEL_DBM0).abs() < 0.1);
    }
}
