//! Speech recognition providers for `capture`, chosen in `[asr]`: `pocketsphinx` (offline, the
//! default) or `http` (an external recogniser).
//!
//! The leg endpoints the caller's answer on the media worker ([`ivory_dsp::SpeechEndpointer`]) and
//! hands the utterance here; recognition is slow next to a media tick (a fraction of the
//! utterance's length), so it never runs on a media worker or a leg's task:
//! - pocketsphinx runs on its own threads ([`PocketsphinxPool`]), each with its own decoders (they
//!   are not thread-safe); utterances queue for the next free thread;
//! - http posts the utterance as a WAV file and awaits the text ([`HttpRecogniser`]).

use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ivory_asr::{ModelPaths, PocketsphinxRecogniser, Transcript};
use tokio::sync::oneshot;
use tracing::warn;

use crate::EngineError;

pub use ivory_asr::DEBIAN_MODEL_DIRECTORY;
pub use ivory_asr::Transcript as RecognisedSpeech;

/// What to listen for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecognitionRequest {
    /// The scenario's `speechOptions.language` (`None`: the provider's default).
    pub language: Option<String>,
    /// The scenario's `speechOptions.keyPhrases`.
    pub key_phrases: Vec<String>,
}

/// The configured recogniser.
#[derive(Debug)]
pub enum SpeechRecognition {
    Pocketsphinx(PocketsphinxPool),
    Http(HttpRecogniser),
}

impl SpeechRecognition {
    /// Recognises one utterance (8 kHz, 16-bit mono).
    pub async fn recognise(
        &self,
        utterance: Vec<i16>,
        request: RecognitionRequest,
    ) -> Result<Transcript, EngineError> {
        match self {
            Self::Pocketsphinx(pool) => pool.recognise(utterance, request).await,
            Self::Http(recogniser) => recogniser.recognise(utterance, request).await,
        }
    }
}

/// A job for a pocketsphinx thread.
struct Job {
    utterance: Vec<i16>,
    request: RecognitionRequest,
    reply: oneshot::Sender<Result<Transcript, EngineError>>,
}

/// pocketsphinx on `threads` dedicated threads.
#[derive(Debug)]
pub struct PocketsphinxPool {
    jobs: std_mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Job")
            .field("samples", &self.utterance.len())
            .finish()
    }
}

impl PocketsphinxPool {
    /// Checks the model under `model_dir` (an error names the missing file) and starts `threads`
    /// recognising threads (at least one). With `warm`, each loads its language-model decoder at
    /// once (about a second of CPU and 60 MB), so the first caller does not wait for it; without,
    /// on its first utterance (for servers where no loaded scenario captures yet).
    pub fn start(model_dir: &Path, threads: usize, warm: bool) -> Result<Self, EngineError> {
        let paths = ModelPaths::in_directory(model_dir);
        paths
            .check()
            .map_err(|error| EngineError::Asr(error.to_string()))?;
        let dictionary = ivory_asr::load_dictionary(&paths)
            .map_err(|error| EngineError::Asr(error.to_string()))?;
        let (jobs, queue) = std_mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads.max(1) {
            let queue = queue.clone();
            let paths = paths.clone();
            let dictionary = dictionary.clone();
            std::thread::Builder::new()
                .name(format!("ivory-asr-{index}"))
                .spawn(move || recognise_jobs(paths, dictionary, &queue, warm))
                .map_err(|error| EngineError::Asr(format!("cannot start a thread: {error}")))?;
        }
        Ok(Self { jobs })
    }

    async fn recognise(
        &self,
        utterance: Vec<i16>,
        request: RecognitionRequest,
    ) -> Result<Transcript, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                utterance,
                request,
                reply,
            })
            .map_err(|_| EngineError::Asr("the recogniser threads have stopped".into()))?;
        answer
            .await
            .map_err(|_| EngineError::Asr("the recogniser dropped the utterance".into()))?
    }
}

/// One recognising thread: takes jobs until the pool is dropped.
fn recognise_jobs(
    paths: ModelPaths,
    dictionary: Arc<ivory_asr::grammar::PronouncingDictionary>,
    queue: &Mutex<std_mpsc::Receiver<Job>>,
    warm: bool,
) {
    let mut recogniser = match PocketsphinxRecogniser::new(paths, dictionary) {
        Ok(recogniser) => recogniser,
        Err(error) => {
            warn!(%error, "speech recogniser thread cannot start");
            return;
        }
    };
    if warm && let Err(error) = recogniser.warm_up() {
        warn!(%error, "speech recogniser could not load its language model");
    }
    loop {
        // The lock is held only while waiting for the next job, never while decoding.
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let result = recogniser
            .recognise(&job.utterance, &job.request.key_phrases)
            .map_err(|error| EngineError::Asr(error.to_string()));
        job.reply.send(result).ok();
    }
}

