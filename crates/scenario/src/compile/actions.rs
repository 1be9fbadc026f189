//! Compilers for the leaf actions: prompts, input, variables, `goTo`, `pause`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::reader::{self, ObjectReader};
use super::{Compiler, PendingGoTo, writable_variable};
use crate::expression::Template;
use crate::program::{
    ActionIndex, ActionKind, Collect, GoTo, MAXIMUM_INPUT_LENGTH, Play, ReportPolicy, Say, Voice,
    VoiceGender, prompt_source_problem,
};

/// Infobip's default and maximum: seconds to wait for the first and for each further digit.
const DEFAULT_COLLECT_TIMEOUT_SECONDS: i64 = 5;
const MAXIMUM_COLLECT_TIMEOUT_SECONDS: i64 = 30;
/// `goToLimit` when none is given: the largest allowed value.
const DEFAULT_GO_TO_LIMIT: i64 = 100;
const MAXIMUM_PAUSE_SECONDS: f64 = 5.0;

/// The `options` object of an action, if present and an object.
fn options<'a>(compiler: &mut Compiler, object: &mut ObjectReader<'a>) -> Option<ObjectReader<'a>> {
    let (value, path) = object.get("options")?;
    let map = reader::object(&mut compiler.diagnostics, &path, value)?;
    Some(ObjectReader::new(map, path))
}

pub(super) fn play(compiler: &mut Compiler, object: &mut ObjectReader<'_>) -> Option<ActionKind> {
    let (value, path) = object.get("playFromUrl")?;
    let diagnostics = &mut compiler.diagnostics;
    let source = reader::template(diagnostics, &path, value);
    if let Some(source) = source.as_ref().filter(|source| source.is_constant()) {
        let text = source.render(&BTreeMap::new()).unwrap_or_default();
        if let Some(problem) = prompt_source_problem(&text) {
            diagnostics.error(&path, format!("{text:?} {problem}"));
        }
    }
    let mut play = Play {
        source: source.unwrap_or_else(|| Template::literal("")),
        barge_in: false,
        loop_count: 1,
        pause_after: Duration::ZERO,
    };
    if let Some(mut options) = options(compiler, object) {
        let diagnostics = &mut compiler.diagnostics;
        if let Some((value, path)) = options.get("bargeIn") {
            play.barge_in = reader::boolean(diagnostics, &path, value).unwrap_or(false);
        }
        if let Some((value, path)) = options.get("loop") {
            let count = reader::integer(diagnostics, &path, value, 1, 100);
            play.loop_count = count
                .and_then(|count| u32::try_from(count).ok())
                .unwrap_or(1);
        }
        if let Some((value, path)) = options.get("pause") {
            let seconds = reader::number(diagnostics, &path, value, 0.0, MAXIMUM_PAUSE_SECONDS);
            play.pause_after = Duration::from_secs_f64(seconds.unwrap_or(0.0));
        }
        options.finish(diagnostics);
    }
    Some(ActionKind::Play(play))
}

pub(super) fn say(compiler: &mut Compiler, object: &mut ObjectReader<'_>) -> Option<ActionKind> {
    let (value, path) = object.get("say")?;
    let text = reader::template(&mut compiler.diagnostics, &path, value);
    let mut say = Say {
        text: Template::literal(""),
        language: None,
        voice: None,
        speech_rate: 1.0,
        barge_in: false,
    };
    if let Some(mut options) = options(compiler, object) {
        let diagnostics = &mut compiler.diagnostics;
        if let Some((value, path)) = options.get("language") {
            say.language = reader::non_empty_string(diagnostics, &path, value).map(str::to_owned);
            if let Some(language) = say.language.as_deref()
                && !super::languages::is_known(language)
            {
                diagnostics.error(&path, super::languages::unknown(language));
            }
        }
        if let Some((value, path)) = options.get("speechRate") {
            let rate = reader::number(diagnostics, &path, value, 0.5, 2.0).unwrap_or(1.0);
            say.speech_rate = rate as f32;
        }
        if let Some((value, path)) = options.get("bargeIn") {
            say.barge_in = reader::boolean(diagnostics, &path, value).unwrap_or(false);
        }
        if let Some((value, path)) = options.get("voice")
            && let Some(map) = reader::object(diagnostics, &path, value)
        {
            let mut voice_reader = ObjectReader::new(map, path);
            let mut voice = Voice::default();
            if let Some((value, path)) = voice_reader.get("name") {
                voice.name = reader::non_empty_string(diagnostics, &path, value).map(str::to_owned);
            }
            if let Some((value, path)) = voice_reader.get("gender") {
                voice.gender = reader::string(diagnostics, &path, value).and_then(|gender| {
                    match gender.to_ascii_lowercase().as_str() {
                        "female" => Some(VoiceGender::Female),
                        "male" => Some(VoiceGender::Male),
                        _ => {
                            diagnostics.error(
                                &path,
                                format!("{gender:?} is not a gender: use \"female\" or \"male\""),
                            );
                            None
                        }
                    }
                });
            }
            voice_reader.finish(diagnostics);
            say.voice = Some(voice);
        }
        options.finish(diagnostics);
    }
    say.text = text?;
    Some(ActionKind::Say(say))
}

