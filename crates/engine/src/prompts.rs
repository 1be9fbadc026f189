//! Prompts: audio files under the sounds directory and text-to-speech, decoded once to 8 kHz and
//! shared between calls.
//!
//! File prompts are named by a path relative to the sounds directory (`demo-menu.wav`,
//! `en/welcome.mp3`); absolute paths and `..` are refused so that a `${...}` built from caller input
//! cannot read other files. `http(s)://` URLs are fetched once and kept by URL. Decoding runs on the
//! blocking pool. A prompt that fails is a note in the call log, and the scenario goes on.
//!
//! Speech goes through a [`TextToSpeech`] (a provider and its cache, see [`crate::tts`]); `say`
//! texts may use the SSML subset of [`crate::ssml`], split here into runs and pauses. The texts a
//! scenario always says can be synthesised ahead of calls ([`PromptStore::spawn_warming`]).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use ivory_rtp::Prompt;
use ivory_scenario::{ConstantSay, Voice};
use tracing::{debug, warn};

use crate::EngineError;
use crate::http_client::HttpClient;
use crate::tts::{self, SynthesisRequest, TextToSpeech};
pub use crate::tts::{EspeakTts, espeak_voice};

/// The shared prompt store.
#[derive(Debug)]
pub struct PromptStore {
    sounds_dir: PathBuf,
    tts: Option<TextToSpeech>,
    http: Option<HttpClient>,
    cache: Mutex<HashMap<String, Prompt>>,
    /// One warming task synthesises at a time, however many scenarios are loaded at once.
    warming: tokio::sync::Semaphore,
}

/// What warming a scenario's texts did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WarmOutcome {
    /// Texts now in the cache (synthesised now, or already there).
    pub ready: usize,
    /// Texts that failed (each logged as a warning).
    pub failed: usize,
}

impl PromptStore {
    pub fn new(sounds_dir: PathBuf, tts: Option<TextToSpeech>, http: Option<HttpClient>) -> Self {
        Self {
            sounds_dir,
            tts,
            http,
            cache: Mutex::new(HashMap::new()),
            warming: tokio::sync::Semaphore::new(1),
        }
    }

    /// The decoded prompt for a `playFromUrl` source.
    pub async fn file(&self, source: &str) -> Result<Prompt, EngineError> {
        let fail = |reason: String| EngineError::Prompt {
            source_name: source.to_string(),
            reason,
        };
        if source.starts_with("http://") || source.starts_with("https://") {
            return self.url(source).await;
        }
        let relative = source.strip_prefix("file:").unwrap_or(source);
        let path = self.resolve(relative).ok_or_else(|| {
            fail("a prompt must be a relative path inside the sounds directory".into())
        })?;
        let key = format!("file:{}", path.display());
        if let Some(prompt) = self.cached(&key) {
            return Ok(prompt);
        }
        let samples = tokio::task::spawn_blocking(move || ivory_dsp::decode::decode_file(&path))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
        let prompt = Prompt::from_samples(samples.into());
        self.remember(key, prompt.clone());
        Ok(prompt)
    }

