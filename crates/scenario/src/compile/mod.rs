//! From scenario JSON to a [`Program`]: every problem is reported at once, each at its
//! JSON path; the interpreter never sees an invalid program.

mod actions;
mod checks;
pub(crate) mod external;
mod flow;
mod ivr;
pub mod languages;
pub(crate) mod reader;
mod variables;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{CompileErrors, Diagnostic};
use crate::program::{Action, ActionIndex, ActionKind, Block, BlockIndex, Program, ReportPolicy};
use reader::{Diagnostics, JsonPath, ObjectReader};

/// Variables the runtime provides; a scenario may read them but never write them.
pub const READ_ONLY_VARIABLES: [&str; 7] = [
    "from",
    "to",
    "callId",
    "direction",
    "startTime",
    "answerTime",
    "__externalMessageId",
];

/// Blocks nested deeper than this are refused (the compiler and the run recurse on them).
const MAXIMUM_NESTING: usize = 32;

/// What the compiler knows about the scenario's surroundings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// Launch `parameters` the scenario may read: no "never set" warning for them.
    pub parameters: Vec<String>,
    /// The schedule names `isOpen('name')` may use (the configuration's
    /// `[schedules.NAME]`): a literal name not among them is an error. `None`: names are
    /// not checked (an unknown one is false at run time, with a note).
    pub schedules: Option<Vec<String>>,
}

/// Compiles scenario JSON text.
pub fn compile(json: &str) -> Result<Program, CompileErrors> {
    compile_with(json, &CompileOptions::default())
}

/// Compiles an already parsed scenario document.
pub fn compile_value(document: &Value) -> Result<Program, CompileErrors> {
    compile_value_with(document, &CompileOptions::default())
}

/// Compiles scenario JSON text, knowing `options`.
pub fn compile_with(json: &str, options: &CompileOptions) -> Result<Program, CompileErrors> {
    match serde_json::from_str::<Value>(json) {
        Ok(value) => compile_value_with(&value, options),
        Err(error) => Err(CompileErrors {
            errors: vec![Diagnostic {
                path: String::new(),
                message: format!("invalid JSON: {error}"),
            }],
            warnings: Vec::new(),
        }),
    }
}

/// Compiles an already parsed scenario document, knowing `options`.
pub fn compile_value_with(
    document: &Value,
    options: &CompileOptions,
) -> Result<Program, CompileErrors> {
    let mut compiler = Compiler::default();
    let root_path = JsonPath::default();
    let Some(map) = reader::object(&mut compiler.diagnostics, &root_path, document) else {
        return Err(compiler.into_errors());
    };
    let mut top = ObjectReader::new(map, root_path);
    let name = top
        .required(&mut compiler.diagnostics, "name")
        .and_then(|(value, path)| reader::non_empty_string(&mut compiler.diagnostics, &path, value))
        .unwrap_or_default()
        .to_owned();
    let description = top.get("description").and_then(|(value, path)| {
        reader::string(&mut compiler.diagnostics, &path, value).map(str::to_owned)
    });
    // Metadata that Infobip's API returns with a scenario: accepted so exports load as-is.
    for metadata in ["id", "createTime", "updateTime", "lastUsageDate"] {
        top.allow(metadata);
    }
    let root = match top.required(&mut compiler.diagnostics, "script") {
        Some((value, path)) => {
            if value.as_array().is_some_and(Vec::is_empty) {
                compiler
                    .diagnostics
                    .warning(&path, "the script is empty: every call is hung up at once");
            }
            compiler.block(&path, value, None)
        }
        None => compiler.empty_block(None),
    };
    let on_hangup = top
        .get("onHangup")
        .map(|(value, path)| compiler.block(&path, value, None));
    top.finish(&mut compiler.diagnostics);
    checks::resolve_go_tos(&mut compiler);
    checks::report_unreachable(&mut compiler);
    if let Some(block) = on_hangup {
        checks::check_on_hangup(&mut compiler, block);
    }
    variables::check(&mut compiler, options);
    if let Some(schedules) = &options.schedules {
        checks::check_schedule_names(&mut compiler, schedules);
    }
    if !compiler.diagnostics.errors.is_empty() {
        return Err(compiler.into_errors());
    }
    Ok(Program {
        name,
        description,
        actions: compiler.actions,
        blocks: compiler.blocks,
        root,
        on_hangup,
        report_policies: compiler.report_policies,
        warnings: compiler.diagnostics.warnings,
    })
}

