//! What a compiled action does: [`ActionKind`] and the option structs of each action.
//! Every value here has been validated by the compiler (ranges, types, names).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::{ActionIndex, BlockIndex, Voice};
use crate::expression::{EvaluationError, Functions, Template};

#[derive(Debug, Clone)]
pub(crate) enum ActionKind {
    Play(Play),
    Say(Say),
    Collect(Collect),
    SetVariable {
        variable: String,
        value: Template,
    },
    If {
        condition: Template,
        then: BlockIndex,
        otherwise: Option<BlockIndex>,
    },
    Switch {
        value: Template,
        cases: Vec<(String, BlockIndex)>,
        default: Option<BlockIndex>,
    },
    GoTo(GoTo),
    Pause(Duration),
    Hangup,
    While {
        condition: Template,
        body: BlockIndex,
    },
    Repeat {
        body: BlockIndex,
        condition: Template,
        /// `repeat` + `until`: stop when the condition is true; `repeat` + `while`: stop
        /// when it is false.
        until: bool,
    },
    ForEach {
        variable: String,
        list: Template,
        delimiter: String,
        body: BlockIndex,
    },
    Capture(Capture),
    Record(Record),
    PlayRecording(RecordingReference),
    /// `dial` (one destination) and `dialToMany`.
    Dial(Dial),
    Request(Request),
    SendSms {
        from: Option<Template>,
        to: Template,
        text: Template,
    },
    MachineDetection,
    Ivr(Ivr),
    /// Only while compiling: the placeholder of an action with errors. A built
    /// [`Program`](super::Program) never contains it.
    Invalid,
}