/// `[asr] provider = "http"`: POSTs the utterance as an 8 kHz mono WAV file to `url`, with the
/// language and key phrases as query parameters (`language`, `keyPhrases` comma-separated), and
/// reads the transcript from a JSON body's `text` (or a `text/plain` body).
#[derive(Debug, Clone)]
pub struct HttpRecogniser {
    pub url: String,
    pub timeout: Duration,
    pub headers: Vec<(String, String)>,
    pub client: crate::http_client::HttpClient,
}

impl HttpRecogniser {
    async fn recognise(
        &self,
        utterance: Vec<i16>,
        request: RecognitionRequest,
    ) -> Result<Transcript, EngineError> {
        let mut url = self.url.clone();
        let mut separator = if url.contains('?') { '&' } else { '?' };
        if let Some(language) = &request.language {
            url.push_str(&format!("{separator}language={}", percent_encode(language)));
            separator = '&';
        }
        if !request.key_phrases.is_empty() {
            let phrases = request.key_phrases.join(",");
            url.push_str(&format!(
                "{separator}keyPhrases={}",
                percent_encode(&phrases)
            ));
        }
        let body = wav_bytes(&utterance);
        let mut headers = self.headers.clone();
        headers.push(("Content-Type".into(), "audio/wav".into()));
        let response = self
            .client
            .post_bytes(&url, headers, body, self.timeout)
            .await
            .map_err(|reason| EngineError::Asr(format!("recogniser at {}: {reason}", self.url)))?;
        if !(200..300).contains(&response.status) {
            return Err(EngineError::Asr(format!(
                "recogniser at {} answered {}",
                self.url, response.status
            )));
        }
        let text =
            transcript_text(response.content_type.as_deref(), &response.body).ok_or_else(|| {
                EngineError::Asr(format!(
                    "recogniser at {} answered without a transcript",
                    self.url
                ))
            })?;
        Ok(Transcript {
            text,
            key_phrases_heard: None,
        })
    }
}

/// The transcript in a recogniser's answer: JSON `{"text": "..."}` or plain text.
pub fn transcript_text(content_type: Option<&str>, body: &[u8]) -> Option<String> {
    let is_json = content_type.is_some_and(|kind| kind.contains("json"))
        || body.first().is_some_and(|&byte| byte == b'{');
    if is_json {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        return value
            .get("text")
            .and_then(serde_json::Value::as_str)
            .map(|text| text.trim().to_owned());
    }
    std::str::from_utf8(body)
        .ok()
        .map(|text| text.trim().to_owned())
}

/// An 8 kHz mono 16-bit WAV file of `samples`.
pub fn wav_bytes(samples: &[i16]) -> Vec<u8> {
    let data_length = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX - 36);
    let mut bytes = Vec::with_capacity(44 + samples.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_length).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&8000u32.to_le_bytes());
    bytes.extend_from_slice(&16000u32.to_le_bytes()); // bytes per second
    bytes.extend_from_slice(&2u16.to_le_bytes()); // block align
    bytes.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_length.to_le_bytes());
    for sample in samples {
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    bytes
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_is_read_from_json_or_plain_text() {
        assert_eq!(
            transcript_text(Some("application/json"), br#"{"text": " more info "}"#),
            Some("more info".into())
        );
        assert_eq!(
            transcript_text(None, br#"{"text":"yes"}"#),
            Some("yes".into())
        );
        assert_eq!(
            transcript_text(Some("text/plain"), b"agent\n"),
            Some("agent".into())
        );
        assert_eq!(
            transcript_text(Some("application/json"), br#"{"words": []}"#),
            None
        );
        assert_eq!(
            transcript_text(Some("application/json"), b"{not json"),
            None
        );
    }

    #[test]
    fn the_wav_decodes_to_the_same_samples() {
        let samples: Vec<i16> = (0..800).map(|n| ((n * 37) % 2000 - 1000) as i16).collect();
        let decoded = ivory_dsp::decode::decode_audio(&wav_bytes(&samples), Some("wav"))
            .expect("a WAV ivory wrote decodes");
        assert_eq!(decoded.len(), samples.len());
        assert!(decoded.iter().zip(&samples).all(|(a, b)| a == b));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(percent_encode("en-US"), "en-US");
        assert_eq!(percent_encode("more info,yes"), "more%20info%2Cyes");
    }
}
