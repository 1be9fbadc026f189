//! A phone-less run of a scenario in virtual time: the caller's script and scripted HTTP
//! answers in, a timestamped trace and the final variables out. Sans-IO: nothing is
//! played, fetched or waited for; a 30 s timeout takes no time.
//!
//! The simulator plays the engine's part with these rules (all durations from
//! [`SimulationOptions`]):
//! - A prompt (`Play`, `Say`, `PlayRecording`) lasts `prompt_duration` (2 s) per loop.
//! - A key is pressed at the current virtual time when the run listens for digits or
//!   speech, records (escape digits), or plays a barge-in prompt; otherwise the simulator first lets time run
//!   (prompts, pauses, external actions; never an input timeout) until the run listens.
//!   So `1` after a menu means "press 1 when the menu asks", and `wait:1s 1` during a
//!   barge-in prompt interrupts it one second in.
//! - `speech:"text"` is heard at the next `capture`, like a key; a capture nobody speaks
//!   to ends after its `timeout` with an empty transcript.
//! - `wait:D` lets `D` of virtual time pass: prompts end, timeouts fire.
//! - `hangup` hangs up at the current time; whatever was in flight is dropped; `onHangup`
//!   then runs.
//! - `request`: answered from [`ScriptedHttp`] after `http_latency` (100 ms); an
//!   unscripted URL fails as "connection refused". 46elks `next` webhooks alike.
//! - `dial:STATUS` and `machine:yes|no` set the outcome of the next `dial` /
//!   `machineDetection` to start after them (write them early in the script).
//! - `dial`: ends as the last `dial:STATUS` input said (default `ANSWERED`, after a
//!   connected call of `dial_duration`, 5 s); `NO_ANSWER` after the ring timeout; `BUSY`,
//!   `DECLINED`, `FAILED` after 1 s. SIP codes: 200, 480, 486, 603, 503.
//! - `record`: `record_duration` (3 s, or the action's maximum if shorter), or until one of
//!   its escape digits is pressed; identifiers are the action's or `recording-N`.
//! - `machineDetection`: after `machine_detection_duration` (1 s), as the last
//!   `machine:yes|no` input said (default no). `sendSms`: sent at once.
//! - When the inputs are used up, time runs on until the run finishes, at most
//!   `maximum_duration` (1 h) of virtual time.
//! - `isOpen('name')`: `open_schedules[name]`, the same for the whole call (time does not
//!   matter); a name not in it is unknown (a note, and false). As in a real run it needs
//!   a wall clock: without `unix_time_ms_at_start` every `isOpen` is false, with a note.
mod engine;
mod input;
mod trace;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use input::{
    ScriptedHttp, ScriptedResponse, SimulatedInput, SimulationInputError, parse_duration,
    parse_simulation_input,
};
pub use trace::TraceLine;

use crate::program::Program;
use crate::run::{DialStatus, Event, FinishReason, Run, RunOptions, ScheduleOracle, WaitingFor};

/// How the simulated engine behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationOptions {
    /// The virtual clock's origin (any instant: only differences matter).
    pub start: Instant,
    /// Wall-clock time at `start` (ms since the Unix epoch), for `__callApiCurrentTimestamp`.
    pub unix_time_ms_at_start: Option<u64>,
    pub prompt_duration: Duration,
    pub http_latency: Duration,
    pub dial_duration: Duration,
    pub record_duration: Duration,
    pub machine_detection_duration: Duration,
    pub maximum_duration: Duration,
    /// The schedules `isOpen` knows, open (`true`) or closed (`false`) for the whole
    /// call. Empty (the default): the run has no schedules at all.
    pub open_schedules: BTreeMap<String, bool>,
}

impl SimulationOptions {
    /// The documented defaults, with the clock's origin at `start`.
    pub fn new(start: Instant) -> Self {
        SimulationOptions {
            start,
            unix_time_ms_at_start: None,
            prompt_duration: Duration::from_secs(2),
            http_latency: Duration::from_millis(100),
            dial_duration: Duration::from_secs(5),
            record_duration: Duration::from_secs(3),
            machine_detection_duration: Duration::from_secs(1),
            maximum_duration: Duration::from_secs(3_600),
            open_schedules: BTreeMap::new(),
        }
    }
}

