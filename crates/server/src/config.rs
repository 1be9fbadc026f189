//! The TOML configuration (`config/ivory.toml`), parsed once into validated types.
//!
//! Unknown keys are errors; every error names the key and the line (the `toml` crate's messages carry
//! both). Relative paths are relative to the working directory. The defaults compiled into the binary
//! are `config/ivory.toml` itself, so `ivory serve` without `--config` runs the demo.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The configuration ivory starts with when no `--config` is given.
pub const EMBEDDED_DEFAULTS: &str = include_str!("../../../config/ivory.toml");

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub sip: SipSection,
    #[serde(default)]
    pub rtp: RtpSection,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub storage: StorageSection,
    #[serde(default)]
    pub calls: CallsSection,
    #[serde(default)]
    pub media: MediaSection,
    #[serde(default)]
    pub tts: TtsSection,
    #[serde(default)]
    pub asr: crate::config_asr::AsrSection,
    #[serde(default)]
    pub recordings: RecordingsSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub dialer: DialerSection,
    #[serde(default)]
    pub numbers: Vec<NumberEntry>,
    #[serde(default)]
    pub schedules: std::collections::BTreeMap<String, ScheduleEntry>,
    #[serde(default)]
    pub trunks: Vec<crate::config_telephony::TrunkEntry>,
    #[serde(default)]
    pub routes: Vec<crate::config_telephony::RouteEntry>,
    #[serde(default)]
    pub users: Vec<crate::config_telephony::UserEntry>,
}

/// `[schedules.NAME]`: business hours (see `ivory_engine::schedule`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    pub timezone: String,
    #[serde(default)]
    pub open: Vec<String>,
    /// Holidays: `YYYY-MM-DD` or `FIRST..LAST`.
    #[serde(default)]
    pub closed_dates: Vec<String>,
    /// Exceptional openings: `"2026-12-27 10:00-14:00"` (a date or range, then hours); they win over
    /// closed dates and weekly hours.
    #[serde(default)]
    pub open_dates: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// `udp:IP:PORT` / `tcp:IP:PORT`.
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    pub public_address: Option<IpAddr>,
    #[serde(default = "default_user_agent")]
    pub user_agent: String,
    /// Test mode: never send SIP to a non-loopback address.
    #[serde(default)]
    pub loopback_only: bool,
    /// The digest realm of the registrar's challenges.
    #[serde(default = "default_realm")]
    pub realm: String,
}

impl Default for SipSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            public_address: None,
            user_agent: default_user_agent(),
            loopback_only: false,
            realm: default_realm(),
        }
    }
}

fn default_listen() -> Vec<String> {
    vec!["udp:0.0.0.0:5060".into(), "tcp:0.0.0.0:5060".into()]
}

fn default_realm() -> String {
    "ivory".into()
}

fn default_user_agent() -> String {
    format!("ivory/{}", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtpSection {
    #[serde(default = "default_port_range")]
    pub port_range: String,
    /// The address RTP sockets bind to.
    #[serde(default = "default_rtp_bind")]
    pub bind_address: IpAddr,
    /// Hang up after this many seconds without RTP from the caller.
    #[serde(default = "default_rtp_timeout")]
    pub timeout_seconds: u64,
}

impl Default for RtpSection {
    fn default() -> Self {
        Self {
            port_range: default_port_range(),
            bind_address: default_rtp_bind(),
            timeout_seconds: default_rtp_timeout(),
        }
    }
}

fn default_port_range() -> String {
    "20000-29999".into()
}
fn default_rtp_bind() -> IpAddr {
    IpAddr::from([0, 0, 0, 0])
}
fn default_rtp_timeout() -> u64 {
    60
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    #[serde(default = "default_http_listen")]
    pub listen: SocketAddr,
    #[serde(default)]
    pub api_keys: Vec<String>,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            listen: default_http_listen(),
            api_keys: Vec::new(),
        }
    }
}

fn default_http_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    #[serde(default = "default_storage_url")]
    pub url: String,
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            url: default_storage_url(),
        }
    }
}

