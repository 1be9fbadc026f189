//! [`WavFileWriter`]: recordings as 8 kHz 16-bit PCM WAV files, mono or stereo, written with
//! hound.
//!
//! This is the one piece of I/O in `ivory-dsp`, because the WAV container is part of the audio
//! format (like G.711 framing) rather than of the call: the engine decides where a recording goes
//! and when it starts and stops, this module only writes the bytes. It is blocking file I/O, so
//! the engine calls it off the async runtime (or from a dedicated writer task).
//!
//! Crash safety: a WAV header carries the data length, which is known only at the end. The writer
//! rewrites the header every [`HEADER_UPDATE_INTERVAL_FRAMES`] frames (hound's `flush`), so even
//! a killed process leaves a valid file missing at most the last second. Dropping the writer (a
//! caller hanging up mid-record, a task cancelled, an error path) finalises the file properly;
//! [`WavFileWriter::finalize`] does the same and reports errors.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::SAMPLE_RATE_HZ;

/// Sample frames between two header rewrites (1 s at 8 kHz).
pub const HEADER_UPDATE_INTERVAL_FRAMES: u64 = SAMPLE_RATE_HZ as u64;

/// Why a recording could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// Creating or writing the file failed.
    #[error("cannot write recording {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// hound's error (I/O errors inside).
        source: hound::Error,
    },
    /// Mono samples given to a stereo file or the other way round.
    #[error("recording {path} has {channels} channel(s); wrong write call")]
    ChannelMismatch {
        /// The file.
        path: PathBuf,
        /// Its channel count.
        channels: u16,
    },
}

/// Channel layout of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingLayout {
    /// One channel (the `record` action: the caller).
    Mono,
    /// Two channels: the caller on the left, ivory on the right (whole-call recording).
    Stereo,
}

impl RecordingLayout {
    fn channels(self) -> u16 {
        match self {
            RecordingLayout::Mono => 1,
            RecordingLayout::Stereo => 2,
        }
    }
}

/// Writes an 8 kHz 16-bit PCM WAV file; see the module docs.
pub struct WavFileWriter {
    path: PathBuf,
    layout: RecordingLayout,
    /// `None` once finalised.
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    frames_written: u64,
    frames_since_header: u64,
}

impl std::fmt::Debug for WavFileWriter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WavFileWriter")
            .field("path", &self.path)
            .field("layout", &self.layout)
            .field("frames_written", &self.frames_written)
            .finish_non_exhaustive()
    }
}

impl WavFileWriter {
    /// Creates (or truncates) `path` with a valid, empty WAV file.
    pub fn create(path: &Path, layout: RecordingLayout) -> Result<Self, RecordingError> {
        let spec = hound::WavSpec {
            channels: layout.channels(),
            sample_rate: SAMPLE_RATE_HZ,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer =
            hound::WavWriter::create(path, spec).map_err(|source| RecordingError::Write {
                path: path.to_owned(),
                source,
            })?;
        // Make the file valid at once, so even an empty recording plays.
        writer.flush().map_err(|source| RecordingError::Write {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            layout,
            writer: Some(writer),
            frames_written: 0,
            frames_since_header: 0,
        })
    }

    /// Appends mono samples (a [`RecordingLayout::Mono`] file only).
    pub fn write_mono(&mut self, samples: &[i16]) -> Result<(), RecordingError> {
        if self.layout != RecordingLayout::Mono {
            return Err(self.channel_mismatch());
        }
        self.write_interleaved(samples.len(), samples.iter().copied())
    }

    /// Appends one sample per channel and frame: `left` (the caller) and `right` (ivory) — a
    /// [`RecordingLayout::Stereo`] file only. The shorter side is padded with silence.
    pub fn write_stereo(&mut self, left: &[i16], right: &[i16]) -> Result<(), RecordingError> {
        if self.layout != RecordingLayout::Stereo {
            return Err(self.channel_mismatch());
        }
        let frames = left.len().max(right.len());
        let side = |samples: &[i16], index: usize| samples.get(index).copied().unwrap_or(0);
        let interleaved = (0..frames).flat_map(|index| [side(left, index), side(right, index)]);
        self.write_interleaved(frames, interleaved)
    }

    /// Rewrites the header and flushes, so the file on disk is valid and complete up to here.
    pub fn flush(&mut self) -> Result<(), RecordingError> {
        let path = &self.path;
        if let Some(writer) = self.writer.as_mut() {
            writer.flush().map_err(|source| RecordingError::Write {
                path: path.clone(),
                source,
            })?;
        }
        self.frames_since_header = 0;
        Ok(())
    }

    /// Completes the file (final header) and closes it; returns the frames written.
    pub fn finalize(mut self) -> Result<u64, RecordingError> {
        self.finish()?;
        Ok(self.frames_written)
    }

    /// Sample frames written (samples per channel).
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// Length of the audio written.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.frames_written * 1_000_000 / u64::from(SAMPLE_RATE_HZ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn layout(&self) -> RecordingLayout {
        self.layout
    }

