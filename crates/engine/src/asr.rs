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
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ivory_asr::grammar::PronouncingDictionary;
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
        // The pronouncing dictionary takes about 28 MB: loaded now when scenarios capture, else
        // by the first utterance (an idle server that never recognises does not hold it).
        let dictionary = SharedDictionary::default();
        if warm {
            load_dictionary(&dictionary, &paths).map_err(EngineError::Asr)?;
        }
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
/// The pronouncing dictionary, loaded once for all the pool's threads.
type SharedDictionary = Arc<OnceLock<Result<Arc<PronouncingDictionary>, String>>>;

fn load_dictionary(
    shared: &SharedDictionary,
    paths: &ModelPaths,
) -> Result<Arc<PronouncingDictionary>, String> {
    shared
        .get_or_init(|| ivory_asr::load_dictionary(paths).map_err(|error| error.to_string()))
        .clone()
}

fn recognise_jobs(
    paths: ModelPaths,
    dictionary: SharedDictionary,
    queue: &Mutex<std_mpsc::Receiver<Job>>,
    warm: bool,
) {
    let create = || {
        let dictionary = load_dictionary(&dictionary, &paths)?;
        PocketsphinxRecogniser::new(paths.clone(), dictionary).map_err(|error| error.to_string())
    };
    let mut recogniser = None;
    if warm {
        match create() {
            Ok(mut ready) => {
                if let Err(error) = ready.warm_up() {
                    warn!(%error, "speech recogniser could not load its language model");
                }
                recogniser = Some(ready);
            }
            Err(error) => warn!(%error, "speech recogniser thread cannot start"),
        }
    }
    loop {
        // The lock is held only while waiting for the next job, never while decoding.
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let ready = match &mut recogniser {
            Some(ready) => ready,
            empty @ None => match create() {
                Ok(created) => empty.insert(created),
                Err(error) => {
                    job.reply.send(Err(EngineError::Asr(error))).ok();
                    continue;
                }
            },
        };
        let result = ready
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
        let url = recognition_url(&self.url, &request)?;
        let body = wav_bytes(&utterance);
        let mut headers = self.headers.clone();
        headers.push(("Content-Type".into(), "audio/wav".into()));
        let response = self
            .client
            .post_bytes(url.as_str(), headers, body, self.timeout)
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
    let pcm: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    crate::tts::pcm::wav_bytes(&pcm, 8_000, 1)
}

/// `base` with the request's `language` and comma-separated `keyPhrases` as query parameters.
fn recognition_url(base: &str, request: &RecognitionRequest) -> Result<reqwest::Url, EngineError> {
    let mut url = reqwest::Url::parse(base)
        .map_err(|error| EngineError::Asr(format!("recogniser url {base:?}: {error}")))?;
    let language = request
        .language
        .iter()
        .map(|language| ("language", language.clone()));
    let phrases =
        (!request.key_phrases.is_empty()).then(|| ("keyPhrases", request.key_phrases.join(",")));
    let parameters: Vec<(&str, String)> = language.chain(phrases).collect();
    // Opening the query serialiser adds a `?` even when nothing is appended.
    if !parameters.is_empty() {
        url.query_pairs_mut().extend_pairs(parameters);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool started cold (no loaded scenario captures) loads its dictionary and decoders on the
    /// first utterance, and answers it.
    #[tokio::test]
    async fn a_cold_pool_loads_its_model_on_the_first_utterance() {
        let model = Path::new(ivory_asr::DEBIAN_MODEL_DIRECTORY);
        if ModelPaths::in_directory(model).check().is_err() {
            assert!(
                std::env::var("IVORY_REQUIRE_PEERS").as_deref() != Ok("1"),
                "pocketsphinx-en-us is missing and IVORY_REQUIRE_PEERS=1"
            );
            eprintln!("SKIPPED: pocketsphinx-en-us is not installed");
            return;
        }
        let pool = PocketsphinxPool::start(model, 1, false).expect("the pool starts");
        let silence = vec![0i16; 8000];
        let request = RecognitionRequest {
            language: None,
            key_phrases: vec!["yes".into()],
        };
        let transcript = pool.recognise(silence, request).await.expect("recognised");
        assert_eq!(transcript.key_phrases_heard.as_deref(), Some(""));
        let missing = PocketsphinxPool::start(Path::new("/nonexistent"), 1, false);
        assert!(
            missing.is_err(),
            "the model files are still checked at start"
        );
    }

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
    fn the_language_and_key_phrases_are_query_parameters() {
        let request = RecognitionRequest {
            language: Some("en-US".into()),
            key_phrases: vec!["more info".into(), "yes".into()],
        };
        let url = recognition_url("http://127.0.0.1:9/asr?tenant=a", &request).expect("a URL");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/asr?tenant=a&language=en-US&keyPhrases=more+info%2Cyes"
        );
        let bare = recognition_url("http://127.0.0.1:9/asr", &RecognitionRequest::default());
        assert_eq!(bare.expect("a URL").as_str(), "http://127.0.0.1:9/asr");
        assert!(recognition_url("not a url", &request).is_err());
    }
}
