//! Actions of the language that the runtime cannot perform yet. They are validated as
//! strictly as the others (so a scenario that loads today still loads when they are
//! implemented), compile to [`ActionKind::Unsupported`] and are noted and skipped at run time.

use serde_json::Value;

use super::reader::{self, Diagnostics, JsonPath, ObjectReader};
use super::{Compiler, writable_variable};
use crate::program::ActionKind;

pub(super) const NOT_YET: &str =
    "not supported yet: validated, then noted in the call log and skipped at run time";

const HTTP_METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
/// The digit keys of a 46elks `ivr` action.
const IVR_DIGIT_KEYS: [&str; 12] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"];

pub(super) fn action(
    compiler: &mut Compiler,
    head: &'static str,
    object: &mut ObjectReader<'_>,
) -> Option<ActionKind> {
    let (value, path) = object.get(head)?;
    let diagnostics = &mut compiler.diagnostics;
    match head {
        "capture" => capture(diagnostics, object, &path, value),
        "record" => record(diagnostics, object, &path, value),
        "dial" => {
            reader::template(diagnostics, &path, value);
            dial_options(diagnostics, object);
        }
        "dialToMany" => dial_to_many(diagnostics, object, &path, value),
        "request" => request(diagnostics, object, &path, value),
        "sendSms" => send_sms(diagnostics, &path, value),
        "playFromRecording" => match value {
            Value::Null | Value::String(_) => {}
            Value::Number(number) if number.is_u64() => {}
            other => diagnostics.error(
                &path,
                format!(
                    "expected null (the last recording), an index or an identifier, found {}",
                    reader::describe(other)
                ),
            ),
        },
        "ivr" => elks_ivr(diagnostics, object, &path, value),
        // `action_head` only yields heads that are handled somewhere.
        _ => return None,
    }
    diagnostics.warning(&path, NOT_YET);
    Some(ActionKind::Unsupported { action: head })
}

fn options<'a>(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'a>,
) -> Option<ObjectReader<'a>> {
    let (value, path) = object.get("options")?;
    let map = reader::object(diagnostics, &path, value)?;
    Some(ObjectReader::new(map, path))
}

fn integer_key(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'_>,
    key: &'static str,
    minimum: i64,
    maximum: i64,
) {
    if let Some((value, path)) = object.get(key) {
        reader::integer(diagnostics, &path, value, minimum, maximum);
    }
}

fn boolean_key(diagnostics: &mut Diagnostics, object: &mut ObjectReader<'_>, key: &'static str) {
    if let Some((value, path)) = object.get(key) {
        reader::boolean(diagnostics, &path, value);
    }
}

fn string_key(diagnostics: &mut Diagnostics, object: &mut ObjectReader<'_>, key: &'static str) {
    if let Some((value, path)) = object.get(key) {
        reader::template(diagnostics, &path, value);
    }
}

fn capture(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'_>,
    path: &JsonPath,
    value: &Value,
) {
    writable_variable(diagnostics, path, value);
    integer_key(diagnostics, object, "timeout", 1, 30);
    if let Some((value, path)) = object.get("speechOptions")
        && let Some(map) = reader::object(diagnostics, &path, value)
    {
        let mut speech = ObjectReader::new(map, path);
        if let Some((value, path)) = speech.get("language") {
            reader::non_empty_string(diagnostics, &path, value);
        }
        if let Some((value, path)) = speech.get("keyPhrases")
            && let Some(phrases) = reader::array(diagnostics, &path, value)
        {
            for (index, phrase) in phrases.iter().enumerate() {
                reader::string(diagnostics, &path.index(index), phrase);
            }
        }
        integer_key(diagnostics, &mut speech, "maxSilence", 1, 5);
        speech.finish(diagnostics);
    }
    if let Some((value, path)) = object.get("dtmfOptions")
        && let Some(map) = reader::object(diagnostics, &path, value)
    {
        let mut dtmf = ObjectReader::new(map, path);
        integer_key(diagnostics, &mut dtmf, "maxInputLength", 1, 255);
        dtmf.finish(diagnostics);
    }
}

fn record(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'_>,
    path: &JsonPath,
    value: &Value,
) {
    if !value.is_null() {
        reader::integer(diagnostics, path, value, 1, 3600);
    }
    if let Some(mut options) = options(diagnostics, object) {
        boolean_key(diagnostics, &mut options, "beep");
        if let Some((value, path)) = options.get("escapeDigits")
            && let Some(digits) = reader::string(diagnostics, &path, value)
            && !digits
                .chars()
                .all(|c| c.is_ascii_digit() || "*#ABCD".contains(c))
        {
            diagnostics.error(
                &path,
                format!("{digits:?} has characters that are not DTMF digits"),
            );
        }
        integer_key(diagnostics, &mut options, "maxSilence", 1, 30);
        string_key(diagnostics, &mut options, "identifier");
        options.finish(diagnostics);
    }
}

