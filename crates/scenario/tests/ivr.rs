//! 46elks' `ivr` action in the interpreter: prompt, input, repeats, inline choices and
//! webhooks, driven event by event.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ivory_scenario::{Command, Event, FinishReason, MAXIMUM_FETCHED_SCRIPTS, Run, compile};
use serde_json::{Value, json};

struct Call {
    run: Run,
    start: Instant,
}

impl Call {
    fn new(script: Value) -> Self {
        let text = json!({ "name": "t", "script": script }).to_string();
        let program = compile(&text).unwrap_or_else(|errors| panic!("{errors}"));
        let start = Instant::now();
        let variables = BTreeMap::from([("callId".to_owned(), "c".to_owned())]);
        Call {
            run: Run::new(Arc::new(program), variables, start),
            start,
        }
    }

    /// Commands as short strings.
    fn drain(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.run.poll_command())
            .map(|command| match command {
                Command::Play { source, .. } => format!("play {source}"),
                Command::Say { text, .. } => format!("say {text}"),
                Command::StopPlayback => "stop".to_owned(),
                Command::Hangup => "hangup".to_owned(),
                Command::Note(note) => format!("note {note}"),
                Command::HttpRequest { url, body, .. } => {
                    format!("POST {url} {}", body.unwrap_or_default())
                }
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn event(&mut self, at_ms: u64, event: Event) -> Vec<String> {
        self.run
            .handle_event(self.start + Duration::from_millis(at_ms), event);
        self.drain()
    }

    fn timeout(&mut self) -> Vec<String> {
        let deadline = self.run.poll_timeout().expect("a deadline");
        self.run.handle_timeout(deadline);
        self.drain()
    }

    fn answer(&mut self, at_ms: u64, body: &str) -> Vec<String> {
        let event = Event::HttpResponse {
            status: 200,
            content_type: Some("application/json".to_owned()),
            body: body.to_owned(),
        };
        self.event(at_ms, event)
    }
}

#[test]
fn multi_digit_input_ends_at_hash_and_goes_to_next() {
    let mut call = Call::new(json!([
        { "ivr": "pin.wav", "digits": 4, "timeout": 3, "next": "https://h/next" },
        { "say": "after" }
    ]));
    assert_eq!(call.drain(), ["play pin.wav"]);
    assert_eq!(
        call.event(1_000, Event::PlaybackFinished),
        Vec::<String>::new()
    );
    assert_eq!(
        call.run.poll_timeout(),
        Some(call.start + Duration::from_secs(4))
    );
    call.event(1_500, Event::Digit('1'));
    assert_eq!(
        call.event(2_000, Event::Digit('#')),
        ["POST https://h/next callid=c&from=&result=1"]
    );
    assert_eq!(
        call.answer(2_100, r#"[{"say": "fetched"}]"#),
        ["say fetched"]
    );
    // The fetched actions run in place of the ivr; then the script goes on.
    assert_eq!(call.event(3_000, Event::PlaybackFinished), ["say after"]);
}

#[test]
fn single_digit_input_takes_hash_as_a_key() {
    let mut call = Call::new(json!([
        { "ivr": "menu.wav", "#": { "say": "hash" }, "1": { "say": "one" } }
    ]));
    call.drain();
    assert_eq!(call.event(500, Event::Digit('#')), ["stop", "say hash"]);
}

#[test]
fn unmatched_input_without_next_repeats_then_goes_on() {
    let mut call = Call::new(json!([
        { "ivr": "menu.wav", "repeat": 2, "timeout": 40, "1": [ { "say": "one" } ] },
        { "say": "after" }
    ]));
    assert_eq!(call.drain(), ["play menu.wav"]);
    call.event(1_000, Event::PlaybackFinished);
    // An out-of-range 46elks timeout means 10 s.
    assert_eq!(
        call.run.poll_timeout(),
        Some(call.start + Duration::from_secs(11))
    );
    assert_eq!(call.event(2_000, Event::Digit('5')), ["play menu.wav"]);
    call.event(3_000, Event::PlaybackFinished);
    assert_eq!(call.timeout(), ["say after"]);
}

#[test]
fn no_input_without_next_goes_on_after_the_repeats() {
    let mut call = Call::new(json!([{ "ivr": "menu.wav", "1": { "say": "one" } }, "hangup"]));
    let mut plays = call.drain().len();
    for round in 0..3 {
        call.event(round * 20_000 + 1_000, Event::PlaybackFinished);
        let next = call.timeout();
        plays += next
            .iter()
            .filter(|command| command.starts_with("play"))
            .count();
        if round == 2 {
            assert_eq!(next, ["hangup"]);
        }
    }
    assert_eq!(plays, 3, "repeat defaults to 3 plays");
}

#[test]
fn inline_url_choices_and_a_goto_inside_a_fetched_script() {
    let mut call = Call::new(json!([
        { "ivr": "menu.wav", "2": "https://h/two" },
        { "say": "after" }
    ]));
    call.drain();
    assert_eq!(
        call.event(500, Event::Digit('2')),
        ["stop", "POST https://h/two callid=c&from=&result=2"]
    );
    let fetched = r#"[{"actionId": "top", "say": "fetched"},
                      {"setVariable": "n", "value": "${n + 1}"},
                      {"if": "${n < 2}", "then": [{"goTo": "top"}]}]"#;
    assert_eq!(call.answer(600, fetched), ["say fetched"]);
    assert_eq!(call.event(700, Event::PlaybackFinished), ["say fetched"]);
    assert_eq!(call.event(800, Event::PlaybackFinished), ["say after"]);
}

#[test]
fn bad_webhook_answers_hang_up_with_a_note() {
    for (status, body, note) in [
        (200, "not json", "the webhook answer is not JSON"),
        (200, r#"[{"say": 5}]"#, "fetched"),
        (500, "", "the webhook answered 500"),
    ] {
        let mut call = Call::new(json!([{ "ivr": "menu.wav", "next": "https://h/n" }]));
        call.drain();
        call.event(100, Event::Digit('1'));
        let event = Event::HttpResponse {
            status,
            content_type: None,
            body: body.to_owned(),
        };
        let commands = call.event(200, event);
        assert_eq!(commands.len(), 2, "{commands:?}");
        assert!(commands[0].starts_with("note script[0]: "), "{commands:?}");
        assert!(
            commands[0].contains(note) || commands[0].contains("not a valid script"),
            "{commands:?}"
        );
        assert_eq!(commands[1], "hangup");
        assert_eq!(call.run.finish_reason(), Some(FinishReason::ScriptFailed));
    }
}

#[test]
fn a_webhook_that_answers_itself_forever_is_cut_off() {
    let mut call = Call::new(json!([{ "ivr": "menu.wav", "next": "https://h/loop" }]));
    call.drain();
    let again = r#"{"ivr": "menu.wav", "next": "https://h/loop"}"#;
    let mut fetches = 0;
    for round in 0..(MAXIMUM_FETCHED_SCRIPTS as u64 + 5) {
        let at = round * 100;
        let posted = call.event(at, Event::Digit('1'));
        if call.run.is_finished() {
            break;
        }
        assert!(
            posted.iter().any(|command| command.starts_with("POST")),
            "{posted:?}"
        );
        fetches += 1;
        call.answer(at + 50, again);
    }
    assert_eq!(fetches, MAXIMUM_FETCHED_SCRIPTS + 1);
    assert_eq!(call.run.finish_reason(), Some(FinishReason::ScriptFailed));
}
