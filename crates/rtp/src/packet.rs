//! RTP packets on the wire: a bounds-checked reader (on top of `rtp-rs`) and a header writer that
//! writes straight into a caller's buffer.
//!
//! With rtcp-mux (RFC 5761) RTCP shares the RTP port; its second byte is the RTCP packet type
//! 200-204 where RTP has marker + payload type, so [`Datagram::parse`] sorts those out first.

use crate::{PayloadType, RtpError, RtpTimestamp, SeqNo, Ssrc};

/// Length of the fixed RTP header (no CSRCs, no extension).
pub const RTP_HEADER_LEN: usize = 12;

/// RTCP packet types that can lead a compound packet (SR, RR, SDES, BYE, APP; RFC 5761 §4).
const RTCP_PACKET_TYPES: std::ops::RangeInclusive<u8> = 200..=204;

/// One received datagram, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// An RTP packet that passed every bounds check.
    Rtp(RtpPacket<'a>),
    /// An RTCP packet multiplexed on the RTP port; ivory does not interpret RTCP.
    Rtcp,
}

/// A validated RTP packet borrowing the datagram it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: PayloadType,
    pub sequence: SeqNo,
    pub timestamp: RtpTimestamp,
    pub ssrc: Ssrc,
    /// The payload without CSRCs, header extension and padding.
    pub payload: &'a [u8],
}

/// The header fields ivory sends (no CSRCs, no extension, no padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: PayloadType,
    pub sequence: SeqNo,
    pub timestamp: RtpTimestamp,
    pub ssrc: Ssrc,
}

impl<'a> Datagram<'a> {
    /// Classifies and validates a datagram: version 2, header length, CSRC list, extension and
    /// padding all within bounds. Never panics, whatever the bytes.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, RtpError> {
        if datagram.len() >= 2 && datagram[0] >> 6 == 2 && RTCP_PACKET_TYPES.contains(&datagram[1])
        {
            return Ok(Datagram::Rtcp);
        }
        RtpPacket::parse(datagram).map(Datagram::Rtp)
    }
}

impl<'a> RtpPacket<'a> {
    /// Parses an RTP packet (does not check for RTCP; see [`Datagram::parse`]).
    pub fn parse(datagram: &'a [u8]) -> Result<Self, RtpError> {
        use rtp_rs::RtpReaderError;
        let reader = rtp_rs::RtpReader::new(datagram).map_err(|error| match error {
            RtpReaderError::BufferTooShort(length) => RtpError::TooShort { length },
            RtpReaderError::UnsupportedVersion(version) => RtpError::UnsupportedVersion { version },
            RtpReaderError::HeadersTruncated {
                header_len,
                buffer_len,
            } => RtpError::HeadersTruncated {
                header_length: header_len,
                length: buffer_len,
            },
            RtpReaderError::PaddingLengthInvalid(padding) => RtpError::InvalidPadding { padding },
        })?;
        Ok(RtpPacket {
            marker: reader.mark(),
            payload_type: PayloadType::from_header_bits(reader.payload_type()),
            sequence: SeqNo(reader.sequence_number().into()),
            timestamp: RtpTimestamp(reader.timestamp()),
            ssrc: Ssrc(reader.ssrc()),
            payload: reader.payload(),
        })
    }
}

