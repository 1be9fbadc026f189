//! The sip crate's error type.

use std::net::SocketAddr;

/// Everything that can go wrong in ivory's SIP layer.
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    /// A listener could not be bound.
    #[error("cannot listen on {transport} {address}")]
    Bind {
        transport: &'static str,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// rsipstack refused an operation on a dialog or transaction.
    #[error("SIP stack: {0}")]
    Stack(Box<rsipstack::Error>),
    /// The dialog has ended, so the operation has no call to act on.
    #[error("the call's dialog has ended")]
    DialogGone,
    /// An outbound call's target (or the From/Contact built for it) is not a valid SIP URI.
    #[error("cannot call {target:?}: {reason}")]
    InvalidTarget { target: String, reason: String },
}

impl From<rsipstack::Error> for SipError {
    fn from(error: rsipstack::Error) -> Self {
        SipError::Stack(Box::new(error))
    }
}
