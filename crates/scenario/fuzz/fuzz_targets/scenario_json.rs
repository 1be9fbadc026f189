//! Arbitrary bytes as a scenario: compiling never panics; what compiles also runs (a
//! short simulated call) without panicking.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ivory_scenario::simulate::{ScriptedHttp, SimulatedInput, SimulationOptions, simulate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(program) = ivory_scenario::compile(text) else {
        return;
    };
    let _ = ivory_scenario::graph::graph(&program, ivory_scenario::graph::GraphFormat::Mermaid);
    let mut options = SimulationOptions::new(Instant::now());
    options.maximum_duration = std::time::Duration::from_secs(120);
    let inputs = [
        SimulatedInput::Key('1'),
        SimulatedInput::Speech("yes".to_owned()),
        SimulatedInput::Key('#'),
        SimulatedInput::Hangup,
    ];
    let _ = simulate(
        Arc::new(program),
        &inputs,
        &ScriptedHttp::new(),
        BTreeMap::new(),
        &options,
    );
});
