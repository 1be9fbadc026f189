//! Every example in config/scenarios/ compiles cleanly, and the simulator walks its main
//! paths: every menu choice, invalid input, timeouts, the maximum number of tries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ivory_scenario::simulate::{
    ScriptedHttp, SimulationOptions, SimulationReport, parse_simulation_input, simulate,
};
use ivory_scenario::{CompileOptions, FinishReason, Program, compile, compile_with};

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

const START_MS: u64 = 1_790_000_000_000;

fn run_with(name: &str, input: &str, http: &ScriptedHttp) -> SimulationReport {
    run_with_schedules(name, input, http, &[])
}

fn run_with_schedules(
    name: &str,
    input: &str,
    http: &ScriptedHttp,
    open_schedules: &[(&str, bool)],
) -> SimulationReport {
    let inputs = parse_simulation_input(input).expect("a valid input script");
    let variables = BTreeMap::from([
        ("from".to_owned(), "+46700000001".to_owned()),
        ("callId".to_owned(), "call-1".to_owned()),
    ]);
    let mut options = SimulationOptions::new(Instant::now());
    options.unix_time_ms_at_start = Some(START_MS);
    options.open_schedules = open_schedules
        .iter()
        .map(|(name, open)| (name.to_string(), *open))
        .collect();
    let report = simulate(load(name), &inputs, http, variables, &options);
    for line in &report.trace {
        println!("{line}");
    }
    report
}

fn run(name: &str, input: &str) -> SimulationReport {
    run_with(name, input, &ScriptedHttp::new())
}

/// What the caller heard, in order (`say` text without quotes, `play` file names).
fn heard(report: &SimulationReport) -> Vec<String> {
    report
        .trace
        .iter()
        .filter_map(|line| {
            if let Some(text) = line.text.strip_prefix("say ") {
                Some(text.trim_matches('"').to_owned())
            } else {
                line.text
                    .strip_prefix("play ")
                    .map(|file| file.trim_end_matches(" (barge-in)").to_owned())
            }
        })
        .collect()
}

fn variable<'a>(report: &'a SimulationReport, name: &str) -> &'a str {
    report.variables.get(name).map_or("<unset>", String::as_str)
}

fn has_line(report: &SimulationReport, text: &str) -> bool {
    report.trace.iter().any(|line| line.text.contains(text))
}

fn ended_by_hangup_action(report: &SimulationReport) {
    assert!(report.ended_normally);
    assert_eq!(report.finish_reason, Some(FinishReason::HangupAction));
}

#[test]
fn demo_every_choice() {
    for (input, option) in [
        ("1", "demo-option1.wav"),
        ("2", "demo-option2.wav"),
        ("7", "demo-invalid.wav"),
        ("", "demo-invalid.wav"),
    ] {
        let report = run("demo", input);
        ended_by_hangup_action(&report);
        assert_eq!(
            heard(&report),
            [
                "demo-welcome.wav",
                "demo-menu.wav",
                option,
                "demo-goodbye.wav"
            ],
            "{input:?}"
        );
    }
    let timeout = run("demo", "");
    assert!(
        timeout
            .trace
            .iter()
            .any(|line| line.to_string()
                == "00:09.000 script[2] collectInto choice -> \"\" (timeout)")
    );
}

const BANK_MENU: &str =
    "For your balance press 1. For cards press 2. To speak to an agent press 0.";

#[test]
fn infobip_menu_choices() {
    let report = run("infobip-menu", "1");
    ended_by_hangup_action(&report);
    assert_eq!(
        heard(&report),
        [
            "Welcome to Example Bank.",
            BANK_MENU,
            "You chose balance.",
            "Your balance is 100 dollars.",
            "Thank you for calling. Goodbye."
        ]
    );
    assert_eq!(variable(&report, "choice_Meaning"), "balance");
    let cards = run("infobip-menu", "2");
    assert_eq!(heard(&cards)[3], "Your cards are all active.");
    let agent = run("infobip-menu", "0");
    assert_eq!(variable(&agent, "dialStatus"), "ANSWERED");
    assert!(has_line(&agent, "dial +15550100"));
    assert_eq!(heard(&agent)[3], "Thank you for calling. Goodbye.");
    let busy = run("infobip-menu", "dial:BUSY 0");
    assert_eq!(variable(&busy, "dialStatus"), "BUSY");
    assert_eq!(
        heard(&busy)[3],
        "All agents are busy. Please call again later."
    );
}

