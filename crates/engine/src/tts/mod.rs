//! Text-to-speech: providers behind one trait, and one cache in front of them all.
//!
//! A provider ([`SpeechSynthesiser`]) turns one run of plain text into 8 kHz mono audio:
//!
//! - [`EspeakTts`] runs the `espeak-ng` program (never linked: it is GPL-3+);
//! - [`HttpTts`] POSTs `{"text","language","voice","gender","rate"}` to a configured URL and
//!   reads back a WAV, MP3 or raw 16-bit PCM body.
//!
//! [`TextToSpeech`] owns the provider and the cache: on disk (one WAV file per prompt, so a
//! restart does not synthesise again) and in memory, keyed by (provider name, the voice the
//! provider resolves the request to, rate, text). Requests for the same key wait for one
//! synthesis, so a prompt is never synthesised twice, be it by cache warming and a call at the
//! same time. SSML is not seen here: [`crate::prompts::PromptStore::say`] splits it into runs.
//!
//! The trait returns a boxed future so that providers are chosen at run time (and tests can put
//! a counting fake behind it).

mod cache;
mod espeak;
mod http;
pub(crate) mod pcm;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use ivory_rtp::Prompt;
pub use ivory_scenario::VoiceGender;

use crate::EngineError;
pub use espeak::{EspeakTts, espeak_voice};
pub use http::{HttpTts, HttpTtsConfig};

/// The language asked for when a `say` names none.
pub const DEFAULT_LANGUAGE: &str = "en-US";

/// Slowest and fastest rate a provider is asked for: a `say`'s `speechRate` (0.5–2) times
/// SSML `<prosody>`/`<emphasis>` factors.
pub const RATE_RANGE: (f32, f32) = (0.25, 4.0);

/// One run of plain text to speak.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthesisRequest {
    /// Plain text (no SSML).
    pub text: String,
    /// An Infobip-style language code: `en-US`, `de-DE`, `sv`.
    pub language: String,
    /// A provider-specific voice name (`options.voice.name`).
    pub voice: Option<String>,
    /// `options.voice.gender`.
    pub gender: Option<VoiceGender>,
    /// 1.0 is the provider's normal speed; within [`RATE_RANGE`].
    pub rate: f32,
}

impl SynthesisRequest {
    /// A request with the default language, no voice and normal speed.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            language: DEFAULT_LANGUAGE.to_string(),
            voice: None,
            gender: None,
            rate: 1.0,
        }
    }
}

/// What [`SpeechSynthesiser::synthesise`] returns: 8 kHz mono samples.
pub type SynthesisFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<i16>, EngineError>> + Send + 'a>>;

/// A text-to-speech engine.
pub trait SpeechSynthesiser: Send + Sync + std::fmt::Debug {
    /// A short stable name (`espeak-ng`, `http`): part of the cache key and of error messages.
    fn name(&self) -> &str;

    /// The voice `request` is spoken with, as this provider resolves it (`en-us+f3`): part of
    /// the cache key, so two requests with the same key must sound the same.
    fn voice_key(&self, request: &SynthesisRequest) -> String;

    /// Speaks `request.text`; 8 kHz mono audio, never empty.
    fn synthesise<'a>(&'a self, request: &'a SynthesisRequest) -> SynthesisFuture<'a>;
}

/// A provider with its cache: what the prompt store speaks through.
#[derive(Debug)]
pub struct TextToSpeech {
    provider: Arc<dyn SpeechSynthesiser>,
    cache: cache::SpeechCache,
}

impl TextToSpeech {
    /// `provider` cached in memory and, when `cache_dir` is given, on disk there (created on
    /// first write).
    pub fn new(provider: Arc<dyn SpeechSynthesiser>, cache_dir: Option<PathBuf>) -> Self {
        Self {
            provider,
            cache: cache::SpeechCache::new(cache_dir),
        }
    }

    /// The provider's name.
    pub fn provider_name(&self) -> &str {
        self.provider.name()
    }

    /// The cache key of `request`: (provider, resolved voice, rate, text).
    pub fn cache_key(&self, request: &SynthesisRequest) -> String {
        format!(
            "{}\u{0}{}\u{0}{:.3}\u{0}{}",
            self.provider.name(),
            self.provider.voice_key(request),
            clamp_rate(request.rate),
            request.text
        )
    }

