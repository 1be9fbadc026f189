//! The simulator's own rules: when keys land, how long things take, how a run ends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ivory_scenario::simulate::{
    ScriptedHttp, SimulationOptions, SimulationReport, parse_simulation_input, simulate,
};
use ivory_scenario::{FinishReason, compile};
use serde_json::{Value, json};

fn simulate_script(script: Value, input: &str) -> SimulationReport {
    let program = compile(&json!({ "name": "t", "script": script }).to_string())
        .unwrap_or_else(|errors| panic!("{errors}"));
    let inputs = parse_simulation_input(input).expect("valid input");
    let options = SimulationOptions::new(Instant::now());
    simulate(
        Arc::new(program),
        &inputs,
        &ScriptedHttp::new(),
        BTreeMap::new(),
        &options,
    )
}

fn lines(report: &SimulationReport) -> Vec<String> {
    report.trace.iter().map(ToString::to_string).collect()
}

fn menu() -> Value {
    json!([
        { "say": "menu", "options": { "bargeIn": true } },
        { "collectInto": "choice", "options": { "maxInputLength": 1 } },
        { "say": "got ${choice}" }
    ])
}

#[test]
fn a_key_during_a_barge_in_prompt_interrupts_it_when_it_is_pressed() {
    let report = simulate_script(menu(), "wait:1500ms 7");
    assert_eq!(
        lines(&report),
        [
            "00:00.000 say \"menu\"",
            "00:01.500 key 7",
            "00:01.500 stop playback",
            "00:01.500 script[1] collectInto choice -> \"7\"",
            "00:01.500 say \"got 7\"",
            "00:03.500 playback finished",
            "00:03.500 hangup",
        ]
    );
    assert!(report.ended_normally);
    assert_eq!(report.finish_reason, Some(FinishReason::ScenarioEnd));
    assert_eq!(report.duration, Duration::from_millis(3_500));
}

#[test]
fn a_key_waits_for_the_run_to_listen() {
    let report = simulate_script(
        json!([{ "say": "hello" }, { "pause": 1 }, { "collectInto": "x", "options": { "maxInputLength": 1 } }]),
        "5 6",
    );
    let lines = lines(&report);
    assert!(lines.contains(&"00:03.000 key 5".to_owned()), "{lines:?}");
    assert!(
        lines.contains(&"00:03.000 input key 6 ignored: the call has ended".to_owned()),
        "{lines:?}"
    );
    assert_eq!(report.variables.get("x").map(String::as_str), Some("5"));
}

#[test]
fn durations_of_the_emulated_engine() {
    let report = simulate_script(
        json!([
            { "record": 10, "options": { "escapeDigits": "#" } },
            { "dial": "1", "options": { "ringTimeout": 7 } },
            "machineDetection",
            { "playFromRecording": null },
            { "say": "${dialStatus} ${dialSipCode} ${machineAnswered}" }
        ]),
        "dial:NO_ANSWER machine:yes wait:1s # speech:\"hi\"",
    );
    let lines = lines(&report);
    for expected in [
        "00:00.000 record (at most 10s)",
        "00:01.000 key #",
        "00:01.000 recording finished recording-1 (1000 ms)",
        "00:01.000 dial 1",
        "00:08.000 dial finished NO_ANSWER (480)",
        "00:09.000 machine detected: true",
        "00:09.000 play recording recording-1",
        "00:11.000 say \"NO_ANSWER 480 true\"",
    ] {
        assert!(
            lines.contains(&expected.to_owned()),
            "{expected:?} not in {lines:#?}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|line| line.contains("speech \"hi\" ignored")),
        "{lines:#?}"
    );
}

#[test]
fn runs_that_do_not_end_are_reported() {
    let endless = simulate_script(
        json!([{ "while": "${x != 'y'}", "do": [ { "pause": 5 } ] }]),
        "",
    );
    assert!(!endless.ended_normally);
    assert_eq!(endless.finish_reason, None);
    assert!(
        endless
            .trace
            .last()
            .is_some_and(|line| line.text.starts_with("simulation stopped"))
    );
    let spinning = simulate_script(
        json!([{ "while": "${x != 'y'}", "do": [ { "setVariable": "z", "value": "1" } ] }]),
        "",
    );
    assert!(!spinning.ended_normally);
    assert_eq!(spinning.finish_reason, Some(FinishReason::StepLimit));
    assert_eq!(spinning.notes.len(), 1);
}