/// The state of one compilation: the arenas being filled and the problems found.
#[derive(Default)]
pub(crate) struct Compiler {
    pub diagnostics: Diagnostics,
    pub actions: Vec<Action>,
    pub blocks: Vec<Block>,
    /// `actionId` → the action and its path (for "duplicate" messages).
    pub action_ids: BTreeMap<String, (ActionIndex, JsonPath)>,
    /// `goTo` actions whose target is resolved once every `actionId` is known.
    pub pending_go_tos: Vec<PendingGoTo>,
    pub report_policies: BTreeMap<String, ReportPolicy>,
    nesting: usize,
}

pub(crate) struct PendingGoTo {
    pub action: ActionIndex,
    pub target_id: String,
    pub path: JsonPath,
}

impl Compiler {
    fn into_errors(self) -> CompileErrors {
        CompileErrors {
            errors: self.diagnostics.errors,
            warnings: self.diagnostics.warnings,
        }
    }

    fn empty_block(&mut self, owner: Option<ActionIndex>) -> BlockIndex {
        self.blocks.push(Block {
            actions: Vec::new(),
            owner,
        });
        BlockIndex(self.blocks.len() - 1)
    }

    /// Compiles a JSON array of actions into a new block owned by `owner`.
    pub fn block(
        &mut self,
        path: &JsonPath,
        value: &Value,
        owner: Option<ActionIndex>,
    ) -> BlockIndex {
        let block = self.empty_block(owner);
        let Some(items) = reader::array(&mut self.diagnostics, path, value) else {
            return block;
        };
        if self.nesting >= MAXIMUM_NESTING {
            self.diagnostics.error(
                path,
                format!("blocks nested more than {MAXIMUM_NESTING} levels deep"),
            );
            return block;
        }
        self.nesting += 1;
        for (position, item) in items.iter().enumerate() {
            let action = self.action(&path.index(position), item, block, position);
            self.blocks[block.0].actions.push(action);
        }
        self.nesting -= 1;
        block
    }

    fn action(
        &mut self,
        path: &JsonPath,
        value: &Value,
        block: BlockIndex,
        position: usize,
    ) -> ActionIndex {
        let index = ActionIndex(self.actions.len());
        // A placeholder until the kind is compiled: children need the index as their owner.
        self.actions.push(Action {
            path: path.as_str().to_owned(),
            action_id: None,
            kind: ActionKind::Invalid,
            block,
            position,
        });
        let kind = match value {
            Value::String(word) => self.bare_action(path, word),
            Value::Object(map) => {
                let mut object = ObjectReader::new(map, path.clone());
                if let Some((id_value, id_path)) = object.get("actionId") {
                    self.action_id(index, &id_path, id_value);
                }
                let kind = match action_head(map) {
                    Ok(head) => self.object_action(head, &mut object, index),
                    Err(message) => {
                        self.diagnostics.error(path, message);
                        // The keys are not checked: the action is not known.
                        return index;
                    }
                };
                object.finish(&mut self.diagnostics);
                kind
            }
            other => {
                self.diagnostics.error(
                    path,
                    format!(
                        "expected an action (an object, or \"hangup\"), found {}",
                        reader::describe(other)
                    ),
                );
                None
            }
        };
        if let Some(kind) = kind {
            self.actions[index.0].kind = kind;
        }
        index
    }

    fn bare_action(&mut self, path: &JsonPath, word: &str) -> Option<ActionKind> {
        match word {
            "hangup" => Some(ActionKind::Hangup),
            "machineDetection" => Some(ActionKind::MachineDetection),
            other => {
                self.diagnostics.error(
                    path,
                    format!(
                        "unknown action {other:?}: the actions written as a bare string are \
                         \"hangup\" and \"machineDetection\""
                    ),
                );
                None
            }
        }
    }