fn default_storage_url() -> String {
    "sqlite://data/ivory.db".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsSection {
    #[serde(default = "default_call_log")]
    pub log: PathBuf,
    #[serde(default = "default_max_calls")]
    pub max_calls: usize,
    #[serde(default = "default_max_duration")]
    pub max_duration_seconds: u64,
}

impl Default for CallsSection {
    fn default() -> Self {
        Self {
            log: default_call_log(),
            max_calls: default_max_calls(),
            max_duration_seconds: default_max_duration(),
        }
    }
}

fn default_call_log() -> PathBuf {
    PathBuf::from("data/calls.jsonl")
}
fn default_max_calls() -> usize {
    2000
}
fn default_max_duration() -> u64 {
    4 * 3600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    #[serde(default = "default_sounds_dir")]
    pub sounds_dir: PathBuf,
}

impl Default for MediaSection {
    fn default() -> Self {
        Self {
            sounds_dir: default_sounds_dir(),
        }
    }
}

fn default_sounds_dir() -> PathBuf {
    PathBuf::from("sounds")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingsSection {
    /// Where `record` actions and whole-call recordings are written (with `index.jsonl`).
    #[serde(default = "default_recordings_dir")]
    pub dir: PathBuf,
}

impl Default for RecordingsSection {
    fn default() -> Self {
        Self {
            dir: default_recordings_dir(),
        }
    }
}

fn default_recordings_dir() -> PathBuf {
    PathBuf::from("data/recordings")
}

/// `[tts]`: the text-to-speech provider behind `say`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtsSection {
    /// `espeak-ng` (the program, run per prompt) or `http` (a service at `url`).
    #[serde(default = "default_tts_provider")]
    pub provider: String,
    /// espeak-ng: the program to run.
    #[serde(default = "default_espeak_program")]
    pub program: PathBuf,
    /// Synthesised prompts are kept here (any provider).
    #[serde(default = "default_tts_cache")]
    pub cache_dir: PathBuf,
    /// http: the URL POSTed to (`{"text","language","voice","gender","rate"}`).
    pub url: Option<String>,
    /// http: extra request headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// http: sent as `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// http: the longest one synthesis may take.
    #[serde(default = "default_tts_timeout_ms")]
    pub timeout_ms: u64,
    /// http: the sample rate of raw PCM answers whose Content-Type names none.
    pub sample_rate: Option<u32>,
}

impl Default for TtsSection {
    fn default() -> Self {
        Self {
            provider: default_tts_provider(),
            program: default_espeak_program(),
            cache_dir: default_tts_cache(),
            url: None,
            headers: Default::default(),
            api_key: None,
            timeout_ms: default_tts_timeout_ms(),
            sample_rate: None,
        }
    }
}

/// The text-to-speech providers `[tts] provider` names.
pub const TTS_PROVIDERS: [&str; 2] = ["espeak-ng", "http"];

impl TtsSection {
    /// The problem with the section, as (key, message).
    fn problem(&self) -> Option<(String, String)> {
        let problem = |key: &str, message: String| Some((format!("tts.{key}"), message));
        if !TTS_PROVIDERS.contains(&self.provider.as_str()) {
            return problem(
                "provider",
                format!(
                    "unknown provider {:?} (available: \"espeak-ng\", \"http\")",
                    self.provider
                ),
            );
        }
        if self.provider == "http" {
            match self.url.as_deref() {
                None => return problem("url", "the http provider needs a URL".into()),
                Some(url) if !is_http_url(url) => {
                    return problem("url", format!("{url:?} is not an http(s) URL"));
                }
                Some(_) => {}
            }
        }
        if let Some((key, message)) = header_problem(&self.headers) {
            return problem(&key, message);
        }
        if let Some(key) = &self.api_key
            && axum::http::HeaderValue::from_str(key).is_err()
        {
            return problem("api_key", "must be printable ASCII".into());
        }
        if !(1..=600_000).contains(&self.timeout_ms) {
            return problem("timeout_ms", "must be 1 to 600000".into());
        }
        if let Some(rate) = self.sample_rate
            && !(8_000..=192_000).contains(&rate)
        {
            return problem("sample_rate", "must be 8000 to 192000 (Hz)".into());
        }
        None
    }
}

/// An absolute `http://` or `https://` URL with a host.
/// The first of `headers` that cannot be sent: (`headers.NAME`, what is wrong).
pub(crate) fn header_problem(
    headers: &std::collections::BTreeMap<String, String>,
) -> Option<(String, String)> {
    headers.iter().find_map(|(name, value)| {
        let key = format!("headers.{name}");
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            Some((key, "is not a header name".into()))
        } else if axum::http::HeaderValue::from_str(value).is_err() {
            Some((key, "is not a header value".into()))
        } else {
            None
        }
    })
}

/// Whether `url` is an absolute http(s) URL.
pub(crate) fn is_http_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<axum::http::Uri>() else {
        return false;
    };
    matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|host| !host.is_empty())
}

fn default_tts_provider() -> String {
    "espeak-ng".into()
}
fn default_espeak_program() -> PathBuf {
    PathBuf::from("espeak-ng")
}
fn default_tts_cache() -> PathBuf {
    PathBuf::from("data/tts-cache")
}
fn default_tts_timeout_ms() -> u64 {
    10_000
}

