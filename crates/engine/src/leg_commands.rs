//! Carrying out a scenario's commands on a leg: prompts, speech synthesis and capture
//! ([`crate::leg_speech`]), recordings, machine detection, the Call API, dialling out
//! ([`crate::dial`]); and answering `ActionFailed` at once for what this runtime cannot do (SMS
//! without a gateway), so the call goes on and the call log says why. Media commands go to the call's media slot
//! on its worker ([`crate::media_worker`]) and take effect on its next 20 ms tick.

use std::time::Duration;

use ivory_rtp::Prompt;
use ivory_scenario::{Command, Event, FinishReason};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::call_log::HangupBy;
use crate::dial::DialRequest;
use crate::http_client::OutgoingRequest;
use crate::leg::{Completion, Leg};
use crate::tap_listeners::RecordingRequest;

/// What a `record` action asked for.
struct RecordParameters {
    max_duration: Option<Duration>,
    max_silence: Option<Duration>,
    escape_digits: String,
    identifier: Option<String>,
}

impl Leg {
    pub(crate) async fn on_command(&mut self, command: Command) {
        match command {
            Command::Play {
                source, loop_count, ..
            } => {
                let generation = self.start_load();
                let prompts = self.engine.prompts.clone();
                let completions = self.completions_tx.clone();
                tokio::spawn(async move {
                    let result = prompts.file(&source).await.map_err(|e| e.to_string());
                    completions
                        .send(Completion::Prompt {
                            generation,
                            result,
                            loop_count,
                        })
                        .ok();
                });
            }
            Command::Say {
                text,
                language,
                voice,
                speech_rate,
                ..
            } => {
                let generation = self.start_load();
                let prompts = self.engine.prompts.clone();
                let completions = self.completions_tx.clone();
                tokio::spawn(async move {
                    let result = prompts
                        .say(&text, language.as_deref(), voice.as_ref(), speech_rate)
                        .await
                        .map_err(|e| e.to_string());
                    completions
                        .send(Completion::Prompt {
                            generation,
                            result,
                            loop_count: 1,
                        })
                        .ok();
                });
            }
            Command::PlayRecording { identifier } => {
                let generation = self.start_load();
                let path = self.engine.recordings.find(&identifier);
                let completions = self.completions_tx.clone();
                tokio::spawn(async move {
                    let result = match path {
                        Some(path) => tokio::task::spawn_blocking(move || {
                            ivory_dsp::decode::decode_file(&path)
                        })
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|decoded| decoded.map_err(|e| e.to_string()))
                        .map(|samples| Prompt::from_samples(samples.into())),
                        None => Err(format!("no recording {identifier:?}")),
                    };
                    completions
                        .send(Completion::Prompt {
                            generation,
                            result,
                            loop_count: 1,
                        })
                        .ok();
                });
            }
            Command::StopPlayback => {
                self.generation += 1;
                self.media.stop_playback();
            }
            Command::Record {
                max_duration,
                beep,
                escape_digits,
                max_silence,
                identifier,
            } => {
                let parameters = RecordParameters {
                    max_duration,
                    max_silence,
                    escape_digits,
                    identifier,
                };
                let Some(request) = self.open_recording(parameters) else {
                    return;
                };
                self.recording_active = true;
                if beep {
                    // The media worker starts the recording when the beep ends; the run is not
                    // told of the beep.
                    self.generation += 1;
                    let prompt = Prompt::from_samples(ivory_dsp::tone::beep().into());
                    self.media.play(self.generation, prompt, 1, Some(request));
                } else {
                    self.media.start_recording(request);
                }
            }
            Command::DetectMachine => self.media.detect_machine(),
            Command::HttpRequest {
                method,
                url,
                headers,
                body,
                timeout,
            } => {
                self.send_http(method.as_str(), url, headers, body, timeout);
            }
            Command::Hangup => {
                let reason = match self.run.finish_reason() {
                    Some(FinishReason::HangupAction) => "hangup-action",
                    Some(FinishReason::StepLimit) => "step-limit",
                    Some(FinishReason::ScriptFailed) => "script-failed",
                    _ => "scenario-end",
                };
                self.end_by_ivory(HangupBy::Ivory, reason).await;
            }
            Command::Note(note) => {
                info!(%note, "scenario note");
                self.record.notes.push(note);
            }
            Command::Capture {
                timeout,
                language,
                key_phrases,
                max_silence,
                ..
            } => self.start_capture(
                timeout,
                max_silence,
                crate::asr::RecognitionRequest {
                    language,
                    key_phrases,
                },
            ),
            Command::StopCapture => self.stop_capture(),
            Command::Dial {
                destinations,
                parallel,
                sender_id,
                ring_timeout,
                max_call_duration,
            } => {
                self.dial(DialRequest {
                    destinations,
                    parallel,
                    sender_id,
                    ring_timeout,
                    max_call_duration,
                })
                .await;
            }
            other => self.refuse(&other),
        }
    }

    /// After the caller hung up only the Call API still makes sense; everything else fails at once.
    pub(crate) fn on_command_after_hangup(&mut self, command: Command) {
        match command {
            Command::HttpRequest {
                method,
                url,
                headers,
                body,
                timeout,
            } => {
                self.send_http(method.as_str(), url, headers, body, timeout);
            }
            Command::Note(note) => self.record.notes.push(note),
            Command::Hangup | Command::StopPlayback | Command::StopCapture => {}
            other => self.refuse(&other),
        }
    }

    /// Answers `ActionFailed` for a command this runtime cannot carry out (yet).
    fn refuse(&mut self, command: &Command) {
        let reason = match command {
            Command::Dial { .. } => "the caller has hung up: nobody to connect",
            Command::Capture { .. } => "the caller has hung up: nobody to listen to",
            Command::SendSms { .. } => "no SMS gateway is configured",
            _ => "this action is not available in this version",
        };
        warn!(reason, "action refused");
        if command.awaits_completion() {
            self.fail_action(reason);
        }
    }

    /// Tells the run its pending action failed, and why.
    pub(crate) fn fail_action(&mut self, reason: &str) {
        self.run.handle_event(
            Instant::now().into_std(),
            Event::ActionFailed {
                reason: reason.to_string(),
            },
        );
    }

    fn send_http(
        &mut self,
        method: &str,
        url: String,
        headers: Vec<(String, String)>,
        body: Option<String>,
        timeout: Duration,
    ) {
        let http = self.engine.http.clone();
        let completions = self.completions_tx.clone();
        let request = OutgoingRequest {
            method: method.to_string(),
            url,
            headers,
            body,
            timeout,
        };
        tokio::spawn(async move {
            let event = match http.send(request).await {
                Ok(response) => Event::HttpResponse {
                    status: response.status,
                    content_type: response.content_type,
                    body: String::from_utf8_lossy(&response.body).into_owned(),
                },
                Err(reason) => Event::ActionFailed {
                    reason: format!("HTTP request failed: {reason}"),
                },
            };
            completions.send(Completion::Scenario(event)).ok();
        });
    }

    /// Opens the file of a `record` action (here, so a slow disk never delays a media tick);
    /// `None` after telling the run it failed.
    fn open_recording(&mut self, parameters: RecordParameters) -> Option<RecordingRequest> {
        self.recordings_made += 1;
        let call_id = self.call.info().call_id.clone();
        let (file, path) = self
            .engine
            .recordings
            .path_for(&call_id, &self.recordings_made.to_string());
        let identifier = parameters
            .identifier
            .filter(|identifier| !identifier.is_empty())
            .unwrap_or_else(|| format!("{call_id}-{}", self.recordings_made));
        let opened = RecordingRequest::create(
            identifier,
            file,
            &path,
            parameters.max_duration,
            parameters.max_silence,
            &parameters.escape_digits,
        );
        match opened {
            Ok(request) => Some(request),
            Err(reason) => {
                warn!(%reason, "cannot start a recording");
                self.run.handle_event(
                    Instant::now().into_std(),
                    Event::ActionFailed {
                        reason: format!("cannot start the recording: {reason}"),
                    },
                );
                None
            }
        }
    }

    fn start_load(&mut self) -> u64 {
        self.generation += 1;
        self.media.stop_playback();
        self.generation
    }
}