/// What a simulated call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationReport {
    /// One line per command, event and step, in order, with its virtual time.
    pub trace: Vec<TraceLine>,
    /// Every variable at the end (the initial ones included).
    pub variables: BTreeMap<String, String>,
    /// The run finished by the end of the script, a `"hangup"` or the caller hanging up;
    /// false for the step limit, a failed fetched script, or a run still going at
    /// `maximum_duration`.
    pub ended_normally: bool,
    pub finish_reason: Option<FinishReason>,
    /// The call log notes ([`Command::Note`](crate::Command::Note)).
    pub notes: Vec<String>,
    /// Virtual time at the end.
    pub duration: Duration,
}

/// Runs `program` against the caller's `inputs`.
pub fn simulate(
    program: Arc<Program>,
    inputs: &[SimulatedInput],
    http: &ScriptedHttp,
    variables: BTreeMap<String, String>,
    options: &SimulationOptions,
) -> SimulationReport {
    let schedules = (!options.open_schedules.is_empty()).then(|| {
        Arc::new(FixedSchedules(options.open_schedules.clone())) as Arc<dyn ScheduleOracle>
    });
    let run_options = RunOptions {
        unix_time_ms_at_start: options.unix_time_ms_at_start,
        trace: true,
        schedules,
    };
    let run = Run::with_options(program, variables, options.start, run_options);
    let mut simulator = Simulator {
        run,
        now: options.start,
        options: options.clone(),
        http,
        pending: None,
        next_dial: None,
        next_machine: None,
        recordings: 0,
        caller_gone: false,
        trace: Vec::new(),
        notes: Vec::new(),
    };
    simulator.drain();
    for input in inputs {
        if simulator.run.is_finished() {
            simulator.line(format!(
                "input {} ignored: the call has ended",
                describe(input)
            ));
            continue;
        }
        simulator.input(input);
    }
    simulator.run_to_end();
    let finish_reason = simulator.run.finish_reason();
    let ended_normally = matches!(
        finish_reason,
        Some(FinishReason::ScenarioEnd | FinishReason::HangupAction | FinishReason::CallerHungUp)
    );
    SimulationReport {
        variables: simulator.run.variables().clone(),
        duration: simulator.elapsed(),
        trace: simulator.trace,
        ended_normally,
        finish_reason,
        notes: simulator.notes,
    }
}

/// [`SimulationOptions::open_schedules`] as an oracle: the same answer at any time.
#[derive(Debug)]
struct FixedSchedules(BTreeMap<String, bool>);

impl ScheduleOracle for FixedSchedules {
    fn is_open(&self, schedule: &str, _unix_time_ms: u64) -> Option<bool> {
        self.0.get(schedule).copied()
    }
}

/// The completion the emulated engine will deliver.
#[derive(Debug)]
struct Pending {
    at: Instant,
    event: Event,
    /// For a recording: the digits that end it early.
    escape_digits: String,
}

struct Simulator<'a> {
    run: Run,
    now: Instant,
    options: SimulationOptions,
    http: &'a ScriptedHttp,
    pending: Option<Pending>,
    next_dial: Option<DialStatus>,
    next_machine: Option<bool>,
    recordings: usize,
    /// A `hangup` input was played.
    caller_gone: bool,
    trace: Vec<TraceLine>,
    notes: Vec<String>,
}

fn describe(input: &SimulatedInput) -> String {
    match input {
        SimulatedInput::Key(key) => format!("key {key}"),
        SimulatedInput::Wait(duration) => format!("wait {duration:?}"),
        SimulatedInput::Speech(text) => format!("speech {text:?}"),
        SimulatedInput::Hangup => "hangup".to_owned(),
        SimulatedInput::Dial(status) => format!("dial:{status}"),
        SimulatedInput::Machine(machine) => format!("machine:{machine}"),
    }
}

