//! Speech recognition for `capture`, offline: pocketsphinx with Debian's en-us model.
//!
//! - [`widen`]: 8 kHz telephone audio made fit for the 16 kHz model (upsampling, and faint noise
//!   in the empty 4–8 kHz band, without which accuracy halves).
//! - [`grammar`]: key phrases as a JSGF grammar with a phone-loop garbage path, so "yes I want
//!   more info" still matches "more info" and speech that holds no key phrase matches nothing.
//! - [`sphinx`]: [`PocketsphinxRecogniser`], one per recognising thread: the free transcript from
//!   the language model, and the key phrases heard from the grammar.
//!
//! Contract: [`PocketsphinxRecogniser::recognise`] takes one endpointed utterance (8 kHz, 16-bit
//! mono; the engine's voice-activity detector decided where it starts and ends) and returns a
//! [`Transcript`]. It blocks for a fraction of the utterance's length (about 0.05× real time for
//! the grammar, 0.4× for the free transcript on the 2-core machine), so callers run it off the
//! media path. It never panics: the `pocketsphinx` crate's assertions are caught and returned as
//! [`AsrError::Decoder`], and model files are checked before any decoder is created.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::path::PathBuf;

pub mod grammar;
pub mod labelled_set;
pub mod sphinx;
pub mod widen;

pub use sphinx::{
    DEBIAN_MODEL_DIRECTORY, GrammarTuning, ModelPaths, PocketsphinxRecogniser, load_dictionary,
};

/// What was recognised in one utterance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The free transcript, lowercase words ("" when nothing was recognised).
    pub text: String,
    /// With key phrases: the key phrases the grammar heard, in order, which is what they are
    /// matched against (rather than `text`, where a language model may miss them).
    pub key_phrases_heard: Option<String>,
}

/// Why recognition failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsrError {
    #[error(
        "the speech model file {path} is missing (install Debian's pocketsphinx-en-us, or set asr.model_dir)"
    )]
    MissingModel { path: PathBuf },
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("speech recognition failed: {0}")]
    Decoder(String),
}