impl ActionKind {
    /// The JSON key (or bare string) that names the action.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Play(_) => "playFromUrl",
            ActionKind::Say(_) => "say",
            ActionKind::Collect(_) => "collectInto",
            ActionKind::SetVariable { .. } => "setVariable",
            ActionKind::If { .. } => "if",
            ActionKind::Switch { .. } => "switch",
            ActionKind::GoTo(_) => "goTo",
            ActionKind::Pause(_) => "pause",
            ActionKind::Hangup => "hangup",
            ActionKind::While { .. } => "while",
            ActionKind::Repeat { .. } => "repeat",
            ActionKind::ForEach { .. } => "for-each",
            ActionKind::Capture(_) => "capture",
            ActionKind::Record(_) => "record",
            ActionKind::PlayRecording(_) => "playFromRecording",
            ActionKind::Dial(dial) if dial.many => "dialToMany",
            ActionKind::Dial(_) => "dial",
            ActionKind::Request(_) => "request",
            ActionKind::SendSms { .. } => "sendSms",
            ActionKind::MachineDetection => "machineDetection",
            ActionKind::Ivr(_) => "ivr",
            ActionKind::Invalid => "invalid",
        }
    }

    /// The blocks nested in this action, with a label saying when each runs.
    pub fn blocks(&self) -> Vec<(String, BlockIndex)> {
        match self {
            ActionKind::If {
                then, otherwise, ..
            } => {
                let mut blocks = vec![("then".to_owned(), *then)];
                blocks.extend(otherwise.map(|block| ("else".to_owned(), block)));
                blocks
            }
            ActionKind::Switch { cases, default, .. } => {
                let mut blocks: Vec<(String, BlockIndex)> = cases
                    .iter()
                    .map(|(case, block)| (format!("{case:?}"), *block))
                    .collect();
                blocks.extend(default.map(|block| ("__default".to_owned(), block)));
                blocks
            }
            ActionKind::While { body, .. }
            | ActionKind::Repeat { body, .. }
            | ActionKind::ForEach { body, .. } => vec![("do".to_owned(), *body)],
            ActionKind::Ivr(ivr) => ivr
                .choices
                .iter()
                .filter_map(|(key, choice)| match choice {
                    IvrChoice::Actions(block) => Some((key.clone(), *block)),
                    IvrChoice::Fetch(_) => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Play {
    pub source: Template,
    pub barge_in: bool,
    pub loop_count: u32,
    /// Silence after the prompt (ivory's `options.pause`).
    pub pause_after: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct Say {
    pub text: Template,
    pub language: Option<String>,
    pub voice: Option<Voice>,
    pub speech_rate: f32,
    pub barge_in: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Collect {
    pub variable: String,
    /// Complete at this many digits; `None`: only `#`, the timeout or 255 digits end input.
    pub maximum_length: Option<usize>,
    pub timeout: Duration,
    pub mapped_values: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct GoTo {
    pub target: ActionIndex,
    pub limit: u32,
    pub count_variable: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Capture {
    pub variable: String,
    pub timeout: Duration,
    pub language: Option<String>,
    pub key_phrases: Vec<String>,
    pub maximum_silence: Duration,
    pub dtmf_maximum_length: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub maximum_duration: Option<Duration>,
    pub beep: bool,
    pub escape_digits: String,
    pub maximum_silence: Option<Duration>,
    pub identifier: Option<Template>,
}

/// `playFromRecording`: which recording.
#[derive(Debug, Clone)]
pub(crate) enum RecordingReference {
    /// `null`: the last recording of this call.
    Last,
    /// A number: the n-th recording of this call, counted from 1.
    Number(usize),
    /// A string: a recording identifier (of this call or an earlier one).
    Identifier(Template),
}

#[derive(Debug, Clone)]
pub(crate) struct Dial {
    pub destinations: Vec<Template>,
    /// Written as `dialToMany`.
    pub many: bool,
    pub parallel: bool,
    pub sender_id: Option<Template>,
    pub ring_timeout: Duration,
    pub maximum_call_duration: Option<Duration>,
}

/// HTTP methods of `request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl HttpMethod {
    /// Every method, in the order of [`HttpMethod::as_str`]'s documentation.
    pub const ALL: [HttpMethod; 6] = [
        HttpMethod::Get,
        HttpMethod::Post,
        HttpMethod::Put,
        HttpMethod::Patch,
        HttpMethod::Delete,
        HttpMethod::Head,
    ];

    /// `"GET"`, `"POST"`, `"PUT"`, `"PATCH"`, `"DELETE"` or `"HEAD"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Head => "HEAD",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub url: Template,
    pub method: HttpMethod,
    pub headers: Vec<(String, Template)>,
    pub body: Option<JsonTemplate>,
    pub collect_response: bool,
    pub timeout: Duration,
}

/// A JSON value whose strings may hold `${...}`: the `body` of a `request`.
#[derive(Debug, Clone)]
pub(crate) enum JsonTemplate {
    /// A number, boolean or null, as written.
    Value(Value),
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Renders every string; the structure stays as written, so a value can never break
    /// the JSON around it.
    pub fn render(
        &self,
        variables: &BTreeMap<String, String>,
        functions: &mut dyn Functions,
    ) -> Result<Value, EvaluationError> {
        Ok(match self {
            JsonTemplate::Value(value) => value.clone(),
            JsonTemplate::Text(template) => {
                Value::String(template.render_with(variables, functions)?)
            }
            JsonTemplate::Array(items) => {
                let mut rendered = Vec::with_capacity(items.len());
                for item in items {
                    rendered.push(item.render(variables, functions)?);
                }
                Value::Array(rendered)
            }
            JsonTemplate::Object(entries) => {
                let mut rendered = serde_json::Map::new();
                for (key, item) in entries {
                    rendered.insert(key.clone(), item.render(variables, functions)?);
                }
                Value::Object(rendered)
            }
        })
    }
}

/// 46elks' `ivr` action.
#[derive(Debug, Clone)]
pub(crate) struct Ivr {
    pub prompt: Template,
    /// At most this many digits; `#` ends shorter input.
    pub digits: usize,
    pub timeout: Duration,
    /// How many times the prompt is played, in all, when no (usable) input comes.
    pub repeat: u32,
    pub next: Option<Template>,
    /// Per-digit-string choices (`"1": {...}`), in key order.
    pub choices: Vec<(String, IvrChoice)>,
}

#[derive(Debug, Clone)]
pub(crate) enum IvrChoice {
    /// Inline actions, run in place of the `ivr` action.
    Actions(BlockIndex),
    /// A URL fetched like `next`.
    Fetch(Template),
}
