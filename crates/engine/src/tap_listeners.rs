//! What listens to a call's audio through the media session's recording tap: the `record` action,
//! `capture`'s speech endpointing, answering-machine detection, and the whole-call (stereo)
//! recording.
//!
//! The listeners live in the call's media slot on a media worker ([`crate::media_worker`]), next to
//! the tapped audio: every tick the worker hands each 20 ms frame pair here, without copying it
//! anywhere else; outcomes (a recording that stopped, a machine verdict) go back to the leg as
//! notices, which it turns into scenario events.
//!
//! Files are opened by the leg, on its own task ([`RecordingRequest::create`],
//! [`WavFileWriter::create`]), so a slow disk delays a `record` action, never a media tick. What
//! runs on the worker are small buffered appends (hound's `BufWriter`: about one `write` of 8 KiB
//! per 0.5 s of mono audio) and the header rewrite when a recording ends; both are cheap next to a
//! tick, and handing them to another thread would cost a copy and an allocation per frame.

use std::path::Path;
use std::time::Duration;

use ivory_dsp::{
    AmdConfig, AnsweringMachineDetector, DtmfDigit, EndpointConfig, EndpointOutcome,
    RecordingLayout, RecordingOptions, RecordingSession, RecordingStopReason, SpeechEndpointer,
    WavFileWriter,
};
use tracing::warn;

/// A `record` action in progress.
pub(crate) struct ActiveRecording {
    pub identifier: String,
    pub file: String,
    session: RecordingSession,
    writer: Option<WavFileWriter>,
}

/// A `record` action ready to start: its file is already open.
pub(crate) struct RecordingRequest {
    identifier: String,
    file: String,
    options: RecordingOptions,
    writer: WavFileWriter,
}

impl RecordingRequest {
    /// Opens the WAV file at `path` (on the caller's thread) for a recording named `identifier`,
    /// listed as `file`.
    pub fn create(
        identifier: String,
        file: String,
        path: &Path,
        max_duration: Option<Duration>,
        max_silence: Option<Duration>,
        escape_digits: &str,
    ) -> Result<Self, String> {
        let writer =
            WavFileWriter::create(path, RecordingLayout::Mono).map_err(|e| e.to_string())?;
        let options = RecordingOptions {
            // Without a maximum, the caller's hang-up or silence ends it; cap at an hour regardless.
            max_duration: max_duration.unwrap_or(Duration::from_secs(3600)),
            max_silence,
            escape_digits: escape_digits
                .chars()
                .filter_map(DtmfDigit::from_char)
                .collect(),
        };
        Ok(Self {
            identifier,
            file,
            options,
            writer,
        })
    }
}

/// Answering-machine detection in progress.
struct ActiveDetection {
    detector: AnsweringMachineDetector,
    /// A machine was detected; waiting for the end of its greeting before reporting.
    machine_found: bool,
    started_samples: u64,
}

/// The longest a machine's greeting is waited for after the verdict.
const GREETING_WAIT_SAMPLES: u64 = 20 * 8000;

/// Something the leg must act on.
#[derive(Debug, PartialEq)]
pub(crate) enum TapOutcome {
    RecordingStopped {
        identifier: String,
        file: String,
        duration_ms: u64,
        reason: String,
    },
    RecordingFailed {
        reason: String,
    },
    Machine {
        machine: bool,
    },
    /// A `capture` stopped listening: the caller's answer (empty when nobody spoke).
    SpeechCaptured {
        utterance: Vec<i16>,
        outcome: EndpointOutcome,
    },
}

#[derive(Default)]
pub(crate) struct TapListeners {
    recording: Option<ActiveRecording>,
    detection: Option<ActiveDetection>,
    capture: Option<SpeechEndpointer>,
    whole_call: Option<WavFileWriter>,
    outcomes: Vec<TapOutcome>,
}

impl TapListeners {
    /// True while anything needs the tap.
    pub fn wants_audio(&self) -> bool {
        self.recording.is_some()
            || self.detection.is_some()
            || self.capture.is_some()
            || self.whole_call.is_some()
    }

    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Starts a `record` action (replacing one in progress, which is closed and reported).
    pub fn start_recording(&mut self, request: RecordingRequest) {
        if let Some(recording) = self.recording.as_mut() {
            recording.session.stop(RecordingStopReason::Stopped);
            self.collect_stops();
        }
        let RecordingRequest {
            identifier,
            file,
            options,
            writer,
        } = request;
        self.recording = Some(ActiveRecording {
            identifier,
            file,
            session: RecordingSession::new(&options),
            writer: Some(writer),
        });
    }

