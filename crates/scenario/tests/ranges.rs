//! Table-driven: every action and every option at and beyond its limits, valid and invalid.

use ivory_scenario::{CompileErrors, compile};
use serde_json::{Value, json};

/// `(action, expected)`: `""` when the action compiles, else its one error.
fn check(cases: &[(Value, &str)]) {
    let mut failures = Vec::new();
    for (action, expected) in cases {
        let text = json!({ "name": "t", "script": [action] }).to_string();
        let actual = match compile(&text) {
            Ok(_) => String::new(),
            Err(CompileErrors { errors, .. }) => errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" | "),
        };
        if actual != *expected {
            failures.push(format!(
                "{action}\n    expected: {expected:?}\n    actual:   {actual:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn play_and_say() {
    check(&[
        (
            json!({ "playFromUrl": "a.wav", "options": { "loop": 1, "pause": 0, "bargeIn": true } }),
            "",
        ),
        (
            json!({ "playFromUrl": "https://h/a.mp3", "options": { "loop": 100, "pause": 5 } }),
            "",
        ),
        (
            json!({ "playFromUrl": "a.wav", "options": { "loop": 0 } }),
            "script[0].options.loop: 0 is below the minimum 1",
        ),
        (
            json!({ "playFromUrl": "a.wav", "options": { "loop": 101 } }),
            "script[0].options.loop: 101 is above the maximum 100",
        ),
        (
            json!({ "playFromUrl": "a.wav", "options": { "pause": 5.5 } }),
            "script[0].options.pause: 5.5 is above the maximum 5",
        ),
        (
            json!({ "playFromUrl": "a.wav", "options": { "bargeIn": 1 } }),
            "script[0].options.bargeIn: expected true or false, found a number (1)",
        ),
        (
            json!({ "playFromUrl": "" }),
            "script[0].playFromUrl: \"\" is empty",
        ),
        (
            json!({ "say": "hi", "options": { "speechRate": 0.5, "language": "sv", "voice": { "name": "A", "gender": "male" } } }),
            "",
        ),
        (json!({ "say": "hi", "options": { "speechRate": 2 } }), ""),
        (
            json!({ "say": "hi", "options": { "speechRate": 0.4 } }),
            "script[0].options.speechRate: 0.4 is below the minimum 0.5",
        ),
        (
            json!({ "say": "hi", "options": { "speechRate": 2.1 } }),
            "script[0].options.speechRate: 2.1 is above the maximum 2",
        ),
        (
            json!({ "say": "hi", "options": { "language": "" } }),
            "script[0].options.language: must not be empty",
        ),
        (
            json!({ "say": "hi", "options": { "voice": { "gender": "robot" } } }),
            "script[0].options.voice.gender: \"robot\" is not a gender: use \"female\" or \"male\"",
        ),
        (
            json!({ "say": "${" }),
            "script[0].say: invalid expression: column 1: `${` is never closed by `}`",
        ),
    ]);
}

#[test]
fn collect_and_capture() {
    check(&[
        (
            json!({ "collectInto": "x", "options": { "maxInputLength": 1, "timeout": 1, "sendToReports": "ALWAYS" } }),
            "",
        ),
        (
            json!({ "collectInto": "x", "options": { "maxInputLength": 255, "timeout": 30, "sendToReports": "NEVER", "mappedValues": { "1": "a" } } }),
            "",
        ),
        (
            json!({ "collectInto": "x", "options": { "maxInputLength": 0 } }),
            "script[0].options.maxInputLength: 0 is below the minimum 1",
        ),
        (
            json!({ "collectInto": "x", "options": { "maxInputLength": 256 } }),
            "script[0].options.maxInputLength: 256 is above the maximum 255",
        ),
        (
            json!({ "collectInto": "x", "options": { "timeout": 0 } }),
            "script[0].options.timeout: 0 is below the minimum 1",
        ),
        (
            json!({ "collectInto": "x", "options": { "timeout": 31 } }),
            "script[0].options.timeout: 31 is above the maximum 30",
        ),
        (
            json!({ "collectInto": "x", "options": { "sendToReports": "masked" } }),
            "script[0].options.sendToReports: \"masked\" is not one of \"ALWAYS\", \"MASKED\", \"NEVER\"",
        ),
        (
            json!({ "collectInto": "x", "options": { "mappedValues": { "1": 2 } } }),
            "script[0].options.mappedValues[\"1\"]: expected a string, found a number (2)",
        ),
        (
            json!({ "collectInto": "callId" }),
            "script[0].collectInto: `callId` is read-only: the runtime sets it",
        ),
        (
            json!({ "capture": "s", "timeout": 1, "speechOptions": { "language": "en", "keyPhrases": ["one two three four five"], "maxSilence": 1 }, "dtmfOptions": { "maxInputLength": 1 } }),
            "",
        ),
        (
            json!({ "capture": "s", "timeout": 30, "speechOptions": { "maxSilence": 5 }, "dtmfOptions": { "maxInputLength": 255 } }),
            "",
        ),
        (
            json!({ "capture": "s", "timeout": 0 }),
            "script[0].timeout: 0 is below the minimum 1",
        ),
        (
            json!({ "capture": "s", "timeout": 31 }),
            "script[0].timeout: 31 is above the maximum 30",
        ),
        (
            json!({ "capture": "s", "speechOptions": { "maxSilence": 0 } }),
            "script[0].speechOptions.maxSilence: 0 is below the minimum 1",
        ),
        (
            json!({ "capture": "s", "speechOptions": { "maxSilence": 6 } }),
            "script[0].speechOptions.maxSilence: 6 is above the maximum 5",
        ),
        (
            json!({ "capture": "s", "speechOptions": { "keyPhrases": ["a b c d e f"] } }),
            "script[0].speechOptions.keyPhrases[0]: has 6 words; a key phrase has at most 5",
        ),
        (
            json!({ "capture": "s", "speechOptions": { "keyPhrases": [""] } }),
            "script[0].speechOptions.keyPhrases[0]: must not be empty",
        ),
        (
            json!({ "capture": "s", "speechOptions": { "language": "" } }),
            "script[0].speechOptions.language: must not be empty",
        ),
        (
            json!({ "capture": "s", "dtmfOptions": { "maxInputLength": 0 } }),
            "script[0].dtmfOptions.maxInputLength: 0 is below the minimum 1",
        ),
        (
            json!({ "capture": "s", "dtmfOptions": { "maxInputLength": 256 } }),
            "script[0].dtmfOptions.maxInputLength: 256 is above the maximum 255",
        ),
        (
            json!({ "capture": "s", "dtmfOptions": { "timeout": 2 } }),
            "script[0].dtmfOptions.timeout: unknown key `timeout`",
        ),
    ]);
}

#[test]
fn record_and_play_from_recording() {
    check(&[
        (
            json!({ "record": 1, "options": { "beep": true, "escapeDigits": "#*0A", "maxSilence": 1, "identifier": "r-${callId}" } }),
            "",
        ),
        (
            json!({ "record": 3600, "options": { "maxSilence": 30 } }),
            "",
        ),
        (json!({ "record": null }), ""),
        (
            json!({ "record": 0 }),
            "script[0].record: 0 is below the minimum 1",
        ),
        (
            json!({ "record": 3601 }),
            "script[0].record: 3601 is above the maximum 3600",
        ),
        (
            json!({ "record": 5, "options": { "maxSilence": 31 } }),
            "script[0].options.maxSilence: 31 is above the maximum 30",
        ),
        (
            json!({ "record": 5, "options": { "escapeDigits": "x" } }),
            "script[0].options.escapeDigits: \"x\" has characters that are not DTMF digits",
        ),
        (
            json!({ "record": 5, "options": { "beep": "yes" } }),
            "script[0].options.beep: expected true or false, found a string",
        ),
        (json!({ "playFromRecording": null }), ""),
        (json!({ "playFromRecording": 1 }), ""),
        (json!({ "playFromRecording": "rec-1" }), ""),
        (
            json!({ "playFromRecording": 0 }),
            "script[0].playFromRecording: 0 is below the minimum 1",
        ),
        (
            json!({ "playFromRecording": "" }),
            "script[0].playFromRecording: must not be empty",
        ),
    ]);
}

#[test]
fn dial_and_dial_to_many() {
    check(&[
        (
            json!({ "dial": "+4670", "options": { "senderId": "x", "ringTimeout": 1, "maxCallDuration": 1 } }),
            "",
        ),
        (
            json!({ "dial": "${to}", "options": { "ringTimeout": 300, "maxCallDuration": 86400 } }),
            "",
        ),
        (json!({ "dial": "" }), "script[0].dial: must not be empty"),
        (
            json!({ "dial": "1", "options": { "ringTimeout": 0 } }),
            "script[0].options.ringTimeout: 0 is below the minimum 1",
        ),
        (
            json!({ "dial": "1", "options": { "ringTimeout": 301 } }),
            "script[0].options.ringTimeout: 301 is above the maximum 300",
        ),
        (
            json!({ "dial": "1", "options": { "maxCallDuration": 86401 } }),
            "script[0].options.maxCallDuration: 86401 is above the maximum 86400",
        ),
        (
            json!({ "dial": "1", "options": { "parallel": true } }),
            "script[0].options.parallel: unknown key `parallel`",
        ),
        (
            json!({ "dialToMany": [ { "number": "1" }, { "number": "2" } ], "options": { "parallel": true, "ringTimeout": 10 } }),
            "",
        ),
        (
            json!({ "dialToMany": [] }),
            "script[0].dialToMany: needs at least one destination",
        ),
        (
            json!({ "dialToMany": [ { "number": "" } ] }),
            "script[0].dialToMany[0].number: must not be empty",
        ),
        (
            json!({ "dialToMany": [ { "number": "1" } ], "options": { "parallel": "yes" } }),
            "script[0].options.parallel: expected true or false, found a string",
        ),
        (json!("machineDetection"), ""),
    ]);
}

#[test]
fn request_and_send_sms() {
    check(&[
        (json!({ "request": "https://h/x" }), ""),
        (
            json!({ "request": "http://h/${x}", "options": { "method": "post", "headers": { "X-Key": "${k}" },
            "body": { "a": ["${b}", 1, null] }, "collectResponse": true, "timeout": 1 } }),
            "",
        ),
        (
            json!({ "request": "https://h", "options": { "method": "HEAD", "body": "raw ${x}", "timeout": 60 } }),
            "",
        ),
        (
            json!({ "request": "ftp://h" }),
            "script[0].request: must be an http:// or https:// URL",
        ),
        (
            json!({ "request": "https://h", "options": { "method": "FETCH" } }),
            "script[0].options.method: \"FETCH\" is not one of GET, POST, PUT, PATCH, DELETE, HEAD",
        ),
        (
            json!({ "request": "https://h", "options": { "headers": { "bad name": "x" } } }),
            "script[0].options.headers[\"bad name\"]: \"bad name\" is not a header name",
        ),
        (
            json!({ "request": "https://h", "options": { "headers": { "X": 1 } } }),
            "script[0].options.headers.X: expected a string, found a number (1)",
        ),
        (
            json!({ "request": "https://h", "options": { "timeout": 0 } }),
            "script[0].options.timeout: 0 is below the minimum 1",
        ),
        (
            json!({ "request": "https://h", "options": { "timeout": 61 } }),
            "script[0].options.timeout: 61 is above the maximum 60",
        ),
        (
            json!({ "request": "https://h", "options": { "collectResponse": "yes" } }),
            "script[0].options.collectResponse: expected true or false, found a string",
        ),
        (
            json!({ "request": "https://h", "options": { "body": { "a": "${" } } }),
            "script[0].options.body.a: invalid expression: column 1: `${` is never closed by `}`",
        ),
        (
            json!({ "sendSms": { "from": "ivory", "to": "${from}", "text": "hi" } }),
            "",
        ),
        (
            json!({ "sendSms": { "text": "hi" } }),
            "script[0].sendSms: missing required key `to`",
        ),
        (
            json!({ "sendSms": { "to": "1", "text": "" } }),
            "script[0].sendSms.text: must not be empty",
        ),
        (
            json!({ "sendSms": { "to": "1", "text": "x", "flash": true } }),
            "script[0].sendSms.flash: unknown key `flash`",
        ),
        (
            json!({ "sendSms": "hi" }),
            "script[0].sendSms: expected an object, found a string",
        ),
    ]);
}

#[test]
fn variables_jumps_pauses_and_loops() {
    check(&[
        (json!({ "setVariable": "a", "value": 1 }), ""),
        (json!({ "setVariable": "a.b_c", "value": null }), ""),
        (
            json!({ "setVariable": "a", "value": {} }),
            "script[0].value: expected a string, number or boolean, found an object",
        ),
        (
            json!({ "setVariable": "startTime", "value": "x" }),
            "script[0].setVariable: `startTime` is read-only: the runtime sets it",
        ),
        (
            json!({ "actionId": "a", "goTo": "a", "options": { "goToLimit": 1, "countVariable": "n" } }),
            "",
        ),
        (
            json!({ "actionId": "a", "goTo": "a", "options": { "goToLimit": 100 } }),
            "",
        ),
        (
            json!({ "actionId": "a", "goTo": "a", "options": { "goToLimit": 0 } }),
            "script[0].options.goToLimit: 0 is below the minimum 1",
        ),
        (
            json!({ "actionId": "a", "goTo": "a", "options": { "goToLimit": 101 } }),
            "script[0].options.goToLimit: 101 is above the maximum 100",
        ),
        (json!({ "pause": 0.1 }), ""),
        (json!({ "pause": 5 }), ""),
        (
            json!({ "pause": 0 }),
            "script[0].pause: must be above 0 (seconds, at most 5)",
        ),
        (
            json!({ "pause": 5.1 }),
            "script[0].pause: 5.1 is above the maximum 5",
        ),
        (
            json!({ "pause": "1" }),
            "script[0].pause: expected a number, found a string",
        ),
        (
            json!({ "for-each": "i", "in": "a;b", "delimiter": ";", "do": [] }),
            "",
        ),
        (
            json!({ "for-each": "i", "in": "a", "delimiter": "", "do": [] }),
            "script[0].delimiter: must not be empty",
        ),
        (json!({ "while": "${x}", "do": [] }), ""),
        (json!({ "repeat": [], "until": "${x}" }), ""),
        (json!({ "repeat": [], "while": "${x}" }), ""),
        (json!({ "if": "${x}", "then": [], "else": [] }), ""),
        (
            json!({ "switch": "${x}", "case": { "1": [], "__default": [] } }),
            "",
        ),
    ]);
}

#[test]
fn elks_ivr() {
    check(&[
        (
            json!({ "ivr": "m.wav", "digits": 1, "timeout": 1, "repeat": 1, "next": "https://h/n" }),
            "",
        ),
        (
            json!({ "ivr": "https://h/m.mp3", "digits": 255, "timeout": 30, "repeat": 10, "1": { "say": "x" },
            "2": "https://h/2", "3": [ { "say": "y" }, "hangup" ], "4": "hangup" }),
            "",
        ),
        (
            json!({ "ivr": "m.wav", "timeout": 31, "next": "https://h" }),
            "",
        ),
        (
            json!({ "ivr": "m.wav", "timeout": "5", "next": "https://h" }),
            "script[0].timeout: expected a whole number, found a string",
        ),
        (
            json!({ "ivr": "m.wav", "digits": 0, "next": "https://h" }),
            "script[0].digits: 0 is below the minimum 1",
        ),
        (
            json!({ "ivr": "m.wav", "digits": 256, "next": "https://h" }),
            "script[0].digits: 256 is above the maximum 255",
        ),
        (
            json!({ "ivr": "m.wav", "repeat": 0, "next": "https://h" }),
            "script[0].repeat: 0 is below the minimum 1",
        ),
        (
            json!({ "ivr": "m.wav", "repeat": 11, "next": "https://h" }),
            "script[0].repeat: 11 is above the maximum 10",
        ),
        (
            json!({ "ivr": "m.wav", "next": "ftp://h" }),
            "script[0].next: expected an http:// or https:// URL (or an action, or a list of actions)",
        ),
        (
            json!({ "ivr": "m.wav", "1": 5 }),
            "script[0][\"1\"]: expected an action, a list of actions or an http(s) URL, found a number (5)",
        ),
        (
            json!({ "ivr": "m.wav", "1": { "dance": 1 } }),
            "script[0][\"1\"]: unknown action: none of its keys (dance) names an action",
        ),
        (
            json!({ "ivr": "m.wav", "x": "https://h" }),
            "script[0].x: unknown key `x`",
        ),
        (
            json!({ "ivr": "../m.wav", "next": "https://h" }),
            "script[0].ivr: \"../m.wav\" must not leave the sounds directory (`..`)",
        ),
    ]);
}