impl Simulator<'_> {
    fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(self.options.start)
    }

    fn line(&mut self, text: String) {
        self.trace.push(TraceLine {
            at: self.elapsed(),
            text,
        });
    }

    fn input(&mut self, input: &SimulatedInput) {
        match input {
            SimulatedInput::Key(_) | SimulatedInput::Speech(_) if self.caller_gone => {
                self.line(format!("{} ignored: the caller is gone", describe(input)));
            }
            SimulatedInput::Key(key) => {
                self.advance_until_listening();
                if self.run.is_finished() {
                    self.line(format!("key {key} ignored: the call has ended"));
                    return;
                }
                self.line(format!("key {key}"));
                let ends_recording = self
                    .pending
                    .as_ref()
                    .is_some_and(|pending| pending.escape_digits.contains(*key));
                if ends_recording && let Some(pending) = self.pending.as_mut() {
                    // The recording ends now: shorter than planned by the time cut off.
                    if let Event::RecordingFinished { duration_ms, .. } = &mut pending.event {
                        let cut = pending.at.saturating_duration_since(self.now);
                        let cut_ms = u64::try_from(cut.as_millis()).unwrap_or(u64::MAX);
                        *duration_ms = duration_ms.saturating_sub(cut_ms);
                    }
                    pending.at = self.now;
                }
                self.feed(Event::Digit(*key));
            }
            SimulatedInput::Speech(text) => {
                self.advance_until_listening();
                if self.run.waiting_for() != WaitingFor::Speech {
                    self.line(format!("speech {text:?} ignored: no capture listens"));
                    return;
                }
                self.pending = None;
                self.line(format!("speech {text:?}"));
                self.feed(Event::SpeechRecognised {
                    text: text.clone(),
                    key_phrases_heard: None,
                });
            }
            SimulatedInput::Wait(duration) => {
                let target = self.now + *duration;
                while let Some(deadline) = self.next_deadline() {
                    if deadline > target || self.run.is_finished() {
                        break;
                    }
                    self.fire_next();
                }
                self.now = self.now.max(target);
            }
            SimulatedInput::Hangup if self.caller_gone => {
                self.line("hangup ignored: the caller is gone".to_owned());
            }
            SimulatedInput::Hangup => {
                self.caller_gone = true;
                self.line("caller hangs up".to_owned());
                self.pending = None;
                self.feed(Event::CallerHungUp);
            }
            SimulatedInput::Dial(status) => self.next_dial = Some(*status),
            SimulatedInput::Machine(machine) => self.next_machine = Some(*machine),
        }
    }

    fn feed(&mut self, event: Event) {
        self.run.handle_event(self.now, event);
        self.drain();
    }

    fn listening(&self) -> bool {
        matches!(
            self.run.waiting_for(),
            WaitingFor::Digits
                | WaitingFor::Speech
                | WaitingFor::Recording
                | WaitingFor::Prompt { barge_in: true }
        )
    }

    /// Lets time run (never into an input timeout) until the run listens or finishes.
    fn advance_until_listening(&mut self) {
        while !self.run.is_finished() && !self.listening() {
            if self.next_deadline().is_none() || self.elapsed() > self.options.maximum_duration {
                return;
            }
            self.fire_next();
        }
    }

    fn run_to_end(&mut self) {
        while !self.run.is_finished() {
            let Some(deadline) = self.next_deadline() else {
                let waiting = self.run.waiting_for();
                self.line(format!(
                    "the run waits for {waiting:?} with nothing to come"
                ));
                return;
            };
            if deadline.saturating_duration_since(self.options.start)
                > self.options.maximum_duration
            {
                let limit = self.options.maximum_duration;
                self.line(format!("simulation stopped: still running after {limit:?}"));
                return;
            }
            self.fire_next();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let pending = self.pending.as_ref().map(|pending| pending.at);
        match (pending, self.run.poll_timeout()) {
            (Some(pending), Some(timeout)) => Some(pending.min(timeout)),
            (pending, timeout) => pending.or(timeout),
        }
    }

    /// Moves to the earliest deadline and acts on it (a completion before a timeout).
    fn fire_next(&mut self) {
        let pending_at = self.pending.as_ref().map(|pending| pending.at);
        let timeout = self.run.poll_timeout();
        let completion_first = match (pending_at, timeout) {
            (Some(at), Some(timeout)) => at <= timeout,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if completion_first {
            if let Some(pending) = self.pending.take() {
                self.now = self.now.max(pending.at);
                self.line(trace::event(&pending.event));
                self.feed(pending.event);
            }
        } else if let Some(timeout) = timeout {
            self.now = self.now.max(timeout);
            self.run.handle_timeout(self.now);
            self.drain();
        }
    }

    /// Takes the run's trace lines and commands, and plays the engine's part for each command.
    fn drain(&mut self) {
        loop {
            let command = self.run.poll_command();
            while let Some(line) = self.run.poll_trace() {
                self.line(line);
            }
            let Some(command) = command else {
                break;
            };
            self.line(trace::command(&command));
            if let crate::Command::Note(note) = &command {
                self.notes.push(note.clone());
            }
            self.emulate(command);
        }
    }
}
