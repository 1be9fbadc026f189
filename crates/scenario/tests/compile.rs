//! Compile errors and warnings, each with its JSON path.

use ivory_scenario::{CompileErrors, compile};
use serde_json::{Value, json};

fn scenario(script: Value) -> String {
    json!({ "name": "test", "script": script }).to_string()
}

fn errors_of(text: &str) -> Vec<String> {
    match compile(text) {
        Ok(_) => panic!("expected errors for {text}"),
        Err(CompileErrors { errors, .. }) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn script_errors(script: Value) -> Vec<String> {
    errors_of(&scenario(script))
}

fn warnings_of(script: Value) -> Vec<String> {
    match compile(&scenario(script)) {
        Ok(program) => program.warnings().iter().map(ToString::to_string).collect(),
        Err(errors) => panic!("expected a program, got {errors}"),
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let errors = script_errors(json!([
        { "playFromUrl": "a.wav", "options": { "bargeIn": "yes" } },
        { "collectInto": "choice", "options": {
            "timeout": 45, "maxInputLength": 0, "sendToReports": "SOMETIMES", "maxInputLenght": 3 } },
        { "dance": "now" },
        { "goTo": "nowhere" },
        { "say": "hi", "actionId": "menu" },
        { "say": "again", "actionId": "menu" },
        { "if": "${choice == }", "then": [] },
        "hangup",
        { "say": "never" }
    ]));
    assert_eq!(
        errors,
        vec![
            "script[0].options.bargeIn: expected true or false, found a string",
            "script[1].options.maxInputLength: 0 is below the minimum 1",
            "script[1].options.timeout: 45 is above the maximum 30",
            "script[1].options.sendToReports: \"SOMETIMES\" is not one of \"ALWAYS\", \"MASKED\", \"NEVER\"",
            "script[1].options.maxInputLenght: unknown key `maxInputLenght` (did you mean `maxInputLength`?)",
            "script[2]: unknown action: none of its keys (dance) names an action",
            "script[5].actionId: duplicate actionId \"menu\" (first used at script[4].actionId)",
            "script[6].if: invalid expression: column 13: expected a value, found end of expression",
            "script[3].goTo: no action has actionId \"nowhere\" (known: \"menu\")",
            "script[8]: unreachable: it follows \"hangup\" at script[7]",
        ]
    );
}

#[test]
fn document_level_problems() {
    assert_eq!(
        errors_of(r#"{"description": 5, "scirpt": []}"#),
        vec![
            "missing required key `name`",
            "description: expected a string, found a number (5)",
            "missing required key `script`",
            "scirpt: unknown key `scirpt` (did you mean `script`?)",
        ]
    );
    let invalid = errors_of(r#"{"name": "x", "script": [}"#);
    assert_eq!(invalid.len(), 1);
    assert!(invalid[0].starts_with("invalid JSON: "), "{invalid:?}");
    assert!(invalid[0].contains("line 1 column 26"), "{invalid:?}");
    assert_eq!(errors_of("[]"), vec!["expected an object, found an array"]);
    assert_eq!(
        errors_of(r#"{"name": " ", "script": {}}"#),
        vec![
            "name: must not be empty",
            "script: expected an array, found an object"
        ]
    );
}

#[test]
fn infobip_metadata_is_accepted() {
    let text = r#"{"id": "abc", "name": "x", "description": "d", "createTime": "2020-01-01",
                   "updateTime": "2020-01-02", "script": ["hangup"]}"#;
    let program = compile(text).expect("valid");
    assert_eq!(program.name(), "x");
    assert_eq!(program.description(), Some("d"));
}

#[test]
fn nested_paths() {
    let errors = script_errors(json!([
        { "switch": "${choice}", "case": {
            "1": [ { "say": 5 } ],
            "__default": [ { "if": "${x}", "then": [ { "pause": 6 } ], "else": "hangup" } ]
        } }
    ]));
    assert_eq!(
        errors,
        vec![
            "script[0].case[\"1\"][0].say: expected a string, found a number (5)",
            "script[0].case.__default[0].then[0].pause: 6 is above the maximum 5",
            "script[0].case.__default[0].else: expected an array, found a string",
        ]
    );
}

#[test]
fn action_specific_checks() {
    let errors = script_errors(json!([
        { "goTo": "a", "options": { "goToLimit": 101, "countVariable": "from" } },
        { "setVariable": "1abc" },
        { "pause": 0, "actionId": "a" },
        { "say": "x", "options": { "speechRate": 3, "voice": { "gender": "robot", "age": 3 } } },
        { "say": "x", "playFromUrl": "y" },
        { "playFromUrl": "../../etc/passwd" },
        { "playFromUrl": "/abs.wav" },
        { "playFromUrl": "ftp://host/a.wav", "options": { "loop": 0, "pause": -1 } },
        "hangUp",
        { "hangup": true },
        { "collectInto": "to" },
        { "collectInto": "x", "options": { "timeout": 2.5 } },
        { "setVariable": "y", "value": [1] },
        { "goTo": 1.5 },
        { "actionId": "", "say": "x" },
        7
    ]));
    assert_eq!(
        errors,
        vec![
            "script[0].options.goToLimit: 101 is above the maximum 100",
            "script[0].options.countVariable: `from` is read-only: the runtime sets it",
            "script[1].setVariable: \"1abc\" is not a variable name (a letter or `_`, then letters, digits, `_` or `.`)",
            "script[1]: missing required key `value`",
            "script[2].pause: must be above 0 (seconds, at most 5)",
            "script[3].options.speechRate: 3 is above the maximum 2",
            "script[3].options.voice.gender: \"robot\" is not a gender: use \"female\" or \"male\"",
            "script[3].options.voice.age: unknown key `age`",
            "script[4]: ambiguous action: it has both `playFromUrl` and `say`; write one action per object",
            "script[5].playFromUrl: \"../../etc/passwd\" must not leave the sounds directory (`..`)",
            "script[6].playFromUrl: \"/abs.wav\" must be a file name relative to the sounds directory",
            "script[7].playFromUrl: \"ftp://host/a.wav\" is a URL, but only http:// and https:// are supported",
            "script[7].options.loop: 0 is below the minimum 1",
            "script[7].options.pause: -1 is below the minimum 0",
            "script[8]: unknown action \"hangUp\": the actions written as a bare string are \"hangup\" and \"machineDetection\"",
            "script[9]: unknown action: none of its keys (hangup) names an action; hangup is written as the bare string \"hangup\"",
            "script[10].collectInto: `to` is read-only: the runtime sets it",
            "script[11].options.timeout: expected a whole number, found 2.5",
            "script[12].value: expected a string, number or boolean, found an array",
            "script[13].goTo: expected an actionId (a non-empty string or a whole number), found a number (1.5)",
            "script[14].actionId: expected a non-empty string or a whole number, found a string",
            "script[15]: expected an action (an object, or \"hangup\"), found a number (7)",
        ]
    );
}

#[test]
fn numeric_action_ids_match_their_string_form() {
    let program = compile(&scenario(json!([
        { "say": "one", "actionId": 1 },
        { "goTo": "1", "options": { "goToLimit": 1 } },
        { "goTo": 1, "options": { "goToLimit": 1 } },
        "hangup"
    ])))
    .expect("valid");
    assert_eq!(program.action_count(), 4);
}

#[test]
fn actions_after_hangup_reachable_by_go_to_are_fine() {
    let text = scenario(json!([
        { "say": "menu" },
        { "if": "${x}", "then": [ { "goTo": "tail" } ] },
        "hangup",
        { "switch": "${y}", "case": { "1": [ { "say": "inner", "actionId": "tail" } ] } },
        { "say": "reached after the switch" },
        "hangup",
        { "say": "unreachable" }
    ]));
    assert_eq!(
        errors_of(&text),
        vec!["script[6]: unreachable: it follows \"hangup\" at script[5]"]
    );
    let nested = script_errors(json!([
        { "if": "${x}", "then": [ "hangup", { "say": "dead" } ] }
    ]));
    assert_eq!(
        nested,
        vec!["script[0].then[1]: unreachable: it follows \"hangup\" at script[0].then[0]"]
    );
}

#[test]
fn loops_that_cannot_end_are_refused() {
    let errors = script_errors(json!([
        { "while": "true", "do": [ { "say": "forever" } ] },
        { "repeat": [ { "say": "again" } ], "until": "false" },
        { "repeat": [], "while": "${x}", "until": "${y}" },
        { "repeat": [] },
        { "for-each": "item", "do": [], "delimiter": "" }
    ]));
    assert_eq!(
        errors,
        vec![
            "script[0].while: the loop never ends: the condition is constant and the body never hangs up",
            "script[1].until: the loop never ends: the condition is constant and the body never hangs up",
            "script[2]: has both `while` and `until`: use one of them",
            "script[3]: `repeat` needs a `while` or an `until` condition",
            "script[4]: missing required key `in`",
            "script[4].delimiter: must not be empty",
        ]
    );
    // A constant loop that can hang up is allowed, with a warning.
    let warnings = warnings_of(json!([
        { "while": "true", "do": [ { "collectInto": "x" }, { "if": "${x == 9}", "then": [ "hangup" ] } ] }
    ]));
    assert_eq!(
        warnings,
        vec!["script[0].while: the condition has no ${...}: it is always true"]
    );
}

#[test]
fn warnings_do_not_stop_compilation() {
    let warnings = warnings_of(json!([
        { "if": "yes", "then": [] },
        { "collectInto": "choice", "options": { "maxInputLength": 1,
            "mappedValues": { "1": "Sales", "12": "Both", "#": "Hash" } } },
        { "dial": "+4670000000", "options": { "ringTimeout": 30 } },
        "machineDetection"
    ]));
    assert_eq!(
        warnings,
        vec![
            "script[0].if: the condition has no ${...}: it is always true",
            "script[1].options.mappedValues[\"#\"]: never matches: collected input consists of 0-9, *, A-D (# ends input)",
            "script[1].options.mappedValues[\"12\"]: never matches: longer than maxInputLength",
        ]
    );
}

#[test]
fn external_actions_are_validated() {
    let errors = script_errors(json!([
        { "dial": "123", "options": { "ringTimeout": 0, "colour": "red" } },
        { "dialToMany": [] },
        { "dialToMany": [ { "numbr": "1" } ] },
        { "request": "ftp://x", "options": { "method": "FETCH" } },
        { "sendSms": { "to": "123" } },
        { "capture": "speech", "timeout": 31, "speechOptions": { "maxSilence": 9 } },
        { "record": 0, "options": { "escapeDigits": "12x" } },
        { "playFromRecording": true },
        { "ivr": "menu.wav", "timeout": 40, "1": 5 }
    ]));
    assert_eq!(
        errors,
        vec![
            "script[0].options.ringTimeout: 0 is below the minimum 1",
            "script[0].options.colour: unknown key `colour`",
            "script[1].dialToMany: needs at least one destination",
            "script[2].dialToMany[0]: missing required key `number`",
            "script[2].dialToMany[0].numbr: unknown key `numbr` (did you mean `number`?)",
            "script[3].request: must be an http:// or https:// URL",
            "script[3].options.method: \"FETCH\" is not one of GET, POST, PUT, PATCH, DELETE, HEAD",
            "script[4].sendSms: missing required key `text`",
            "script[5].timeout: 31 is above the maximum 30",
            "script[5].speechOptions.maxSilence: 9 is above the maximum 5",
            "script[6].record: 0 is below the minimum 1",
            "script[6].options.escapeDigits: \"12x\" has characters that are not DTMF digits",
            "script[7].playFromRecording: expected null (the last recording), a number (1 is this call's first recording) or an identifier, found a boolean (true)",
            "script[8][\"1\"]: expected an action, a list of actions or an http(s) URL, found a number (5)",
        ]
    );
}

#[test]
fn report_policies_take_the_strictest() {
    let program = compile(&scenario(json!([
        { "collectInto": "pin", "options": { "sendToReports": "MASKED" } },
        { "collectInto": "pin", "options": { "sendToReports": "ALWAYS" } },
        { "collectInto": "secret", "options": { "sendToReports": "NEVER" } },
        { "collectInto": "secret", "options": { "sendToReports": "MASKED" } },
        { "collectInto": "plain" }
    ])))
    .expect("valid");
    use ivory_scenario::ReportPolicy;
    assert_eq!(program.report_policy("pin"), ReportPolicy::Masked);
    assert_eq!(program.report_policy("pin_Meaning"), ReportPolicy::Masked);
    assert_eq!(program.report_policy("secret"), ReportPolicy::Never);
    assert_eq!(program.report_policy("plain"), ReportPolicy::Always);
    assert_eq!(program.report_policy("other"), ReportPolicy::Always);
}

#[test]
fn variables_read_but_never_set_are_warned_about() {
    let script = json!([
        { "say": "Hello ${name}, ${from}" },
        { "collectInto": "choice", "options": { "mappedValues": { "1": "one" } } },
        { "say": "${choice} ${choice_Meaning} ${tries} ${dialStatus} ${customerId}" },
        { "goTo": "x", "actionId": "x", "options": { "goToLimit": 1, "countVariable": "tries" } }
    ]);
    assert_eq!(
        warnings_of(script.clone()),
        vec![
            "script[0].say: `name` is read but never set (not by the script, not an implicit variable, not a declared parameter): it reads as \"\"",
            "script[2].say: `dialStatus` is read but never set (not by the script, not an implicit variable, not a declared parameter): it reads as \"\"",
            "script[2].say: `customerId` is read but never set (not by the script, not an implicit variable, not a declared parameter): it reads as \"\"",
        ]
    );
    // Declared launch parameters are known.
    let options = ivory_scenario::CompileOptions {
        parameters: vec!["name".to_owned(), "customerId".to_owned()],
        ..Default::default()
    };
    let program = ivory_scenario::compile_with(&scenario(script), &options).expect("valid");
    assert_eq!(program.warnings().len(), 1, "{:?}", program.warnings());
    // An API answer may set anything: no warning then.
    assert!(
        warnings_of(json!([
            { "request": "https://h/x", "options": { "collectResponse": true } },
            { "say": "${ticket}" }
        ]))
        .is_empty()
    );
}

#[test]
fn switch_cases_that_max_input_length_rules_out() {
    let warnings = warnings_of(json!([
        { "collectInto": "choice", "options": { "maxInputLength": 1 } },
        { "switch": "${choice}", "case": { "1": [], "12": [], "#": [], "": [], "*": [], "__default": [] } },
        { "collectInto": "pin" },
        { "switch": "${pin}", "case": { "1234": [], "12#": [] } },
        { "setVariable": "free", "value": "${pin}" },
        { "collectInto": "free", "options": { "maxInputLength": 1 } },
        { "switch": "${free}", "case": { "long text": [] } }
    ]));
    assert_eq!(
        warnings,
        vec![
            "script[1].case[\"#\"]: never matches: collected input consists of 0-9, *, A-D (# ends input)",
            "script[1].case[\"12\"]: never matches: `choice` is collected with maxInputLength 1",
            "script[3].case[\"12#\"]: never matches: collected input consists of 0-9, *, A-D (# ends input)",
        ]
    );
}

#[test]
fn on_hangup_takes_only_actions_that_need_no_call() {
    let text = json!({ "name": "t", "script": [ { "say": "x", "actionId": "top" } ], "onHangup": [
        { "setVariable": "a", "value": "1" },
        { "if": "${a}", "then": [ { "request": "https://h" }, { "say": "too late" } ] },
        { "sendSms": { "to": "1", "text": "t" } },
        "hangup",
        { "goTo": "top" },
        { "switch": "${a}", "case": { "1": [ { "collectInto": "b", "actionId": "in" } ] } }
    ] })
    .to_string();
    assert_eq!(
        errors_of(&text),
        vec![
            "onHangup[4]: unreachable: it follows \"hangup\" at onHangup[3]",
            "onHangup[3]: `hangup` cannot run after the caller hung up: onHangup takes request, sendSms and setVariable (and if/switch around them)",
            "onHangup[4]: `goTo` cannot run after the caller hung up: onHangup takes request, sendSms and setVariable (and if/switch around them)",
            "onHangup[5].case[\"1\"][0]: `collectInto` cannot run after the caller hung up: onHangup takes request, sendSms and setVariable (and if/switch around them)",
            "onHangup[1].then[1]: `say` cannot run after the caller hung up: onHangup takes request, sendSms and setVariable (and if/switch around them)",
        ]
    );
    let into = json!({ "name": "t", "script": [ { "goTo": "late" } ],
        "onHangup": [ { "setVariable": "a", "value": "1", "actionId": "late" } ] })
    .to_string();
    assert_eq!(
        errors_of(&into),
        vec!["script[0]: a goTo cannot jump into onHangup"]
    );
}

#[test]
fn elks_ivr_warnings() {
    let warnings = warnings_of(json!([
        { "ivr": "m.wav", "timeout": 45, "digits": 1, "12": { "say": "x" }, "1": "https://h/1" },
        { "ivr": "m.wav", "digits": 3, "#": { "say": "x" }, "next": "https://h/n" },
        { "ivr": "m.wav" }
    ]));
    assert_eq!(
        warnings,
        vec![
            "script[0].timeout: 45 is outside 1–30: 46elks uses 10 seconds, and so does ivory",
            "script[0][\"12\"]: never chosen: longer than `digits` (1)",
            "script[1][\"#\"]: never chosen: with `digits` above 1, `#` ends the input and is not part of it",
            "script[2]: neither `next` nor per-digit actions: the input is collected and dropped",
        ]
    );
}

#[test]
fn program_accessors() {
    let program = compile(
        &json!({ "name": "t", "script": [
        { "playFromUrl": "b.wav" },
        { "say": "hi" },
        { "playFromUrl": "a.wav" },
        { "playFromUrl": "${x}.wav" },
        { "ivr": "https://h/menu.mp3", "1": { "playFromUrl": "a.wav" } },
        { "dialToMany": [ { "number": "1" } ] },
        "hangup"
    ], "onHangup": [ { "request": "https://h" } ] })
        .to_string(),
    )
    .expect("valid");
    assert!(program.uses_say());
    assert!(program.uses_action("dialToMany"));
    assert!(program.uses_action("request"));
    assert!(!program.uses_action("dial"));
    assert_eq!(
        program.action_names().into_iter().collect::<Vec<_>>(),
        [
            "dialToMany",
            "hangup",
            "ivr",
            "playFromUrl",
            "request",
            "say"
        ]
    );
    assert_eq!(
        program.prompt_sources(),
        ["a.wav", "b.wav", "https://h/menu.mp3"]
    );
    assert!(program.has_on_hangup());
    let silent = compile(&scenario(json!([{ "playFromUrl": "a.wav" }]))).expect("valid");
    assert!(!silent.uses_say());
}