#[test]
fn infobip_menu_retries_then_gives_up() {
    let retry = run("infobip-menu", "9 2");
    assert_eq!(
        heard(&retry)[..4],
        [
            "Welcome to Example Bank.",
            BANK_MENU,
            "Sorry, that is not a choice.",
            BANK_MENU
        ]
    );
    assert_eq!(variable(&retry, "retries"), "1");
    assert_eq!(variable(&retry, "choice_Meaning"), "cards");
    for input in ["9 9 9", "", "9 wait:20s"] {
        let report = run("infobip-menu", input);
        ended_by_hangup_action(&report);
        let heard = heard(&report);
        assert_eq!(
            heard.iter().filter(|text| *text == BANK_MENU).count(),
            3,
            "{input:?}"
        );
        assert_eq!(
            heard.last().map(String::as_str),
            Some("We could not understand your choice. Goodbye."),
            "{input:?}"
        );
        assert_eq!(variable(&report, "tries"), "3");
    }
}

const WAZO_MAIN: &str = "Press 1 for sales. Press 2 for opening hours. Press 3 for support.";
const WAZO_SUPPORT: &str =
    "Support. Press 1 for billing. Press 2 for technical help. Press star to go back.";

#[test]
fn wazo_menu_choices_and_submenu() {
    let sales = run("wazo-menu", "1");
    ended_by_hangup_action(&sales);
    assert_eq!(
        heard(&sales),
        [
            "demo-welcome.wav",
            WAZO_MAIN,
            "Connecting you to sales.",
            "demo-goodbye.wav"
        ]
    );
    assert_eq!(variable(&sales, "dialStatus"), "ANSWERED");
    let hours = run("wazo-menu", "2");
    assert_eq!(heard(&hours)[2], "We are open Monday to Friday, 9 to 5.");
    let billing = run("wazo-menu", "3 1");
    assert_eq!(
        heard(&billing)[2..],
        [
            WAZO_SUPPORT,
            "Billing questions are answered at example dot com slash billing.",
            "demo-goodbye.wav"
        ]
    );
    let technical = run("wazo-menu", "3 2");
    assert_eq!(heard(&technical)[3], "Please restart your router.");
    let back = run("wazo-menu", "3 * 2");
    assert_eq!(
        heard(&back)[1..],
        [
            WAZO_MAIN,
            WAZO_SUPPORT,
            WAZO_MAIN,
            "We are open Monday to Friday, 9 to 5.",
            "demo-goodbye.wav"
        ]
    );
    // Invalid input in the submenu: two more chances (goToLimit 2), then goodbye.
    let lost = run("wazo-menu", "3 9 9 9");
    ended_by_hangup_action(&lost);
    let heard = heard(&lost);
    assert_eq!(heard.iter().filter(|text| *text == WAZO_SUPPORT).count(), 3);
    assert_eq!(heard.last().map(String::as_str), Some("demo-goodbye.wav"));
    assert!(
        lost.notes
            .iter()
            .any(|note| note.contains("goToLimit 2 reached"))
    );
}

#[test]
fn wazo_menu_invalid_and_timeouts_count_together() {
    for (input, invalid, timeouts) in [
        ("9 8 7", "3", "0"),
        ("", "0", "3"),
        ("9 wait:30s", "1", "2"),
    ] {
        let report = run("wazo-menu", input);
        ended_by_hangup_action(&report);
        let heard = heard(&report);
        assert_eq!(
            heard.iter().filter(|text| *text == WAZO_MAIN).count(),
            3,
            "{input:?}"
        );
        assert_eq!(
            heard.last().map(String::as_str),
            Some("Too many errors. Please call again later. Goodbye."),
            "{input:?}"
        );
        assert_eq!(variable(&report, "invalid"), invalid, "{input:?}");
        assert_eq!(variable(&report, "timeouts"), timeouts, "{input:?}");
    }
    let timeout = run("wazo-menu", "");
    assert!(heard(&timeout).contains(&"I did not hear a choice.".to_owned()));
}

