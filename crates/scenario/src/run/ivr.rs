//! 46elks' `ivr` at run time: prompt, input, repeats, then an inline choice or a POST to
//! `next` whose answer (more actions) is compiled and run in place of the `ivr`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::input::Purpose;
use super::{ActionRef, Command, Event, FinishReason, Frame, Run, Wait};
use crate::compile::{CompileOptions, compile_value_with};
use crate::expression::Template;
use crate::program::{ActionKind, HttpMethod, IvrChoice, prompt_source_problem};

/// A call fetches at most this many scripts (46elks `next` answers): a webhook that
/// answers with itself for ever cannot grow the run without bound.
pub const MAXIMUM_FETCHED_SCRIPTS: usize = 100;
/// How long the run waits for a `next` webhook.
pub const IVR_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// How the input of an `ivr` ended.
enum Outcome {
    Digits(String),
    NoInput,
}

impl Run {
    /// Plays the prompt for attempt `attempt` (from 1); the input starts when it ends.
    pub(super) fn start_ivr(&mut self, now: Instant, at: ActionRef, attempt: u32) {
        let program = Arc::clone(&self.programs[at.slot]);
        let action = &program.actions[at.index.0];
        let ActionKind::Ivr(ivr) = &action.kind else {
            return;
        };
        let path = action.path.as_str();
        let source = self.render(path, &ivr.prompt).unwrap_or_default();
        self.trace(|| format!("{path} ivr attempt {attempt} of {}", ivr.repeat));
        if let Some(problem) = prompt_source_problem(&source) {
            self.note(format!("{path}: prompt {source:?} {problem}; skipped"));
            self.ivr_listen(now, at, attempt);
            return;
        }
        self.wait = Wait::Playback {
            barge_in: true,
            pause_after: Duration::ZERO,
            ivr: Some((at, attempt)),
        };
        self.push(Command::Play {
            source,
            barge_in: true,
            loop_count: 1,
        });
    }

    /// Listens for the input of attempt `attempt`.
    pub(super) fn ivr_listen(&mut self, now: Instant, at: ActionRef, attempt: u32) {
        let ActionKind::Ivr(ivr) = &self.action(at).kind else {
            return;
        };
        let (digits, timeout) = (ivr.digits, ivr.timeout);
        // With a single digit `#` is a key like the others; longer input ends at `#`.
        self.start_collecting(now, Purpose::Ivr(at, attempt), digits, timeout, digits > 1);
    }

    /// The input of attempt `attempt` is complete (`digits` may be empty: no input).
    pub(super) fn ivr_input(&mut self, now: Instant, at: ActionRef, attempt: u32, digits: String) {
        let program = Arc::clone(&self.programs[at.slot]);
        let action = &program.actions[at.index.0];
        let ActionKind::Ivr(ivr) = &action.kind else {
            return;
        };
        let path = action.path.as_str();
        let choice = ivr
            .choices
            .iter()
            .find(|(key, _)| !digits.is_empty() && *key == digits)
            .map(|(_, choice)| choice);
        self.trace(|| format!("{path} ivr input {digits:?}"));
        match choice {
            Some(IvrChoice::Actions(block)) => {
                self.trace(|| format!("{path} ivr -> actions for {digits:?}"));
                self.frames.push(Frame::new(at.slot, *block, 0));
            }
            Some(IvrChoice::Fetch(url)) => self.ivr_fetch(at, url, Outcome::Digits(digits)),
            None if !digits.is_empty() && ivr.next.is_some() => {
                if let Some(next) = &ivr.next {
                    self.ivr_fetch(at, next, Outcome::Digits(digits));
                }
            }
            None if attempt < ivr.repeat => self.start_ivr(now, at, attempt + 1),
            None => match &ivr.next {
                Some(next) => self.ivr_fetch(at, next, Outcome::NoInput),
                None => {
                    self.trace(|| format!("{path} ivr: no usable input; going on"));
                }
            },
        }
    }