    /// Opens the whole-call stereo recording's file (caller left, ivory right), on the caller's
    /// thread.
    pub fn create_whole_call(path: &Path) -> Result<WavFileWriter, String> {
        WavFileWriter::create(path, RecordingLayout::Stereo).map_err(|e| e.to_string())
    }

    /// Starts the whole-call recording into a writer from [`Self::create_whole_call`].
    pub fn start_whole_call(&mut self, writer: WavFileWriter) {
        self.whole_call = Some(writer);
    }

    /// Starts listening for a spoken answer (replacing a capture in progress, which is dropped
    /// without an outcome: the leg only waits for the latest).
    pub fn start_capture(&mut self, config: EndpointConfig) {
        self.capture = Some(SpeechEndpointer::new(config));
    }

    /// Stops listening without an outcome (DTMF won, or the scenario moved on).
    pub fn stop_capture(&mut self) {
        self.capture = None;
    }

    /// Starts answering-machine detection.
    pub fn start_detection(&mut self) {
        self.detection = Some(ActiveDetection {
            detector: AnsweringMachineDetector::new(AmdConfig::default()),
            machine_found: false,
            started_samples: 0,
        });
    }

    /// A digit the caller pressed: true when it ended a recording (an escape digit).
    pub fn on_digit(&mut self, digit: char) -> bool {
        let (Some(recording), Some(digit)) = (self.recording.as_mut(), DtmfDigit::from_char(digit))
        else {
            return false;
        };
        let stopped = recording.session.handle_digit(digit);
        self.collect_stops();
        stopped
    }

    /// One 20 ms frame pair from the tap.
    pub fn on_frame(&mut self, caller: &[i16], ivory: &[i16]) {
        if let Some(writer) = self.whole_call.as_mut()
            && let Err(error) = writer.write_stereo(caller, ivory)
        {
            warn!(%error, "whole-call recording failed; stopping it");
            self.whole_call = None;
        }
        if let Some(recording) = self.recording.as_mut() {
            let keep = recording.session.push_samples(caller);
            if let Some(writer) = recording.writer.as_mut()
                && !keep.is_empty()
                && let Err(error) = writer.write_mono(keep)
            {
                self.outcomes.push(TapOutcome::RecordingFailed {
                    reason: error.to_string(),
                });
                self.recording = None;
            }
            self.collect_stops();
        }
        if let Some(capture) = self.capture.as_mut()
            && let Some(outcome) = capture.push_samples(caller)
        {
            let utterance = capture.take_utterance();
            self.outcomes
                .push(TapOutcome::SpeechCaptured { utterance, outcome });
            self.capture = None;
        }
        if let Some(detection) = self.detection.as_mut() {
            detection.detector.push_samples(caller);
            detection.started_samples += caller.len() as u64;
            if !detection.machine_found
                && let Some(verdict) = detection.detector.poll_verdict()
            {
                if verdict.machine {
                    detection.machine_found = true;
                } else {
                    self.outcomes.push(TapOutcome::Machine { machine: false });
                    self.detection = None;
                    return;
                }
            }
            if let Some(detection) = self.detection.as_mut()
                && detection.machine_found
                && (detection.detector.poll_greeting_end().is_some()
                    || detection.started_samples > GREETING_WAIT_SAMPLES)
            {
                self.outcomes.push(TapOutcome::Machine { machine: true });
                self.detection = None;
            }
        }
    }

    /// The caller hung up or the call ends: close every file properly (nothing is lost).
    pub fn close_all(&mut self) {
        if let Some(recording) = self.recording.as_mut() {
            recording.session.stop(RecordingStopReason::HungUp);
        }
        self.collect_stops();
        self.detection = None;
        self.capture = None;
        if let Some(writer) = self.whole_call.take()
            && let Err(error) = writer.finalize()
        {
            warn!(%error, "cannot finalise the whole-call recording");
        }
    }

