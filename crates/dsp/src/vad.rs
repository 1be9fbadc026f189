//! Energy-based voice activity detection with an adaptive noise floor and hangover.
//!
//! Run loop: feed 8 kHz samples in chunks of any size with [`VoiceActivityDetector::push_samples`],
//! then drain [`VoiceActivityDetector::poll_event`]; [`VoiceActivityDetector::silence_samples`]
//! says how long it has been quiet (what `record`'s `maxSilence` and speech capture need).
//!
//! How, per 20 ms frame ([`FRAME_SAMPLES`]):
//! - The frame's level is its mean power in dBm0 ([`crate::tone::power_to_dbm0`]).
//! - The noise floor is the quietest frame of the last [`NOISE_WINDOW_BLOCKS`] blocks of
//!   [`NOISE_BLOCK_FRAMES`] frames (2 s): a minimum tracker. It follows a rising background within
//!   2 s, drops at once when the line gets quieter, and does not climb into speech because speech
//!   pauses between words within 2 s. Before 2 s have passed the floor starts at
//!   [`VadConfig::initial_noise_floor_dbm0`], so a line noisier than that counts as speech for up
//!   to 2 s.
//! - A frame is *loud* when its level exceeds both the floor plus
//!   [`VadConfig::speech_margin_db`] (or, once speech has started,
//!   [`VadConfig::continue_margin_db`]: hysteresis) and the absolute
//!   [`VadConfig::minimum_speech_level_dbm0`] (quieter than that is never speech).
//! - Speech starts after [`VadConfig::onset`] of consecutive loud frames (so a click is not
//!   speech) and is reported as starting where the first of them began. It ends once
//!   [`VadConfig::hangover`] has passed without a loud frame (so the pauses between words do not
//!   split an utterance) and is reported as ending where the last loud frame ended.
//!
//! Positions are sample indices since the detector was created. Pushing never allocates; at most
//! [`MAX_QUEUED_EVENTS`] unread events are kept (oldest dropped).

use std::collections::VecDeque;
use std::time::Duration;

use crate::{FRAME_SAMPLES, SAMPLE_RATE_HZ, tone};

/// Frames per noise-floor block (100 ms).
pub const NOISE_BLOCK_FRAMES: usize = 5;
/// Blocks the noise floor looks back over (2 s).
pub const NOISE_WINDOW_BLOCKS: usize = 20;
/// Unread events kept.
pub const MAX_QUEUED_EVENTS: usize = 16;
/// Level given to digital silence (whose power is zero).
const SILENCE_LEVEL_DBM0: f32 = -100.0;

/// Thresholds of the detector; [`VadConfig::default`] suits telephone speech.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Loud frames needed before speech starts (rounded up to whole frames): 40 ms.
    pub onset: Duration,
    /// Quiet time after which speech ends (rounded up to whole frames): 300 ms.
    pub hangover: Duration,
    /// A frame this far above the noise floor starts speech: 10 dB.
    pub speech_margin_db: f32,
    /// A frame this far above the noise floor keeps speech going: 6 dB.
    pub continue_margin_db: f32,
    /// Quieter frames are never speech: −45 dBm0 (quiet telephone speech is about −30 dBm0).
    pub minimum_speech_level_dbm0: f32,
    /// The noise floor assumed before [`NOISE_WINDOW_BLOCKS`] blocks were measured: −60 dBm0.
    pub initial_noise_floor_dbm0: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            onset: Duration::from_millis(40),
            hangover: Duration::from_millis(300),
            speech_margin_db: 10.0,
            continue_margin_db: 6.0,
            minimum_speech_level_dbm0: -45.0,
            initial_noise_floor_dbm0: -60.0,
        }
    }
}

/// A change between silence and speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began at this sample (the start of its first loud frame).
    SpeechStarted { at_sample: u64 },
    /// Speech ended at this sample (the end of its last loud frame); reported a hangover later.
    SpeechEnded { at_sample: u64 },
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct VoiceActivityDetector {
    onset_frames: u32,
    hangover_samples: u64,
    config: VadConfig,
    frame: [i16; FRAME_SAMPLES],
    filled: usize,
    /// Samples in complete, analysed frames.
    analysed: u64,
    state: State,
    /// Quietest frame level of each recent block; the current block is `block_minimum`.
    block_minima: [f32; NOISE_WINDOW_BLOCKS],
    next_block: usize,
    block_minimum: f32,
    frames_in_block: usize,
    events: VecDeque<VadEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Quiet since `since` (a sample index).
    Silence { since: u64 },
    /// Loud frames seen, not yet enough to call it speech.
    Onset {
        since: u64,
        started_at: u64,
        loud_frames: u32,
    },
    /// Speaking; the last loud frame ended at `last_loud_end`.
    Speech { last_loud_end: u64 },
}

impl Default for VoiceActivityDetector {
    fn default() -> Self {
        Self::new(VadConfig::default())
    }
}

