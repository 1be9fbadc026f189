//! Answering-machine detection from the speech pattern of the first seconds after answer, in the
//! style of Asterisk's `AMD()` (same parameters and defaults, see [`AmdConfig`]), plus a watch
//! for the end of a machine's greeting (its beep, or a long silence) so that a message is played
//! after the beep rather than into the greeting.
//!
//! Run loop: feed the answering party's 8 kHz audio with
//! [`AnsweringMachineDetector::push_samples`] (any chunking); drain
//! [`AnsweringMachineDetector::poll_verdict`] (one verdict per detector) and, after a machine
//! verdict, [`AnsweringMachineDetector::poll_greeting_end`] (at most one).
//!
//! How, per 20 ms frame: a frame whose mean absolute amplitude is below
//! [`AmdConfig::silence_threshold`] is silence, else voice. A *word* is a run of voice of at
//! least [`AmdConfig::minimum_word_length`] after at least [`AmdConfig::between_words_silence`]
//! of silence; the first word starts the greeting. The verdict is, whichever comes first:
//! - machine, [`AmdReason::InitialSilence`]: no word for [`AmdConfig::initial_silence`];
//! - machine, [`AmdReason::LongGreeting`]: the greeting's voice adds up to
//!   [`AmdConfig::greeting`] (people say "hello?", machines talk on);
//! - machine, [`AmdReason::MaximumWords`]: more than [`AmdConfig::maximum_number_of_words`] words;
//! - machine, [`AmdReason::MaximumWordLength`]: one word lasts [`AmdConfig::maximum_word_length`];
//! - human, [`AmdReason::AfterGreetingSilence`]: after the greeting began, silence lasts
//!   [`AmdConfig::after_greeting_silence`] (a person waits for an answer);
//! - machine, [`AmdReason::Beep`]: a beep (see below) was heard, e.g. after a short "leave a
//!   message" that would otherwise pass for a person;
//! - not sure, reported as human, [`AmdReason::TotalAnalysisTime`]: nothing decided within
//!   [`AmdConfig::total_analysis_time`].
//!
//! Greeting end (machines only): a *beep* is a frame run of at least [`BEEP_MINIMUM`] that holds
//! one pure tone between [`BEEP_LOWEST_HZ`] and [`BEEP_HIGHEST_HZ`] (the frequency measured by a
//! two-tap sinusoid predictor, its purity by a Hann-windowed Goertzel filter at that frequency
//! holding [`BEEP_MINIMUM_PURITY`] of the frame's energy, the frequency steady within
//! [`BEEP_FREQUENCY_TOLERANCE`] from frame to frame). Speech has several harmonics and a moving
//! pitch and fails these tests. The greeting ends where the beep ends, or, without a beep, where
//! voice stopped once [`AmdConfig::greeting_end_silence`] of silence followed.

use std::time::Duration;

use crate::{FRAME_SAMPLES, SAMPLE_RATE_HZ};

/// Shortest beep.
pub const BEEP_MINIMUM: Duration = Duration::from_millis(100);
/// Lowest beep frequency (voicemail beeps are 425 Hz and up; below, a high voice singing "ee"
/// is nearly a pure tone).
pub const BEEP_LOWEST_HZ: f32 = 400.0;
/// Highest beep frequency.
pub const BEEP_HIGHEST_HZ: f32 = 3000.0;
/// Share of a frame's (windowed) energy the beep's frequency must hold.
pub const BEEP_MINIMUM_PURITY: f32 = 0.95;
/// Largest relative change of the beep frequency between two frames.
pub const BEEP_FREQUENCY_TOLERANCE: f32 = 0.01;

const FRAME_MILLIS: u64 = FRAME_SAMPLES as u64 * 1000 / SAMPLE_RATE_HZ as u64;

/// The parameters, named and defaulted as in Asterisk's `amd.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmdConfig {
    /// Longest silence before the greeting: 2500 ms; longer means a machine.
    pub initial_silence: Duration,
    /// Longest greeting (its voice): 1500 ms; longer means a machine.
    pub greeting: Duration,
    /// Silence after the greeting that means a person waiting: 800 ms.
    pub after_greeting_silence: Duration,
    /// Time to decide in: 5000 ms; then "not sure", reported as a human.
    pub total_analysis_time: Duration,
    /// Shortest voice that is a word: 100 ms.
    pub minimum_word_length: Duration,
    /// Shortest silence that separates words: 50 ms.
    pub between_words_silence: Duration,
    /// More words than this means a machine: 3.
    pub maximum_number_of_words: u32,
    /// Mean absolute amplitude (0-32767) below which a frame is silence: 256.
    pub silence_threshold: u16,
    /// Longest single word: 5000 ms; longer means a machine.
    pub maximum_word_length: Duration,
    /// After a machine verdict, silence this long ends the greeting when no beep came: 1500 ms.
    pub greeting_end_silence: Duration,
}

