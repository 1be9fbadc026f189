//! Actions carried out by the engine: prompts, `capture`, `record`, `playFromRecording`,
//! `dial`, `machineDetection`, `request`, `sendSms`. Each emits one [`Command`] and (but
//! for prompts, which have their own wait) waits in [`Wait::External`] for one completion
//! event or [`Event::ActionFailed`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::DialStatus;
use super::input::Purpose;
use super::{ActionRef, Command, Event, Run, Wait, response};
use crate::program::set_by_runtime::{
    API_ERROR, API_STATUS, API_TIMESTAMP, DIAL_SIP_CODE, DIAL_STATUS, FULL_SUFFIX, MACHINE_ANSWERED,
};
use crate::program::{ActionKind, MAXIMUM_INPUT_LENGTH, RecordingReference, prompt_source_problem};

impl Run {
    /// Emits the command of an external action and waits for its completion.
    pub(super) fn start_external(&mut self, now: Instant, at: ActionRef) {
        let program = Arc::clone(&self.programs[at.slot]);
        let action = &program.actions[at.index.0];
        let path = action.path.as_str();
        let command = match &action.kind {
            ActionKind::Play(play) => {
                let Some(source) = self.render(path, &play.source) else {
                    return;
                };
                if let Some(problem) = prompt_source_problem(&source) {
                    self.note(format!("{path}: prompt {source:?} {problem}; skipped"));
                    return;
                }
                self.wait = Wait::Playback {
                    barge_in: play.barge_in,
                    pause_after: play.pause_after,
                    ivr: None,
                };
                Command::Play {
                    source,
                    barge_in: play.barge_in,
                    loop_count: play.loop_count,
                }
            }
            ActionKind::Say(say) => {
                let Some(text) = self.render(path, &say.text) else {
                    return;
                };
                self.wait = Wait::Playback {
                    barge_in: say.barge_in,
                    pause_after: Duration::ZERO,
                    ivr: None,
                };
                Command::Say {
                    text,
                    language: say.language.clone(),
                    voice: say.voice.clone(),
                    speech_rate: say.speech_rate,
                    barge_in: say.barge_in,
                }
            }
            ActionKind::PlayRecording(reference) => {
                let identifier = match reference {
                    RecordingReference::Last => self.recordings.last().cloned(),
                    RecordingReference::Number(number) => {
                        self.recordings.get(number.saturating_sub(1)).cloned()
                    }
                    RecordingReference::Identifier(template) => self.render(path, template),
                };
                let Some(identifier) = identifier.filter(|identifier| !identifier.is_empty())
                else {
                    self.note(format!("{path}: no such recording in this call; skipped"));
                    return;
                };
                self.wait = Wait::Playback {
                    barge_in: false,
                    pause_after: Duration::ZERO,
                    ivr: None,
                };
                Command::PlayRecording { identifier }
            }
            ActionKind::Capture(capture) => {
                if !self.type_ahead.is_empty() {
                    // Keys typed ahead are DTMF input: DTMF wins, no need to listen.
                    let maximum = capture.dtmf_maximum_length.unwrap_or(MAXIMUM_INPUT_LENGTH);
                    self.start_collecting(
                        now,
                        Purpose::Capture(at),
                        maximum,
                        capture.timeout,
                        true,
                    );
                    return;
                }
                Command::Capture {
                    timeout: capture.timeout,
                    language: capture.language.clone(),
                    key_phrases: capture.key_phrases.clone(),
                    max_silence: capture.maximum_silence,
                    dtmf_max_length: capture.dtmf_maximum_length,
                }
            }
            ActionKind::Record(record) => Command::Record {
                max_duration: record.maximum_duration,
                beep: record.beep,
                escape_digits: record.escape_digits.clone(),
                max_silence: record.maximum_silence,
                identifier: match &record.identifier {
                    Some(template) => Some(self.render(path, template).unwrap_or_default())
                        .filter(|identifier| !identifier.is_empty()),
                    None => None,
                },
            },
            ActionKind::Dial(dial) => {
                let destinations: Vec<String> = dial
                    .destinations
                    .iter()
                    .filter_map(|destination| self.render(path, destination))
                    .filter(|destination| !destination.trim().is_empty())
                    .collect();
                if destinations.is_empty() {
                    self.note(format!("{path}: no number to dial; dialStatus=FAILED"));
                    self.set_variable(DIAL_STATUS, DialStatus::Failed.as_str().to_owned());
                    self.set_variable(DIAL_SIP_CODE, String::new());
                    return;
                }
                Command::Dial {
                    destinations,
                    parallel: dial.parallel,
                    sender_id: match &dial.sender_id {
                        Some(template) => self.render(path, template),
                        None => None,
                    },
                    ring_timeout: dial.ring_timeout,
                    max_call_duration: dial.maximum_call_duration,
                }
            }
            ActionKind::MachineDetection => Command::DetectMachine,
            ActionKind::Request(request) => {
                // Set first: the URL, headers and body may use it.
                self.set_timestamp(now);
                let Some(url) = self.render(path, &request.url) else {
                    self.request_failed(path, "the URL could not be rendered");
                    return;
                };
                let mut headers: Vec<(String, String)> = Vec::new();
                for (name, value) in &request.headers {
                    let value = self.render(path, value).unwrap_or_default();
                    headers.push((name.clone(), value));
                }
                let body = match &request.body {
                    Some(body) => match self.with_functions(path, |variables, functions| {
                        body.render(variables, functions)
                    }) {
                        Ok(serde_json::Value::String(text)) => Some(text),
                        Ok(value) => {
                            let has_type = headers
                                .iter()
                                .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
                            if !has_type {
                                headers.push((
                                    "Content-Type".to_owned(),
                                    "application/json".to_owned(),
                                ));
                            }
                            Some(value.to_string())
                        }
                        Err(error) => {
                            self.note(format!("{path}: the body failed: {error}"));
                            None
                        }
                    },
                    None => None,
                };
                Command::HttpRequest {
                    method: request.method,
                    url,
                    headers,
                    body,
                    timeout: request.timeout,
                }
            }
            ActionKind::SendSms { from, to, text } => {
                let from = match from {
                    Some(template) => self.render(path, template),
                    None => None,
                };
                let to = self.render(path, to).unwrap_or_default();
                let text = self.render(path, text).unwrap_or_default();
                Command::SendSms { from, to, text }
            }
            _ => return,
        };
        if !matches!(self.wait, Wait::Playback { .. }) {
            self.wait = Wait::External(at);
        }
        self.push(command);
    }

