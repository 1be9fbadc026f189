//! Pure audio for ivory: no sockets, no clock, no tasks.
//!
//! - [`g711`]: µ-law / A-law ([`Codec`]) sample and frame conversion.
//! - [`DtmfDigit`]: the sixteen DTMF digits, shared by the in-band detector and RFC 4733.
//! - [`inband`]: the Goertzel in-band DTMF detector ([`InbandDtmfDetector`], [`detect_digits`]).
//! - [`tone`]: DTMF tones, beeps and silence generators.
//! - [`decode`]: prompt files (WAV PCM/µ-law/A-law, MP3) decoded and resampled to 8 kHz mono.
//!
//! Everything works on 8 kHz, 16-bit signed mono samples unless a name says otherwise.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod decode;
pub mod digit;
pub mod g711;
pub mod inband;
pub mod tone;

pub use digit::DtmfDigit;
pub use g711::Codec;
pub use inband::{DtmfDetection, InbandDtmfDetector, detect_digits};

/// The one sample rate of ivory's media path.
pub const SAMPLE_RATE_HZ: u32 = 8000;
/// Samples in one 20 ms frame at [`SAMPLE_RATE_HZ`].
pub const FRAME_SAMPLES: usize = 160;
