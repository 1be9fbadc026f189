//! One analysis window: the eight Goertzel filters' outputs over it (computed by the `goertzel`
//! module), and the tests that turn them into "this window holds digit X" or "no digit".
//!
//! Why the tests look the way they do:
//! - A short window cannot tell 697 Hz from 697 Hz + 3.5 % by magnitude alone (the main lobe is
//!   far wider than 24 Hz), so the frequency of each tone is *measured* from the phase advance of
//!   its Goertzel output between two consecutive windows (one hop apart). That is accurate to
//!   about 1 Hz at 15 dB SNR and independent of level, which is what the ±1.5 % accept /
//!   ±3.5 % reject rule needs: the limit sits in the middle, at ±2.5 %.
//! - The energy-share test (the two tones carry most of the window's energy) rejects speech and
//!   music, and also rejects windows only partly covered by a tone: for a rectangular window the
//!   share is exactly the covered fraction, for the Hann window roughly so. This is what makes
//!   the duration rules depend on the tone length and not on its level.
//! - The Hann window keeps the other group's tone (>= 268 Hz away) out of each filter, so the
//!   phase and power readings are clean even with 8 dB of twist.

use super::goertzel::{WindowOutputs, hann_window};
use crate::{DtmfDigit, SAMPLE_RATE_HZ};

/// Samples per analysis window (20 ms).
pub const WINDOW_SAMPLES: usize = 160;
/// Samples between the starts of two consecutive windows (5 ms).
pub const HOP_SAMPLES: usize = 40;

const LOW_GROUP_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const HIGH_GROUP_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// The eight filters: the low group, then the high group.
pub(crate) const FILTER_FREQUENCIES_HZ: [f32; 8] = [
    LOW_GROUP_HZ[0],
    LOW_GROUP_HZ[1],
    LOW_GROUP_HZ[2],
    LOW_GROUP_HZ[3],
    HIGH_GROUP_HZ[0],
    HIGH_GROUP_HZ[1],
    HIGH_GROUP_HZ[2],
    HIGH_GROUP_HZ[3],
];
const DIGITS_BY_ROW_AND_COLUMN: [[DtmfDigit; 4]; 4] = [
    [DtmfDigit::D1, DtmfDigit::D2, DtmfDigit::D3, DtmfDigit::A],
    [DtmfDigit::D4, DtmfDigit::D5, DtmfDigit::D6, DtmfDigit::B],
    [DtmfDigit::D7, DtmfDigit::D8, DtmfDigit::D9, DtmfDigit::C],
    [
        DtmfDigit::Star,
        DtmfDigit::D0,
        DtmfDigit::Pound,
        DtmfDigit::D,
    ],
];

/// Resolution and reach of the window's magnitude-response table, used to undo the loss of a
/// tone that is slightly off its filter's centre.
const RESPONSE_STEP_HZ: f32 = 0.5;
const RESPONSE_ENTRIES: usize = 161;

/// The thresholds of the hit decision. Powers are mean squares in sample units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    /// Each tone must be at least this strong.
    pub minimum_tone_power: f32,
    /// High tone / low tone power, upper limit (reverse twist).
    pub maximum_high_to_low: f32,
    /// High tone / low tone power, lower limit (normal twist).
    pub minimum_high_to_low: f32,
    /// The runner-up in a group must be at most this fraction of the group's winner.
    pub maximum_runner_up_share: f32,
    /// |measured - nominal| / nominal, upper limit.
    pub maximum_frequency_deviation: f32,
    /// (low + high tone power) / window power, lower limit.
    pub minimum_energy_share: f32,
}

impl Thresholds {
    pub(crate) fn standard() -> Self {
        let from_db = |db: f32| 10f32.powf(db / 10.0);
        Self {
            minimum_tone_power: crate::tone::DBM0_REFERENCE_POWER as f32 * from_db(-40.0),
            maximum_high_to_low: from_db(6.0),
            minimum_high_to_low: from_db(-10.0),
            maximum_runner_up_share: from_db(-6.0),
            maximum_frequency_deviation: 0.025,
            minimum_energy_share: 0.80,
        }
    }
}

/// What one window measured for the strongest tone of each group (kept for diagnostics and
/// tests).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Measurement {
    pub row: usize,
    pub column: usize,
    pub low_power: f32,
    pub high_power: f32,
    pub low_runner_up: f32,
    pub high_runner_up: f32,
    /// Relative frequency deviation, `None` before the first complete pair of windows.
    pub low_deviation: Option<f32>,
    pub high_deviation: Option<f32>,
    /// Tone power (corrected for the deviation) over window power.
    pub energy_share: f32,
    pub window_power: f32,
}

