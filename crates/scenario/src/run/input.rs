//! Digits: the type-ahead buffer, barge-in, and collecting digits for `collectInto`, for
//! the input of a 46elks `ivr`, and for a `capture` that DTMF interrupted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ActionRef, Command, Run, TYPE_AHEAD_CAPACITY, Wait};
use crate::program::set_by_runtime::{FULL_SUFFIX, MEANING_SUFFIX};
use crate::program::{ActionKind, Collect, MAXIMUM_INPUT_LENGTH};

/// Digits being collected.
#[derive(Debug, Clone)]
pub(super) struct Collecting {
    pub purpose: Purpose,
    pub digits: String,
    pub deadline: Instant,
    /// Input is complete at this many digits.
    pub maximum_length: usize,
    /// The deadline restarts this long after every digit.
    pub timeout: Duration,
    /// `#` ends the input and is not stored; otherwise it is a digit like any other.
    pub hash_ends_input: bool,
}

/// Whose digits these are.
#[derive(Debug, Clone, Copy)]
pub(super) enum Purpose {
    Collect(ActionRef),
    /// DTMF interrupted this `capture`.
    Capture(ActionRef),
    /// The input of this `ivr`, on this attempt (from 1).
    Ivr(ActionRef, u32),
}

pub(crate) fn is_dtmf(digit: char) -> bool {
    digit.is_ascii_digit() || matches!(digit, '*' | '#' | 'A'..='D')
}

impl Run {
    pub(super) fn digit(&mut self, now: Instant, digit: char) {
        if !is_dtmf(digit) {
            self.note(format!(
                "ignored an event for an unknown DTMF key {digit:?}"
            ));
            return;
        }
        match &self.wait {
            Wait::Collect(_) => {
                self.type_ahead.push_back(digit);
                self.drain_type_ahead(now);
            }
            Wait::Playback { barge_in, ivr, .. } if *barge_in || ivr.is_some() => {
                self.buffer_digit(digit);
                self.push(Command::StopPlayback);
                self.prompt_done(now, Duration::ZERO);
            }
            Wait::External(action) => {
                let action = *action;
                let capture = match &self.action(action).kind {
                    ActionKind::Capture(capture) => Some((
                        capture.dtmf_maximum_length.unwrap_or(MAXIMUM_INPUT_LENGTH),
                        capture.timeout,
                    )),
                    // Escape digits belong to the engine's recorder.
                    ActionKind::Record(_) => return,
                    _ => None,
                };
                match capture {
                    // DTMF wins over speech.
                    Some((maximum_length, timeout)) => {
                        self.push(Command::StopCapture);
                        self.type_ahead.push_front(digit);
                        self.start_collecting(
                            now,
                            Purpose::Capture(action),
                            maximum_length,
                            timeout,
                            true,
                        );
                    }
                    None => self.buffer_digit(digit),
                }
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

    pub(super) fn start_collect(&mut self, now: Instant, action: ActionRef, collect: &Collect) {
        self.start_collecting(
            now,
            Purpose::Collect(action),
            collect.maximum_length.unwrap_or(MAXIMUM_INPUT_LENGTH),
            collect.timeout,
            true,
        );
    }

    /// Starts listening; buffered digits count first.
    pub(super) fn start_collecting(
        &mut self,
        now: Instant,
        purpose: Purpose,
        maximum_length: usize,
        timeout: Duration,
        hash_ends_input: bool,
    ) {
        self.wait = Wait::Collect(Collecting {
            purpose,
            digits: String::new(),
            deadline: now + timeout,
            maximum_length,
            timeout,
            hash_ends_input,
        });
        self.drain_type_ahead(now);
    }

    /// Feeds buffered digits to the listening collection until it completes.
    fn drain_type_ahead(&mut self, now: Instant) {
        let Wait::Collect(collecting) = &mut self.wait else {
            return;
        };
        let mut complete = false;
        while let Some(digit) = self.type_ahead.pop_front() {
            collecting.deadline = now + collecting.timeout;
            complete = (digit == '#' && collecting.hash_ends_input) || {
                collecting.digits.push(digit);
                collecting.digits.len() >= collecting.maximum_length
            };
            if complete {
                break;
            }
        }
        if complete {
            self.finish_collect(now);
        }
    }

    /// The input is complete (or timed out): hand it to whoever collected it.
    pub(super) fn finish_collect(&mut self, now: Instant) {
        let Wait::Collect(collecting) = std::mem::replace(&mut self.wait, Wait::Ready) else {
            return;
        };
        let digits = collecting.digits;
        let timed_out = now >= collecting.deadline;
        match collecting.purpose {
            Purpose::Collect(at) => {
                let program = Arc::clone(&self.programs[at.slot]);
                let action = &program.actions[at.index.0];
                let ActionKind::Collect(collect) = &action.kind else {
                    return;
                };
                let path = &action.path;
                let variable = &collect.variable;
                let how = if timed_out && digits.is_empty() {
                    " (timeout)"
                } else {
                    ""
                };
                self.trace(|| format!("{path} collectInto {variable} -> {digits:?}{how}"));
                if let Some(mapped) = &collect.mapped_values {
                    let meaning = mapped.get(&digits).cloned().unwrap_or_default();
                    self.set_variable(&format!("{variable}{MEANING_SUFFIX}"), meaning);
                }
                self.set_variable(variable, digits);
            }
            Purpose::Capture(at) => {
                let program = Arc::clone(&self.programs[at.slot]);
                let action = &program.actions[at.index.0];
                if let ActionKind::Capture(capture) = &action.kind {
                    let (path, variable) = (&action.path, &capture.variable);
                    self.trace(|| format!("{path} capture {variable} -> {digits:?} (DTMF)"));
                    self.set_variable(&format!("{variable}{FULL_SUFFIX}"), digits.clone());
                    self.set_variable(variable, digits);
                }
            }
            Purpose::Ivr(at, attempt) => self.ivr_input(now, at, attempt, digits),
        }
    }
}
