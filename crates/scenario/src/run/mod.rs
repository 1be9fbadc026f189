//! [`Run`]: one execution of a [`Program`] for one call, as a sans-IO state machine.
//! The contract (events, commands, timing) is in the crate docs.
//!
//! This file holds the run's state and its stepping through blocks; `input` has digits and
//! `collectInto`, `external` the actions that wait for the engine, `ivr` 46elks' `ivr`,
//! `response` the reading of `request` answers.

mod external;
mod input;
mod ivr;
mod protocol;
pub(crate) mod response;
mod schedules;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use input::is_dtmf as is_dtmf_key;
pub use ivr::{IVR_FETCH_TIMEOUT, MAXIMUM_FETCHED_SCRIPTS};
pub use protocol::{Command, DialStatus, Event, FinishReason, WaitingFor};
pub use schedules::ScheduleOracle;

use crate::expression::{Template, is_truthy};
use crate::program::{ActionIndex, ActionKind, BlockIndex, Program, ReportPolicy};
use input::Collecting;

/// At most this many steps (an action executed, or a block left) per `new`/`handle_*`
/// call; a scenario that goes further without waiting for anything is stuck in a loop and
/// is ended with a [`Command::Note`] and a [`Command::Hangup`].
pub const MAXIMUM_STEPS_PER_CALL: usize = 10_000;
/// Digits pressed while no `collectInto` listens are kept, up to this many, for the next one.
pub const TYPE_AHEAD_CAPACITY: usize = 32;
/// What a `MASKED` variable reads as in [`Run::report_variables`].
pub const MASK: &str = "****";

/// How a run is set up beyond its program and variables.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Wall-clock time at the constructor's `now`, in milliseconds since the Unix epoch:
    /// `__callApiCurrentTimestamp` is this plus the virtual time elapsed since, and so is
    /// the instant `isOpen(...)` asks [`RunOptions::schedules`] about. `None` leaves that
    /// variable `""` and makes `isOpen` false. (Time is an input: the run never reads a
    /// clock.)
    pub unix_time_ms_at_start: Option<u64>,
    /// Keep a line per step (action taken, branch chosen, input completed) for
    /// [`Run::poll_trace`]. Trace lines show collected values: they are for simulators
    /// and tests, never for logs.
    pub trace: bool,
    /// What `${isOpen('name')}` asks, at the current virtual time. `None`, or an unknown
    /// name (the oracle answers `None`), or no [`RunOptions::unix_time_ms_at_start`]:
    /// `isOpen` is `"false"` and a [`Command::Note`] says why.
    pub schedules: Option<Arc<dyn ScheduleOracle>>,
}

impl PartialEq for RunOptions {
    /// Oracles are equal when they are the same object.
    fn eq(&self, other: &Self) -> bool {
        let same_schedules = match (&self.schedules, &other.schedules) {
            (Some(mine), Some(theirs)) => Arc::ptr_eq(mine, theirs),
            (None, None) => true,
            _ => false,
        };
        self.unix_time_ms_at_start == other.unix_time_ms_at_start
            && self.trace == other.trace
            && same_schedules
    }
}

impl Eq for RunOptions {}

/// One scenario execution for one call.
#[derive(Debug)]
pub struct Run {
    /// The scenario (slot 0) and the scripts fetched at run time (46elks `next`).
    programs: Vec<Arc<Program>>,
    variables: BTreeMap<String, String>,
    /// Variables the script wrote: the ones [`Run::report_variables`] reports.
    written: BTreeSet<String>,
    frames: Vec<Frame>,
    wait: Wait,
    /// Commands for the engine, with trace lines between them in the order they happened.
    output: VecDeque<Output>,
    type_ahead: VecDeque<char>,
    go_to_counts: BTreeMap<ActionRef, u32>,
    /// Identifiers of this call's recordings, oldest first.
    recordings: Vec<String>,
    finish_reason: Option<FinishReason>,
    /// The caller hung up and the `onHangup` actions are running.
    hanging_up: bool,
    start: Instant,
    /// The `now` of the constructor or `handle_*` call being handled: the time
    /// expressions are evaluated at.
    clock: Instant,
    options: RunOptions,
    trace: VecDeque<String>,
}

