//! A scenario on number 2000 and a call to it from the test UA: the steps the scenario and dialling
//! tests share.

use std::path::PathBuf;

use super::rtp_peer::RtpPeer;
use super::sdp::Offer;
use super::test_ua::{Call, TestUa};
use super::{NumberEntry, Server, ServerOptions};
use crate::{CALL_TIMEOUT, SHORT_TIMEOUT};

/// Writes a scenario file for one test and returns its path.
pub fn scenario_file(name: &str, json: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ivory-e2e-{name}-{}.json", std::process::id()));
    std::fs::write(&path, json).expect("write the test scenario");
    path
}

/// A server answering number 2000 at once with `scenario`, with `extra_config` appended.
pub async fn server_on_2000(label: &str, scenario: PathBuf, extra_config: &str) -> Server {
    Server::start_with(
        label,
        ServerOptions {
            numbers: vec![NumberEntry {
                number: "2000".into(),
                scenario,
                answer_after_ms: 0,
            }],
            max_calls: None,
            extra_config: extra_config.to_string(),
        },
    )
    .await
}

/// Places a call to 2000 with media flowing from `peer`.
pub async fn call_2000(server: &Server, ua: &mut TestUa, peer: &RtpPeer) -> Call {
    let sdp = Offer::new(peer.port()).render();
    let call = ua
        .call("2000", &sdp, SHORT_TIMEOUT)
        .await
        .unwrap_or_else(|r| panic!("not answered: {}\n{}", r.start_line, server.stderr_tail()));
    peer.start_answered(&call.answer);
    call
}

/// Waits for ivory's BYE (answering it) and returns the call's call-log line.
pub async fn ended_by_ivory(server: &Server, ua: &mut TestUa, call: &Call) -> serde_json::Value {
    assert!(
        ua.wait_for_bye(call, CALL_TIMEOUT).await.is_some(),
        "ivory did not hang up\n{}",
        server.stderr_tail()
    );
    server.single_call(SHORT_TIMEOUT).await
}