impl Default for AmdConfig {
    fn default() -> Self {
        Self {
            initial_silence: Duration::from_millis(2500),
            greeting: Duration::from_millis(1500),
            after_greeting_silence: Duration::from_millis(800),
            total_analysis_time: Duration::from_millis(5000),
            minimum_word_length: Duration::from_millis(100),
            between_words_silence: Duration::from_millis(50),
            maximum_number_of_words: 3,
            silence_threshold: 256,
            maximum_word_length: Duration::from_millis(5000),
            greeting_end_silence: Duration::from_millis(1500),
        }
    }
}

/// Why the verdict was reached (Asterisk's `AMDCAUSE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AmdReason {
    InitialSilence,
    LongGreeting,
    MaximumWords,
    MaximumWordLength,
    AfterGreetingSilence,
    TotalAnalysisTime,
    /// A beep was heard before anything else decided (not in Asterisk: people do not beep).
    Beep,
}

/// The detector's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmdVerdict {
    /// An answering machine (or voicemail) answered.
    pub machine: bool,
    pub reason: AmdReason,
    /// Samples analysed when the decision was made.
    pub decided_at_sample: u64,
}

/// How a machine's greeting was seen to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GreetingEndCause {
    /// A beep ended.
    Beep,
    /// A long silence followed the last voice.
    Silence,
}

/// The end of a machine's greeting: record or play from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreetingEnd {
    pub cause: GreetingEndCause,
    /// Where the greeting ended: the end of the beep, or of the last voice.
    pub at_sample: u64,
    /// Samples analysed when this was decided.
    pub decided_at_sample: u64,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct AnsweringMachineDetector {
    config: AmdConfig,
    frame: [i16; FRAME_SAMPLES],
    filled: usize,
    analysed: u64,
    in_greeting: bool,
    in_word: bool,
    words: u32,
    silence_ms: u64,
    consecutive_voice_ms: u64,
    greeting_voice_ms: u64,
    /// End of the last frame of voice.
    last_voice_end: u64,
    verdict: Option<AmdVerdict>,
    verdict_polled: bool,
    greeting_end: Option<GreetingEnd>,
    greeting_end_polled: bool,
    beep: BeepTracker,
    /// A beep that ended with no word after it: the greeting's end if the verdict is machine.
    pending_beep_end: Option<u64>,
}

impl AnsweringMachineDetector {
    /// A detector at the moment of answer.
    pub fn new(config: AmdConfig) -> Self {
        Self {
            config,
            frame: [0; FRAME_SAMPLES],
            filled: 0,
            analysed: 0,
            in_greeting: false,
            in_word: false,
            words: 0,
            silence_ms: 0,
            consecutive_voice_ms: 0,
            greeting_voice_ms: 0,
            last_voice_end: 0,
            verdict: None,
            verdict_polled: false,
            greeting_end: None,
            greeting_end_polled: false,
            beep: BeepTracker::new(),
            pending_beep_end: None,
        }
    }

    /// Feeds the answering party's audio. Once the verdict is human, or the greeting end is
    /// known, further samples are ignored.
    pub fn push_samples(&mut self, samples: &[i16]) {
        let mut rest = samples;
        while !rest.is_empty() && !self.is_finished() {
            let take = (FRAME_SAMPLES - self.filled).min(rest.len());
            self.frame[self.filled..self.filled + take].copy_from_slice(&rest[..take]);
            self.filled += take;
            rest = &rest[take..];
            if self.filled == FRAME_SAMPLES {
                self.filled = 0;
                self.analyse_frame();
            }
        }
    }

    /// The verdict, once (then `None`).
    pub fn poll_verdict(&mut self) -> Option<AmdVerdict> {
        if self.verdict_polled {
            return None;
        }
        self.verdict_polled = self.verdict.is_some();
        self.verdict
    }

