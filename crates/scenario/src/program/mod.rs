//! The compiled, validated form of a scenario that [`Run`](crate::Run) executes.
//!
//! Actions and blocks live in two flat arenas indexed by [`ActionIndex`] and [`BlockIndex`]:
//! a block lists its actions in order and knows the action that owns it (the `if`, `switch`
//! or loop), and every action knows its block and position. That is all a `goTo` needs to
//! rebuild the stack of blocks leading to its target, wherever it is.

mod kinds;
mod speech_needs;

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Diagnostic;
pub use kinds::HttpMethod;
pub(crate) use kinds::{
    ActionKind, Capture, Collect, Dial, GoTo, Ivr, IvrChoice, JsonTemplate, Play, Record,
    RecordingReference, Request, Say,
};
pub use speech_needs::ConstantSay;

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

    /// True when the scenario has an `onHangup` block, run after the caller hangs up.
    pub fn has_on_hangup(&self) -> bool {
        self.on_hangup.is_some()
    }

    /// Number of actions, nested ones (and `onHangup`'s) included.
    pub fn action_count(&self) -> usize {
        self.actions.len()
    }

    /// The blocks to be in, outermost first, and the position to go on from in each, so
    /// that `target` runs next: what a `goTo` rebuilds.
    pub(crate) fn path_to(&self, target: ActionIndex) -> Vec<(BlockIndex, usize)> {
        let mut path = Vec::new();
        let mut current = target;
        let mut next = self.actions[target.0].position;
        loop {
            let action = &self.actions[current.0];
            path.push((action.block, next));
            match self.blocks[action.block.0].owner {
                Some(owner) => {
                    current = owner;
                    next = self.actions[owner.0].position + 1;
                }
                None => break,
            }
        }
        path.reverse();
        path
    }

    /// The names of the actions the scenario uses, as written in JSON (`"say"`,
    /// `"playFromUrl"`, `"collectInto"`, `"dialToMany"`, `"hangup"`, `"ivr"`, ...),
    /// `onHangup`'s included. Actions fetched at run time (46elks `next`) are not known here.
    pub fn action_names(&self) -> BTreeSet<&'static str> {
        self.actions
            .iter()
            .map(|action| action.kind.name())
            .collect()
    }

    /// True when the scenario uses the action named `name` (see [`action_names`](Self::action_names)).
    pub fn uses_action(&self, name: &str) -> bool {
        self.actions.iter().any(|action| action.kind.name() == name)
    }

    /// True when the scenario speaks with text-to-speech (`say`).
    pub fn uses_say(&self) -> bool {
        self.uses_action("say")
    }

    /// The prompt sources the scenario names without `${...}` (`playFromUrl` and 46elks
    /// `ivr` prompts), sorted and without duplicates: files under the sounds directory and
    /// http(s) URLs, for cache warming. Sources with `${...}` are only known at run time.
    pub fn prompt_sources(&self) -> Vec<String> {
        let sources: BTreeSet<String> = self
            .actions
            .iter()
            .filter_map(|action| match &action.kind {
                ActionKind::Play(play) => Some(&play.source),
                ActionKind::Ivr(ivr) => Some(&ivr.prompt),
                _ => None,
            })
            .filter(|source| source.is_constant())
            .filter_map(|source| source.render(&BTreeMap::new()).ok())
            .collect();
        sources.into_iter().collect()
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

/// Variables the runtime sets for external actions (see the crate docs).
pub(crate) mod set_by_runtime {
    pub const DIAL_STATUS: &str = "dialStatus";
    pub const DIAL_SIP_CODE: &str = "dialSipCode";
    pub const MACHINE_ANSWERED: &str = "machineAnswered";
    pub const API_STATUS: &str = "__apiResponseStatusCode";
    pub const API_TIMESTAMP: &str = "__callApiCurrentTimestamp";
    pub const API_ERROR: &str = "__apiResponseError";
    /// Suffix of the variable that holds a `capture`'s whole transcript.
    pub const FULL_SUFFIX: &str = "_Full";
    /// Suffix of the variable that holds a `collectInto`'s `mappedValues` meaning.
    pub const MEANING_SUFFIX: &str = "_Meaning";
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
