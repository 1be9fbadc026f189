//! Starting `[asr]`'s recogniser at start-up.
//!
//! Decision: a missing model (or a bad `[asr]`) stops the server only when a loaded scenario uses
//! `capture`; otherwise it is a warning, and `capture` in a scenario stored later through the API
//! fails its action with a note ("no speech recogniser is configured"). pocketsphinx threads load
//! their language model (about a second of CPU, 60 MB) at start-up only when a scenario captures;
//! otherwise on their first utterance.

use anyhow::Result;
use ivory_engine::asr::{HttpRecogniser, PocketsphinxPool, SpeechRecognition};
use ivory_engine::http_client::HttpClient;
use std::time::Duration;
use tracing::{info, warn};

use crate::config_asr::AsrSection;

/// The recogniser `[asr]` names, or `None` (with a warning) when it cannot start and no loaded
/// scenario needs it.
pub fn speech_recognition(
    asr: &AsrSection,
    http: &HttpClient,
    uses_capture: bool,
) -> Result<Option<SpeechRecognition>> {
    let started = match (asr.provider.as_str(), asr.url.clone()) {
        // Config validation made sure an http provider has its url.
        ("http", Some(url)) => Ok(SpeechRecognition::Http(HttpRecogniser {
            url,
            timeout: Duration::from_millis(asr.timeout_ms),
            headers: asr.headers.clone().into_iter().collect(),
            client: http.clone(),
        })),
        _ => PocketsphinxPool::start(&asr.model_dir, asr.threads, uses_capture)
            .map(SpeechRecognition::Pocketsphinx)
            .map_err(|error| format!("asr.model_dir: {error}")),
    };
    match started {
        Ok(recognition) => {
            info!(provider = %asr.provider, "speech recognition ready");
            Ok(Some(recognition))
        }
        Err(error) if uses_capture => {
            anyhow::bail!(
                "a scenario uses `capture`, but speech recognition is unavailable: {error}"
            )
        }
        Err(error) => {
            warn!(%error, "speech recognition unavailable (no loaded scenario uses `capture`)");
            Ok(None)
        }
    }
}
