//! Compilers for the flow actions: `if`, `switch`, `while`, `repeat`, `for-each`.

use std::collections::BTreeMap;

use super::reader::{self, JsonPath, ObjectReader};
use super::{Compiler, writable_variable};
use crate::expression::{Template, is_truthy};
use crate::program::{ActionIndex, ActionKind, BlockIndex};

/// The `switch` case taken when no other case matches.
const DEFAULT_CASE: &str = "__default";

pub(super) fn if_then_else(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
    index: ActionIndex,
) -> Option<ActionKind> {
    let condition = condition(compiler, object, "if");
    let then = object
        .required(&mut compiler.diagnostics, "then")
        .map(|(value, path)| compiler.block(&path, value, Some(index)));
    let otherwise = object
        .get("else")
        .map(|(value, path)| compiler.block(&path, value, Some(index)));
    Some(ActionKind::If {
        condition: condition?,
        then: then?,
        otherwise,
    })
}

pub(super) fn switch(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
    index: ActionIndex,
) -> Option<ActionKind> {
    let (value, path) = object.get("switch")?;
    let value = reader::template(&mut compiler.diagnostics, &path, value);
    if value.as_ref().is_some_and(Template::is_constant) {
        compiler.diagnostics.warning(
            &path,
            "the value has no ${...}: the same case is taken on every call",
        );
    }
    let mut cases = Vec::new();
    let mut default = None;
    if let Some((cases_value, cases_path)) = object.required(&mut compiler.diagnostics, "case")
        && let Some(map) = reader::object(&mut compiler.diagnostics, &cases_path, cases_value)
    {
        if map.is_empty() {
            compiler
                .diagnostics
                .warning(&cases_path, "no cases: the switch does nothing");
        }
        for (key, body) in map {
            let block = compiler.block(&cases_path.key(key), body, Some(index));
            if key == DEFAULT_CASE {
                default = Some(block);
            } else {
                cases.push((key.clone(), block));
            }
        }
    }
    Some(ActionKind::Switch {
        value: value?,
        cases,
        default,
    })
}

pub(super) fn while_do(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
    index: ActionIndex,
) -> Option<ActionKind> {
    let path = object.path().key("while");
    let condition = condition(compiler, object, "while");
    let body = object
        .required(&mut compiler.diagnostics, "do")
        .map(|(value, path)| compiler.block(&path, value, Some(index)));
    let (condition, body) = (condition?, body?);
    check_guarded(compiler, &path, &condition, false, body);
    Some(ActionKind::While { condition, body })
}

pub(super) fn repeat(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
    index: ActionIndex,
) -> Option<ActionKind> {
    let (value, path) = object.get("repeat")?;
    let body = compiler.block(&path, value, Some(index));
    let has_while = object.get("while").is_some();
    let has_until = object.get("until").is_some();
    let until = match (has_while, has_until) {
        (true, false) => false,
        (false, true) => true,
        (true, true) => {
            let message = "has both `while` and `until`: use one of them";
            compiler.diagnostics.error(object.path(), message);
            return None;
        }
        (false, false) => {
            let message = "`repeat` needs a `while` or an `until` condition";
            compiler.diagnostics.error(object.path(), message);
            return None;
        }
    };
    let key = if until { "until" } else { "while" };
    let condition_path = object.path().key(key);
    let condition = condition(compiler, object, key)?;
    check_guarded(compiler, &condition_path, &condition, until, body);
    Some(ActionKind::Repeat {
        body,
        condition,
        until,
    })
}

pub(super) fn for_each(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
    index: ActionIndex,
) -> Option<ActionKind> {
    let (value, path) = object.get("for-each")?;
    let diagnostics = &mut compiler.diagnostics;
    let variable = writable_variable(diagnostics, &path, value);
    let list = object
        .required(diagnostics, "in")
        .and_then(|(value, path)| reader::template(diagnostics, &path, value));
    let delimiter = match object.get("delimiter") {
        Some((value, path)) => reader::string(diagnostics, &path, value).and_then(|text| {
            if text.is_empty() {
                diagnostics.error(&path, "must not be empty");
                None
            } else {
                Some(text.to_owned())
            }
        }),
        None => Some(",".to_owned()),
    };
    let body = object
        .required(&mut compiler.diagnostics, "do")
        .map(|(value, path)| compiler.block(&path, value, Some(index)));
    Some(ActionKind::ForEach {
        variable: variable?,
        list: list?,
        delimiter: delimiter?,
        body: body?,
    })
}

/// Reads the condition under `key`, warning when it is constant.
fn condition(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
    key: &'static str,
) -> Option<Template> {
    let (value, path) = object.get(key)?;
    let condition = reader::template(&mut compiler.diagnostics, &path, value)?;
    if condition.is_constant() {
        let verdict = is_truthy(&condition.render(&BTreeMap::new()).unwrap_or_default());
        compiler.diagnostics.warning(
            &path,
            format!("the condition has no ${{...}}: it is always {verdict}"),
        );
    }
    Some(condition)
}

/// A loop whose condition never lets it end, and whose body cannot hang up, never ends:
/// that is a load error rather than a call that spins until the step limit.
fn check_guarded(
    compiler: &mut Compiler,
    path: &JsonPath,
    condition: &Template,
    until: bool,
    body: BlockIndex,
) {
    if !condition.is_constant() {
        return;
    }
    let keeps_going = is_truthy(&condition.render(&BTreeMap::new()).unwrap_or_default()) != until;
    if keeps_going && !super::checks::block_can_end_call(compiler, body) {
        compiler.diagnostics.error(
            path,
            "the loop never ends: the condition is constant and the body never hangs up",
        );
    }
}
