//! Prompt decoding: WAV (PCM 8/16/24/32-bit, float, µ-law, A-law, IMA/MS ADPCM) and MP3, to
//! 8 kHz mono `i16`.
//!
//! Channels are averaged to mono; any other sample rate is converted with rubato's synchronous
//! FFT resampler (band-limited, so a 44.1 kHz prompt does not alias into the phone band).
//! 8 kHz 16-bit mono PCM passes through bit-exact. A file that decodes to no samples at all is an
//! error ([`DecodeError::Empty`]): symphonia has been seen to return zero samples for a broken
//! VBR MP3 without complaining (symphonia issue #540).
//!
//! Limits (so a hostile or mistaken file cannot exhaust memory): [`MAX_FILE_BYTES`] on disk,
//! [`MAX_DURATION_SECONDS`] of audio, sample rates from [`MIN_SAMPLE_RATE_HZ`] to
//! [`MAX_SAMPLE_RATE_HZ`].

use std::io::Cursor;
use std::path::{Path, PathBuf};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::SAMPLE_RATE_HZ;

/// Largest file [`decode_file`] reads.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Longest audio decoded.
pub const MAX_DURATION_SECONDS: u64 = 30 * 60;
/// Lowest accepted source sample rate.
pub const MIN_SAMPLE_RATE_HZ: u32 = 1000;
/// Highest accepted source sample rate.
pub const MAX_SAMPLE_RATE_HZ: u32 = 384_000;

/// Why a prompt could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{path} is {size_bytes} bytes, more than the {MAX_FILE_BYTES} accepted")]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size_bytes: u64,
    },
    /// No enabled container format recognised the bytes.
    #[error("unrecognised audio format: {source}")]
    UnrecognisedFormat {
        /// Symphonia's reason.
        source: SymphoniaError,
    },
    /// The container holds no audio track.
    #[error("no audio track")]
    NoAudioTrack,
    /// The audio track carries no codec parameters.
    #[error("the audio track has no codec parameters")]
    MissingCodecParameters,
    /// The audio track's codec is not supported.
    #[error("unsupported codec: {source}")]
    UnsupportedCodec {
        /// Symphonia's reason.
        source: SymphoniaError,
    },
    /// The stream broke off in a way decoding cannot continue from.
    #[error("malformed audio stream: {source}")]
    Malformed {
        /// Symphonia's reason.
        source: SymphoniaError,
    },
    /// The sample rate is outside [`MIN_SAMPLE_RATE_HZ`]..=[`MAX_SAMPLE_RATE_HZ`].
    #[error("unsupported sample rate {sample_rate_hz} Hz")]
    UnsupportedSampleRate {
        /// The rate found.
        sample_rate_hz: u32,
    },
    /// The stream has no channels.
    #[error("the audio has no channels")]
    NoChannels,
    /// The sample rate or channel count changed in the middle of the stream.
    #[error("the audio format changed in the middle of the stream")]
    FormatChanged,
    /// More than [`MAX_DURATION_SECONDS`] of audio.
    #[error("the audio is longer than {MAX_DURATION_SECONDS} s")]
    TooLong,
    /// Decoding succeeded but produced no samples.
    #[error("the audio decoded to no samples")]
    Empty,
    /// The resampler could not be set up for this rate.
    #[error("cannot resample from {sample_rate_hz} Hz: {source}")]
    ResamplerSetup {
        /// The source rate.
        sample_rate_hz: u32,
        /// Rubato's reason.
        source: rubato::ResamplerConstructionError,
    },
    /// The resampler failed.
    #[error("resampling from {sample_rate_hz} Hz failed: {source}")]
    Resample {
        /// The source rate.
        sample_rate_hz: u32,
        /// Rubato's reason.
        source: rubato::ResampleError,
    },
}

