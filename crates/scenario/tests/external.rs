//! The runtime protocol of the actions that need the outside world: one command, one
//! completion event (or `ActionFailed`), and the variables each outcome sets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ivory_scenario::{
    Command, DialStatus, Event, FinishReason, HttpMethod, Run, RunOptions, WaitingFor, compile,
};
use serde_json::{Value, json};

struct Call {
    run: Run,
    start: Instant,
}

impl Call {
    fn new(script: Value) -> Self {
        Call::with(json!({ "name": "t", "script": script }))
    }

    fn with(document: Value) -> Self {
        let program = compile(&document.to_string()).unwrap_or_else(|errors| panic!("{errors}"));
        let start = Instant::now();
        let variables = BTreeMap::from([
            ("from".to_owned(), "+4670 1".to_owned()),
            ("callId".to_owned(), "c1".to_owned()),
        ]);
        let options = RunOptions {
            unix_time_ms_at_start: Some(1_000_000),
            trace: false,
            ..RunOptions::default()
        };
        Call {
            run: Run::with_options(Arc::new(program), variables, start, options),
            start,
        }
    }

    fn commands(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.run.poll_command()).collect()
    }

    fn event(&mut self, at_ms: u64, event: Event) -> Vec<Command> {
        self.run
            .handle_event(self.start + Duration::from_millis(at_ms), event);
        self.commands()
    }

    fn variable(&self, name: &str) -> &str {
        self.run
            .variables()
            .get(name)
            .map_or("<unset>", String::as_str)
    }
}

fn say(text: &str) -> Command {
    Command::Say {
        text: text.to_owned(),
        language: None,
        voice: None,
        speech_rate: 1.0,
        barge_in: false,
    }
}

fn failed(reason: &str) -> Event {
    Event::ActionFailed {
        reason: reason.to_owned(),
    }
}

