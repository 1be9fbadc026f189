//! Compilers for the actions that need the outside world: `capture`, `record`,
//! `playFromRecording`, `dial`, `dialToMany`, `request`, `sendSms`. At run time each becomes
//! one [`Command`](crate::Command) and waits for one completion event.

use std::time::Duration;

use serde_json::Value;

use super::reader::{self, Diagnostics, JsonPath, ObjectReader};
use super::{Compiler, writable_variable};
use crate::expression::Template;
use crate::program::{
    ActionKind, Capture, Dial, HttpMethod, JsonTemplate, Record, RecordingReference, Request,
};

/// `capture`: seconds to wait for speech (Infobip: 1–30).
const CAPTURE_TIMEOUT: (i64, i64, u64) = (1, 30, 10);
/// `capture` `speechOptions.maxSilence`: seconds of silence that end an utterance.
const CAPTURE_MAXIMUM_SILENCE: (i64, i64, u64) = (1, 5, 3);
/// A key phrase has at most this many words.
const MAXIMUM_KEY_PHRASE_WORDS: usize = 5;
/// `record`: the longest recording, in seconds.
const MAXIMUM_RECORD_SECONDS: i64 = 3_600;
const MAXIMUM_RECORD_SILENCE_SECONDS: i64 = 30;
/// `dial` / `dialToMany` `ringTimeout` (seconds) and its default.
const RING_TIMEOUT: (i64, i64, u64) = (1, 300, 30);
const MAXIMUM_CALL_DURATION_SECONDS: i64 = 86_400;
/// `request` `options.timeout` (an ivory extension), seconds.
pub(crate) const REQUEST_TIMEOUT: (i64, i64, u64) = (1, 60, 10);

pub(super) fn options<'a>(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'a>,
) -> Option<ObjectReader<'a>> {
    let (value, path) = object.get("options")?;
    let map = reader::object(diagnostics, &path, value)?;
    Some(ObjectReader::new(map, path))
}

/// An optional whole number of seconds within `minimum..=maximum`.
fn seconds(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'_>,
    key: &'static str,
    minimum: i64,
    maximum: i64,
) -> Option<Duration> {
    let (value, path) = object.get(key)?;
    let seconds = reader::integer(diagnostics, &path, value, minimum, maximum)?;
    Some(Duration::from_secs(seconds.unsigned_abs()))
}

fn boolean(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'_>,
    key: &'static str,
) -> bool {
    object
        .get(key)
        .and_then(|(value, path)| reader::boolean(diagnostics, &path, value))
        .unwrap_or(false)
}

fn template(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'_>,
    key: &'static str,
) -> Option<Template> {
    let (value, path) = object.get(key)?;
    reader::template(diagnostics, &path, value)
}

pub(super) fn capture(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
) -> Option<ActionKind> {
    let (value, path) = object.get("capture")?;
    let diagnostics = &mut compiler.diagnostics;
    let variable = writable_variable(diagnostics, &path, value);
    let (minimum, maximum, default) = CAPTURE_TIMEOUT;
    let (silence_minimum, silence_maximum, silence_default) = CAPTURE_MAXIMUM_SILENCE;
    let mut capture = Capture {
        variable: String::new(),
        timeout: seconds(diagnostics, object, "timeout", minimum, maximum)
            .unwrap_or(Duration::from_secs(default)),
        language: None,
        key_phrases: Vec::new(),
        maximum_silence: Duration::from_secs(silence_default),
        dtmf_maximum_length: None,
    };
    if let Some((value, path)) = object.get("speechOptions")
        && let Some(map) = reader::object(diagnostics, &path, value)
    {
        let mut speech = ObjectReader::new(map, path);
        if let Some((value, path)) = speech.get("language") {
            capture.language =
                reader::non_empty_string(diagnostics, &path, value).map(str::to_owned);
            if let Some(language) = capture.language.as_deref()
                && !super::languages::is_known(language)
            {
                diagnostics.error(&path, super::languages::unknown(language));
            }
        }
        if let Some((value, path)) = speech.get("keyPhrases")
            && let Some(phrases) = reader::array(diagnostics, &path, value)
        {
            for (index, phrase) in phrases.iter().enumerate() {
                let phrase_path = path.index(index);
                let Some(text) = reader::non_empty_string(diagnostics, &phrase_path, phrase) else {
                    continue;
                };
                let words = text.split_whitespace().count();
                if words > MAXIMUM_KEY_PHRASE_WORDS {
                    diagnostics.error(
                        &phrase_path,
                        format!(
                            "has {words} words; a key phrase has at most {MAXIMUM_KEY_PHRASE_WORDS}"
                        ),
                    );
                } else {
                    capture.key_phrases.push(text.to_owned());
                }
            }
        }
        if let Some(silence) = seconds(
            diagnostics,
            &mut speech,
            "maxSilence",
            silence_minimum,
            silence_maximum,
        ) {
            capture.maximum_silence = silence;
        }
        speech.finish(diagnostics);
    }
    if let Some((value, path)) = object.get("dtmfOptions")
        && let Some(map) = reader::object(diagnostics, &path, value)
    {
        let mut dtmf = ObjectReader::new(map, path);
        if let Some((value, path)) = dtmf.get("maxInputLength") {
            capture.dtmf_maximum_length = reader::integer(diagnostics, &path, value, 1, 255)
                .and_then(|length| usize::try_from(length).ok());
        }
        dtmf.finish(diagnostics);
    }
    capture.variable = variable?;
    Some(ActionKind::Capture(capture))
}

