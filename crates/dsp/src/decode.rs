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
    let read_error = |source| DecodeError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size_bytes = std::fs::metadata(path).map_err(read_error)?.len();
    if size_bytes > MAX_FILE_BYTES {
        return Err(DecodeError::FileTooLarge {
            path: path.to_path_buf(),
            size_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    decode_audio(
        &bytes,
        path.extension().and_then(|extension| extension.to_str()),
    )
}

/// Decodes a whole audio file held in memory to 8 kHz mono. `extension_hint` (e.g. `"wav"`,
/// `"mp3"`, without the dot) helps the format probe; the content decides.
pub fn decode_audio(bytes: &[u8], extension_hint: Option<&str>) -> Result<Vec<i16>, DecodeError> {
    let (mono, sample_rate_hz) = decode_to_mono(bytes, extension_hint)?;
    if mono.is_empty() {
        return Err(DecodeError::Empty);
    }
    let resampled = if sample_rate_hz == SAMPLE_RATE_HZ {
        mono
    } else {
        resample(&mono, sample_rate_hz)?
    };
    if resampled.is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(resampled.into_iter().map(to_i16).collect())
}

/// Demuxes and decodes the default audio track, averaging channels; returns samples in
/// [-1, 1] and the sample rate.
fn decode_to_mono(
    bytes: &[u8],
    extension_hint: Option<&str>,
) -> Result<(Vec<f32>, u32), DecodeError> {
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(extension) = extension_hint {
        hint.with_extension(extension);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|source| DecodeError::UnrecognisedFormat { source })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or(DecodeError::NoAudioTrack)?;
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
            Err(SymphoniaError::IoError(error))
                if error.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                break;
            }
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
                    return Err(DecodeError::UnsupportedSampleRate {
                        sample_rate_hz: rate,
                    });
                }
                if channels == 0 {
                    return Err(DecodeError::NoChannels);
                }
                frame_limit =
                    usize::try_from(u64::from(rate) * MAX_DURATION_SECONDS).unwrap_or(usize::MAX);
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
    .map_err(|source| DecodeError::ResamplerSetup {
        sample_rate_hz,
        source,
    })?;
    // One channel of mono.len() frames is exactly the slice: this cannot fail.
    let input = InterleavedSlice::new(mono, 1, mono.len()).expect("one channel, length = frames");
    let output = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|source| DecodeError::Resample {
            sample_rate_hz,
            source,
        })?;
    // One channel: the interleaved data is the signal itself.
    Ok(output.take_data())
}