#[test]
fn request_sends_one_command_and_collects_the_answer() {
    let mut call = Call::new(json!([
        { "request": "https://api.example.com/users/${from}", "options": {
            "method": "POST", "headers": { "X-Key": "k-${callId}" },
            "body": { "caller": "${from}", "n": 1, "quote": "a\"b" }, "collectResponse": true, "timeout": 3 } },
        { "say": "${__apiResponseStatusCode} ${name} ${age} ${vip} ${tags} ${__callApiCurrentTimestamp}" }
    ]));
    assert_eq!(
        call.commands(),
        vec![Command::HttpRequest {
            method: HttpMethod::Post,
            url: "https://api.example.com/users/+4670 1".to_owned(),
            headers: vec![
                ("X-Key".to_owned(), "k-c1".to_owned()),
                ("Content-Type".to_owned(), "application/json".to_owned()),
            ],
            body: Some(r#"{"caller":"+4670 1","n":1,"quote":"a\"b"}"#.to_owned()),
            timeout: Duration::from_secs(3),
        }]
    );
    assert_eq!(call.run.waiting_for(), WaitingFor::HttpResponse);
    assert_eq!(
        call.run.poll_timeout(),
        None,
        "the engine owns the request timeout"
    );
    // A stray event completes nothing.
    assert_eq!(call.event(100, Event::SmsSent), vec![]);
    let answer = Event::HttpResponse {
        status: 200,
        content_type: Some("application/json".to_owned()),
        body: r#"{"name": "Ada", "age": 36, "vip": false, "tags": ["a"], "from": "spoof"}"#
            .to_owned(),
    };
    assert_eq!(
        call.event(250, answer),
        vec![say(r#"200 Ada 36 false ["a"] 1000000"#)]
    );
    assert_eq!(
        call.variable("from"),
        "+4670 1",
        "read-only variables are not overwritten"
    );
    assert_eq!(call.variable("__apiResponseError"), "");
}

#[test]
fn a_failed_request_leaves_an_empty_status_and_goes_on() {
    let mut call = Call::new(json!([
        { "pause": 1 },
        { "request": "http://down.example/x", "options": { "collectResponse": true } },
        { "say": "[${__apiResponseStatusCode}] ${__apiResponseError} at ${__callApiCurrentTimestamp}" }
    ]));
    call.run.handle_timeout(call.start + Duration::from_secs(1));
    let commands = call.commands();
    assert!(matches!(
        &commands[..],
        [Command::HttpRequest {
            method: HttpMethod::Get,
            body: None,
            ..
        }]
    ));
    assert_eq!(
        call.event(1_500, failed("connection refused")),
        vec![
            Command::Note(
                "script[1]: request failed: connection refused; __apiResponseStatusCode is empty"
                    .to_owned()
            ),
            say("[] connection refused at 1001000"),
        ]
    );
}

#[test]
fn capture_matches_key_phrases_and_keeps_the_full_text() {
    let mut call = Call::new(json!([
        { "capture": "answer", "timeout": 8, "speechOptions": { "language": "en-GB",
            "keyPhrases": ["yes", "no thanks"], "maxSilence": 2 }, "dtmfOptions": { "maxInputLength": 2 } },
        { "say": "${answer}|${answer_Full}" }
    ]));
    assert_eq!(
        call.commands(),
        vec![Command::Capture {
            timeout: Duration::from_secs(8),
            language: Some("en-GB".to_owned()),
            key_phrases: vec!["yes".to_owned(), "no thanks".to_owned()],
            max_silence: Duration::from_secs(2),
            dtmf_max_length: Some(2),
        }]
    );
    assert_eq!(call.run.waiting_for(), WaitingFor::Speech);
    let text = "No, thanks. Well... yes!".to_owned();
    assert_eq!(
        call.event(
            3_000,
            Event::SpeechRecognised {
                text,
                key_phrases_heard: None
            }
        ),
        vec![say("no thanks|No, thanks. Well... yes!")]
    );
}

#[test]
fn digits_during_a_capture_win() {
    let script = json!([
        { "capture": "answer", "timeout": 4, "dtmfOptions": { "maxInputLength": 2 } },
        { "say": "${answer}|${answer_Full}" }
    ]);
    let mut call = Call::new(script.clone());
    call.commands();
    assert_eq!(
        call.event(1_000, Event::Digit('4')),
        vec![Command::StopCapture]
    );
    assert_eq!(call.run.waiting_for(), WaitingFor::Digits);
    // A late transcript after StopCapture is ignored.
    let late = Event::SpeechRecognised {
        text: "hello".to_owned(),
        key_phrases_heard: None,
    };
    assert_eq!(call.event(1_100, late), vec![]);
    assert_eq!(call.event(1_200, Event::Digit('2')), vec![say("42|42")]);
    // Digits end at `#` or after the capture's timeout without a new digit.
    let mut call = Call::new(script.clone());
    call.commands();
    call.event(1_000, Event::Digit('7'));
    assert_eq!(
        call.run.poll_timeout(),
        Some(call.start + Duration::from_secs(5))
    );
    call.run.handle_timeout(call.start + Duration::from_secs(5));
    assert_eq!(call.commands(), vec![say("7|7")]);
    // Keys typed ahead before the capture are DTMF input at once: no Capture command.
    let mut call = Call::new(json!([
        { "say": "speak" },
        { "capture": "answer", "dtmfOptions": { "maxInputLength": 1 } },
        { "say": "${answer}" }
    ]));
    call.commands();
    call.event(100, Event::Digit('9'));
    assert_eq!(call.event(200, Event::PlaybackFinished), vec![say("9")]);
    // A capture that fails leaves empty variables.
    let mut call = Call::new(script);
    call.commands();
    let commands = call.event(10, failed("no recogniser"));
    assert_eq!(commands.last(), Some(&say("|")));
    assert!(matches!(&commands[0], Command::Note(note) if note.contains("capture failed")));
}

#[test]
fn recordings_are_played_back_by_last_number_and_identifier() {
    let mut call = Call::new(json!([
        { "record": 30, "options": { "beep": true, "escapeDigits": "#*", "maxSilence": 3,
            "identifier": "msg-${callId}" } },
        { "record": null },
        { "playFromRecording": null },
        { "playFromRecording": 1 },
        { "playFromRecording": "older-call-recording" },
        { "playFromRecording": 5 },
        { "say": "done" }
    ]));
    assert_eq!(
        call.commands(),
        vec![Command::Record {
            max_duration: Some(Duration::from_secs(30)),
            beep: true,
            escape_digits: "#*".to_owned(),
            max_silence: Some(Duration::from_secs(3)),
            identifier: Some("msg-c1".to_owned()),
        }]
    );
    assert_eq!(call.run.waiting_for(), WaitingFor::Recording);
    // The escape digit is the engine's business: the run keeps nothing.
    assert_eq!(call.event(500, Event::Digit('#')), vec![]);
    let finished = |identifier: &str| Event::RecordingFinished {
        identifier: identifier.to_owned(),
        duration_ms: 500,
    };
    let second = call.event(600, finished("msg-c1"));
    assert!(matches!(
        &second[..],
        [Command::Record {
            identifier: None,
            max_duration: None,
            ..
        }]
    ));
    let play = |identifier: &str| Command::PlayRecording {
        identifier: identifier.to_owned(),
    };
    assert_eq!(call.event(700, finished("rec-2")), vec![play("rec-2")]);
    assert_eq!(
        call.event(800, Event::PlaybackFinished),
        vec![play("msg-c1")]
    );
    assert_eq!(
        call.event(900, Event::PlaybackFinished),
        vec![play("older-call-recording")]
    );
    assert_eq!(
        call.event(1_000, failed("not found")),
        vec![
            Command::Note("playback failed: not found".to_owned()),
            Command::Note("script[5]: no such recording in this call; skipped".to_owned()),
            say("done"),
        ]
    );
}

#[test]
fn dial_and_dial_to_many() {
    let mut call = Call::new(json!([
        { "dialToMany": [ { "number": "+461" }, { "number": "${from}" } ],
          "options": { "parallel": true, "ringTimeout": 15, "maxCallDuration": 60, "senderId": "ivory" } },
        { "say": "${dialStatus} ${dialSipCode}" },
        { "dial": "+462" },
        { "say": "${dialStatus} [${dialSipCode}]" }
    ]));
    assert_eq!(
        call.commands(),
        vec![Command::Dial {
            destinations: vec!["+461".to_owned(), "+4670 1".to_owned()],
            parallel: true,
            sender_id: Some("ivory".to_owned()),
            ring_timeout: Duration::from_secs(15),
            max_call_duration: Some(Duration::from_secs(60)),
        }]
    );
    assert_eq!(call.run.waiting_for(), WaitingFor::Dial);
    let busy = Event::DialFinished {
        status: DialStatus::Busy,
        sip_code: Some(486),
    };
    assert_eq!(call.event(100, busy), vec![say("BUSY 486")]);
    call.event(200, Event::PlaybackFinished);
    let answered = Event::DialFinished {
        status: DialStatus::Answered,
        sip_code: None,
    };
    assert_eq!(call.event(300, answered), vec![say("ANSWERED []")]);
    for status in DialStatus::ALL {
        assert_eq!(DialStatus::parse(status.as_str()), Some(status));
    }
}

#[test]
fn machine_detection_and_sms() {
    let mut call = Call::new(json!([
        "machineDetection",
        { "sendSms": { "from": "ivory", "to": "${from}", "text": "machine: ${machineAnswered}" } },
        { "say": "sent" }
    ]));
    assert_eq!(call.commands(), vec![Command::DetectMachine]);
    assert_eq!(call.run.waiting_for(), WaitingFor::MachineDetection);
    assert_eq!(
        call.event(100, Event::MachineDetected { machine: true }),
        vec![Command::SendSms {
            from: Some("ivory".to_owned()),
            to: "+4670 1".to_owned(),
            text: "machine: true".to_owned(),
        }]
    );
    assert_eq!(call.run.waiting_for(), WaitingFor::Sms);
    assert_eq!(call.event(200, Event::SmsSent), vec![say("sent")]);
    let mut failing = Call::new(json!([
        { "sendSms": { "to": "1", "text": "x" } },
        { "say": "after" }
    ]));
    failing.commands();
    assert_eq!(
        failing.event(10, failed("no gateway")),
        vec![
            Command::Note("script[0]: sendSms failed: no gateway".to_owned()),
            say("after")
        ]
    );
}

#[test]
fn every_waiting_command_awaits_completion() {
    for command in [
        say("x"),
        Command::DetectMachine,
        Command::PlayRecording {
            identifier: "r".to_owned(),
        },
        Command::SendSms {
            from: None,
            to: "1".to_owned(),
            text: "t".to_owned(),
        },
    ] {
        assert!(command.awaits_completion(), "{command:?}");
    }
    for command in [
        Command::Hangup,
        Command::StopPlayback,
        Command::StopCapture,
        Command::Note("n".to_owned()),
    ] {
        assert!(!command.awaits_completion(), "{command:?}");
    }
}

#[test]
fn on_hangup_runs_after_the_caller_leaves_and_sends_no_hangup() {
    let mut call = Call::with(json!({ "name": "t",
        "script": [
            { "say": "hello" },
            { "request": "https://api/slow" },
            { "say": "never" }
        ],
        "onHangup": [
            { "setVariable": "left", "value": "yes" },
            { "if": "${__apiResponseStatusCode == ''}", "then": [
                { "request": "https://api/report", "options": { "method": "POST", "body": "left=${left}" } }
            ] },
            { "sendSms": { "to": "${from}", "text": "bye" } }
        ] }));
    call.commands();
    call.event(100, Event::PlaybackFinished);
    // The caller hangs up while the first request is in flight.
    let commands = call.event(200, Event::CallerHungUp);
    assert!(
        matches!(
            &commands[..],
            [Command::HttpRequest { url, body: Some(body), method: HttpMethod::Post, .. }]
                if url == "https://api/report" && body == "left=yes"
        ),
        "{commands:?}"
    );
    assert!(!call.run.is_finished(), "onHangup is still running");
    assert_eq!(
        call.event(250, Event::Digit('1')),
        vec![],
        "digits are ignored now"
    );
    assert_eq!(
        call.event(260, Event::CallerHungUp),
        vec![],
        "a second hang-up changes nothing"
    );
    let commands = call.event(300, failed("timeout"));
    assert!(
        matches!(&commands[..], [Command::Note(_), Command::SendSms { .. }]),
        "{commands:?}"
    );
    assert_eq!(
        call.event(400, Event::SmsSent),
        vec![],
        "no Hangup after the caller left"
    );
    assert!(call.run.is_finished());
    assert_eq!(call.run.finish_reason(), Some(FinishReason::CallerHungUp));
    assert_eq!(
        call.run.report_variables().get("left").map(String::as_str),
        Some("yes")
    );
}

#[test]
fn without_on_hangup_a_hang_up_ends_the_run_at_once() {
    let mut call = Call::new(json!([{ "request": "https://api/slow" }, { "say": "never" }]));
    call.commands();
    assert_eq!(call.event(10, Event::CallerHungUp), vec![]);
    assert!(call.run.is_finished());
    assert_eq!(
        call.event(
            20,
            Event::HttpResponse {
                status: 200,
                content_type: None,
                body: String::new()
            }
        ),
        vec![]
    );
}