pub(super) fn record(compiler: &mut Compiler, object: &mut ObjectReader<'_>) -> Option<ActionKind> {
    let (value, path) = object.get("record")?;
    let diagnostics = &mut compiler.diagnostics;
    let mut record = Record {
        maximum_duration: None,
        beep: false,
        escape_digits: String::new(),
        maximum_silence: None,
        identifier: None,
    };
    let mut valid = true;
    if !value.is_null() {
        let seconds = reader::integer(diagnostics, &path, value, 1, MAXIMUM_RECORD_SECONDS);
        valid = seconds.is_some();
        record.maximum_duration =
            seconds.map(|seconds| Duration::from_secs(seconds.unsigned_abs()));
    }
    if let Some(mut options) = options(diagnostics, object) {
        record.beep = boolean(diagnostics, &mut options, "beep");
        if let Some((value, path)) = options.get("escapeDigits")
            && let Some(digits) = reader::string(diagnostics, &path, value)
        {
            if digits
                .chars()
                .all(|c| c.is_ascii_digit() || "*#ABCD".contains(c))
            {
                record.escape_digits = digits.to_owned();
            } else {
                diagnostics.error(
                    &path,
                    format!("{digits:?} has characters that are not DTMF digits"),
                );
            }
        }
        record.maximum_silence = seconds(
            diagnostics,
            &mut options,
            "maxSilence",
            1,
            MAXIMUM_RECORD_SILENCE_SECONDS,
        );
        record.identifier = template(diagnostics, &mut options, "identifier");
        options.finish(diagnostics);
    }
    valid.then_some(ActionKind::Record(record))
}

pub(super) fn play_recording(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
) -> Option<ActionKind> {
    let (value, path) = object.get("playFromRecording")?;
    let diagnostics = &mut compiler.diagnostics;
    let reference = match value {
        Value::Null => RecordingReference::Last,
        Value::String(_) => {
            reader::non_empty_string(diagnostics, &path, value)?;
            RecordingReference::Identifier(reader::template(diagnostics, &path, value)?)
        }
        Value::Number(_) => {
            let number = reader::integer(diagnostics, &path, value, 1, i64::from(u32::MAX))?;
            RecordingReference::Number(usize::try_from(number).ok()?)
        }
        other => {
            diagnostics.error(
                &path,
                format!(
                    "expected null (the last recording), a number (1 is this call's first \
                     recording) or an identifier, found {}",
                    reader::describe(other)
                ),
            );
            return None;
        }
    };
    Some(ActionKind::PlayRecording(reference))
}

/// Options shared by `dial` and `dialToMany`.
fn dial_options(diagnostics: &mut Diagnostics, object: &mut ObjectReader<'_>, dial: &mut Dial) {
    let Some(mut options) = options(diagnostics, object) else {
        return;
    };
    if dial.many {
        dial.parallel = boolean(diagnostics, &mut options, "parallel");
    }
    dial.sender_id = template(diagnostics, &mut options, "senderId");
    dial.maximum_call_duration = seconds(
        diagnostics,
        &mut options,
        "maxCallDuration",
        1,
        MAXIMUM_CALL_DURATION_SECONDS,
    );
    let (minimum, maximum, _) = RING_TIMEOUT;
    if let Some(ring) = seconds(diagnostics, &mut options, "ringTimeout", minimum, maximum) {
        dial.ring_timeout = ring;
    }
    options.finish(diagnostics);
}

fn new_dial(many: bool) -> Dial {
    Dial {
        destinations: Vec::new(),
        many,
        parallel: false,
        sender_id: None,
        ring_timeout: Duration::from_secs(RING_TIMEOUT.2),
        maximum_call_duration: None,
    }
}

fn destination(diagnostics: &mut Diagnostics, path: &JsonPath, value: &Value) -> Option<Template> {
    reader::non_empty_string(diagnostics, path, value)?;
    reader::template(diagnostics, path, value)
}

pub(super) fn dial(compiler: &mut Compiler, object: &mut ObjectReader<'_>) -> Option<ActionKind> {
    let (value, path) = object.get("dial")?;
    let diagnostics = &mut compiler.diagnostics;
    let mut dial = new_dial(false);
    let number = destination(diagnostics, &path, value);
    dial_options(diagnostics, object, &mut dial);
    dial.destinations.push(number?);
    Some(ActionKind::Dial(dial))
}