    /// POSTs the result to a webhook; its answer is run in place of the `ivr`.
    fn ivr_fetch(&mut self, at: ActionRef, url: &Template, outcome: Outcome) {
        let path = self.action(at).path.clone();
        let Some(url) = self.render(&path, url) else {
            self.note(format!("{path}: the webhook URL failed; hanging up"));
            self.finish(FinishReason::ScriptFailed);
            return;
        };
        let call_id = self.variables.get("callId").cloned().unwrap_or_default();
        let from = self.variables.get("from").cloned().unwrap_or_default();
        let mut form = vec![("callid", call_id), ("from", from)];
        match outcome {
            Outcome::Digits(digits) => form.push(("result", digits)),
            Outcome::NoInput => {
                form.push(("result", "failed".to_owned()));
                form.push(("why", "noinput".to_owned()));
            }
        }
        let body = form
            .iter()
            .map(|(name, value)| format!("{name}={}", form_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        self.trace(|| format!("{path} ivr -> POST {url}"));
        self.push(Command::HttpRequest {
            method: HttpMethod::Post,
            url,
            headers: vec![(
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: Some(body),
            timeout: IVR_FETCH_TIMEOUT,
        });
        self.wait = Wait::External(at);
    }

    /// The webhook answered (or failed): run its actions, or hang up cleanly.
    pub(super) fn ivr_fetched(&mut self, at: ActionRef, event: Event) {
        let path = self.action(at).path.clone();
        let failure = match event {
            Event::HttpResponse { status, body, .. } if (200..300).contains(&status) => {
                if body.trim().is_empty() {
                    self.trace(|| format!("{path} ivr: the webhook answered nothing; going on"));
                    return;
                }
                match self.compile_fetched(&body) {
                    Ok(()) => return,
                    Err(problem) => problem,
                }
            }
            Event::HttpResponse { status, .. } => format!("the webhook answered {status}"),
            Event::ActionFailed { reason } => format!("the webhook failed: {reason}"),
            _ => return,
        };
        self.note(format!("{path}: {failure}; hanging up"));
        self.finish(FinishReason::ScriptFailed);
    }

    /// Compiles a webhook answer and pushes it as the next thing to run.
    fn compile_fetched(&mut self, body: &str) -> Result<(), String> {
        if self.programs.len() > MAXIMUM_FETCHED_SCRIPTS {
            return Err(format!(
                "more than {MAXIMUM_FETCHED_SCRIPTS} scripts fetched in one call"
            ));
        }
        let answer: Value = serde_json::from_str(body)
            .map_err(|error| format!("the webhook answer is not JSON: {error}"))?;
        let script = match answer {
            Value::Array(_) => answer,
            Value::Object(ref map) if map.contains_key("script") => {
                map.get("script").cloned().unwrap_or(Value::Null)
            }
            single => Value::Array(vec![single]),
        };
        let document = json!({ "name": "webhook answer", "script": script });
        // Schedule names are not checked: the run cannot list them (isOpen notes unknown
        // ones when it runs).
        let options = CompileOptions {
            parameters: self.variables.keys().cloned().collect(),
            schedules: None,
        };
        let program = compile_value_with(&document, &options).map_err(|errors| {
            let first = errors
                .errors
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            format!(
                "the webhook answer is not a valid script ({} error(s), first: {first})",
                errors.errors.len()
            )
        })?;
        let mut program = program;
        // Paths in notes and traces say which fetched script they belong to.
        let prefix = format!("fetched[{}].", self.programs.len());
        for action in &mut program.actions {
            action.path.insert_str(0, &prefix);
        }
        let root = program.root;
        self.programs.push(Arc::new(program));
        self.frames
            .push(Frame::new(self.programs.len() - 1, root, 0));
        Ok(())
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    let mut encoded = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                encoded.push(char::from(byte));
            }
            b' ' => encoded.push('+'),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_encoding() {
        assert_eq!(super::form_encode("+46 70-1*2#"), "%2B46+70-1*2%23");
        assert_eq!(super::form_encode("å"), "%C3%A5");
    }
}