impl VoiceActivityDetector {
    /// A detector that has heard nothing.
    pub fn new(config: VadConfig) -> Self {
        let frame_micros = FRAME_SAMPLES as u128 * 1_000_000 / u128::from(SAMPLE_RATE_HZ);
        let onset_frames = config.onset.as_micros().div_ceil(frame_micros).max(1);
        let hangover_frames = config.hangover.as_micros().div_ceil(frame_micros);
        Self {
            onset_frames: u32::try_from(onset_frames).unwrap_or(u32::MAX),
            hangover_samples: u64::try_from(hangover_frames)
                .unwrap_or(u64::MAX / 2)
                .saturating_mul(FRAME_SAMPLES as u64),
            config,
            frame: [0; FRAME_SAMPLES],
            filled: 0,
            analysed: 0,
            state: State::Silence { since: 0 },
            block_minima: [config.initial_noise_floor_dbm0; NOISE_WINDOW_BLOCKS],
            next_block: 0,
            block_minimum: f32::INFINITY,
            frames_in_block: 0,
            events: VecDeque::with_capacity(MAX_QUEUED_EVENTS),
        }
    }

    /// Feeds samples; any number, any chunking.
    pub fn push_samples(&mut self, samples: &[i16]) {
        let mut rest = samples;
        while !rest.is_empty() {
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

    /// The next change between silence and speech.
    pub fn poll_event(&mut self) -> Option<VadEvent> {
        self.events.pop_front()
    }

    /// Whether speech is going on (between a `SpeechStarted` and its `SpeechEnded`).
    pub fn is_speech(&self) -> bool {
        matches!(self.state, State::Speech { .. })
    }

    /// How long it has been quiet, in samples up to the last analysed frame: 0 during speech,
    /// else the time since speech ended (or since the start when there was none yet). Loud
    /// frames too short to start speech do not interrupt a silence.
    pub fn silence_samples(&self) -> u64 {
        match self.state {
            State::Silence { since } | State::Onset { since, .. } => self.analysed - since,
            State::Speech { .. } => 0,
        }
    }

    /// [`Self::silence_samples`] as a duration.
    pub fn silence_duration(&self) -> Duration {
        Duration::from_micros(self.silence_samples() * 1_000_000 / u64::from(SAMPLE_RATE_HZ))
    }

    /// The current noise-floor estimate in dBm0.
    pub fn noise_floor_dbm0(&self) -> f32 {
        self.block_minima
            .iter()
            .copied()
            .fold(self.block_minimum, f32::min)
    }

    /// Samples in the frames analysed so far (a partial frame waits for more samples).
    pub fn samples_analysed(&self) -> u64 {
        self.analysed
    }

    fn analyse_frame(&mut self) {
        let mean_square = self
            .frame
            .iter()
            .map(|&sample| f64::from(sample) * f64::from(sample))
            .sum::<f64>()
            / FRAME_SAMPLES as f64;
        let level = tone::power_to_dbm0(mean_square).max(SILENCE_LEVEL_DBM0);
        let floor = self.noise_floor_dbm0();
        let frame_start = self.analysed;
        self.analysed += FRAME_SAMPLES as u64;
        let frame_end = self.analysed;

        let margin = if self.is_speech() {
            self.config.continue_margin_db
        } else {
            self.config.speech_margin_db
        };
        let loud = level > floor + margin && level > self.config.minimum_speech_level_dbm0;
        self.state = match (self.state, loud) {
            (State::Silence { since }, true) => self.onset(since, frame_start, 1),
            (
                State::Onset {
                    since,
                    started_at,
                    loud_frames,
                },
                true,
            ) => self.onset(since, started_at, loud_frames + 1),
            (State::Onset { since, .. }, false) => State::Silence { since },
            (State::Speech { .. }, true) => State::Speech {
                last_loud_end: frame_end,
            },
            (State::Speech { last_loud_end }, false) => {
                if frame_end - last_loud_end >= self.hangover_samples {
                    self.push_event(VadEvent::SpeechEnded {
                        at_sample: last_loud_end,
                    });
                    State::Silence {
                        since: last_loud_end,
                    }
                } else {
                    State::Speech { last_loud_end }
                }
            }
            (state @ State::Silence { .. }, false) => state,
        };
        self.track_noise(level);
    }

    fn onset(&mut self, since: u64, started_at: u64, loud_frames: u32) -> State {
        if loud_frames >= self.onset_frames {
            self.push_event(VadEvent::SpeechStarted {
                at_sample: started_at,
            });
            State::Speech {
                last_loud_end: self.analysed,
            }
        } else {
            State::Onset {
                since,
                started_at,
                loud_frames,
            }
        }
    }

    fn track_noise(&mut self, level: f32) {
        self.block_minimum = self.block_minimum.min(level);
        self.frames_in_block += 1;
        if self.frames_in_block == NOISE_BLOCK_FRAMES {
            self.block_minima[self.next_block] = self.block_minimum;
            self.next_block = (self.next_block + 1) % NOISE_WINDOW_BLOCKS;
            self.block_minimum = f32::INFINITY;
            self.frames_in_block = 0;
        }
    }

    fn push_event(&mut self, event: VadEvent) {
        if self.events.len() == MAX_QUEUED_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_signals::{mix, speech};

    fn events(detector: &mut VoiceActivityDetector) -> Vec<VadEvent> {
        std::iter::from_fn(|| detector.poll_event()).collect()
    }

    fn ms(samples: u64) -> u64 {
        samples / 8
    }

    #[test]
    fn one_utterance_with_short_pauses_is_one_speech_segment() {
        // 300 ms of silence, then three words with 150 ms pauses, then a second of silence.
        let mut audio = tone::silence(300);
        audio.extend(speech(&[(400, 150), (300, 150), (500, 1000)], -20.0));
        let mut detector = VoiceActivityDetector::default();
        detector.push_samples(&audio);
        let found = events(&mut detector);
        let [
            VadEvent::SpeechStarted { at_sample: start },
            VadEvent::SpeechEnded { at_sample: end },
        ] = found[..]
        else {
            panic!("{found:?}");
        };
        // Bursts fade in and out over 10 ms; the frame grid adds up to 20 ms.
        assert!((300..=330).contains(&ms(start)), "start {}", ms(start));
        let speech_end = 300 + 400 + 150 + 300 + 150 + 500;
        assert!(
            (speech_end - 30..=speech_end + 20).contains(&ms(end)),
            "end {}",
            ms(end)
        );
        assert!(!detector.is_speech());
        assert_eq!(
            ms(detector.silence_samples()),
            ms(detector.samples_analysed()) - ms(end)
        );
    }

    #[test]
    fn a_long_pause_splits_utterances_and_silence_is_measured() {
        let audio = speech(&[(400, 800), (400, 400)], -25.0);
        let mut detector = VoiceActivityDetector::default();
        let mut silence_during_speech = Vec::new();
        for chunk in audio.chunks(160) {
            detector.push_samples(chunk);
            if detector.is_speech() {
                silence_during_speech.push(detector.silence_samples());
            }
        }
        let found = events(&mut detector);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(
            matches!(found[2], VadEvent::SpeechStarted { at_sample } if (1190..=1220).contains(&ms(at_sample)))
        );
        assert!(silence_during_speech.iter().all(|&silence| silence == 0));
    }

    #[test]
    fn clicks_shorter_than_the_onset_are_not_speech() {
        let mut audio = tone::silence(500);
        // A 20 ms click every 200 ms.
        for _ in 0..5 {
            audio.extend(tone::sine(800.0, 20, -10.0));
            audio.extend(tone::silence(180));
        }
        let mut detector = VoiceActivityDetector::default();
        detector.push_samples(&audio);
        assert_eq!(events(&mut detector), vec![]);
        assert_eq!(detector.silence_samples(), detector.samples_analysed());
    }

    #[test]
    fn noise_floor_adapts_and_speech_over_noise_is_found() {
        // Loud background noise (−35 dBm0) counts as speech at first, then becomes the floor.
        let background = tone::white_noise(8000, -35.0, 3);
        let mut signal = tone::silence(4000);
        signal.extend(speech(&[(600, 0)], -15.0));
        signal.extend(tone::silence(3400));
        let audio = mix(&signal, &background);
        let mut detector = VoiceActivityDetector::default();
        detector.push_samples(&audio[..tone::samples_for(3000)]);
        events(&mut detector);
        let floor = detector.noise_floor_dbm0();
        assert!((-37.0..=-34.0).contains(&floor), "floor {floor}");
        assert!(!detector.is_speech());
        detector.push_samples(&audio[tone::samples_for(3000)..]);
        let found = events(&mut detector);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            matches!(found[0], VadEvent::SpeechStarted { at_sample } if (3990..=4040).contains(&ms(at_sample))),
            "{found:?}"
        );
    }

    #[test]
    fn quiet_noise_and_digital_silence_are_never_speech() {
        let mut detector = VoiceActivityDetector::default();
        detector.push_samples(&tone::silence(1000));
        detector.push_samples(&tone::white_noise(3000, -50.0, 9));
        assert_eq!(events(&mut detector), vec![]);
        assert_eq!(ms(detector.silence_samples()), 4000);
        assert_eq!(detector.silence_duration(), Duration::from_secs(4));
    }

    #[test]
    fn chunking_does_not_change_events() {
        let audio = speech(&[(300, 500), (700, 400)], -20.0);
        let mut whole = VoiceActivityDetector::default();
        whole.push_samples(&audio);
        let mut chunked = VoiceActivityDetector::default();
        for chunk in audio.chunks(37) {
            chunked.push_samples(chunk);
        }
        assert_eq!(events(&mut whole), events(&mut chunked));
    }

    #[test]
    fn unread_events_are_bounded() {
        let mut detector = VoiceActivityDetector::default();
        let pattern = vec![(200, 500); 20];
        detector.push_samples(&speech(&pattern, -20.0));
        assert_eq!(events(&mut detector).len(), MAX_QUEUED_EVENTS);
    }
}