    /// A prompt fetched over HTTP once and kept (by URL) for later calls.
    async fn url(&self, url: &str) -> Result<Prompt, EngineError> {
        let fail = |reason: String| EngineError::Prompt {
            source_name: url.to_string(),
            reason,
        };
        let key = format!("url:{url}");
        if let Some(prompt) = self.cached(&key) {
            return Ok(prompt);
        }
        let http = self
            .http
            .as_ref()
            .ok_or_else(|| fail("no HTTP client is configured".into()))?;
        let bytes = http.fetch(url, PROMPT_FETCH_TIMEOUT).await.map_err(fail)?;
        let extension = url_extension(url);
        let samples = tokio::task::spawn_blocking(move || {
            ivory_dsp::decode::decode_audio(&bytes, extension.as_deref())
        })
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(e.to_string()))?;
        let prompt = Prompt::from_samples(samples.into());
        self.remember(key, prompt.clone());
        Ok(prompt)
    }

    /// The synthesised prompt for a `say` text, which may use the SSML subset of
    /// [`crate::ssml`]: each run of text is synthesised (and cached) on its own, breaks are
    /// silence, and the whole is cached too. `speech_rate` is clamped to 0.5–2.
    pub async fn say(
        &self,
        text: &str,
        language: Option<&str>,
        voice: Option<&Voice>,
        speech_rate: f32,
    ) -> Result<Prompt, EngineError> {
        let tts = self
            .tts
            .as_ref()
            .ok_or_else(|| EngineError::Tts("no text-to-speech provider is configured".into()))?;
        let rate = if speech_rate.is_nan() {
            1.0
        } else {
            speech_rate.clamp(0.5, 2.0)
        };
        let base = SynthesisRequest {
            text: String::new(),
            language: language.unwrap_or(tts::DEFAULT_LANGUAGE).to_string(),
            voice: voice.and_then(|voice| voice.name.clone()),
            gender: voice.and_then(|voice| voice.gender),
            rate,
        };
        let run = |text: &str, factor: f32| SynthesisRequest {
            text: text.to_string(),
            rate: rate * factor,
            ..base.clone()
        };
        let segments = crate::ssml::parse(text);
        if let [crate::ssml::Segment::Speech { text, rate: factor }] = segments.as_slice() {
            return tts.speak(&run(text, *factor)).await;
        }
        let key = format!("say\u{0}{}\u{0}{text}", tts.cache_key(&base));
        if let Some(prompt) = self.cached(&key) {
            return Ok(prompt);
        }
        let mut samples: Vec<i16> = Vec::new();
        for segment in &segments {
            match segment {
                crate::ssml::Segment::Break(pause) => {
                    let millis = u32::try_from(pause.as_millis()).unwrap_or(u32::MAX);
                    samples.extend(ivory_dsp::tone::silence(millis));
                }
                crate::ssml::Segment::Speech { text, rate: factor } => {
                    let part = tts.speak(&run(text, *factor)).await?;
                    samples.extend_from_slice(part.samples());
                }
            }
        }
        let prompt = Prompt::from_samples(samples.into());
        self.remember(key, prompt.clone());
        Ok(prompt)
    }

    /// Synthesises `texts` one after the other (so warming never takes more than one
    /// synthesis's share of the machine), each as [`say`](Self::say) would; a failure is a
    /// warning naming `scenario`, never an error.
    pub async fn warm(&self, scenario: &str, texts: &[ConstantSay]) -> WarmOutcome {
        let mut outcome = WarmOutcome::default();
        for say in texts {
            let result = self
                .say(
                    &say.text,
                    say.language.as_deref(),
                    say.voice.as_ref(),
                    say.speech_rate,
                )
                .await;
            match result {
                Ok(_) => outcome.ready += 1,
                Err(error) => {
                    outcome.failed += 1;
                    warn!(scenario, %error, "cannot synthesise a say text ahead of calls");
                }
            }
        }
        outcome
    }

    /// Warms `texts` on a background task (nothing waits for it: calls and start-up go on;
    /// warming tasks take turns, one synthesis at a time); `None` when there is nothing to do
    /// (no text, or no text-to-speech).
    pub fn spawn_warming(
        self: &Arc<Self>,
        scenario: String,
        texts: Vec<ConstantSay>,
    ) -> Option<tokio::task::JoinHandle<WarmOutcome>> {
        if texts.is_empty() || self.tts.is_none() {
            return None;
        }
        let store = self.clone();
        Some(tokio::spawn(async move {
            // The semaphore is never closed, so this waits for its turn.
            let _turn = store.warming.acquire().await.ok();
            let outcome = store.warm(&scenario, &texts).await;
            debug!(
                scenario,
                ready = outcome.ready,
                failed = outcome.failed,
                "say texts synthesised ahead of calls"
            );
            outcome
        }))
    }

    fn resolve(&self, relative: &str) -> Option<PathBuf> {
        let path = Path::new(relative);
        let safe = path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        (safe && !relative.is_empty()).then(|| self.sounds_dir.join(path))
    }

    fn cached(&self, key: &str) -> Option<Prompt> {
        self.cache.lock().ok()?.get(key).cloned()
    }

    fn remember(&self, key: String, prompt: Prompt) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, prompt);
        }
    }
}

