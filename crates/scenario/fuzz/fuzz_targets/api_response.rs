//! Arbitrary bytes as a Call API answer (JSON or XML) and as a 46elks webhook answer: the
//! run reads them without panicking.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ivory_scenario::{Event, Run, compile};
use libfuzzer_sys::fuzz_target;

const SCENARIO: &str = r#"{"name": "f", "script": [
    {"request": "https://h/x", "options": {"collectResponse": true}},
    {"ivr": "m.wav", "next": "https://h/n"},
    {"say": "${a} ${b}"}
]}"#;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data).into_owned();
    let Ok(program) = compile(SCENARIO) else {
        return;
    };
    let now = Instant::now();
    let mut run = Run::new(Arc::new(program), BTreeMap::new(), now);
    while run.poll_command().is_some() {}
    for content_type in ["application/json", "application/xml"] {
        run.handle_event(
            now,
            Event::HttpResponse {
                status: 200,
                content_type: Some(content_type.to_owned()),
                body: body.clone(),
            },
        );
        while run.poll_command().is_some() {}
        run.handle_event(now, Event::Digit('1'));
        while run.poll_command().is_some() {}
    }
});
