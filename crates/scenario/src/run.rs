//! [`Run`]: one execution of a [`Program`] for one call, as a sans-IO state machine.
//! The contract (events, commands, timing) is in the crate docs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::expression::{Template, is_truthy};
use crate::program::{
    ActionIndex, ActionKind, BlockIndex, Collect, MAXIMUM_INPUT_LENGTH, Program, ReportPolicy,
    Voice, prompt_source_problem,
};

/// At most this many steps (an action executed, or a block left) per `new`/`handle_*`
/// call; a scenario that goes further without waiting for anything is stuck in a loop and
/// is ended with a [`Command::Note`] and a [`Command::Hangup`].
pub const MAXIMUM_STEPS_PER_CALL: usize = 10_000;
/// Digits pressed while no `collectInto` listens are kept, up to this many, for the next one.
pub const TYPE_AHEAD_CAPACITY: usize = 32;
/// What a `MASKED` variable reads as in [`Run::report_variables`].
pub const MASK: &str = "****";

/// Something that happened on the call, fed to [`Run::handle_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The prompt of the last `Play`/`Say` has been played completely (all its loops).
    PlaybackFinished,
    /// The prompt of the last `Play`/`Say` could not be played (or not to its end).
    PlaybackFailed { reason: String },
    /// The caller pressed a DTMF key: `0`-`9`, `*`, `#`, `A`-`D`.
    Digit(char),
    /// The caller hung up: the run finishes at once and emits nothing more.
    CallerHungUp,
}

/// Something the engine must do, drained with [`Run::poll_command`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// Play `source`, `loop_count` times in a row, then send one
    /// [`Event::PlaybackFinished`]. `source` is an `http(s)://` URL (the engine fetches it)
    /// or a path relative to the sounds directory (already checked with
    /// [`prompt_source_problem`]).
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
    /// End the call. Always the last command of a run (except after `CallerHungUp`).
    Hangup,
    /// A line for the call log: an action the runtime cannot perform yet, a failed prompt,
    /// a failed expression, a `goTo` past its limit. Never contains collected digits.
    Note(String),
}

/// Why a run finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The script ran to its end.
    ScenarioEnd,
    /// A `"hangup"` action.
    HangupAction,
    /// [`Event::CallerHungUp`].
    CallerHungUp,
    /// More than [`MAXIMUM_STEPS_PER_CALL`] steps without waiting.
    StepLimit,
}

/// One scenario execution for one call.
#[derive(Debug)]
pub struct Run {
    program: Arc<Program>,
    variables: BTreeMap<String, String>,
    /// Variables the script wrote: the ones [`Run::report_variables`] reports.
    written: BTreeSet<String>,
    frames: Vec<Frame>,
    wait: Wait,
    commands: VecDeque<Command>,
    type_ahead: VecDeque<char>,
    go_to_counts: BTreeMap<ActionIndex, u32>,
    finish_reason: Option<FinishReason>,
}

/// A block being executed: the next action to run in it.
#[derive(Debug, Clone)]
struct Frame {
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
    },
    /// A `collectInto` is listening.
    Collect(Collecting),
    /// A `pause` (or the silence after a prompt) lasts until then.
    Pause {
        until: Instant,
    },
    Finished,
}

#[derive(Debug, Clone)]
struct Collecting {
    action: ActionIndex,
    digits: String,
    deadline: Instant,
}

