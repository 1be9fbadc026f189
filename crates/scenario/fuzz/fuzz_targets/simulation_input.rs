//! Arbitrary text as a simulator input script and as a scripted HTTP answer.
#![no_main]

use ivory_scenario::simulate::{ScriptedHttp, parse_simulation_input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_simulation_input(&text);
    let _ = ScriptedHttp::new().insert_spec(&text);
});
