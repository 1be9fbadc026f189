//! Endpointing a spoken answer: where, in the caller's audio after a `capture` began, the
//! utterance starts and ends, so that only it goes to the recogniser.
//!
//! The decisions come from the same [`crate::vad`] detector that ends `record` on `maxSilence`:
//! - Until speech starts, the last [`PRE_ROLL`] of audio is kept in a ring (the detector calls
//!   speech a few frames after it began, and recognisers want a little silence before the first
//!   word). If no speech starts within the configured timeout, the outcome is
//!   [`EndpointOutcome::NoSpeech`] and nothing is kept.
//! - Once speech started, everything is kept, pauses included, until the caller has been silent
//!   for `max_silence` (the end of the answer) or the utterance reached `max_utterance`.
//! - The utterance handed out ([`SpeechEndpointer::take_utterance`]) runs from [`PRE_ROLL`] before
//!   the first speech to [`TAIL`] after the last, so the long trailing silence that ended it is
//!   not decoded.
//!
//! Memory: the pre-roll ring is fixed; the utterance grows with the answer (at most
//! `max_utterance`, 960 KB at the 60 s cap): one buffer per capture, never one per frame.

use std::time::Duration;

use crate::SAMPLE_RATE_HZ;
use crate::vad::{VadConfig, VadEvent, VoiceActivityDetector};

/// Audio kept before the first speech.
pub const PRE_ROLL: Duration = Duration::from_millis(400);
/// Audio kept after the last speech.
pub const TAIL: Duration = Duration::from_millis(300);
/// The longest answer kept when the configuration says nothing: 30 s.
pub const DEFAULT_MAX_UTTERANCE: Duration = Duration::from_secs(30);

const PRE_ROLL_SAMPLES: usize = (SAMPLE_RATE_HZ as usize) * 400 / 1000;
const TAIL_SAMPLES: u64 = (SAMPLE_RATE_HZ as u64) * 300 / 1000;
/// The ring holds the pre-roll plus 200 ms: speech is reported a few frames (and up to one pushed
/// chunk) after it began, and the pre-roll counts back from where it began.
const RING_SAMPLES: usize = PRE_ROLL_SAMPLES + (SAMPLE_RATE_HZ as usize) / 5;

/// When an answer is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointConfig {
    /// How long to wait for speech to start.
    pub timeout: Duration,
    /// Silence after speech that ends the answer.
    pub max_silence: Duration,
    /// The longest answer; it is cut there.
    pub max_utterance: Duration,
}

/// How listening ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointOutcome {
    /// No speech within the timeout.
    NoSpeech,
    /// The caller spoke and then was silent for `max_silence`.
    Silence,
    /// The caller spoke for `max_utterance`.
    MaximumLength,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct SpeechEndpointer {
    vad: VoiceActivityDetector,
    timeout_samples: u64,
    max_silence_samples: u64,
    max_utterance_samples: u64,
    /// Samples pushed so far.
    position: u64,
    /// Before speech: the last samples, `ring_next` is the oldest once full.
    ring: Box<[i16; RING_SAMPLES]>,
    ring_next: usize,
    ring_filled: usize,
    /// After speech started: the kept audio, starting at sample `utterance_start`.
    utterance: Vec<i16>,
    utterance_start: u64,
    /// The end of the last speech heard (a sample index), once there was some.
    last_speech_end: Option<u64>,
    speaking: bool,
    outcome: Option<EndpointOutcome>,
}

impl SpeechEndpointer {
    /// An endpointer with the default voice-activity thresholds.
    pub fn new(config: EndpointConfig) -> Self {
        Self::with_vad(config, VadConfig::default())
    }

    /// An endpointer with the given voice-activity thresholds.
    pub fn with_vad(config: EndpointConfig, vad: VadConfig) -> Self {
        Self {
            vad: VoiceActivityDetector::new(vad),
            timeout_samples: samples_in(config.timeout),
            max_silence_samples: samples_in(config.max_silence).max(1),
            max_utterance_samples: samples_in(config.max_utterance).max(1),
            position: 0,
            ring: Box::new([0; RING_SAMPLES]),
            ring_next: 0,
            ring_filled: 0,
            utterance: Vec::new(),
            utterance_start: 0,
            last_speech_end: None,
            speaking: false,
            outcome: None,
        }
    }

