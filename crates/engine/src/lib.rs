//! ivory's call engine: binds a SIP dialog, an RTP media session and a scenario run into a call leg.
//!
//! [`Engine::run`] takes the [`InboundCall`]s the `sip` crate produces and runs each on its own task
//! (one owner per leg, STYLE.md 4). A leg:
//!
//! 1. routes the Request-URI user through `[[numbers]]` ([`routing`]): no match → 404;
//! 2. takes an RTP port pair ([`ports`]): none free → 503;
//! 3. answers the SDP offer (PCMU/PCMA + telephone-event): nothing acceptable → 488;
//! 4. rings (180), optionally for `answer_after`, answers (200), and runs the scenario: its commands
//!    (play, say, stop, hang up) are carried out by the media session and the [`prompts`] store, and the
//!    media session's events (digits, prompt ends) go back into the scenario;
//! 5. ends on BYE from either side, the scenario's end, an RTP timeout or the maximum call duration,
//!    and appends one line to the [`call_log`].
//!
//! The media of every call runs on a few [`media_worker`] threads that tick all their calls every
//! 20 ms; a leg's task keeps the dialog and the scenario and drives its media through a handle.
//!
//! A scenario's `dial` calls out and bridges the caller with the callee who answers ([`dial`]).
//!
//! Concurrency is capped by a semaphore (`max_calls`; over it → 503).
#![forbid(unsafe_code)]

pub mod asr;
pub mod call_log;
pub mod dial;
pub mod dialer;
mod error;
pub mod http_client;
mod leg;
mod leg_commands;
mod leg_dialog;
mod leg_setup;
mod leg_speech;
pub mod media_worker;
pub mod outbound_routing;
pub mod place_call;
pub mod ports;
pub mod prompts;
pub mod recordings;
pub mod routing;
pub mod schedule;
pub mod schedule_book;
pub mod ssml;
mod tap_listeners;
pub mod tts;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ivory_sip::InboundCall;
use tokio::sync::{Semaphore, mpsc};
use tracing::warn;

pub use call_log::{CallLog, CallRecord};
pub use error::EngineError;
pub use media_worker::MediaWorkers;
pub use ports::PortAllocator;
pub use prompts::{PromptStore, WarmOutcome};
pub use routing::{BusinessHours, NumberRoute, Router};
pub use schedule::{Schedule, ScheduleError};
pub use schedule_book::ScheduleBook;
pub use tts::{
    EspeakTts, HttpTts, HttpTtsConfig, SpeechSynthesiser, SynthesisRequest, TextToSpeech,
};

/// Limits and timeouts of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The most calls at once; more get 503.
    pub max_calls: usize,
    /// Hang up when no RTP arrived for this long (not while the caller holds the call).
    pub rtp_timeout: Duration,
    /// Hang up any call that lasts this long.
    pub max_call_duration: Duration,
    /// The address RTP sockets bind to.
    pub rtp_bind_ip: IpAddr,
}

/// What an [`Engine`] is built from.
#[derive(Debug)]
pub struct EngineParts {
    pub config: EngineConfig,
    pub router: Router,
    pub ports: PortAllocator,
    pub prompts: Arc<PromptStore>,
    pub call_log: CallLog,
    pub recordings: Arc<recordings::RecordingStore>,
    pub http: http_client::HttpClient,
    pub schedules: Arc<ScheduleBook>,
    /// Dialling out; `None` answers every `dial` with FAILED.
    pub outbound: Option<dial::Outbound>,
}

/// The shared state every leg reads.
#[derive(Debug)]
pub struct Engine {
    pub config: EngineConfig,
    pub router: Router,
    pub ports: PortAllocator,
    pub prompts: Arc<PromptStore>,
    pub call_log: CallLog,
    pub recordings: Arc<recordings::RecordingStore>,
    pub http: http_client::HttpClient,
    pub schedules: Arc<ScheduleBook>,
    pub outbound: Option<dial::Outbound>,
    /// The threads that carry every call's RTP.
    pub media: MediaWorkers,
    /// `capture`'s recogniser; `None` fails every `capture` ([`Engine::with_speech_recognition`]).
    pub speech: Option<Arc<asr::SpeechRecognition>>,
    pub(crate) calls: Arc<Semaphore>,
    /// Dialled legs whose SIP dialog is not over yet.
    dialled_legs: Arc<AtomicUsize>,
}

/// Counts one dialled leg as live while held.
pub(crate) struct LiveLegGuard(Arc<AtomicUsize>);

impl Drop for LiveLegGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Engine {
    /// An engine with [`MediaWorkers::default_count`] media workers.
    pub fn new(parts: EngineParts) -> Self {
        Self::with_media_workers(parts, MediaWorkers::default_count())
    }

    /// An engine whose calls' media run on `media_workers` threads (at least one).
    pub fn with_media_workers(parts: EngineParts, media_workers: usize) -> Self {
        let EngineParts {
            config,
            router,
            ports,
            prompts,
            call_log,
            recordings,
            http,
            schedules,
            outbound,
        } = parts;
        let calls = Arc::new(Semaphore::new(config.max_calls));
        Self {
            config,
            router,
            ports,
            prompts,
            call_log,
            recordings,
            http,
            schedules,
            outbound,
            media: MediaWorkers::start(media_workers),
            speech: None,
            calls,
            dialled_legs: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The engine with `speech` recognising `capture`'s answers.
    pub fn with_speech_recognition(mut self, speech: asr::SpeechRecognition) -> Self {
        self.speech = Some(Arc::new(speech));
        self
    }

    /// Live calls now.
    pub fn live_calls(&self) -> usize {
        self.config.max_calls - self.calls.available_permits()
    }

    /// Live call legs: inbound calls plus the legs they dialled whose dialog is not over.
    pub fn live_legs(&self) -> usize {
        self.live_calls() + self.dialled_legs.load(Ordering::Relaxed)
    }

    pub(crate) fn count_dialled_leg(&self) -> LiveLegGuard {
        self.dialled_legs.fetch_add(1, Ordering::Relaxed);
        LiveLegGuard(self.dialled_legs.clone())
    }

    /// Runs every incoming call until the channel closes.
    pub async fn run(self: Arc<Self>, mut incoming: mpsc::Receiver<InboundCall>) {
        while let Some(call) = incoming.recv().await {
            let Ok(permit) = self.calls.clone().try_acquire_owned() else {
                warn!(call_id = %call.info().call_id, "at max_calls: 503");
                leg_setup::refuse(&self, &call, 503, "max-calls");
                continue;
            };
            let engine = self.clone();
            tokio::spawn(async move {
                leg_setup::handle_inbound(engine, call).await;
                drop(permit);
            });
        }
    }

    /// Waits until no call is live or `timeout` has passed; true when all calls ended.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let wait = self.calls.acquire_many(self.config.max_calls as u32);
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}
