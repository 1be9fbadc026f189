//! Test audio, written here so the end-to-end tests do not lean on the code they test (`ivory-dsp`):
//! G.711 µ-law and A-law encoders (ITU-T G.711 segment tables, computed rather than looked up),
//! sine and DTMF tone generation at 8 kHz, and a minimal 16-bit PCM WAV writer for softphones.

use std::f64::consts::TAU;
use std::path::Path;

/// Telephone sample rate.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// The G.711 codec a stream is encoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The codec of a static payload type, if it is G.711.
    pub fn from_payload_type(payload_type: u8) -> Option<Codec> {
        match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The encoded byte of digital silence.
    pub fn silence_byte(self) -> u8 {
        match self {
            Codec::Pcmu => 0xFF,
            Codec::Pcma => 0xD5,
        }
    }

    pub fn encode(self, samples: &[i16]) -> Vec<u8> {
        match self {
            Codec::Pcmu => samples
                .iter()
                .map(|&sample| linear_to_ulaw(sample))
                .collect(),
            Codec::Pcma => samples
                .iter()
                .map(|&sample| linear_to_alaw(sample))
                .collect(),
        }
    }
}

/// G.711 µ-law: bias by 0x84, find the segment (position of the highest set bit), keep four
/// mantissa bits, invert everything.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut magnitude = i32::from(sample);
    let sign = if magnitude < 0 {
        magnitude = -magnitude;
        0x80
    } else {
        0x00
    };
    let biased = magnitude.min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && biased & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    // The values fit a byte by construction: sign 0x80, exponent < 8, mantissa < 16.
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// The inverse of [`linear_to_ulaw`] (used to check it).
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let value = !byte;
    let exponent = i32::from((value >> 4) & 0x07);
    let mantissa = i32::from(value & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    let signed = if value & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    };
    signed as i16
}

/// G.711 A-law on the 13-bit magnitude: segment by the highest set bit, four mantissa bits,
/// even bits inverted (the 0x55 mask).
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut value = i32::from(sample) >> 3;
    let mask = if value >= 0 {
        0xD5
    } else {
        value = -value - 1;
        0x55
    };
    let mut segment = 0;
    while segment < 8 && value > (0x20 << segment) - 1 {
        segment += 1;
    }
    let encoded = if segment >= 8 {
        0x7F
    } else if segment < 2 {
        (segment << 4) | ((value >> 1) & 0x0F)
    } else {
        (segment << 4) | ((value >> segment) & 0x0F)
    };
    (encoded as u8) ^ mask
}

/// The inverse of [`linear_to_alaw`] (used to check it).
pub fn alaw_to_linear(byte: u8) -> i16 {
    let value = byte ^ 0x55;
    let mut magnitude = i32::from(value & 0x0F) << 4;
    let segment = (value & 0x70) >> 4;
    match segment {
        0 => magnitude += 8,
        1 => magnitude += 0x108,
        _ => {
            magnitude += 0x108;
            magnitude <<= segment - 1;
        }
    }
    let signed = if value & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    };
    signed as i16
}

/// `duration_ms` of digital silence.
pub fn silence(duration_ms: u32) -> Vec<i16> {
    vec![0; samples_for(duration_ms)]
}

