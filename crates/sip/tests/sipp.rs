//! The dialer against sipp playing the carrier: the built-in `uas` scenario (ring, answer, take
//! our BYE), and `tests/sipp/uas-challenge-401.xml`, which challenges with 401 and checks our
//! digest with sipp's own `verifyauth`. Skipped (with a note) when sipp is not installed.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use ivory_sip::{OutboundEvent, OutboundRequest, TransportKind};
use tokio::process::{Child, Command};

fn sipp_installed() -> bool {
    let found = std::process::Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("sipp is not installed: test skipped");
    }
    found
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// sipp as a UAS for one call on 127.0.0.1:`port`.
fn spawn_uas(scenario: &[&str], port: u16) -> Child {
    Command::new("sipp")
        .args(scenario)
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &port.to_string()])
        .args(["-mp", &free_udp_port().to_string()])
        .args(["-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sipp")
}

async fn sipp_succeeded(child: Child) -> bool {
    tokio::time::timeout(Duration::from_secs(40), child.wait_with_output())
        .await
        .expect("sipp ends")
        .expect("wait for sipp")
        .status
        .success()
}

fn request(port: u16, credentials: Option<(&str, &str)>) -> OutboundRequest {
    OutboundRequest {
        target: format!("sip:service@127.0.0.1:{port}"),
        from_user: "4600".into(),
        sdp_offer: SDP.into(),
        credentials: credentials.map(|(user, password)| (user.into(), password.into())),
        ..OutboundRequest::default()
    }
}

/// Answered, then our BYE: the whole built-in sipp UAS scenario.
async fn answer_and_hang_up(call: &mut ivory_sip::OutboundCall) {
    loop {
        match next_event(call).await {
            OutboundEvent::Trying | OutboundEvent::Ringing => continue,
            OutboundEvent::Answered { sdp } => {
                assert!(String::from_utf8_lossy(&sdp).contains("m=audio"));
                break;
            }
            other => panic!("expected Answered, got {other:?}"),
        }
    }
    call.hangup().await.unwrap();
    assert!(matches!(
        next_event(call).await,
        OutboundEvent::Ended { .. }
    ));
}

#[tokio::test]
async fn sipp_uas_answers() {
    if !sipp_installed() {
        return;
    }
    let port = free_udp_port();
    let sipp = spawn_uas(&["-sn", "uas"], port);
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let mut call = caller.dialer().call(request(port, None)).unwrap();
    answer_and_hang_up(&mut call).await;
    assert!(sipp_succeeded(sipp).await, "sipp saw a complete call");
}

fn challenge_scenario() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp/uas-challenge-401.xml")
        .display()
        .to_string()
}

#[tokio::test]
async fn sipp_uas_challenging_with_401_accepts_our_digest() {
    if !sipp_installed() {
        return;
    }
    let port = free_udp_port();
    let sipp = spawn_uas(&["-sf", &challenge_scenario()], port);
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let mut call = caller
        .dialer()
        .call(request(port, Some(("trunkuser", "trunkpass"))))
        .unwrap();
    answer_and_hang_up(&mut call).await;
    assert!(sipp_succeeded(sipp).await, "sipp saw a complete call");
}

#[tokio::test]
async fn sipp_uas_challenging_with_401_refuses_a_wrong_password() {
    if !sipp_installed() {
        return;
    }
    let port = free_udp_port();
    let _sipp = spawn_uas(&["-sf", &challenge_scenario()], port);
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let mut call = caller
        .dialer()
        .call(request(port, Some(("trunkuser", "wrong"))))
        .unwrap();
    match next_progress(&mut call).await {
        OutboundEvent::Failed { status, .. } => assert_eq!(status, 403),
        other => panic!("expected Failed 403, got {other:?}"),
    }
}
