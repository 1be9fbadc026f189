//! `isOpen('name')`: compile-time checks of schedule names, evaluation at the run's virtual
//! time through a [`ScheduleOracle`], notes when it cannot be answered, and the simulator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ivory_scenario::simulate::{SimulationOptions, parse_simulation_input, simulate};
use ivory_scenario::{
    Command, CompileErrors, CompileOptions, Event, Run, RunOptions, ScheduleOracle, ScriptedHttp,
    compile, compile_with,
};
use serde_json::{Value, json};

fn scenario(script: Value) -> String {
    json!({ "name": "test", "script": script }).to_string()
}

fn with_schedules(names: &[&str]) -> CompileOptions {
    CompileOptions {
        schedules: Some(names.iter().map(|name| name.to_string()).collect()),
        ..CompileOptions::default()
    }
}

fn errors(script: Value, options: &CompileOptions) -> Vec<String> {
    match compile_with(&scenario(script), options) {
        Ok(_) => panic!("expected errors"),
        Err(CompileErrors { errors, .. }) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn function_syntax_errors_have_their_column() {
    let options = CompileOptions::default();
    assert_eq!(
        errors(
            json!([
                { "if": "${isopen('office')}", "then": [] },
                { "say": "open: ${isOpen()}" },
                { "setVariable": "x", "value": "${isOpen('a', 'b')}" }
            ]),
            &options
        ),
        vec![
            "script[0].if: invalid expression: column 3: unknown function `isopen` (the functions are: `isOpen`)",
            "script[1].say: invalid expression: column 9: `isOpen` takes 1 argument, found 0",
            "script[2].value: invalid expression: column 3: `isOpen` takes 1 argument, found 2",
        ]
    );
}

#[test]
fn schedule_names_are_checked_when_known() {
    let script = json!([
        { "if": "${isOpen('office')}", "then": [{ "say": "open" }] },
        { "if": "${choice == 1 || isOpen('ofice')}", "then": [] },
        { "say": "${isOpen('weekend')}" },
        { "if": "${isOpen(site)}", "then": [] }
    ]);
    let options = CompileOptions {
        parameters: vec!["choice".to_owned(), "site".to_owned()],
        schedules: Some(vec!["office".to_owned(), "support".to_owned()]),
    };
    assert_eq!(
        errors(script.clone(), &options),
        vec![
            "script[1].if: invalid expression: column 18: unknown schedule \"ofice\" (did you mean \"office\"?); the schedules are: office, support",
            "script[2].say: invalid expression: column 3: unknown schedule \"weekend\"; the schedules are: office, support",
        ]
    );
    assert_eq!(
        errors(
            json!([{ "say": "${isOpen('office')}" }]),
            &with_schedules(&[])
        ),
        vec![
            "script[0].say: invalid expression: column 3: unknown schedule \"office\"; no schedules are configured"
        ]
    );
    // Without a list, names are not checked; a name from a variable never is.
    let unchecked = CompileOptions {
        parameters: options.parameters.clone(),
        schedules: None,
    };
    assert!(compile_with(&scenario(script), &unchecked).is_ok());
    assert!(
        compile_with(
            &scenario(json!([{ "if": "${isOpen(site)}", "then": [] }])),
            &with_schedules(&["office"])
        )
        .is_ok()
    );
}

/// Open from `opens_at_ms` on (Unix time), for the schedule "office" only; records every
/// question.
#[derive(Debug)]
struct OfficeOpensAt {
    opens_at_ms: u64,
    asked: Mutex<Vec<(String, u64)>>,
}

impl ScheduleOracle for OfficeOpensAt {
    fn is_open(&self, schedule: &str, unix_time_ms: u64) -> Option<bool> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push((schedule.to_owned(), unix_time_ms));
        }
        (schedule == "office").then_some(unix_time_ms >= self.opens_at_ms)
    }
}