fn elks_http() -> ScriptedHttp {
    let mut http = ScriptedHttp::new();
    http.insert(
        "https://example.com/elks/support",
        200,
        r#"[{"say": "Support is busy."}, "hangup"]"#,
    );
    http.insert(
        "https://example.com/elks/next",
        200,
        r#"{"say": "You reached the operator."}"#,
    );
    http
}

#[test]
fn elks_ivr_inline_choices() {
    let one = run_with("elks-ivr", "1", &elks_http());
    ended_by_hangup_action(&one);
    assert_eq!(
        heard(&one),
        ["demo-menu.wav", "demo-option1.wav", "demo-goodbye.wav"]
    );
    let two = run_with("elks-ivr", "2", &elks_http());
    assert_eq!(
        heard(&two),
        [
            "demo-menu.wav",
            "demo-option2.wav",
            "That was option two.",
            "demo-goodbye.wav"
        ]
    );
}

#[test]
fn elks_ivr_webhooks() {
    let support = run_with("elks-ivr", "3", &elks_http());
    ended_by_hangup_action(&support);
    assert!(has_line(
        &support,
        "http POST https://example.com/elks/support \"callid=call-1&from=%2B46700000001&result=3\""
    ));
    assert_eq!(heard(&support), ["demo-menu.wav", "Support is busy."]);
    let other = run_with("elks-ivr", "7", &elks_http());
    assert!(has_line(&other, "result=7\""));
    assert_eq!(
        heard(&other),
        [
            "demo-menu.wav",
            "You reached the operator.",
            "demo-goodbye.wav"
        ]
    );
    // No input: the prompt plays `repeat` (2) times, then `next` learns why.
    let silent = run_with("elks-ivr", "", &elks_http());
    ended_by_hangup_action(&silent);
    assert_eq!(
        heard(&silent),
        [
            "demo-menu.wav",
            "demo-menu.wav",
            "You reached the operator.",
            "demo-goodbye.wav"
        ]
    );
    assert!(has_line(&silent, "result=failed&why=noinput\""));
}

