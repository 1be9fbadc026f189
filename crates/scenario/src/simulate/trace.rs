//! Trace lines: what the simulator prints, one per command, event and step.

use std::fmt;
use std::time::Duration;

use crate::run::{Command, Event};

/// One line of a simulation trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    /// Virtual time since the call started.
    pub at: Duration,
    pub text: String,
}

impl fmt::Display for TraceLine {
    /// `00:02.000 collectInto choice -> "1"` (minutes:seconds.milliseconds).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.at.as_millis();
        let minutes = millis / 60_000;
        let seconds = millis / 1_000 % 60;
        let fraction = millis % 1_000;
        write!(
            formatter,
            "{minutes:02}:{seconds:02}.{fraction:03} {}",
            self.text
        )
    }
}

/// At most this many characters of a body or text appear in a line.
const SHOWN: usize = 80;

fn shorten(text: &str) -> String {
    let mut shown: String = text.chars().take(SHOWN).collect();
    if text.chars().count() > SHOWN {
        shown.push('…');
    }
    format!("{shown:?}")
}

pub(super) fn command(command: &Command) -> String {
    match command {
        Command::Play {
            source,
            barge_in,
            loop_count,
        } => {
            let mut line = format!("play {source}");
            if *barge_in {
                line.push_str(" (barge-in)");
            }
            if *loop_count != 1 {
                line.push_str(&format!(" x{loop_count}"));
            }
            line
        }
        Command::Say { text, .. } => format!("say {}", shorten(text)),
        Command::StopPlayback => "stop playback".to_owned(),
        Command::Hangup => "hangup".to_owned(),
        Command::Note(note) => format!("note: {note}"),
        Command::HttpRequest {
            method, url, body, ..
        } => match body {
            Some(body) => format!("http {} {url} {}", method.as_str(), shorten(body)),
            None => format!("http {} {url}", method.as_str()),
        },
        Command::Capture { timeout, .. } => format!("capture speech (timeout {timeout:?})"),
        Command::StopCapture => "stop capture".to_owned(),
        Command::Record { max_duration, .. } => match max_duration {
            Some(maximum) => format!("record (at most {maximum:?})"),
            None => "record".to_owned(),
        },
        Command::PlayRecording { identifier } => format!("play recording {identifier}"),
        Command::Dial {
            destinations,
            parallel,
            ..
        } => {
            let how = if *parallel { " (parallel)" } else { "" };
            format!("dial {}{how}", destinations.join(", "))
        }
        Command::DetectMachine => "detect machine".to_owned(),
        Command::SendSms { to, text, .. } => format!("sms to {to}: {}", shorten(text)),
    }
}

pub(super) fn event(event: &Event) -> String {
    match event {
        Event::PlaybackFinished => "playback finished".to_owned(),
        Event::PlaybackFailed { reason } => format!("playback failed: {reason}"),
        Event::Digit(digit) => format!("key {digit}"),
        Event::CallerHungUp => "caller hangs up".to_owned(),
        Event::HttpResponse { status, body, .. } => format!("http {status} {}", shorten(body)),
        Event::SpeechRecognised { text, .. } => format!("speech recognised {}", shorten(text)),
        Event::RecordingFinished {
            identifier,
            duration_ms,
        } => format!("recording finished {identifier} ({duration_ms} ms)"),
        Event::DialFinished { status, sip_code } => match sip_code {
            Some(code) => format!("dial finished {status} ({code})"),
            None => format!("dial finished {status}"),
        },
        Event::MachineDetected { machine } => format!("machine detected: {machine}"),
        Event::SmsSent => "sms sent".to_owned(),
        Event::ActionFailed { reason } => format!("failed: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_minutes_seconds_and_milliseconds() {
        let line = TraceLine {
            at: Duration::from_millis(62_005),
            text: "x".to_owned(),
        };
        assert_eq!(line.to_string(), "01:02.005 x");
        assert_eq!(shorten(&"a".repeat(100)).chars().count(), SHOWN + 3);
    }
}
