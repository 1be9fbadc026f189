//! ivory's scenario language: JSON model, compiler, `${...}` expressions, a sans-IO
//! interpreter, a virtual-time simulator and a flow graph. No sockets, no clock, no tasks:
//! time comes in as `now: Instant` (and wall-clock time, where needed, as a number).
//!
//! # The language
//!
//! A scenario is JSON in Infobip's IVR `script` dialect:
//! `{"name": ..., "description": ..., "script": [action, ...], "onHangup": [action, ...]}`
//! (Infobip's `id`, `createTime`, `updateTime`, `lastUsageDate` metadata are accepted and
//! ignored). Actions run in order; every object action may carry an `actionId` (a string or
//! a whole number; `1` and `"1"` are the same id). Durations are whole seconds unless said.
//!
//! | action | keys |
//! |---|---|
//! | play | `playFromUrl`: an `http(s)://` URL (the engine fetches it) or a file path relative to the sounds directory (`"demo-welcome.wav"`); `options.loop` 1–100 (default 1), `options.bargeIn` (default false), `options.pause` 0–5 s of silence after the prompt: ivory extensions |
//! | say | `say` text; `options.language`, `options.speechRate` 0.5–2 (default 1), `options.voice{name, gender: "female"\|"male"}`, `options.bargeIn` |
//! | collect | `collectInto` variable; `options.maxInputLength` 1–255 (default: none, input ends at `#`, the timeout, or 255 digits), `options.timeout` 1–30 (default 5), `options.mappedValues{"1": "Sales"}` → `<var>_Meaning` (`""` when unmapped), `options.sendToReports` `ALWAYS` (default) / `MASKED` / `NEVER` |
//! | capture | `capture` variable; `timeout` 1–30 (default 10); `speechOptions{language, keyPhrases: [≤ 5 words each], maxSilence 1–5 (default 3)}`; `dtmfOptions{maxInputLength 1–255}` |
//! | record | `record`: seconds 1–3600, or null (until silence or hang-up); `options{beep (false), escapeDigits ("#*0-9A-D"), maxSilence 1–30, identifier}` |
//! | play a recording | `playFromRecording`: null (this call's last recording), a number (this call's n-th, from 1) or an identifier (this or an earlier call) |
//! | dial | `dial` number; `options{senderId, ringTimeout 1–300 (default 30), maxCallDuration 1–86400}` → `dialStatus`, `dialSipCode` |
//! | dial to many | `dialToMany` [{`number`}, ...] (at least one); the same options and `parallel` (default false: one after the other) |
//! | machine detection | the bare string `"machineDetection"` → `machineAnswered` `"true"`/`"false"` |
//! | Call API | `request` URL; `options{method GET (default)/POST/PUT/PATCH/DELETE/HEAD, headers{name: value}, body (a string, or JSON whose strings interpolate; JSON adds `Content-Type: application/json` unless a header sets it), collectResponse (false), timeout 1–60 (default 10, ivory)}` |
//! | SMS | `sendSms{from (optional), to, text}` through the engine's SMS gateway |
//! | set | `setVariable` name + `value` (a string with `${...}`, a number, a boolean or null → `""`) |
//! | if | `if` condition, `then` [...], optional `else` [...] |
//! | switch | `switch` value, `case` {"1": [...], ..., "__default": [...]}: exact string match |
//! | goTo | `goTo` actionId; `options.goToLimit` 1–100 (default 100), `options.countVariable` |
//! | pause | `pause` seconds, above 0 and at most 5 |
//! | loops | `while` + `do`, `repeat` + `while`, `repeat` + `until`, `for-each` + `in` + `delimiter` (default `,`) + `do` |
//! | hangup | the bare string `"hangup"` |
//! | 46elks ivr | `ivr` prompt (file or URL); `digits` 1–255 (default 1); `timeout` 1–30 (other numbers: a warning, and 10, as 46elks does); `repeat` 1–10 (default 3); `next` URL; per-digit keys (below) |
//!
//! Strings interpolate `${...}` ([`expression`] has the operators and every decision on
//! numbers, `+`, comparisons and truthiness). A condition is a string such as
//! `"${choice == '1'}"`: false when it renders to `""`, `"false"` or a number equal to 0,
//! true otherwise. Variables are strings; unset reads as `""`. `from`, `to`, `callId`,
//! `direction`, `startTime`, `answerTime`, `__externalMessageId` are read-only; launch
//! parameters are passed in as variables. One function so far: `${isOpen('office')}` is
//! `"true"` while the schedule `office` of the configuration is open, else `"false"`
//! (`"if": "${isOpen('office')}"` branches on business hours).
//!
//! ## 46elks `ivr`
//!
//! The prompt plays with barge-in; then up to `digits` digits are collected, each within
//! `timeout` (with `digits` above 1, `#` ends shorter input; with 1, `#` is a key like the
//! others). Then, in order:
//! - a per-digit key equal to the input: `"1": {action}` or `"1": [actions]` (or
//!   `"1": "hangup"`) runs those actions in place of the `ivr`; `"2": "https://..."` fetches
//!   that URL like `next`;
//! - other input, when there is a `next`: `next` is fetched with the result;
//! - no input, or other input without `next`: the prompt plays again, `repeat` plays in
//!   all; after the last one `next` is fetched with `result=failed&why=noinput`, or, with
//!   no `next`, the script goes on after the `ivr`.
//!
//! A fetch is a `POST` ([`Command::HttpRequest`], form body `callid`, `from`, `result`,
//! and `why=noinput` when so; timeout [`IVR_FETCH_TIMEOUT`]). A 2xx JSON answer holds more
//! actions in this same dialect (an array, one action, or `{"script": [...]}`); it is
//! compiled then (launch and current variables count as set), run in place of the `ivr`,
//! and the script goes on after the `ivr` (unless it hangs up). An empty 2xx answer just
//! goes on. Any other answer, a failed request, an answer that does not compile, or more
//! than [`MAXIMUM_FETCHED_SCRIPTS`] fetches in one call: a [`Command::Note`] and a clean
//! [`Command::Hangup`] ([`FinishReason::ScriptFailed`]). A fetched script's `goTo`s reach
//! its own `actionId`s only; its actions' paths read `fetched[N].script[i]`.
//!
//! ## `onHangup`
//!
//! Actions run after the caller hangs up ([`Event::CallerHungUp`]); only `request`,
//! `sendSms` and `setVariable` (and `if`/`switch` around them) are allowed, and no `goTo`
//! may jump into it. It does not run when the scenario itself hangs up.
//!
//! # Compilation
//!
//! [`compile`] reports every problem at once, each at its JSON path
//! (`script[3].options.timeout: 45 is above the maximum 30`): invalid JSON, unknown keys
//! (with a "did you mean"), wrong types, values out of range, unknown or ambiguous actions,
//! a `goTo` to a missing `actionId`, duplicate `actionId`s, expression syntax errors with
//! their column (unknown functions and wrong argument counts included), `isOpen('name')`
//! naming a schedule not in [`CompileOptions::schedules`] (when given), actions right after `"hangup"` in the same block that no `goTo` reaches,
//! loops whose constant condition never lets them end, `onHangup` actions that need the
//! call. Warnings do not stop compilation: constant conditions, `mappedValues` and
//! `switch` cases that the `collectInto` feeding them can never produce (`maxInputLength`,
//! `#`), 46elks keys longer than `digits`, and variables read that nothing sets (neither
//! the script, nor the runtime, nor a parameter declared in [`CompileOptions`]; this check
//! is skipped when a `request` with `collectResponse` or an `ivr` may set variables nobody
//! can list).
//!
//! # The run loop
//!
//! ```text
//! let mut run = Run::with_options(program, variables, now, RunOptions { unix_time_ms_at_start, .. });
//! loop {
//!     while let Some(command) = run.poll_command() { carry it out }
//!     if run.is_finished() { break }
//!     wait for an event or until run.poll_timeout();
//!     on an event:          run.handle_event(now, event)
//!     on the deadline:      run.handle_timeout(now)
//! }
//! ```
//!
//! Semantics the engine relies on:
//! - After [`Command::Play`] / [`Command::Say`] / [`Command::PlayRecording`] the run waits
//!   for exactly one [`Event::PlaybackFinished`] or [`Event::PlaybackFailed`] (a failure,
//!   or [`Event::ActionFailed`], becomes a [`Command::Note`] and the script goes on).
//!   Playback events arriving while no prompt is playing are ignored.
//! - Every other command that [`Command::awaits_completion`] waits for exactly one
//!   completion event or [`Event::ActionFailed`] (table below). Completion events that
//!   complete nothing pending are ignored. **An engine that cannot carry such a command out
//!   must answer `ActionFailed { reason }` at once**: the run then sets the failure
//!   variables, notes the reason and goes on. Deadlines of external actions (`timeout`,
//!   `ring_timeout`, ...) are the engine's; the run sets no timer for them.
//! - Digits that arrive while no input listens go to a type-ahead buffer (at most
//!   [`TYPE_AHEAD_CAPACITY`]; further ones are dropped with a note) that the next
//!   `collectInto` (or `ivr`, or `capture`: typed-ahead digits make it a DTMF input at
//!   once, without a `Capture` command) consumes first. If the current prompt has
//!   `bargeIn` (an `ivr` prompt always has), a digit also emits [`Command::StopPlayback`]
//!   and the run moves on as if the prompt had finished: **after `StopPlayback` the
//!   engine must not send `PlaybackFinished` (or `PlaybackFailed`) for that prompt**.
//! - Digits during a `capture` win: the first one emits [`Command::StopCapture`] (**send
//!   no completion for that capture afterwards**) and the run collects DTMF with the
//!   capture's `timeout` between digits, up to `dtmfOptions.maxInputLength` or `#`.
//!   Digits during a `record` are the engine's (escape digits); the run ignores them.
//! - `collectInto` completes at `maxInputLength` digits, on `#` (which is not stored), or
//!   when no digit came within `timeout` (first digit and every next one: the deadline
//!   restarts at each digit). On a timeout without digits the variable is `""`.
//! - When the script ends the run emits [`Command::Hangup`] and finishes; a `"hangup"` does
//!   the same. [`Run::finish_reason`] tells which ([`FinishReason`]).
//! - [`Event::CallerHungUp`]: queued commands are dropped. Without `onHangup` the run
//!   finishes at once and emits nothing more. With it, the run goes on with the
//!   `onHangup` actions: **the engine abandons whatever was in flight (sends no
//!   completion for it), keeps draining commands and feeding completions
//!   ([`Command::HttpRequest`], [`Command::SendSms`], [`Command::Note`] only) until
//!   [`Run::is_finished`]**, and may cut that short after a grace period of its choosing.
//!   No `Hangup` follows; the finish reason is [`FinishReason::CallerHungUp`]. Digits and
//!   further `CallerHungUp`s are ignored meanwhile.
//! - `isOpen('name')` asks [`RunOptions::schedules`] ([`ScheduleOracle`]) about the wall-clock
//!   time of the current virtual time ([`RunOptions::unix_time_ms_at_start`] plus the time
//!   elapsed), when the expression is evaluated. No oracle, no wall clock, or a name the
//!   oracle does not know: `"false"` and a [`Command::Note`].
//! - A `goTo` past its `goToLimit` (counted per `goTo` action and run) emits a note and the
//!   run continues with the action after it. `countVariable` holds the jumps made so far.
//! - No `new`/`handle_*` call runs more than [`MAXIMUM_STEPS_PER_CALL`] steps; a scenario
//!   that loops without waiting is ended with a note and a hangup.
//! - [`Run::report_variables`] holds only the variables the script wrote; `MASKED` ones
//!   (and their `_Meaning`) read as [`MASK`], `NEVER` ones are absent. Notes never contain
//!   collected digits. [`Run::poll_trace`] (with [`RunOptions::trace`]) does show values.
//!
//! # External actions
//!
//! | action | command | completion → variables | `ActionFailed` → variables |
//! |---|---|---|---|
//! | `request` | [`Command::HttpRequest`] | [`Event::HttpResponse`] (any status) → `__apiResponseStatusCode` = status, `__apiResponseError` = `""`; with `collectResponse`, the top-level fields of a JSON object (strings as they are, numbers/booleans as text, null as `""`, arrays/objects as JSON text) or the top-level child elements' text of an XML answer, for field names that are variable names and not read-only | `__apiResponseStatusCode` = `""`, `__apiResponseError` = the reason, a note |
//! | `capture` | [`Command::Capture`] | [`Event::SpeechRecognised`] → `<var>_Full` = the transcript; `<var>` = the key phrase found (the one starting earliest in the transcript, whole words, case and punctuation ignored; as written in the scenario; `""` if none), or the transcript without key phrases | `<var>` = `<var>_Full` = `""`, a note |
//! | `record` | [`Command::Record`] | [`Event::RecordingFinished`] → the identifier joins this call's recordings | a note |
//! | `playFromRecording` | [`Command::PlayRecording`] (no recording: a note, skipped) | playback events | a note |
//! | `dial`, `dialToMany` | [`Command::Dial`] | [`Event::DialFinished`] → `dialStatus` (ANSWERED, NO_ANSWER, BUSY, DECLINED, FAILED), `dialSipCode` (`""` if none) | `dialStatus` = `FAILED`, `dialSipCode` = `""`, a note |
//! | `machineDetection` | [`Command::DetectMachine`] | [`Event::MachineDetected`] → `machineAnswered` `"true"`/`"false"` | `machineAnswered` = `"false"`, a note |
//! | `sendSms` | [`Command::SendSms`] | [`Event::SmsSent`] | a note |
//! | 46elks `next` | [`Command::HttpRequest`] (POST, form) | [`Event::HttpResponse`] → actions run | a note and a hangup |
//!
//! `__callApiCurrentTimestamp` is set when a `request` starts (before its URL, headers and
//! body are rendered): [`RunOptions::unix_time_ms_at_start`] plus the time elapsed since
//! the run started, in milliseconds since the Unix epoch; `""` without a wall-clock base.
//!
//! # Tools
//!
//! [`simulate()`] (module [`mod@simulate`]) runs a program with no phone, in virtual
//! time, from a caller's script; [`graph()`] draws it as a Graphviz or Mermaid flow graph.
//! [`Program`] says which actions a scenario uses and which prompt files it names.
//!
//! Out of scope here: fetching, decoding or synthesising audio, DTMF detection, speech
//! recognition, HTTP, SIP, timers and the call itself: they belong to the engine.
#![forbid(unsafe_code)]

mod compile;
mod error;
pub mod expression;
pub mod graph;
mod program;
mod run;
pub mod simulate;

pub use compile::{
    CompileOptions, READ_ONLY_VARIABLES, compile, compile_value, compile_value_with, compile_with,
};
pub use error::{CompileErrors, Diagnostic};
pub use graph::{GraphFormat, graph};
pub use program::{
    ConstantSay, HttpMethod, Program, ReportPolicy, Voice, VoiceGender, prompt_source_problem,
};
pub use run::response::key_phrase as matched_key_phrase;
pub use run::{
    Command, DialStatus, Event, FinishReason, IVR_FETCH_TIMEOUT, MASK, MAXIMUM_FETCHED_SCRIPTS,
    MAXIMUM_STEPS_PER_CALL, Run, RunOptions, ScheduleOracle, TYPE_AHEAD_CAPACITY, WaitingFor,
};
pub use simulate::{
    ScriptedHttp, SimulatedInput, SimulationOptions, SimulationReport, TraceLine,
    parse_simulation_input, simulate,
};