    fn write_interleaved(
        &mut self,
        frames: usize,
        samples: impl Iterator<Item = i16>,
    ) -> Result<(), RecordingError> {
        let path = &self.path;
        let error = |source| RecordingError::Write {
            path: path.clone(),
            source,
        };
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        for sample in samples {
            writer.write_sample(sample).map_err(error)?;
        }
        self.frames_written += frames as u64;
        self.frames_since_header += frames as u64;
        if self.frames_since_header >= HEADER_UPDATE_INTERVAL_FRAMES {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), RecordingError> {
        match self.writer.take() {
            Some(writer) => writer.finalize().map_err(|source| RecordingError::Write {
                path: self.path.clone(),
                source,
            }),
            None => Ok(()),
        }
    }

    fn channel_mismatch(&self) -> RecordingError {
        RecordingError::ChannelMismatch {
            path: self.path.clone(),
            channels: self.layout.channels(),
        }
    }
}

impl Drop for WavFileWriter {
    fn drop(&mut self) {
        // Nothing can report an error from here; the header was valid as of the last flush.
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone;

    fn temporary(name: &str) -> PathBuf {
        let directory = std::env::temp_dir().join(format!("ivory-dsp-wav-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("temp dir");
        directory.join(name)
    }

    fn read(path: &Path) -> (hound::WavSpec, Vec<i16>) {
        let mut reader = hound::WavReader::open(path).expect("a valid WAV");
        let spec = reader.spec();
        let samples = reader
            .samples::<i16>()
            .collect::<Result<_, _>>()
            .expect("samples");
        (spec, samples)
    }

    #[test]
    fn mono_file_reads_back_exactly() {
        let path = temporary("mono.wav");
        let audio = tone::sine(440.0, 1500, -10.0);
        let mut writer = WavFileWriter::create(&path, RecordingLayout::Mono).unwrap();
        for chunk in audio.chunks(160) {
            writer.write_mono(chunk).unwrap();
        }
        assert_eq!(writer.duration(), Duration::from_millis(1500));
        assert_eq!(writer.finalize().unwrap(), 12_000);
        let (spec, samples) = read(&path);
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, 8000, 16)
        );
        assert_eq!(samples, audio);
    }

    #[test]
    fn stereo_puts_the_caller_left_and_pads_the_shorter_side() {
        let path = temporary("stereo.wav");
        let mut writer = WavFileWriter::create(&path, RecordingLayout::Stereo).unwrap();
        writer.write_stereo(&[1, 2, 3], &[-1, -2]).unwrap();
        assert!(writer.write_mono(&[5]).is_err());
        assert_eq!(writer.finalize().unwrap(), 3);
        let (spec, samples) = read(&path);
        assert_eq!(spec.channels, 2);
        assert_eq!(samples, vec![1, -1, 2, -2, 3, 0]);
    }

    #[test]
    fn a_writer_dropped_mid_recording_leaves_a_complete_file() {
        // The caller hangs up: the engine drops the writer without finalising.
        let path = temporary("dropped.wav");
        let mut writer = WavFileWriter::create(&path, RecordingLayout::Mono).unwrap();
        for _ in 0..137 {
            writer.write_mono(&[7; 160]).unwrap();
        }
        drop(writer);
        let (_, samples) = read(&path);
        assert_eq!(samples.len(), 137 * 160);
        assert!(samples.iter().all(|&sample| sample == 7));
    }

    #[test]
    fn the_header_is_valid_while_recording() {
        // A crash cannot be simulated in-process, but the file on disk must be readable at every
        // header update, with the length written so far.
        let path = temporary("live.wav");
        let mut writer = WavFileWriter::create(&path, RecordingLayout::Mono).unwrap();
        assert_eq!(read(&path).1.len(), 0);
        writer.write_mono(&vec![3; 8000 + 160]).unwrap();
        assert_eq!(read(&path).1.len(), 8160);
        writer.write_mono(&[3; 160]).unwrap();
        writer.flush().unwrap();
        assert_eq!(read(&path).1.len(), 8320);
        assert_eq!(writer.path(), path);
        assert_eq!(writer.layout(), RecordingLayout::Mono);
    }

    #[test]
    fn an_unwritable_path_is_an_error() {
        let path = temporary("no-such-directory").join("x.wav");
        assert!(matches!(
            WavFileWriter::create(&path, RecordingLayout::Mono),
            Err(RecordingError::Write { .. })
        ));
    }
}