    /// The end of a machine's greeting, once (then `None`); never for a human.
    pub fn poll_greeting_end(&mut self) -> Option<GreetingEnd> {
        if self.greeting_end_polled {
            return None;
        }
        self.greeting_end_polled = self.greeting_end.is_some();
        self.greeting_end
    }

    /// The verdict, if reached (without consuming it).
    pub fn verdict(&self) -> Option<AmdVerdict> {
        self.verdict
    }

    /// Samples analysed so far (whole frames).
    pub fn samples_analysed(&self) -> u64 {
        self.analysed
    }

    fn is_finished(&self) -> bool {
        self.greeting_end.is_some() || self.verdict.is_some_and(|verdict| !verdict.machine)
    }

    fn analyse_frame(&mut self) {
        let magnitude = self
            .frame
            .iter()
            .map(|&sample| u64::from(sample.unsigned_abs()))
            .sum::<u64>()
            / FRAME_SAMPLES as u64;
        let voice = magnitude >= u64::from(self.config.silence_threshold);
        let frame_start = self.analysed;
        self.analysed += FRAME_SAMPLES as u64;
        if let Some(beep_end) = self.beep.push(&self.frame, voice, frame_start) {
            self.pending_beep_end = Some(beep_end);
        }
        if self.beep.is_active() {
            self.decide(true, AmdReason::Beep);
        }
        if voice {
            self.on_voice();
        } else {
            self.on_silence();
        }
        if self.verdict.is_none()
            && self.analysed * 1000 / u64::from(SAMPLE_RATE_HZ)
                >= millis(self.config.total_analysis_time)
        {
            self.decide(false, AmdReason::TotalAnalysisTime);
        }
        self.watch_greeting_end();
    }

    fn on_voice(&mut self) {
        let config = self.config;
        self.consecutive_voice_ms += FRAME_MILLIS;
        self.last_voice_end = self.analysed;
        if self.in_greeting {
            self.greeting_voice_ms += FRAME_MILLIS;
        }
        if self.consecutive_voice_ms < millis(config.minimum_word_length) {
            return;
        }
        // A real word (not a click): the silence, if any, is over.
        self.silence_ms = 0;
        if !self.in_word {
            // A new word after a beep: that beep did not end the greeting.
            self.pending_beep_end = self.pending_beep_end.filter(|_| self.beep.is_active());
            self.in_word = true;
            self.words += 1;
            if !self.in_greeting {
                self.in_greeting = true;
                self.greeting_voice_ms = self.consecutive_voice_ms;
            }
        }
        if self.words > config.maximum_number_of_words {
            self.decide(true, AmdReason::MaximumWords);
        } else if self.consecutive_voice_ms >= millis(config.maximum_word_length) {
            self.decide(true, AmdReason::MaximumWordLength);
        } else if self.greeting_voice_ms >= millis(config.greeting) {
            self.decide(true, AmdReason::LongGreeting);
        }
    }

    fn on_silence(&mut self) {
        let config = self.config;
        self.silence_ms += FRAME_MILLIS;
        if self.silence_ms >= millis(config.between_words_silence) {
            self.in_word = false;
            self.consecutive_voice_ms = 0;
        }
        if !self.in_greeting && self.silence_ms >= millis(config.initial_silence) {
            self.decide(true, AmdReason::InitialSilence);
        } else if self.in_greeting && self.silence_ms >= millis(config.after_greeting_silence) {
            self.decide(false, AmdReason::AfterGreetingSilence);
        }
    }

    fn decide(&mut self, machine: bool, reason: AmdReason) {
        if self.verdict.is_none() {
            self.verdict = Some(AmdVerdict {
                machine,
                reason,
                decided_at_sample: self.analysed,
            });
        }
    }

    fn watch_greeting_end(&mut self) {
        if self.greeting_end.is_some() || !self.verdict.is_some_and(|verdict| verdict.machine) {
            return;
        }
        if let Some(beep_end) = self.pending_beep_end {
            self.end_greeting(GreetingEndCause::Beep, beep_end);
        } else if !self.beep.is_active()
            && self.silence_ms >= millis(self.config.greeting_end_silence)
        {
            self.end_greeting(GreetingEndCause::Silence, self.last_voice_end);
        }
    }

