//! Scenario actions on real calls: the Call API against an HTTP server in the test, `record` with
//! its WAV file and `playFromRecording`, and digits sent as SIP INFO.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::sleep;

use crate::SHORT_TIMEOUT;
use crate::support::audio::tones;
use crate::support::rtp_peer::{EventOptions, RtpPeer};
use crate::support::scenario_call::{call_2000, ended_by_ivory, scenario_file, server_on_2000};
use crate::support::sdp::Offer;
use crate::support::test_ua::{TestUa, Transport};
use crate::support::{NumberEntry, Server, ServerOptions, digits, field};

async fn server_with(label: &str, scenario: PathBuf) -> Server {
    server_on_2000(label, scenario, "").await
}

/// An HTTP server that answers every request with `body` and reports the first request's text.
async fn http_server(body: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut request = vec![0u8; 8192];
        let read = socket.read(&mut request).await.expect("read");
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.expect("write");
        String::from_utf8_lossy(&request[..read]).into_owned()
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_api_answer_drives_the_scenario() {
    let (port, requests) = http_server(r#"{"tier":"gold","firstName":"Ada"}"#).await;
    let scenario = scenario_file(
        "call-api",
        &format!(
            r#"{{"name":"call-api-e2e","script":[
              {{"request":"http://127.0.0.1:{port}/customers/${{from}}","options":{{"method":"GET","collectResponse":true}}}},
              {{"if":"${{tier == 'gold'}}","then":[{{"setVariable":"route","value":"vip-${{firstName}}"}}],
               "else":[{{"setVariable":"route","value":"standard"}}]}},
              {{"playFromUrl":"demo-goodbye.wav"}},
              "hangup"]}}"#
        ),
    );
    let server = server_with("call-api", scenario).await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    assert_eq!(field(&logged, "variables.route"), "vip-Ada", "{logged:#}");
    assert_eq!(
        field(&logged, "variables.__apiResponseStatusCode"),
        "200",
        "{logged:#}"
    );
    let request = requests.await.expect("the HTTP server saw a request");
    assert!(request.starts_with("GET /customers/"), "{request}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_api_server_down_takes_the_failure_path() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let scenario = scenario_file(
        "call-api-down",
        &format!(
            r#"{{"name":"call-api-down","script":[
              {{"request":"http://127.0.0.1:{port}/x","options":{{"method":"POST","body":"{{}}"}}}},
              {{"if":"${{__apiResponseStatusCode == ''}}","then":[{{"setVariable":"outcome","value":"down"}}],
               "else":[{{"setVariable":"outcome","value":"up"}}]}},
              "hangup"]}}"#
        ),
    );
    let server = server_with("call-api-down", scenario).await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    assert_eq!(field(&logged, "variables.outcome"), "down", "{logged:#}");
}

