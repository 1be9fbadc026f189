//! An HTTP text-to-speech service as a [`SpeechSynthesiser`]: one POST per run of text, through
//! the shared [`HttpClient`].
//!
//! The request body is JSON, `{"text", "language", "voice", "gender", "rate"}` (`voice` and
//! `gender` are `null` when the scenario names none; `gender` is `"female"` or `"male"`; `rate`
//! is a number, 1 = normal), with `Content-Type: application/json`, the configured headers and,
//! with an `api_key`, `Authorization: Bearer <key>`.
//!
//! A 2xx answer's body is audio, told apart by its `Content-Type` (or its first bytes):
//!
//! - a WAV file (`audio/wav`, `audio/x-wav`, `audio/wave`, or a body starting with `RIFF`);
//! - an MP3 file (`audio/mpeg`);
//! - raw signed 16-bit **little-endian** PCM: `audio/L16;rate=16000[;channels=1]`, or any other
//!   type (`audio/pcm`, `application/octet-stream`, none) when `sample_rate` is configured.
//!   RFC 2586 makes `audio/L16` big-endian; the services this is for send little-endian
//!   under that name, as ivory reads it.
//!
//! Everything is converted to 8 kHz mono by `ivory_dsp::decode` (rubato resampling). A non-2xx
//! answer, a timeout, or a body that is not audio is an error naming the provider and why.

use std::time::Duration;

use super::{SpeechSynthesiser, SynthesisFuture, SynthesisRequest, VoiceGender, pcm};
use crate::EngineError;
use crate::http_client::HttpClient;

/// How much of an error answer's body goes into the error message.
const ERROR_BODY_CHARS: usize = 200;
/// The most channels a raw PCM answer may declare.
const MAX_CHANNELS: u16 = 8;

