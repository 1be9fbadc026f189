//! The flow graph: nodes per action, labelled edges for every way control can go.

use ivory_scenario::compile;
use ivory_scenario::graph::{GraphFormat, graph};

fn example(name: &str) -> ivory_scenario::Program {
    let path = format!(
        "{}/../../config/scenarios/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("readable");
    compile(&text).expect("valid")
}

#[test]
fn demo_as_dot() {
    let dot = graph(&example("demo"), GraphFormat::Dot);
    println!("{dot}");
    for expected in [
        "digraph \"demo\" {",
        "  call_start [label=\"start: demo\", shape=ellipse];",
        "  a0 [label=\"play demo-welcome.wav\", shape=box];",
        "  a2 [label=\"collectInto choice (max 1)\", shape=box];",
        "  a3 [label=\"switch ${choice}\", shape=diamond];",
        "  call_start -> a0;",
        "  a0 -> a1;",
        "  a2 -> a3 [label=\"digits / timeout\"];",
        "  a3 -> a4 [label=\"\\\"1\\\"\"];",
        "  a3 -> a6 [label=\"__default (invalid)\"];",
        "  a4 -> a7;",
        "  a8 -> call_end;",
    ] {
        assert!(
            dot.lines().any(|line| line == expected),
            "missing {expected:?} in\n{dot}"
        );
    }
}

#[test]
fn wazo_menu_as_mermaid() {
    let mermaid = graph(&example("wazo-menu"), GraphFormat::Mermaid);
    println!("{mermaid}");
    assert!(mermaid.starts_with("flowchart TD\n"));
    for expected in [
        "  a3[\"main: say #quot;Press 1 for sales. Press 2 for opening hour…\"]",
        "  a5{\"switch ${main_choice}\"}",
        "  a7{\"if ${invalid + timeouts #lt; 3}\"}",
        "  a5 -->|\"#quot;#quot; (timeout)\"| a6",
        "  a5 -->|\"__default (invalid)\"| a15",
        "  a9 -->|\"goTo (limit 10)\"| a3",
        "  a9 -->|\"limit reached\"| a10",
        "  a26 -->|\"#quot;*#quot;\"| a27",
        "  a33 --> call_end",
        "  call_end([\"hang up\"])",
    ] {
        assert!(
            mermaid.lines().any(|line| line == expected),
            "missing {expected:?} in\n{mermaid}"
        );
    }
}

#[test]
fn loops_ivr_dial_and_on_hangup() {
    let program = compile(
        &serde_json::json!({ "name": "x", "script": [
        { "while": "${n < 3}", "do": [ { "setVariable": "n", "value": "${n + 1}" } ] },
        { "ivr": "m.wav", "1": { "dial": "+461" }, "2": "https://h/2", "next": "https://h/n" },
        "hangup"
    ], "onHangup": [ { "sendSms": { "to": "1", "text": "bye" } } ] })
        .to_string(),
    )
    .expect("valid");
    let dot = graph(&program, GraphFormat::Dot);
    println!("{dot}");
    for expected in [
        "  a0 -> a1 [label=\"true\"];",
        "  a1 -> a0;",
        "  a0 -> a2 [label=\"false: done\"];",
        "  a2 [label=\"ivr m.wav\", shape=diamond];",
        "  a2 -> a3 [label=\"\\\"1\\\"\"];",
        "  a3 -> a4 [label=\"ANSWERED / NO_ANSWER / BUSY / DECLINED / FAILED\"];",
        "  a2 -> a2 [label=\"no input: again (up to 3 plays)\"];",
        "  a2 -> a2_next [label=\"other input / no input\"];",
        "  a2_next -> a4 [label=\"fetched actions\"];",
        "  on_hangup -> a5;",
        "  a5 -> on_hangup_done;",
        "  a2 -> a2_fetch1 [label=\"\\\"2\\\"\"];",
        "  a2_fetch1 [label=\"POST https://h/2\", shape=box];",
    ] {
        assert!(
            dot.lines().any(|line| line == expected),
            "missing {expected:?} in\n{dot}"
        );
    }
}
