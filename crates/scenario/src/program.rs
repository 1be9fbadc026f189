//! The compiled, validated form of a scenario that [`Run`](crate::Run) executes.
//!
//! Actions and blocks live in two flat arenas indexed by [`ActionIndex`] and [`BlockIndex`]:
//! a block lists its actions in order and knows the action that owns it (the `if`, `switch`
//! or loop), and every action knows its block and position. That is all a `goTo` needs to
//! rebuild the stack of blocks leading to its target, wherever it is.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::Diagnostic;
use crate::expression::Template;

/// A compiled scenario: immutable, cheap to share behind an `Arc` between calls.
#[derive(Debug, Clone)]
pub struct Program {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) actions: Vec<Action>,
    pub(crate) blocks: Vec<Block>,
    pub(crate) root: BlockIndex,
    pub(crate) on_hangup: Option<BlockIndex>,
    pub(crate) report_policies: BTreeMap<String, ReportPolicy>,
    pub(crate) warnings: Vec<crate::error::Diagnostic>,
}

impl Program {
    /// The scenario's `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The scenario's `description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Warnings found while compiling (the program is valid nonetheless).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// How a variable appears in reports: the strictest `sendToReports` of any
    /// `collectInto` that writes it (`NEVER` over `MASKED` over `ALWAYS`); also applies to
    /// its `<variable>_Meaning`.
    pub fn report_policy(&self, variable: &str) -> ReportPolicy {
        let base = variable.strip_suffix("_Meaning").unwrap_or(variable);
        [variable, base]
            .iter()
            .filter_map(|name| self.report_policies.get(*name))
            .copied()
            .max()
            .unwrap_or(ReportPolicy::Always)
    }

    /// True when the scenario has an `onHangup` block (validated; not run yet).
    pub fn has_on_hangup(&self) -> bool {
        self.on_hangup.is_some()
    }

    /// Number of actions, nested ones included.
    pub fn action_count(&self) -> usize {
        self.actions.len()
    }
}

/// `options.sendToReports` of `collectInto`, ordered from least to most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum ReportPolicy {
    /// The value is reported as collected.
    #[default]
    Always,
    /// The value is reported as `****`.
    Masked,
    /// The variable is left out of reports.
    Never,
}

/// `options.voice.gender` of `say`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceGender {
    Female,
    Male,
}

/// `options.voice` of `say`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Voice {
    pub name: Option<String>,
    pub gender: Option<VoiceGender>,
}

/// `collectInto` without `maxInputLength` still ends at this many digits (Infobip's maximum).
pub(crate) const MAXIMUM_INPUT_LENGTH: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ActionIndex(pub usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct BlockIndex(pub usize);

#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub actions: Vec<ActionIndex>,
    /// The action whose `then`/`case`/`do`/... this block is; `None` for top-level blocks.
    pub owner: Option<ActionIndex>,
}

#[derive(Debug, Clone)]
pub(crate) struct Action {
    /// JSON path, for notes and diagnostics.
    pub path: String,
    pub action_id: Option<String>,
    pub kind: ActionKind,
    pub block: BlockIndex,
    pub position: usize,
}

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
    /// Only while compiling: the placeholder of an action with errors. A built [`Program`]
    /// never contains it.
    Invalid,
    /// Parsed and validated, but the runtime cannot perform it yet: noted and skipped.
    Unsupported {
        action: &'static str,
    },
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

/// Why `source` (a rendered `playFromUrl`) cannot be played, or `None` when it can.
///
/// A source is either an `http://` / `https://` URL (the engine fetches it) or a path
/// relative to the configured sounds directory (`demo-welcome.wav`, `menus/main.wav`); an
/// absolute path, a `..` segment or another URL scheme would reach outside it and is refused.
pub fn prompt_source_problem(source: &str) -> Option<&'static str> {
    let lowered = source.to_ascii_lowercase();
    if source.trim().is_empty() {
        return Some("is empty");
    }
    if source.chars().any(char::is_control) {
        return Some("contains control characters");
    }
    if let Some(rest) = lowered
        .strip_prefix("https://")
        .or_else(|| lowered.strip_prefix("http://"))
    {
        return rest.is_empty().then_some("is a URL without a host");
    }
    if lowered.contains("://") {
        return Some("is a URL, but only http:// and https:// are supported");
    }
    let drive_letter = source.as_bytes().get(1) == Some(&b':');
    if source.starts_with(['/', '\\']) || drive_letter {
        return Some("must be a file name relative to the sounds directory");
    }
    if source.split(['/', '\\']).any(|segment| segment == "..") {
        return Some("must not leave the sounds directory (`..`)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prompt_source_problem;

    #[test]
    fn prompt_sources() {
        for good in [
            "demo-welcome.wav",
            "menus/main.wav",
            "https://example.com/a.mp3",
            "HTTP://x/y",
        ] {
            assert_eq!(prompt_source_problem(good), None, "{good}");
        }
        for bad in [
            "",
            " ",
            "/etc/passwd",
            "..\\x.wav",
            "a/../../b.wav",
            "C:\\x.wav",
            "ftp://x/y",
            "https://",
            "a\nb",
        ] {
            assert!(prompt_source_problem(bad).is_some(), "{bad:?}");
        }
    }
}
