//! The values exchanged between a [`Run`](super::Run) and the engine that drives it:
//! [`Event`]s in, [`Command`]s out. The rules are in the crate docs.

use std::fmt;
use std::time::Duration;

use crate::program::{HttpMethod, Voice};

/// Something that happened on the call, fed to [`Run::handle_event`](super::Run::handle_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The prompt of the last `Play`/`Say`/`PlayRecording` has been played completely (all
    /// its loops).
    PlaybackFinished,
    /// The prompt of the last `Play`/`Say`/`PlayRecording` could not be played (or not to
    /// its end).
    PlaybackFailed { reason: String },
    /// The caller pressed a DTMF key: `0`-`9`, `*`, `#`, `A`-`D`.
    Digit(char),
    /// The caller hung up. Without `onHangup` the run finishes at once and emits nothing
    /// more; with it, the run goes on with the `onHangup` actions (see the crate docs).
    CallerHungUp,
    /// The answer to [`Command::HttpRequest`] (any status: 4xx and 5xx too).
    HttpResponse {
        status: u16,
        content_type: Option<String>,
        body: String,
    },
    /// The end of [`Command::Capture`]: the transcript, `""` when nothing was understood
    /// before the timeout. `key_phrases_heard`: what a key-phrase recogniser (a grammar) heard,
    /// matched against the key phrases instead of `text` when given; `None` matches `text`.
    SpeechRecognised {
        text: String,
        key_phrases_heard: Option<String>,
    },
    /// The end of [`Command::Record`]: the identifier the recording is stored under.
    RecordingFinished {
        identifier: String,
        duration_ms: u64,
    },
    /// The end of [`Command::Dial`]: for `Answered`, after the connected call has ended.
    DialFinished {
        status: DialStatus,
        sip_code: Option<u16>,
    },
    /// The answer to [`Command::DetectMachine`].
    MachineDetected { machine: bool },
    /// [`Command::SendSms`] was accepted by the SMS gateway.
    SmsSent,
    /// The pending external action (any command that [`Command::awaits_completion`])
    /// could not be carried out: the run sets the action's failure variables, notes the
    /// reason and goes on. An engine that cannot perform an action answers this at once.
    ActionFailed { reason: String },
}

/// How a `dial` / `dialToMany` ended: the value of the `dialStatus` variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DialStatus {
    Answered,
    NoAnswer,
    Busy,
    Declined,
    Failed,
}

impl DialStatus {
    pub const ALL: [DialStatus; 5] = [
        DialStatus::Answered,
        DialStatus::NoAnswer,
        DialStatus::Busy,
        DialStatus::Declined,
        DialStatus::Failed,
    ];