/// A sum of sines, each at `amplitude` (linear, of 32767), for `duration_ms`, with 5 ms raised
/// edges so the tone starts and stops without a click.
pub fn tones(frequencies_hz: &[f64], amplitude: f64, duration_ms: u32) -> Vec<i16> {
    let count = samples_for(duration_ms);
    let ramp = samples_for(5).max(1);
    (0..count)
        .map(|index| {
            let time = index as f64 / f64::from(SAMPLE_RATE);
            let edge = index.min(count - 1 - index).min(ramp) as f64 / ramp as f64;
            let value: f64 = frequencies_hz
                .iter()
                .map(|frequency| (TAU * frequency * time).sin() * amplitude)
                .sum();
            (value * edge).clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// The ITU-T Q.23 frequency pair of a DTMF key (`0-9`, `*`, `#`, `A-D`).
pub fn dtmf_frequencies(digit: char) -> Option<(f64, f64)> {
    let (row, column) = match digit.to_ascii_uppercase() {
        '1' => (0, 0),
        '2' => (0, 1),
        '3' => (0, 2),
        'A' => (0, 3),
        '4' => (1, 0),
        '5' => (1, 1),
        '6' => (1, 2),
        'B' => (1, 3),
        '7' => (2, 0),
        '8' => (2, 1),
        '9' => (2, 2),
        'C' => (2, 3),
        '*' => (3, 0),
        '0' => (3, 1),
        '#' => (3, 2),
        'D' => (3, 3),
        _ => return None,
    };
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLUMNS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    Some((ROWS[row], COLUMNS[column]))
}

/// A DTMF key press: both tones at about -15 dBFS each for `duration_ms`.
pub fn dtmf_tone(digit: char, duration_ms: u32) -> Vec<i16> {
    let (row, column) = dtmf_frequencies(digit).expect("test asked for a DTMF key that exists");
    tones(&[row, column], 6000.0, duration_ms)
}

/// The RFC 4733 event code of a DTMF key.
pub fn dtmf_event_code(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(12 + (digit.to_ascii_uppercase() as u8 - b'A')),
        _ => None,
    }
}

/// Writes 8 kHz mono 16-bit PCM as a canonical 44-byte-header WAV file.
pub fn write_wav(path: &Path, samples: &[i16]) -> std::io::Result<()> {
    let data_bytes = (samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + samples.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    bytes.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_bytes.to_le_bytes());
    for sample in samples {
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    std::fs::write(path, bytes)
}

fn samples_for(duration_ms: u32) -> usize {
    (u64::from(duration_ms) * u64::from(SAMPLE_RATE) / 1000) as usize
}

/// The share (0..=1) of `samples`' power at `frequency_hz` (a Goertzel filter over the whole
/// block), to tell which tone a stretch of received audio carries.
pub fn tone_share(samples: &[i16], frequency_hz: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let coefficient = 2.0 * (2.0 * std::f64::consts::PI * frequency_hz / 8000.0).cos();
    let (mut previous, mut before) = (0.0f64, 0.0f64);
    let mut total = 0.0f64;
    for &sample in samples {
        let x = f64::from(sample);
        total += x * x;
        let current = x + coefficient * previous - before;
        before = previous;
        previous = current;
    }
    let power = previous * previous + before * before - coefficient * previous * before;
    if total == 0.0 {
        return 0.0;
    }
    // A pure tone of N samples gives power ≈ total · N / 2.
    (2.0 * power / (total * samples.len() as f64)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_reference_points() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(-i16::MAX), 0x00);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
    }

    #[test]
    fn ulaw_round_trips_every_code() {
        for byte in 0..=255u8 {
            let linear = ulaw_to_linear(byte);
            let again = linear_to_ulaw(linear);
            // 0x7F is "negative zero": it decodes to 0, which encodes as positive zero 0xFF.
            assert_eq!(ulaw_to_linear(again), linear, "µ-law code {byte:#04x}");
        }
    }

    #[test]
    fn alaw_reference_points_and_round_trip() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
        for byte in 0..=255u8 {
            assert_eq!(
                linear_to_alaw(alaw_to_linear(byte)),
                byte,
                "A-law code {byte:#04x}"
            );
        }
    }

    #[test]
    fn dtmf_tone_has_its_two_frequencies() {
        let tone = dtmf_tone('5', 100);
        assert_eq!(tone.len(), 800);
        // Correlate with the expected and a wrong frequency: the expected ones dominate.
        let power = |frequency: f64| {
            let (mut re, mut im) = (0.0, 0.0);
            for (index, &sample) in tone.iter().enumerate() {
                let phase = TAU * frequency * index as f64 / f64::from(SAMPLE_RATE);
                re += f64::from(sample) * phase.cos();
                im += f64::from(sample) * phase.sin();
            }
            re * re + im * im
        };
        assert!(power(770.0) > 100.0 * power(941.0));
        assert!(power(1336.0) > 100.0 * power(1209.0));
        assert_eq!(dtmf_event_code('#'), Some(11));
        assert_eq!(dtmf_event_code('x'), None);
    }
}