/// `[dialer]`: the worker that calls the destinations of launches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialerSection {
    /// This node's name in the queue's leases; keep it the same across restarts, so that a
    /// restarted node ends the calls it had at once. Different on every node sharing a database.
    #[serde(default = "default_node_id")]
    pub node_id: String,
    /// Campaign calls in progress at once, on this node (inbound calls count against
    /// `calls.max_calls` as well).
    #[serde(default = "default_dialer_calls")]
    pub max_concurrent_calls: usize,
    /// `false` keeps launches queued without calling them (an API-only node).
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl Default for DialerSection {
    fn default() -> Self {
        Self {
            node_id: default_node_id(),
            max_concurrent_calls: default_dialer_calls(),
            enabled: true,
        }
    }
}

fn default_node_id() -> String {
    "ivory".into()
}
fn default_dialer_calls() -> usize {
    100
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// A tracing filter, e.g. `info` or `ivory_engine=debug`; `RUST_LOG` wins when set.
    pub level: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberEntry {
    /// Exact number, a prefix ending in `*`, or `*`.
    pub number: String,
    /// A scenario JSON file.
    pub scenario: PathBuf,
    /// Ring this long before answering.
    #[serde(default)]
    pub answer_after_ms: u64,
    /// A `[schedules.NAME]`: outside its hours the `closed` scenario runs.
    pub schedule: Option<String>,
    /// The scenario file for closed hours; without it, closed hours refuse the call (480).
    pub closed: Option<PathBuf>,
    /// Record whole calls to this number (stereo WAV: caller left, ivory right).
    #[serde(default)]
    pub record: bool,
}

/// A configuration problem, with where it is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: {key}: {message}")]
    Value {
        origin: String,
        key: String,
        message: String,
    },
}

/// Parses a configuration text; `origin` names it in errors (a path or "embedded defaults").
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    let value_error = |key: &str, message: String| ConfigError::Value {
        origin: origin.to_string(),
        key: key.to_string(),
        message,
    };
    for (index, listen) in config.sip.listen.iter().enumerate() {
        parse_listen(listen).map_err(|m| value_error(&format!("sip.listen[{index}]"), m))?;
    }
    parse_port_range(&config.rtp.port_range).map_err(|m| value_error("rtp.port_range", m))?;
    if let Some((key, message)) = config.tts.problem() {
        return Err(value_error(&key, message));
    }
    if let Some((key, message)) = config.asr.problem() {
        return Err(value_error(&key, message));
    }
    if config.calls.max_calls == 0 {
        return Err(value_error("calls.max_calls", "must be at least 1".into()));
    }
    crate::config_telephony::resolve(&config.trunks, &config.routes, &config.users, origin)?;
    for (name, schedule) in &config.schedules {
        ivory_engine::Schedule::parse_with_exceptions(
            &schedule.timezone,
            &schedule.open,
            &schedule.closed_dates,
            &schedule.open_dates,
        )
        .map_err(|e| value_error(&format!("schedules.{name}"), e.to_string()))?;
    }
    for (index, number) in config.numbers.iter().enumerate() {
        if number.number.is_empty() {
            return Err(value_error(
                &format!("numbers[{index}].number"),
                "must not be empty".into(),
            ));
        }
        if let Some(schedule) = &number.schedule
            && !config.schedules.contains_key(schedule)
        {
            return Err(value_error(
                &format!("numbers[{index}].schedule"),
                format!("no [schedules.{schedule}] is defined"),
            ));
        }
        if number.closed.is_some() && number.schedule.is_none() {
            return Err(value_error(
                &format!("numbers[{index}].closed"),
                "a closed-hours scenario needs a schedule".into(),
            ));
        }
    }
    Ok(config)
}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// `udp:IP:PORT` or `tcp:IP:PORT` (IPv6 as `[::1]:5060`).
pub fn parse_listen(text: &str) -> Result<ivory_sip::Listener, String> {
    let (transport, address) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not transport:address:port"))?;
    let transport = match transport.to_ascii_lowercase().as_str() {
        "udp" => ivory_sip::TransportKind::Udp,
        "tcp" => ivory_sip::TransportKind::Tcp,
        other => return Err(format!("unknown transport {other:?} (udp or tcp)")),
    };
    let address: SocketAddr = address
        .parse()
        .map_err(|_| format!("{address:?} is not an IP:port address"))?;
    Ok(ivory_sip::Listener { transport, address })
}

