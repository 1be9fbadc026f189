//! Random scenario documents and random expressions never panic the compiler, the
//! expression evaluator or a run driven with random events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ivory_scenario::expression::{Expression, Template};
use ivory_scenario::{Event, Run, compile, compile_value};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Map, Value, json};

/// Deterministic: a fixed seed and no failure files written into the source tree.
fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x1_0e5c_e4a7),
        failure_persistence: None,
        ..Config::default()
    }
}

const KEYS: &[&str] = &[
    "playFromUrl",
    "say",
    "collectInto",
    "setVariable",
    "value",
    "if",
    "then",
    "else",
    "switch",
    "case",
    "__default",
    "1",
    "2",
    "goTo",
    "actionId",
    "options",
    "pause",
    "while",
    "do",
    "repeat",
    "until",
    "for-each",
    "in",
    "delimiter",
    "timeout",
    "maxInputLength",
    "mappedValues",
    "sendToReports",
    "bargeIn",
    "loop",
    "goToLimit",
    "countVariable",
    "dial",
    "capture",
    "record",
    "request",
    "sendSms",
    "ivr",
    "speechRate",
    "voice",
    "gender",
    "x",
];

const WORDS: &[&str] = &[
    "hangup",
    "machineDetection",
    "a",
    "a.wav",
    "${x}",
    "${x == '1'}",
    "${",
    "${1/0}",
    "MASKED",
    "NEVER",
    "1",
    "menu",
    "true",
    "false",
    "../x",
    "https://h/a.wav",
    "${n + 1}",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..300).prop_map(|n| json!(n)),
        (-1.0f64..40.0).prop_map(|n| json!(n)),
        proptest::sample::select(WORDS).prop_map(|word| json!(word)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 80, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..5).prop_map(
                |entries| {
                    let map: Map<String, Value> = entries
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value))
                        .collect();
                    Value::Object(map)
                }
            ),
        ]
    })
}

