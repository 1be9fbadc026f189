//! `capture` on a leg: listening on the media worker, recognising elsewhere, answering the run.
//!
//! 1. [`Leg::start_capture`]: the run's `Command::Capture` comes after the prompt before it has
//!    ended, so listening starts at once: the media slot's endpointer waits up to `timeout` for
//!    speech and ends the answer after `maxSilence` of silence ([`ivory_dsp::SpeechEndpointer`],
//!    the same voice-activity detector as `record`).
//! 2. The slot reports the utterance ([`TapOutcome::SpeechCaptured`]); nobody spoke → the run
//!    hears `""` at once; else the utterance goes to the configured recogniser
//!    ([`crate::asr`]) on another task.
//! 3. The transcript comes back as a completion and reaches the run as `SpeechRecognised`, unless
//!    the capture was superseded meanwhile (a digit won: the run sent `StopCapture`; or the
//!    call moved on), which the capture generation tells.

use std::time::Duration;

use ivory_dsp::{EndpointConfig, EndpointOutcome};
use ivory_scenario::Event;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::asr::{RecognisedSpeech, RecognitionRequest};
use crate::call_log::SpokenAnswer;
use crate::leg::{Completion, Leg};

/// The longest answer a `capture` keeps (longer speech is cut there and recognised).
const MAX_ANSWER: Duration = Duration::from_secs(30);

/// The `capture` the leg is listening or recognising for.
pub(crate) struct PendingCapture {
    pub generation: u64,
    request: RecognitionRequest,
}

/// A recognition finished on another task.
pub(crate) struct SpeechResult {
    pub generation: u64,
    pub result: Result<RecognisedSpeech, String>,
    pub audio_ms: u64,
    pub recognition_ms: u64,
}

impl Leg {
    /// Starts listening for a `capture`; without a recogniser the action fails at once.
    pub(crate) fn start_capture(
        &mut self,
        timeout: Duration,
        max_silence: Duration,
        request: RecognitionRequest,
    ) {
        if self.engine.speech.is_none() {
            self.fail_action("no speech recogniser is configured ([asr])");
            return;
        }
        self.capture_generation += 1;
        self.capture = Some(PendingCapture {
            generation: self.capture_generation,
            request,
        });
        self.media.start_capture(EndpointConfig {
            timeout,
            max_silence,
            max_utterance: MAX_ANSWER,
        });
    }

    /// The run no longer wants the answer (a digit won).
    pub(crate) fn stop_capture(&mut self) {
        if self.capture.take().is_some() {
            self.capture_generation += 1;
            self.media.stop_capture();
        }
    }

    /// The media slot stopped listening.
    pub(crate) fn on_speech_captured(&mut self, utterance: Vec<i16>, outcome: EndpointOutcome) {
        let Some(capture) = self.capture.as_ref() else {
            return;
        };
        let audio_ms = utterance.len() as u64 / 8;
        if outcome == EndpointOutcome::NoSpeech || utterance.is_empty() {
            info!("capture: no speech before the timeout");
            self.capture = None;
            self.answer_capture(&[], String::new(), None, (0, 0));
            return;
        }
        let Some(speech) = self.engine.speech.clone() else {
            return;
        };
        let generation = capture.generation;
        let request = capture.request.clone();
        let completions = self.completions_tx.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = speech
                .recognise(utterance, request)
                .await
                .map_err(|error| error.to_string());
            let recognition_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            completions
                .send(Completion::Speech(SpeechResult {
                    generation,
                    result,
                    audio_ms,
                    recognition_ms,
                }))
                .ok();
        });
    }

    /// A recognition finished.
    pub(crate) fn on_speech_result(&mut self, speech: SpeechResult) {
        let current = self
            .capture
            .as_ref()
            .is_some_and(|capture| capture.generation == speech.generation);
        // A result for a superseded capture leaves the current one waiting.
        if !current {
            return;
        }
        let Some(capture) = self.capture.take() else {
            return;
        };
        match speech.result {
            Ok(transcript) => {
                info!(
                    text = %transcript.text,
                    heard = ?transcript.key_phrases_heard,
                    recognition_ms = speech.recognition_ms,
                    "capture recognised"
                );
                self.answer_capture(
                    &capture.request.key_phrases,
                    transcript.text,
                    transcript.key_phrases_heard,
                    (speech.audio_ms, speech.recognition_ms),
                );
            }
            Err(reason) => {
                warn!(%reason, "speech recognition failed");
                self.fail_action(&reason);
            }
        }
    }

    /// Tells the run what was heard and logs it; `timing` is (answer length, recognition time)
    /// in milliseconds.
    fn answer_capture(
        &mut self,
        key_phrases: &[String],
        text: String,
        key_phrases_heard: Option<String>,
        (audio_ms, recognition_ms): (u64, u64),
    ) {
        let heard = key_phrases_heard.as_deref().unwrap_or(&text);
        let matched = ivory_scenario::matched_key_phrase(heard, key_phrases);
        self.record.speech.push(SpokenAnswer {
            text: text.clone(),
            matched,
            audio_ms,
            recognition_ms,
        });
        self.run.handle_event(
            Instant::now().into_std(),
            Event::SpeechRecognised {
                text,
                key_phrases_heard,
            },
        );
    }
}
