//! Newtypes for RTP wire values, with the wrap-around arithmetic each needs.

use crate::RtpError;

/// Synchronisation source identifier (RFC 3550 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ssrc(pub u32);

/// 16-bit RTP sequence number; wraps from 65535 to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeqNo(pub u16);

/// 32-bit RTP media timestamp (8 kHz clock for G.711); wraps from `u32::MAX` to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RtpTimestamp(pub u32);

/// A 7-bit RTP payload type. Construct with [`PayloadType::new`], which rejects values above 127.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(u8);

impl SeqNo {
    /// The following sequence number, wrapping.
    pub fn next(self) -> Self {
        SeqNo(self.0.wrapping_add(1))
    }

    /// Signed distance from `self` to `later` on the 16-bit circle: positive when `later` is newer.
    /// Valid while the two are within 32767 packets of each other.
    pub fn distance_to(self, later: SeqNo) -> i32 {
        i32::from(later.0.wrapping_sub(self.0) as i16)
    }
}

impl RtpTimestamp {
    /// This timestamp advanced by `samples`, wrapping.
    pub fn advanced_by(self, samples: u32) -> Self {
        RtpTimestamp(self.0.wrapping_add(samples))
    }

    /// Signed distance in samples from `self` to `later` on the 32-bit circle.
    pub fn distance_to(self, later: RtpTimestamp) -> i64 {
        i64::from(later.0.wrapping_sub(self.0) as i32)
    }
}

impl PayloadType {
    /// Validates a payload type (0..=127).
    pub fn new(value: u8) -> Result<Self, RtpError> {
        if value <= 127 {
            Ok(PayloadType(value))
        } else {
            Err(RtpError::PayloadTypeOutOfRange { value })
        }
    }

    /// The 7-bit value.
    pub fn value(self) -> u8 {
        self.0
    }

    /// Dynamic payload types (96-127, RFC 3551 §3) are bound by SDP rather than fixed.
    pub fn is_dynamic(self) -> bool {
        self.0 >= 96
    }

    /// Masks the 7-bit field out of the second header byte; used by the parser, which cannot
    /// produce anything above 127.
    pub(crate) fn from_header_bits(byte: u8) -> Self {
        PayloadType(byte & 0x7f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_type_range_is_checked() {
        assert_eq!(PayloadType::new(127).map(PayloadType::value), Ok(127));
        assert_eq!(PayloadType::new(0).map(PayloadType::value), Ok(0));
        assert_eq!(
            PayloadType::new(128),
            Err(RtpError::PayloadTypeOutOfRange { value: 128 })
        );
        assert!(PayloadType::new(96).is_ok_and(PayloadType::is_dynamic));
        assert!(!PayloadType::new(8).is_ok_and(PayloadType::is_dynamic));
    }

    #[test]
    fn sequence_numbers_wrap() {
        assert_eq!(SeqNo(65535).next(), SeqNo(0));
        assert_eq!(SeqNo(65535).distance_to(SeqNo(2)), 3);
        assert_eq!(SeqNo(2).distance_to(SeqNo(65535)), -3);
        assert_eq!(SeqNo(10).distance_to(SeqNo(10)), 0);
    }

    #[test]
    fn timestamps_wrap() {
        assert_eq!(
            RtpTimestamp(u32::MAX - 100).advanced_by(160),
            RtpTimestamp(59)
        );
        assert_eq!(
            RtpTimestamp(u32::MAX - 100).distance_to(RtpTimestamp(59)),
            160
        );
        assert_eq!(
            RtpTimestamp(59).distance_to(RtpTimestamp(u32::MAX - 100)),
            -160
        );
    }
}
