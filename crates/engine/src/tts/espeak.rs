//! The `espeak-ng` program as a [`SpeechSynthesiser`]: run once per prompt (its library is never
//! linked: it is GPL-3+), the text on standard input so that a text starting with `-` is never an
//! option, its 22.05 kHz WAV decoded to 8 kHz.
//!
//! Voices: the language code picks the espeak voice ([`espeak_voice`]); `options.voice.gender`
//! female adds the `+f3` variant (every espeak language voice is male already, so male adds
//! nothing); `options.voice.name` may name
//!
//! - a variant, alone or after `+` (`f3`, `+klatt`, `Annie`, `female2`): spoken with the
//!   language's voice;
//! - a voice (`en-gb`) or a voice with a variant (`en-us+f3`).
//!
//! Names are checked against what `espeak-ng --voices` and `--voices=variant` listed at start
//! (and against a safe character set), so nothing odd reaches the command line; a name espeak
//! does not know (an Infobip or cloud voice name such as `Joanna`) is ignored and the language
//! and gender decide, so a scenario written for another engine still speaks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use super::{SpeechSynthesiser, SynthesisFuture, SynthesisRequest, VoiceGender};
use crate::EngineError;

/// espeak-ng's normal speed, in words a minute (rate 1.0).
const NORMAL_WORDS_PER_MINUTE: f32 = 175.0;
/// The speeds espeak-ng accepts.
const WORDS_PER_MINUTE_RANGE: (f32, f32) = (80.0, 450.0);
/// The variant a female voice gets.
const FEMALE_VARIANT: &str = "f3";
/// Longest voice name considered.
const MAX_VOICE_NAME_CHARS: usize = 64;
/// A synthesis that takes longer than this is a hung process.
const SYNTHESIS_TIMEOUT: Duration = Duration::from_secs(60);

/// The espeak-ng program as a text-to-speech engine.
#[derive(Debug, Clone)]
pub struct EspeakTts {
    program: PathBuf,
    voices: EspeakVoices,
}

