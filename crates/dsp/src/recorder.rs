//! [`RecordingSession`]: the sans-IO half of the `record` action — which caller audio belongs in
//! the recording and when recording stops.
//!
//! Run loop: the engine starts a session when the beep (if any) has been played, then for every
//! 20 ms tick passes the caller's frame to [`RecordingSession::push_samples`] and writes what it
//! returns (a prefix of the frame, empty once stopped) to a [`crate::WavFileWriter`]. Digits go to
//! [`RecordingSession::handle_digit`]; a hang-up or any other end goes to
//! [`RecordingSession::stop`]. [`RecordingSession::poll_stop`] reports the end once.
//!
//! Stop rules (Infobip's `record` semantics):
//! - `max_duration`: the recording is cut at exactly that many samples;
//! - `max_silence`: it stops once the caller has been silent that long, by the
//!   [`crate::vad`] detector's measure (silence counts from the start too: a caller who says
//!   nothing is not recorded forever). The silence stays in the file, so its length is the time
//!   recorded;
//! - `escape_digits`: a digit of the set stops it (the digit itself is the engine's to keep);
//! - [`RecordingSession::stop`]: the caller hung up, or the engine ended it.

use std::time::Duration;

use crate::vad::{VadConfig, VoiceActivityDetector};
use crate::{DtmfDigit, SAMPLE_RATE_HZ};

/// What the `record` action asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingOptions {
    /// Longest recording.
    pub max_duration: Duration,
    /// Silence that ends the recording; `None` never ends it for silence.
    pub max_silence: Option<Duration>,
    /// Digits that end the recording.
    pub escape_digits: Vec<DtmfDigit>,
}

/// Why a recording stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingStopReason {
    /// `max_duration` reached.
    MaxDuration,
    /// `max_silence` of silence.
    MaxSilence,
    /// An escape digit was pressed.
    EscapeDigit(DtmfDigit),
    /// The caller hung up.
    HungUp,
    /// The engine stopped it (scenario ended, another action took over).
    Stopped,
}

/// The end of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingStop {
    pub reason: RecordingStopReason,
    /// Samples handed out for writing, i.e. the length of the file.
    pub recorded_samples: u64,
}

impl RecordingStop {
    /// The recording's length.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.recorded_samples * 1_000_000 / u64::from(SAMPLE_RATE_HZ))
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct RecordingSession {
    max_samples: u64,
    max_silence_samples: Option<u64>,
    /// Bit `event_code` set for each escape digit.
    escape_digits: u16,
    vad: VoiceActivityDetector,
    recorded: u64,
    stop: Option<RecordingStop>,
    stop_polled: bool,
}

impl RecordingSession {
    /// A session with the default voice-activity thresholds.
    pub fn new(options: &RecordingOptions) -> Self {
        Self::with_vad(options, VadConfig::default())
    }

    /// A session with specific voice-activity thresholds.
    pub fn with_vad(options: &RecordingOptions, vad: VadConfig) -> Self {
        let escape_digits = options
            .escape_digits
            .iter()
            .fold(0u16, |set, digit| set | 1 << digit.event_code());
        Self {
            max_samples: samples_in(options.max_duration),
            max_silence_samples: options.max_silence.map(samples_in),
            escape_digits,
            vad: VoiceActivityDetector::new(vad),
            recorded: 0,
            stop: None,
            stop_polled: false,
        }
    }

    /// Takes the caller's next samples and returns the part to write: all of them, the part
    /// before `max_duration`, or nothing once stopped. A stop is reported by [`Self::poll_stop`].
    pub fn push_samples<'a>(&mut self, samples: &'a [i16]) -> &'a [i16] {
        if self.stop.is_some() {
            return &[];
        }
        let room = self.max_samples - self.recorded;
        let keep = samples
            .len()
            .min(usize::try_from(room).unwrap_or(usize::MAX));
        let kept = &samples[..keep];
        self.recorded += keep as u64;
        self.vad.push_samples(kept);
        if self.recorded >= self.max_samples {
            self.finish(RecordingStopReason::MaxDuration);
        } else if self
            .max_silence_samples
            .is_some_and(|limit| self.vad.silence_samples() >= limit)
        {
            self.finish(RecordingStopReason::MaxSilence);
        }
        kept
    }

    /// A digit from the caller; stops the recording when it is an escape digit (returns whether
    /// it did).
    pub fn handle_digit(&mut self, digit: DtmfDigit) -> bool {
        let escape = self.escape_digits & (1 << digit.event_code()) != 0;
        if escape && self.stop.is_none() {
            self.finish(RecordingStopReason::EscapeDigit(digit));
            return true;
        }
        false
    }

    /// Ends the recording for `reason` (hang-up, or the engine's own stop) unless already over.
    pub fn stop(&mut self, reason: RecordingStopReason) {
        self.finish(reason);
    }

    /// The stop, once (then `None`).
    pub fn poll_stop(&mut self) -> Option<RecordingStop> {
        if self.stop_polled {
            return None;
        }
        self.stop_polled = self.stop.is_some();
        self.stop
    }

    /// Whether the recording is still going.
    pub fn is_recording(&self) -> bool {
        self.stop.is_none()
    }

    /// Samples handed out for writing so far.
    pub fn recorded_samples(&self) -> u64 {
        self.recorded
    }

    /// How long the caller has been silent (see [`crate::vad`]).
    pub fn silence_duration(&self) -> Duration {
        self.vad.silence_duration()
    }

    fn finish(&mut self, reason: RecordingStopReason) {
        if self.stop.is_none() {
            self.stop = Some(RecordingStop {
                reason,
                recorded_samples: self.recorded,
            });
        }
    }
}