pub(super) fn collect(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
) -> Option<ActionKind> {
    let (value, path) = object.get("collectInto")?;
    let variable = writable_variable(&mut compiler.diagnostics, &path, value);
    let mut collect = Collect {
        variable: String::new(),
        maximum_length: None,
        timeout: Duration::from_secs(DEFAULT_COLLECT_TIMEOUT_SECONDS.unsigned_abs()),
        mapped_values: None,
    };
    let mut policy = ReportPolicy::Always;
    if let Some(mut options) = options(compiler, object) {
        let diagnostics = &mut compiler.diagnostics;
        if let Some((value, path)) = options.get("maxInputLength") {
            let maximum = MAXIMUM_INPUT_LENGTH as i64;
            collect.maximum_length = reader::integer(diagnostics, &path, value, 1, maximum)
                .and_then(|length| usize::try_from(length).ok());
        }
        if let Some((value, path)) = options.get("timeout") {
            let maximum = MAXIMUM_COLLECT_TIMEOUT_SECONDS;
            if let Some(seconds) = reader::integer(diagnostics, &path, value, 1, maximum) {
                collect.timeout = Duration::from_secs(seconds.unsigned_abs());
            }
        }
        if let Some((value, path)) = options.get("sendToReports")
            && let Some(text) = reader::string(diagnostics, &path, value)
        {
            policy = match text {
                "ALWAYS" => ReportPolicy::Always,
                "MASKED" => ReportPolicy::Masked,
                "NEVER" => ReportPolicy::Never,
                other => {
                    diagnostics.error(
                        &path,
                        format!("{other:?} is not one of \"ALWAYS\", \"MASKED\", \"NEVER\""),
                    );
                    ReportPolicy::Always
                }
            };
        }
        if let Some((value, path)) = options.get("mappedValues")
            && let Some(map) = reader::object(diagnostics, &path, value)
        {
            let mut mapped = BTreeMap::new();
            for (key, meaning) in map {
                let entry_path = path.key(key);
                if let Some(meaning) = reader::string(diagnostics, &entry_path, meaning) {
                    mapped.insert(key.clone(), meaning.to_owned());
                }
                let dtmf = |c: char| c.is_ascii_digit() || c == '*' || ('A'..='D').contains(&c);
                if key.is_empty() || !key.chars().all(dtmf) {
                    diagnostics.warning(
                        &entry_path,
                        "never matches: collected input consists of 0-9, *, A-D (# ends input)",
                    );
                } else if collect
                    .maximum_length
                    .is_some_and(|maximum| key.chars().count() > maximum)
                {
                    diagnostics.warning(&entry_path, "never matches: longer than maxInputLength");
                }
            }
            collect.mapped_values = Some(mapped);
        }
        options.finish(diagnostics);
    }
    collect.variable = variable?;
    compiler.note_report_policy(&collect.variable, policy);
    Some(ActionKind::Collect(collect))
}

pub(super) fn set_variable(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
) -> Option<ActionKind> {
    let (value, path) = object.get("setVariable")?;
    let variable = writable_variable(&mut compiler.diagnostics, &path, value);
    let diagnostics = &mut compiler.diagnostics;
    let value = object
        .required(diagnostics, "value")
        .and_then(|(value, path)| match value {
            Value::String(_) => reader::template(diagnostics, &path, value),
            Value::Number(number) => Some(Template::literal(&number.to_string())),
            Value::Bool(flag) => Some(Template::literal(&flag.to_string())),
            Value::Null => Some(Template::literal("")),
            other => {
                diagnostics.error(
                    &path,
                    format!(
                        "expected a string, number or boolean, found {}",
                        reader::describe(other)
                    ),
                );
                None
            }
        });
    Some(ActionKind::SetVariable {
        variable: variable?,
        value: value?,
    })
}

pub(super) fn go_to(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
    index: ActionIndex,
) -> Option<ActionKind> {
    let (value, path) = object.get("goTo")?;
    let target_id = match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) if number.is_i64() || number.is_u64() => Some(number.to_string()),
        other => {
            compiler.diagnostics.error(
                &path,
                format!(
                    "expected an actionId (a non-empty string or a whole number), found {}",
                    reader::describe(other)
                ),
            );
            None
        }
    };
    let mut go_to = GoTo {
        // Replaced by `checks::resolve_go_tos`; a program whose goTo stays unresolved has an
        // error and is never built.
        target: ActionIndex(usize::MAX),
        limit: DEFAULT_GO_TO_LIMIT.unsigned_abs() as u32,
        count_variable: None,
    };
    if let Some(mut options) = options(compiler, object) {
        let diagnostics = &mut compiler.diagnostics;
        if let Some((value, path)) = options.get("goToLimit")
            && let Some(limit) = reader::integer(diagnostics, &path, value, 1, 100)
        {
            go_to.limit = limit.unsigned_abs() as u32;
        }
        if let Some((value, path)) = options.get("countVariable") {
            go_to.count_variable = writable_variable(diagnostics, &path, value);
        }
        options.finish(diagnostics);
    }
    compiler.pending_go_tos.push(PendingGoTo {
        action: index,
        target_id: target_id?,
        path,
    });
    Some(ActionKind::GoTo(go_to))
}

pub(super) fn pause(compiler: &mut Compiler, object: &mut ObjectReader<'_>) -> Option<ActionKind> {
    let (value, path) = object.get("pause")?;
    let seconds = reader::number(
        &mut compiler.diagnostics,
        &path,
        value,
        0.0,
        MAXIMUM_PAUSE_SECONDS,
    )?;
    if seconds <= 0.0 {
        compiler
            .diagnostics
            .error(&path, "must be above 0 (seconds, at most 5)");
        return None;
    }
    Some(ActionKind::Pause(Duration::from_secs_f64(seconds)))
}
