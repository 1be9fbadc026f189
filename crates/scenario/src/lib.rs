//! ivory's scenario language: JSON model, compiler, `${...}` expressions and a sans-IO
//! interpreter. No sockets, no clock, no tasks: time comes in as `now: Instant`.
//!
//! # The language
//!
//! A scenario is JSON in Infobip's IVR `script` dialect:
//! `{"name": ..., "description": ..., "script": [action, ...]}` (Infobip's `id`,
//! `createTime`, `updateTime`, `lastUsageDate` metadata are accepted and ignored). Actions
//! run in order; every object action may carry an `actionId` (a string or a whole number;
//! `1` and `"1"` are the same id).
//!
//! | action | keys |
//! |---|---|
//! | play | `playFromUrl`: an `http(s)://` URL (the engine fetches it) or a file path relative to the sounds directory (`"demo-welcome.wav"`); `options.loop` 1–100 (default 1), `options.bargeIn` (default false), `options.pause` 0–5 s of silence after the prompt: ivory extensions |
//! | say | `say` text; `options.language`, `options.speechRate` 0.5–2 (default 1), `options.voice{name, gender: "female"\|"male"}`, `options.bargeIn` |
//! | collect | `collectInto` variable; `options.maxInputLength` 1–255 (default: none, input ends at `#`, the timeout, or 255 digits), `options.timeout` 1–30 s (default 5), `options.mappedValues{"1": "Sales"}` → `<var>_Meaning` (`""` when unmapped), `options.sendToReports` `ALWAYS` (default) / `MASKED` / `NEVER` |
//! | set | `setVariable` name + `value` (a string with `${...}`, a number, a boolean or null → `""`) |
//! | if | `if` condition, `then` [...], optional `else` [...] |
//! | switch | `switch` value, `case` {"1": [...], ..., "__default": [...]}: exact string match |
//! | goTo | `goTo` actionId; `options.goToLimit` 1–100 (default 100), `options.countVariable` |
//! | pause | `pause` seconds, above 0 and at most 5 |
//! | loops | `while` + `do`, `repeat` + `while`, `repeat` + `until`, `for-each` + `in` + `delimiter` (default `,`) + `do` |
//! | hangup | the bare string `"hangup"` |
//!
//! `capture`, `record`, `dial`, `dialToMany`, `request`, `sendSms`, `playFromRecording`,
//! `"machineDetection"` and 46elks' `ivr` are validated (keys, types, ranges), compile with a
//! warning, and at run time become a [`Command::Note`] and are skipped. `onHangup` is
//! validated and not run yet.
//!
//! Strings interpolate `${...}` ([`expression`] has the operators and every decision on
//! numbers, `+`, comparisons and truthiness). A condition is a string such as
//! `"${choice == '1'}"`: false when it renders to `""`, `"false"` or a number equal to 0,
//! true otherwise. Variables are strings; unset reads as `""`. `from`, `to`, `callId`,
//! `direction`, `startTime`, `answerTime`, `__externalMessageId` are read-only.
//!
//! [`compile`] reports every problem at once, each at its JSON path
//! (`script[3].options.timeout: 45 is above the maximum 30`): invalid JSON, unknown keys
//! (with a "did you mean"), wrong types, values out of range, unknown or ambiguous actions,
//! a `goTo` to a missing `actionId`, duplicate `actionId`s, expression syntax errors with
//! their column, actions right after `"hangup"` in the same block that no `goTo` reaches,
//! loops whose constant condition never lets them end. Warnings (constant conditions,
//! unmatchable `mappedValues`, unsupported actions) do not stop compilation.
//!
//! # The run loop
//!
//! ```text
//! let mut run = Run::new(program, implicit_variables, now);
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
//! - After [`Command::Play`] / [`Command::Say`] the run waits for exactly one
//!   [`Event::PlaybackFinished`] or [`Event::PlaybackFailed`] (a failure becomes a
//!   [`Command::Note`] and the script goes on). Playback events arriving while no prompt is
//!   playing are ignored.
//! - Digits that arrive while no `collectInto` listens go to a type-ahead buffer (at most
//!   [`TYPE_AHEAD_CAPACITY`]; further ones are dropped with a note) that the next
//!   `collectInto` consumes first. If the current prompt has `bargeIn`, a digit also emits
//!   [`Command::StopPlayback`] and the run moves on as if the prompt had finished: **after
//!   `StopPlayback` the engine must not send `PlaybackFinished` (or `PlaybackFailed`) for
//!   that prompt** — a late one would end the next prompt early.
//! - `collectInto` completes at `maxInputLength` digits, on `#` (which is not stored), or
//!   when no digit came within `timeout` (first digit and every next one: the deadline
//!   restarts at each digit). On a timeout without digits the variable is `""`.
//! - When the script ends the run emits [`Command::Hangup`] and finishes; a `"hangup"` does
//!   the same. [`Run::finish_reason`] tells which ([`FinishReason`]).
//! - [`Event::CallerHungUp`] finishes the run at once: queued commands are dropped and no
//!   more are emitted.
//! - A `goTo` past its `goToLimit` (counted per `goTo` action and run) emits a note and the
//!   run continues with the action after it. `countVariable` holds the jumps made so far.
//! - No `new`/`handle_*` call runs more than [`MAXIMUM_STEPS_PER_CALL`] steps; a scenario
//!   that loops without waiting is ended with a note and a hangup.
//! - [`Run::report_variables`] holds only the variables the script wrote; `MASKED` ones
//!   (and their `_Meaning`) read as [`MASK`], `NEVER` ones are absent. Notes never contain
//!   collected digits.
//!
//! Out of scope here: fetching, decoding or synthesising audio, DTMF detection, timers and
//! the call itself: they belong to the engine.
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
pub use program::{HttpMethod, Program, ReportPolicy, Voice, VoiceGender, prompt_source_problem};
pub use run::{
    Command, DialStatus, Event, FinishReason, IVR_FETCH_TIMEOUT, MASK, MAXIMUM_FETCHED_SCRIPTS,
    MAXIMUM_STEPS_PER_CALL, Run, RunOptions, TYPE_AHEAD_CAPACITY, WaitingFor,
};
