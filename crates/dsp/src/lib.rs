//! Pure audio for ivory: no sockets, no clock, no tasks.
//!
//! - [`g711`]: µ-law / A-law ([`Codec`]) sample and frame conversion.
//! - [`DtmfDigit`]: the sixteen DTMF digits, shared by the in-band detector and RFC 4733.
//! - [`inband`]: the Goertzel in-band DTMF detector ([`InbandDtmfDetector`], [`detect_digits`]).
//! - [`tone`]: DTMF tones, beeps and silence generators.
//! - [`decode`]: prompt files (WAV PCM/µ-law/A-law, MP3) decoded and resampled to 8 kHz mono.
//! - [`vad`]: energy-based voice activity detection ([`VoiceActivityDetector`]).
//! - [`amd`]: answering-machine detection in the style of Asterisk's AMD
//!   ([`AnsweringMachineDetector`]), with the end of a machine's greeting (its beep).
//! - [`recorder`]: the `record` action's stop rules ([`RecordingSession`]).
//! - [`speech_endpoint`]: where a spoken answer starts and ends, for `capture`
//!   ([`SpeechEndpointer`]), with the same detector as `record`'s `maxSilence`.
//! - [`wav_writer`]: recordings written as WAV files ([`WavFileWriter`]) — the crate's only I/O,
//!   because the container is part of the audio format; the engine decides where and when.
//!
//! Everything works on 8 kHz, 16-bit signed mono samples unless a name says otherwise. The
//! detectors are sans-IO: samples in (any chunking), decisions polled out, sample positions
//! instead of clock times.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod amd;
pub mod decode;
pub mod digit;
pub mod g711;
pub mod inband;
pub mod recorder;
pub mod speech_endpoint;
#[cfg(test)]
mod test_signals;
pub mod tone;
pub mod vad;
pub mod wav_writer;

pub use amd::{AmdConfig, AmdReason, AmdVerdict, AnsweringMachineDetector, GreetingEnd};
pub use digit::DtmfDigit;
pub use g711::Codec;
pub use inband::{DtmfDetection, InbandDtmfDetector, detect_digits};
pub use recorder::{RecordingOptions, RecordingSession, RecordingStop, RecordingStopReason};
pub use speech_endpoint::{EndpointConfig, EndpointOutcome, SpeechEndpointer};
pub use vad::{VadConfig, VadEvent, VoiceActivityDetector};
pub use wav_writer::{RecordingError, RecordingLayout, WavFileWriter};

/// The one sample rate of ivory's media path.
pub const SAMPLE_RATE_HZ: u32 = 8000;
/// Samples in one 20 ms frame at [`SAMPLE_RATE_HZ`].
pub const FRAME_SAMPLES: usize = 160;