/// Reads and decodes the file at `path`; its extension is the format hint.
pub fn decode_file(path: &Path) -> Result<Vec<i16>, DecodeError> {
    let read_error = |source| DecodeError::Read { path: path.to_path_buf(), source };
    let size_bytes = std::fs::metadata(path).map_err(read_error)?.len();
    if size_bytes > MAX_FILE_BYTES {
        return Err(DecodeError::FileTooLarge { path: path.to_path_buf(), size_bytes });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    decode_audio(&bytes, path.extension().and_then(|extension| extension.to_str()))
}

/// Decodes a whole audio file held in memory to 8 kHz mono. `extension_hint` (e.g. `"wav"`,
/// `"mp3"`, without the dot) helps the format probe; the content decides.
pub fn decode_audio(bytes: &[u8], extension_hint: Option<&str>) -> Result<Vec<i16>, DecodeError> {
    let (mono, sample_rate_hz) = decode_to_mono(bytes, extension_hint)?;
    if mono.is_empty() {
        return Err(DecodeError::Empty);
    }
    let resampled = if sample_rate_hz == SAMPLE_RATE_HZ { mono } else { resample(&mono, sample_rate_hz)? };
    if resampled.is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(resampled.into_iter().map(to_i16).collect())
}

/// Demuxes and decodes the default audio track, averaging channels; returns samples in
/// [-1, 1] and the sample rate.
fn decode_to_mono(bytes: &[u8], extension_hint: Option<&str>) -> Result<(Vec<f32>, u32), DecodeError> {
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(extension) = extension_hint {
        hint.with_extension(extension);
    }
    let mut format = symphonia::default::get_probe()
        .probe(&hint, source, FormatOptions::default(), MetadataOptions::default())
        .map_err(|source| DecodeError::UnrecognisedFormat { source })?;
    let track = format.default_track(TrackType::Audio).ok_or(DecodeError::NoAudioTrack)?;
    let track_id = track.id;
    let parameters = track
        .codec_params
        .as_ref()
        .and_then(|parameters| parameters.audio())
        .ok_or(DecodeError::MissingCodecParameters)?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(parameters, &AudioDecoderOptions::default())
        .map_err(|source| DecodeError::UnsupportedCodec { source })?;

    let mut mono = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut layout: Option<(u32, usize)> = None;
    let mut frame_limit = usize::MAX;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // A truncated file: keep what was decoded.
            Err(SymphoniaError::IoError(error)) if error.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(source) => return Err(DecodeError::Malformed { source }),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = match decoder.decode(&packet) {
            Ok(buffer) => buffer,
            // One corrupt packet (common in MP3 files): skip it, as players do.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(source) => return Err(DecodeError::Malformed { source }),
        };
        let spec = buffer.spec();
        let this_layout = (spec.rate(), spec.channels().count());
        match layout {
            None => {
                let (rate, channels) = this_layout;
                if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&rate) {
                    return Err(DecodeError::UnsupportedSampleRate { sample_rate_hz: rate });
                }
                if channels == 0 {
                    return Err(DecodeError::NoChannels);
                }
                frame_limit = usize::try_from(u64::from(rate) * MAX_DURATION_SECONDS).unwrap_or(usize::MAX);
                layout = Some(this_layout);
            }
            Some(known) if known != this_layout => return Err(DecodeError::FormatChanged),
            Some(_) => {}
        }
        let channels = this_layout.1;
        buffer.copy_to_vec_interleaved(&mut interleaved);
        mono.extend(
            interleaved
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
        if mono.len() > frame_limit {
            return Err(DecodeError::TooLong);
        }
    }
    let sample_rate_hz = layout.map_or(SAMPLE_RATE_HZ, |(rate, _)| rate);
    Ok((mono, sample_rate_hz))
}

fn resample(mono: &[f32], sample_rate_hz: u32) -> Result<Vec<f32>, DecodeError> {
    let mut resampler = Fft::<f32>::new(
        sample_rate_hz as usize,
        SAMPLE_RATE_HZ as usize,
        1024,
        1,
        FixedSync::Both,
    )
    .map_err(|source| DecodeError::ResamplerSetup { sample_rate_hz, source })?;
    // One channel of mono.len() frames is exactly the slice: this cannot fail.
    let input = InterleavedSlice::new(mono, 1, mono.len()).expect("one channel, length = frames");
    let output = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|source| DecodeError::Resample { sample_rate_hz, source })?;
    // One channel: the interleaved data is the signal itself.
    Ok(output.take_data())
}

/// [-1, 1] float to i16 with the same scale symphonia uses for i16 -> f32 (x / 32768), so 16-bit
/// input survives exactly.
fn to_i16(sample: f32) -> i16 {
    (sample * 32768.0).round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}
