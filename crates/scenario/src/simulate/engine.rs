//! The simulator's stand-in for the engine: how long each command takes and how it ends.

use std::time::Duration;

use super::{Pending, Simulator};
use crate::run::{Command, DialStatus, Event};

impl Simulator<'_> {
    /// Plays the engine's part for one command: schedules its completion event.
    pub(super) fn emulate(&mut self, command: Command) {
        let options = &self.options;
        let (after, event, escape_digits) = match command {
            Command::Play { loop_count, .. } => (
                options.prompt_duration * loop_count.max(1),
                Event::PlaybackFinished,
                String::new(),
            ),
            Command::Say { .. } | Command::PlayRecording { .. } => (
                options.prompt_duration,
                Event::PlaybackFinished,
                String::new(),
            ),
            Command::StopPlayback | Command::StopCapture | Command::Hangup => {
                self.pending = None;
                return;
            }
            Command::HttpRequest { url, .. } => {
                let event = match self.http.answer(&url) {
                    Some(answer) => Event::HttpResponse {
                        status: answer.status,
                        content_type: answer.content_type.clone(),
                        body: answer.body.clone(),
                    },
                    None => Event::ActionFailed {
                        reason: format!("connection refused (no scripted answer for {url})"),
                    },
                };
                (options.http_latency, event, String::new())
            }
            Command::Capture { timeout, .. } => (
                timeout,
                Event::SpeechRecognised {
                    text: String::new(),
                    key_phrases_heard: None,
                },
                String::new(),
            ),
            Command::Record {
                max_duration,
                escape_digits,
                identifier,
                ..
            } => {
                self.recordings += 1;
                let length = max_duration.map_or(options.record_duration, |maximum| {
                    maximum.min(options.record_duration)
                });
                let identifier =
                    identifier.unwrap_or_else(|| format!("recording-{}", self.recordings));
                let event = Event::RecordingFinished {
                    identifier,
                    duration_ms: u64::try_from(length.as_millis()).unwrap_or(u64::MAX),
                };
                (length, event, escape_digits)
            }
            Command::Dial { ring_timeout, .. } => {
                let status = self.next_dial.take().unwrap_or(DialStatus::Answered);
                let (after, sip_code) = match status {
                    DialStatus::Answered => (options.dial_duration, 200),
                    DialStatus::NoAnswer => (ring_timeout, 480),
                    DialStatus::Busy => (Duration::from_secs(1), 486),
                    DialStatus::Declined => (Duration::from_secs(1), 603),
                    DialStatus::Failed => (Duration::from_secs(1), 503),
                };
                let event = Event::DialFinished {
                    status,
                    sip_code: Some(sip_code),
                };
                (after, event, String::new())
            }
            Command::DetectMachine => {
                let machine = self.next_machine.take().unwrap_or(false);
                (
                    options.machine_detection_duration,
                    Event::MachineDetected { machine },
                    String::new(),
                )
            }
            Command::SendSms { .. } => (Duration::ZERO, Event::SmsSent, String::new()),
            Command::Note(_) => return,
        };
        self.pending = Some(Pending {
            at: self.now + after,
            event,
            escape_digits,
        });
    }
}