/// Window power below which no digit is possible: -43 dBm0, 3 dB under one tone at the -40 dBm0
/// per-tone minimum (10^(-43/10) = 5.0119e-5).
const SILENCE_POWER: f32 = (crate::tone::DBM0_REFERENCE_POWER * 5.011_872_3e-5) as f32;

impl Measurement {
    /// A window too quiet to analyse: no tone, no phase reference.
    fn silent(window_power: f32) -> Self {
        Measurement {
            row: 0,
            column: 0,
            low_power: 0.0,
            high_power: 0.0,
            low_runner_up: 0.0,
            high_runner_up: 0.0,
            low_deviation: None,
            high_deviation: None,
            energy_share: 0.0,
            window_power,
        }
    }

    /// The measured frequency of the strongest low-group tone.
    pub(crate) fn low_frequency_hz(&self) -> Option<f32> {
        self.low_deviation
            .map(|deviation| LOW_GROUP_HZ[self.row] * (1.0 + deviation))
    }

    /// The measured frequency of the strongest high-group tone.
    pub(crate) fn high_frequency_hz(&self) -> Option<f32> {
        self.high_deviation
            .map(|deviation| HIGH_GROUP_HZ[self.column] * (1.0 + deviation))
    }

    /// The digit this window holds, if every test passes.
    pub(crate) fn digit(&self, limits: &Thresholds) -> Option<DtmfDigit> {
        let low_deviation = self.low_deviation?;
        let high_deviation = self.high_deviation?;
        let pass = self.low_power >= limits.minimum_tone_power
            && self.high_power >= limits.minimum_tone_power
            && self.high_power <= self.low_power * limits.maximum_high_to_low
            && self.high_power >= self.low_power * limits.minimum_high_to_low
            && self.low_runner_up <= self.low_power * limits.maximum_runner_up_share
            && self.high_runner_up <= self.high_power * limits.maximum_runner_up_share
            && low_deviation.abs() <= limits.maximum_frequency_deviation
            && high_deviation.abs() <= limits.maximum_frequency_deviation
            && self.energy_share >= limits.minimum_energy_share;
        pass.then(|| DIGITS_BY_ROW_AND_COLUMN[self.row][self.column])
    }
}

#[derive(Clone, Copy)]
struct ToneFilter {
    frequency_hz: f32,
    /// Phase a tone exactly at `frequency_hz` advances between two windows one hop apart.
    hop_phase: f32,
}

/// Turns each window's filter outputs into a [`Measurement`], carrying the outputs from one
/// window to the next for the phase (frequency) measurement.
pub(crate) struct ToneBank {
    filters: [ToneFilter; 8],
    window_sum: f32,
    window_square_sum: f32,
    /// Magnitude response of the window at `i * RESPONSE_STEP_HZ` off centre, 1.0 at 0 Hz.
    response: [f32; RESPONSE_ENTRIES],
    previous: [(f32, f32); 8],
    has_previous: bool,
}

impl std::fmt::Debug for ToneBank {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ToneBank")
            .field("has_previous", &self.has_previous)
            .finish_non_exhaustive()
    }
}

impl ToneBank {
    pub(crate) fn new() -> Self {
        let sample_rate = SAMPLE_RATE_HZ as f32;
        let filters = FILTER_FREQUENCIES_HZ.map(|frequency_hz| {
            let hop_phase = std::f32::consts::TAU * frequency_hz * HOP_SAMPLES as f32 / sample_rate;
            ToneFilter {
                frequency_hz,
                hop_phase: wrap_phase(hop_phase),
            }
        });
        let window = hann_window();
        let window_sum: f32 = window.iter().sum();
        let window_square_sum: f32 = window.iter().map(|w| w * w).sum();
        let centre = (WINDOW_SAMPLES as f32 - 1.0) / 2.0;
        let response = std::array::from_fn(|index| {
            let theta = std::f32::consts::TAU * index as f32 * RESPONSE_STEP_HZ / sample_rate;
            let sum: f32 = window
                .iter()
                .enumerate()
                .map(|(n, w)| w * (theta * (n as f32 - centre)).cos())
                .sum();
            (sum / window_sum).abs()
        });
        Self {
            filters,
            window_sum,
            window_square_sum,
            response,
            previous: [(0.0, 0.0); 8],
            has_previous: false,
        }
    }