/// How long a prompt download may take.
const PROMPT_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The file extension of a URL's path (`wav`, `mp3`), a hint for the decoder.
fn url_extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    last.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds of audio in a prompt.
    fn seconds(prompt: &Prompt) -> f64 {
        prompt.samples().len() as f64 / 8000.0
    }

    #[tokio::test]
    async fn ssml_breaks_and_rates_shape_the_audio_and_runs_are_synthesised_once() {
        let cache = std::env::temp_dir().join(format!("ivory-ssml-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        let Some(espeak) = crate::tts::espeak_or_skip().await else {
            return;
        };
        let tts = TextToSpeech::new(Arc::new(espeak), Some(cache.clone()));
        let store = PromptStore::new(PathBuf::from("/nonexistent"), Some(tts), None);
        let hello = store.say("Hello", None, None, 1.0).await.expect("hello");
        let world = store.say("world", None, None, 1.0).await.expect("world");
        let files_after_plain = std::fs::read_dir(&cache).expect("cache dir").count();
        let paused = store
            .say(
                r#"<speak>Hello <break time="1500ms"/> world</speak>"#,
                None,
                None,
                1.0,
            )
            .await
            .expect("with a break");
        // The two runs came from the cache: nothing new was synthesised.
        assert_eq!(
            std::fs::read_dir(&cache).expect("cache dir").count(),
            files_after_plain
        );
        let expected = seconds(&hello) + 1.5 + seconds(&world);
        assert!(
            (seconds(&paused) - expected).abs() < 0.05,
            "{} s, expected {expected} s",
            seconds(&paused)
        );
        let slow = store
            .say(
                r#"<prosody rate="x-slow">Hello world</prosody>"#,
                None,
                None,
                1.0,
            )
            .await
            .expect("slow");
        let normal = store
            .say("Hello world", None, None, 1.0)
            .await
            .expect("normal");
        assert!(
            seconds(&slow) > 1.4 * seconds(&normal),
            "x-slow {} s vs {} s",
            seconds(&slow),
            seconds(&normal)
        );
        let digits = store
            .say(
                r#"<say-as interpret-as="digits">12345</say-as>"#,
                None,
                None,
                1.0,
            )
            .await
            .expect("digits");
        let number = store.say("12345", None, None, 1.0).await.expect("number");
        assert!(
            (seconds(&digits) - seconds(&number)).abs() > 0.1,
            "digit by digit differs from the number: {} s vs {} s",
            seconds(&digits),
            seconds(&number)
        );
        let _ = std::fs::remove_dir_all(&cache);
    }

    /// Counts syntheses; every text becomes 10 ms of audio per character.
    #[derive(Debug, Default)]
    struct Counting {
        texts: Mutex<Vec<String>>,
    }

    impl crate::tts::SpeechSynthesiser for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        fn voice_key(&self, request: &SynthesisRequest) -> String {
            format!(
                "{}|{:?}|{:?}",
                request.language, request.voice, request.gender
            )
        }
        fn synthesise<'a>(
            &'a self,
            request: &'a SynthesisRequest,
        ) -> crate::tts::SynthesisFuture<'a> {
            self.texts
                .lock()
                .expect("not poisoned")
                .push(request.text.clone());
            let samples = vec![100; request.text.len() * 80];
            Box::pin(async move { Ok(samples) })
        }
    }

    #[tokio::test]
    async fn warming_fills_the_cache_so_calls_never_synthesise_again() {
        let program = ivory_scenario::compile(
            r#"{"name": "warm", "script": [
                {"say": "Welcome to ivory"},
                {"say": "Hello ${name}"},
                {"say": "Press <break time=\"1s\"/> one", "options": {"language": "sv-SE",
                    "voice": {"gender": "female"}}},
                "hangup"
            ]}"#,
        )
        .expect("compiles");
        let dir = std::env::temp_dir().join(format!("ivory-warm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let provider = Arc::new(Counting::default());
        let store = Arc::new(PromptStore::new(
            PathBuf::from("/nonexistent"),
            Some(TextToSpeech::new(provider.clone(), Some(dir.clone()))),
            None,
        ));
        let outcome = store
            .spawn_warming("warm".into(), program.constant_say_texts())
            .expect("there is something to warm")
            .await
            .expect("the task ends");
        assert_eq!(
            outcome,
            WarmOutcome {
                ready: 2,
                failed: 0
            }
        );
        assert_eq!(
            *provider.texts.lock().expect("not poisoned"),
            ["Welcome to ivory", "Press", "one"]
        );
        // A call says the same texts: nothing is synthesised again, and the audio is the same.
        let welcome = store
            .say("Welcome to ivory", None, None, 1.0)
            .await
            .expect("welcome");
        assert_eq!(welcome.samples().len(), 16 * 80);
        let female = Voice {
            name: None,
            gender: Some(ivory_scenario::VoiceGender::Female),
        };
        let press = store
            .say(
                "Press <break time=\"1s\"/> one",
                Some("sv-SE"),
                Some(&female),
                1.0,
            )
            .await
            .expect("press");
        assert_eq!(press.samples().len(), 5 * 80 + 8_000 + 3 * 80);
        assert_eq!(provider.texts.lock().expect("not poisoned").len(), 3);
        // Another voice is another prompt.
        store
            .say("Welcome to ivory", None, Some(&female), 1.0)
            .await
            .expect("female welcome");
        assert_eq!(provider.texts.lock().expect("not poisoned").len(), 4);
        // After a restart the disk cache answers.
        let restarted = PromptStore::new(
            PathBuf::from("/nonexistent"),
            Some(TextToSpeech::new(provider.clone(), Some(dir.clone()))),
            None,
        );
        restarted
            .say("Welcome to ivory", None, None, 1.0)
            .await
            .expect("from disk");
        assert_eq!(provider.texts.lock().expect("not poisoned").len(), 4);
        // Nothing to warm without text-to-speech or without constant texts.
        let silent = Arc::new(PromptStore::new(PathBuf::from("/x"), None, None));
        assert!(
            silent
                .spawn_warming("s".into(), program.constant_say_texts())
                .is_none()
        );
        assert!(store.spawn_warming("s".into(), Vec::new()).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn paths_outside_the_sounds_directory_are_refused() {
        let store = PromptStore::new(PathBuf::from("/nonexistent-sounds"), None, None);
        for bad in ["../etc/passwd", "/etc/passwd", "a/../../b.wav", ""] {
            let error = store.file(bad).await.expect_err("must be refused");
            assert!(
                error.to_string().contains("relative path"),
                "{bad}: {error}"
            );
        }
        let error = store
            .file("https://example.com/a.wav")
            .await
            .expect_err("no client");
        assert!(error.to_string().contains("HTTP client"));
        assert_eq!(
            url_extension("http://h/a/b.MP3?x=1").as_deref(),
            Some("mp3")
        );
        assert_eq!(url_extension("http://h/a/b"), None);
    }
}