impl RtpHeader {
    /// Writes the 12-byte header at the start of `out`; returns the bytes written.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RtpError> {
        let Some(header) = out.get_mut(..RTP_HEADER_LEN) else {
            return Err(RtpError::BufferTooSmall {
                needed: RTP_HEADER_LEN,
                available: out.len(),
            });
        };
        header[0] = 2 << 6;
        header[1] = (u8::from(self.marker) << 7) | self.payload_type.value();
        header[2..4].copy_from_slice(&self.sequence.0.to_be_bytes());
        header[4..8].copy_from_slice(&self.timestamp.0.to_be_bytes());
        header[8..12].copy_from_slice(&self.ssrc.0.to_be_bytes());
        Ok(RTP_HEADER_LEN)
    }

    /// Writes the header followed by `payload` into `out`; returns the packet length.
    pub fn write_packet(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        let needed = RTP_HEADER_LEN + payload.len();
        let Some(packet) = out.get_mut(..needed) else {
            return Err(RtpError::BufferTooSmall {
                needed,
                available: out.len(),
            });
        };
        self.write(packet)?;
        packet[RTP_HEADER_LEN..].copy_from_slice(payload);
        Ok(needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RtpHeader {
        RtpHeader {
            marker: true,
            payload_type: PayloadType::new(101).expect("valid"),
            sequence: SeqNo(0xBEEF),
            timestamp: RtpTimestamp(0xDEAD_BEEF),
            ssrc: Ssrc(0x0102_0304),
        }
    }

    #[test]
    fn written_packet_parses_back() {
        let mut buffer = [0u8; 64];
        let length = header()
            .write_packet(&[1, 2, 3, 4], &mut buffer)
            .expect("fits");
        assert_eq!(length, 16);
        let Ok(Datagram::Rtp(packet)) = Datagram::parse(&buffer[..length]) else {
            panic!("not RTP");
        };
        assert!(packet.marker);
        assert_eq!(packet.payload_type.value(), 101);
        assert_eq!(packet.sequence, SeqNo(0xBEEF));
        assert_eq!(packet.timestamp, RtpTimestamp(0xDEAD_BEEF));
        assert_eq!(packet.ssrc, Ssrc(0x0102_0304));
        assert_eq!(packet.payload, &[1, 2, 3, 4]);
    }

    #[test]
    fn small_buffers_are_refused() {
        let mut buffer = [0u8; 11];
        assert_eq!(
            header().write(&mut buffer),
            Err(RtpError::BufferTooSmall {
                needed: 12,
                available: 11
            })
        );
        let mut buffer = [0u8; 13];
        assert!(header().write_packet(&[0, 0], &mut buffer).is_err());
    }

    #[test]
    fn rtcp_is_recognised() {
        // A minimal receiver report: V=2, RC=0, PT=201, length 1, SSRC.
        let report = [0x80, 201, 0, 1, 0, 0, 0, 1];
        assert_eq!(Datagram::parse(&report), Ok(Datagram::Rtcp));
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert_eq!(
            Datagram::parse(&[0x80; 5]),
            Err(RtpError::TooShort { length: 5 })
        );
        let mut packet = [0u8; 12];
        packet[0] = 1 << 6;
        assert_eq!(
            Datagram::parse(&packet),
            Err(RtpError::UnsupportedVersion { version: 1 })
        );
        // Two CSRCs announced, none present.
        packet[0] = 0x82;
        assert!(matches!(
            Datagram::parse(&packet),
            Err(RtpError::HeadersTruncated { .. })
        ));
        // Extension flag without extension header.
        packet[0] = 0x90;
        assert!(matches!(
            Datagram::parse(&packet),
            Err(RtpError::HeadersTruncated { .. })
        ));
        // Padding flag with a pad count larger than the payload.
        let mut padded = [0u8; 14];
        padded[0] = 0xA0;
        padded[13] = 9;
        assert_eq!(
            Datagram::parse(&padded),
            Err(RtpError::InvalidPadding { padding: 9 })
        );
    }

    #[test]
    fn csrcs_extension_and_padding_are_stripped() {
        let mut packet = vec![0x80 | 0x20 | 0x10 | 0x01, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1];
        packet.extend_from_slice(&[0xAA; 4]); // one CSRC
        packet.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0xCC, 0xCC, 0xCC, 0xCC]); // extension, 1 word
        packet.extend_from_slice(&[5, 6, 7]); // payload
        packet.extend_from_slice(&[0, 0, 3]); // padding of 3
        let Ok(Datagram::Rtp(parsed)) = Datagram::parse(&packet) else {
            panic!("not RTP");
        };
        assert_eq!(parsed.payload, &[5, 6, 7]);
        assert_eq!(parsed.sequence, SeqNo(7));
        assert_eq!(parsed.timestamp, RtpTimestamp(9));
    }
}
