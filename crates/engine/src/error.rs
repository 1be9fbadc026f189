//! The engine's error type.

use std::path::PathBuf;

/// What can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("RTP port range {first}-{last} holds no even/odd port pair")]
    PortRange { first: u16, last: u16 },
    #[error("no free RTP port pair in the configured range")]
    NoFreePorts,
    #[error("call log {path}")]
    CallLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("prompt {source_name}: {reason}")]
    Prompt { source_name: String, reason: String },
    #[error("recordings {path}")]
    Recordings {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("text-to-speech: {0}")]
    Tts(String),
    #[error(transparent)]
    Sip(#[from] ivory_sip::SipError),
}