fn drain(run: &mut Run) -> Vec<String> {
    std::iter::from_fn(|| run.poll_command())
        .map(|command| match command {
            Command::Say { text, .. } => format!("say {text}"),
            Command::Note(note) => format!("note {note}"),
            Command::Hangup => "hangup".to_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

const START_MS: u64 = 1_800_000_000_000;

/// Asks twice: at the start, and after a 3 s prompt and a 2 s pause.
fn branching_script() -> Value {
    json!([
        { "say": "${isOpen('office') ? 'open' : 'closed'}" },
        { "pause": 2 },
        { "if": "${isOpen('office')}", "then": [{ "say": "now open" }], "else": [{ "say": "still closed" }] },
        { "say": "${isOpen('nowhere')}" }
    ])
}

fn start(options: RunOptions) -> (Run, Instant) {
    let program = compile(&scenario(branching_script())).expect("valid");
    let start = Instant::now();
    let run = Run::with_options(Arc::new(program), BTreeMap::new(), start, options);
    (run, start)
}

#[test]
fn is_open_is_asked_at_the_current_virtual_time() {
    let oracle = Arc::new(OfficeOpensAt {
        opens_at_ms: START_MS + 4_000,
        asked: Mutex::new(Vec::new()),
    });
    let (mut run, start) = start(RunOptions {
        unix_time_ms_at_start: Some(START_MS),
        schedules: Some(oracle.clone()),
        ..RunOptions::default()
    });
    assert_eq!(drain(&mut run), ["say closed"]);
    run.handle_event(start + Duration::from_secs(3), Event::PlaybackFinished);
    assert_eq!(drain(&mut run), Vec::<String>::new());
    let after_pause = run.poll_timeout().expect("the pause");
    assert_eq!(after_pause, start + Duration::from_secs(5));
    run.handle_timeout(after_pause);
    assert_eq!(drain(&mut run), ["say now open"]);
    run.handle_event(start + Duration::from_secs(7), Event::PlaybackFinished);
    assert_eq!(
        drain(&mut run),
        [
            "note script[3]: isOpen(\"nowhere\"): no schedule has that name; false",
            "say false"
        ]
    );
    let asked = oracle.asked.lock().expect("not poisoned").clone();
    assert_eq!(
        asked,
        [
            ("office".to_owned(), START_MS),
            ("office".to_owned(), START_MS + 5_000),
            ("nowhere".to_owned(), START_MS + 7_000),
        ]
    );
}

#[test]
fn is_open_without_oracle_or_clock_is_false_with_a_note() {
    let (mut run, _) = start(RunOptions {
        unix_time_ms_at_start: Some(START_MS),
        ..RunOptions::default()
    });
    assert_eq!(
        drain(&mut run),
        [
            "note script[0]: isOpen(\"office\"): no schedules are available to this run; false",
            "say closed"
        ]
    );
    let oracle = Arc::new(OfficeOpensAt {
        opens_at_ms: 0,
        asked: Mutex::new(Vec::new()),
    });
    let (mut run, _) = start(RunOptions {
        schedules: Some(oracle.clone()),
        ..RunOptions::default()
    });
    assert_eq!(
        drain(&mut run),
        [
            "note script[0]: isOpen(\"office\"): no wall-clock time to judge it by; false",
            "say closed"
        ]
    );
    assert!(oracle.asked.lock().expect("not poisoned").is_empty());
}

#[test]
fn notes_do_not_show_digits_as_schedule_names() {
    let program = compile(&scenario(json!([
        { "collectInto": "pin", "options": { "maxInputLength": 4, "sendToReports": "MASKED" } },
        { "say": "${isOpen(pin)}" }
    ])))
    .expect("valid");
    let now = Instant::now();
    let options = RunOptions {
        unix_time_ms_at_start: Some(START_MS),
        schedules: Some(Arc::new(OfficeOpensAt {
            opens_at_ms: 0,
            asked: Mutex::new(Vec::new()),
        })),
        ..RunOptions::default()
    };
    let mut run = Run::with_options(Arc::new(program), BTreeMap::new(), now, options);
    for digit in ['1', '2', '3', '4'] {
        run.handle_event(now, Event::Digit(digit));
    }
    let commands = drain(&mut run);
    assert_eq!(
        commands,
        [
            "note script[1]: isOpen(<digits>): no schedule has that name; false",
            "say false"
        ]
    );
}

#[test]
fn the_simulator_answers_from_open_schedules() {
    let program = Arc::new(
        compile(&scenario(json!([
            { "if": "${isOpen('office')}", "then": [{ "say": "open" }], "else": [{ "say": "closed" }] },
            { "say": "${isOpen('support')}" }
        ])))
        .expect("valid"),
    );
    let simulate_with = |open: &[(&str, bool)], wall_clock: bool| {
        let mut options = SimulationOptions::new(Instant::now());
        options.open_schedules = open
            .iter()
            .map(|(name, open)| (name.to_string(), *open))
            .collect();
        options.unix_time_ms_at_start = wall_clock.then_some(START_MS);
        let inputs = parse_simulation_input("").expect("valid");
        simulate(
            program.clone(),
            &inputs,
            &ScriptedHttp::new(),
            BTreeMap::new(),
            &options,
        )
    };
    let said = |report: &ivory_scenario::SimulationReport| -> Vec<String> {
        report
            .trace
            .iter()
            .filter_map(|line| line.text.strip_prefix("say ").map(str::to_owned))
            .collect()
    };
    let report = simulate_with(&[("office", true), ("support", false)], true);
    assert_eq!(said(&report), ["\"open\"", "\"false\""]);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert!(
        report
            .trace
            .iter()
            .any(|line| line.text == "script[0] isOpen(\"office\") -> true"),
        "{:?}",
        report.trace
    );
    let report = simulate_with(&[("office", false)], true);
    assert_eq!(said(&report), ["\"closed\"", "\"false\""]);
    assert_eq!(
        report.notes,
        ["script[1]: isOpen(\"support\"): no schedule has that name; false"]
    );
    // No wall clock: false, as in a real run.
    let report = simulate_with(&[("office", true)], false);
    assert_eq!(said(&report), ["\"closed\"", "\"false\""]);
    assert_eq!(report.notes.len(), 2, "{:?}", report.notes);
    assert!(report.notes[0].contains("no wall-clock time"));
}