    /// Feeds the caller's audio; returns the outcome once, when listening ends. Samples pushed
    /// after that are ignored.
    pub fn push_samples(&mut self, samples: &[i16]) -> Option<EndpointOutcome> {
        if self.outcome.is_some() {
            return None;
        }
        self.vad.push_samples(samples);
        if self.utterance_start_pending() {
            self.keep_in_ring(samples);
        } else {
            self.utterance.extend_from_slice(samples);
        }
        self.position += samples.len() as u64;
        while let Some(event) = self.vad.poll_event() {
            match event {
                VadEvent::SpeechStarted { at_sample } => {
                    if self.utterance_start_pending() {
                        self.start_utterance(at_sample);
                    }
                    self.speaking = true;
                }
                VadEvent::SpeechEnded { at_sample } => {
                    self.speaking = false;
                    self.last_speech_end = Some(at_sample);
                }
            }
        }
        self.outcome = self.decide();
        self.outcome
    }

    /// The outcome, once listening ended.
    pub fn outcome(&self) -> Option<EndpointOutcome> {
        self.outcome
    }

    /// The answer's audio (see the module docs); empty when there was no speech. Takes it: a
    /// second call returns nothing.
    pub fn take_utterance(&mut self) -> Vec<i16> {
        let mut utterance = std::mem::take(&mut self.utterance);
        if !self.speaking
            && let Some(end) = self.last_speech_end
        {
            let keep = end.saturating_add(TAIL_SAMPLES) - self.utterance_start.min(end);
            utterance.truncate(usize::try_from(keep).unwrap_or(usize::MAX));
        }
        utterance
    }

    fn utterance_start_pending(&self) -> bool {
        self.utterance.is_empty() && self.last_speech_end.is_none() && !self.speaking
    }

    fn keep_in_ring(&mut self, samples: &[i16]) {
        for &sample in samples.iter().rev().take(RING_SAMPLES).rev() {
            self.ring[self.ring_next] = sample;
            self.ring_next = (self.ring_next + 1) % RING_SAMPLES;
            self.ring_filled = (self.ring_filled + 1).min(RING_SAMPLES);
        }
    }

    /// Moves the ring's audio from `PRE_ROLL` before `speech_at` into the utterance.
    fn start_utterance(&mut self, speech_at: u64) {
        // The ring holds the samples up to `position` (advanced before events are handled).
        let ring_start = self.position - self.ring_filled as u64;
        let wanted_start = speech_at
            .saturating_sub(PRE_ROLL_SAMPLES as u64)
            .max(ring_start);
        let skip = usize::try_from(wanted_start - ring_start).unwrap_or(0);
        let oldest = (self.ring_next + RING_SAMPLES - self.ring_filled) % RING_SAMPLES;
        self.utterance.reserve(
            usize::try_from(self.max_utterance_samples)
                .unwrap_or(0)
                .min(5 * 8000),
        );
        for offset in skip..self.ring_filled {
            self.utterance
                .push(self.ring[(oldest + offset) % RING_SAMPLES]);
        }
        self.utterance_start = wanted_start;
        self.ring_filled = 0;
    }

    fn decide(&self) -> Option<EndpointOutcome> {
        let heard_speech = self.speaking || self.last_speech_end.is_some();
        if !heard_speech {
            return (self.position >= self.timeout_samples).then_some(EndpointOutcome::NoSpeech);
        }
        if self.utterance.len() as u64 >= self.max_utterance_samples {
            return Some(EndpointOutcome::MaximumLength);
        }
        let silent = !self.speaking && self.vad.silence_samples() >= self.max_silence_samples;
        silent.then_some(EndpointOutcome::Silence)
    }
}