/// `FIRST-LAST`, inclusive, with room for at least one even/odd pair.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let (first, last) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?} is not FIRST-LAST"))?;
    let first: u16 = first
        .trim()
        .parse()
        .map_err(|_| format!("{first:?} is not a port"))?;
    let last: u16 = last
        .trim()
        .parse()
        .map_err(|_| format!("{last:?} is not a port"))?;
    if first < 1024 || last <= first {
        return Err(format!("{text:?}: need 1024 <= FIRST < LAST"));
    }
    Ok((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse() {
        let config = parse(EMBEDDED_DEFAULTS, "embedded").expect("defaults are valid");
        assert_eq!(config.rtp.port_range, "20000-29999");
        assert!(config.numbers.iter().any(|n| n.number == "1000"));
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let error =
            parse("[sip]\nlisten = []\nlisten_typo = 1\n", "t.toml").expect_err("unknown key");
        let text = error.to_string();
        assert!(text.contains("listen_typo"), "{text}");
        assert!(text.contains("line 3"), "{text}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let error = parse("[rtp]\nport_range = \"3000\"\n", "t.toml").expect_err("bad range");
        assert!(error.to_string().contains("rtp.port_range"), "{error}");
        let error =
            parse("[sip]\nlisten = [\"sctp:1.2.3.4:5\"]\n", "t.toml").expect_err("bad transport");
        assert!(error.to_string().contains("sip.listen[0]"), "{error}");
        let error = parse("[[numbers]]\nnumber = \"1\"\n", "t.toml").expect_err("missing scenario");
        assert!(error.to_string().contains("scenario"), "{error}");
    }

    #[test]
    fn schedules_are_checked() {
        let base = "[[numbers]]\nnumber = \"1\"\nscenario = \"a.json\"\nschedule = \"office\"\n";
        let error = parse(base, "t.toml").expect_err("undefined schedule");
        assert!(error.to_string().contains("numbers[0].schedule"), "{error}");
        let bad_zone = format!("{base}[schedules.office]\ntimezone = \"Nowhere/Land\"\n");
        let error = parse(&bad_zone, "t.toml").expect_err("bad zone");
        assert!(error.to_string().contains("schedules.office"), "{error}");
        let good = format!(
            "{base}[schedules.office]\ntimezone = \"Europe/Stockholm\"\nopen = [\"mon-fri 08:00-17:00\"]\n"
        );
        parse(&good, "t.toml").expect("valid schedule");
    }

    #[test]
    fn tts_keys_are_checked() {
        let config = parse("", "t.toml").expect("defaults");
        assert_eq!(config.tts.provider, "espeak-ng");
        assert_eq!(config.tts.timeout_ms, 10_000);
        let error = parse("[tts]\nprovider = \"polly\"\n", "t.toml").expect_err("unknown");
        assert!(error.to_string().contains("tts.provider"), "{error}");
        assert!(error.to_string().contains("\"http\""), "{error}");
        let error = parse("[tts]\nprovider = \"http\"\n", "t.toml").expect_err("no url");
        assert!(error.to_string().contains("tts.url"), "{error}");
        let error = parse("[tts]\nprovider = \"http\"\nurl = \"ftp://x\"\n", "t.toml")
            .expect_err("bad url");
        assert!(error.to_string().contains("tts.url"), "{error}");
        let good = "[tts]\nprovider = \"http\"\nurl = \"https://tts.example.com/v1/speak\"\n\
                    api_key = \"k\"\ntimeout_ms = 5000\nsample_rate = 16000\n\
                    [tts.headers]\nX-Tenant = \"acme\"\n";
        let config = parse(good, "t.toml").expect("valid http provider");
        assert_eq!(
            config.tts.url.as_deref(),
            Some("https://tts.example.com/v1/speak")
        );
        assert_eq!(config.tts.headers["X-Tenant"], "acme");
        assert_eq!(config.tts.api_key.as_deref(), Some("k"));
        assert_eq!(config.tts.timeout_ms, 5000);
        assert_eq!(config.tts.sample_rate, Some(16_000));
        for (bad, key) in [
            (
                "[tts.headers]\n\"bad name\" = \"x\"\n",
                "tts.headers.bad name",
            ),
            ("[tts]\ntimeout_ms = 0\n", "tts.timeout_ms"),
            ("[tts]\nsample_rate = 100\n", "tts.sample_rate"),
            ("[tts]\napi_key = \"a\\nb\"\n", "tts.api_key"),
            ("[tts]\nurl_typo = \"x\"\n", "url_typo"),
        ] {
            let error = parse(bad, "t.toml").expect_err(bad);
            assert!(error.to_string().contains(key), "{bad}: {error}");
        }
    }

    #[test]
    fn listen_and_ranges() {
        let listener = parse_listen("tcp:[::1]:5070").expect("v6");
        assert_eq!(listener.address.port(), 5070);
        assert!(parse_listen("udp:nohost").is_err());
        assert_eq!(parse_port_range("20000-29999"), Ok((20000, 29999)));
        assert!(parse_port_range("29999-20000").is_err());
    }
}
