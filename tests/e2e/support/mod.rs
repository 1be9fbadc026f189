//! The end-to-end harness: start the real `ivory` binary with a config of its own, find out where it
//! listens, read its call log, and find the external peers (sipp, baresip).
//!
//! Every test gets its own server: a temp directory as working directory (call log, database, TTS
//! cache live there), a SIP port found free by binding port 0, a distinct RTP port range (so tests
//! run in parallel), number 1000 routed to `config/scenarios/demo.json` and the shipped `sounds/`.
//! The server is killed when the [`Server`] is dropped; its stderr is kept in the temp dir and shown
//! when something fails. The temp dir is removed after a passing test and kept after a failing one.

pub mod audio;
pub mod baresip;
pub mod message;
pub mod rtp_peer;
pub mod scenario_call;
pub mod sdp;
pub mod sipp;
pub mod sipp_uas;
pub mod test_ua;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long the server may take to print `ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The repository root (tests/e2e lives two levels below it).
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

/// `../shared/corpora/<name>` relative to the repository root.
pub fn corpus_dir(name: &str) -> PathBuf {
    repository_root().join("../shared/corpora").join(name)
}

/// Whether an external program the test needs is installed. When it is not, the test should
/// return early (it is skipped, with the reason printed), unless `IVORY_REQUIRE_PEERS=1`, which
/// turns a missing peer into a failure (CI sets it).
pub fn peer_available(program: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let candidate = dir.join(program);
            candidate.is_file()
                && std::fs::metadata(&candidate).is_ok_and(|m| {
                    use std::os::unix::fs::PermissionsExt;
                    m.permissions().mode() & 0o111 != 0
                })
        })
    });
    if !found {
        if std::env::var("IVORY_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
            panic!("{program} is not installed and IVORY_REQUIRE_PEERS=1 (see .ci/run)");
        }
        eprintln!(
            "SKIPPED: {program} is not installed (set IVORY_REQUIRE_PEERS=1 to make this a failure)"
        );
    }
    found
}

/// A port free for both UDP and TCP on 127.0.0.1, found by binding port 0.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP port 0");
        let port = udp.local_addr().expect("bound").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP in 100 tries");
}

/// An even UDP port with the next `span - 1` ports free too (sipp's media ports, RTP + RTCP).
pub fn free_udp_block(span: u16) -> u16 {
    for _ in 0..200 {
        let first = UdpSocket::bind("127.0.0.1:0").expect("bind UDP port 0");
        let port = first.local_addr().expect("bound").port();
        if !port.is_multiple_of(2) || port > u16::MAX - span {
            continue;
        }
        let rest_free =
            (1..span).all(|offset| UdpSocket::bind(("127.0.0.1", port + offset)).is_ok());
        if rest_free {
            return port;
        }
    }
    panic!("no block of {span} free UDP ports in 200 tries");
}

/// A distinct RTP range per server in this process: 200 ports each within 20000-29999.
fn next_rtp_range() -> (u16, u16) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let slot = (NEXT.fetch_add(1, Ordering::Relaxed) + std::process::id()) % 50;
    let first = 20000 + slot as u16 * 200;
    (first, first + 199)
}

/// A temp directory, removed on drop unless the thread is panicking (kept for the post-mortem).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "ivory-e2e-{}-{}-{label}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create the test's temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The API key every test server accepts (`Authorization: App e2e-key`).
pub const API_KEY: &str = "e2e-key";

/// One `[[numbers]]` entry of the test config.
#[derive(Debug, Clone)]
pub struct NumberEntry {
    pub number: String,
    pub scenario: PathBuf,
    pub answer_after_ms: u64,
}

/// What a test may change in its server's config.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub numbers: Vec<NumberEntry>,
    /// `calls.max_calls`, when set.
    pub max_calls: Option<usize>,
    /// TOML appended to the config as written (`[[trunks]]`, `[[users]]` ...).
    pub extra_config: String,
}

impl Default for ServerOptions {
    /// Number 1000 → the demo, answered at once.
    fn default() -> Self {
        ServerOptions {
            numbers: vec![NumberEntry {
                number: "1000".into(),
                scenario: demo_scenario(),
                answer_after_ms: 0,
            }],
            max_calls: None,
            extra_config: String::new(),
        }
    }
}

impl ServerOptions {
    /// The demo on 1000, ringing `ms` before it answers (for CANCEL tests).
    pub fn ringing(ms: u64) -> ServerOptions {
        let mut options = ServerOptions::default();
        options.numbers[0].answer_after_ms = ms;
        options
    }
}

/// The absolute path of the demo scenario.
pub fn demo_scenario() -> PathBuf {
    repository_root().join("config/scenarios/demo.json")
}

/// A running `ivory serve`.
pub struct Server {
    child: Child,
    pub dir: TempDir,
    pub sip_udp: SocketAddr,
    pub sip_tcp: SocketAddr,
    pub rtp_range: (u16, u16),
    pub call_log: PathBuf,
    pub http: SocketAddr,
    stderr_path: PathBuf,
}

impl Server {
    /// Starts a server with the default options (demo on 1000).
    pub async fn start(label: &str) -> Server {
        Server::start_with(label, ServerOptions::default()).await
    }

    pub async fn start_with(label: &str, options: ServerOptions) -> Server {
        let dir = TempDir::new(label);
        let sip_port = free_port();
        let http_port = free_port();
        let rtp_range = next_rtp_range();
        let config_path = dir.path().join("ivory.toml");
        std::fs::write(
            &config_path,
            config_text(sip_port, http_port, rtp_range, &options),
        )
        .expect("write the test config");
        Server::launch(dir, http_port, rtp_range).await
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and starts it again in the same
    /// directory with the same config, database and call log.
    pub async fn kill_and_restart(mut self) -> Server {
        self.child.start_kill().expect("SIGKILL the server");
        self.child.wait().await.expect("reap the killed server");
        let Server {
            dir,
            http,
            rtp_range,
            ..
        } = self;
        Server::launch(dir, http.port(), rtp_range).await
    }

    async fn launch(dir: TempDir, http_port: u16, rtp_range: (u16, u16)) -> Server {
        let config_path = dir.path().join("ivory.toml");
        let stderr_path = dir.path().join(format!(
            "ivory-{}.stderr",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        ));
        let stderr = std::fs::File::create(&stderr_path).expect("create the stderr file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ivory"))
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir.path())
            .env(
                "RUST_LOG",
                std::env::var("IVORY_TEST_LOG").unwrap_or_else(|_| "debug".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the ivory binary");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, lines.next_line()).await {
                Ok(Ok(Some(line))) => {
                    let done = line.trim() == "ready";
                    banner.push(line);
                    if done {
                        break;
                    }
                }
                Ok(Ok(None)) | Ok(Err(_)) => {
                    let status = child.wait().await.ok();
                    panic!(
                        "ivory exited before `ready` ({status:?}); stdout so far: {banner:?}\nstderr:\n{}",
                        tail(&stderr_path, 80)
                    );
                }
                Err(_) => panic!(
                    "ivory did not print `ready` within {READY_TIMEOUT:?}; stdout so far: {banner:?}\nstderr:\n{}",
                    tail(&stderr_path, 80)
                ),
            }
        }
        // Keep reading stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let banner_value = |prefix: &str| {
            banner.iter().find_map(|line| {
                line.strip_prefix(prefix)
                    .map(|rest| rest.trim().to_string())
            })
        };
        let address = |prefix: &str| -> SocketAddr {
            banner_value(prefix)
                .and_then(|text| text.parse().ok())
                .unwrap_or_else(|| {
                    panic!("no `{prefix}<ip:port>` line in ivory's stdout: {banner:?}")
                })
        };
        let sip_udp = address("sip udp ");
        let sip_tcp = address("sip tcp ");
        let call_log =
            banner_value("call-log ").map_or_else(|| dir.path().join("calls.jsonl"), PathBuf::from);
        let call_log = if call_log.is_absolute() {
            call_log
        } else {
            dir.path().join(call_log)
        };
        Server {
            child,
            dir,
            sip_udp,
            sip_tcp,
            rtp_range,
            call_log,
            http: SocketAddr::from(([127, 0, 0, 1], http_port)),
            stderr_path,
        }
    }

    /// `GET /health` as JSON.
    pub async fn health(&self) -> Value {
        let (status, body) = self.http_request("GET", "/health", None, None).await;
        assert_eq!(status, 200, "/health answered {status}: {body}");
        body
    }

    /// One HTTP/1.1 request to ivory's HTTP port; the status and the body as JSON (`Null` when
    /// the body is not JSON). `key` is sent as `Authorization: App <key>`.
    pub async fn http_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let (status, body) = self.http_text(method, path, body, key).await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// As [`Server::http_request`], with the body as text.
    pub async fn http_text(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.http)
            .await
            .expect("connect to ivory's HTTP port");
        let body = body.map(Value::to_string).unwrap_or_default();
        let authorization = key
            .map(|key| format!("Authorization: App {key}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: ivory\r\nConnection: close\r\n{authorization}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .expect("read the answer");
        let text = String::from_utf8_lossy(&answer);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        (status, body.to_string())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of the server's stderr (its logs), for failure messages.
    pub fn stderr_tail(&self) -> String {
        tail(&self.stderr_path, 60)
    }

    /// The call log lines so far (each a JSON object); lines that are not JSON make the test fail.
    pub fn calls(&self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(&self.call_log) else {
            return Vec::new();
        };
        // A line being written may be incomplete: only lines ended by a newline count.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("call log line is not JSON ({e}): {line}"))
            })
            .collect()
    }

    /// Polls the call log until it has at least `count` lines.
    pub async fn wait_for_calls(&self, count: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls();
            if calls.len() >= count {
                return calls;
            }
            if Instant::now() >= deadline {
                panic!(
                    "call log {} has {} of {count} lines after {timeout:?}: {calls:#?}\nserver stderr:\n{}",
                    self.call_log.display(),
                    calls.len(),
                    self.stderr_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for exactly one call log line and returns it.
    pub async fn single_call(&self, timeout: Duration) -> Value {
        self.wait_for_calls(1, timeout).await;
        // Give a stray second line (a bug) a moment to show up before judging.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let calls = self.calls();
        assert_eq!(calls.len(), 1, "expected one call log line: {calls:#?}");
        calls.into_iter().next().expect("one line")
    }
}

fn config_text(
    sip_port: u16,
    http_port: u16,
    rtp_range: (u16, u16),
    options: &ServerOptions,
) -> String {
    let sounds = repository_root().join("sounds");
    let mut text = format!(
        r#"# Written by the end-to-end tests for one test's server.
[sip]
listen = ["udp:127.0.0.1:{sip_port}", "tcp:127.0.0.1:{sip_port}"]
public_address = "127.0.0.1"
loopback_only = true

[rtp]
port_range = "{}-{}"
bind_address = "127.0.0.1"

[http]
listen = "127.0.0.1:{http_port}"
api_keys = ["{API_KEY}"]

[storage]
url = "sqlite://ivory.db"

[calls]
log = "calls.jsonl"
max_calls = {max_calls}


[media]
sounds_dir = {sounds:?}

[tts]
provider = "espeak-ng"
cache_dir = "tts-cache"
"#,
        rtp_range.0,
        rtp_range.1,
        max_calls = options.max_calls.unwrap_or(2000)
    );
    for number in &options.numbers {
        text.push_str(&format!(
            "\n[[numbers]]\nnumber = {:?}\nscenario = {:?}\nanswer_after_ms = {}\n",
            number.number, number.scenario, number.answer_after_ms
        ));
    }
    text.push('\n');
    text.push_str(&options.extra_config);
    text
}

/// The last `lines` lines of a text file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Field access for call log assertions: `field(&call, "variables.choice")`.
pub fn field<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(value, |value, key| &value[key])
}

/// The call log's digits as `(digit, source)` pairs.
pub fn digits(call: &Value) -> Vec<(String, String)> {
    call["digits"]
        .as_array()
        .map(|digits| {
            digits
                .iter()
                .map(|d| {
                    (
                        d["digit"].as_str().unwrap_or_default().to_string(),
                        d["source"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts the call-log fields every answered demo call that ivory ended has.
pub fn assert_demo_ended_by_ivory(call: &Value, choice: &str) {
    assert_eq!(call["status"], 200, "{call:#}");
    assert_eq!(field(call, "variables.choice"), choice, "{call:#}");
    assert_eq!(call["hangupBy"], "ivory", "{call:#}");
    let reason = call["hangupReason"].as_str().unwrap_or_default();
    assert!(
        reason == "hangup-action" || reason == "scenario-end",
        "the demo ends with its hangup action: {call:#}"
    );
    assert!(call["answerTime"].is_string(), "{call:#}");
    assert!(
        call["durationMs"].as_u64().is_some_and(|ms| ms > 0),
        "{call:#}"
    );
}
