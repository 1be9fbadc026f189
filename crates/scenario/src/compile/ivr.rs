//! The 46elks `ivr` action: `{"ivr": prompt, "digits": 1, "timeout": 10, "repeat": 3,
//! "next": url, "1": {...}, "2": "https://..."}`.

use std::time::Duration;

use serde_json::Value;

use super::Compiler;
use super::external::is_http_url;
use super::reader::{self, ObjectReader};
use crate::expression::Template;
use crate::program::{ActionIndex, ActionKind, Ivr, IvrChoice, prompt_source_problem};

/// 46elks: a `timeout` outside 1–30 seconds means 10.
const DEFAULT_TIMEOUT_SECONDS: u64 = 10;
const TIMEOUT_RANGE: std::ops::RangeInclusive<i64> = 1..=30;
const DEFAULT_REPEAT: u32 = 3;
const MAXIMUM_REPEAT: i64 = 10;
const MAXIMUM_DIGITS: i64 = 255;

pub(super) fn ivr(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
    index: ActionIndex,
) -> Option<ActionKind> {
    let (value, path) = object.get("ivr")?;
    let diagnostics = &mut compiler.diagnostics;
    let prompt = reader::template(diagnostics, &path, value);
    if let Some(prompt) = prompt.as_ref().filter(|prompt| prompt.is_constant()) {
        let text = prompt.render(&Default::default()).unwrap_or_default();
        if let Some(problem) = prompt_source_problem(&text) {
            diagnostics.error(&path, format!("{text:?} {problem}"));
        }
    }
    let mut ivr = Ivr {
        prompt: Template::literal(""),
        digits: 1,
        timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECONDS),
        repeat: DEFAULT_REPEAT,
        next: None,
        choices: Vec::new(),
    };
    if let Some((value, path)) = object.get("digits")
        && let Some(digits) = reader::integer(diagnostics, &path, value, 1, MAXIMUM_DIGITS)
    {
        ivr.digits = usize::try_from(digits).unwrap_or(1);
    }
    if let Some((value, path)) = object.get("timeout") {
        match value.as_i64() {
            Some(seconds) if TIMEOUT_RANGE.contains(&seconds) => {
                ivr.timeout = Duration::from_secs(seconds.unsigned_abs());
            }
            Some(_) => diagnostics.warning(
                &path,
                format!("{value} is outside 1–30: 46elks uses 10 seconds, and so does ivory"),
            ),
            None => {
                reader::integer(diagnostics, &path, value, 1, 30);
            }
        }
    }
    if let Some((value, path)) = object.get("repeat")
        && let Some(repeat) = reader::integer(diagnostics, &path, value, 1, MAXIMUM_REPEAT)
    {
        ivr.repeat = u32::try_from(repeat).unwrap_or(DEFAULT_REPEAT);
    }
    if let Some((value, path)) = object.get("next") {
        ivr.next = url(compiler, &path, value);
    }
    let digit_keys: Vec<String> = object
        .keys()
        .filter(|key| is_digit_key(key))
        .map(str::to_owned)
        .collect();
    for key in digit_keys {
        object.allow_owned(&key);
        let path = object.path().key(&key);
        let Some(value) = object.value(&key) else {
            continue;
        };
        let choice = match value {
            Value::String(text) if text == "hangup" || text == "machineDetection" => Some(
                IvrChoice::Actions(single_action(compiler, &path, value, index)),
            ),
            Value::String(_) => url(compiler, &path, value).map(IvrChoice::Fetch),
            Value::Object(_) => Some(IvrChoice::Actions(single_action(
                compiler, &path, value, index,
            ))),
            Value::Array(_) => Some(IvrChoice::Actions(compiler.block(
                &path,
                value,
                Some(index),
            ))),
            other => {
                compiler.diagnostics.error(
                    &path,
                    format!(
                        "expected an action, a list of actions or an http(s) URL, found {}",
                        reader::describe(other)
                    ),
                );
                None
            }
        };
        if key == "#" && ivr.digits > 1 {
            compiler.diagnostics.warning(
                &path,
                "never chosen: with `digits` above 1, `#` ends the input and is not part of it",
            );
        } else if key.chars().count() > ivr.digits {
            compiler.diagnostics.warning(
                &path,
                format!("never chosen: longer than `digits` ({})", ivr.digits),
            );
        }
        if let Some(choice) = choice {
            ivr.choices.push((key, choice));
        }
    }
    if ivr.next.is_none() && ivr.choices.is_empty() {
        compiler.diagnostics.warning(
            object.path(),
            "neither `next` nor per-digit actions: the input is collected and dropped",
        );
    }
    ivr.prompt = prompt?;
    Some(ActionKind::Ivr(ivr))
}

/// A block holding the one action written at `path`.
fn single_action(
    compiler: &mut Compiler,
    path: &reader::JsonPath,
    value: &Value,
    owner: ActionIndex,
) -> crate::program::BlockIndex {
    let block = compiler.empty_block(Some(owner));
    let action = compiler.action(path, value, block, 0);
    compiler.blocks[block.0].actions.push(action);
    block
}

/// Digit strings: `"1"`, `"42"`, `"*"`, `"#"` (`#` alone: a caller who only presses `#`).
fn is_digit_key(key: &str) -> bool {
    key == "#"
        || (!key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_digit() || c == '*' || ('A'..='D').contains(&c)))
}

fn url(compiler: &mut Compiler, path: &reader::JsonPath, value: &Value) -> Option<Template> {
    let template = reader::template(&mut compiler.diagnostics, path, value)?;
    if template.is_constant() && !is_http_url(template.source()) {
        compiler.diagnostics.error(
            path,
            "expected an http:// or https:// URL (or an action, or a list of actions)",
        );
        return None;
    }
    Some(template)
}
