//! Whole-program checks, run once every action is compiled: `goTo` targets, unreachable
//! actions, loops that cannot end, schedule names.

use std::collections::BTreeSet;

use super::{Compiler, reader};
use crate::error::Diagnostic;
use crate::program::{ActionIndex, ActionKind, BlockIndex, IvrChoice};

/// Points every `goTo` at its target action, or reports the missing `actionId`.
pub(super) fn resolve_go_tos(compiler: &mut Compiler) {
    for pending in std::mem::take(&mut compiler.pending_go_tos) {
        let Some((target, _)) = compiler.action_ids.get(&pending.target_id) else {
            let mut message = format!("no action has actionId {:?}", pending.target_id);
            if !compiler.action_ids.is_empty() {
                let known: Vec<String> = compiler
                    .action_ids
                    .keys()
                    .take(10)
                    .map(|id| format!("{id:?}"))
                    .collect();
                message.push_str(&format!(" (known: {})", known.join(", ")));
            }
            compiler.diagnostics.error(&pending.path, message);
            continue;
        };
        let target = *target;
        if let ActionKind::GoTo(go_to) = &mut compiler.actions[pending.action.0].kind {
            go_to.target = target;
        }
    }
}

/// Reports the first action after a `"hangup"` in the same block, unless a `goTo` can
/// reach it (or something nested in an action between the two).
pub(super) fn report_unreachable(compiler: &mut Compiler) {
    let targets: BTreeSet<ActionIndex> = compiler
        .actions
        .iter()
        .filter_map(|action| match &action.kind {
            ActionKind::GoTo(go_to) if go_to.target.0 < compiler.actions.len() => {
                Some(go_to.target)
            }
            _ => None,
        })
        .collect();
    // Every target and all its enclosing actions lead somewhere a goTo can land.
    let mut leads_to_target = BTreeSet::new();
    for target in &targets {
        let mut current = Some(*target);
        while let Some(action) = current {
            if !leads_to_target.insert(action) {
                break;
            }
            current = compiler.blocks[compiler.actions[action.0].block.0].owner;
        }
    }
    let mut problems = Vec::new();
    for block in &compiler.blocks {
        let mut hangup_at: Option<ActionIndex> = None;
        for action in &block.actions {
            if leads_to_target.contains(action) {
                hangup_at = None;
            }
            if let Some(hangup) = hangup_at {
                let path = compiler.actions[action.0].path.clone();
                let hangup_path = &compiler.actions[hangup.0].path;
                problems.push((
                    path,
                    format!("unreachable: it follows \"hangup\" at {hangup_path}"),
                ));
                break;
            }
            if matches!(compiler.actions[action.0].kind, ActionKind::Hangup) {
                hangup_at = Some(*action);
            }
        }
    }
    for (path, message) in problems {
        compiler
            .diagnostics
            .errors
            .push(Diagnostic { path, message });
    }
}

/// True when something in `block` (at any depth) can end the call or leave the block by a
/// jump: a `"hangup"` or a `goTo`.
pub(super) fn block_can_end_call(compiler: &Compiler, block: BlockIndex) -> bool {
    compiler.blocks[block.0]
        .actions
        .iter()
        .any(|action| match &compiler.actions[action.0].kind {
            ActionKind::Hangup | ActionKind::GoTo(_) => true,
            ActionKind::If {
                then, otherwise, ..
            } => {
                block_can_end_call(compiler, *then)
                    || otherwise.is_some_and(|block| block_can_end_call(compiler, block))
            }
            ActionKind::Switch { cases, default, .. } => {
                cases
                    .iter()
                    .any(|(_, block)| block_can_end_call(compiler, *block))
                    || default.is_some_and(|block| block_can_end_call(compiler, block))
            }
            ActionKind::While { body, .. }
            | ActionKind::Repeat { body, .. }
            | ActionKind::ForEach { body, .. } => block_can_end_call(compiler, *body),
            // A fetched script may hang up.
            ActionKind::Ivr(ivr) => {
                ivr.next.is_some()
                    || ivr.choices.iter().any(|(_, choice)| match choice {
                        IvrChoice::Fetch(_) => true,
                        IvrChoice::Actions(block) => block_can_end_call(compiler, *block),
                    })
            }
            _ => false,
        })
}

/// `onHangup` runs after the caller is gone: only actions that need no call are allowed
/// (`request`, `sendSms`, `setVariable`, and `if`/`switch` around them), and no `goTo`
/// from elsewhere may land in it.
pub(super) fn check_on_hangup(compiler: &mut Compiler, block: BlockIndex) {
    let mut inside = BTreeSet::new();
    let mut pending = vec![block];
    let mut problems = Vec::new();
    while let Some(block) = pending.pop() {
        for action in &compiler.blocks[block.0].actions {
            inside.insert(*action);
            let action = &compiler.actions[action.0];
            match &action.kind {
                ActionKind::Request(_)
                | ActionKind::SendSms { .. }
                | ActionKind::SetVariable { .. }
                | ActionKind::Invalid => {}
                ActionKind::If { .. } | ActionKind::Switch { .. } => {
                    pending.extend(action.kind.blocks().into_iter().map(|(_, block)| block));
                }
                other => problems.push(Diagnostic {
                    path: action.path.clone(),
                    message: format!(
                        "`{}` cannot run after the caller hung up: onHangup takes request, \
                         sendSms and setVariable (and if/switch around them)",
                        other.name()
                    ),
                }),
            }
        }
    }
    for action in &compiler.actions {
        if let ActionKind::GoTo(go_to) = &action.kind
            && inside.contains(&go_to.target)
        {
            problems.push(Diagnostic {
                path: action.path.clone(),
                message: "a goTo cannot jump into onHangup".to_owned(),
            });
        }
    }
    compiler.diagnostics.errors.extend(problems);
}

/// Every literal `isOpen('name')` must name a known schedule.
pub(super) fn check_schedule_names(compiler: &mut Compiler, schedules: &[String]) {
    let known: Vec<&str> = schedules.iter().map(String::as_str).collect();
    let uses = std::mem::take(&mut compiler.diagnostics.schedule_uses);
    for (name, path, column) in uses {
        if known.contains(&name.as_str()) {
            continue;
        }
        let mut message = format!("invalid expression: column {column}: unknown schedule {name:?}");
        if let Some(suggestion) = reader::closest(&name, &known) {
            message.push_str(&format!(" (did you mean {suggestion:?}?)"));
        }
        if known.is_empty() {
            message.push_str("; no schedules are configured");
        } else {
            message.push_str(&format!("; the schedules are: {}", known.join(", ")));
        }
        compiler.diagnostics.error(&path, message);
    }
}
