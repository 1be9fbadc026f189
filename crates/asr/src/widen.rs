//! Telephone audio (8 kHz, nothing above 4 kHz) made fit for a 16 kHz acoustic model.
//!
//! pocketsphinx's en-us model was trained on 16 kHz speech. Fed upsampled telephone audio, its
//! front end sees an empty 4–8 kHz band, which no training utterance had, and accuracy drops
//! (on the synthetic key-phrase set: 30/80 phrases right with plain upsampling, 72–80/80 with
//! the band filled; see DEPENDENCIES.md). So:
//! 1. Upsample ×2 with a half-band FIR filter: even output samples are the input samples, odd
//!    ones are interpolated by a windowed sinc ([`HALF_TAPS`] taps a side).
//! 2. Fill 4–8 kHz with faint noise: white noise, band-limited to 0–4 kHz by the same filter,
//!    then mirrored into 4–8 kHz by flipping the sign of every other sample.
//! 3. Add fainter noise below 4 kHz ([`DITHER_DBFS`]). Telephone silence is often digital zero
//!    (an RTP sender's silence, the endpointer's pre-roll before the caller's first word), and
//!    stretches of zero energy skew the decoder's cepstral mean normalisation: the same "agent"
//!    decoded as "agent" alone and as nothing once padded with 400 ms of zeros. Real lines hiss.
//!
//! The noise is [`BAND_NOISE_DBFS`] below full scale and seeded, so the same input always gives
//! the same output (tests and benchmarks are repeatable).

/// Interpolation taps on each side of an odd output sample.
pub const HALF_TAPS: usize = 12;
/// The level of the noise put in the empty upper band, in dB below full scale (RMS).
pub const BAND_NOISE_DBFS: f32 = -50.0;
/// The level of the dither added below 4 kHz, in dB below full scale (RMS).
pub const DITHER_DBFS: f32 = -60.0;

/// 16 kHz audio for 8 kHz `samples` (twice as many samples), the upper band filled.
pub fn widen_telephone_audio(samples: &[i16]) -> Vec<i16> {
    let coefficients = half_band_coefficients();
    let speech = upsample(samples, &coefficients);
    let (band, band_gain) = band_limited_noise(0x1f0e_5eed, samples.len(), BAND_NOISE_DBFS);
    let (dither, dither_gain) = band_limited_noise(0xd1_7e55, samples.len(), DITHER_DBFS);
    speech
        .iter()
        .zip(band.iter().zip(&dither))
        .enumerate()
        .map(|(index, (&voice, (&hiss, &low_hiss)))| {
            let mirrored = if index % 2 == 0 { hiss } else { -hiss };
            (voice + mirrored * band_gain + low_hiss * dither_gain)
                .round()
                .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
        })
        .collect()
}

/// Seeded white noise at 8 kHz upsampled to 16 kHz (so it lies below 4 kHz), and the gain that
/// brings it to `level_dbfs` RMS.
fn band_limited_noise(seed: u64, samples: usize, level_dbfs: f32) -> (Vec<f32>, f32) {
    let source: Vec<i16> = SeededNoise::new(seed).take(samples).collect();
    let noise = upsample(&source, &half_band_coefficients());
    let gain = 10f32.powf(level_dbfs / 20.0) * 32767.0 / root_mean_square(&noise).max(1.0);
    (noise, gain)
}

/// The odd-sample interpolation weights: a Hann-windowed sinc at the half-sample offsets.
fn half_band_coefficients() -> [f32; HALF_TAPS] {
    let mut coefficients = [0.0; HALF_TAPS];
    for (k, coefficient) in coefficients.iter_mut().enumerate() {
        let offset = k as f32 + 0.5;
        let phase = std::f32::consts::PI * offset;
        let window = 0.5 + 0.5 * (phase / (HALF_TAPS as f32 + 0.5)).cos();
        *coefficient = phase.sin() / phase * window;
    }
    coefficients
}

