//! Prompts and the playback cursor that hands out one 20 ms frame per transmit tick.

use std::sync::Arc;
use std::time::Duration;

use ivory_dsp::{FRAME_SAMPLES, SAMPLE_RATE_HZ};

/// Audio to play: 8 kHz, 16-bit linear, mono. Cloning shares the samples (one `Arc`), so one
/// decoded prompt can be played by any number of calls at once.
#[derive(Debug, Clone)]
pub struct Prompt {
    samples: Arc<[i16]>,
}

/// Identifies one [`crate::MediaSession::play`] call; returned again in
/// [`crate::MediaEvent::PlaybackFinished`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlaybackId(u64);

impl Prompt {
    /// Wraps decoded samples (8 kHz linear).
    pub fn from_samples(samples: Arc<[i16]>) -> Self {
        Prompt { samples }
    }

    /// The samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Frames of 20 ms it takes to send, the last one padded with silence.
    pub fn frame_count(&self) -> usize {
        self.samples.len().div_ceil(FRAME_SAMPLES)
    }

    /// Playing time, rounded up to whole frames (what the transmit schedule spends on it).
    pub fn duration(&self) -> Duration {
        let frame_micros = 1_000_000 * FRAME_SAMPLES as u64 / u64::from(SAMPLE_RATE_HZ);
        Duration::from_micros(frame_micros * self.frame_count() as u64)
    }

    /// Samples of frame `index`; shorter than a frame for the last one, empty past the end.
    pub(crate) fn frame(&self, index: usize) -> &[i16] {
        let start = index.saturating_mul(FRAME_SAMPLES).min(self.samples.len());
        let end = start.saturating_add(FRAME_SAMPLES).min(self.samples.len());
        &self.samples[start..end]
    }
}

impl PlaybackId {
    /// The raw counter value (unique within one session, increasing).
    pub fn value(self) -> u64 {
        self.0
    }
}

/// What one transmit tick sends.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a live frame is held inline (320 bytes) so the media path never allocates per packet"
)]
pub(crate) enum FrameAudio {
    /// Comfort silence while nothing plays.
    Silence,
    /// Frame `index` of a prompt.
    Prompt { prompt: Prompt, index: usize },
    /// An RFC 4733 event packet in place of audio (sent with the telephone-event payload type).
    Event(crate::telephone_event::TelephoneEventPayload),
    /// A frame of live audio (the other leg of a bridge).
    Live(crate::live::Frame),
}

/// The playback cursor. A prompt's frames go out on consecutive ticks; the tick after its last
/// frame (when that frame has been on air for its 20 ms) reports it finished.
#[derive(Debug, Default)]
pub(crate) struct Playback {
    current: Option<Current>,
    next_id: u64,
}

#[derive(Debug)]
struct Current {
    id: PlaybackId,
    prompt: Prompt,
    next_frame: usize,
}

impl Playback {
    /// Starts `prompt` at the next tick, silently replacing whatever was playing.
    pub(crate) fn play(&mut self, prompt: Prompt) -> PlaybackId {
        let id = PlaybackId(self.next_id);
        self.next_id += 1;
        self.current = Some(Current {
            id,
            prompt,
            next_frame: 0,
        });
        id
    }

    pub(crate) fn stop(&mut self) {
        self.current = None;
    }

    pub(crate) fn is_playing(&self) -> bool {
        self.current.is_some()
    }

    /// Advances one tick: the audio for it, and the playback that just finished, if any.
    pub(crate) fn tick(&mut self) -> (FrameAudio, Option<PlaybackId>) {
        let Some(current) = self.current.as_mut() else {
            return (FrameAudio::Silence, None);
        };
        if current.next_frame < current.prompt.frame_count() {
            let audio = FrameAudio::Prompt {
                prompt: current.prompt.clone(),
                index: current.next_frame,
            };
            current.next_frame += 1;
            return (audio, None);
        }
        let finished = current.id;
        self.current = None;
        (FrameAudio::Silence, Some(finished))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(samples: usize) -> Prompt {
        Prompt::from_samples((0..samples).map(|sample| sample as i16).collect())
    }

    #[test]
    fn frames_are_cut_and_the_last_is_short() {
        let prompt = prompt(400);
        assert_eq!(prompt.frame_count(), 3);
        assert_eq!(prompt.duration(), Duration::from_millis(60));
        assert_eq!(prompt.frame(0).len(), 160);
        assert_eq!(prompt.frame(1)[0], 160);
        assert_eq!(prompt.frame(2).len(), 80);
        assert!(prompt.frame(3).is_empty());
        assert!(prompt.frame(usize::MAX).is_empty());
    }

    #[test]
    fn finish_is_reported_once_on_the_tick_after_the_last_frame() {
        let mut playback = Playback::default();
        let id = playback.play(prompt(320));
        let mut finished = Vec::new();
        let mut prompt_frames = 0;
        for _ in 0..10 {
            let (audio, done) = playback.tick();
            if matches!(audio, FrameAudio::Prompt { .. }) {
                prompt_frames += 1;
                assert!(finished.is_empty());
            }
            finished.extend(done);
        }
        assert_eq!(prompt_frames, 2);
        assert_eq!(finished, vec![id]);
        assert!(!playback.is_playing());
    }

    #[test]
    fn replacing_or_stopping_reports_nothing_for_the_old_prompt() {
        let mut playback = Playback::default();
        let first = playback.play(prompt(1600));
        playback.tick();
        let second = playback.play(prompt(160));
        assert_ne!(first, second);
        let finished: Vec<_> = (0..5).filter_map(|_| playback.tick().1).collect();
        assert_eq!(finished, vec![second]);
        playback.play(prompt(1600));
        playback.stop();
        assert!(!playback.is_playing());
        assert!((0..5).all(|_| playback.tick().1.is_none()));
    }

    #[test]
    fn empty_prompt_finishes_on_the_next_tick() {
        let mut playback = Playback::default();
        let id = playback.play(prompt(0));
        assert!(matches!(playback.tick(), (FrameAudio::Silence, Some(done)) if done == id));
    }
}
