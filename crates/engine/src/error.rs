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
    /// A text-to-speech provider answered something that is not usable audio.
    #[error("text-to-speech {provider}: unusable audio: {source}")]
    TtsAudio {
        provider: String,
        #[source]
        source: ivory_dsp::decode::DecodeError,
    },
    /// A text-to-speech provider could not be reached or refused the request.
    #[error("text-to-speech {provider}: {reason}")]
    TtsProvider { provider: String, reason: String },
    /// Speech recognition failed (engine, service or recogniser threads).
    #[error("speech recognition: {0}")]
    Asr(String),
    #[error(transparent)]
    Sip(#[from] ivory_sip::SipError),
}