fn dial_options(diagnostics: &mut Diagnostics, object: &mut ObjectReader<'_>) {
    if let Some(mut options) = options(diagnostics, object) {
        string_key(diagnostics, &mut options, "senderId");
        integer_key(diagnostics, &mut options, "maxCallDuration", 1, 86_400);
        integer_key(diagnostics, &mut options, "ringTimeout", 1, 300);
        options.finish(diagnostics);
    }
}

fn dial_to_many(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'_>,
    path: &JsonPath,
    value: &Value,
) {
    if let Some(destinations) = reader::array(diagnostics, path, value) {
        if destinations.is_empty() {
            diagnostics.error(path, "needs at least one destination");
        }
        for (index, destination) in destinations.iter().enumerate() {
            let destination_path = path.index(index);
            if let Some(map) = reader::object(diagnostics, &destination_path, destination) {
                let mut destination = ObjectReader::new(map, destination_path);
                if let Some((value, path)) = destination.required(diagnostics, "number") {
                    reader::template(diagnostics, &path, value);
                }
                destination.finish(diagnostics);
            }
        }
    }
    if let Some(mut options) = options(diagnostics, object) {
        boolean_key(diagnostics, &mut options, "parallel");
        string_key(diagnostics, &mut options, "senderId");
        integer_key(diagnostics, &mut options, "maxCallDuration", 1, 86_400);
        integer_key(diagnostics, &mut options, "ringTimeout", 1, 300);
        options.finish(diagnostics);
    }
}

fn request(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'_>,
    path: &JsonPath,
    value: &Value,
) {
    if let Some(url) = reader::template(diagnostics, path, value)
        && url.is_constant()
    {
        let lowered = url.source().to_ascii_lowercase();
        if !(lowered.starts_with("http://") || lowered.starts_with("https://")) {
            diagnostics.error(path, "must be an http:// or https:// URL");
        }
    }
    if let Some(mut options) = options(diagnostics, object) {
        if let Some((value, path)) = options.get("method")
            && let Some(method) = reader::string(diagnostics, &path, value)
            && !HTTP_METHODS.contains(&method)
        {
            diagnostics.error(
                &path,
                format!("{method:?} is not one of {}", HTTP_METHODS.join(", ")),
            );
        }
        if let Some((value, path)) = options.get("headers")
            && let Some(map) = reader::object(diagnostics, &path, value)
        {
            for (name, header) in map {
                reader::template(diagnostics, &path.key(name), header);
            }
        }
        if let Some((value, path)) = options.get("body")
            && value.is_string()
        {
            reader::template(diagnostics, &path, value);
        }
        boolean_key(diagnostics, &mut options, "collectResponse");
        options.finish(diagnostics);
    }
}

fn send_sms(diagnostics: &mut Diagnostics, path: &JsonPath, value: &Value) {
    let Some(map) = reader::object(diagnostics, path, value) else {
        return;
    };
    let mut sms = ObjectReader::new(map, path.clone());
    string_key(diagnostics, &mut sms, "from");
    for key in ["to", "text"] {
        if let Some((value, path)) = sms.required(diagnostics, key) {
            reader::template(diagnostics, &path, value);
        }
    }
    sms.finish(diagnostics);
}

/// 46elks' `ivr`: a prompt, then up to `digits` digits, per-digit actions or a `next` URL.
fn elks_ivr(
    diagnostics: &mut Diagnostics,
    object: &mut ObjectReader<'_>,
    path: &JsonPath,
    value: &Value,
) {
    reader::template(diagnostics, path, value);
    integer_key(diagnostics, object, "digits", 1, 255);
    integer_key(diagnostics, object, "timeout", 1, 30);
    integer_key(diagnostics, object, "repeat", 1, 10);
    string_key(diagnostics, object, "next");
    for key in IVR_DIGIT_KEYS {
        if let Some((value, path)) = object.get(key)
            && !(value.is_object() || value.is_string())
        {
            diagnostics.error(
                &path,
                format!(
                    "expected an action object or a URL, found {}",
                    reader::describe(value)
                ),
            );
        }
    }
}