fn event() -> impl Strategy<Value = Option<Event>> {
    let bodies = proptest::sample::select(
        &[
            "",
            "{\"a\": 1, \"b\": {\"c\": [true]}, \"from\": \"x\"}",
            "[{\"say\": \"fetched\"}, \"hangup\"]",
            "{\"ivr\": \"m.wav\", \"next\": \"https://h/n\"}",
            "<r><a>1</a><b>x &amp; y</b></r>",
            "<r><a>",
            "{\"goTo\": \"nowhere\"}",
            "not json",
        ][..],
    );
    prop_oneof![
        Just(Some(Event::PlaybackFinished)),
        (
            proptest::sample::select(&[200u16, 204, 404, 500][..]),
            bodies
        )
            .prop_map(|(status, body)| Some(Event::HttpResponse {
                status,
                content_type: None,
                body: body.to_owned(),
            })),
        ".{0,20}".prop_map(|text| Some(Event::SpeechRecognised {
            text,
            key_phrases_heard: None
        })),
        Just(Some(Event::RecordingFinished {
            identifier: "r".to_owned(),
            duration_ms: 10
        })),
        proptest::sample::select(&ivory_scenario::DialStatus::ALL[..]).prop_map(|status| Some(
            Event::DialFinished {
                status,
                sip_code: None
            }
        )),
        any::<bool>().prop_map(|machine| Some(Event::MachineDetected { machine })),
        Just(Some(Event::SmsSent)),
        Just(Some(Event::ActionFailed {
            reason: "no".to_owned()
        })),
        Just(Some(Event::PlaybackFailed {
            reason: "x".to_owned()
        })),
        proptest::sample::select(&['1', '2', '#', '*', 'A', 'x'][..])
            .prop_map(|c| Some(Event::Digit(c))),
        Just(Some(Event::CallerHungUp)),
        Just(None),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn random_documents_never_panic(
        script in json_value(),
        events in proptest::collection::vec(event(), 0..30),
    ) {
        let document = json!({ "name": "fuzz", "script": script });
        if let Ok(program) = compile_value(&document) {
            let start = Instant::now();
            let mut now = start;
            let mut run = Run::new(Arc::new(program), BTreeMap::new(), now);
            for event in events {
                while run.poll_command().is_some() {}
                now += Duration::from_millis(700);
                match event {
                    Some(event) => run.handle_event(now, event),
                    None => {
                        if let Some(deadline) = run.poll_timeout() {
                            now = now.max(deadline);
                            run.handle_timeout(now);
                        }
                    }
                }
            }
            let _ = run.report_variables();
        }
    }

    #[test]
    fn random_text_never_panics_the_compiler(text in ".{0,200}") {
        let _ = compile(&text);
    }

    #[test]
    fn random_expressions_never_panic(
        text in proptest::collection::vec(
            proptest::sample::select(&[
                "a", "b.c", "1", "2.5", "'s'", "\"t\"", "==", "!=", "<", ">=", "&&", "||", "!",
                "and", "or", "not", "eq", "empty", "+", "-", "*", "/", "%", "?", ":", "(", ")",
                " ", "'", "${", "}", "\\", "é",
            ][..]),
            0..40,
        ).prop_map(|parts| parts.concat()),
        free in ".{0,60}",
    ) {
        let variables = BTreeMap::from([
            ("a".to_owned(), "0".to_owned()),
            ("b.c".to_owned(), "x".to_owned()),
        ]);
        for source in [&text, &free] {
            if let Ok(expression) = Expression::parse(source, 0) {
                let _ = expression.evaluate(&variables);
            }
            if let Ok(template) = Template::parse(source) {
                let _ = template.render(&variables);
            }
        }
    }
}

/// Mostly valid actions, nested, so that runs go deep into the interpreter.
fn plausible_action() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        proptest::sample::select(WORDS).prop_map(|word| json!({ "say": word })),
        any::<bool>().prop_map(|barge_in| json!({ "playFromUrl": "a.wav", "options": { "bargeIn": barge_in } })),
        (1i64..4, 1i64..4).prop_map(|(length, timeout)| json!({ "collectInto": "x",
            "options": { "maxInputLength": length, "timeout": timeout, "mappedValues": { "1": "one" } } })),
        Just(json!({ "setVariable": "n", "value": "${n + 1}" })),
        Just(json!({ "pause": 1 })),
        Just(json!("hangup")),
        (1i64..4).prop_map(|limit| json!({ "goTo": "start", "options": { "goToLimit": limit, "countVariable": "c" } })),
        Just(json!({ "dial": "123" })),
        Just(json!({ "dialToMany": [ { "number": "1" }, { "number": "2" } ], "options": { "parallel": true } })),
        Just(json!({ "capture": "x", "speechOptions": { "keyPhrases": ["one", "two"] },
            "dtmfOptions": { "maxInputLength": 2 } })),
        Just(json!({ "record": 5, "options": { "escapeDigits": "#" } })),
        Just(json!({ "playFromRecording": null })),
        Just(json!({ "request": "https://h/${x}", "options": { "collectResponse": true } })),
        Just(json!({ "sendSms": { "to": "1", "text": "${x}" } })),
        Just(json!("machineDetection")),
        Just(json!({ "ivr": "m.wav", "digits": 2, "1": { "say": "one" }, "2": "https://h/2",
            "next": "https://h/n" })),
    ];
    leaf.prop_recursive(4, 40, 4, |inner| {
        let block = || proptest::collection::vec(inner.clone(), 0..4);
        prop_oneof![
            (block(), block()).prop_map(
                |(then, otherwise)| json!({ "if": "${x == '1'}", "then": then, "else": otherwise })
            ),
            (block(), block()).prop_map(
                |(one, other)| json!({ "switch": "${x}", "case": { "1": one, "__default": other } })
            ),
            block().prop_map(|body| json!({ "while": "${n < 3}", "do": body })),
            block().prop_map(|body| json!({ "repeat": body, "until": "${n >= 2}" })),
            block().prop_map(|body| json!({ "for-each": "i", "in": "${x},2", "do": body })),
        ]
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn plausible_scenarios_keep_the_run_contract(
        actions in proptest::collection::vec(plausible_action(), 0..8),
        events in proptest::collection::vec(event(), 0..40),
    ) {
        let mut script = vec![json!({ "actionId": "start", "say": "start" })];
        script.extend(actions);
        let document = json!({ "name": "fuzz", "script": script });
        let Ok(program) = compile_value(&document) else {
            // Unreachable actions after a generated "hangup" are refused: fine.
            return Ok(());
        };
        let mut now = Instant::now();
        let mut run = Run::new(Arc::new(program), BTreeMap::new(), now);
        let mut hung_up = false;
        for event in events {
            while let Some(command) = run.poll_command() {
                prop_assert!(!hung_up, "a command after Hangup: {command:?}");
                hung_up = command == ivory_scenario::Command::Hangup;
            }
            prop_assert_eq!(hung_up, run.is_finished() && run.finish_reason() != Some(ivory_scenario::FinishReason::CallerHungUp));
            now += Duration::from_millis(700);
            match event {
                Some(event) => run.handle_event(now, event),
                None => {
                    if let Some(deadline) = run.poll_timeout() {
                        now = now.max(deadline);
                        run.handle_timeout(now);
                    }
                }
            }
        }
    }
}

/// Actions whose loops are all bounded: every loop counts up to 3 on one of a few
/// counters that only grow, every goTo has a limit.
fn bounded_action() -> impl Strategy<Value = Value> {
    let counter = || proptest::sample::select(&["k0", "k1", "k2"][..]);
    let leaf = prop_oneof![
        Just(json!({ "say": "s", "options": { "bargeIn": true } })),
        Just(json!({ "playFromUrl": "a.wav" })),
        (1i64..3).prop_map(|length| json!({ "collectInto": "x", "options": { "maxInputLength": length, "timeout": 2 } })),
        Just(json!({ "capture": "x", "timeout": 2, "dtmfOptions": { "maxInputLength": 1 } })),
        Just(json!({ "record": 4, "options": { "escapeDigits": "#" } })),
        Just(json!({ "dial": "1" })),
        Just(json!("machineDetection")),
        Just(json!({ "request": "https://h/api", "options": { "collectResponse": true } })),
        Just(json!({ "sendSms": { "to": "1", "text": "t" } })),
        Just(json!({ "pause": 1 })),
        Just(json!({ "ivr": "m.wav", "timeout": 2, "repeat": 2, "1": { "say": "one" }, "next": "https://h/n" })),
        (1i64..4).prop_map(|limit| json!({ "goTo": "start", "options": { "goToLimit": limit } })),
        Just(json!("hangup")),
    ];
    leaf.prop_recursive(3, 30, 4, move |inner| {
        let block = || proptest::collection::vec(inner.clone(), 0..4);
        prop_oneof![
            (block(), block()).prop_map(
                |(then, otherwise)| json!({ "if": "${x == '1'}", "then": then, "else": otherwise })
            ),
            (block(), block()).prop_map(
                |(one, other)| json!({ "switch": "${x}", "case": { "1": one, "__default": other } })
            ),
            (block(), counter()).prop_map(|(mut body, k)| {
                body.push(json!({ "setVariable": k, "value": format!("${{{k} + 1}}") }));
                json!({ "while": format!("${{{k} < 3}}"), "do": body })
            }),
            (block(), counter()).prop_map(|(mut body, k)| {
                body.push(json!({ "setVariable": k, "value": format!("${{{k} + 1}}") }));
                json!({ "repeat": body, "until": format!("${{{k} >= 3}}") })
            }),
            block().prop_map(|body| json!({ "for-each": "i", "in": "a,b,c", "do": body })),
        ]
    })
}

fn simulated_input() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(
            &[
                "1",
                "2",
                "#",
                "*",
                "wait:1s",
                "wait:3s",
                "speech:\"one two\"",
                "dial:BUSY",
                "machine:yes",
                "hangup",
            ][..],
        ),
        0..12,
    )
    .prop_map(|inputs| inputs.join(" "))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn bounded_scenarios_always_end_within_their_limits(
        actions in proptest::collection::vec(bounded_action(), 0..6),
        input in simulated_input(),
        on_hangup in any::<bool>(),
    ) {
        use ivory_scenario::simulate::{ScriptedHttp, SimulationOptions, parse_simulation_input, simulate};
        let mut script = vec![json!({ "actionId": "start", "say": "start" })];
        script.extend(actions);
        let mut document = json!({ "name": "bounded", "script": script });
        if on_hangup {
            document["onHangup"] = json!([{ "request": "https://h/bye" }, { "sendSms": { "to": "1", "text": "t" } }]);
        }
        let Ok(program) = compile_value(&document) else {
            return Ok(());
        };
        let mut http = ScriptedHttp::new();
        http.insert("https://h/api", 200, "{\"x\": \"1\"}");
        http.insert("https://h/n", 200, "[{\"say\": \"fetched\"}]");
        let inputs = parse_simulation_input(&input).expect("valid input");
        let options = SimulationOptions::new(Instant::now());
        let report = simulate(Arc::new(program), &inputs, &http, BTreeMap::new(), &options);
        prop_assert!(report.finish_reason.is_some(), "did not end: {:?}", report.trace.last());
        prop_assert_ne!(report.finish_reason, Some(ivory_scenario::FinishReason::StepLimit));
        prop_assert!(report.duration < Duration::from_secs(3_600));
        for line in &report.trace {
            // `script[..] goTo "start" (n of limit)`
            if let Some(counts) = line.text.split(" goTo \"start\" (").nth(1) {
                let counts = counts.trim_end_matches(')');
                let (count, limit) = counts.split_once(" of ").expect("n of limit");
                let count: u32 = count.parse().expect("a count");
                let limit: u32 = limit.parse().expect("a limit");
                prop_assert!(count <= limit, "{}", line);
            }
        }
    }
}