fn samples_in(duration: Duration) -> u64 {
    let samples = duration.as_micros() * u128::from(SAMPLE_RATE_HZ) / 1_000_000;
    u64::try_from(samples).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_signals::speech;
    use crate::tone;

    fn options(max_seconds: u64, max_silence_ms: Option<u64>, escape: &str) -> RecordingOptions {
        RecordingOptions {
            max_duration: Duration::from_secs(max_seconds),
            max_silence: max_silence_ms.map(Duration::from_millis),
            escape_digits: escape.chars().filter_map(DtmfDigit::from_char).collect(),
        }
    }

    /// Feeds `audio` frame by frame; returns the samples to write.
    fn record(session: &mut RecordingSession, audio: &[i16]) -> Vec<i16> {
        let mut written = Vec::new();
        for frame in audio.chunks(160) {
            written.extend_from_slice(session.push_samples(frame));
        }
        written
    }

    #[test]
    fn max_duration_cuts_at_the_exact_sample() {
        let mut session = RecordingSession::new(&options(2, None, ""));
        let audio: Vec<i16> = (0..30_000).map(|index| (index % 1000) as i16).collect();
        // Odd chunks, so the limit falls inside one.
        let mut written = Vec::new();
        for chunk in audio.chunks(333) {
            written.extend_from_slice(session.push_samples(chunk));
        }
        assert_eq!(written, audio[..16_000]);
        let stop = session.poll_stop().expect("stopped");
        assert_eq!(stop.reason, RecordingStopReason::MaxDuration);
        assert_eq!(stop.duration(), Duration::from_secs(2));
        assert_eq!(session.poll_stop(), None);
        assert!(!session.is_recording());
    }

    #[test]
    fn max_silence_ends_after_that_much_silence_following_speech() {
        let mut session = RecordingSession::new(&options(60, Some(2000), ""));
        // Speech with pauses shorter than the limit, then silence.
        let mut audio = speech(&[(600, 900), (800, 1200), (500, 0)], -20.0);
        let speech_end = audio.len() as u64;
        audio.extend(tone::silence(5000));
        let written = record(&mut session, &audio);
        let stop = session.poll_stop().expect("stopped");
        assert_eq!(stop.reason, RecordingStopReason::MaxSilence);
        assert_eq!(stop.recorded_samples, written.len() as u64);
        let silence_ms = (stop.recorded_samples - speech_end) / 8;
        assert!((1980..=2040).contains(&silence_ms), "{silence_ms} ms");
        assert!(session.silence_duration() >= Duration::from_secs(2));
    }

    #[test]
    fn silence_from_the_start_counts() {
        let mut session = RecordingSession::new(&options(60, Some(3000), ""));
        let written = record(&mut session, &tone::white_noise(10_000, -55.0, 4));
        assert_eq!(written.len(), 3000 * 8);
        assert_eq!(
            session.poll_stop().map(|stop| stop.reason),
            Some(RecordingStopReason::MaxSilence)
        );
    }

    #[test]
    fn without_max_silence_a_silent_caller_is_recorded_to_the_limit() {
        let mut session = RecordingSession::new(&options(3, None, ""));
        let written = record(&mut session, &tone::silence(5000));
        assert_eq!(written.len(), 24_000);
        assert_eq!(
            session.poll_stop().map(|stop| stop.reason),
            Some(RecordingStopReason::MaxDuration)
        );
    }

    #[test]
    fn escape_digits_stop_and_others_do_not() {
        let mut session = RecordingSession::new(&options(60, None, "#*"));
        record(&mut session, &tone::silence(500));
        assert!(!session.handle_digit(DtmfDigit::D1));
        assert!(session.is_recording());
        assert!(session.handle_digit(DtmfDigit::Pound));
        assert!(!session.handle_digit(DtmfDigit::Star), "already stopped");
        let stop = session.poll_stop().expect("stopped");
        assert_eq!(
            stop,
            RecordingStop {
                reason: RecordingStopReason::EscapeDigit(DtmfDigit::Pound),
                recorded_samples: 4000,
            }
        );
        assert!(session.push_samples(&[1; 160]).is_empty());
    }

    #[test]
    fn hang_up_stops_with_what_was_recorded() {
        let mut session = RecordingSession::new(&options(60, Some(5000), "#"));
        record(&mut session, &speech(&[(700, 300)], -20.0));
        session.stop(RecordingStopReason::HungUp);
        session.stop(RecordingStopReason::Stopped);
        let stop = session.poll_stop().expect("stopped");
        assert_eq!(stop.reason, RecordingStopReason::HungUp);
        assert_eq!(stop.duration(), Duration::from_secs(1));
        assert_eq!(session.recorded_samples(), 8000);
    }
}
