//! The scenario language's hot pieces: compiling the realistic menus shipped in
//! `config/scenarios/`, and running them (a caller's digit reaching a waiting menu; a whole call
//! from start to hang-up).
//!
//! Run: `cargo bench -p ivory-scenario --bench scenario`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ivory_scenario::{Command, Event, Program, Run, compile};

fn read_scenario(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/scenarios")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

fn compiled(json: &str) -> Arc<Program> {
    Arc::new(compile(json).expect("the shipped scenario compiles"))
}

fn call_variables() -> BTreeMap<String, String> {
    [
        ("from", "+15550123"),
        ("to", "+15550100"),
        ("callId", "bench-call"),
        ("direction", "inbound"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

/// Drains every pending command; returns how many there were.
fn drain(run: &mut Run) -> usize {
    let mut count = 0;
    while let Some(command) = run.poll_command() {
        black_box(command);
        count += 1;
    }
    count
}

fn compilation(criterion: &mut Criterion) {
    for name in ["infobip-menu.json", "wazo-menu.json"] {
        let json = read_scenario(name);
        criterion.bench_function(&format!("compile/{name}"), |bencher| {
            bencher.iter(|| compile(black_box(&json)).expect("the shipped scenario compiles"));
        });
    }
}

/// The infobip menu up to its waiting point: welcome played, the barge-in menu prompt playing.
fn infobip_at_menu(program: &Arc<Program>, now: Instant) -> Run {
    let mut run = Run::new(Arc::clone(program), call_variables(), now);
    drain(&mut run);
    run.handle_event(now, Event::PlaybackFinished);
    drain(&mut run);
    run
}

fn run_steps(criterion: &mut Criterion) {
    let program = compiled(&read_scenario("infobip-menu.json"));
    let start = Instant::now();

    criterion.bench_function("run/start_to_first_prompt", |bencher| {
        bencher.iter(|| {
            let mut run = Run::new(Arc::clone(&program), call_variables(), start);
            drain(&mut run);
            run
        });
    });

    // One step: the caller presses 1 during the menu prompt (barge-in: stop playback, the
    // collect completes, mappedValues, the `if`, the next `say` is rendered and emitted).
    let digit_at = start + std::time::Duration::from_secs(3);
    let mut probe = infobip_at_menu(&program, start);
    probe.handle_event(digit_at, Event::Digit('1'));
    let mut commands = Vec::new();
    while let Some(command) = probe.poll_command() {
        commands.push(command);
    }
    assert!(
        commands
            .iter()
            .any(|command| matches!(command, Command::StopPlayback)),
        "the digit barges in: {commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|command| matches!(command, Command::Say { .. })),
        "the choice is announced: {commands:?}"
    );
    criterion.bench_function("run/digit_at_menu", |bencher| {
        bencher.iter_batched(
            || infobip_at_menu(&program, start),
            |mut run| {
                run.handle_event(digit_at, Event::Digit('1'));
                drain(&mut run);
                run
            },
            BatchSize::SmallInput,
        );
    });

    // A whole call: welcome, menu, press 1, three more prompts, hang-up.
    criterion.bench_function("run/whole_call_press_1", |bencher| {
        bencher.iter(|| {
            let mut run = Run::new(Arc::clone(&program), call_variables(), start);
            drain(&mut run);
            run.handle_event(start, Event::PlaybackFinished);
            drain(&mut run);
            run.handle_event(digit_at, Event::Digit('1'));
            drain(&mut run);
            for _ in 0..3 {
                run.handle_event(digit_at, Event::PlaybackFinished);
                drain(&mut run);
            }
            assert!(run.is_finished(), "the call ends after the goodbye");
            run
        });
    });
}

criterion_group!(benches, compilation, run_steps);
criterion_main!(benches);
