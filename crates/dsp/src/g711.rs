//! G.711 µ-law and A-law (ITU-T G.711), sample and frame conversion without allocation.

/// A G.711 codec at 8 kHz.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// µ-law, static RTP payload type 0.
    Pcmu,
    /// A-law, static RTP payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type of this codec (RFC 3551).
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// Encodes one linear sample.
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => linear_to_ulaw(sample),
            Codec::Pcma => linear_to_alaw(sample),
        }
    }

    /// Decodes one companded sample.
    pub fn decode_sample(self, byte: u8) -> i16 {
        match self {
            Codec::Pcmu => ulaw_to_linear(byte),
            Codec::Pcma => alaw_to_linear(byte),
        }
    }

    /// Encodes `min(pcm.len(), out.len())` samples.
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) {
        for (o, s) in out.iter_mut().zip(pcm) {
            *o = self.encode_sample(*s);
        }
    }

    /// Decodes `min(encoded.len(), out.len())` samples.
    pub fn decode(self, encoded: &[u8], out: &mut [i16]) {
        for (o, b) in out.iter_mut().zip(encoded) {
            *o = self.decode_sample(*b);
        }
    }
}

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

fn linear_to_ulaw(sample: i16) -> u8 {
    let mut value = i32::from(sample);
    let sign = if value < 0 {
        value = -value;
        0x80
    } else {
        0
    };
    value = value.min(ULAW_CLIP) + ULAW_BIAS;
    let exponent = (7 - (value.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (value >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

fn ulaw_to_linear(byte: u8) -> i16 {
    let byte = !byte;
    let sign = byte & 0x80;
    let exponent = i32::from((byte >> 4) & 0x07);
    let mantissa = i32::from(byte & 0x0f);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    // magnitude <= 32124, so it always fits.
    let magnitude = magnitude as i16;
    if sign != 0 { -magnitude } else { magnitude }
}

fn linear_to_alaw(sample: i16) -> u8 {
    let value = i32::from(sample);
    let (sign, magnitude) = if value >= 0 {
        (0x80, value >> 3)
    } else {
        (0x00, (-value - 1) >> 3)
    };
    let magnitude = magnitude.min(0x0fff);
    let encoded = if magnitude < 32 {
        magnitude >> 1
    } else {
        // Segment s >= 1 holds magnitudes [16 << s, 32 << s): s = log2(magnitude) - 4.
        let segment = 31 - (magnitude as u32).leading_zeros() as i32 - 4;
        let mantissa = (magnitude >> segment) & 0x0f;
        (segment << 4) | mantissa
    };
    ((sign | encoded) ^ 0x55) as u8
}

fn alaw_to_linear(byte: u8) -> i16 {
    let byte = byte ^ 0x55;
    let exponent = i32::from((byte >> 4) & 0x07);
    let mantissa = i32::from(byte & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    // magnitude <= 32256, so it always fits.
    let magnitude = magnitude as i16;
    if byte & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ulaw_values() {
        assert_eq!(Codec::Pcmu.encode_sample(0), 0xff);
        assert_eq!(Codec::Pcmu.decode_sample(0xff), 0);
        assert_eq!(Codec::Pcmu.decode_sample(0x00), -32124);
        assert_eq!(Codec::Pcmu.decode_sample(0x80), 32124);
    }

    #[test]
    fn known_alaw_values() {
        assert_eq!(Codec::Pcma.encode_sample(0), 0xd5);
        assert_eq!(Codec::Pcma.decode_sample(0xd5), 8);
        assert_eq!(Codec::Pcma.decode_sample(0xaa), 32256);
        assert_eq!(Codec::Pcma.decode_sample(0x2a), -32256);
    }

    #[test]
    fn every_code_round_trips() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for byte in 0..=255u8 {
                let linear = codec.decode_sample(byte);
                let again = codec.decode_sample(codec.encode_sample(linear));
                assert_eq!(linear, again, "{codec:?} code {byte:#04x}");
            }
        }
    }
}