    fn end_greeting(&mut self, cause: GreetingEndCause, at_sample: u64) {
        self.greeting_end = Some(GreetingEnd {
            cause,
            at_sample,
            decided_at_sample: self.analysed,
        });
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Finds pure tones held for [`BEEP_MINIMUM`]; see the module docs.
#[derive(Debug, Clone)]
struct BeepTracker {
    window: [f32; FRAME_SAMPLES],
    /// Frequency of the previous tonal frame and how many tonal frames in a row.
    previous_hz: f32,
    tonal_frames: u32,
    /// End of the last tonal frame.
    last_tonal_end: u64,
}

impl BeepTracker {
    fn new() -> Self {
        let mut window = [0.0; FRAME_SAMPLES];
        for (index, weight) in window.iter_mut().enumerate() {
            let phase = std::f32::consts::TAU * index as f32 / (FRAME_SAMPLES - 1) as f32;
            *weight = 0.5 - 0.5 * phase.cos();
        }
        Self {
            window,
            previous_hz: 0.0,
            tonal_frames: 0,
            last_tonal_end: 0,
        }
    }

    fn minimum_frames() -> u32 {
        BEEP_MINIMUM.as_millis().div_ceil(u128::from(FRAME_MILLIS)) as u32
    }

    /// Whether a beep long enough is going on.
    fn is_active(&self) -> bool {
        self.tonal_frames >= Self::minimum_frames()
    }

    /// Analyses one frame; returns where a beep ended when this frame ended one.
    fn push(&mut self, frame: &[i16; FRAME_SAMPLES], voice: bool, frame_start: u64) -> Option<u64> {
        let frequency = voice.then(|| self.pure_tone_hz(frame)).flatten();
        let steady = frequency.filter(|&hz| {
            self.tonal_frames == 0
                || (hz - self.previous_hz).abs() <= BEEP_FREQUENCY_TOLERANCE * self.previous_hz
        });
        match steady {
            Some(hz) => {
                self.tonal_frames += 1;
                self.previous_hz = hz;
                self.last_tonal_end = frame_start + FRAME_SAMPLES as u64;
                None
            }
            None => {
                let ended = self.is_active().then_some(self.last_tonal_end);
                // A different tone starts a new run at once.
                self.tonal_frames = u32::from(frequency.is_some());
                if let Some(hz) = frequency {
                    self.previous_hz = hz;
                    self.last_tonal_end = frame_start + FRAME_SAMPLES as u64;
                }
                ended
            }
        }
    }

    /// The frequency of the frame if it is one pure tone in the beep range.
    fn pure_tone_hz(&self, frame: &[i16; FRAME_SAMPLES]) -> Option<f32> {
        // A sinusoid obeys x[n] + x[n-2] = 2cos(w)·x[n-1]; least squares gives 2cos(w).
        let (mut cross, mut power) = (0.0f64, 0.0f64);
        for index in 2..FRAME_SAMPLES {
            let middle = f64::from(frame[index - 1]);
            cross += middle * (f64::from(frame[index]) + f64::from(frame[index - 2]));
            power += middle * middle;
        }
        if power <= 0.0 {
            return None;
        }
        let cosine = (cross / power / 2.0).clamp(-1.0, 1.0);
        let omega = cosine.acos();
        let hz = (omega * f64::from(SAMPLE_RATE_HZ) / std::f64::consts::TAU) as f32;
        if !(BEEP_LOWEST_HZ..=BEEP_HIGHEST_HZ).contains(&hz) {
            return None;
        }
        // Goertzel at that frequency over the Hann-windowed frame. For a pure tone the power
        // at its frequency is N/3 times the windowed energy (Hann: sum w = N/2, sum w² = 3N/8).
        let coefficient = 2.0 * cosine;
        let (mut previous, mut before) = (0.0f64, 0.0f64);
        let mut energy = 0.0f64;
        for (&sample, &weight) in frame.iter().zip(&self.window) {
            let value = f64::from(sample) * f64::from(weight);
            energy += value * value;
            let current = value + coefficient * previous - before;
            before = previous;
            previous = current;
        }
        let tone_power = previous * previous + before * before - coefficient * previous * before;
        let purity = tone_power / (energy * FRAME_SAMPLES as f64 / 3.0);
        (purity >= f64::from(BEEP_MINIMUM_PURITY)).then_some(hz)
    }
}

#[cfg(test)]
#[path = "amd_tests.rs"]
mod tests;
