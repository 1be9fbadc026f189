//! Prompts and the playback cursor that hands out one 20 ms frame per transmit tick.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ivory_dsp::{Codec, FRAME_SAMPLES, SAMPLE_RATE_HZ};

/// Audio to play: 8 kHz, 16-bit linear, mono. Cloning shares it (one `Arc`), so one decoded
/// prompt can be played by any number of calls at once; so is its G.711 encoding, made once per
/// codec on first use, so that calls copy bytes rather than encode each frame. A driver whose
/// media path must not stall calls [`Prompt::encoded`] before handing the prompt over.
#[derive(Debug, Clone)]
pub struct Prompt {
    audio: Arc<PromptAudio>,
}

#[derive(Debug)]
struct PromptAudio {
    samples: Arc<[i16]>,
    pcmu: OnceLock<Box<[u8]>>,
    pcma: OnceLock<Box<[u8]>>,
}

/// Identifies one [`crate::MediaSession::play`] call; returned again in
/// [`crate::MediaEvent::PlaybackFinished`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlaybackId(u64);

impl Prompt {
    /// Wraps decoded samples (8 kHz linear).
    pub fn from_samples(samples: Arc<[i16]>) -> Self {
        Prompt {
            audio: Arc::new(PromptAudio {
                samples,
                pcmu: OnceLock::new(),
                pcma: OnceLock::new(),
            }),
        }
    }

    /// The samples.
    pub fn samples(&self) -> &[i16] {
        &self.audio.samples
    }

    /// The whole prompt in `codec`, encoded on first use (by whichever call sends it first).
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        let cell = match codec {
            Codec::Pcmu => &self.audio.pcmu,
            Codec::Pcma => &self.audio.pcma,
        };
        cell.get_or_init(|| {
            let mut bytes = vec![0; self.audio.samples.len()];
            codec.encode(&self.audio.samples, &mut bytes);
            bytes.into()
        })
    }

    /// Frames of 20 ms it takes to send, the last one padded with silence.
    pub fn frame_count(&self) -> usize {
        self.audio.samples.len().div_ceil(FRAME_SAMPLES)
    }

    /// Playing time, rounded up to whole frames (what the transmit schedule spends on it).
    pub fn duration(&self) -> Duration {
        let frame_micros = 1_000_000 * FRAME_SAMPLES as u64 / u64::from(SAMPLE_RATE_HZ);
        Duration::from_micros(frame_micros * self.frame_count() as u64)
    }

    /// Samples of frame `index`; shorter than a frame for the last one, empty past the end.
    pub(crate) fn frame(&self, index: usize) -> &[i16] {
        &self.audio.samples[Self::frame_range(index, self.audio.samples.len())]
    }

    /// Frame `index` in `codec` (as [`Prompt::frame`], encoded).
    pub(crate) fn encoded_frame(&self, codec: Codec, index: usize) -> &[u8] {
        let encoded = self.encoded(codec);
        &encoded[Self::frame_range(index, encoded.len())]
    }

    fn frame_range(index: usize, length: usize) -> std::ops::Range<usize> {
        let start = index.saturating_mul(FRAME_SAMPLES).min(length);
        start..start.saturating_add(FRAME_SAMPLES).min(length)
    }
}

impl PlaybackId {
    /// The raw counter value (unique within one session, increasing).
    pub fn value(self) -> u64 {
        self.0
    }
}

/// What one transmit tick sends. Audio is held inline (a live frame is 320 bytes) so the media
/// path never allocates per packet.
#[derive(Debug, Clone)]
pub(crate) enum FrameAudio {
    /// Comfort silence while nothing plays.
    Silence,
    /// A prompt's frame, already encoded (`length` bytes; a short last frame is padded when
    /// sent). Held inline, so that queueing it neither encodes nor touches the shared prompt.
    Prompt {
        payload: [u8; FRAME_SAMPLES],
        length: usize,
    },
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

    /// The linear samples of the prompt frame the last tick handed out (for the recording tap).
    pub(crate) fn frame_just_played(&self) -> &[i16] {
        self.current.as_ref().map_or(&[], |current| {
            current.prompt.frame(current.next_frame.wrapping_sub(1))
        })
    }

    /// Advances one tick: the audio for it in `codec`, and the playback that just finished, if
    /// any.
    pub(crate) fn tick(&mut self, codec: Codec) -> (FrameAudio, Option<PlaybackId>) {
        let Some(current) = self.current.as_mut() else {
            return (FrameAudio::Silence, None);
        };
        if current.next_frame < current.prompt.frame_count() {
            let encoded = current.prompt.encoded_frame(codec, current.next_frame);
            let mut payload = [0; FRAME_SAMPLES];
            payload[..encoded.len()].copy_from_slice(encoded);
            current.next_frame += 1;
            let audio = FrameAudio::Prompt {
                payload,
                length: encoded.len(),
            };
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
    fn encoded_frames_are_the_frames_encoded_and_the_encoding_is_shared() {
        let prompt = prompt(400);
        let copy = prompt.clone();
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for index in 0..4 {
                let mut expected = vec![0; prompt.frame(index).len()];
                codec.encode(prompt.frame(index), &mut expected);
                assert_eq!(prompt.encoded_frame(codec, index), expected);
            }
            assert!(std::ptr::eq(prompt.encoded(codec), copy.encoded(codec)));
        }
        assert_ne!(prompt.encoded(Codec::Pcmu), prompt.encoded(Codec::Pcma));
    }

    #[test]
    fn finish_is_reported_once_on_the_tick_after_the_last_frame() {
        let mut playback = Playback::default();
        let id = playback.play(prompt(320));
        let mut finished = Vec::new();
        let mut prompt_frames = 0;
        for _ in 0..10 {
            let (audio, done) = playback.tick(Codec::Pcmu);
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
        playback.tick(Codec::Pcmu);
        let second = playback.play(prompt(160));
        assert_ne!(first, second);
        let finished: Vec<_> = (0..5)
            .filter_map(|_| playback.tick(Codec::Pcmu).1)
            .collect();
        assert_eq!(finished, vec![second]);
        playback.play(prompt(1600));
        playback.stop();
        assert!(!playback.is_playing());
        assert!((0..5).all(|_| playback.tick(Codec::Pcmu).1.is_none()));
    }

    #[test]
    fn empty_prompt_finishes_on_the_next_tick() {
        let mut playback = Playback::default();
        let id = playback.play(prompt(0));
        assert!(
            matches!(playback.tick(Codec::Pcmu), (FrameAudio::Silence, Some(done)) if done == id)
        );
    }
}