#[derive(Debug)]
enum Output {
    Command(Command),
    Trace(String),
}

/// An action of one of the run's programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ActionRef {
    slot: usize,
    index: ActionIndex,
}

/// A block being executed: the next action to run in it.
#[derive(Debug, Clone)]
struct Frame {
    slot: usize,
    block: BlockIndex,
    next: usize,
    /// For a `for-each` body: the items still to come.
    remaining_items: VecDeque<String>,
}

#[derive(Debug, Clone)]
enum Wait {
    /// Executing: not waiting for anything.
    Ready,
    /// A prompt is playing.
    Playback {
        barge_in: bool,
        pause_after: Duration,
        /// An `ivr` whose input starts when the prompt ends.
        ivr: Option<(ActionRef, u32)>,
    },
    /// Digits are being collected.
    Collect(Collecting),
    /// A `pause` (or the silence after a prompt) lasts until then.
    Pause {
        until: Instant,
    },
    /// The completion event of an external action.
    External(ActionRef),
    Finished,
}

impl Frame {
    fn new(slot: usize, block: BlockIndex, next: usize) -> Self {
        Frame {
            slot,
            block,
            next,
            remaining_items: VecDeque::new(),
        }
    }
}

impl Run {
    /// Starts a run with the implicit variables (`from`, `to`, `callId`, `direction`, ...)
    /// and launch parameters in `variables`, and executes up to its first wait.
    pub fn new(program: Arc<Program>, variables: BTreeMap<String, String>, now: Instant) -> Self {
        Run::with_options(program, variables, now, RunOptions::default())
    }

    /// Like [`Run::new`], with [`RunOptions`].
    pub fn with_options(
        program: Arc<Program>,
        variables: BTreeMap<String, String>,
        now: Instant,
        options: RunOptions,
    ) -> Self {
        let root = program.root;
        let mut run = Run {
            programs: vec![program],
            variables,
            written: BTreeSet::new(),
            frames: vec![Frame::new(0, root, 0)],
            wait: Wait::Ready,
            output: VecDeque::new(),
            type_ahead: VecDeque::new(),
            go_to_counts: BTreeMap::new(),
            recordings: Vec::new(),
            finish_reason: None,
            hanging_up: false,
            start: now,
            clock: now,
            options,
            trace: VecDeque::new(),
        };
        run.advance(now);
        run
    }

    /// Feeds one event; the resulting commands are then drained with [`poll_command`](Self::poll_command).
    pub fn handle_event(&mut self, now: Instant, event: Event) {
        if self.is_finished() {
            return;
        }
        self.clock = now;
        match event {
            Event::CallerHungUp => {
                self.caller_hung_up();
            }
            Event::PlaybackFinished => {
                if let Wait::Playback { pause_after, .. } = self.wait {
                    self.prompt_done(now, pause_after);
                }
            }
            Event::PlaybackFailed { reason } => {
                if matches!(self.wait, Wait::Playback { .. }) {
                    self.note(format!("playback failed: {reason}"));
                    self.prompt_done(now, Duration::ZERO);
                }
            }
            Event::Digit(digit) => {
                if !self.hanging_up {
                    self.digit(now, digit);
                }
            }
            Event::ActionFailed { reason } if matches!(self.wait, Wait::Playback { .. }) => {
                self.note(format!("playback failed: {reason}"));
                self.prompt_done(now, Duration::ZERO);
            }
            completion => self.complete_external(completion),
        }
        self.advance(now);
    }