#[test]
fn elks_ivr_failing_webhooks_hang_up_cleanly() {
    let down = run("elks-ivr", "7");
    assert!(!down.ended_normally);
    assert_eq!(down.finish_reason, Some(FinishReason::ScriptFailed));
    assert!(
        down.notes
            .iter()
            .any(|note| note.contains("the webhook failed"))
    );
    assert!(has_line(&down, "hangup"));
    let mut broken = ScriptedHttp::new();
    broken.insert("https://example.com/elks/next", 200, r#"[{"dance": 1}]"#);
    let report = run_with("elks-ivr", "7", &broken);
    assert_eq!(report.finish_reason, Some(FinishReason::ScriptFailed));
    assert!(
        report
            .notes
            .iter()
            .any(|note| note.contains("not a valid script") && note.contains("unknown action")),
        "{:?}",
        report.notes
    );
}

fn crm(customer_answer: (u16, &str)) -> ScriptedHttp {
    let mut http = ScriptedHttp::new();
    http.insert(
        "https://crm.example.com/api/customers/12345",
        customer_answer.0,
        customer_answer.1,
    );
    http.insert("https://crm.example.com/api/calls", 201, "");
    http
}

#[test]
fn call_api_branches_on_the_answer() {
    let gold = run_with(
        "call-api",
        "1 2 3 4 5 #",
        &crm((
            200,
            r#"{"firstName": "Ada", "tier": "gold", "balance": 12.5}"#,
        )),
    );
    ended_by_hangup_action(&gold);
    assert_eq!(
        heard(&gold)[1..],
        [
            "Welcome back, Ada. Connecting you to your gold line.",
            "Goodbye."
        ]
    );
    assert_eq!(variable(&gold, "__apiResponseStatusCode"), "201");
    assert_eq!(variable(&gold, "tier"), "gold");
    assert!(has_line(&gold, "dial +15550101"));
    let posted = gold
        .trace
        .iter()
        .find(|line| {
            line.text
                .starts_with("http POST https://crm.example.com/api/calls")
        })
        .expect("the call is logged");
    let timestamp: u64 = variable(&gold, "__callApiCurrentTimestamp")
        .parse()
        .expect("a number");
    assert_eq!(timestamp, START_MS + posted.at.as_millis() as u64);
    assert!(
        posted
            .text
            .contains(&format!("\\\"at\\\":\\\"{timestamp}\\\"")),
        "{}",
        posted.text
    );
    let xml = run_with(
        "call-api",
        "1 2 3 4 5 #",
        &crm((
            200,
            "<customer><firstName>Bo</firstName><tier>silver</tier><balance>7</balance></customer>",
        )),
    );
    assert_eq!(heard(&xml)[1], "Hello Bo. Your balance is 7 dollars.");
}

#[test]
fn call_api_server_problems_end_politely() {
    let sorry = "Sorry, we cannot find your account right now. Goodbye.";
    let missing = run_with(
        "call-api",
        "1 2 3 4 5 #",
        &crm((404, r#"{"error": "unknown"}"#)),
    );
    ended_by_hangup_action(&missing);
    assert_eq!(heard(&missing)[1..], [sorry]);
    let down = run("call-api", "1 2 3 4 5 #");
    ended_by_hangup_action(&down);
    assert_eq!(heard(&down)[1..], [sorry]);
    assert_eq!(variable(&down, "__apiResponseStatusCode"), "");
    assert!(variable(&down, "__apiResponseError").contains("connection refused"));
    assert!(
        down.notes
            .iter()
            .any(|note| note.contains("request failed"))
    );
}

#[test]
fn on_hangup_runs_only_when_the_caller_leaves() {
    let completed = run("on-hangup", "4");
    ended_by_hangup_action(&completed);
    assert!(!has_line(&completed, "http POST"));
    let mut http = ScriptedHttp::new();
    http.insert("https://example.com/api/abandoned", 204, "");
    let early = run_with("on-hangup", "wait:1s hangup", &http);
    assert!(early.ended_normally);
    assert_eq!(early.finish_reason, Some(FinishReason::CallerHungUp));
    assert_eq!(variable(&early, "hungUpEarly"), "true");
    assert!(has_line(
        &early,
        "http POST https://example.com/api/abandoned"
    ));
    assert!(has_line(
        &early,
        "sms to +46700000001: \"Sorry we missed you."
    ));
    assert!(has_line(&early, "sms sent"));
    assert!(!has_line(&early, "00:01.000 hangup"));
    let after_rating = run_with("on-hangup", "5 hangup", &http);
    assert_eq!(variable(&after_rating, "rating"), "5");
    assert!(has_line(&after_rating, "\\\"rating\\\":\\\"5\\\""));
}

#[test]
fn speech_capture_with_dtmf_fallback() {
    for (input, department, answer) in [
        (
            "speech:\"I need SUPPORT, please\"",
            "support",
            "Support it is.",
        ),
        ("speech:sales", "sales", "Sales it is."),
        ("1", "1", "Sales it is."),
        ("2", "2", "Support it is."),
        ("speech:bananas", "", "Sorry, I did not understand."),
        ("", "", "Sorry, I did not understand."),
    ] {
        let report = run("speech-capture", input);
        ended_by_hangup_action(&report);
        assert_eq!(variable(&report, "department"), department, "{input}");
        assert_eq!(
            heard(&report).last().map(String::as_str),
            Some(answer),
            "{input}"
        );
    }
    let spoken = run("speech-capture", "speech:\"I need SUPPORT, please\"");
    assert_eq!(
        variable(&spoken, "department_Full"),
        "I need SUPPORT, please"
    );
    let pressed = run("speech-capture", "2");
    assert!(has_line(&pressed, "stop capture"));
}

const GOODBYE: &str = "demo-goodbye.wav";
const NO_CHOICE: &str = "I did not hear a choice.";
const TOO_MANY_ERRORS: &str = "Too many errors. Please call again later. Goodbye.";

/// The Wazo minimal menu (alone, or behind business hours while open), every path.
fn walk_wazo_minimal(run: &dyn Fn(&str) -> SimulationReport) {
    for (input, option) in [("1", "demo-option1.wav"), ("2", "demo-option2.wav")] {
        let report = run(input);
        ended_by_hangup_action(&report);
        assert_eq!(
            heard(&report),
            ["demo-welcome.wav", "demo-menu.wav", option, GOODBYE],
            "{input}"
        );
        assert_eq!(variable(&report, "tries"), "1");
        assert!(report.notes.is_empty(), "{:?}", report.notes);
    }
    // One invalid key, then a choice; one timeout, then a choice (pressed during the menu).
    let invalid = run("9 2");
    assert_eq!(
        heard(&invalid),
        [
            "demo-welcome.wav",
            "demo-menu.wav",
            "demo-invalid.wav",
            "demo-menu.wav",
            "demo-option2.wav",
            GOODBYE
        ]
    );
    assert_eq!(variable(&invalid, "tries"), "2");
    let timeout = run("wait:10s 1");
    assert_eq!(
        heard(&timeout),
        [
            "demo-welcome.wav",
            "demo-menu.wav",
            NO_CHOICE,
            "demo-menu.wav",
            "demo-option1.wav",
            GOODBYE
        ]
    );
    assert!(has_line(&timeout, "collectInto choice -> \"\" (timeout)"));
    // The third try still counts.
    let last_chance = run("9 wait:10s 1");
    assert_eq!(variable(&last_chance, "tries"), "3");
    assert_eq!(
        heard(&last_chance).last().map(String::as_str),
        Some(GOODBYE)
    );
    // Three failures of any kind: the error prompt, then hang-up.
    for (input, failures) in [("9 8 7", ["demo-invalid.wav"; 3]), ("", [NO_CHOICE; 3])] {
        let report = run(input);
        ended_by_hangup_action(&report);
        let heard = heard(&report);
        assert_eq!(
            heard,
            [
                "demo-welcome.wav",
                "demo-menu.wav",
                failures[0],
                "demo-menu.wav",
                failures[1],
                "demo-menu.wav",
                failures[2],
                TOO_MANY_ERRORS
            ],
            "{input:?}"
        );
        assert_eq!(variable(&report, "tries"), "3");
        assert!(report.notes.is_empty(), "{:?}", report.notes);
    }
    let mixed = run("9 wait:20s");
    assert_eq!(
        heard(&mixed)[2..],
        [
            "demo-invalid.wav",
            "demo-menu.wav",
            NO_CHOICE,
            "demo-menu.wav",
            NO_CHOICE,
            TOO_MANY_ERRORS
        ]
    );
    // Hanging up mid-menu ends the call there.
    let gone = run("wait:3s hangup");
    assert!(gone.ended_normally);
    assert_eq!(gone.finish_reason, Some(FinishReason::CallerHungUp));
    assert_eq!(heard(&gone), ["demo-welcome.wav", "demo-menu.wav"]);
}

#[test]
fn wazo_minimal_every_path() {
    walk_wazo_minimal(&|input| run("wazo-minimal", input));
}

#[test]
fn business_hours_open_runs_the_menu() {
    walk_wazo_minimal(&|input| {
        run_with_schedules(
            "business-hours",
            input,
            &ScriptedHttp::new(),
            &[("office", true)],
        )
    });
    let report = run_with_schedules(
        "business-hours",
        "1",
        &ScriptedHttp::new(),
        &[("office", true)],
    );
    assert!(has_line(&report, "isOpen(\"office\") -> true"));
}

const CLOSED: &str = "We are closed. Our opening hours are Monday to Friday, 8 to 5.";

#[test]
fn business_hours_closed_says_so() {
    for input in ["", "1", "wait:10s 2"] {
        let report = run_with_schedules(
            "business-hours",
            input,
            &ScriptedHttp::new(),
            &[("office", false)],
        );
        ended_by_hangup_action(&report);
        assert_eq!(heard(&report), [CLOSED, GOODBYE], "{input:?}");
        assert_eq!(variable(&report, "choice"), "<unset>");
        assert!(report.notes.is_empty(), "{:?}", report.notes);
    }
    // No schedule called `office`: closed, and the call log says why.
    let unknown = run_with_schedules("business-hours", "1", &ScriptedHttp::new(), &[]);
    assert_eq!(heard(&unknown), [CLOSED, GOODBYE]);
    assert_eq!(
        unknown.notes,
        ["script[0]: isOpen(\"office\"): no schedules are available to this run; false"]
    );
}

#[test]
fn business_hours_schedule_name_is_checked_against_the_configuration() {
    let path = format!(
        "{}/../../config/scenarios/business-hours.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("readable");
    let known = |names: &[&str]| CompileOptions {
        schedules: Some(names.iter().map(|name| name.to_string()).collect()),
        ..CompileOptions::default()
    };
    assert!(compile_with(&text, &known(&["office", "support"])).is_ok());
    let errors = compile_with(&text, &known(&["support"])).expect_err("unknown schedule");
    assert_eq!(errors.errors.len(), 1, "{errors}");
    assert_eq!(
        errors.errors[0].to_string(),
        "script[0].if: invalid expression: column 4: unknown schedule \"office\"; the schedules are: support"
    );
}

const SATISFACTION: &str =
    "Press 1 if you were satisfied with our service, 2 if neutral, 3 if not.";
const RECOMMEND: &str = "Would you recommend us to a friend? Press 1 for yes, 2 for no.";
const SCORE: &str = "From 0 to 9, how likely are you to call us again?";
const SAVED: &str = "Your answers have been saved. Thank you!";
const NOT_SAVED: &str = "Sorry, we could not save your answers this time. Thank you all the same.";
const SURVEY_API: &str = "https://surveys.example.com/api/answers";

fn survey_api(status: u16) -> ScriptedHttp {
    let mut http = ScriptedHttp::new();
    http.insert(SURVEY_API, status, r#"{"id": 17}"#);
    http
}

/// The JSON body of the survey's POST, read back from its trace line.
fn posted_answers(report: &SimulationReport) -> serde_json::Value {
    let prefix = format!("http POST {SURVEY_API} ");
    let line = report
        .trace
        .iter()
        .find_map(|line| line.text.strip_prefix(&prefix))
        .expect("the answers are posted");
    // The trace shows the body as a quoted, escaped string (short enough not to be cut).
    let body: String = serde_json::from_str(line).expect("a quoted body");
    serde_json::from_str(&body).expect("a JSON body")
}

#[test]
fn survey_answers_are_posted() {
    for (input, satisfaction, recommend, score) in [
        ("1 1 9", "satisfied", "yes", "9"),
        ("2 2 5", "neutral", "no", "5"),
        ("3 1 0", "unsatisfied", "yes", "0"),
    ] {
        let report = run_with("survey", input, &survey_api(201));
        ended_by_hangup_action(&report);
        assert_eq!(
            heard(&report),
            [
                "Thank you for taking our short survey. Please answer with your phone keys.",
                SATISFACTION,
                RECOMMEND,
                SCORE,
                SAVED,
                GOODBYE
            ],
            "{input}"
        );
        assert_eq!(
            posted_answers(&report),
            serde_json::json!({
                "satisfaction": satisfaction,
                "recommend": recommend,
                "score": score
            })
        );
        assert_eq!(variable(&report, "satisfaction"), &input[..1]);
        assert_eq!(variable(&report, "__apiResponseStatusCode"), "201");
        assert!(report.notes.is_empty(), "{:?}", report.notes);
    }
}

#[test]
fn survey_retries_invalid_and_missing_answers() {
    // 5 is no answer to the first question, 3 none to the second, * none to the third.
    let report = run_with("survey", "5 2 3 1 * 8", &survey_api(200));
    assert_eq!(
        heard(&report)[1..],
        [
            SATISFACTION,
            "Sorry, please answer with 1, 2 or 3.",
            SATISFACTION,
            RECOMMEND,
            "Sorry, please answer with 1 or 2.",
            RECOMMEND,
            SCORE,
            "Sorry, please press a key from 0 to 9.",
            SCORE,
            SAVED,
            GOODBYE
        ]
    );
    assert_eq!(
        posted_answers(&report),
        serde_json::json!({ "satisfaction": "neutral", "recommend": "yes", "score": "8" })
    );
    // Nobody answers: each question is asked 3 times, then the survey goes on without it.
    let silent = run_with("survey", "", &survey_api(200));
    ended_by_hangup_action(&silent);
    let heard_silent = heard(&silent);
    for question in [SATISFACTION, RECOMMEND, SCORE] {
        assert_eq!(
            heard_silent.iter().filter(|text| *text == question).count(),
            3
        );
    }
    assert_eq!(
        posted_answers(&silent),
        serde_json::json!({ "satisfaction": "", "recommend": "", "score": "" })
    );
    assert_eq!(silent.notes.len(), 3, "{:?}", silent.notes);
    assert!(
        silent
            .notes
            .iter()
            .all(|note| note.contains("goToLimit 2 reached"))
    );
    assert_eq!(heard_silent[heard_silent.len() - 2..], [SAVED, GOODBYE]);
}

#[test]
fn survey_api_failures_are_told_to_the_caller() {
    let refused = run_with("survey", "1 1 9", &survey_api(500));
    ended_by_hangup_action(&refused);
    assert_eq!(variable(&refused, "__apiResponseStatusCode"), "500");
    assert_eq!(heard(&refused)[4..], [NOT_SAVED, GOODBYE]);
    let down = run("survey", "1 1 9");
    ended_by_hangup_action(&down);
    assert_eq!(variable(&down, "__apiResponseStatusCode"), "");
    assert_eq!(heard(&down)[4..], [NOT_SAVED, GOODBYE]);
    assert!(
        down.notes
            .iter()
            .any(|note| note.contains("request failed"))
    );
}

#[test]
fn closed_says_so_and_hangs_up() {
    for input in ["", "1"] {
        let report = run("closed", input);
        ended_by_hangup_action(&report);
        assert_eq!(heard(&report), [CLOSED, GOODBYE], "{input:?}");
    }
}

#[test]
fn record_voicemail_then_play_it_back() {
    let until_limit = run("record", "");
    ended_by_hangup_action(&until_limit);
    for expected in [
        "00:02.000 record (at most 20s)",
        "00:05.000 recording finished voicemail-call-1 (3000 ms)",
        "00:07.000 play recording voicemail-call-1",
    ] {
        assert!(
            until_limit
                .trace
                .iter()
                .any(|line| line.to_string() == expected),
            "{expected}"
        );
    }
    assert_eq!(
        heard(&until_limit),
        [
            "Please leave a message after the beep. Press hash when you are done.",
            "You said:",
            "recording voicemail-call-1",
            GOODBYE
        ]
    );
    // `#` (the escape digit) ends the recording; other keys do not.
    let hash = run("record", "wait:2500ms 5 wait:500ms #");
    assert!(has_line(
        &hash,
        "recording finished voicemail-call-1 (1000 ms)"
    ));
    assert_eq!(
        heard(&hash)[1..],
        ["You said:", "recording voicemail-call-1", GOODBYE]
    );
    // Hanging up while recording: nothing is played back.
    let gone = run("record", "wait:3s hangup");
    assert!(gone.ended_normally);
    assert_eq!(gone.finish_reason, Some(FinishReason::CallerHungUp));
    assert!(!has_line(&gone, "play recording"));
}