/// Where and how to reach the service.
#[derive(Debug, Clone)]
pub struct HttpTtsConfig {
    /// The `http://` or `https://` URL POSTed to.
    pub url: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Sent as `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// The longest one synthesis may take.
    pub timeout: Duration,
    /// The sample rate of a raw PCM answer whose `Content-Type` names none.
    pub sample_rate_hz: Option<u32>,
}

/// The HTTP text-to-speech provider.
#[derive(Debug, Clone)]
pub struct HttpTts {
    client: HttpClient,
    config: HttpTtsConfig,
}

impl HttpTts {
    pub fn new(client: HttpClient, config: HttpTtsConfig) -> Self {
        Self { client, config }
    }

    async fn run(&self, request: &SynthesisRequest) -> Result<Vec<i16>, EngineError> {
        let fail = |reason: String| EngineError::TtsProvider {
            provider: "http".into(),
            reason,
        };
        let url = &self.config.url;
        let mut headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            (
                "Accept".to_string(),
                "audio/wav, audio/L16, audio/mpeg".to_string(),
            ),
        ];
        headers.extend(self.config.headers.iter().cloned());
        if let Some(key) = &self.config.api_key {
            headers.push(("Authorization".into(), format!("Bearer {key}")));
        }
        let response = self
            .client
            .post_bytes(
                url,
                headers,
                request_body(request).into_bytes(),
                self.config.timeout,
            )
            .await
            .map_err(|reason| match reason.as_str() {
                "timed out" => fail(format!(
                    "POST {url}: no answer within {} ms",
                    self.config.timeout.as_millis()
                )),
                _ => fail(format!("POST {url}: {reason}")),
            })?;
        if !(200..300).contains(&response.status) {
            let body = String::from_utf8_lossy(&response.body);
            let excerpt: String = body.trim().chars().take(ERROR_BODY_CHARS).collect();
            return Err(fail(format!(
                "POST {url}: HTTP {} {excerpt}",
                response.status
            )));
        }
        let (bytes, hint) = audio_file(
            response.content_type.as_deref(),
            response.body,
            self.config.sample_rate_hz,
        )
        .map_err(|reason| fail(format!("POST {url}: {reason}")))?;
        tokio::task::spawn_blocking(move || ivory_dsp::decode::decode_audio(&bytes, Some(hint)))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|source| EngineError::TtsAudio {
                provider: "http".into(),
                source,
            })
    }
}

impl SpeechSynthesiser for HttpTts {
    fn name(&self) -> &str {
        "http"
    }

    /// The URL is part of the voice: another service is another voice.
    fn voice_key(&self, request: &SynthesisRequest) -> String {
        format!(
            "{}|{}|{}|{}",
            self.config.url,
            request.language,
            request.voice.as_deref().unwrap_or(""),
            gender_name(request.gender).unwrap_or("")
        )
    }

    fn synthesise<'a>(&'a self, request: &'a SynthesisRequest) -> SynthesisFuture<'a> {
        Box::pin(self.run(request))
    }
}

fn gender_name(gender: Option<VoiceGender>) -> Option<&'static str> {
    gender.map(|gender| match gender {
        VoiceGender::Female => "female",
        VoiceGender::Male => "male",
    })
}

/// The JSON the service receives.
fn request_body(request: &SynthesisRequest) -> String {
    serde_json::json!({
        "text": request.text,
        "language": request.language,
        "voice": request.voice,
        "gender": gender_name(request.gender),
        "rate": request.rate,
    })
    .to_string()
}

/// The answer as an audio file for the decoder, with its format hint; raw PCM gets a WAV header.
fn audio_file(
    content_type: Option<&str>,
    body: Vec<u8>,
    configured_rate_hz: Option<u32>,
) -> Result<(Vec<u8>, &'static str), String> {
    if body.is_empty() {
        return Err("the answer has no body".into());
    }
    let content_type = content_type.unwrap_or("").to_ascii_lowercase();
    let mut parts = content_type.split(';').map(str::trim);
    let mime = parts.next().unwrap_or("");
    let parameter = |name: &str| {
        content_type
            .split(';')
            .skip(1)
            .filter_map(|part| part.split_once('='))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim().trim_matches('"').to_string())
    };
    if body.starts_with(b"RIFF") {
        return Ok((body, "wav"));
    }
    match mime {
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Ok((body, "wav")),
        "audio/mpeg" | "audio/mp3" => Ok((body, "mp3")),
        "audio/l16" => {
            let rate = match parameter("rate") {
                Some(rate) => rate
                    .parse::<u32>()
                    .map_err(|_| format!("audio/L16 with rate {rate:?}"))?,
                None => configured_rate_hz.ok_or(
                    "audio/L16 without a rate (set it in the Content-Type or tts.sample_rate)",
                )?,
            };
            let channels = match parameter("channels") {
                Some(channels) => channels
                    .parse::<u16>()
                    .ok()
                    .filter(|channels| (1..=MAX_CHANNELS).contains(channels))
                    .ok_or_else(|| format!("audio/L16 with channels {channels:?}"))?,
                None => 1,
            };
            raw_pcm(body, rate, channels)
        }
        "" | "audio/pcm" | "audio/raw" | "application/octet-stream" => match configured_rate_hz {
            Some(rate) => raw_pcm(body, rate, 1),
            None => Err(format!(
                "Content-Type {:?} is not audio ivory reads (audio/wav, audio/mpeg, \
                 audio/L16;rate=N, or raw PCM with tts.sample_rate)",
                mime
            )),
        },
        other => Err(format!(
            "Content-Type {other:?} is not audio ivory reads (audio/wav, audio/mpeg, \
             audio/L16;rate=N)"
        )),
    }
}

fn raw_pcm(body: Vec<u8>, rate_hz: u32, channels: u16) -> Result<(Vec<u8>, &'static str), String> {
    let frame_bytes = usize::from(channels) * 2;
    if !body.len().is_multiple_of(frame_bytes) {
        return Err(format!(
            "{} bytes of 16-bit PCM is not a whole number of {channels}-channel frames",
            body.len()
        ));
    }
    Ok((pcm::wav_bytes(&body, rate_hz, channels), "wav"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One second of a 16 kHz ramp, as little-endian bytes.
    fn second_at_16k() -> Vec<u8> {
        (0..16_000i32)
            .flat_map(|i| (((i % 200) - 100) as i16 * 100).to_le_bytes())
            .collect()
    }

    /// A one-request HTTP server on loopback answering `status`, `content_type` and `body`;
    /// the task returns the request's head and body.
    async fn serve_once(
        status: &'static str,
        content_type: Option<&'static str>,
        body: Vec<u8>,
    ) -> (String, tokio::task::JoinHandle<(String, String)>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/speak", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let (head, request_body) = read_request(&mut socket).await;
            let mut answer = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            if let Some(content_type) = content_type {
                answer.push_str(&format!("Content-Type: {content_type}\r\n"));
            }
            answer.push_str("\r\n");
            socket.write_all(answer.as_bytes()).await.expect("head");
            socket.write_all(&body).await.expect("body");
            socket.shutdown().await.ok();
            (head, request_body)
        });
        (url, task)
    }

    /// Reads one request: the head up to the blank line, then Content-Length bytes.
    async fn read_request(socket: &mut tokio::net::TcpStream) -> (String, String) {
        let mut bytes = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = socket.read(&mut buffer).await.expect("read");
            assert!(read > 0, "the client closed before a whole request");
            bytes.extend_from_slice(&buffer[..read]);
            let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&bytes[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&bytes[end + 4..end + 4 + length]);
                return (head, body.into_owned());
            }
        }
    }

    fn provider(url: String, sample_rate_hz: Option<u32>) -> HttpTts {
        HttpTts::new(
            HttpClient::new("ivory-test").expect("client"),
            HttpTtsConfig {
                url,
                headers: vec![("X-Tenant".into(), "acme".into())],
                api_key: Some("secret".into()),
                timeout: Duration::from_secs(10),
                sample_rate_hz,
            },
        )
    }

    #[tokio::test]
    async fn a_wav_answer_is_resampled_and_the_request_carries_the_voice() {
        let wav = pcm::wav_bytes(&second_at_16k(), 16_000, 1);
        let (url, server) = serve_once("200 OK", Some("audio/wav"), wav).await;
        let tts = provider(url, None);
        let mut request = SynthesisRequest::new("Hej \"du\"");
        request.language = "sv-SE".into();
        request.voice = Some("Astrid".into());
        request.gender = Some(VoiceGender::Female);
        request.rate = 1.5;
        let samples = tts.synthesise(&request).await.expect("audio");
        assert!(
            (7_900..=8_100).contains(&samples.len()),
            "{}",
            samples.len()
        );
        assert!(
            samples.iter().any(|s| s.unsigned_abs() > 1_000),
            "not silence"
        );
        let (head, body) = server.await.expect("server");
        assert!(head.starts_with("POST /speak HTTP/1.1"), "{head}");
        let head = head.to_ascii_lowercase();
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("x-tenant: acme"), "{head}");
        assert!(head.contains("authorization: bearer secret"), "{head}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
        assert_eq!(
            json,
            serde_json::json!({"text": "Hej \"du\"", "language": "sv-SE", "voice": "Astrid",
                "gender": "female", "rate": 1.5})
        );
    }

    #[tokio::test]
    async fn an_l16_answer_takes_its_rate_from_the_content_type() {
        let (url, server) = serve_once(
            "200 OK",
            Some("audio/L16; rate=16000; channels=1"),
            second_at_16k(),
        )
        .await;
        let samples = provider(url, Some(24_000))
            .synthesise(&SynthesisRequest::new("hello"))
            .await
            .expect("audio");
        // 16 kHz as the Content-Type says, not the configured 24 kHz.
        assert!(
            (7_900..=8_100).contains(&samples.len()),
            "{}",
            samples.len()
        );
        let (_, body) = server.await.expect("server");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
        assert_eq!(json["voice"], serde_json::Value::Null);
        assert_eq!(json["gender"], serde_json::Value::Null);
        assert_eq!(json["language"], "en-US");
    }

    #[tokio::test]
    async fn raw_pcm_uses_the_configured_rate() {
        let (url, server) =
            serve_once("200 OK", Some("application/octet-stream"), second_at_16k()).await;
        let samples = provider(url, Some(16_000))
            .synthesise(&SynthesisRequest::new("hello"))
            .await
            .expect("audio");
        assert!(
            (7_900..=8_100).contains(&samples.len()),
            "{}",
            samples.len()
        );
        server.await.expect("server");
    }

    #[tokio::test]
    async fn errors_name_the_status_or_the_problem() {
        let (url, server) = serve_once(
            "500 Internal Server Error",
            Some("application/json"),
            br#"{"error":"voice not found"}"#.to_vec(),
        )
        .await;
        let error = provider(url, None)
            .synthesise(&SynthesisRequest::new("hello"))
            .await
            .expect_err("500");
        let text = error.to_string();
        assert!(
            text.contains("HTTP 500") && text.contains("voice not found"),
            "{text}"
        );
        server.await.expect("server");

        let (url, server) = serve_once("200 OK", Some("application/json"), b"{}".to_vec()).await;
        let error = provider(url, None)
            .synthesise(&SynthesisRequest::new("hello"))
            .await
            .expect_err("not audio");
        assert!(error.to_string().contains("application/json"), "{error}");
        server.await.expect("server");

        let (url, server) = serve_once("200 OK", Some("audio/wav"), b"RIFFnonsense".to_vec()).await;
        let error = provider(url, None)
            .synthesise(&SynthesisRequest::new("hello"))
            .await
            .expect_err("bad WAV");
        assert!(matches!(error, EngineError::TtsAudio { .. }), "{error}");
        server.await.expect("server");
    }

    #[tokio::test]
    async fn a_silent_service_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/speak", listener.local_addr().expect("addr"));
        // Accepts and reads, never answers; the socket stays open until the test ends.
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            read_request(&mut socket).await;
            std::future::pending::<()>().await;
        });
        let mut tts = provider(url, None);
        tts.config.timeout = Duration::from_millis(200);
        let error = tts
            .synthesise(&SynthesisRequest::new("hello"))
            .await
            .expect_err("timeout");
        assert!(
            error.to_string().contains("no answer within 200 ms"),
            "{error}"
        );
        server.abort();
    }

    #[test]
    fn content_types() {
        let body = vec![0u8; 320];
        assert_eq!(
            audio_file(Some("audio/mpeg"), body.clone(), None)
                .expect("mp3")
                .1,
            "mp3"
        );
        assert!(audio_file(Some("audio/L16"), body.clone(), None).is_err());
        assert!(audio_file(Some("audio/L16;rate=abc"), body.clone(), None).is_err());
        assert!(audio_file(Some("audio/L16;rate=8000;channels=0"), body.clone(), None).is_err());
        assert!(audio_file(Some("audio/L16;rate=8000"), vec![0u8; 3], None).is_err());
        assert!(audio_file(None, body.clone(), None).is_err());
        assert!(audio_file(Some("audio/wav"), Vec::new(), None).is_err());
        let (wav, hint) =
            audio_file(Some("AUDIO/L16;Rate=\"8000\""), body, None).expect("quoted rate");
        assert_eq!(hint, "wav");
        assert_eq!(wav.len(), 44 + 320);
    }
}
