//! Speech capture through the real server: phrases spoken by espeak-ng (several voices and
//! speeds) are sent by the test UA as G.711 RTP to a `capture` with key phrases, endpointed by
//! ivory's voice-activity detector and recognised by pocketsphinx; the call log says what was
//! matched. Silence and noise must match nothing.
//!
//! The key-phrase accuracy on this synthetic set is printed (`cargo test -p ivory-server --test
//! e2e speech -- --nocapture`). The issue's target is 90 %; measured 79–88 % (the carrier phrases
//! "yes please" and "talk to an agent" are the usual misses), so the test holds the line at
//! [`ACCURACY_FLOOR`] to catch regressions while the target is still open.

use std::sync::Arc;
use std::time::Duration;

use ivory_asr::labelled_set::{KEY_PHRASES, PHRASES, VOICES, spoken};
use tokio::time::sleep;

use crate::CALL_TIMEOUT;
use crate::support::rtp_peer::RtpPeer;
use crate::support::scenario_call::{call_2000, scenario_file, server_on_2000};
use crate::support::test_ua::{TestUa, Transport};
use crate::support::{Server, peer_available};

/// The least key-phrase accuracy accepted (per cent): a regression guard, below the 90 % target.
const ACCURACY_FLOOR: f64 = 75.0;

/// Calls in flight at once.
const CONCURRENT_CALLS: usize = 6;

const MODEL: &str = "/usr/share/pocketsphinx/model/en-us/en-us/mdef";

fn model_available() -> bool {
    let found = std::path::Path::new(MODEL).is_file();
    if !found {
        if std::env::var("IVORY_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
            panic!("pocketsphinx-en-us is not installed and IVORY_REQUIRE_PEERS=1 (see .ci/run)");
        }
        eprintln!("SKIPPED: pocketsphinx-en-us is not installed");
    }
    found
}

async fn speech_server() -> Server {
    let keys = KEY_PHRASES
        .iter()
        .map(|phrase| format!("\"{phrase}\""))
        .collect::<Vec<_>>()
        .join(",");
    let scenario = scenario_file(
        "speech",
        &format!(
            r#"{{"name":"speech-e2e","script":[
              {{"capture":"answer","timeout":4,
                "speechOptions":{{"language":"en-US","keyPhrases":[{keys}],"maxSilence":1}}}},
              "hangup"]}}"#
        ),
    );
    server_on_2000("speech", scenario, "[asr]\nthreads = 2\n").await
}

/// Calls 2000, says `audio` 300 ms after the answer, waits for ivory's hang-up; the Call-ID.
async fn say_to_capture(server: Arc<Server>, audio: Vec<i16>) -> String {
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    sleep(Duration::from_millis(300)).await;
    peer.play(&audio);
    peer.flush().await;
    assert!(
        ua.wait_for_bye(&call, CALL_TIMEOUT).await.is_some(),
        "ivory did not hang up\n{}",
        server.stderr_tail()
    );
    call.call_id
}

struct Case {
    label: String,
    expected: &'static str,
    audio: Vec<i16>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoken_key_phrases_are_recognised_and_silence_and_noise_match_nothing() {
    if !peer_available("espeak-ng") || !model_available() {
        return;
    }
    let mut cases = Vec::new();
    for (voice, speed) in VOICES {
        for (text, expected) in PHRASES {
            cases.push(Case {
                label: format!("{voice}@{speed} {text:?}"),
                expected,
                audio: spoken(text, voice, speed).expect("espeak-ng speaks"),
            });
        }
    }
    cases.push(Case {
        label: "silence".into(),
        expected: "",
        audio: vec![0; 8000 * 2],
    });
    cases.push(Case {
        label: "noise -30 dBm0".into(),
        expected: "",
        audio: ivory_dsp::tone::white_noise(2500, -30.0, 7),
    });
    cases.push(Case {
        label: "noise -20 dBm0".into(),
        expected: "",
        audio: ivory_dsp::tone::white_noise(2500, -20.0, 11),
    });

    let server = Arc::new(speech_server().await);
    let mut call_ids = Vec::new();
    for batch in cases.chunks(CONCURRENT_CALLS) {
        let mut calls = tokio::task::JoinSet::new();
        for (index, case) in batch.iter().enumerate() {
            let (server, audio) = (server.clone(), case.audio.clone());
            calls.spawn(async move { (index, say_to_capture(server, audio).await) });
        }
        let mut ids = vec![String::new(); batch.len()];
        while let Some(finished) = calls.join_next().await {
            let (index, call_id) = finished.expect("a call task");
            ids[index] = call_id;
        }
        call_ids.extend(ids);
    }
    let logged = server
        .wait_for_calls(cases.len(), Duration::from_secs(20))
        .await;

    let mut right = 0;
    let mut spoken_cases = 0;
    let mut failures = Vec::new();
    for (case, call_id) in cases.iter().zip(&call_ids) {
        let line = logged
            .iter()
            .find(|line| line["callId"] == call_id.as_str())
            .unwrap_or_else(|| panic!("no call-log line for {}", case.label));
        let matched = line["variables"]["answer"].as_str().unwrap_or("<unset>");
        let full = line["variables"]["answer_Full"]
            .as_str()
            .unwrap_or("<unset>");
        let good = matched == case.expected;
        println!(
            "{:<40} expected {:<10} matched {:<10} heard {full:?}",
            case.label,
            format!("{:?}", case.expected),
            format!("{matched:?}")
        );
        if case.expected.is_empty() {
            // No false match on silence or noise, ever.
            assert!(good, "{}: matched {matched:?} (heard {full:?})", case.label);
            continue;
        }
        spoken_cases += 1;
        if good {
            right += 1;
        } else {
            failures.push(format!(
                "{}: matched {matched:?}, heard {full:?}",
                case.label
            ));
        }
        // The delivery report's spokenInput/matchedSpokenInput come from the `speech` entries.
        assert_eq!(
            line["speech"][0]["text"].as_str(),
            Some(full),
            "{}",
            case.label
        );
    }
    let accuracy = f64::from(right) / f64::from(spoken_cases) * 100.0;
    println!("key-phrase accuracy: {right}/{spoken_cases} = {accuracy:.1} %");
    assert!(
        accuracy >= ACCURACY_FLOOR,
        "key-phrase accuracy {right}/{spoken_cases} = {accuracy:.1} % is under {ACCURACY_FLOOR} %:\n{}",
        failures.join("\n")
    );
}