impl EspeakTts {
    /// Checks that the program runs (a clear error otherwise) and learns its voices.
    pub async fn locate(program: PathBuf) -> Result<Self, EngineError> {
        let status = tokio::process::Command::new(&program)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await;
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                return Err(EngineError::Tts(format!(
                    "{} --version exited with {status}",
                    program.display()
                )));
            }
            Err(error) => {
                return Err(EngineError::Tts(format!(
                    "cannot run {} ({error}); install the espeak-ng package",
                    program.display()
                )));
            }
        }
        let languages = list(&program, "--voices").await;
        let variants = list(&program, "--voices=variant").await;
        if languages.is_empty() || variants.is_empty() {
            tracing::warn!(
                program = %program.display(),
                "cannot list espeak-ng voices: say's voice names will be ignored"
            );
        }
        Ok(Self {
            program,
            voices: EspeakVoices::parse(&languages, &variants),
        })
    }

    /// The espeak `-v` argument for a request (`en-us`, `en-us+f3`).
    pub fn resolve_voice(&self, request: &SynthesisRequest) -> String {
        self.voices
            .resolve(&request.language, request.voice.as_deref(), request.gender)
    }

    async fn run(&self, request: &SynthesisRequest) -> Result<Vec<i16>, EngineError> {
        let voice = self.resolve_voice(request);
        let words_per_minute = (NORMAL_WORDS_PER_MINUTE * super::clamp_rate(request.rate))
            .round()
            .clamp(WORDS_PER_MINUTE_RANGE.0, WORDS_PER_MINUTE_RANGE.1)
            as u32;
        let mut child = tokio::process::Command::new(&self.program)
            .args([
                "-v",
                &voice,
                "-s",
                &words_per_minute.to_string(),
                "--stdout",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                EngineError::Tts(format!("cannot start {}: {e}", self.program.display()))
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            use tokio::io::AsyncWriteExt;
            stdin
                .write_all(request.text.as_bytes())
                .await
                .map_err(|e| EngineError::Tts(format!("espeak-ng standard input: {e}")))?;
        }
        let output = tokio::time::timeout(SYNTHESIS_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| EngineError::Tts(format!("espeak-ng took over {SYNTHESIS_TIMEOUT:?}")))?
            .map_err(|e| EngineError::Tts(format!("espeak-ng: {e}")))?;
        if !output.status.success() || output.stdout.is_empty() {
            return Err(EngineError::Tts(format!(
                "espeak-ng -v {voice} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let wav = output.stdout;
        tokio::task::spawn_blocking(move || ivory_dsp::decode::decode_audio(&wav, Some("wav")))
            .await
            .map_err(|e| EngineError::Tts(e.to_string()))?
            .map_err(|source| EngineError::TtsAudio {
                provider: "espeak-ng".into(),
                source,
            })
    }
}

impl SpeechSynthesiser for EspeakTts {
    fn name(&self) -> &str {
        "espeak-ng"
    }

    fn voice_key(&self, request: &SynthesisRequest) -> String {
        self.resolve_voice(request)
    }

    fn synthesise<'a>(&'a self, request: &'a SynthesisRequest) -> SynthesisFuture<'a> {
        Box::pin(self.run(request))
    }
}

/// The espeak-ng voice for an Infobip-style language code (`en`, `en-US`, `de-DE`, `sv-SE`, ...).
pub fn espeak_voice(language: Option<&str>) -> String {
    let code = language
        .unwrap_or(super::DEFAULT_LANGUAGE)
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

/// The voices and variants an espeak-ng installation has.
#[derive(Debug, Clone, Default)]
struct EspeakVoices {
    /// `--voices`' Language column, lower case (`en-us`, `sv`).
    languages: BTreeSet<String>,
    /// Variant name or file name, lower case → the file name espeak wants after `+`
    /// (`female3` → `f3`, `annie` → `Annie`).
    variants: BTreeMap<String, String>,
}

impl EspeakVoices {
    /// Reads the tables `espeak-ng --voices` and `--voices=variant` print: a header line, then
    /// `Pty Language Age/Gender VoiceName File ...` per voice.
    fn parse(languages: &str, variants: &str) -> Self {
        let rows = |table: &str| -> Vec<Vec<String>> {
            table
                .lines()
                .skip(1)
                .map(|line| line.split_whitespace().map(str::to_string).collect())
                .filter(|columns: &Vec<String>| columns.len() >= 5)
                .collect()
        };
        let mut voices = Self::default();
        for columns in rows(languages) {
            voices.languages.insert(columns[1].to_ascii_lowercase());
        }
        for columns in rows(variants) {
            let Some(file) = columns[4].strip_prefix("!v/") else {
                continue;
            };
            if !is_safe_name(file) {
                continue;
            }
            voices
                .variants
                .insert(columns[3].to_ascii_lowercase(), file.to_string());
            voices
                .variants
                .insert(file.to_ascii_lowercase(), file.to_string());
        }
        voices
    }

    fn resolve(&self, language: &str, name: Option<&str>, gender: Option<VoiceGender>) -> String {
        let base = espeak_voice(Some(language));
        let with_gender = |voice: &str| match gender {
            Some(VoiceGender::Female) => format!("{voice}+{FEMALE_VARIANT}"),
            Some(VoiceGender::Male) | None => voice.to_string(),
        };
        let Some(name) = name.filter(|name| is_safe_name(name)) else {
            return with_gender(&base);
        };
        let lowered = name.to_ascii_lowercase();
        match lowered.split_once('+') {
            Some((voice, variant)) => {
                let voice = if voice.is_empty() {
                    Some(base.as_str())
                } else {
                    self.languages.get(voice).map(String::as_str)
                };
                if let (Some(voice), Some(file)) = (voice, self.variants.get(variant)) {
                    return format!("{voice}+{file}");
                }
            }
            None => {
                if let Some(file) = self.variants.get(&lowered) {
                    return format!("{base}+{file}");
                }
                if self.languages.contains(&lowered) {
                    return with_gender(&lowered);
                }
            }
        }
        with_gender(&base)
    }
}

/// Letters, digits, `-`, `_` and `+`, not starting with `-`: nothing a command line could
/// read as anything but a voice name.
fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_VOICE_NAME_CHARS
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+'))
}

/// What `program ARGUMENT` prints, or nothing when it fails.
async fn list(program: &PathBuf, argument: &str) -> String {
    let output = tokio::process::Command::new(program)
        .arg(argument)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    match output {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOICES: &str =
        "Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  af              --/M      Afrikaans          gmw/af
 2  en-gb           --/M      English_(Great_Britain) gmw/en               (en 2)
 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
 5  sv              --/M      Swedish            gmw/sv
";
    const VARIANTS: &str =
        "Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  variant         --/F      Annie              !v/Annie
 5  variant         --/M      klatt              !v/klatt
 5  variant         --/F      female3            !v/f3
 5  variant         --/M      Bad                !v/$(x)
";

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

    #[test]
    fn names_and_genders_resolve_to_known_voices_only() {
        let voices = EspeakVoices::parse(VOICES, VARIANTS);
        let female = Some(VoiceGender::Female);
        let male = Some(VoiceGender::Male);
        let cases = [
            ("en-US", None, None, "en-us"),
            ("en-US", None, female, "en-us+f3"),
            ("sv-SE", None, male, "sv"),
            ("en-US", Some("annie"), None, "en-us+Annie"),
            ("en-US", Some("Female3"), male, "en-us+f3"),
            ("sv-SE", Some("+klatt"), None, "sv+klatt"),
            ("sv-SE", Some("en-gb+Annie"), None, "en-gb+Annie"),
            ("sv-SE", Some("en-GB"), female, "en-gb+f3"),
            // Unknown names, unsafe names: language and gender decide.
            ("en-US", Some("Joanna"), female, "en-us+f3"),
            ("en-US", Some("xx+Annie"), None, "en-us"),
            ("en-US", Some("en-us+nosuch"), None, "en-us"),
            ("en-US", Some("-v"), None, "en-us"),
            ("en-US", Some("$(x)"), None, "en-us"),
            ("en-US", Some("a b"), None, "en-us"),
        ];
        for (language, name, gender, expected) in cases {
            assert_eq!(
                voices.resolve(language, name, gender),
                expected,
                "{language} {name:?} {gender:?}"
            );
        }
        // Without the lists (espeak could not list them) only the gender is honoured.
        let unknown = EspeakVoices::default();
        assert_eq!(unknown.resolve("de", Some("klatt"), female), "de+f3");
    }

    #[tokio::test]
    async fn gender_and_voice_names_change_the_audio() {
        let Some(tts) = crate::tts::espeak_or_skip().await else {
            return;
        };
        let mut request = SynthesisRequest::new("Hello, this is ivory.");
        let plain = tts.synthesise(&request).await.expect("plain");
        request.gender = Some(VoiceGender::Female);
        assert_eq!(tts.voice_key(&request), "en-us+f3");
        let female = tts.synthesise(&request).await.expect("female");
        assert!(plain.len() > 4_000 && female.len() > 4_000);
        assert_ne!(plain, female, "a female voice sounds different");
        request.gender = None;
        request.voice = Some("klatt".into());
        assert_eq!(tts.voice_key(&request), "en-us+klatt");
        let klatt = tts.synthesise(&request).await.expect("klatt");
        assert_ne!(plain, klatt, "a variant sounds different");
        request.voice = Some("Joanna".into());
        let unknown = tts.synthesise(&request).await.expect("unknown name");
        assert_eq!(plain, unknown, "an unknown name is ignored");
    }
}
