//! The crate's one error type.

/// Errors from building or parsing RTP wire values.
///
/// [`crate::MediaSession`] never returns these for received datagrams: malformed input is dropped
/// (and never panics). They surface from the standalone parsers and builders in [`crate::packet`]
/// and [`crate::telephone_event`], and from [`crate::PayloadType::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// An RTP payload type has 7 bits.
    #[error("payload type {value} is out of range 0-127")]
    PayloadTypeOutOfRange { value: u8 },
    /// Shorter than the 12-byte fixed header.
    #[error("datagram of {length} bytes is shorter than the 12-byte RTP header")]
    TooShort { length: usize },
    /// Only RTP version 2 exists in practice.
    #[error("unsupported RTP version {version}")]
    UnsupportedVersion { version: u8 },
    /// CSRC list or header extension run past the end of the datagram.
    #[error("RTP headers need {header_length} bytes but the datagram has {length}")]
    HeadersTruncated { header_length: usize, length: usize },
    /// Padding count of zero or longer than the payload.
    #[error("invalid RTP padding length {padding}")]
    InvalidPadding { padding: u8 },
    /// An RFC 4733 event block is 4 bytes.
    #[error("telephone-event payload of {length} bytes is shorter than 4")]
    TelephoneEventTooShort { length: usize },
    /// [`crate::MediaSession::send_digit`] without a negotiated telephone-event payload type.
    #[error("no telephone-event payload type was negotiated")]
    TelephoneEventNotNegotiated,
    /// [`crate::MediaSession::send_digit`] with the digit queue full.
    #[error("{capacity} digits are already waiting to be sent")]
    DigitQueueFull { capacity: usize },
    /// An output buffer cannot hold what must be written.
    #[error("output buffer of {available} bytes cannot hold {needed}")]
    BufferTooSmall { needed: usize, available: usize },
}