    /// Acts on the deadline from [`poll_timeout`](Self::poll_timeout) once `now` reaches it
    /// (calling it early, or with no deadline, does nothing).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock = now;
        match &self.wait {
            Wait::Collect(collecting) if now >= collecting.deadline => self.finish_collect(now),
            Wait::Pause { until } if now >= *until => self.wait = Wait::Ready,
            _ => return,
        }
        self.advance(now);
    }

    /// The next command for the engine, in order.
    pub fn poll_command(&mut self) -> Option<Command> {
        while let Some(output) = self.output.pop_front() {
            match output {
                Output::Command(command) => return Some(command),
                Output::Trace(line) => self.trace.push_back(line),
            }
        }
        None
    }

    /// The next trace line, when [`RunOptions::trace`] is on. Lines come in order with
    /// the commands: once [`poll_command`](Self::poll_command) has returned a command (or
    /// `None`), the lines that happened before it (or all of them) are ready here.
    pub fn poll_trace(&mut self) -> Option<String> {
        self.trace.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.wait {
            Wait::Collect(collecting) => Some(collecting.deadline),
            Wait::Pause { until } => Some(*until),
            _ => None,
        }
    }

    /// What the run is waiting for now.
    pub fn waiting_for(&self) -> WaitingFor {
        match &self.wait {
            Wait::Playback { barge_in, ivr, .. } => WaitingFor::Prompt {
                barge_in: *barge_in || ivr.is_some(),
            },
            Wait::Collect(_) => WaitingFor::Digits,
            Wait::Pause { .. } => WaitingFor::Pause,
            Wait::External(action) => match &self.action(*action).kind {
                ActionKind::Capture(_) => WaitingFor::Speech,
                ActionKind::Record(_) => WaitingFor::Recording,
                ActionKind::Dial(_) => WaitingFor::Dial,
                ActionKind::MachineDetection => WaitingFor::MachineDetection,
                ActionKind::SendSms { .. } => WaitingFor::Sms,
                _ => WaitingFor::HttpResponse,
            },
            // `Ready` never lasts beyond a call.
            Wait::Ready | Wait::Finished => WaitingFor::Finished,
        }
    }

    /// True once the run has ended; commands already queued (the final `Hangup`) are
    /// still to be drained. After `CallerHungUp` with `onHangup`, false until those
    /// actions are done.
    pub fn is_finished(&self) -> bool {
        matches!(self.wait, Wait::Finished)
    }

    /// Why the run finished, once it has.
    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.finish_reason
    }

    /// All variables: the initial ones and those the script wrote.
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.variables
    }

    /// The variables the script wrote, for reports and the call log: `MASKED` ones read as
    /// [`MASK`], `NEVER` ones are left out (see [`Program::report_policy`]).
    pub fn report_variables(&self) -> BTreeMap<String, String> {
        self.written
            .iter()
            .filter_map(|name| {
                let value = self.variables.get(name)?;
                let policy = self
                    .programs
                    .iter()
                    .map(|program| program.report_policy(name))
                    .max()
                    .unwrap_or(ReportPolicy::Always);
                match policy {
                    ReportPolicy::Always => Some((name.clone(), value.clone())),
                    ReportPolicy::Masked => Some((name.clone(), MASK.to_owned())),
                    ReportPolicy::Never => None,
                }
            })
            .collect()
    }

    /// The program this run executes.
    pub fn program(&self) -> &Arc<Program> {
        &self.programs[0]
    }

    fn action(&self, at: ActionRef) -> &crate::program::Action {
        &self.programs[at.slot].actions[at.index.0]
    }

    fn push(&mut self, command: Command) {
        self.output.push_back(Output::Command(command));
    }

    fn note(&mut self, text: String) {
        self.push(Command::Note(text));
    }

    fn trace(&mut self, line: impl FnOnce() -> String) {
        if self.options.trace {
            self.output.push_back(Output::Trace(line()));
        }
    }

    fn set_variable(&mut self, name: &str, value: String) {
        self.variables.insert(name.to_owned(), value);
        self.written.insert(name.to_owned());
    }

    fn finish(&mut self, reason: FinishReason) {
        if !self.hanging_up {
            self.push(Command::Hangup);
        }
        self.frames.clear();
        self.wait = Wait::Finished;
        self.finish_reason = Some(if self.hanging_up {
            FinishReason::CallerHungUp
        } else {
            reason
        });
    }

    fn caller_hung_up(&mut self) {
        if self.hanging_up {
            return;
        }
        self.output.clear();
        self.type_ahead.clear();
        self.hanging_up = true;
        match self.programs[0].on_hangup {
            Some(block) => {
                self.trace(|| "caller hung up: running onHangup".to_owned());
                self.frames = vec![Frame::new(0, block, 0)];
                self.wait = Wait::Ready;
            }
            None => {
                self.trace(|| "caller hung up".to_owned());
                self.finish(FinishReason::CallerHungUp);
            }
        }
    }

    /// A prompt ended (or was cut short): an `ivr` listens next, else the optional silence.
    fn prompt_done(&mut self, now: Instant, pause_after: Duration) {
        let Wait::Playback { ivr, .. } = std::mem::replace(&mut self.wait, Wait::Ready) else {
            return;
        };
        if let Some((action, attempt)) = ivr {
            self.ivr_listen(now, action, attempt);
        } else if !pause_after.is_zero() {
            self.wait = Wait::Pause {
                until: now + pause_after,
            };
        }
    }

    /// Executes until the run waits for something or finishes.
    fn advance(&mut self, now: Instant) {
        let mut steps = 0;
        while matches!(self.wait, Wait::Ready) {
            steps += 1;
            if steps > MAXIMUM_STEPS_PER_CALL {
                self.note(format!(
                    "the scenario ran {MAXIMUM_STEPS_PER_CALL} steps without waiting for the \
                     caller: it seems to loop forever; hanging up"
                ));
                self.finish(FinishReason::StepLimit);
                return;
            }
            self.step(now);
        }
    }

    /// Runs one action, or leaves one finished block.
    fn step(&mut self, now: Instant) {
        let Some(frame) = self.frames.last_mut() else {
            self.finish(FinishReason::ScenarioEnd);
            return;
        };
        let program = Arc::clone(&self.programs[frame.slot]);
        let Some(&index) = program.blocks[frame.block.0].actions.get(frame.next) else {
            if let Some(frame) = self.frames.pop() {
                self.leave_block(frame);
            }
            return;
        };
        frame.next += 1;
        let slot = frame.slot;
        self.execute(now, ActionRef { slot, index });
    }

    fn execute(&mut self, now: Instant, at: ActionRef) {
        let program = Arc::clone(&self.programs[at.slot]);
        let action = &program.actions[at.index.0];
        let path = action.path.as_str();
        match &action.kind {
            ActionKind::Play(_)
            | ActionKind::Say(_)
            | ActionKind::Capture(_)
            | ActionKind::Record(_)
            | ActionKind::PlayRecording(_)
            | ActionKind::Dial(_)
            | ActionKind::Request(_)
            | ActionKind::SendSms { .. }
            | ActionKind::MachineDetection => self.start_external(now, at),
            ActionKind::Collect(collect) => self.start_collect(now, at, collect),
            ActionKind::Ivr(_) => self.start_ivr(now, at, 1),
            ActionKind::SetVariable { variable, value } => {
                let value = self.render(path, value).unwrap_or_default();
                self.trace(|| format!("{path} setVariable {variable} = {value:?}"));
                self.set_variable(variable, value);
            }
            ActionKind::If {
                condition,
                then,
                otherwise,
            } => {
                let verdict = self.condition(path, condition);
                self.trace(|| format!("{path} if {} -> {verdict}", condition.source()));
                if verdict {
                    self.frames.push(Frame::new(at.slot, *then, 0));
                } else if let Some(otherwise) = otherwise {
                    self.frames.push(Frame::new(at.slot, *otherwise, 0));
                }
            }
            ActionKind::Switch {
                value,
                cases,
                default,
            } => {
                let value = self.render(path, value);
                let case = value.as_ref().and_then(|value| {
                    cases
                        .iter()
                        .find(|(case, _)| case == value)
                        .map(|(case, block)| (case.clone(), *block))
                });
                let chosen = match (&case, default) {
                    (Some((case, _)), _) => format!("case {case:?}"),
                    (None, Some(_)) => "__default".to_owned(),
                    (None, None) => "no case".to_owned(),
                };
                let shown = value.unwrap_or_default();
                self.trace(|| format!("{path} switch {shown:?} -> {chosen}"));
                if let Some(block) = case.map(|(_, block)| block).or(*default) {
                    self.frames.push(Frame::new(at.slot, block, 0));
                }
            }
            ActionKind::GoTo(go_to) => {
                let count = self.go_to_counts.entry(at).or_default();
                if *count >= go_to.limit {
                    let limit = go_to.limit;
                    self.trace(|| format!("{path} goTo: limit {limit} reached"));
                    self.note(format!(
                        "{path}: goToLimit {limit} reached; continuing after the goTo"
                    ));
                    return;
                }
                *count += 1;
                let count = *count;
                if let Some(variable) = &go_to.count_variable {
                    self.set_variable(variable, count.to_string());
                }
                let target = &program.actions[go_to.target.0];
                let label = target.action_id.clone().unwrap_or_default();
                let limit = go_to.limit;
                self.trace(|| format!("{path} goTo {label:?} ({count} of {limit})"));
                self.frames.retain(|frame| frame.slot < at.slot);
                self.frames
                    .extend(frames_to(&program, at.slot, go_to.target));
            }
            ActionKind::Pause(duration) => {
                self.wait = Wait::Pause {
                    until: now + *duration,
                };
            }
            ActionKind::Hangup => {
                self.trace(|| format!("{path} hangup"));
                self.finish(FinishReason::HangupAction);
            }
            ActionKind::While { condition, body } => {
                if self.condition(path, condition) {
                    self.frames.push(Frame::new(at.slot, *body, 0));
                }
            }
            ActionKind::Repeat { body, .. } => self.frames.push(Frame::new(at.slot, *body, 0)),
            ActionKind::ForEach {
                variable,
                list,
                delimiter,
                body,
            } => {
                let rendered = self.render(path, list).unwrap_or_default();
                let mut items: VecDeque<String> = if rendered.is_empty() {
                    VecDeque::new()
                } else {
                    rendered
                        .split(delimiter.as_str())
                        .map(str::to_owned)
                        .collect()
                };
                if let Some(first) = items.pop_front() {
                    self.set_variable(variable, first);
                    self.frames.push(Frame {
                        slot: at.slot,
                        block: *body,
                        next: 0,
                        remaining_items: items,
                    });
                }
            }
            ActionKind::Invalid => {
                // Unreachable: `compile` never builds a program with an invalid action.
                self.note(format!("{path}: invalid action skipped"));
            }
        }
    }

    /// A block ran to its end: loops decide whether it runs again.
    fn leave_block(&mut self, mut frame: Frame) {
        let program = Arc::clone(&self.programs[frame.slot]);
        let Some(owner) = program.blocks[frame.block.0].owner else {
            return;
        };
        let path = program.actions[owner.0].path.as_str();
        let run_again = match &program.actions[owner.0].kind {
            ActionKind::While { condition, .. } => self.condition(path, condition),
            ActionKind::Repeat {
                condition, until, ..
            } => self.condition(path, condition) != *until,
            // A body entered by a goTo has no items left: the loop ends.
            ActionKind::ForEach { variable, .. } => match frame.remaining_items.pop_front() {
                Some(item) => {
                    self.set_variable(variable, item);
                    true
                }
                None => false,
            },
            _ => false,
        };
        if run_again {
            frame.next = 0;
            self.frames.push(frame);
        }
    }

    /// Renders a template; a failure is noted and yields `None`.
    fn render(&mut self, path: &str, template: &Template) -> Option<String> {
        let rendered = self.with_functions(path, |variables, functions| {
            template.render_with(variables, functions)
        });
        match rendered {
            Ok(text) => Some(text),
            Err(error) => {
                self.note(format!(
                    "{path}: expression {:?} failed: {error}",
                    template.source()
                ));
                None
            }
        }
    }

    /// Evaluates a condition; a failed expression counts as false.
    fn condition(&mut self, path: &str, condition: &Template) -> bool {
        self.render(path, condition)
            .is_some_and(|value| is_truthy(&value))
    }

    /// Virtual time since the run started.
    fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
    }
}

/// The stack of frames (of the program in `slot`) that makes `target` the next action.
fn frames_to(program: &Program, slot: usize, target: ActionIndex) -> Vec<Frame> {
    program
        .path_to(target)
        .into_iter()
        .map(|(block, next)| Frame::new(slot, block, next))
        .collect()
}