    /// Takes the outcomes gathered so far, oldest first (no allocation when there are none).
    pub fn drain_outcomes(&mut self) -> std::vec::Drain<'_, TapOutcome> {
        self.outcomes.drain(..)
    }

    fn collect_stops(&mut self) {
        let Some(recording) = self.recording.as_mut() else {
            return;
        };
        let Some(stop) = recording.session.poll_stop() else {
            return;
        };
        let mut finished = self.recording.take().expect("checked just above");
        let outcome = match finished.writer.take().map(WavFileWriter::finalize) {
            Some(Err(error)) => TapOutcome::RecordingFailed {
                reason: error.to_string(),
            },
            _ => TapOutcome::RecordingStopped {
                identifier: finished.identifier,
                file: finished.file,
                duration_ms: u64::try_from(stop.duration().as_millis()).unwrap_or(u64::MAX),
                reason: format!("{:?}", stop.reason),
            },
        };
        self.outcomes.push(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_ends_on_an_escape_digit_and_the_file_reads_back() {
        let dir = std::env::temp_dir().join(format!("ivory-tap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("r.wav");
        let mut listeners = TapListeners::default();
        let request = RecordingRequest::create(
            "id1".into(),
            "r.wav".into(),
            &path,
            Some(Duration::from_secs(10)),
            None,
            "#",
        )
        .expect("start");
        listeners.start_recording(request);
        let tone = ivory_dsp::tone::sine(440.0, 20, -10.0);
        for _ in 0..50 {
            listeners.on_frame(&tone, &[0; 160]);
        }
        assert!(!listeners.on_digit('1'), "1 is not an escape digit");
        assert!(listeners.on_digit('#'));
        let outcomes: Vec<_> = listeners.drain_outcomes().collect();
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        match &outcomes[0] {
            TapOutcome::RecordingStopped {
                identifier,
                duration_ms,
                ..
            } => {
                assert_eq!(identifier, "id1");
                assert_eq!(*duration_ms, 1000);
            }
            other => panic!("unexpected {other:?}"),
        }
        let samples = ivory_dsp::decode::decode_file(&path).expect("readable WAV");
        assert_eq!(samples.len(), 8000);
        assert!(!listeners.wants_audio());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_capture_reports_the_answer_once_the_caller_is_silent() {
        let mut listeners = TapListeners::default();
        listeners.start_capture(EndpointConfig {
            timeout: Duration::from_secs(5),
            max_silence: Duration::from_millis(800),
            max_utterance: Duration::from_secs(30),
        });
        assert!(listeners.wants_audio());
        let quiet = vec![0i16; 160];
        let voice = ivory_dsp::tone::sine(300.0, 20, -15.0);
        let frames = std::iter::repeat_n(&quiet, 25)
            .chain(std::iter::repeat_n(&voice, 40))
            .chain(std::iter::repeat_n(&quiet, 60));
        let mut reported_at = None;
        for (index, frame) in frames.enumerate() {
            listeners.on_frame(frame.as_slice(), &quiet);
            if reported_at.is_none() && listeners.outcomes.len() == 1 {
                reported_at = Some(index);
            }
        }
        let outcomes: Vec<_> = listeners.drain_outcomes().collect();
        let [TapOutcome::SpeechCaptured { utterance, outcome }] = outcomes.as_slice() else {
            panic!("one capture outcome, got {outcomes:?}");
        };
        assert_eq!(*outcome, EndpointOutcome::Silence);
        // 800 ms of speech, 400 ms before it and 300 ms after it.
        assert!(
            (1400..=1600).contains(&(utterance.len() / 8)),
            "{}",
            utterance.len()
        );
        // Speech ended at frame 65; max_silence is 40 frames.
        let at = reported_at.expect("reported");
        assert!((100..=110).contains(&at), "reported at frame {at}");
        assert!(!listeners.wants_audio());
    }

    #[test]
    fn a_stopped_capture_reports_nothing() {
        let mut listeners = TapListeners::default();
        listeners.start_capture(EndpointConfig {
            timeout: Duration::from_millis(200),
            max_silence: Duration::from_secs(1),
            max_utterance: Duration::from_secs(30),
        });
        listeners.stop_capture();
        for _ in 0..20 {
            listeners.on_frame(&[0; 160], &[0; 160]);
        }
        assert_eq!(listeners.drain_outcomes().count(), 0);
    }

    #[test]
    fn hanging_up_mid_recording_keeps_the_file() {
        let dir = std::env::temp_dir().join(format!("ivory-tap-hangup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("h.wav");
        let mut listeners = TapListeners::default();
        let request = RecordingRequest::create("h".into(), "h.wav".into(), &path, None, None, "")
            .expect("start");
        listeners.start_recording(request);
        let tone = ivory_dsp::tone::sine(300.0, 20, -10.0);
        for _ in 0..25 {
            listeners.on_frame(&tone, &[0; 160]);
        }
        listeners.close_all();
        let outcomes: Vec<_> = listeners.drain_outcomes().collect();
        assert!(
            matches!(
                &outcomes[..],
                [TapOutcome::RecordingStopped {
                    duration_ms: 500,
                    ..
                }]
            ),
            "{outcomes:?}"
        );
        assert_eq!(
            ivory_dsp::decode::decode_file(&path)
                .expect("readable")
                .len(),
            4000
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
