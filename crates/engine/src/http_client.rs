//! Outgoing HTTP for scenarios: the Call API (`request`), 46elks `next` webhooks, prompts fetched
//! from `http(s)://` URLs, and the HTTP speech providers (text-to-speech, recognition).
//!
//! One shared client (connection pooling, rustls with the `ring` provider installed once per process:
//! rsipstack uses rustls+ring, and a second provider beside it makes the first TLS connection panic;
//! see DEPENDENCIES.md). Every request has a timeout; a body larger than [`MAX_BODY_BYTES`] is refused
//! rather than read into memory.

use std::sync::Once;
use std::time::Duration;

/// The most a response body may hold (prompts are fetched through this too).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// A request a scenario asked for.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout: Duration,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct IncomingResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The shared client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
}

static INSTALL_PROVIDER: Once = Once::new();

impl HttpClient {
    pub fn new(user_agent: &str) -> Result<Self, String> {
        INSTALL_PROVIDER.call_once(|| {
            // Err means another provider was installed first, which is just as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client })
    }

    /// Sends a request; `Err` carries a reason fit for the call log (connection refused, timeout, ...).
    pub async fn send(&self, request: OutgoingRequest) -> Result<IncomingResponse, String> {
        let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("invalid HTTP method {:?}", request.method))?;
        self.exchange(
            method,
            &request.url,
            &request.headers,
            request.body.map(reqwest::Body::from),
            request.timeout,
        )
        .await
    }

    /// POSTs a binary body (audio to a recogniser, JSON to a speech service) with `headers`
    /// (set `Content-Type` there); any status comes back, `Err` only when no answer did.
    pub async fn post_bytes(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<IncomingResponse, String> {
        self.exchange(
            reqwest::Method::POST,
            url,
            &headers,
            Some(reqwest::Body::from(body)),
            timeout,
        )
        .await
    }

    async fn exchange(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(String, String)],
        body: Option<reqwest::Body>,
        timeout: Duration,
    ) -> Result<IncomingResponse, String> {
        let mut builder = self.client.request(method, url).timeout(timeout);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(format!("response body larger than {MAX_BODY_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(IncomingResponse {
            status,
            content_type,
            body,
        })
    }

    /// Fetches a URL with GET and returns the body of a 2xx answer.
    pub async fn fetch(&self, url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
        let response = self
            .send(OutgoingRequest {
                method: "GET".into(),
                url: url.to_string(),
                headers: Vec::new(),
                body: None,
                timeout,
            })
            .await?;
        if !(200..300).contains(&response.status) {
            return Err(format!("HTTP {} from {url}", response.status));
        }
        Ok(response.body)
    }
}

fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else {
        error.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server on loopback that answers `response` to the first request.
    async fn serve_once(response: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = vec![0u8; 4096];
            let read = socket.read(&mut request).await.expect("read");
            socket.write_all(response.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&request[..read]).into_owned()
        });
        (url, task)
    }

    #[tokio::test]
    async fn sends_and_reads_back() {
        let (url, server) = serve_once(
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
        )
        .await;
        let client = HttpClient::new("ivory-test").expect("client");
        let response = client
            .send(OutgoingRequest {
                method: "post".into(),
                url,
                headers: vec![("X-Test".into(), "1".into())],
                body: Some("a=b".into()),
                timeout: Duration::from_secs(5),
            })
            .await
            .expect("response");
        assert_eq!(response.status, 201);
        assert_eq!(response.content_type.as_deref(), Some("application/json"));
        assert_eq!(response.body, b"{\"ok\":true}");
        let request = server.await.expect("server");
        assert!(request.starts_with("POST /hook HTTP/1.1"), "{request}");
        assert!(request.to_ascii_lowercase().contains("x-test: 1"));
        assert!(request.ends_with("a=b"));
    }

    #[tokio::test]
    async fn posts_binary_bodies() {
        let (url, server) = serve_once(
            "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope",
        )
        .await;
        let client = HttpClient::new("ivory-test").expect("client");
        let response = client
            .post_bytes(
                &url,
                vec![("Content-Type".into(), "audio/wav".into())],
                vec![0, 159, 146, 150],
                Duration::from_secs(5),
            )
            .await
            .expect("an answer, whatever its status");
        assert_eq!(response.status, 404);
        assert_eq!(response.body, b"nope");
        let request = server.await.expect("server");
        assert!(request.starts_with("POST /hook HTTP/1.1"), "{request}");
        assert!(
            request
                .to_ascii_lowercase()
                .contains("content-type: audio/wav")
        );
        assert!(request.to_ascii_lowercase().contains("content-length: 4"));
    }

    #[tokio::test]
    async fn unreachable_servers_give_a_reason() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        drop(listener);
        let client = HttpClient::new("ivory-test").expect("client");
        let error = client
            .fetch(&url, Duration::from_secs(2))
            .await
            .expect_err("refused");
        assert_eq!(error, "connection failed");
        let error = client
            .fetch("ftp://x", Duration::from_secs(2))
            .await
            .expect_err("scheme");
        assert!(!error.is_empty());
    }
}