/// [-1, 1] float to i16 with the same scale symphonia uses for i16 -> f32 (x / 32768), so 16-bit
/// input survives exactly.
fn to_i16(sample: f32) -> i16 {
    (sample * 32768.0)
        .round()
        .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Codec, DtmfDigit, tone};

    const FORMAT_PCM: u16 = 1;
    const FORMAT_ALAW: u16 = 6;
    const FORMAT_MULAW: u16 = 7;

    /// A canonical RIFF/WAVE file: `fmt ` (with `cbSize` for non-PCM formats) and `data`.
    fn wav(
        format_tag: u16,
        channels: u16,
        sample_rate_hz: u32,
        bits_per_sample: u16,
        data: &[u8],
    ) -> Vec<u8> {
        let block_align = channels * bits_per_sample / 8;
        let mut format_chunk = Vec::new();
        format_chunk.extend(format_tag.to_le_bytes());
        format_chunk.extend(channels.to_le_bytes());
        format_chunk.extend(sample_rate_hz.to_le_bytes());
        format_chunk.extend((sample_rate_hz * u32::from(block_align)).to_le_bytes());
        format_chunk.extend(block_align.to_le_bytes());
        format_chunk.extend(bits_per_sample.to_le_bytes());
        if format_tag != FORMAT_PCM {
            format_chunk.extend(0u16.to_le_bytes());
        }
        let mut body = b"WAVE".to_vec();
        for (id, chunk) in [(b"fmt ", &format_chunk[..]), (b"data", data)] {
            body.extend(id);
            body.extend(u32::try_from(chunk.len()).unwrap().to_le_bytes());
            body.extend(chunk);
            if chunk.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut file = b"RIFF".to_vec();
        file.extend(u32::try_from(body.len()).unwrap().to_le_bytes());
        file.extend(body);
        file
    }

    fn pcm16(samples: &[i16]) -> Vec<u8> {
        samples
            .iter()
            .flat_map(|sample| sample.to_le_bytes())
            .collect()
    }

    /// A sine at any sample rate (tone::sine is 8 kHz only).
    fn sine_at(sample_rate_hz: u32, frequency_hz: f64, seconds: f64, peak: f64) -> Vec<i16> {
        let count = (f64::from(sample_rate_hz) * seconds) as usize;
        (0..count)
            .map(|index| {
                let phase =
                    std::f64::consts::TAU * frequency_hz * index as f64 / f64::from(sample_rate_hz);
                (peak * phase.sin()).round() as i16
            })
            .collect()
    }

    /// RMS amplitude at `frequency_hz` (8 kHz input), by direct correlation, over the middle of
    /// the signal to skip resampler edge effects.
    fn amplitude_at(samples: &[i16], frequency_hz: f64) -> f64 {
        let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
        let (mut re, mut im) = (0.0, 0.0);
        for (index, &sample) in middle.iter().enumerate() {
            let phase = std::f64::consts::TAU * frequency_hz * index as f64 / 8000.0;
            re += f64::from(sample) * phase.cos();
            im += f64::from(sample) * phase.sin();
        }
        2.0 * (re * re + im * im).sqrt() / middle.len() as f64
    }

    fn zero_crossings(samples: &[i16]) -> usize {
        samples
            .windows(2)
            .filter(|pair| (pair[0] < 0) != (pair[1] < 0))
            .count()
    }

    #[test]
    fn pcm16_at_8khz_mono_passes_through_exactly() {
        let samples = tone::dtmf_sequence("42", 100, 50, -3.0);
        let decoded =
            decode_audio(&wav(FORMAT_PCM, 1, 8000, 16, &pcm16(&samples)), Some("wav")).unwrap();
        assert_eq!(decoded, samples);
        // The content decides, not the hint.
        assert_eq!(
            decode_audio(&wav(FORMAT_PCM, 1, 8000, 16, &pcm16(&samples)), None).unwrap(),
            samples
        );
    }

    #[test]
    fn pcm16_at_22050_is_resampled_keeping_frequency_and_level() {
        let source = sine_at(22_050, 1000.0, 1.0, 10_000.0);
        let decoded = decode_audio(
            &wav(FORMAT_PCM, 1, 22_050, 16, &pcm16(&source)),
            Some("wav"),
        )
        .unwrap();
        assert!(
            (7990..=8010).contains(&decoded.len()),
            "length {}",
            decoded.len()
        );
        // 1 kHz: 2000 zero crossings per second.
        let crossings = zero_crossings(&decoded);
        assert!((1990..=2010).contains(&crossings), "{crossings} crossings");
        let amplitude = amplitude_at(&decoded, 1000.0);
        assert!(
            (9_800.0..=10_200.0).contains(&amplitude),
            "amplitude {amplitude}"
        );
    }

    #[test]
    fn stereo_at_44100_is_averaged_to_mono_and_band_limited() {
        // Left: 700 Hz at 8000 peak. Right: silence plus 6 kHz, which must not alias to 2 kHz.
        let left = sine_at(44_100, 700.0, 0.5, 8000.0);
        let right = sine_at(44_100, 6000.0, 0.5, 8000.0);
        let interleaved: Vec<i16> = left
            .iter()
            .zip(&right)
            .flat_map(|(&l, &r)| [l, r])
            .collect();
        let decoded = decode_audio(
            &wav(FORMAT_PCM, 2, 44_100, 16, &pcm16(&interleaved)),
            Some("wav"),
        )
        .unwrap();
        assert!(
            (3995..=4005).contains(&decoded.len()),
            "length {}",
            decoded.len()
        );
        let kept = amplitude_at(&decoded, 700.0);
        assert!(
            (3_900.0..=4_100.0).contains(&kept),
            "700 Hz amplitude {kept}"
        );
        let alias = amplitude_at(&decoded, 2000.0);
        assert!(
            alias < 40.0,
            "6 kHz aliased to 2 kHz with amplitude {alias}"
        );
    }

    #[test]
    fn mulaw_and_alaw_wav_decode_like_g711() {
        let samples = tone::dtmf(DtmfDigit::D9, 200, -10.0);
        for (codec, format_tag) in [(Codec::Pcmu, FORMAT_MULAW), (Codec::Pcma, FORMAT_ALAW)] {
            let encoded: Vec<u8> = samples
                .iter()
                .map(|&sample| codec.encode_sample(sample))
                .collect();
            let expected: Vec<i16> = encoded
                .iter()
                .map(|&byte| codec.decode_sample(byte))
                .collect();
            let decoded =
                decode_audio(&wav(format_tag, 1, 8000, 8, &encoded), Some("wav")).unwrap();
            assert_eq!(decoded, expected, "{codec:?}");
        }
    }

    #[test]
    fn dtmf_in_a_resampled_prompt_is_still_detected() {
        // "159#" at 16 kHz: each digit 80 ms on, 80 ms off.
        let mut source = Vec::new();
        for digit in "159#".chars().filter_map(DtmfDigit::from_char) {
            let (low, high) = digit.frequencies_hz();
            let low = sine_at(16_000, f64::from(low), 0.08, 7000.0);
            let high = sine_at(16_000, f64::from(high), 0.08, 7000.0);
            source.extend(low.iter().zip(&high).map(|(a, b)| a + b));
            source.extend(std::iter::repeat_n(0, 1280));
        }
        let decoded = decode_audio(
            &wav(FORMAT_PCM, 1, 16_000, 16, &pcm16(&source)),
            Some("wav"),
        )
        .unwrap();
        assert_eq!(crate::detect_digits(&decoded), "159#");
    }

    #[test]
    fn an_empty_data_chunk_is_an_error() {
        let result = decode_audio(&wav(FORMAT_PCM, 1, 8000, 16, &[]), Some("wav"));
        assert!(matches!(result, Err(DecodeError::Empty)), "{result:?}");
    }

    #[test]
    fn garbage_is_an_unrecognised_format() {
        let garbage: Vec<u8> = (0..4000u32)
            .map(|index| (index * 7919 % 251) as u8)
            .collect();
        for hint in [None, Some("wav"), Some("mp3")] {
            let result = decode_audio(&garbage, hint);
            assert!(
                matches!(
                    result,
                    Err(DecodeError::UnrecognisedFormat { .. } | DecodeError::Empty)
                ),
                "{hint:?}: {result:?}"
            );
        }
        assert!(matches!(
            decode_audio(&[], None),
            Err(DecodeError::UnrecognisedFormat { .. })
        ));
    }

    #[test]
    fn truncated_files_do_not_panic() {
        let file = wav(
            FORMAT_PCM,
            2,
            44_100,
            16,
            &pcm16(&sine_at(44_100, 440.0, 0.2, 5000.0)),
        );
        for length in (0..file.len()).step_by(97) {
            // Any outcome but a panic; a cut inside the data keeps what came before it.
            if let Ok(samples) = decode_audio(&file[..length], Some("wav")) {
                assert!(!samples.is_empty());
            }
        }
    }

    #[test]
    fn absurd_sample_rates_are_rejected() {
        let data = pcm16(&[0; 100]);
        let result = decode_audio(&wav(FORMAT_PCM, 1, 500, 16, &data), Some("wav"));
        assert!(
            matches!(
                result,
                Err(DecodeError::UnsupportedSampleRate {
                    sample_rate_hz: 500
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn decode_file_reads_and_reports_the_path() {
        let directory =
            std::env::temp_dir().join(format!("ivory-dsp-decode-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("prompt.wav");
        let samples = tone::beep();
        std::fs::write(&path, wav(FORMAT_PCM, 1, 8000, 16, &pcm16(&samples))).unwrap();
        assert_eq!(decode_file(&path).unwrap(), samples);

        let missing = directory.join("missing.wav");
        match decode_file(&missing) {
            Err(DecodeError::Read { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected a read error, got {other:?}"),
        }
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