impl Frame {
    fn new(block: BlockIndex, next: usize) -> Self {
        Frame {
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
        let root = program.root;
        let mut run = Run {
            program,
            variables,
            written: BTreeSet::new(),
            frames: vec![Frame::new(root, 0)],
            wait: Wait::Ready,
            commands: VecDeque::new(),
            type_ahead: VecDeque::new(),
            go_to_counts: BTreeMap::new(),
            finish_reason: None,
        };
        run.advance(now);
        run
    }

    /// Feeds one event; the resulting commands are then drained with [`poll_command`](Self::poll_command).
    pub fn handle_event(&mut self, now: Instant, event: Event) {
        if self.is_finished() {
            return;
        }
        match event {
            Event::CallerHungUp => {
                self.commands.clear();
                self.frames.clear();
                self.wait = Wait::Finished;
                self.finish_reason = Some(FinishReason::CallerHungUp);
                return;
            }
            Event::PlaybackFinished => {
                if let Wait::Playback { pause_after, .. } = self.wait {
                    self.wait = if pause_after.is_zero() {
                        Wait::Ready
                    } else {
                        Wait::Pause {
                            until: now + pause_after,
                        }
                    };
                }
            }
            Event::PlaybackFailed { reason } => {
                if matches!(self.wait, Wait::Playback { .. }) {
                    self.note(format!("playback failed: {reason}"));
                    self.wait = Wait::Ready;
                }
            }
            Event::Digit(digit) => self.digit(now, digit),
        }
        self.advance(now);
    }

    /// Acts on the deadline from [`poll_timeout`](Self::poll_timeout) once `now` reaches it
    /// (calling it early, or with no deadline, does nothing).
    pub fn handle_timeout(&mut self, now: Instant) {
        match &self.wait {
            Wait::Collect(collecting) if now >= collecting.deadline => self.finish_collect(),
            Wait::Pause { until } if now >= *until => self.wait = Wait::Ready,
            _ => return,
        }
        self.advance(now);
    }

    /// The next command for the engine, in order.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.wait {
            Wait::Collect(collecting) => Some(collecting.deadline),
            Wait::Pause { until } => Some(*until),
            _ => None,
        }
    }

    /// True once the run has ended; commands already queued (the final `Hangup`) are
    /// still to be drained.
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
                match self.program.report_policy(name) {
                    ReportPolicy::Always => Some((name.clone(), value.clone())),
                    ReportPolicy::Masked => Some((name.clone(), MASK.to_owned())),
                    ReportPolicy::Never => None,
                }
            })
            .collect()
    }

    /// The program this run executes.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    fn note(&mut self, text: String) {
        self.commands.push_back(Command::Note(text));
    }

    fn set_variable(&mut self, name: &str, value: String) {
        self.variables.insert(name.to_owned(), value);
        self.written.insert(name.to_owned());
    }

    fn finish(&mut self, reason: FinishReason) {
        self.commands.push_back(Command::Hangup);
        self.frames.clear();
        self.wait = Wait::Finished;
        self.finish_reason = Some(reason);
    }

    fn digit(&mut self, now: Instant, digit: char) {
        let valid = digit.is_ascii_digit() || matches!(digit, '*' | '#' | 'A'..='D');
        if !valid {
            self.note(format!(
                "ignored an event for an unknown DTMF key {digit:?}"
            ));
            return;
        }
        match &mut self.wait {
            Wait::Collect(_) => {
                self.type_ahead.push_back(digit);
                self.drain_type_ahead(now);
            }
            Wait::Playback { barge_in: true, .. } => {
                self.buffer_digit(digit);
                self.commands.push_back(Command::StopPlayback);
                self.wait = Wait::Ready;
            }
            _ => self.buffer_digit(digit),
        }
    }

    fn buffer_digit(&mut self, digit: char) {
        if self.type_ahead.len() < TYPE_AHEAD_CAPACITY {
            self.type_ahead.push_back(digit);
        } else {
            self.note(format!(
                "type-ahead buffer full ({TYPE_AHEAD_CAPACITY} keys): a key press was dropped"
            ));
        }
    }

    /// Feeds buffered digits to the listening `collectInto` until it completes.
    fn drain_type_ahead(&mut self, now: Instant) {
        let program = Arc::clone(&self.program);
        let Wait::Collect(collecting) = &mut self.wait else {
            return;
        };
        let ActionKind::Collect(collect) = &program.actions[collecting.action.0].kind else {
            return;
        };
        let maximum_length = collect.maximum_length.unwrap_or(MAXIMUM_INPUT_LENGTH);
        let mut complete = false;
        while let Some(digit) = self.type_ahead.pop_front() {
            collecting.deadline = now + collect.timeout;
            // `#` ends input and is not stored.
            complete = digit == '#' || {
                collecting.digits.push(digit);
                collecting.digits.len() >= maximum_length
            };
            if complete {
                break;
            }
        }
        if complete {
            self.finish_collect();
        }
    }

    fn finish_collect(&mut self) {
        let Wait::Collect(collecting) = std::mem::replace(&mut self.wait, Wait::Ready) else {
            return;
        };
        let program = Arc::clone(&self.program);
        let ActionKind::Collect(collect) = &program.actions[collecting.action.0].kind else {
            return;
        };
        if let Some(mapped) = &collect.mapped_values {
            let meaning = mapped.get(&collecting.digits).cloned().unwrap_or_default();
            self.set_variable(&format!("{}_Meaning", collect.variable), meaning);
        }
        self.set_variable(&collect.variable, collecting.digits);
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
        let program = Arc::clone(&self.program);
        let Some(frame) = self.frames.last_mut() else {
            self.finish(FinishReason::ScenarioEnd);
            return;
        };
        let Some(&action) = program.blocks[frame.block.0].actions.get(frame.next) else {
            if let Some(frame) = self.frames.pop() {
                self.leave_block(frame);
            }
            return;
        };
        frame.next += 1;
        self.execute(now, action);
    }

    fn execute(&mut self, now: Instant, index: ActionIndex) {
        let program = Arc::clone(&self.program);
        let action = &program.actions[index.0];
        let path = action.path.as_str();
        match &action.kind {
            ActionKind::Play(play) => {
                let Some(source) = self.render(path, &play.source) else {
                    return;
                };
                if let Some(problem) = prompt_source_problem(&source) {
                    self.note(format!("{path}: prompt {source:?} {problem}; skipped"));
                    return;
                }
                self.commands.push_back(Command::Play {
                    source,
                    barge_in: play.barge_in,
                    loop_count: play.loop_count,
                });
                self.wait = Wait::Playback {
                    barge_in: play.barge_in,
                    pause_after: play.pause_after,
                };
            }
            ActionKind::Say(say) => {
                let Some(text) = self.render(path, &say.text) else {
                    return;
                };
                self.commands.push_back(Command::Say {
                    text,
                    language: say.language.clone(),
                    voice: say.voice.clone(),
                    speech_rate: say.speech_rate,
                    barge_in: say.barge_in,
                });
                self.wait = Wait::Playback {
                    barge_in: say.barge_in,
                    pause_after: Duration::ZERO,
                };
            }
            ActionKind::Collect(collect) => self.start_collect(now, index, collect),
            ActionKind::SetVariable { variable, value } => {
                let value = self.render(path, value).unwrap_or_default();
                self.set_variable(variable, value);
            }
            ActionKind::If {
                condition,
                then,
                otherwise,
            } => {
                if self.condition(path, condition) {
                    self.frames.push(Frame::new(*then, 0));
                } else if let Some(otherwise) = otherwise {
                    self.frames.push(Frame::new(*otherwise, 0));
                }
            }
            ActionKind::Switch {
                value,
                cases,
                default,
            } => {
                let value = self.render(path, value);
                let case = value.and_then(|value| {
                    cases
                        .iter()
                        .find(|(case, _)| *case == value)
                        .map(|(_, block)| *block)
                });
                if let Some(block) = case.or(*default) {
                    self.frames.push(Frame::new(block, 0));
                }
            }
            ActionKind::GoTo(go_to) => {
                let count = self.go_to_counts.entry(index).or_default();
                if *count >= go_to.limit {
                    let limit = go_to.limit;
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
                self.frames = frames_to(&program, go_to.target);
            }
            ActionKind::Pause(duration) => {
                self.wait = Wait::Pause {
                    until: now + *duration,
                };
            }
            ActionKind::Hangup => self.finish(FinishReason::HangupAction),
            ActionKind::While { condition, body } => {
                if self.condition(path, condition) {
                    self.frames.push(Frame::new(*body, 0));
                }
            }
            ActionKind::Repeat { body, .. } => self.frames.push(Frame::new(*body, 0)),
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
            ActionKind::Unsupported { action } => {
                self.note(format!("{path}: `{action}` is not supported yet; skipped"));
            }
        }
    }

    /// A block ran to its end: loops decide whether it runs again.
    fn leave_block(&mut self, mut frame: Frame) {
        let program = Arc::clone(&self.program);
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

    fn start_collect(&mut self, now: Instant, action: ActionIndex, collect: &Collect) {
        self.wait = Wait::Collect(Collecting {
            action,
            digits: String::new(),
            deadline: now + collect.timeout,
        });
        self.drain_type_ahead(now);
    }

    /// Renders a template; a failure is noted and yields `None`.
    fn render(&mut self, path: &str, template: &Template) -> Option<String> {
        match template.render(&self.variables) {
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
}

/// The stack of frames that makes `target` the next action to run.
fn frames_to(program: &Program, target: ActionIndex) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut current = target;
    let mut next = program.actions[target.0].position;
    loop {
        let action = &program.actions[current.0];
        frames.push(Frame::new(action.block, next));
        match program.blocks[action.block.0].owner {
            Some(owner) => {
                current = owner;
                next = program.actions[owner.0].position + 1;
            }
            None => break,
        }
    }
    frames.reverse();
    frames
}
