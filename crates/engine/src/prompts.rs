//! Prompts: audio files under the sounds directory and text-to-speech, decoded once to 8 kHz and
//! shared between calls.
//!
//! File prompts are named by a path relative to the sounds directory (`demo-menu.wav`,
//! `en/welcome.mp3`); absolute paths and `..` are refused so that a `${...}` built from caller input
//! cannot read other files. `http(s)://` URLs are fetched once and kept by URL. Decoding runs on the
//! blocking pool. A prompt that fails is a note in the call log, and the scenario goes on.
//!
//! Speech is synthesised by the `espeak-ng` program (never linked: it is GPL), cached on disk by
//! (engine, voice, rate, text) and in memory, so a prompt is synthesised once.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use ivory_rtp::Prompt;

use crate::EngineError;
use crate::http_client::HttpClient;

/// The shared prompt store.
#[derive(Debug)]
pub struct PromptStore {
    sounds_dir: PathBuf,
    tts: Option<EspeakTts>,
    http: Option<HttpClient>,
    cache: Mutex<HashMap<String, Prompt>>,
}

impl PromptStore {
    pub fn new(sounds_dir: PathBuf, tts: Option<EspeakTts>, http: Option<HttpClient>) -> Self {
        Self {
            sounds_dir,
            tts,
            http,
            cache: Mutex::new(HashMap::new()),
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
    /// silence, and the whole is cached too.
    pub async fn say(
        &self,
        text: &str,
        language: Option<&str>,
        speech_rate: f32,
    ) -> Result<Prompt, EngineError> {
        let tts = self
            .tts
            .as_ref()
            .ok_or_else(|| EngineError::Tts("no text-to-speech provider is configured".into()))?;
        let voice = espeak_voice(language);
        let rate = speech_rate.clamp(0.5, 2.0);
        let segments = crate::ssml::parse(text);
        if let [crate::ssml::Segment::Speech { text, rate: factor }] = segments.as_slice() {
            return self.speak(tts, &voice, rate * factor, text).await;
        }
        let key = format!("say\u{0}{voice}\u{0}{rate}\u{0}{text}");
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
                    let part = self.speak(tts, &voice, rate * factor, text).await?;
                    samples.extend_from_slice(part.samples());
                }
            }
        }
        let prompt = Prompt::from_samples(samples.into());
        self.remember(key, prompt.clone());
        Ok(prompt)
    }

    /// One run of plain text at `rate` (1.0 = espeak-ng's 175 words a minute).
    async fn speak(
        &self,
        tts: &EspeakTts,
        voice: &str,
        rate: f32,
        text: &str,
    ) -> Result<Prompt, EngineError> {
        let words_per_minute = (175.0 * rate.clamp(0.25, 4.0)).round().clamp(80.0, 450.0) as u32;
        let key = format!("espeak-ng\u{0}{voice}\u{0}{words_per_minute}\u{0}{text}");
        if let Some(prompt) = self.cached(&key) {
            return Ok(prompt);
        }
        let wav = tts.synthesise(text, voice, words_per_minute, &key).await?;
        let samples =
            tokio::task::spawn_blocking(move || ivory_dsp::decode::decode_audio(&wav, Some("wav")))
                .await
                .map_err(|e| EngineError::Tts(e.to_string()))?
                .map_err(|e| EngineError::Tts(e.to_string()))?;
        let prompt = Prompt::from_samples(samples.into());
        self.remember(key, prompt.clone());
        Ok(prompt)
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

/// The espeak-ng voice for an Infobip-style language code (`en`, `en-US`, `de-DE`, `sv-SE`, ...).
pub fn espeak_voice(language: Option<&str>) -> String {
    let code = language
        .unwrap_or("en-US")
        .to_ascii_lowercase()
        .replace('_', "-");
    match code.as_str() {
        "en" | "en-us" => "en-us".into(),
        "en-gb" | "en-uk" => "en-gb".into(),
        "pt-br" => "pt-br".into(),
        "es-419" | "es-mx" | "es-us" => "es-419".into(),
        "zh" | "zh-cn" => "cmn".into(),
        "no" | "nb-no" => "nb".into(),
        other => other.split('-').next().unwrap_or("en").to_string(),
    }
}

/// The espeak-ng program as a text-to-speech engine.
#[derive(Debug, Clone)]
pub struct EspeakTts {
    program: PathBuf,
    cache_dir: PathBuf,
}

impl EspeakTts {
    /// Checks that the program runs; a clear error otherwise.
    pub async fn locate(program: PathBuf, cache_dir: PathBuf) -> Result<Self, EngineError> {
        let status = tokio::process::Command::new(&program)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await;
        match status {
            Ok(status) if status.success() => Ok(Self { program, cache_dir }),
            Ok(status) => Err(EngineError::Tts(format!(
                "{} --version exited with {status}",
                program.display()
            ))),
            Err(error) => Err(EngineError::Tts(format!(
                "cannot run {} ({error}); install the espeak-ng package",
                program.display()
            ))),
        }
    }

    async fn synthesise(
        &self,
        text: &str,
        voice: &str,
        words_per_minute: u32,
        key: &str,
    ) -> Result<Vec<u8>, EngineError> {
        let cached = self
            .cache_dir
            .join(format!("{:016x}.wav", fnv1a(key.as_bytes())));
        if let Ok(bytes) = tokio::fs::read(&cached).await {
            return Ok(bytes);
        }
        let mut child = tokio::process::Command::new(&self.program)
            .args(["-v", voice, "-s", &words_per_minute.to_string(), "--stdout"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                EngineError::Tts(format!("cannot start {}: {e}", self.program.display()))
            })?;
        // The text goes through standard input so that a text starting with '-' is never an option.
        if let Some(mut stdin) = child.stdin.take() {
            use tokio::io::AsyncWriteExt;
            stdin
                .write_all(text.as_bytes())
                .await
                .map_err(|e| EngineError::Tts(e.to_string()))?;
        }
        let output = child
            .wait_with_output()
            .await
            .map_err(|e| EngineError::Tts(e.to_string()))?;
        if !output.status.success() || output.stdout.is_empty() {
            return Err(EngineError::Tts(format!(
                "espeak-ng failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        if tokio::fs::create_dir_all(&self.cache_dir).await.is_ok() {
            // A cache write failure costs a later re-synthesis, nothing more.
            let partial = cached.with_extension("partial");
            if tokio::fs::write(&partial, &output.stdout).await.is_ok() {
                tokio::fs::rename(&partial, &cached).await.ok();
            }
        }
        Ok(output.stdout)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voices_for_language_codes() {
        assert_eq!(espeak_voice(None), "en-us");
        assert_eq!(espeak_voice(Some("en-US")), "en-us");
        assert_eq!(espeak_voice(Some("en-GB")), "en-gb");
        assert_eq!(espeak_voice(Some("de-DE")), "de");
        assert_eq!(espeak_voice(Some("sv_SE")), "sv");
        assert_eq!(espeak_voice(Some("zh-CN")), "cmn");
        assert_eq!(espeak_voice(Some("no")), "nb");
    }

    /// Seconds of audio in a prompt.
    fn seconds(prompt: &Prompt) -> f64 {
        prompt.samples().len() as f64 / 8000.0
    }

    #[tokio::test]
    async fn ssml_breaks_and_rates_shape_the_audio_and_runs_are_synthesised_once() {
        let program = PathBuf::from("espeak-ng");
        let cache = std::env::temp_dir().join(format!("ivory-ssml-cache-{}", std::process::id()));
        let tts = match EspeakTts::locate(program, cache.clone()).await {
            Ok(tts) => tts,
            Err(error) => {
                assert!(
                    std::env::var_os("IVORY_REQUIRE_PEERS").is_none(),
                    "espeak-ng is required: {error}"
                );
                return;
            }
        };
        let store = PromptStore::new(PathBuf::from("/nonexistent"), Some(tts), None);
        let hello = store.say("Hello", None, 1.0).await.expect("hello");
        let world = store.say("world", None, 1.0).await.expect("world");
        let files_after_plain = std::fs::read_dir(&cache).expect("cache dir").count();
        let paused = store
            .say(
                r#"<speak>Hello <break time="1500ms"/> world</speak>"#,
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
            .say(r#"<prosody rate="x-slow">Hello world</prosody>"#, None, 1.0)
            .await
            .expect("slow");
        let normal = store.say("Hello world", None, 1.0).await.expect("normal");
        assert!(
            seconds(&slow) > 1.4 * seconds(&normal),
            "x-slow {} s vs {} s",
            seconds(&slow),
            seconds(&normal)
        );
        let digits = store
            .say(r#"<say-as interpret-as="digits">12345</say-as>"#, None, 1.0)
            .await
            .expect("digits");
        let number = store.say("12345", None, 1.0).await.expect("number");
        assert!(
            (seconds(&digits) - seconds(&number)).abs() > 0.1,
            "digit by digit differs from the number: {} s vs {} s",
            seconds(&digits),
            seconds(&number)
        );
        let _ = std::fs::remove_dir_all(&cache);
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