fn upsample(samples: &[i16], coefficients: &[f32; HALF_TAPS]) -> Vec<f32> {
    let at = |index: isize| -> f32 {
        usize::try_from(index)
            .ok()
            .and_then(|index| samples.get(index))
            .map_or(0.0, |&sample| f32::from(sample))
    };
    let mut output = Vec::with_capacity(samples.len() * 2);
    for index in 0..samples.len() as isize {
        output.push(at(index));
        let interpolated: f32 = coefficients
            .iter()
            .enumerate()
            .map(|(k, weight)| weight * (at(index - k as isize) + at(index + 1 + k as isize)))
            .sum();
        output.push(interpolated);
    }
    output
}

fn root_mean_square(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
}

/// xorshift64: uniform 16-bit noise, the same for the same seed.
struct SeededNoise(u64);

impl SeededNoise {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
}

impl Iterator for SeededNoise {
    type Item = i16;

    fn next(&mut self) -> Option<i16> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Some((self.0 >> 48) as u16 as i16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Power of `samples` at `frequency` Hz (sampled at `rate`), by correlation.
    fn power_at(samples: &[i16], rate: f32, frequency: f32) -> f32 {
        let (mut real, mut imaginary) = (0.0f32, 0.0f32);
        for (n, &sample) in samples.iter().enumerate() {
            let phase = 2.0 * std::f32::consts::PI * frequency * n as f32 / rate;
            real += f32::from(sample) * phase.cos();
            imaginary += f32::from(sample) * phase.sin();
        }
        (real * real + imaginary * imaginary) / (samples.len() as f32).powi(2)
    }

    fn tone(frequency: f32, samples: usize) -> Vec<i16> {
        (0..samples)
            .map(|n| {
                (8000.0 * (2.0 * std::f32::consts::PI * frequency * n as f32 / 8000.0).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn twice_the_samples_and_the_originals_kept_at_even_positions_give_or_take_the_noise() {
        let input = tone(1000.0, 800);
        let output = widen_telephone_audio(&input);
        assert_eq!(output.len(), 1600);
        let largest_difference = input
            .iter()
            .zip(output.iter().step_by(2))
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap();
        // The band noise is about 100 (−50 dBFS RMS); allow its peaks.
        assert!(largest_difference < 600, "{largest_difference}");
    }

    #[test]
    fn a_tone_keeps_its_frequency_and_no_image_appears() {
        let output = widen_telephone_audio(&tone(1000.0, 1600));
        let wanted = power_at(&output, 16000.0, 1000.0);
        let image = power_at(&output, 16000.0, 7000.0);
        assert!(wanted > 1000.0 * image, "wanted {wanted}, image {image}");
    }

    #[test]
    fn silence_gets_faint_noise_in_the_upper_band_only() {
        let output = widen_telephone_audio(&[0; 8000]);
        let rms = root_mean_square(&output.iter().map(|&s| f32::from(s)).collect::<Vec<_>>());
        let dbfs = 20.0 * (rms / 32767.0).log10();
        assert!((-53.0..=-47.0).contains(&dbfs), "{dbfs} dBFS");
        let upper: f32 = [5000.0, 6000.0, 7000.0]
            .iter()
            .map(|&f| power_at(&output, 16000.0, f))
            .sum();
        let lower: f32 = [500.0, 1500.0, 2500.0]
            .iter()
            .map(|&f| power_at(&output, 16000.0, f))
            .sum();
        // The band fill is 10 dB above the dither below 4 kHz.
        assert!(upper > 5.0 * lower, "upper {upper}, lower {lower}");
        assert!(lower > 0.0, "the dither is there");
    }

    #[test]
    fn the_same_input_gives_the_same_output() {
        let input = tone(440.0, 500);
        assert!(widen_telephone_audio(&input) == widen_telephone_audio(&input));
        assert!(widen_telephone_audio(&[]).is_empty());
    }
}