pub(super) fn dial_to_many(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
) -> Option<ActionKind> {
    let (value, path) = object.get("dialToMany")?;
    let diagnostics = &mut compiler.diagnostics;
    let mut dial = new_dial(true);
    let mut valid = true;
    if let Some(items) = reader::array(diagnostics, &path, value) {
        if items.is_empty() {
            diagnostics.error(&path, "needs at least one destination");
            valid = false;
        }
        for (index, item) in items.iter().enumerate() {
            let item_path = path.index(index);
            let Some(map) = reader::object(diagnostics, &item_path, item) else {
                valid = false;
                continue;
            };
            let mut item = ObjectReader::new(map, item_path);
            match item
                .required(diagnostics, "number")
                .and_then(|(value, path)| destination(diagnostics, &path, value))
            {
                Some(number) => dial.destinations.push(number),
                None => valid = false,
            }
            item.finish(diagnostics);
        }
    } else {
        valid = false;
    }
    dial_options(diagnostics, object, &mut dial);
    valid.then_some(ActionKind::Dial(dial))
}

pub(super) fn request(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
) -> Option<ActionKind> {
    let (value, path) = object.get("request")?;
    let diagnostics = &mut compiler.diagnostics;
    let url = reader::template(diagnostics, &path, value);
    if let Some(url) = url.as_ref().filter(|url| url.is_constant())
        && !is_http_url(url.source())
    {
        diagnostics.error(&path, "must be an http:// or https:// URL");
    }
    let (minimum, maximum, default) = REQUEST_TIMEOUT;
    let mut request = Request {
        url: Template::literal(""),
        method: HttpMethod::Get,
        headers: Vec::new(),
        body: None,
        collect_response: false,
        timeout: Duration::from_secs(default),
    };
    if let Some(mut options) = options(diagnostics, object) {
        if let Some((value, path)) = options.get("method")
            && let Some(method) = reader::string(diagnostics, &path, value)
        {
            match HttpMethod::ALL
                .into_iter()
                .find(|known| known.as_str().eq_ignore_ascii_case(method))
            {
                Some(known) => request.method = known,
                None => {
                    let names: Vec<&str> = HttpMethod::ALL.iter().map(|m| m.as_str()).collect();
                    diagnostics.error(
                        &path,
                        format!("{method:?} is not one of {}", names.join(", ")),
                    );
                }
            }
        }
        if let Some((value, path)) = options.get("headers")
            && let Some(map) = reader::object(diagnostics, &path, value)
        {
            for (name, header) in map {
                let header_path = path.key(name);
                let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
                if name.is_empty() || !name.chars().all(token) {
                    diagnostics.error(&header_path, format!("{name:?} is not a header name"));
                } else if let Some(template) = reader::template(diagnostics, &header_path, header) {
                    request.headers.push((name.clone(), template));
                }
            }
        }
        if let Some((value, path)) = options.get("body") {
            request.body = json_template(diagnostics, &path, value);
        }
        request.collect_response = boolean(diagnostics, &mut options, "collectResponse");
        if let Some(timeout) = seconds(diagnostics, &mut options, "timeout", minimum, maximum) {
            request.timeout = timeout;
        }
        options.finish(diagnostics);
    }
    request.url = url?;
    Some(ActionKind::Request(request))
}

pub(crate) fn is_http_url(text: &str) -> bool {
    let lowered = text.to_ascii_lowercase();
    ["http://", "https://"].iter().any(|scheme| {
        lowered
            .strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    })
}

/// A `body`: strings interpolate, the rest is kept as written.
fn json_template(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    value: &Value,
) -> Option<JsonTemplate> {
    Some(match value {
        Value::String(_) => JsonTemplate::Text(reader::template(diagnostics, path, value)?),
        Value::Array(items) => JsonTemplate::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| json_template(diagnostics, &path.index(index), item))
                .collect::<Option<_>>()?,
        ),
        Value::Object(map) => JsonTemplate::Object(
            map.iter()
                .map(|(key, item)| {
                    Some((
                        key.clone(),
                        json_template(diagnostics, &path.key(key), item)?,
                    ))
                })
                .collect::<Option<_>>()?,
        ),
        other => JsonTemplate::Value(other.clone()),
    })
}

pub(super) fn send_sms(
    compiler: &mut Compiler,
    object: &mut ObjectReader<'_>,
) -> Option<ActionKind> {
    let (value, path) = object.get("sendSms")?;
    let diagnostics = &mut compiler.diagnostics;
    let map = reader::object(diagnostics, &path, value)?;
    let mut sms = ObjectReader::new(map, path);
    let from = template(diagnostics, &mut sms, "from");
    let mut required = |key: &'static str, sms: &mut ObjectReader<'_>| {
        let (value, path) = sms.required(diagnostics, key)?;
        reader::non_empty_string(diagnostics, &path, value)?;
        reader::template(diagnostics, &path, value)
    };
    let to = required("to", &mut sms);
    let text = required("text", &mut sms);
    sms.finish(diagnostics);
    Some(ActionKind::SendSms {
        from,
        to: to?,
        text: text?,
    })
}