/// The data chunk length of a PCM WAV file, in samples per channel.
fn wav_samples(path: &std::path::Path) -> (u16, usize) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert_eq!(&bytes[..4], b"RIFF", "{} is a RIFF file", path.display());
    let channels = u16::from_le_bytes([bytes[22], bytes[23]]);
    let mut position = 12;
    while position + 8 <= bytes.len() {
        let id = &bytes[position..position + 4];
        let size = u32::from_le_bytes(
            bytes[position + 4..position + 8]
                .try_into()
                .expect("4 bytes"),
        ) as usize;
        if id == b"data" {
            return (channels, size / 2 / usize::from(channels));
        }
        position += 8 + size + (size % 2);
    }
    panic!("no data chunk in {}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_writes_a_playable_wav_of_the_right_length_and_plays_it_back() {
    let scenario = scenario_file(
        "record",
        r##"{"name":"record-e2e","script":[
          {"record":10,"options":{"beep":true,"escapeDigits":"#","identifier":"message"}},
          {"playFromRecording":null},
          "hangup"]}"##,
    );
    let server = server_with("record", scenario).await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    // The beep is 250 ms; then speak (a two-tone "voice") for 2 s (flush waits until it is sent)
    // and press #: the recording holds about 0.15 s of silence, 2 s of voice and the key press.
    sleep(Duration::from_millis(400)).await;
    peer.play(&tones(&[440.0, 660.0], 6000.0, 2000));
    peer.flush().await;
    peer.press('#', EventOptions::default());
    peer.flush().await;
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    let files = field(&logged, "recordings")
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(files.len(), 1, "{logged:#}");
    let file = files[0].as_str().expect("a file name");
    let path = server.dir.path().join("data/recordings").join(file);
    let (channels, samples) = wav_samples(&path);
    assert_eq!(channels, 1);
    let seconds = samples as f64 / 8000.0;
    assert!(
        (1.9..=2.8).contains(&seconds),
        "recorded {seconds:.2} s; expected about 2.2 s"
    );
    let index = std::fs::read_to_string(server.dir.path().join("data/recordings/index.jsonl"))
        .expect("the recordings index");
    assert!(index.contains("\"identifier\":\"message\""), "{index}");
    // ... and in storage, for the API, with a download link that serves the file.
    let (status, listed) = server
        .http_request(
            "GET",
            "/voice/ivr/1/recordings",
            None,
            Some(crate::support::API_KEY),
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["results"][0]["identifier"], "message", "{listed}");
    assert_eq!(listed["results"][0]["file"], file, "{listed}");
    let (status, _) = server
        .http_text(
            "GET",
            &format!("/voice/ivr/1/recordings/{file}"),
            None,
            Some(crate::support::API_KEY),
        )
        .await;
    assert_eq!(status, 200, "download of {file}");
    assert_eq!(
        digits(&logged),
        vec![("#".to_string(), "rfc4733".to_string())]
    );
    // The playback of the recording went out as RTP after the recording ended.
    assert!(peer.stats().packets > 200, "{:?}", peer.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_info_digits_are_collected() {
    let scenario = scenario_file(
        "info",
        r#"{"name":"info-e2e","script":[
          {"collectInto":"code","options":{"maxInputLength":2,"timeout":10}},
          "hangup"]}"#,
    );
    let server = server_with("info", scenario).await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let mut call = call_2000(&server, &mut ua, &peer).await;
    for (digit, content_type, body) in [
        (
            '4',
            "application/dtmf-relay",
            "Signal=4\r\nDuration=160\r\n",
        ),
        ('2', "application/dtmf", "2"),
    ] {
        call.local_cseq += 1;
        let response = ua
            .in_dialog_request(
                &call,
                "INFO",
                &format!("Content-Type: {content_type}\r\n"),
                body,
                SHORT_TIMEOUT,
            )
            .await;
        assert_eq!(response.status(), Some(200), "INFO with {digit}");
    }
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    assert_eq!(field(&logged, "variables.code"), "42", "{logged:#}");
    assert_eq!(
        digits(&logged),
        vec![
            ("4".to_string(), "info".to_string()),
            ("2".to_string(), "info".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_mid_record_keeps_and_lists_the_recording() {
    let scenario = scenario_file(
        "record-hangup",
        r#"{"name":"record-hangup","script":[
          {"record":30,"options":{"identifier":"cut-short"}},
          "hangup"]}"#,
    );
    let server = server_with("record-hangup", scenario).await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let mut call = call_2000(&server, &mut ua, &peer).await;
    peer.play(&tones(&[500.0], 6000.0, 1500));
    peer.flush().await;
    let response = ua.bye(&mut call, SHORT_TIMEOUT).await;
    assert_eq!(response.status(), Some(200));
    let logged = server.single_call(SHORT_TIMEOUT).await;
    assert_eq!(field(&logged, "hangupBy"), "caller", "{logged:#}");
    let files = field(&logged, "recordings")
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(files.len(), 1, "{logged:#}");
    let path = server
        .dir
        .path()
        .join("data/recordings")
        .join(files[0].as_str().expect("a file name"));
    let (_, samples) = wav_samples(&path);
    let seconds = samples as f64 / 8000.0;
    assert!(
        (1.3..=2.0).contains(&seconds),
        "recorded {seconds:.2} s; expected about 1.5 s"
    );
    let index = std::fs::read_to_string(server.dir.path().join("data/recordings/index.jsonl"))
        .expect("the recordings index");
    assert!(index.contains("\"identifier\":\"cut-short\""), "{index}");
}

/// The Infobip-style example on a live call: text-to-speech prompts (espeak-ng), a key pressed
/// during the menu (barge-in), `mappedValues`, and a `dial` to a number no trunk routes (the test
/// config has no `[[trunks]]`), so the scenario takes its failure branch and the call log says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infobip_example_runs_with_speech_and_a_failed_dial() {
    if !crate::support::peer_available("espeak-ng") {
        return;
    }
    let scenario = crate::support::repository_root().join("config/scenarios/infobip-menu.json");
    let server = server_with("infobip-example", scenario).await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let call = call_2000(&server, &mut ua, &peer).await;
    // "Welcome to Example Bank." takes under 2 s; press 0 (agent) during the menu that follows.
    sleep(Duration::from_millis(3500)).await;
    peer.press('0', EventOptions::default());
    peer.flush().await;
    let logged = ended_by_ivory(&server, &mut ua, &call).await;
    assert_eq!(field(&logged, "variables.choice"), "0", "{logged:#}");
    assert_eq!(
        field(&logged, "variables.choice_Meaning"),
        "agent",
        "{logged:#}"
    );
    assert_eq!(
        field(&logged, "variables.dialStatus"),
        "FAILED",
        "{logged:#}"
    );
    let notes = field(&logged, "notes").to_string();
    assert!(notes.contains("no route for +15550100"), "{notes}");
    assert!(
        peer.stats().packets > 300,
        "speech prompts were sent: {:?}",
        peer.stats()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_max_calls_get_503_and_a_log_line() {
    let scenario = scenario_file(
        "max-calls",
        r#"{"name":"hold","script":[{"pause":5},{"pause":5},"hangup"]}"#,
    );
    let server = Server::start_with(
        "max-calls",
        ServerOptions {
            numbers: vec![NumberEntry {
                number: "2000".into(),
                scenario,
                answer_after_ms: 0,
            }],
            max_calls: Some(1),
            extra_config: String::new(),
        },
    )
    .await;
    let mut first_ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let mut first = call_2000(&server, &mut first_ua, &peer).await;
    let mut second_ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let second_peer = RtpPeer::bind().await;
    let refused = second_ua
        .call(
            "2000",
            &Offer::new(second_peer.port()).render(),
            SHORT_TIMEOUT,
        )
        .await
        .expect_err("the second call is over max_calls");
    assert_eq!(refused.status(), Some(503));
    first_ua.bye(&mut first, SHORT_TIMEOUT).await;
    let calls = server.wait_for_calls(2, SHORT_TIMEOUT).await;
    let refused_line = calls
        .iter()
        .find(|c| field(c, "status") == 503)
        .unwrap_or_else(|| panic!("no 503 line: {calls:#?}"));
    assert_eq!(field(refused_line, "hangupReason"), "max-calls");
}
