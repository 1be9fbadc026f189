//! `[asr]`: the speech recogniser behind `capture`.
//!
//! ```toml
//! [asr]
//! provider = "pocketsphinx"          # or "http"
//! model_dir = "/usr/share/pocketsphinx/model/en-us"   # pocketsphinx: Debian's pocketsphinx-en-us
//! threads = 1                        # pocketsphinx: utterances recognised at once
//! url = "https://asr.example/v1"     # http: POST audio/wav, answer {"text": "..."} or text/plain
//! timeout_ms = 10000                 # http
//! headers = { Authorization = "Bearer ..." }   # http, optional
//! ```
//!
//! The recogniser is started only when a loaded scenario uses `capture`; a missing model is then
//! a start-up error naming the file, and otherwise only a warning.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The recognisers `[asr] provider` names.
pub const ASR_PROVIDERS: [&str; 2] = ["pocketsphinx", "http"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsrSection {
    #[serde(default = "default_provider")]
    pub provider: String,
    #[serde(default = "default_model_dir")]
    pub model_dir: PathBuf,
    #[serde(default = "default_threads")]
    pub threads: usize,
    pub url: Option<String>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Default for AsrSection {
    fn default() -> Self {
        Self {
            provider: default_provider(),
            model_dir: default_model_dir(),
            threads: default_threads(),
            url: None,
            timeout_ms: default_timeout_ms(),
            headers: BTreeMap::new(),
        }
    }
}

impl AsrSection {
    /// The problem with the section, as (key, message).
    pub fn problem(&self) -> Option<(String, String)> {
        let problem = |key: &str, message: String| Some((format!("asr.{key}"), message));
        if !ASR_PROVIDERS.contains(&self.provider.as_str()) {
            return problem(
                "provider",
                format!(
                    "unknown provider {:?} (available: {})",
                    self.provider,
                    ASR_PROVIDERS.map(|p| format!("{p:?}")).join(", ")
                ),
            );
        }
        if !(1..=64).contains(&self.threads) {
            return problem("threads", "must be 1 to 64".into());
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            return problem("timeout_ms", "must be 100 to 120000".into());
        }
        if self.provider == "http" {
            match self.url.as_deref() {
                None => return problem("url", "the http provider needs a url".into()),
                Some(url) if !crate::config::is_http_url(url) => {
                    return problem("url", format!("{url:?} is not an http(s) URL"));
                }
                Some(_) => {}
            }
        }
        crate::config::header_problem(&self.headers)
            .and_then(|(key, message)| problem(&key, message))
    }
}

fn default_provider() -> String {
    "pocketsphinx".into()
}
fn default_model_dir() -> PathBuf {
    PathBuf::from(ivory_engine::asr::DEBIAN_MODEL_DIRECTORY)
}
fn default_threads() -> usize {
    1
}
fn default_timeout_ms() -> u64 {
    10_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> AsrSection {
        toml::from_str(text).expect("parses")
    }

    #[test]
    fn defaults_are_pocketsphinx_on_debians_model() {
        let asr = AsrSection::default();
        assert_eq!(asr.provider, "pocketsphinx");
        assert_eq!(
            asr.model_dir,
            PathBuf::from("/usr/share/pocketsphinx/model/en-us")
        );
        assert_eq!(asr.problem(), None);
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |text: &str| section(text).problem().map(|(key, _)| key);
        assert_eq!(key("provider = \"whisper\""), Some("asr.provider".into()));
        assert_eq!(key("threads = 0"), Some("asr.threads".into()));
        assert_eq!(key("provider = \"http\""), Some("asr.url".into()));
        assert_eq!(
            key("provider = \"http\"\nurl = \"ftp://x\""),
            Some("asr.url".into())
        );
        assert_eq!(key("timeout_ms = 5"), Some("asr.timeout_ms".into()));
        assert_eq!(
            key(
                "provider = \"http\"\nurl = \"http://127.0.0.1:9/asr\"\nheaders = { X-Key = \"k\" }"
            ),
            None
        );
        assert_eq!(
            key("headers = { \"bad name\" = \"x\" }"),
            Some("asr.headers.bad name".into())
        );
        assert!(
            toml::from_str::<AsrSection>("modeldir = \"x\"").is_err(),
            "unknown key"
        );
    }
}
