//! Calls out: a caller (the test UA) reaches a number whose scenario dials; sipp UAS processes play
//! the called parties (answering with RTP echoed, busy, declining, never answering, a carrier that
//! demands digest auth) and baresip registers as a user and is dialled as `user:alice`. Checked:
//! the call log (dialStatus, the dialled legs and their RTP counters), the audio that crossed the
//! bridge (a 1 kHz tone heard back), digits crossing, CANCEL to the losers, and no live leg left.

use std::time::Duration;

use serde_json::Value;
use tokio::time::sleep;

use crate::SHORT_TIMEOUT;
use crate::support::audio::{tone_share, tones};
use crate::support::baresip::Baresip;
use crate::support::rtp_peer::RtpPeer;
use crate::support::scenario_call::{call_2000, ended_by_ivory, scenario_file, server_on_2000};
use crate::support::sipp_uas::SippUas;
use crate::support::test_ua::{TestUa, Transport};
use crate::support::{Server, digits, field, peer_available, tail};

const PEER_TIMEOUT: Duration = Duration::from_secs(30);

async fn server_dialling(label: &str, scenario: &str, extra_config: &str) -> Server {
    server_on_2000(label, scenario_file(label, scenario), extra_config).await
}

fn sipp_ready() -> bool {
    peer_available("sipp")
}

/// 100 ms windows of `audio` that are mostly a tone at `frequency_hz`.
fn tone_windows(audio: &[i16], frequency_hz: f64) -> usize {
    audio
        .chunks_exact(800)
        .filter(|window| {
            let loud = window.iter().any(|s| s.unsigned_abs() > 1000);
            loud && tone_share(window, frequency_hz) > 0.7
        })
        .count()
}

fn legs(call: &Value) -> Vec<Value> {
    call["legs"].as_array().cloned().unwrap_or_default()
}

fn number(value: &Value, path: &str) -> u64 {
    field(value, path).as_u64().unwrap_or(0)
}

