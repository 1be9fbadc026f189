//! `ivory serve`: loads the configuration, compiles every scenario, binds SIP, RTP and HTTP, prints
//! where it listens, then runs until SIGINT/SIGTERM, when it stops taking calls and lets live calls
//! finish (up to 30 s).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ivory_engine::recordings::RecordingStore;
use ivory_engine::{
    CallLog, Engine, EngineConfig, EngineParts, EspeakTts, HttpTts, HttpTtsConfig, PortAllocator,
    PromptStore, Router, TextToSpeech,
};
use tracing::{error, info, warn};

use crate::config::{self, Config};

pub fn main(config_path: Option<PathBuf>) -> ExitCode {
    let config = match &config_path {
        Some(path) => config::load(path),
        None => config::parse(
            config::EMBEDDED_DEFAULTS,
            "embedded defaults (config/ivory.toml)",
        ),
    };
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            eprintln!("ivory: {error}");
            return ExitCode::FAILURE;
        }
    };
    init_tracing(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ivory: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ivory: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) {
    // rsipstack logs every datagram at info; keep it at warn unless asked.
    let default = config
        .log
        .level
        .clone()
        .unwrap_or_else(|| "info,rsipstack=warn".into());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(config: Config) -> Result<()> {
    let routes = crate::routes::load(&config)?;
    let uses_say = routes.uses_say;
    let uses_capture = routes.uses_capture;
    let say_texts = routes.say_texts;
    let schedules = Arc::new(routes.schedules);
    let router = Router::new(routes.routes);

    if config.http.api_keys.is_empty() {
        warn!("http.api_keys is empty: every /voice/ivr/1 request will be refused (401)");
    }
    if !config.media.sounds_dir.is_dir() {
        warn!(dir = %config.media.sounds_dir.display(), "sounds directory not found; file prompts will fail");
    }
    let http_client = ivory_engine::http_client::HttpClient::new(&config.sip.user_agent)
        .map_err(|e| anyhow::anyhow!(e))?;
    let tts = text_to_speech(&config.tts, &http_client, uses_say).await?;
    let prompts = Arc::new(PromptStore::new(
        config.media.sounds_dir.clone(),
        tts,
        Some(http_client.clone()),
    ));
    for (scenario, texts) in say_texts {
        prompts.spawn_warming(scenario, texts);
    }
    let (first_port, last_port) = config::parse_port_range(&config.rtp.port_range)
        .map_err(|m| anyhow::anyhow!("rtp.port_range: {m}"))?;
    let ports = PortAllocator::new(config.rtp.bind_address, first_port, last_port)?;
    let call_log = CallLog::open(&config.calls.log).await?;
    let storage = crate::storage::Storage::open(&config.storage.url)
        .await
        .with_context(|| "storage.url".to_string())?;
    let metrics = Arc::new(crate::api::Metrics::new());
    let mut api_state = crate::api::ApiState::new(
        storage.clone(),
        config.http.api_keys.clone(),
        metrics.clone(),
    );
    api_state.recordings_dir = Some(config.recordings.dir.clone());
    api_state.prompts = Some(prompts.clone());
    crate::api::warm_stored_scenarios(storage.clone(), prompts.clone());
    let call_log = call_log.with_observer(observe_calls(metrics.clone(), storage.clone()));
    let pusher = crate::api::webhooks::WebhookPusher::new(
        storage.clone(),
        http_client.clone(),
        metrics.clone(),
        crate::api::system_clock(),
        Default::default(),
    );

    let telephony = crate::config_telephony::resolve(
        &config.trunks,
        &config.routes,
        &config.users,
        "configuration",
    )?;
    info!(
        trunks = telephony.trunks.len(),
        routes = telephony.routes.len(),
        users = telephony.users.len(),
        "telephony configured"
    );
    let listeners = config
        .sip
        .listen
        .iter()
        .map(|l| config::parse_listen(l).map_err(|m| anyhow::anyhow!("sip.listen: {m}")))
        .collect::<Result<Vec<_>>>()?;
    let (sip, incoming) = ivory_sip::SipEndpoint::bind(ivory_sip::SipConfig {
        listeners,
        public_address: config.sip.public_address,
        user_agent: config.sip.user_agent.clone(),
        loopback_only: config.sip.loopback_only,
        pending_calls: 256,
        users: telephony.users,
        realm: config.sip.realm.clone(),
        trunks: telephony.trunks.clone(),
    })
    .await?;
    let recordings = Arc::new(
        RecordingStore::open(&config.recordings.dir)?
            .with_observer(copy_recordings_to(storage.clone())),
    );
    let speech = crate::speech_setup::speech_recognition(&config.asr, &http_client, uses_capture)?;
    let mut engine = Engine::new(EngineParts {
        config: EngineConfig {
            max_calls: config.calls.max_calls,
            rtp_timeout: Duration::from_secs(config.rtp.timeout_seconds),
            max_call_duration: Duration::from_secs(config.calls.max_duration_seconds),
            rtp_bind_ip: config.rtp.bind_address,
        },
        router,
        ports,
        prompts,
        call_log,
        recordings,
        http: http_client,
        schedules,
        outbound: Some(ivory_engine::dial::Outbound {
            dialer: sip.dialer(),
            registrar: sip.registrar(),
            trunks: telephony.trunks,
            routes: telephony.routes,
        }),
    });
    if let Some(speech) = speech {
        engine = engine.with_speech_recognition(speech);
    }
    let engine = Arc::new(engine);

    let (http_address, http_server) = crate::http::bind(
        config.http.listen,
        engine.clone(),
        crate::api::router(api_state),
    )
    .await
    .with_context(|| format!("cannot listen for HTTP on {}", config.http.listen))?;

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ivory {}", env!("CARGO_PKG_VERSION"))?;
    for listener in sip.listeners() {
        writeln!(
            stdout,
            "sip {} {}",
            listener.transport.as_str(),
            listener.address
        )?;
    }
    writeln!(stdout, "rtp {first_port}-{last_port}")?;
    writeln!(stdout, "http {http_address}")?;
    writeln!(stdout, "call-log {}", engine.call_log.path().display())?;
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    drop(stdout);

    let engine_task = tokio::spawn(engine.clone().run(incoming));
    let live_task = tokio::spawn(report_live_counts(engine.clone(), metrics.clone()));
    let (stop_dialer, dialer_stopped) = tokio::sync::watch::channel(false);
    let dialer_task = if config.dialer.enabled {
        let worker = crate::campaign::CampaignWorker::new(
            storage.clone(),
            Arc::new(crate::campaign_placer::EnginePlacer {
                engine: engine.clone(),
                storage: storage.clone(),
            }),
            crate::api::system_clock(),
            metrics.clone(),
            crate::campaign::WorkerConfig {
                max_concurrent_calls: config.dialer.max_concurrent_calls.max(1),
                longest_call: Duration::from_secs(config.calls.max_duration_seconds),
                ..crate::campaign::WorkerConfig::new(config.dialer.node_id.clone())
            },
        );
        let mut stopped = dialer_stopped;
        Some(tokio::spawn(worker.run(async move {
            stopped.wait_for(|stop| *stop).await.ok();
        })))
    } else {
        None
    };
    let pusher_task = tokio::spawn(pusher.run(std::future::pending()));
    let http_task = tokio::spawn(http_server);
    shutdown_signal().await;
    info!(
        live_calls = engine.live_calls(),
        "shutting down: no new calls; waiting for live calls"
    );
    // Dropping the engine's receiver makes the dispatcher answer new INVITEs with 503 while the
    // live calls (each on its own task) run to their end.
    engine_task.abort();
    stop_dialer.send(true).ok();
    if let Some(task) = dialer_task
        && tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .is_err()
    {
        warn!("campaign calls still running after 30 s; they are recovered at the next start");
    }
    if !engine.drain(Duration::from_secs(30)).await {
        warn!(
            live_calls = engine.live_calls(),
            "calls still live after 30 s; stopping anyway"
        );
    }
    sip.shutdown();
    storage.close().await;
    http_task.abort();
    pusher_task.abort();
    live_task.abort();
    Ok(())
}

/// The `[tts]` provider with its cache. A provider that cannot work is a start-up error when a
/// scenario uses `say`, and a warning otherwise.
async fn text_to_speech(
    section: &config::TtsSection,
    http: &ivory_engine::http_client::HttpClient,
    uses_say: bool,
) -> Result<Option<TextToSpeech>> {
    let provider: Arc<dyn ivory_engine::SpeechSynthesiser> = match section.provider.as_str() {
        "http" => {
            // config::parse refuses an http provider without a URL.
            let url = section.url.clone().context("tts.url")?;
            Arc::new(HttpTts::new(
                http.clone(),
                HttpTtsConfig {
                    url,
                    headers: section.headers.clone().into_iter().collect(),
                    api_key: section.api_key.clone(),
                    timeout: Duration::from_millis(section.timeout_ms),
                    sample_rate_hz: section.sample_rate,
                },
            ))
        }
        _ => match EspeakTts::locate(section.program.clone()).await {
            Ok(espeak) => Arc::new(espeak),
            Err(error) if uses_say => {
                anyhow::bail!("a scenario uses `say`, but text-to-speech is unavailable: {error}")
            }
            Err(error) => {
                warn!(%error, "text-to-speech unavailable (no scenario uses `say`)");
                return Ok(None);
            }
        },
    };
    info!(provider = provider.name(), "text-to-speech ready");
    Ok(Some(TextToSpeech::new(
        provider,
        Some(section.cache_dir.clone()),
    )))
}

/// For every finished call (its call-log line): counts it, its RTP and its digits in the metrics,
/// and copies the line into storage for `GET /voice/ivr/1/calls` (the JSONL call log, written and
/// fsync'd first, stays the record of truth: a crash may lose the copy of the last lines).
fn observe_calls(
    metrics: Arc<crate::api::Metrics>,
    storage: crate::storage::Storage,
) -> ivory_engine::call_log::CallObserver {
    Arc::new(move |record: &ivory_engine::CallRecord| {
        let entry = crate::storage::CallLogEntry {
            call_id: record.call_id.clone(),
            direction: record.direction.to_string(),
            message_id: None,
            from: Some(record.from.clone()).filter(|from| !from.is_empty()),
            to: Some(record.to.clone()).filter(|to| !to.is_empty()),
            started_at: record
                .start_time
                .parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .unwrap_or(0),
            record: serde_json::to_value(record).unwrap_or_default(),
        };
        let storage = storage.clone();
        tokio::spawn(async move {
            if let Err(error) = storage.insert_call_log(&entry).await {
                warn!(%error, call_id = %entry.call_id, "cannot copy a call-log line to storage");
            }
        });
        let outcome = if record.status == 200 {
            "answered"
        } else {
            record.hangup_reason.as_str()
        };
        metrics.call_counted(record.direction, outcome);
        let rtp = &record.rtp;
        metrics.rtp(rtp.packets_in, rtp.packets_out, rtp.late, rtp.lost);
        for leg in &record.legs {
            let rtp = &leg.rtp;
            metrics.rtp(rtp.packets_in, rtp.packets_out, rtp.late, rtp.lost);
        }
        for digit in &record.digits {
            metrics.dtmf_digit(digit.source);
        }
    })
}

/// Copies each recording's index entry into storage (`GET /voice/ivr/1/recordings`); the
/// fsync'd `index.jsonl` stays the record of truth.
fn copy_recordings_to(
    storage: crate::storage::Storage,
) -> ivory_engine::recordings::RecordingObserver {
    Arc::new(move |entry: &ivory_engine::recordings::RecordingEntry| {
        let row = crate::storage::RecordingRow {
            file: entry.file.clone(),
            identifier: entry.identifier.clone(),
            call_id: entry.call_id.clone(),
            message_id: None,
            kind: entry.kind.clone(),
            duration_ms: i64::try_from(entry.duration_ms).unwrap_or(i64::MAX),
            created_at: entry
                .created_at
                .parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .unwrap_or(0),
        };
        let storage = storage.clone();
        tokio::spawn(async move {
            if let Err(error) = storage.index_recording(&row).await {
                warn!(%error, file = %row.file, "cannot copy a recording's index entry to storage");
            }
        });
    })
}

/// Keeps the live calls and legs gauges current (once a second).
async fn report_live_counts(engine: Arc<Engine>, metrics: Arc<crate::api::Metrics>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        metrics.set_live(engine.live_calls(), engine.live_legs());
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    error!(%error, "cannot listen for SIGTERM");
                    interrupt.await.ok();
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.ok();
}
