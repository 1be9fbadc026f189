//! The interpreter driven in virtual time: traces of commands for given events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ivory_scenario::{Command, Event, FinishReason, MAXIMUM_STEPS_PER_CALL, Run, compile};
use serde_json::{Value, json};

/// A run on a virtual clock that records commands as short strings.
struct Harness {
    run: Run,
    start: Instant,
    now: Instant,
}

impl Harness {
    fn new(script: Value) -> Self {
        Self::with_variables(script, BTreeMap::new())
    }

    fn with_variables(script: Value, variables: BTreeMap<String, String>) -> Self {
        let text = json!({ "name": "test", "script": script }).to_string();
        let program = compile(&text).unwrap_or_else(|errors| panic!("{errors}"));
        let start = Instant::now();
        Harness {
            run: Run::new(Arc::new(program), variables, start),
            start,
            now: start,
        }
    }

    /// Drains the commands issued so far.
    fn commands(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.run.poll_command())
            .map(|command| match command {
                Command::Play {
                    source,
                    barge_in,
                    loop_count,
                } => {
                    let mut text = format!("play {source}");
                    if barge_in {
                        text.push_str(" (barge-in)");
                    }
                    if loop_count != 1 {
                        text.push_str(&format!(" x{loop_count}"));
                    }
                    text
                }
                Command::Say { text, .. } => format!("say {text}"),
                Command::StopPlayback => "stop".to_owned(),
                Command::Hangup => "hangup".to_owned(),
                Command::Note(note) => format!("note {note}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// Moves virtual time to `start + at`, firing every deadline on the way.
    fn wait_until(&mut self, at: Duration) {
        let target = self.start + at;
        while let Some(deadline) = self.run.poll_timeout() {
            if deadline > target {
                break;
            }
            self.now = self.now.max(deadline);
            self.run.handle_timeout(self.now);
        }
        self.now = target;
    }

    fn event(&mut self, at_ms: u64, event: Event) -> Vec<String> {
        self.wait_until(Duration::from_millis(at_ms));
        self.run.handle_event(self.now, event);
        self.commands()
    }

    fn finished(&mut self, at_ms: u64) -> Vec<String> {
        self.event(at_ms, Event::PlaybackFinished)
    }

    fn digit(&mut self, at_ms: u64, digit: char) -> Vec<String> {
        self.event(at_ms, Event::Digit(digit))
    }

    fn timeout_in(&self) -> Option<Duration> {
        self.run
            .poll_timeout()
            .map(|deadline| deadline - self.start)
    }

    fn variable(&self, name: &str) -> Option<&str> {
        self.run.variables().get(name).map(String::as_str)
    }
}

fn demo_menu() -> Value {
    json!([
        { "playFromUrl": "demo-welcome.wav" },
        { "playFromUrl": "demo-menu.wav", "options": { "bargeIn": true } },
        { "collectInto": "choice", "options": { "maxInputLength": 1, "timeout": 5 } },
        { "switch": "${choice}", "case": {
            "1": [ { "playFromUrl": "demo-option1.wav" } ],
            "2": [ { "playFromUrl": "demo-option2.wav" } ],
            "__default": [ { "playFromUrl": "demo-invalid.wav" } ]
        } },
        { "playFromUrl": "demo-goodbye.wav" },
        "hangup"
    ])
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[test]
fn digit_during_the_barge_in_menu_stops_it_and_is_collected() {
    let mut call = Harness::new(demo_menu());
    assert_eq!(call.commands(), strings(&["play demo-welcome.wav"]));
    assert_eq!(
        call.finished(2_000),
        strings(&["play demo-menu.wav (barge-in)"])
    );
    assert_eq!(
        call.run.poll_timeout(),
        None,
        "no timer while a prompt plays"
    );
    assert_eq!(
        call.digit(3_000, '1'),
        strings(&["stop", "play demo-option1.wav"])
    );
    assert_eq!(call.finished(5_000), strings(&["play demo-goodbye.wav"]));
    assert!(!call.run.is_finished());
    assert_eq!(call.finished(6_000), strings(&["hangup"]));
    assert!(call.run.is_finished());
    assert_eq!(call.run.finish_reason(), Some(FinishReason::HangupAction));
    assert_eq!(call.variable("choice"), Some("1"));
    assert_eq!(
        call.run.report_variables(),
        BTreeMap::from([("choice".to_owned(), "1".to_owned())])
    );
}

#[test]
fn digit_during_a_prompt_without_barge_in_is_typed_ahead() {
    let mut call = Harness::new(demo_menu());
    call.commands();
    assert_eq!(
        call.digit(500, '2'),
        Vec::<String>::new(),
        "the welcome goes on"
    );
    assert_eq!(
        call.finished(2_000),
        strings(&["play demo-menu.wav (barge-in)"])
    );
    // The menu still plays in full; the collect then takes the buffered digit at once.
    assert_eq!(call.finished(4_000), strings(&["play demo-option2.wav"]));
    assert_eq!(call.variable("choice"), Some("2"));
}

#[test]
fn digit_after_the_menu() {
    let mut call = Harness::new(demo_menu());
    call.commands();
    call.finished(2_000);
    assert_eq!(call.finished(4_000), Vec::<String>::new());
    assert_eq!(
        call.timeout_in(),
        Some(Duration::from_secs(9)),
        "5 s after the menu"
    );
    assert_eq!(call.digit(6_500, '2'), strings(&["play demo-option2.wav"]));
    assert_eq!(call.run.poll_timeout(), None);
}

#[test]
fn no_digit_times_out_into_the_default_branch() {
    let mut call = Harness::new(demo_menu());
    call.commands();
    call.finished(2_000);
    call.finished(4_000);
    call.run
        .handle_timeout(call.start + Duration::from_millis(8_999));
    assert_eq!(
        call.commands(),
        Vec::<String>::new(),
        "too early: nothing happens"
    );
    call.wait_until(Duration::from_secs(9));
    assert_eq!(call.commands(), strings(&["play demo-invalid.wav"]));
    assert_eq!(call.variable("choice"), Some(""));
    assert_eq!(call.finished(11_000), strings(&["play demo-goodbye.wav"]));
    assert_eq!(call.finished(12_000), strings(&["hangup"]));
}

#[test]
fn the_script_end_hangs_up() {
    let mut call = Harness::new(json!([{ "say": "bye" }]));
    assert_eq!(call.commands(), strings(&["say bye"]));
    assert_eq!(call.finished(1_000), strings(&["hangup"]));
    assert_eq!(call.run.finish_reason(), Some(FinishReason::ScenarioEnd));
    // Nothing after the end.
    assert_eq!(call.digit(2_000, '1'), Vec::<String>::new());
    let mut empty = Harness::new(json!([]));
    assert_eq!(empty.commands(), strings(&["hangup"]));
    assert!(empty.run.is_finished());
}

fn pin_entry(options: Value) -> Value {
    json!([
        { "collectInto": "pin", "options": options },
        { "say": "got ${pin}" }
    ])
}

#[test]
fn hash_ends_input_and_is_not_stored() {
    let mut call = Harness::new(pin_entry(json!({ "maxInputLength": 6 })));
    assert_eq!(call.digit(1_000, '1'), Vec::<String>::new());
    assert_eq!(call.digit(2_000, '2'), Vec::<String>::new());
    assert_eq!(call.digit(3_000, '#'), strings(&["say got 12"]));
    let mut call = Harness::new(pin_entry(json!({ "maxInputLength": 6 })));
    assert_eq!(call.digit(1_000, '#'), strings(&["say got "]));
    assert_eq!(call.variable("pin"), Some(""));
}

#[test]
fn the_timeout_restarts_at_every_digit() {
    let mut call = Harness::new(pin_entry(json!({ "timeout": 3 })));
    assert_eq!(call.timeout_in(), Some(Duration::from_secs(3)));
    call.digit(2_000, '4');
    assert_eq!(call.timeout_in(), Some(Duration::from_secs(5)));
    call.digit(4_500, '*');
    call.digit(7_000, '2');
    assert_eq!(call.timeout_in(), Some(Duration::from_secs(10)));
    call.wait_until(Duration::from_millis(9_999));
    assert_eq!(call.commands(), Vec::<String>::new());
    call.wait_until(Duration::from_secs(10));
    assert_eq!(call.commands(), strings(&["say got 4*2"]));
}

#[test]
fn without_max_input_length_input_is_unlimited_until_hash_or_timeout() {
    let mut call = Harness::new(pin_entry(json!({})));
    for (index, digit) in "0123456789".chars().enumerate() {
        call.digit(100 * index as u64, digit);
    }
    call.wait_until(Duration::from_secs(10));
    assert_eq!(call.commands(), strings(&["say got 0123456789"]));
}

#[test]
fn type_ahead_digits_beyond_the_collect_stay_for_the_next_one() {
    let mut call = Harness::new(json!([
        { "say": "enter two codes", "options": { "bargeIn": false } },
        { "collectInto": "first", "options": { "maxInputLength": 2 } },
        { "collectInto": "second", "options": { "maxInputLength": 2 } },
        { "say": "${first}/${second}" }
    ]));
    call.commands();
    for (index, digit) in ['1', '2', '3', '4'].into_iter().enumerate() {
        call.digit(100 * index as u64, digit);
    }
    assert_eq!(call.finished(1_000), strings(&["say 12/34"]));
}

#[test]
fn the_type_ahead_buffer_is_bounded() {
    let mut call = Harness::new(json!([
        { "say": "long prompt" },
        { "collectInto": "digits", "options": { "maxInputLength": 255 } }
    ]));
    call.commands();
    let mut notes = 0;
    for index in 0..40 {
        notes += call.digit(index, '5').len();
    }
    assert_eq!(notes, 8, "32 kept, 8 dropped with a note each");
    call.finished(1_000);
    call.wait_until(Duration::from_secs(10));
    assert_eq!(call.variable("digits").map(str::len), Some(32));
}

#[test]
fn mapped_values_and_masking() {
    let mut call = Harness::new(json!([
        { "collectInto": "dept", "options": { "maxInputLength": 1,
            "mappedValues": { "1": "Sales", "2": "Support" } } },
        { "collectInto": "pin", "options": { "maxInputLength": 4, "sendToReports": "MASKED",
            "mappedValues": { "1234": "weak" } } },
        { "collectInto": "secret", "options": { "maxInputLength": 1, "sendToReports": "NEVER" } },
        { "collectInto": "other", "options": { "maxInputLength": 1, "mappedValues": { "1": "x" } } },
        { "setVariable": "copy", "value": "${dept_Meaning}-${other_Meaning}" },
        "hangup"
    ]));
    let mut commands = Vec::new();
    for (index, digit) in "2123497".chars().enumerate() {
        commands.extend(call.digit(100 * index as u64, digit));
    }
    assert_eq!(commands, strings(&["hangup"]));
    assert_eq!(call.variable("dept_Meaning"), Some("Support"));
    assert_eq!(
        call.variable("pin"),
        Some("1234"),
        "the run itself sees the value"
    );
    assert_eq!(call.variable("pin_Meaning"), Some("weak"));
    assert_eq!(call.variable("secret"), Some("9"));
    assert_eq!(
        call.variable("other_Meaning"),
        Some(""),
        "unmapped input means \"\""
    );
    let report: BTreeMap<&str, &str> = [
        ("copy", "Support-"),
        ("dept", "2"),
        ("dept_Meaning", "Support"),
        ("other", "7"),
        ("other_Meaning", ""),
        ("pin", "****"),
        ("pin_Meaning", "****"),
    ]
    .into_iter()
    .collect();
    let actual = call.run.report_variables();
    let actual: BTreeMap<&str, &str> = actual
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(actual, report);
}

#[test]
fn go_to_with_go_to_limit_and_count_variable() {
    let mut call = Harness::new(json!([
        { "actionId": "menu", "say": "menu" },
        { "collectInto": "choice", "options": { "maxInputLength": 1, "timeout": 1 } },
        { "if": "${empty choice}", "then": [
            { "goTo": "menu", "options": { "goToLimit": 2, "countVariable": "tries" } }
        ] },
        { "say": "bye after ${tries} retries" },
        "hangup"
    ]));
    assert_eq!(call.commands(), strings(&["say menu"]));
    assert_eq!(call.finished(1_000), Vec::<String>::new());
    call.wait_until(Duration::from_secs(2));
    assert_eq!(call.commands(), strings(&["say menu"]));
    assert_eq!(call.variable("tries"), Some("1"));
    call.finished(3_000);
    call.wait_until(Duration::from_secs(4));
    assert_eq!(call.commands(), strings(&["say menu"]));
    call.finished(5_000);
    call.wait_until(Duration::from_secs(6));
    assert_eq!(
        call.commands(),
        strings(&[
            "note script[2].then[0]: goToLimit 2 reached; continuing after the goTo",
            "say bye after 2 retries"
        ])
    );
    assert_eq!(call.finished(7_000), strings(&["hangup"]));
}

#[test]
fn go_to_into_a_nested_block_continues_after_it() {
    let mut call = Harness::new(json!([
        { "goTo": "inner", "options": { "goToLimit": 1 } },
        { "say": "skipped" },
        { "switch": "${x}", "case": { "1": [
            { "say": "not this" },
            { "actionId": "inner", "say": "inner" },
            { "say": "still inner" }
        ] } },
        { "say": "after the switch" }
    ]));
    assert_eq!(call.commands(), strings(&["say inner"]));
    assert_eq!(call.finished(1), strings(&["say still inner"]));
    assert_eq!(call.finished(2), strings(&["say after the switch"]));
    assert_eq!(call.finished(3), strings(&["hangup"]));
}

#[test]
fn pause_waits_in_virtual_time() {
    let mut call = Harness::new(json!([
        { "pause": 2 },
        { "say": "after" },
        { "playFromUrl": "beep.wav", "options": { "pause": 1.5, "loop": 3 } },
        { "say": "end" }
    ]));
    assert_eq!(call.commands(), Vec::<String>::new());
    assert_eq!(call.timeout_in(), Some(Duration::from_secs(2)));
    call.wait_until(Duration::from_millis(1_999));
    assert_eq!(call.commands(), Vec::<String>::new());
    call.wait_until(Duration::from_secs(2));
    assert_eq!(call.commands(), strings(&["say after"]));
    assert_eq!(call.finished(3_000), strings(&["play beep.wav x3"]));
    assert_eq!(call.finished(4_000), Vec::<String>::new());
    assert_eq!(call.timeout_in(), Some(Duration::from_millis(5_500)));
    call.wait_until(Duration::from_millis(5_500));
    assert_eq!(call.commands(), strings(&["say end"]));
}

#[test]
fn caller_hang_up_mid_prompt_ends_everything() {
    let mut call = Harness::new(demo_menu());
    call.commands();
    call.run.handle_event(call.now, Event::PlaybackFinished);
    call.run.handle_event(call.now, Event::CallerHungUp);
    assert_eq!(
        call.commands(),
        Vec::<String>::new(),
        "queued commands are dropped"
    );
    assert!(call.run.is_finished());
    assert_eq!(call.run.finish_reason(), Some(FinishReason::CallerHungUp));
    assert_eq!(call.run.poll_timeout(), None);
    assert_eq!(call.finished(1_000), Vec::<String>::new());
    assert_eq!(call.digit(1_000, '1'), Vec::<String>::new());
}

#[test]
fn playback_failure_is_noted_and_the_script_goes_on() {
    let mut call = Harness::new(demo_menu());
    call.commands();
    let reason = "demo-welcome.wav: file not found".to_owned();
    assert_eq!(
        call.event(100, Event::PlaybackFailed { reason }),
        strings(&[
            "note playback failed: demo-welcome.wav: file not found",
            "play demo-menu.wav (barge-in)"
        ])
    );
}

#[test]
fn stray_playback_events_are_ignored() {
    let mut call = Harness::new(pin_entry(json!({ "maxInputLength": 1 })));
    assert_eq!(call.finished(100), Vec::<String>::new());
    assert_eq!(
        call.timeout_in(),
        Some(Duration::from_secs(5)),
        "the collect goes on"
    );
    assert_eq!(
        call.digit(200, 'x'),
        strings(&["note ignored an event for an unknown DTMF key 'x'"])
    );
    assert_eq!(call.digit(300, 'D'), strings(&["say got D"]));
}

#[test]
fn variables_interpolate_and_conditions_branch() {
    let variables = BTreeMap::from([
        ("from".to_owned(), "4670123".to_owned()),
        ("language".to_owned(), "sv".to_owned()),
    ]);
    let mut call = Harness::with_variables(
        json!([
            { "setVariable": "greeting", "value": "Hello ${from}" },
            { "setVariable": "n", "value": 2 },
            { "if": "${language == 'sv' && n * 2 == 4}", "then": [ { "say": "${greeting}, hej" } ],
              "else": [ { "say": "hi" } ] },
            { "setVariable": "broken", "value": "${n / 0}" }
        ]),
        variables,
    );
    assert_eq!(call.commands(), strings(&["say Hello 4670123, hej"]));
    assert_eq!(
        call.finished(1),
        strings(&[
            "note script[3]: expression \"${n / 0}\" failed: division by zero",
            "hangup"
        ])
    );
    assert_eq!(call.variable("broken"), Some(""));
    let report = call.run.report_variables();
    assert!(
        !report.contains_key("from"),
        "implicit variables are not reported"
    );
    assert_eq!(
        report.get("greeting").map(String::as_str),
        Some("Hello 4670123")
    );
}

#[test]
fn loops_run_in_order() {
    let mut call = Harness::new(json!([
        { "for-each": "item", "in": "a,b,c", "do": [ { "say": "${item}" } ] },
        { "setVariable": "n", "value": 0 },
        { "repeat": [ { "setVariable": "n", "value": "${n + 1}" } ], "until": "${n >= 3}" },
        { "while": "${n < 5}", "do": [ { "setVariable": "n", "value": "${n + 1}" } ] },
        { "say": "n=${n}" }
    ]));
    assert_eq!(call.commands(), strings(&["say a"]));
    assert_eq!(call.finished(1), strings(&["say b"]));
    assert_eq!(call.finished(2), strings(&["say c"]));
    assert_eq!(call.finished(3), strings(&["say n=5"]));
}

#[test]
fn a_loop_that_never_waits_is_stopped() {
    let mut call = Harness::new(json!([
        { "while": "${stop != 'yes'}", "do": [ { "setVariable": "x", "value": "1" } ] },
        { "say": "never" }
    ]));
    let commands = call.commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands[0].starts_with(&format!(
        "note the scenario ran {MAXIMUM_STEPS_PER_CALL} steps"
    )));
    assert_eq!(commands[1], "hangup");
    assert_eq!(call.run.finish_reason(), Some(FinishReason::StepLimit));
}

#[test]
fn actions_the_engine_cannot_perform_fail_and_the_call_goes_on() {
    let mut call = Harness::new(json!([
        { "dial": "+46700000000" },
        "machineDetection",
        { "say": "after ${dialStatus} ${machineAnswered}" }
    ]));
    assert_eq!(
        call.commands(),
        strings(&[
            "Dial { destinations: [\"+46700000000\"], parallel: false, sender_id: None, ring_timeout: 30s, max_call_duration: None }"
        ])
    );
    let failed = || Event::ActionFailed {
        reason: "not supported by this runtime".to_owned(),
    };
    assert_eq!(
        call.event(10, failed()),
        strings(&[
            "note script[0]: dial failed: not supported by this runtime; dialStatus=FAILED",
            "DetectMachine"
        ])
    );
    assert_eq!(
        call.event(20, failed()),
        strings(&[
            "note script[1]: machineDetection failed: not supported by this runtime; machineAnswered=false",
            "say after FAILED false"
        ])
    );
}

#[test]
fn unsafe_interpolated_prompt_sources_are_refused_at_run_time() {
    let variables = BTreeMap::from([("name".to_owned(), "../../etc/passwd".to_owned())]);
    let mut call = Harness::with_variables(
        json!([{ "playFromUrl": "${name}" }, { "playFromUrl": "https://example.com/${x}a.mp3" }]),
        variables,
    );
    assert_eq!(
        call.commands(),
        strings(&[
            "note script[0]: prompt \"../../etc/passwd\" must not leave the sounds directory (`..`); skipped",
            "play https://example.com/a.mp3"
        ])
    );
}

#[test]
fn say_carries_its_options() {
    let text = json!({ "name": "t", "script": [
        { "say": "Hej ${name}", "options": { "language": "sv", "speechRate": 1.5, "bargeIn": true,
          "voice": { "name": "Astrid", "gender": "female" } } }
    ] })
    .to_string();
    let program = Arc::new(compile(&text).expect("valid"));
    let variables = BTreeMap::from([("name".to_owned(), "Ada".to_owned())]);
    let mut run = Run::new(program, variables, Instant::now());
    let expected = Command::Say {
        text: "Hej Ada".to_owned(),
        language: Some("sv".to_owned()),
        voice: Some(ivory_scenario::Voice {
            name: Some("Astrid".to_owned()),
            gender: Some(ivory_scenario::VoiceGender::Female),
        }),
        speech_rate: 1.5,
        barge_in: true,
    };
    assert_eq!(run.poll_command(), Some(expected));
    assert_eq!(run.poll_command(), None);
}

#[test]
fn runs_and_programs_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Run>();
    assert_send_sync::<ivory_scenario::Program>();
    assert_send_sync::<Command>();
}