async fn assert_no_live_legs(server: &Server) {
    let mut health = server.health().await;
    for _ in 0..50 {
        if health["liveLegs"] == 0 {
            break;
        }
        sleep(Duration::from_millis(100)).await;
        health = server.health().await;
    }
    assert_eq!(health["liveLegs"], 0, "legs still live: {health}");
    assert_eq!(health["liveCalls"], 0, "calls still live: {health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_bridges_audio_both_ways_and_the_scenario_goes_on() {
    if !sipp_ready() {
        return;
    }
    let probe = crate::support::TempDir::new("dial-bridge-uas");
    let mut callee = SippUas::start(probe.path(), "uas-answer.xml", &["-d", "500"]).await;
    let scenario = format!(
        r#"{{"name":"dial","script":[
          {{"dial":"{}","options":{{"ringTimeout":10,"maxCallDuration":3}}}},
          {{"setVariable":"after","value":"${{dialStatus}}-${{dialSipCode}}"}},
          "hangup"]}}"#,
        callee.uri("agent")
    );
    let server = server_dialling("dial-bridge", &scenario, "").await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    peer.play(&tones(&[1000.0], 8000.0, 6000));
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    assert!(
        callee.finished_ok(PEER_TIMEOUT).await,
        "the called sipp did not get its BYE\n{}\n{}",
        callee.trace(),
        server.stderr_tail()
    );
    assert_eq!(
        field(&logged, "variables.after"),
        "ANSWERED-200",
        "{logged:#}"
    );
    let legs = legs(&logged);
    assert_eq!(legs.len(), 1, "{logged:#}");
    assert_eq!(legs[0]["answered"], true, "{logged:#}");
    assert_eq!(legs[0]["status"], 200, "{logged:#}");
    // About 3 s bridged: 150 packets each way on the called leg (its RTP is echoed back).
    assert!(number(&legs[0], "rtp.packetsOut") >= 100, "{logged:#}");
    assert!(number(&legs[0], "rtp.packetsIn") >= 100, "{logged:#}");
    assert!(number(&logged, "rtp.packetsIn") >= 100, "{logged:#}");
    // The caller's tone went to the PCMA callee, was echoed, and came back to the PCMU caller.
    let heard = peer.stats().audio;
    let echoed = tone_windows(&heard, 1000.0);
    assert!(
        echoed >= 15,
        "the caller heard {echoed} windows of its own tone back"
    );
    assert_no_live_legs(&server).await;
    // The metrics count the call and its RTP, and their live gauges (updated each second) are 0.
    sleep(Duration::from_millis(1500)).await;
    let (status, metrics) = server
        .http_text("GET", "/metrics", None, Some(crate::support::API_KEY))
        .await;
    assert_eq!(status, 200, "{metrics}");
    for line in [
        "ivory_calls_total{direction=\"inbound\",outcome=\"answered\"} 1",
        "ivory_calls_live 0",
        "ivory_legs_live 0",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    let packets_in: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("ivory_rtp_packets_total{direction=\"in\"} "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    assert!(packets_in >= 200, "RTP in: {packets_in}\n{metrics}");
    // The call-log line is also in storage, for the API.
    let (status, calls) = server
        .http_request(
            "GET",
            "/voice/ivr/1/calls?direction=inbound",
            None,
            Some(crate::support::API_KEY),
        )
        .await;
    assert_eq!(status, 200, "{calls}");
    assert_eq!(calls["results"][0]["callId"], logged["callId"], "{calls}");
    assert_eq!(calls["results"][0]["legs"][0]["answered"], true, "{calls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_declined_and_unanswered_calls_give_their_dial_status() {
    if !sipp_ready() {
        return;
    }
    let probe = crate::support::TempDir::new("dial-statuses-uas");
    let busy = SippUas::start(probe.path(), "uas-busy.xml", &[]).await;
    let declining = SippUas::start(probe.path(), "uas-decline.xml", &[]).await;
    let mut silent = SippUas::start(probe.path(), "uas-no-answer.xml", &[]).await;
    let scenario = format!(
        r#"{{"name":"statuses","script":[
          {{"dial":"{}"}},
          {{"setVariable":"busy","value":"${{dialStatus}}-${{dialSipCode}}"}},
          {{"dial":"{}"}},
          {{"setVariable":"declined","value":"${{dialStatus}}-${{dialSipCode}}"}},
          {{"dial":"{}","options":{{"ringTimeout":2}}}},
          {{"setVariable":"unanswered","value":"${{dialStatus}}-${{dialSipCode}}"}},
          {{"dial":"not a number"}},
          {{"setVariable":"bad","value":"${{dialStatus}}"}},
          "hangup"]}}"#,
        busy.uri("a"),
        declining.uri("b"),
        silent.uri("c")
    );
    let server = server_dialling("dial-statuses", &scenario, "").await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    assert_eq!(field(&logged, "variables.busy"), "BUSY-486", "{logged:#}");
    assert_eq!(
        field(&logged, "variables.declined"),
        "DECLINED-603",
        "{logged:#}"
    );
    assert_eq!(
        field(&logged, "variables.unanswered"),
        "NO_ANSWER-408",
        "{logged:#}"
    );
    assert_eq!(field(&logged, "variables.bad"), "FAILED", "{logged:#}");
    assert!(
        silent.finished_ok(PEER_TIMEOUT).await,
        "the unanswered sipp was not cancelled\n{}",
        silent.trace()
    );
    // The caller heard ringback (440 + 480 Hz) while the calls rang.
    let heard = peer.stats().audio;
    assert!(
        heard
            .chunks_exact(800)
            .any(|w| w.iter().any(|s| s.unsigned_abs() > 1000)),
        "no ringback heard"
    );
    assert_no_live_legs(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_to_many_in_parallel_connects_the_first_answer_and_cancels_the_others() {
    if !sipp_ready() {
        return;
    }
    let probe = crate::support::TempDir::new("dial-many-uas");
    let mut first = SippUas::start(probe.path(), "uas-no-answer.xml", &[]).await;
    let mut answering = SippUas::start(probe.path(), "uas-answer.xml", &["-d", "2000"]).await;
    let mut third = SippUas::start(probe.path(), "uas-no-answer.xml", &[]).await;
    let scenario = format!(
        r#"{{"name":"many","script":[
          {{"dialToMany":[{{"number":"{}"}},{{"number":"{}"}},{{"number":"{}"}}],
            "options":{{"parallel":true,"ringTimeout":15,"maxCallDuration":2}}}},
          {{"setVariable":"after","value":"${{dialStatus}}"}},
          "hangup"]}}"#,
        first.uri("one"),
        answering.uri("two"),
        third.uri("three")
    );
    let server = server_dialling("dial-many", &scenario, "").await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    assert_eq!(field(&logged, "variables.after"), "ANSWERED", "{logged:#}");
    for (name, sipp) in [("first", &mut first), ("third", &mut third)] {
        assert!(
            sipp.finished_ok(PEER_TIMEOUT).await,
            "the {name} UAS was not cancelled\n{}",
            sipp.trace()
        );
    }
    assert!(
        answering.finished_ok(PEER_TIMEOUT).await,
        "the answering UAS got no BYE\n{}",
        answering.trace()
    );
    let legs = legs(&logged);
    assert_eq!(legs.len(), 3, "{logged:#}");
    let answered: Vec<bool> = legs.iter().map(|leg| leg["answered"] == true).collect();
    assert_eq!(answered, vec![false, true, false], "{logged:#}");
    assert!(number(&legs[1], "connectedMs") >= 1500, "{logged:#}");
    assert_no_live_legs(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_to_many_in_turn_moves_on_after_busy_and_the_callee_may_hang_up() {
    if !sipp_ready() {
        return;
    }
    let probe = crate::support::TempDir::new("dial-turn-uas");
    let busy = SippUas::start(probe.path(), "uas-busy.xml", &[]).await;
    let mut hanging_up = SippUas::start(probe.path(), "uas-answer-hangup.xml", &[]).await;
    let scenario = format!(
        r#"{{"name":"turn","script":[
          {{"dialToMany":[{{"number":"{}"}},{{"number":"{}"}}],"options":{{"ringTimeout":5}}}},
          {{"setVariable":"after","value":"${{dialStatus}}"}},
          {{"pause":1}},
          "hangup"]}}"#,
        busy.uri("first"),
        hanging_up.uri("second")
    );
    let server = server_dialling("dial-turn", &scenario, "").await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    assert!(
        hanging_up.finished_ok(PEER_TIMEOUT).await,
        "{}",
        hanging_up.trace()
    );
    assert_eq!(field(&logged, "variables.after"), "ANSWERED", "{logged:#}");
    let legs = legs(&logged);
    assert_eq!(legs.len(), 2, "{logged:#}");
    assert_eq!(legs[0]["status"], 486, "{logged:#}");
    assert_eq!(legs[1]["answered"], true, "{logged:#}");
    assert_eq!(field(&logged, "hangupBy"), "ivory", "{logged:#}");
    assert_no_live_legs(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_hanging_up_ends_the_dialled_legs() {
    if !sipp_ready() {
        return;
    }
    let logged =
        caller_hangs_up_two_seconds_into_a_dial("dial-caller-gone", "uas-no-answer.xml", &[]).await;
    assert_eq!(
        field(&logged, "variables.dialStatus"),
        "NO_ANSWER",
        "{logged:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_hanging_up_during_the_bridge_hangs_up_the_callee() {
    if !sipp_ready() {
        return;
    }
    let logged =
        caller_hangs_up_two_seconds_into_a_dial("dial-caller-bye", "uas-answer.xml", &["-d", "0"])
            .await;
    assert_eq!(
        field(&logged, "variables.dialStatus"),
        "ANSWERED",
        "{logged:#}"
    );
    assert_eq!(legs(&logged)[0]["answered"], true, "{logged:#}");
}

/// A scenario dials a sipp UAS running `uas_scenario`; the caller hangs up 2 s into the call. The
/// UAS must see its call end as scripted (CANCEL while ringing, BYE once answered), the call log
/// says the caller hung up, and no leg is left. Returns the call-log line.
async fn caller_hangs_up_two_seconds_into_a_dial(
    label: &str,
    uas_scenario: &str,
    uas_arguments: &[&str],
) -> Value {
    let probe = crate::support::TempDir::new(&format!("{label}-uas"));
    let mut callee = SippUas::start(probe.path(), uas_scenario, uas_arguments).await;
    let scenario = format!(
        r#"{{"name":"{label}","script":[{{"dial":"{}","options":{{"ringTimeout":30}}}},"hangup"]}}"#,
        callee.uri("callee")
    );
    let server = server_dialling(label, &scenario, "").await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let mut call = call_2000(&server, &mut ua, &peer).await;
    sleep(Duration::from_secs(2)).await;
    let answer = ua.bye(&mut call, SHORT_TIMEOUT).await;
    assert_eq!(answer.status(), Some(200));
    assert!(
        callee.finished_ok(PEER_TIMEOUT).await,
        "the called sipp's call did not end as scripted\n{}",
        callee.trace()
    );
    let logged = server.single_call(SHORT_TIMEOUT).await;
    assert_eq!(field(&logged, "hangupBy"), "caller", "{logged:#}");
    assert_no_live_legs(&server).await;
    logged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_goes_out_through_a_trunk_that_demands_digest_auth() {
    if !sipp_ready() {
        return;
    }
    let probe = crate::support::TempDir::new("dial-trunk-uas");
    let challenge =
        crate::support::repository_root().join("crates/sip/tests/sipp/uas-challenge-401.xml");
    let mut carrier =
        SippUas::start(probe.path(), challenge.to_str().expect("utf-8 path"), &[]).await;
    let trunk = format!(
        "[[trunks]]\nname = \"carrier\"\nhost = \"127.0.0.1:{}\"\nusername = \"trunkuser\"\npassword = \"trunkpass\"\nfrom_user = \"4655501\"\n",
        carrier.port
    );
    let scenario = r#"{"name":"trunk","script":[
          {"dial":"+46 70 123 45 67","options":{"maxCallDuration":2}},
          {"setVariable":"after","value":"${dialStatus}"},
          "hangup"]}"#;
    let server = server_dialling("dial-trunk", scenario, &trunk).await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    assert!(
        carrier.finished_ok(PEER_TIMEOUT).await,
        "the carrier's call did not complete\n{}",
        carrier.trace()
    );
    assert_eq!(field(&logged, "variables.after"), "ANSWERED", "{logged:#}");
    let trace = std::fs::read_to_string(&carrier.messages_log).unwrap_or_default();
    assert!(
        trace.contains("INVITE sip:+46701234567@127.0.0.1"),
        "{trace}"
    );
    assert!(
        trace.contains("From: <sip:4655501@"),
        "caller id from the trunk: {trace}"
    );
    assert_no_live_legs(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_softphone_is_dialled_as_a_user_hears_the_caller_and_its_digits_cross() {
    if !peer_available("baresip") {
        return;
    }
    let users = "[[users]]\nusername = \"alice\"\npassword = \"wonderland\"\n";
    let scenario = r#"{"name":"to-alice","script":[
          {"dial":"user:alice","options":{"ringTimeout":15,"maxCallDuration":6}},
          {"setVariable":"after","value":"${dialStatus}"},
          "hangup"]}"#;
    let server = server_dialling("dial-user", scenario, users).await;
    let dir = server.dir.path().join("baresip");
    std::fs::create_dir_all(&dir).expect("create baresip's config dir");
    let account = format!(
        "<sip:alice@{}>;auth_pass=wonderland;regint=60;answermode=auto;audio_codecs=PCMU,PCMA",
        server.sip_udp
    );
    let mut phone = Baresip::start_with_account(&dir, Duration::from_secs(60), &account).await;
    // baresip registers as it starts, often before its control socket is up to report it; the
    // server's log says when the binding exists.
    let mut registered = false;
    for _ in 0..100 {
        if server.stderr_tail().contains("REGISTER accepted") {
            registered = true;
            break;
        }
        sleep(Duration::from_millis(100)).await;
    }
    assert!(
        registered,
        "baresip did not register; events {:#?}\n{}\n{}",
        phone.received,
        tail(&dir.join("baresip.log"), 40),
        server.stderr_tail()
    );
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    peer.play(&tones(&[1000.0], 8000.0, 8000));
    let established = phone.wait_event("CALL_ESTABLISHED", SHORT_TIMEOUT).await;
    assert!(
        established.is_some(),
        "baresip did not answer; events {:#?}\n{}\n{}",
        phone.received,
        tail(&dir.join("baresip.log"), 40),
        server.stderr_tail()
    );
    sleep(Duration::from_secs(2)).await;
    phone.command("sndcode", "5").await;
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    phone.wait_event("CALL_CLOSED", SHORT_TIMEOUT).await;
    phone.stop().await;
    assert_eq!(field(&logged, "variables.after"), "ANSWERED", "{logged:#}");
    assert!(
        digits(&logged).contains(&("5".to_string(), "callee-rfc4733".to_string())),
        "{logged:#}"
    );
    // The digit reached the caller as RFC 4733 events.
    let stats = peer.stats();
    assert!(
        stats.by_payload_type.get(&101).copied().unwrap_or(0) >= 3,
        "{:?}",
        stats.by_payload_type
    );
    // RTP went both ways on the softphone's leg, and baresip says it received audio at G.711's
    // 64 kbit/s. (baresip 1.0 has no file player, so what it heard cannot be analysed; the sipp
    // echo test checks the bridged audio itself.)
    let legs = legs(&logged);
    assert_eq!(legs.len(), 1, "{logged:#}");
    assert!(number(&legs[0], "rtp.packetsIn") >= 100, "{logged:#}");
    assert!(number(&legs[0], "rtp.packetsOut") >= 100, "{logged:#}");
    let log = std::fs::read_to_string(dir.join("baresip.log")).unwrap_or_default();
    assert!(
        log.split("audio=").skip(1).any(|rates| {
            let mut parts = rates.split(['/', ' ']);
            let sent: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            let received: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            sent >= 60_000 && received >= 60_000
        }),
        "baresip never reported audio both ways:\n{}",
        tail(&dir.join("baresip.log"), 10)
    );
    assert_no_live_legs(&server).await;
}