    /// Forgets the previous window (after a gap in the input).
    pub(crate) fn reset(&mut self) {
        self.has_previous = false;
    }

    /// Analyses one complete window, the one after the window analysed last (one hop later).
    pub(crate) fn analyse(&mut self, window: &WindowOutputs) -> Measurement {
        // Mean power of the input as the window sees it.
        let window_power = window.weighted_energy / self.window_square_sum;
        // A window this quiet cannot hold two tones at the per-tone minimum (the tones' power is
        // part of the window's), so it is not analysed further. The next window then has no phase reference and
        // cannot count as a hit, which only matters at a tone's onset, where the window before
        // it already carries part of the tone and is well above this level.
        if window_power < SILENCE_POWER {
            self.has_previous = false;
            return Measurement::silent(window_power);
        }

        let outputs = window.outputs;
        let mut powers = [0.0f32; 8];
        for (output, power) in outputs.iter().zip(&mut powers) {
            // A sine of amplitude A gives |output| = A * window_sum / 2: its power A^2 / 2 is
            // 2 |output|^2 / window_sum^2.
            *power = 2.0 * (output.0 * output.0 + output.1 * output.1)
                / (self.window_sum * self.window_sum);
        }

        let (row, low_power, low_runner_up) = strongest(&powers[..4]);
        let (column, high_power, high_runner_up) = strongest(&powers[4..]);
        let (low_deviation, high_deviation) = if self.has_previous {
            (
                Some(self.deviation(row, &outputs)),
                Some(self.deviation(column + 4, &outputs)),
            )
        } else {
            (None, None)
        };
        let corrected = |power: f32, index: usize, deviation: Option<f32>| {
            let offset_hz = deviation.unwrap_or(0.0).abs() * self.filters[index].frequency_hz;
            let gain = self.response_at(offset_hz);
            power / (gain * gain)
        };
        let tone_power = corrected(low_power, row, low_deviation)
            + corrected(high_power, column + 4, high_deviation);
        let energy_share = if window_power > 0.0 {
            tone_power / window_power
        } else {
            0.0
        };

        self.previous = outputs;
        self.has_previous = true;
        Measurement {
            row,
            column,
            low_power,
            high_power,
            low_runner_up,
            high_runner_up,
            low_deviation,
            high_deviation,
            energy_share,
            window_power,
        }
    }

    /// Relative frequency deviation of the signal seen by filter `index`, from the phase advance
    /// of its output over one hop.
    fn deviation(&self, index: usize, outputs: &[(f32, f32); 8]) -> f32 {
        let (re, im) = outputs[index];
        let (previous_re, previous_im) = self.previous[index];
        // output * conj(previous): its angle is the phase advance over one hop.
        let advance_re = re * previous_re + im * previous_im;
        let advance_im = im * previous_re - re * previous_im;
        if advance_re == 0.0 && advance_im == 0.0 {
            return f32::INFINITY;
        }
        let filter = &self.filters[index];
        let excess = wrap_phase(advance_im.atan2(advance_re) - filter.hop_phase);
        let offset_hz =
            excess * SAMPLE_RATE_HZ as f32 / (std::f32::consts::TAU * HOP_SAMPLES as f32);
        offset_hz / filter.frequency_hz
    }

    fn response_at(&self, offset_hz: f32) -> f32 {
        let position = offset_hz / RESPONSE_STEP_HZ;
        // Beyond the table (or not finite) the deviation test rejects the window anyway.
        if !(0.0..(RESPONSE_ENTRIES - 1) as f32).contains(&position) {
            return 1.0;
        }
        let index = position as usize;
        let fraction = position - index as f32;
        let below = self.response[index];
        let above = self.response[index + 1];
        (below + (above - below) * fraction).max(0.05)
    }
}

/// Index and power of the strongest entry, and the power of the runner-up.
fn strongest(powers: &[f32]) -> (usize, f32, f32) {
    let mut best = (0, f32::MIN, f32::MIN);
    for (index, &power) in powers.iter().enumerate() {
        if power > best.1 {
            best = (index, power, best.1);
        } else if power > best.2 {
            best.2 = power;
        }
    }
    (best.0, best.1.max(0.0), best.2.max(0.0))
}

/// Wraps a phase into [-pi, pi).
fn wrap_phase(phase: f32) -> f32 {
    (phase + std::f32::consts::PI).rem_euclid(std::f32::consts::TAU) - std::f32::consts::PI
}