    /// The prompt for `request`: from memory, from disk, or synthesised once (concurrent
    /// requests for the same prompt wait for that one synthesis).
    pub async fn speak(&self, request: &SynthesisRequest) -> Result<Prompt, EngineError> {
        let mut request = request.clone();
        request.rate = clamp_rate(request.rate);
        let key = self.cache_key(&request);
        if let Some(prompt) = self.cache.in_memory(&key) {
            return Ok(prompt);
        }
        let _in_flight = self.cache.lock_key(&key).await;
        // Another request may have finished this prompt while we waited.
        if let Some(prompt) = self.cache.in_memory(&key) {
            return Ok(prompt);
        }
        if let Some(prompt) = self.cache.on_disk(&key).await {
            return Ok(prompt);
        }
        let samples = self.provider.synthesise(&request).await?;
        if samples.is_empty() {
            return Err(EngineError::Tts(format!(
                "{} returned no audio",
                self.provider.name()
            )));
        }
        Ok(self.cache.store(key, samples).await)
    }
}

/// `rate` within [`RATE_RANGE`] (NaN counts as 1).
pub fn clamp_rate(rate: f32) -> f32 {
    if rate.is_nan() {
        return 1.0;
    }
    rate.clamp(RATE_RANGE.0, RATE_RANGE.1)
}

/// espeak-ng, or `None` when it is missing and `IVORY_REQUIRE_PEERS` is not set (then a missing
/// espeak-ng fails the test).
#[cfg(test)]
pub(crate) async fn espeak_or_skip() -> Option<EspeakTts> {
    match EspeakTts::locate(PathBuf::from("espeak-ng")).await {
        Ok(tts) => Some(tts),
        Err(error) => {
            assert!(
                std::env::var_os("IVORY_REQUIRE_PEERS").is_none(),
                "espeak-ng is required: {error}"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A provider that counts its syntheses and answers a tone-like ramp whose length is the
    /// text's, after `gate` lets it.
    #[derive(Debug)]
    struct Counting {
        calls: AtomicUsize,
        gate: tokio::sync::Semaphore,
    }

    impl SpeechSynthesiser for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        fn voice_key(&self, request: &SynthesisRequest) -> String {
            request.language.clone()
        }
        fn synthesise<'a>(&'a self, request: &'a SynthesisRequest) -> SynthesisFuture<'a> {
            Box::pin(async move {
                let _permit = self.gate.acquire().await.expect("gate open");
                self.calls.fetch_add(1, Ordering::SeqCst);
                Ok((0..request.text.len() as i16 * 80).collect())
            })
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_requests_share_one_synthesis_and_the_disk_cache_outlives_the_store() {
        let dir = std::env::temp_dir().join(format!("ivory-tts-share-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let provider = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            gate: tokio::sync::Semaphore::new(0),
        });
        let tts = TextToSpeech::new(provider.clone(), Some(dir.clone()));
        let request = SynthesisRequest::new("hello");
        // Both requests are pending (the first inside the provider, the second on the key)
        // before the gate opens: join polls them in order.
        let (first, second, ()) = tokio::join!(tts.speak(&request), tts.speak(&request), async {
            provider.gate.add_permits(10);
        });
        assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
        assert_eq!(first.expect("first").samples().len(), 400);
        assert_eq!(
            second.expect("second").samples(),
            (0..400).collect::<Vec<i16>>()
        );

        // Another language is another prompt.
        let mut swedish = request.clone();
        swedish.language = "sv-SE".into();
        tts.speak(&swedish).await.expect("swedish");
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);

        // A new store over the same directory reads the disk cache.
        let again = TextToSpeech::new(provider.clone(), Some(dir.clone()));
        let prompt = again.speak(&request).await.expect("from disk");
        assert_eq!(prompt.samples(), (0..400).collect::<Vec<i16>>());
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rates_are_clamped_into_the_key() {
        let provider = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            gate: tokio::sync::Semaphore::new(0),
        });
        let tts = TextToSpeech::new(provider, None);
        let mut request = SynthesisRequest::new("x");
        request.rate = 9.0;
        let fast = tts.cache_key(&request);
        request.rate = 4.0;
        assert_eq!(tts.cache_key(&request), fast);
        request.rate = f32::NAN;
        assert!(tts.cache_key(&request).contains("1.000"));
    }
}