    fn action_id(&mut self, index: ActionIndex, path: &JsonPath, value: &Value) {
        let id = match value {
            Value::String(text) if !text.is_empty() => text.clone(),
            Value::Number(number) if number.is_i64() || number.is_u64() => number.to_string(),
            other => {
                self.diagnostics.error(
                    path,
                    format!(
                        "expected a non-empty string or a whole number, found {}",
                        reader::describe(other)
                    ),
                );
                return;
            }
        };
        if let Some((_, first)) = self.action_ids.get(&id) {
            let message = format!(
                "duplicate actionId {id:?} (first used at {})",
                first.as_str()
            );
            self.diagnostics.error(path, message);
            return;
        }
        self.action_ids.insert(id.clone(), (index, path.clone()));
        self.actions[index.0].action_id = Some(id);
    }

    fn object_action(
        &mut self,
        head: &'static str,
        object: &mut ObjectReader<'_>,
        index: ActionIndex,
    ) -> Option<ActionKind> {
        match head {
            "playFromUrl" => actions::play(self, object),
            "say" => actions::say(self, object),
            "collectInto" => actions::collect(self, object),
            "setVariable" => actions::set_variable(self, object),
            "goTo" => actions::go_to(self, object, index),
            "pause" => actions::pause(self, object),
            "if" => flow::if_then_else(self, object, index),
            "switch" => flow::switch(self, object, index),
            "while" => flow::while_do(self, object, index),
            "repeat" => flow::repeat(self, object, index),
            "for-each" => flow::for_each(self, object, index),
            "capture" => external::capture(self, object),
            "record" => external::record(self, object),
            "playFromRecording" => external::play_recording(self, object),
            "dial" => external::dial(self, object),
            "dialToMany" => external::dial_to_many(self, object),
            "request" => external::request(self, object),
            "sendSms" => external::send_sms(self, object),
            "ivr" => ivr::ivr(self, object, index),
            // `action_head` only yields the heads above.
            _ => None,
        }
    }

    /// Records the report policy of a collected variable (the strictest one wins).
    pub fn note_report_policy(&mut self, variable: &str, policy: ReportPolicy) {
        let entry = self.report_policies.entry(variable.to_owned()).or_default();
        *entry = (*entry).max(policy);
    }
}

/// Keys that name an action; an object action has exactly one of them.
const ACTION_HEADS: [&str; 19] = [
    "playFromUrl",
    "say",
    "collectInto",
    "setVariable",
    "if",
    "switch",
    "goTo",
    "pause",
    "while",
    "repeat",
    "for-each",
    "capture",
    "record",
    "dial",
    "dialToMany",
    "request",
    "sendSms",
    "playFromRecording",
    "ivr",
];

fn action_head(map: &serde_json::Map<String, Value>) -> Result<&'static str, String> {
    // `repeat` carries its condition in a `while` (or `until`) key; 46elks' `ivr` has a
    // `repeat` count of its own.
    if map.contains_key("repeat") && !map.contains_key("ivr") {
        return Ok("repeat");
    }
    let heads: Vec<&'static str> = ACTION_HEADS
        .iter()
        .copied()
        .filter(|head| map.contains_key(*head))
        // An `ivr`'s `repeat` is its own option.
        .filter(|head| !(*head == "repeat" && map.contains_key("ivr")))
        .collect();
    match heads.as_slice() {
        [head] => Ok(head),
        [] => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            let mut message = format!(
                "unknown action: none of its keys ({}) names an action",
                keys.join(", ")
            );
            if map.contains_key("hangup") {
                message.push_str("; hangup is written as the bare string \"hangup\"");
            }
            Err(message)
        }
        [first, second, ..] => Err(format!(
            "ambiguous action: it has both `{first}` and `{second}`; write one action per object"
        )),
    }
}

/// Reads a variable name that the script writes.
pub(crate) fn writable_variable(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    value: &Value,
) -> Option<String> {
    let name = reader::string(diagnostics, path, value)?;
    let valid = name
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid {
        diagnostics.error(
            path,
            format!(
                "{name:?} is not a variable name (a letter or `_`, then letters, digits, `_` or `.`)"
            ),
        );
        return None;
    }
    if READ_ONLY_VARIABLES.contains(&name) {
        diagnostics.error(path, format!("`{name}` is read-only: the runtime sets it"));
        return None;
    }
    Some(name.to_owned())
}