fn samples_in(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis() * u128::from(SAMPLE_RATE_HZ) / 1000).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_signals;

    const FRAME: usize = 160;

    fn config(timeout_ms: u64, max_silence_ms: u64) -> EndpointConfig {
        EndpointConfig {
            timeout: Duration::from_millis(timeout_ms),
            max_silence: Duration::from_millis(max_silence_ms),
            max_utterance: DEFAULT_MAX_UTTERANCE,
        }
    }

    /// Pushes `audio` frame by frame; the outcome and the frame index it came at.
    fn run(endpointer: &mut SpeechEndpointer, audio: &[i16]) -> Option<(EndpointOutcome, usize)> {
        audio
            .chunks(FRAME)
            .enumerate()
            .find_map(|(index, frame)| endpointer.push_samples(frame).map(|o| (o, index)))
    }

    /// Word-like bursts (200 ms voiced, 60 ms apart: shorter than the detector's hangover, so
    /// one stretch of speech) for `ms`.
    fn talk(ms: usize) -> Vec<i16> {
        let pattern = vec![(200, 60); ms.div_ceil(260)];
        let mut samples = test_signals::speech(&pattern, -20.0);
        samples.truncate(ms * 8);
        samples
    }

    fn silence(ms: usize) -> Vec<i16> {
        vec![0; ms * 8]
    }

    #[test]
    fn silence_ends_with_no_speech_at_the_timeout_and_keeps_nothing() {
        let mut endpointer = SpeechEndpointer::new(config(3000, 1000));
        let outcome = run(&mut endpointer, &silence(5000));
        assert_eq!(outcome, Some((EndpointOutcome::NoSpeech, 3000 / 20 - 1)));
        assert!(endpointer.take_utterance().is_empty());
        assert_eq!(endpointer.push_samples(&silence(20)), None, "reported once");
    }

    #[test]
    fn an_answer_ends_after_max_silence_and_is_trimmed_around_the_speech() {
        let speech = talk(1200);
        let mut audio = silence(1000);
        audio.extend_from_slice(&speech);
        audio.extend(silence(3000));
        let mut endpointer = SpeechEndpointer::new(config(5000, 1000));
        let (outcome, frame) = run(&mut endpointer, &audio).expect("an outcome");
        assert_eq!(outcome, EndpointOutcome::Silence);
        // Speech ends at 2.2 s; the end is reported about max_silence later.
        let ended_ms = (frame + 1) * 20;
        assert!((3100..=3600).contains(&ended_ms), "ended at {ended_ms} ms");
        let utterance = endpointer.take_utterance();
        let length_ms = utterance.len() / 8;
        // Pre-roll 400 ms + 1200 ms of speech + 300 ms tail, give or take the detector's frames.
        assert!((1700..=2100).contains(&length_ms), "kept {length_ms} ms");
        let leading_quiet = utterance.iter().take_while(|&&s| s == 0).count() / 8;
        assert!(
            (300..=440).contains(&leading_quiet),
            "pre-roll {leading_quiet} ms"
        );
    }

    #[test]
    fn a_pause_shorter_than_max_silence_does_not_split_the_answer() {
        let mut audio = silence(500);
        audio.extend(talk(600));
        audio.extend(silence(700));
        audio.extend(talk(600));
        audio.extend(silence(2500));
        let mut endpointer = SpeechEndpointer::new(config(5000, 1500));
        let (outcome, _) = run(&mut endpointer, &audio).expect("an outcome");
        assert_eq!(outcome, EndpointOutcome::Silence);
        let length_ms = endpointer.take_utterance().len() / 8;
        assert!((2400..=2800).contains(&length_ms), "kept {length_ms} ms");
    }

    #[test]
    fn a_long_answer_is_cut_at_max_utterance() {
        let mut endpointer = SpeechEndpointer::new(EndpointConfig {
            max_utterance: Duration::from_secs(2),
            ..config(5000, 1000)
        });
        let mut audio = silence(200);
        audio.extend(talk(6000));
        let (outcome, _) = run(&mut endpointer, &audio).expect("an outcome");
        assert_eq!(outcome, EndpointOutcome::MaximumLength);
        let length_ms = endpointer.take_utterance().len() / 8;
        assert!((2000..=2040).contains(&length_ms), "kept {length_ms} ms");
    }

    #[test]
    fn speech_right_at_the_start_keeps_what_there_is_before_it() {
        let mut audio = talk(800);
        audio.extend(silence(2000));
        let mut endpointer = SpeechEndpointer::new(config(5000, 1000));
        let (outcome, _) = run(&mut endpointer, &audio).expect("an outcome");
        assert_eq!(outcome, EndpointOutcome::Silence);
        let utterance = endpointer.take_utterance();
        assert!(
            utterance[..160] == audio[..160],
            "starts with the first sample"
        );
    }

    #[test]
    fn odd_chunk_sizes_give_the_same_answer() {
        let mut audio = silence(700);
        audio.extend(talk(900));
        audio.extend(silence(2000));
        let mut by_frame = SpeechEndpointer::new(config(5000, 1000));
        run(&mut by_frame, &audio);
        let mut by_odd = SpeechEndpointer::new(config(5000, 1000));
        for chunk in audio.chunks(77) {
            if by_odd.push_samples(chunk).is_some() {
                break;
            }
        }
        assert_eq!(by_frame.outcome(), by_odd.outcome());
        let (a, b) = (by_frame.take_utterance(), by_odd.take_utterance());
        assert!(
            a.len().abs_diff(b.len()) <= 160,
            "{} vs {}",
            a.len(),
            b.len()
        );
        let common = a.len().min(b.len());
        assert!(a[..common] == b[..common], "the same audio");
    }
}