    /// The completion of the pending external action (events that complete nothing
    /// pending are ignored).
    pub(super) fn complete_external(&mut self, event: Event) {
        let Wait::External(at) = self.wait else {
            return;
        };
        let program = Arc::clone(&self.programs[at.slot]);
        let action = &program.actions[at.index.0];
        let path = action.path.as_str();
        match (&action.kind, event) {
            (
                ActionKind::Request(request),
                Event::HttpResponse {
                    status,
                    content_type,
                    body,
                },
            ) => {
                self.wait = Wait::Ready;
                self.set_variable(API_STATUS, status.to_string());
                self.set_variable(API_ERROR, String::new());
                let mut saved = Vec::new();
                if request.collect_response {
                    let fields = response::fields(content_type.as_deref(), &body);
                    match fields {
                        Ok(fields) => {
                            for (name, value) in fields {
                                if crate::compile::READ_ONLY_VARIABLES.contains(&name.as_str()) {
                                    continue;
                                }
                                saved.push(name.clone());
                                self.set_variable(&name, value);
                            }
                        }
                        Err(problem) => self.note(format!("{path}: collectResponse: {problem}")),
                    }
                }
                self.trace(|| format!("{path} request -> {status}, saved [{}]", saved.join(", ")));
            }
            (ActionKind::Request(_), Event::ActionFailed { reason }) => {
                self.wait = Wait::Ready;
                self.request_failed(path, &reason);
            }
            (
                ActionKind::Capture(capture),
                Event::SpeechRecognised {
                    text,
                    key_phrases_heard,
                },
            ) => {
                self.wait = Wait::Ready;
                let value = if capture.key_phrases.is_empty() {
                    text.clone()
                } else {
                    let heard = key_phrases_heard.as_deref().unwrap_or(&text);
                    response::key_phrase(heard, &capture.key_phrases).unwrap_or_default()
                };
                let variable = &capture.variable;
                self.trace(|| format!("{path} capture {variable} -> {value:?} (heard {text:?})"));
                self.set_variable(&format!("{variable}{FULL_SUFFIX}"), text);
                self.set_variable(variable, value);
            }
            (ActionKind::Capture(capture), Event::ActionFailed { reason }) => {
                self.wait = Wait::Ready;
                self.note(format!(
                    "{path}: capture failed: {reason}; the input is empty"
                ));
                self.set_variable(&format!("{}{FULL_SUFFIX}", capture.variable), String::new());
                self.set_variable(&capture.variable, String::new());
            }
            (
                ActionKind::Record(_),
                Event::RecordingFinished {
                    identifier,
                    duration_ms,
                },
            ) => {
                self.wait = Wait::Ready;
                self.trace(|| format!("{path} record -> {identifier:?} ({duration_ms} ms)"));
                self.recordings.push(identifier);
            }
            (ActionKind::Dial(_), Event::DialFinished { status, sip_code }) => {
                self.wait = Wait::Ready;
                self.trace(|| format!("{path} dial -> {status}"));
                self.set_variable(DIAL_STATUS, status.as_str().to_owned());
                let code = sip_code.map(|code| code.to_string()).unwrap_or_default();
                self.set_variable(DIAL_SIP_CODE, code);
            }
            (ActionKind::Dial(_), Event::ActionFailed { reason }) => {
                self.wait = Wait::Ready;
                self.note(format!("{path}: dial failed: {reason}; dialStatus=FAILED"));
                self.set_variable(DIAL_STATUS, DialStatus::Failed.as_str().to_owned());
                self.set_variable(DIAL_SIP_CODE, String::new());
            }
            (ActionKind::MachineDetection, Event::MachineDetected { machine }) => {
                self.wait = Wait::Ready;
                self.trace(|| format!("{path} machineDetection -> {machine}"));
                self.set_variable(MACHINE_ANSWERED, machine.to_string());
            }
            (ActionKind::MachineDetection, Event::ActionFailed { reason }) => {
                self.wait = Wait::Ready;
                self.note(format!(
                    "{path}: machineDetection failed: {reason}; machineAnswered=false"
                ));
                self.set_variable(MACHINE_ANSWERED, "false".to_owned());
            }
            (ActionKind::SendSms { .. }, Event::SmsSent) => {
                self.wait = Wait::Ready;
                self.trace(|| format!("{path} sendSms -> sent"));
            }
            (
                ActionKind::Ivr(_),
                event @ (Event::HttpResponse { .. } | Event::ActionFailed { .. }),
            ) => {
                self.wait = Wait::Ready;
                self.ivr_fetched(at, event);
            }
            (kind, Event::ActionFailed { reason }) => {
                self.wait = Wait::Ready;
                self.note(format!("{path}: {} failed: {reason}", kind.name()));
            }
            // Not the completion of what is pending: a stray event.
            _ => {}
        }
    }

    fn request_failed(&mut self, path: &str, reason: &str) {
        self.note(format!(
            "{path}: request failed: {reason}; __apiResponseStatusCode is empty"
        ));
        self.trace(|| format!("{path} request -> failed ({reason})"));
        self.set_variable(API_STATUS, String::new());
        self.set_variable(API_ERROR, reason.to_owned());
    }

    fn set_timestamp(&mut self, now: Instant) {
        let value = self
            .unix_time_ms(now)
            .map(|time| time.to_string())
            .unwrap_or_default();
        self.set_variable(API_TIMESTAMP, value);
    }
}
