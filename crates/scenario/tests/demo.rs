//! The shipped demo scenario (config/scenarios/demo.json) compiles cleanly and behaves as
//! contracts.md describes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ivory_scenario::{Command, Event, FinishReason, Program, Run, compile};

fn demo() -> Program {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/scenarios/demo.json"
    );
    let text = std::fs::read_to_string(path).expect("config/scenarios/demo.json is readable");
    compile(&text).unwrap_or_else(|errors| panic!("demo.json: {errors}"))
}

fn plays(run: &mut Run) -> Vec<String> {
    std::iter::from_fn(|| run.poll_command())
        .map(|command| match command {
            Command::Play { source, .. } => source,
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn demo_compiles_without_warnings() {
    let program = demo();
    assert_eq!(program.name(), "demo");
    assert!(program.warnings().is_empty(), "{:?}", program.warnings());
}

/// Runs the demo, pressing `digit` (if any) after the menu; returns every prompt played.
fn call_with(digit: Option<char>) -> (Vec<String>, Run) {
    let start = Instant::now();
    let mut run = Run::new(Arc::new(demo()), BTreeMap::new(), start);
    let mut played = plays(&mut run);
    let mut now = start;
    for _ in 0..2 {
        now += Duration::from_secs(2);
        run.handle_event(now, Event::PlaybackFinished);
        played.extend(plays(&mut run));
    }
    match digit {
        Some(digit) => run.handle_event(now + Duration::from_secs(1), Event::Digit(digit)),
        None => {
            let deadline = run.poll_timeout().expect("the menu waits for a digit");
            assert_eq!(deadline - now, Duration::from_secs(5));
            run.handle_timeout(deadline);
            now = deadline;
        }
    }
    played.extend(plays(&mut run));
    while !run.is_finished() {
        now += Duration::from_secs(2);
        run.handle_event(now, Event::PlaybackFinished);
        played.extend(plays(&mut run));
    }
    (played, run)
}

#[test]
fn demo_paths() {
    let expected = |middle: &str| {
        vec![
            "demo-welcome.wav".to_owned(),
            "demo-menu.wav".to_owned(),
            middle.to_owned(),
            "demo-goodbye.wav".to_owned(),
            "Hangup".to_owned(),
        ]
    };
    let (played, run) = call_with(Some('1'));
    assert_eq!(played, expected("demo-option1.wav"));
    assert_eq!(run.finish_reason(), Some(FinishReason::HangupAction));
    assert_eq!(
        run.report_variables(),
        BTreeMap::from([("choice".to_owned(), "1".to_owned())])
    );
    assert_eq!(call_with(Some('2')).0, expected("demo-option2.wav"));
    assert_eq!(call_with(Some('7')).0, expected("demo-invalid.wav"));
    let (played, run) = call_with(None);
    assert_eq!(played, expected("demo-invalid.wav"));
    assert_eq!(run.variables().get("choice").map(String::as_str), Some(""));
}

#[test]
fn demo_prompts_are_shipped_in_sounds() {
    let sounds = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sounds");
    let (played, _) = call_with(Some('1'));
    let (more, _) = call_with(Some('2'));
    let (invalid, _) = call_with(None);
    for prompt in played.iter().chain(&more).chain(&invalid) {
        if prompt.ends_with(".wav") {
            let path = std::path::Path::new(sounds).join(prompt);
            assert!(path.is_file(), "{} is missing", path.display());
        }
    }
}