    /// `"ANSWERED"`, `"NO_ANSWER"`, `"BUSY"`, `"DECLINED"` or `"FAILED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DialStatus::Answered => "ANSWERED",
            DialStatus::NoAnswer => "NO_ANSWER",
            DialStatus::Busy => "BUSY",
            DialStatus::Declined => "DECLINED",
            DialStatus::Failed => "FAILED",
        }
    }

    /// The status named by [`as_str`](Self::as_str) (ASCII case-insensitive).
    pub fn parse(text: &str) -> Option<DialStatus> {
        DialStatus::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for DialStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Something the engine must do, drained with [`Run::poll_command`](super::Run::poll_command).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// Play `source`, `loop_count` times in a row, then send one
    /// [`Event::PlaybackFinished`]. `source` is an `http(s)://` URL (the engine fetches it)
    /// or a path relative to the sounds directory (already checked with
    /// [`prompt_source_problem`](crate::prompt_source_problem)).
    Play {
        source: String,
        barge_in: bool,
        loop_count: u32,
    },
    /// Speak `text` with text-to-speech, then send one [`Event::PlaybackFinished`].
    Say {
        text: String,
        language: Option<String>,
        voice: Option<Voice>,
        speech_rate: f32,
        barge_in: bool,
    },
    /// Stop the prompt that is playing; the engine sends no `PlaybackFinished` for it.
    StopPlayback,
    /// End the call. The last command of a run, except after `CallerHungUp`.
    Hangup,
    /// A line for the call log: an action that failed or could not be performed, a failed
    /// prompt, a failed expression, a `goTo` past its limit. Never contains collected digits.
    Note(String),
    /// Send an HTTP request, then answer [`Event::HttpResponse`] (any status), or
    /// [`Event::ActionFailed`] when no answer came (connection refused, DNS, TLS, `timeout`).
    HttpRequest {
        method: HttpMethod,
        url: String,
        headers: Vec<(String, String)>,
        body: Option<String>,
        timeout: Duration,
    },
    /// Listen to the caller's speech for up to `timeout` (an utterance ends after
    /// `max_silence` of silence), then answer [`Event::SpeechRecognised`]. The key phrases
    /// are a hint for the recogniser (a grammar); matching them is the run's job. Keep
    /// sending [`Event::Digit`]s: DTMF wins, and the run then sends [`Command::StopCapture`].
    Capture {
        timeout: Duration,
        language: Option<String>,
        key_phrases: Vec<String>,
        max_silence: Duration,
        dtmf_max_length: Option<usize>,
    },
    /// Stop the capture in progress; the engine sends no completion event for it.
    StopCapture,
    /// Record the caller (a beep first when `beep`) until `max_duration` (`None`: until
    /// `max_silence` of silence or the caller hangs up), `max_silence` of silence, or one
    /// of `escape_digits`; store it under `identifier` (or a name of the engine's choice),
    /// then answer [`Event::RecordingFinished`]. Digits during a recording are the
    /// engine's: the run does not collect them.
    Record {
        max_duration: Option<Duration>,
        beep: bool,
        escape_digits: String,
        max_silence: Option<Duration>,
        identifier: Option<String>,
    },
    /// Play the stored recording `identifier`, then answer [`Event::PlaybackFinished`] or
    /// [`Event::PlaybackFailed`].
    PlayRecording { identifier: String },
    /// Call `destinations` and connect the caller with the first that answers: one after
    /// the other (each ringing up to `ring_timeout`), or all at once when `parallel` (the
    /// others are cancelled). Answer [`Event::DialFinished`] when the attempt is over
    /// (after the connected call has ended, at most `max_call_duration` long).
    Dial {
        destinations: Vec<String>,
        parallel: bool,
        sender_id: Option<String>,
        ring_timeout: Duration,
        max_call_duration: Option<Duration>,
    },
    /// Detect whether a machine answered, then answer [`Event::MachineDetected`].
    DetectMachine,
    /// Send an SMS through the configured gateway, then answer [`Event::SmsSent`] (or
    /// [`Event::ActionFailed`]).
    SendSms {
        from: Option<String>,
        to: String,
        text: String,
    },
}

impl Command {
    /// True when the run waits for one completion event after this command: a playback
    /// event for `Play`/`Say`/`PlayRecording`, the matching event (or
    /// [`Event::ActionFailed`]) for the others. An engine that cannot carry such a command
    /// out must answer [`Event::ActionFailed`], or the run waits forever.
    pub fn awaits_completion(&self) -> bool {
        !matches!(
            self,
            Command::StopPlayback | Command::StopCapture | Command::Hangup | Command::Note(_)
        )
    }
}

/// Why a run finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FinishReason {
    /// The script ran to its end.
    ScenarioEnd,
    /// A `"hangup"` action.
    HangupAction,
    /// [`Event::CallerHungUp`] (after the `onHangup` actions, if any).
    CallerHungUp,
    /// More than [`MAXIMUM_STEPS_PER_CALL`](super::MAXIMUM_STEPS_PER_CALL) steps without waiting.
    StepLimit,
    /// A script fetched at run time (46elks `next`) could not be fetched or compiled, or
    /// too many were fetched: the call was hung up.
    ScriptFailed,
}

/// What a run is waiting for, from [`Run::waiting_for`](super::Run::waiting_for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitingFor {
    /// A prompt to finish; a digit stops it when `barge_in`.
    Prompt { barge_in: bool },
    /// Digits (`collectInto`, the input of an `ivr`, DTMF that interrupted a `capture`).
    Digits,
    /// A transcript ([`Command::Capture`]); digits are welcome too.
    Speech,
    /// The end of a `pause` (or of the silence after a prompt).
    Pause,
    /// [`Event::RecordingFinished`].
    Recording,
    /// [`Event::DialFinished`].
    Dial,
    /// [`Event::MachineDetected`].
    MachineDetection,
    /// [`Event::HttpResponse`].
    HttpResponse,
    /// [`Event::SmsSent`].
    Sms,
    /// Nothing more: the run has finished.
    Finished,
}
